"""The terminal a command writes to: its two streams and what they can show.

`main` builds one from the process's streams; tests build one over in-memory streams and pass
it to the app (`app(..., obj=terminal)`), so nothing needs to capture the real streams.
"""

from __future__ import annotations

import codecs
import errno
import io
import os
import re
import sys
from dataclasses import dataclass, field
from typing import TextIO

WRITE_SLICE = 1 << 20


@dataclass(frozen=True)
class Terminal:
    """Standard output and standard error, and how to draw on them. `color` and `width` left
    as None are decided by rich from the stream and the environment (NO_COLOR, FORCE_COLOR,
    COLUMNS), as for any rich program."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)  # what `practice` reads
    color: bool | None = None
    width: int | None = None

    @property
    def out_is_tty(self) -> bool:
        return _isatty(self.out)

    @property
    def err_is_tty(self) -> bool:
        return _isatty(self.err)

    @property
    def stdin_is_tty(self) -> bool:
        return _isatty(self.stdin)

    def console(self, stderr: bool = False, width: int | None = None):
        """A rich console on one of the streams."""
        from rich.console import Console

        options: dict = {}
        if self.color is not None:
            options.update(force_terminal=self.color, no_color=not self.color)
        width = width or self.width
        columns = os.environ.get("COLUMNS", "")
        if width is None and columns.isdigit() and int(columns) == 0:
            # rich would draw everything in a width of 0, that is nothing at all; like an
            # unset COLUMNS, this takes the terminal's width (80 when there is none)
            import shutil

            width = shutil.get_terminal_size().columns
        # markup and emoji codes off: user text ("[/]", "[link=...]", ":x:") prints as written
        return Console(file=self.err if stderr else self.out, highlight=False, markup=False,
                       emoji=False, soft_wrap=False, width=width, **options)

    def print(self, renderable, console=None) -> None:
        """A rich renderable on standard output (or on `console`'s file), each line without
        the spaces rich pads it with to the table's width: they get in the way of pasting a
        table into homework or comparing two outputs."""
        console = console or self.console()
        with console.capture() as captured:
            console.print(renderable)
        text = trimmed(captured.get()).removesuffix("\n")
        if console.file is self.out:
            self.write(text)
        else:
            console.file.write(text + "\n")

    def write(self, text: str) -> None:
        """Text and a newline on standard output, a slice at a time: one huge write into a
        pipe whose reader has gone can end without an error, and a cut output must not pass
        for a whole one."""
        for start in range(0, len(text), WRITE_SLICE):
            self.out.write(text[start:start + WRITE_SLICE])
        self.out.write("\n")

    def write_bytes(self, data: bytes) -> None:
        """Binary data (an image) on standard output as it is."""
        self.out.flush()
        buffer = getattr(self.out, "buffer", None)
        if buffer is None:
            self.out.write(data.decode("utf-8", errors="replace"))
        else:
            buffer.write(data)

    def error(self, message: str) -> None:
        """One line on standard error, control characters escaped; when even that cannot be
        written there is nowhere left to say so, and the exit code still tells."""
        from .errors import one_line

        try:
            self.err.write(one_line(message) + "\n")
            self.err.flush()
        except (OSError, ValueError):
            pass


_COLOUR_CODE = re.compile(r"\x1b\[[0-9;]*m")


def trimmed(text: str) -> str:
    """`text` without spaces at its lines' ends (colour codes among them are kept)."""
    if "\x1b" not in text:
        return "\n".join(line.rstrip(" ") for line in text.split("\n"))
    return "\n".join(map(_trimmed_line, text.split("\n")))


def _trimmed_line(line: str) -> str:
    codes = ""
    while True:
        line = line.rstrip(" ")
        start = line.rfind("\x1b[")
        if start < 0 or not _COLOUR_CODE.fullmatch(line, start):
            return line + codes
        line, codes = line[:start], line[start:] + codes


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


ESCAPE_ERRORS = "backprop-escape"


def _escape(error: UnicodeError) -> tuple[str, int]:
    """Characters the stream's encoding cannot show, as \\uXXXX escapes (surrogate pairs
    above U+FFFF): readable in text and valid inside a JSON string."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    out = []
    for char in error.object[error.start:error.end]:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out), error.end


codecs.register_error(ESCAPE_ERRORS, _escape)


class ClosedStream(io.TextIOBase):
    """A standard stream whose descriptor was closed when the process started (`>&-`): every
    read or write fails as a closed descriptor does, so the command can say it could not
    write its output rather than fail on a missing `sys.stdout`."""

    def __init__(self, name: str, fd: int) -> None:
        super().__init__()
        self._name, self._fd = name, fd

    def _closed(self, *args, **kwargs):
        raise OSError(errno.EBADF, f"standard {self._name} is closed")

    write = read = readline = _closed

    @property
    def buffer(self) -> ClosedStream:
        return self

    def fileno(self) -> int:
        return self._fd


def prepare_standard_streams() -> None:
    """Make the process's streams safe to print anything on: a descriptor closed at start is
    held open on /dev/null (so no file opened later takes its number), standard input and
    output then fail as closed when used, standard error discards (there is nowhere else to
    report to, and stdout must keep only the command's output); text an encoding cannot
    show (PYTHONIOENCODING=ascii, an unpaired surrogate from argv) is written escaped."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:
            continue
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        if name == "stderr":
            setattr(sys, name, open(fd, "w", encoding="utf-8", closefd=False))
        else:
            setattr(sys, name, ClosedStream("input" if fd == 0 else "output", fd))
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors=ESCAPE_ERRORS)
