"""The `backprop` console script. Loading the CLI takes a few tens of milliseconds; Ctrl-C in
that time ends the run the same way as later: one line, exit code 130, no traceback."""

from __future__ import annotations

import sys

INTERRUPTED = 130  # errors.ExitCode.INTERRUPTED, without importing anything first


def main() -> None:
    try:
        from .cli import main as run

        run()
    except KeyboardInterrupt:
        try:
            sys.stderr.write("error: interrupted\n")
        except (AttributeError, OSError, ValueError):
            pass
        raise SystemExit(INTERRUPTED) from None
