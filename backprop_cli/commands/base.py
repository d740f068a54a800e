"""What a command is: its options, the library call it makes, and its renderers per format.

The CLI (cli.py) builds each Typer command from its spec and runs every command the same way:
read the program and the point, call the library, refuse option typos, print the warnings, hand
the result to the renderer of the chosen format, and map the outcome to an exit code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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
        (output_file.writing), or standard output."""
        if self.output is None:
            yield self.terminal.out
            return
        from ..output_file import writing

        with writing(self.output) as out:
            yield out


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
VALUES = Option("values", ("--values",), list[str], [],
                "Variable values from a JSON object: name → number or array (nested lists); "
                "repeatable.", metavar="FILE.json")
DATA = Option("data", ("--data",), list[str], [],
              "A data set: each CSV column is a vector named by its header (data, not "
              "differentiated); repeatable, with the same number of rows.", metavar="FILE.csv")
FULL = Option("full", ("--full",), bool, False, "Show every element of large arrays.")
DIGITS = Option("digits", ("--digits",), int, 6, "Significant digits shown.", min=1, max=17)
JSON = Option("json_output", ("--json",), bool, False, "Shorthand for --format json.")
def name_list(text: str | None, option: str | None = None) -> list[str] | None:
    """The names of an option such as `--wrt a,b`, or None when it was not given (a comma
    inside brackets, as in W[0,1], does not split). Given the option's name, a list that names
    nothing or a name twice is refused."""
    from ..errors import InputError
    from .arguments import split_top_level

    names = split_top_level(text) if text else None
    if option is not None and text is not None:
        if not names:
            raise InputError(f"{option} names nothing; give NAME,NAME,... or leave it out")
        twice = next((name for k, name in enumerate(names) if name in names[:k]), None)
        if twice is not None:
            raise InputError(f"{option} names {twice!r} twice; give it once")
    return names


TIME_LIMIT = Option("time_limit", ("--time-limit",), float, None,
                    "Time budget of the run in seconds (default 60, a batch 60 + 1 per line; "
                    "or BACKPROP_TIME_LIMIT).", metavar="SECONDS")
MEMORY_LIMIT = Option("memory_limit", ("--memory-limit",), str, None,
                      "Memory budget of the run, e.g. 512M or 4G (default 2G; or "
                      "BACKPROP_MEMORY_LIMIT).", metavar="SIZE")
