"""Long plain text drawn as rich draws it, without rich's per-character measuring of every word
of every line: a line that fits the width is written as it is, and only a line that must wrap
is wrapped by rich. `explain` on 2,000 nodes spent most of its time measuring words of lines
that fit."""

from __future__ import annotations

import re

from rich.cells import cell_len, get_character_cell_size
from rich.control import STRIP_CONTROL_CODES
from rich.segment import Segment
from rich.text import Text

# Characters whose width rich knows to be one cell (or none, for combining marks) in the
# ranges programs and their explanations use: Latin, Greek, the combining overline of an
# adjoint, super- and subscripts, arrows and mathematical operators.
_RANGES = ((0x00A0, 0x03FF), (0x2070, 0x209F), (0x2190, 0x21FF), (0x2200, 0x22FF))
_NARROW = frozenset([chr(c) for c in range(0x20, 0x7F)] + [
    chr(c) for low, high in _RANGES for c in range(low, high + 1)
    if get_character_cell_size(chr(c)) == 1])
_ZERO_CHARS = frozenset(chr(c) for low, high in _RANGES for c in range(low, high + 1)
                        if get_character_cell_size(chr(c)) == 0)
_ZERO = re.compile("[" + "".join(sorted(_ZERO_CHARS)) + "]")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_STRIPPED = re.compile("[" + "".join(map(chr, STRIP_CONTROL_CODES)) + "]")


def line_width(line: str) -> int:
    """rich's cell_len of a line, computed in C for the characters above."""
    width = _known_width(line)
    return cell_len(line) if width is None else width


def _known_width(text: str) -> int | None:
    if text.isascii():
        return len(text) if _PRINTABLE.fullmatch(text) else None
    narrowed = _ZERO.sub("", text)
    return len(narrowed) if _NARROW.issuperset(narrowed) else None


def plain(text: str) -> bool:
    """Whether rich's Text(text) draws `text` as it is: no tab to expand, no control code to
    strip."""
    return "\t" not in text and not _STRIPPED.search(text)


def word_width(line: str):
    """Where rich's width of every character of `line` is known here, a function that gives a
    piece of the line its width in cells: its length less its combining marks (counted by
    str.count for the few marks the line has). None where a width is not known."""
    if _known_width(line) is None:
        return None
    marks = _ZERO_CHARS.intersection(line)
    return (lambda piece: len(piece) - sum(map(piece.count, marks))) if marks else len


_WORD = re.compile(r"\s*\S+\s*")
_TRAILING = re.compile(r"\s+$")


def wrapped(line: str, width: int) -> list[str] | None:
    """The line cut where rich's word wrap cuts it (rich._wrap.divide_line, then trailing
    spaces trimmed as Text.rstrip_end trims them); None when a word must be folded or a
    character's width is not known here (rich then wraps the line itself)."""
    measure = word_width(line)
    if measure is None:
        return None
    # The spaces after a word are one cell each (the only spaces of known width are ' ' and
    # NBSP; tests check it).
    breaks = []
    offset = 0
    for match in _WORD.finditer(line):
        start, word = match.start(), match.group()
        stripped = word.rstrip()
        length = measure(stripped)
        whole = length + len(word) - len(stripped)
        if width - offset >= length:
            offset += whole
        elif length > width:
            return None
        elif offset and start:
            breaks.append(start)
            offset = whole
    pieces = [line[a:b] for a, b in zip([0, *breaks], [*breaks, len(line)], strict=True)]
    for k, piece in enumerate(pieces):
        if len(piece) > width and (spaces := _TRAILING.search(piece)) is not None:
            pieces[k] = piece[:len(piece) - min(len(spaces.group()), len(piece) - width)]
    return pieces


class Measured(Segment):
    """A segment of characters whose widths are known here: rich asks every segment of a line
    for its width when it crops the line, and would otherwise sum them character by
    character."""

    __slots__ = ()

    @property
    def cell_length(self) -> int:
        return line_width(self.text)


class FastText:
    """A rich Text, or plain text as rich's Text(text) draws it, drawn line by line: unstyled
    lines that fit directly, the others by rich."""

    def __init__(self, text: Text | str) -> None:
        self.text = text

    def __rich_console__(self, console, options):
        width = options.max_width
        text = self.text
        # Text(text) strips control codes with str.translate, slow over a long explanation,
        # so plain text becomes a Text only where there is one to strip or a tab to expand.
        if isinstance(text, str) and not plain(text):
            text = Text(text)
        if isinstance(text, Text):
            if text.spans or text.style or "\t" in text.plain:
                yield text
                return
            text = text.plain
        lines = text.split("\n")
        for line in lines:
            # rich also trims trailing spaces of a line longer than the width in characters
            # (combining marks count there), so such a line is left to it
            if line_width(line) <= width and not (len(line) > width and line[-1:].isspace()):
                yield Measured(line)
                yield Segment.line()
                continue
            pieces = wrapped(line, width)
            if pieces is None:
                yield Text(line)
                continue
            for piece in pieces:
                yield Measured(piece)
                yield Segment.line()
