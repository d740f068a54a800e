"""The program and the point from a command line: EXPR or --file, `--NAME VALUE`, `--at`.

Variables arrive as free-form options (`--x 1`, `--x=1`, `--θ1 0.5`), so each command accepts
unknown options and reads them here. A name that looks like a misspelt option is refused with
a suggestion; the options known are the ones the commands declare.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Callable

from ..errors import InputError, ParseError
from ..parse import is_number

MAX_INPUT_BYTES = 16 * 1024**2  # a program, a table or a batch file


def read_source(expr: str | None, file: str | None) -> str:
    """The program: EXPR itself, or the text of --file PATH ('-' is standard input)."""
    if file is not None and file.startswith("--"):
        raise InputError(f"--file needs a PATH (got the option {file})")
    if expr is not None and file is not None:
        raise InputError("give either EXPR or --file, not both")
    if file is None:
        if expr is None:
            raise InputError("no expression: give EXPR (e.g. 'x*y + tanh(x)') or --file PATH")
        return expr
    return read_text(file)


def read_text(file: str) -> str:
    """A UTF-8 text file (or standard input for '-'), as a one-line error if it cannot be.

    A file over MAX_INPUT_BYTES is refused, a regular one before it is read. A pipe or FIFO is
    read as it arrives; one that never delivers is given up when the run's time budget ends."""
    from ..budget import BudgetExceeded

    name = "standard input" if file == "-" else file
    if "\x00" in file:
        raise InputError(f"cannot read {file!r}: a file name cannot hold a NUL character")
    try:
        data = _read_bounded(file, name)
        text = data.decode("utf-8")
    except BudgetExceeded:
        raise InputError(f"{name} delivered no end of input within the run's time budget "
                         "(is anything writing to it?)") from None
    except FileNotFoundError:
        raise InputError(f"file not found: {file}") from None
    except IsADirectoryError:
        raise InputError(f"{file} is a directory, not a file") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{name} is not UTF-8 text (byte {error.start + 1} cannot be read)"
                         ) from None
    except OSError as error:
        raise InputError(f"cannot read {name}: {error.strerror or error}") from None
    return text.removeprefix("\ufeff")  # a byte-order mark some editors write first


def _regular_size(handle) -> int:
    """The size of a regular file, 0 for a stream (whose size is known only once read)."""
    try:
        status = os.fstat(handle.fileno())
    except (OSError, ValueError):  # an in-memory stream has no descriptor
        return 0
    return status.st_size if stat.S_ISREG(status.st_mode) else 0


def _read_bounded(file: str, name: str) -> bytes:
    too_large = InputError(f"{name} is larger than the input limit of "
                           f"{MAX_INPUT_BYTES // 1024**2} MiB; split it into smaller files")
    if file == "-":
        if sys.stdin is None or sys.stdin.closed:
            raise InputError("standard input is closed: give the input as a file")
        handle = sys.stdin.buffer
        close = False
    else:
        handle = open(file, "rb")  # noqa: SIM115 (closed below; stdin is not ours to close)
        close = True
    try:
        if _regular_size(handle) > MAX_INPUT_BYTES:
            raise too_large
        data = handle.read(MAX_INPUT_BYTES + 1)
    finally:
        if close:
            handle.close()
    if len(data) > MAX_INPUT_BYTES:
        raise too_large
    return data


def expression_and_point(args: list[str], at: list[str], command: str
                         ) -> tuple[str | None, dict[str, str], frozenset[str]]:
    """The expression (the one bare argument), the variable values from `--name VALUE`,
    `--name=VALUE` and `--at a=1,b=2` in any order, and the names given as `--name`."""
    point: dict[str, str] = {}
    named: set[str] = set()
    expr = None
    own = set(declared_options().get(command, ()))

    def put(name: str, value: str, through_at: bool = False) -> None:
        if not name or not name.isidentifier():
            if through_at:
                raise InputError(f"--at {name}={value}: {name!r} is not a variable name")
            raise InputError(f"--{name}: not an option of this command nor a variable "
                             f"name{option_hint(name, command)}")
        check_name(name, through_at)
        if name in point:
            raise InputError(f"variable {name!r} is given twice")
        point[name] = value

    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            i += 1
            continue
        if not token.startswith("--"):
            if expr is not None:
                if re.fullmatch(r"-[^\W\d]", token):
                    raise InputError(_no_short_option(token, command))
                raise InputError(
                    f"unexpected argument {token!r}: give one expression (quote it) and "
                    "variables as --name VALUE"
                )
            expr = token
            i += 1
            continue
        name, equals, value = token[2:].partition("=")
        if f"--{name}" in own:  # click read every option of the command before a '--'
            raise InputError(f"--{name} comes after '--', where options are not read; put "
                             "it before '--'")
        if not equals:
            following = args[i + 1] if i + 1 < len(args) else None
            if following is None or (following.startswith("--") and len(following) > 2
                                     and not is_number(following)):
                hint = option_hint(name, command)
                if hint:
                    raise InputError(f"unknown option --{name}{hint}")
                elsewhere = other_commands(name, command)
                if elsewhere:
                    raise InputError(f"--{name} is not an option of backprop {command} (it is "
                                     f"one of backprop {', '.join(elsewhere)})")
                written = any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", arg)
                              for arg in args if not arg.startswith("-"))
                if not written:  # `--verbose`: most likely an option this command lacks
                    raise InputError(f"--{name} is not an option of backprop {command}, and "
                                     f"no value follows it for a variable {name!r} (variables "
                                     f"are given as --{name} VALUE)")
                raise InputError(f"--{name} needs a value (variables are given as --{name} "
                                 "VALUE)")
            value = following
            i += 1
        put(name, value)
        named.add(name)
        i += 1
    for group in at:
        for item in split_top_level(group):
            name, equals, value = item.partition("=")
            if not equals or not name.strip():
                raise InputError(f"--at expects NAME=VALUE pairs, got {item!r}")
            if "=" in value and re.search(r"[;\s]", value.split("=")[0]):
                raise InputError(f"--at {group!r}: separate the NAME=VALUE pairs with commas, "
                                 f"as in --at x=1,y=2")
            put(name.strip(), value.strip(), through_at=True)
    return expr, point, frozenset(named)


