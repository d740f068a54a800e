"""The terminal a command writes to: its two streams and what they can show.

`main` builds one from the process's streams; tests build one over in-memory streams and pass
it to the app (`app(..., obj=terminal)`), so nothing needs to capture the real streams.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO


@dataclass(frozen=True)
class Terminal:
    """Standard output and standard error, and how to draw on them. `color` and `width` left
    as None are decided by rich from the stream and the environment (NO_COLOR, FORCE_COLOR,
    COLUMNS), as for any rich program."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    color: bool | None = None
    width: int | None = None

    @property
    def out_is_tty(self) -> bool:
        return _isatty(self.out)

    @property
    def err_is_tty(self) -> bool:
        return _isatty(self.err)

    def console(self, stderr: bool = False, width: int | None = None):
        """A rich console on one of the streams."""
        from rich.console import Console

        options: dict = {}
        if self.color is not None:
            options.update(force_terminal=self.color, no_color=not self.color)
        # markup and emoji codes off: user text ("[/]", "[link=...]", ":x:") prints as written
        return Console(file=self.err if stderr else self.out, highlight=False, markup=False,
                       emoji=False, soft_wrap=False, width=width or self.width, **options)

    def write(self, text: str) -> None:
        """Text and a newline on standard output."""
        self.out.write(text + "\n")

    def write_bytes(self, data: bytes) -> None:
        """Binary data (an image) on standard output as it is."""
        self.out.flush()
        buffer = getattr(self.out, "buffer", None)
        if buffer is None:
            self.out.write(data.decode("utf-8", errors="replace"))
        else:
            buffer.write(data)

    def error(self, message: str) -> None:
        self.err.write(message + "\n")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
