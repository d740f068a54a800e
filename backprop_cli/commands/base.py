"""What a command is: its options, the library call it makes, and its renderers per format.

The CLI (cli.py) builds each Typer command from its spec and runs every command the same way:
read the program and the point, call the library, refuse option typos, print the warnings, hand
the result to the renderer of the chosen format, and map the outcome to an exit code.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from ..terminal import Terminal


@dataclass(frozen=True)
class Option:
    """One command-line option, declared once: the typo hints and the README check read the
    declared options."""

    name: str  # the parameter's name
    flags: tuple[str, ...]
    kind: Any  # int, float, str, bool, list[str]
    default: Any
    help: str
    metavar: str | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class View:
    """What a renderer may know besides the result: how to lay it out and where."""

    format: str
    digits: int
    terminal: Terminal
    output: str | None = None  # a file to write to instead of standard output
    full: bool = False  # every element of large arrays

    @contextmanager
    def stream(self) -> Iterator:
        """Where a renderer that writes as it goes (a long sweep) writes: the output file
        (output_file), or standard output."""
        if self.output is None:
            yield self.terminal.out
            return
        with output_file(self.output) as out:
            yield out


@contextmanager
def output_file(path: str, binary: bool = False) -> Iterator:
    """The file `path` names, open for writing, for a run that may fail part way (its time or
    memory budget runs out, ctrl-C, a full disk). Nothing half written is left behind as if it
    were a result: a file this run makes is removed again, and an existing file keeps its old
    contents until the new ones are whole (they are written beside it, then put in its place
    with its permissions). A file that cannot be written is an input error."""
    import os

    from ..errors import InputError

    def refused(failure: OSError) -> InputError:
        return InputError(f"cannot write {path}: {failure.strerror}")

    # The file the path names (through a symbolic link, even one that points nowhere yet) and
    # whether it is there before this run.
    target = os.path.realpath(path)
    made = not os.path.lexists(target)
    spare = None if made else _spare_beside(target, path)
    mode = "wb" if binary else "w"
    encoding = None if binary else "utf-8"
    try:
        if spare is None:
            out = open(path, mode, encoding=encoding)  # noqa: SIM115
        else:
            out = os.fdopen(spare[0], mode, encoding=encoding)
    except OSError as failure:
        if spare is not None:
            with suppress(OSError):
                os.close(spare[0])
                os.unlink(spare[1])
        raise refused(failure) from None
    try:
        with out:
            yield out
        if spare is not None:
            os.chmod(spare[1], spare[2])
            os.replace(spare[1], target)
    except BaseException as failure:
        if made or spare is not None:
            with suppress(OSError):
                os.unlink(target if spare is None else spare[1])
        if isinstance(failure, OSError):
            raise refused(failure) from None
        raise


def _spare_beside(target: str, path: str) -> tuple[int, str, int] | None:
    """A new file beside an existing regular file `target`, to write its new contents to:
    (descriptor, path, target's permission bits). None where the target is not a regular
    file (a pipe, a device such as /dev/stdout), or its folder takes no new file: there the
    target itself is written, as it goes."""
    import os
    import stat
    import tempfile

    from ..errors import InputError

    try:
        found = os.stat(target)
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode):
        return None
    if not os.access(target, os.W_OK):  # a read-only file stays read-only, not replaced
        raise InputError(f"cannot write {path}: {os.strerror(errno.EACCES)}")
    folder, name = os.path.split(target)
    try:
        descriptor, spare = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
    except OSError:
        return None
    return descriptor, spare, stat.S_IMODE(found.st_mode)


@dataclass
class Request:
    """One command run: the program (text or file), the point as given, the options."""

    expression: str | None
    file: str | None
    point: dict[str, str]
    options: Mapping[str, Any]
    terminal: Terminal
    command: str
    named: frozenset[str] = frozenset()  # variables given as --NAME VALUE (not through --at)
    data: frozenset[str] = frozenset()  # variables bound by --data (held fixed)
    _source: str | None = field(default=None, repr=False)

    def source(self) -> str:
        """The program text, from EXPR or --file (read once)."""
        if self._source is None:
            from .arguments import read_source

            self._source = read_source(self.expression, self.file)
        return self._source


def table_chosen(request: Request) -> bool:
    """Whether the output is the terminal table (not --json or another format)."""
    chosen = request.options.get("output_format")
    return not request.options.get("json_output") and getattr(chosen, "value", chosen) in (
        None, "table")


def _never(result: Any, request: Request) -> bool:
    return False


def _no_warnings(result: Any, request: Request) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class Command:
    """A command: its help, its options, its library call, and a renderer per format (a
    "module:function" path, imported only when used)."""

    name: str
    help: str
    usage: str
    options: tuple[Option, ...]
    call: Callable[[Request], Any]
    renderers: Mapping[str, str]
    default_format: str
    failed: Callable[[Any, Request], Any] = _never  # True: exit code 1; or an ExitCode
    warnings: Callable[[Any, Request], tuple[str, ...]] = _no_warnings  # to standard error
    used: Callable[[Any], set[str]] | None = None  # variables the program used, for typo hints
    notes: Callable[[Any, Request], tuple[str, ...]] = _no_warnings  # stderr, every format


FILE = Option("file", ("--file",), str, None, "Read the program from PATH ('-' for standard "
              "input).", metavar="PATH")
AT = Option("at", ("--at",), list[str], [], "Variable values, e.g. --at x=1,y=2.",
            metavar="NAME=VALUE,...")
VALUES = Option("values", ("--values",), str, None,
                "Variable values from a JSON object: name → number or array (nested lists).",
                metavar="FILE.json")
DATA = Option("data", ("--data",), str, None,
              "A data set: each CSV column is a vector named by its header (data, not "
              "differentiated).", metavar="FILE.csv")
FULL = Option("full", ("--full",), bool, False, "Show every element of large arrays.")
DIGITS = Option("digits", ("--digits",), int, 6, "Significant digits shown.", min=1, max=17)
JSON = Option("json_output", ("--json",), bool, False, "Shorthand for --format json.")
def name_list(text: str | None) -> list[str] | None:
    """The names of an option such as `--wrt a,b`, or None when it was not given."""
    return [name.strip() for name in text.split(",") if name.strip()] if text else None


TIME_LIMIT = Option("time_limit", ("--time-limit",), float, None,
                    "Time budget of the run in seconds (default 60, a batch 60 + 1 per line; "
                    "or BACKPROP_TIME_LIMIT).", metavar="SECONDS")
MEMORY_LIMIT = Option("memory_limit", ("--memory-limit",), str, None,
                      "Memory budget of the run, e.g. 512M or 4G (default 2G; or "
                      "BACKPROP_MEMORY_LIMIT).", metavar="SIZE")