def require_finite(option: str, value: float) -> None:
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{option} must be a finite number, not {value}")


def refuse_option_typos(point: dict[str, str], named: frozenset[str], command: str,
                        used: set[str] | None, text: Callable[[], str | None] | None = None
                        ) -> None:
    """A value for a name that looks like a misspelt option, or that is an option of another
    command (given as --NAME VALUE), is refused when the value is not a number and the
    program's text (from `text`, read only then) does not name it (before running), or when
    the program does not use the name (after running). `--at name=VALUE` gives a variable of
    any name."""
    for name, value in point.items():
        if name not in named:  # given through --at, which is never an option
            continue
        hint = option_hint(name, command)
        elsewhere = other_commands(name, command)
        if not hint and not elsewhere:
            continue
        if (used is None and not is_number(value) and not _names(text, name)) or (
                used is not None and name not in used):
            if hint:
                raise InputError(f"unknown option --{name}{hint}")
            raise InputError(f"--{name} is not an option of backprop {command} (it is one of "
                             f"backprop {', '.join(elsewhere)}); a variable of that name is "
                             f"given as --at {name}=VALUE")


def _names(text: Callable[[], str | None] | None, name: str) -> bool:
    """Whether the program's text names `name` outside its comments (a sweep's `--value 0:1`
    is a range for the program's variable `value`, not a misspelt --values). A name glued to
    a number (2value) is the name."""
    program = text() if text is not None else None
    if program is None:
        return False
    code = re.sub(r"#[^\n]*", "", program)
    # a name starts after neither a letter nor a dot (f.value is an attribute), a digit allowed
    return name in re.findall(r"(?<!\.)(?<![^\W\d])[^\W\d]\w*", code)


def program_file_text(file: str | None) -> str | None:
    """The text of a program file named by --file, or None (standard input, which cannot be
    read twice, or a file that cannot be read: the command itself says why)."""
    if not file or file == "-" or not os.path.isfile(file):
        return None
    try:
        return read_text(file)
    except InputError:
        return None


def _no_short_option(flag: str, command: str) -> str:
    """`grad x --x 1 -o f`: the command has no such option (another may have it)."""
    from . import COMMANDS, all_options

    elsewhere = [other.name for other in COMMANDS if other.name != command
                 and any(flag in option.flags for option in all_options(other))]
    said = f"{flag} is not an option of backprop {command}"
    if not elsewhere:
        return f"{said} (backprop {command} --help lists its options)"
    where = f"it is one of backprop {', '.join(elsewhere)}"
    if flag == "-o":
        return f"{said} ({where}); {command} writes to standard output: use > FILE"
    return f"{said} ({where}; backprop {command} --help lists this command's)"


def check_name(name: str, through_at: bool = False) -> None:
    """Variable names given as options obey the same look-alike rules as the program."""
    from ..parse import check_name as check_program_name

    try:
        check_program_name(name)
    except ParseError as error:
        given = f"{name!r} in --at" if through_at else f"--{name}"
        raise InputError(f"variable {given}: {error.message}") from None


def declared_options() -> dict[str, tuple[str, ...]]:
    """Each command's option flags, as the command specs declare them."""
    from . import COMMANDS, option_flags

    return {command.name: option_flags(command) for command in COMMANDS}


def other_commands(name: str, command: str) -> list[str]:
    """The other commands that have the option --name."""
    return [other for other, flags in declared_options().items()
            if other != command and f"--{name}" in flags]


