"""One exception hierarchy for everything a user can get wrong, and the exit codes."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in the README."""

    OK = 0
    CHECK_FAILED = 1
    BAD_INPUT = 2


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


class InputError(BackpropError):
    """Variable values, files or options do not fit the program."""

    code = "input_error"


class LimitError(BackpropError):
    """The input is larger or deeper than the documented limits."""

    code = "limit_exceeded"
