"""One exception hierarchy for everything a user can get wrong, and the one place that maps
errors and outcomes to exit codes and to the JSON error document."""

from __future__ import annotations

import re
from enum import IntEnum

SCHEMA_VERSION = 2  # 2: values may be arrays; every grad node has a shape


class ExitCode(IntEnum):
    """Process exit codes, documented in the README."""

    OK = 0
    CHECK_FAILED = 1
    BAD_INPUT = 2
    INCOMPLETE = 3  # a batch could not grade every line (its budget ran out, a worker failed)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


class BackpropError(Exception):
    """An error caused by the user's input; `code` is stable and machine-readable."""

    code = "error"
    exit_code = ExitCode.BAD_INPUT

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class ParseError(BackpropError):
    """The expression or program text is not valid input."""

    code = "parse_error"


def did_you_mean(name: str, known) -> str:
    """'; did you mean 'W1'?' for a name that differs from a known one in case or by a typo,
    else ''."""
    import difflib

    known = list(known)
    close = [k for k in known if k.lower() == name.lower()] or \
        difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class InputError(BackpropError):
    """Variable values, files or options do not fit the program."""

    code = "input_error"


def not_a_variable(wrt: str, variables, data=frozenset()) -> InputError:
    """`--wrt NAME` for a name that is not a variable to differentiate by: a --data column
    is held fixed, which is said as such."""
    listed = ", ".join(variables) or "none"
    if wrt in data:
        return InputError(f"--wrt {wrt!r} is a column of the --data set, held fixed (no "
                          f"derivative is taken by it); the variables: {listed}")
    return InputError(f"--wrt {wrt!r} is not a variable of the program (variables: {listed})")


class MissingValues(InputError):
    """Variables of the program without a value: `names`, and a hint (a look-alike name that
    has a value, σ(x) read as a product). How to give a value differs between the command
    line and a line of a batch file (`batch`), whose values are its "at" object."""

    def __init__(self, names: tuple[str, ...], hint: str = "", batch: bool = False) -> None:
        self.names, self.hint, self.batch = tuple(names), hint, batch
        many = len(self.names) > 1
        listed = ", ".join(repr(name) for name in self.names)
        more = len(self.names) > 3
        if batch:
            shown = ", ".join(f'"{name}": VALUE' for name in self.names[:3])
            how = f"in the line's \"at\" object, as \"at\": {{{shown}{', ...' if more else ''}}}"
        elif many:
            how = (f"as {' '.join(f'--{name} VALUE' for name in self.names[:3])}"
                   f"{' ...' if more else ''} or --at {self.names[0]}=VALUE,...")
        else:
            how = f"as --{self.names[0]} VALUE or --at {self.names[0]}=VALUE"
        s, them = ("s", "them") if many else ("", "it")
        super().__init__(f"missing value{s} for variable{s} {listed}: give {them} {how}{hint}")

    def __reduce__(self):  # rebuilt from its parts where a checker process sends it back
        return type(self), (self.names, self.hint, self.batch)

    def in_batch(self) -> MissingValues:
        """The same error for a line of a batch file."""
        return MissingValues(self.names, self.hint, batch=True)


class LimitError(BackpropError):
    """The input is larger or deeper than the documented limits."""

    code = "limit_exceeded"


class BudgetError(LimitError):
    """The run would exceed, or has exceeded, its time or memory budget."""

    code = "budget_exceeded"


class UsageError(BackpropError):
    """The command line itself is malformed (an unknown command, a bad option value)."""

    code = "usage_error"


def as_error(error: BaseException) -> BackpropError:
    """Any failure as a BackpropError: ours as they are, exhaustion as a limit, anything else
    as an internal error (so the user still gets one line, never a traceback)."""
    if isinstance(error, BackpropError):
        return error
    if isinstance(error, (RecursionError, MemoryError)):
        return LimitError("input is too large or too deeply nested")
    return BackpropError(f"internal error ({type(error).__name__}: {error}); please report it",
                         code="internal_error")


def exit_code(error: BackpropError | None = None, failed: bool | ExitCode = False) -> ExitCode:
    """The exit code of a run: its error's, else 1 for a failed check (or the code a command
    gave, such as 3 for an incomplete batch), else 0."""
    if error is not None:
        return error.exit_code
    if isinstance(failed, ExitCode):
        return failed
    return ExitCode.CHECK_FAILED if failed else ExitCode.OK


def error_document(error: BackpropError) -> dict:
    """The JSON document printed on standard output for an error under `--json`."""
    return {"schema": SCHEMA_VERSION, "ok": False,
            "error": {"code": error.code, "message": error.message}}


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def shortened(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in "..." when cut (for quoting a
    user's text in a message)."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def one_line(text: str) -> str:
    """Text safe to print as one line: control characters (newlines, ESC, line separators)
    written as escapes, so a hostile name can neither break a line nor drive the terminal."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"),
                        text)