def option_hint(name: str, command: str | None = None) -> str:
    """' (did you mean --json?)' when an unknown option looks like a typo of a real one of
    `command` (of any command when None); ' (--steps is an option of backprop train)' when
    it looks like another command's only."""
    import difflib

    declared = declared_options()
    options = sorted({flag.lstrip("-") for flags in declared.values()
                      for flag in flags if flag.startswith("--")})
    if name in options:
        return ""  # the name of a real option, given as a variable through --at
    own = sorted({flag.lstrip("-") for flag in declared.get(command, ())}) if command \
        else options
    close = [option for option in own if _transposed(name, option)] or \
        difflib.get_close_matches(name, own, n=1, cutoff=0.75)
    if close:
        return f" (did you mean --{close[0]}?)"
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.75)
    if not close:
        return ""
    others = [other for other, flags in declared.items() if f"--{close[0]}" in flags]
    return f" (--{close[0]} is an option of backprop {', '.join(others)})"


def _transposed(typed: str, option: str) -> bool:
    """Whether `typed` is `option` with two neighbouring letters swapped (--wtr for --wrt,
    which difflib rates below its cutoff for a short name)."""
    if len(typed) != len(option) or typed == option:
        return False
    differ = [k for k, (a, b) in enumerate(zip(typed, option, strict=True)) if a != b]
    return len(differ) == 2 and differ[1] == differ[0] + 1 and \
        typed[differ[0]] == option[differ[1]] and typed[differ[1]] == option[differ[0]]


def split_top_level(text: str) -> list[str]:
    """Split `x=1,y=max(1,2),v=[1,2]` on commas outside parentheses and brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += char in "(["
        depth -= char in ")]"
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [part for part in (p.strip() for p in parts) if part]


def value_range(variable: str, text: str) -> tuple[float, float]:
    """`START:STOP` of a sweep, each end a number or a constant expression."""
    from ..api import value_of
    from ..tensor_names import is_array_text

    low, _, high = text.partition(":")
    if not low.strip() or not high.strip():
        raise InputError(f"--{variable} {text!r}: a range is START:STOP, e.g. -3:3")
    if ":" in high:  # START:STOP:STEP, as NumPy and MATLAB write one
        raise InputError(f"--{variable} {text!r}: a range is START:STOP, with no step; "
                         "--points N sets how many points it has")
    if is_array_text(low) or is_array_text(high):
        raise InputError(f"--{variable} {text!r}: a range's ends are numbers: a sweep moves "
                         "one scalar variable")
    return value_of(variable, low), value_of(variable, high)


def replaced_arrays(from_files: dict, data: frozenset[str], point: dict) -> list[str]:
    """A warning for each array or data column of a file that a --NAME VALUE replaces with
    a number: the program then runs with a scalar there (broadcast, or a different model)."""
    import numpy as np

    from ..tensor_names import is_array_text
    from ..tensor_ops import shape_text

    warnings = []
    for name, value in point.items():
        if name not in from_files or (isinstance(value, str) and is_array_text(value)):
            continue
        shape = np.shape(from_files[name])
        if name in data:
            warnings.append(f"--{name} replaces the data column {name!r} ({shape[0]:,} rows) "
                            "with one number")
        elif shape:
            warnings.append(f"--{name} replaces {name!r}, a {shape_text(from_files[name])} "
                            "array from --values, with one number")
    return warnings


def values_from_files(options) -> tuple[dict, frozenset[str]]:
    """The values of --values FILE.json and the columns of --data FILE.csv, and the names the
    data set binds (held fixed where a command differentiates)."""
    point: dict = {}
    data: set[str] = set()
    if not options.get("values") and not options.get("data"):
        return point, frozenset()  # no file: nothing to import (the cold start stays as it was)
    from ..values import load_data, load_values

    came_from: dict[str, str] = {}
    rows: tuple[str, int] | None = None
    for option, path in [*(("--values", p) for p in options.get("values") or []),
                         *(("--data", p) for p in options.get("data") or [])]:
        if option == "--values":
            loaded = load_values(read_text(path), path)
            # a number as the text of --NAME VALUE, which every command reads
            loaded = {name: repr(value) if isinstance(value, float) else value
                      for name, value in loaded.items()}
        else:
            loaded = load_data(read_text(path), path)
            length = len(next(iter(loaded.values())))
            if rows is not None and rows[1] != length:
                raise InputError(f"--data {path} has {length:,} rows and --data {rows[0]} "
                                 f"{rows[1]:,}: the columns of a data set are one length")
            rows = rows or (path, length)
            data.update(loaded)
        for name in loaded:
            if name in came_from:
                raise InputError(f"{name!r} is in both {came_from[name]} and {option} {path}; "
                                 "give it once")
            came_from[name] = f"{option} {path}"
        point.update(loaded)
    return point, frozenset(data)
