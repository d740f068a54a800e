"""A table drawn as rich draws the project's titled SIMPLE_HEAD tables (title on the left, bold
header, a rule under it, columns three spaces apart, cells folded to fit), line by line. rich
lays a table out by measuring and rendering every cell several times (about 0.5 ms a row), so
the tables of a 400-node program took most of a second; here each cell is measured once, the
column widths come from rich's own width arithmetic, and only a cell that must be folded onto
several lines is rendered by rich."""

from __future__ import annotations

from rich import box
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

from .fast_text import Measured, line_width

_HEADER = Style(bold=True)
_SPACE = Segment(" ")
_NEW_LINE = Segment.line()


class TitledTable:
    """`add_row` as rich's Table; drawn by `__rich_console__`."""

    def __init__(self, title: str, columns: tuple[tuple[str, str], ...]) -> None:
        self.title = title
        self.columns = columns
        self.rows: list[tuple[Text, ...]] = []

    def add_row(self, *cells) -> None:
        self.rows.append(tuple(c if isinstance(c, Text) else Text(str(c)) for c in cells))

    def rich_table(self) -> Table:
        """The same table as rich's Table (what this one is drawn to look like)."""
        table = Table(title=Text(self.title), title_justify="left", title_style="bold",
                      box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
        for name, justify in self.columns:
            table.add_column(Text(name), justify=justify, overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        return table

    def _pads(self, k: int) -> tuple[int, int]:
        """The left and right padding of column k (none on the table's outer edges)."""
        return (0 if k == 0 else 1), (0 if k == len(self.columns) - 1 else 1)

    def _widths(self, available: int) -> list[int]:
        """Each column's width with its padding, as rich's Table computes them."""
        from rich.table import ratio_reduce

        maxima = [line_width(name) for name, _ in self.columns]
        for row in self.rows:
            for k, cell in enumerate(row):
                plain = cell.plain
                width = max(map(line_width, plain.splitlines())) if "\n" in plain else \
                    line_width(plain)
                if width > maxima[k]:
                    maxima[k] = width
        padded = [width + sum(self._pads(k)) for k, width in enumerate(maxima)]
        widths = [min(width, available) or 1 for width in padded]
        if sum(widths) > available:
            widths = Table._collapse_widths(widths, [True] * len(widths), available)
            if sum(widths) > available:
                widths = ratio_reduce(sum(widths) - available, [1] * len(widths), widths,
                                      widths)
            widths = [min(width, limit) for width, limit in zip(padded, widths, strict=True)]
        return widths

    def __rich_console__(self, console, options):
        if not self.columns or any(len(row) != len(self.columns) for row in self.rows) or \
                any(justify not in ("left", "right") for _, justify in self.columns):
            yield self.rich_table()
            return
        widths = self._widths(options.max_width - 2 - (len(self.columns) - 1))
        total = sum(widths) + len(widths) + 1
        if line_width(self.title) > total or any(
                width - sum(self._pads(k)) < 1 for k, width in enumerate(widths)):
            yield self.rich_table()  # a long title folded, or columns squeezed to nothing
            return
        yield Segment(self.title + " " * (total - line_width(self.title)))
        yield _NEW_LINE
        yield Segment(" " * total)
        yield _NEW_LINE
        yield from self._header(console, options, widths)
        yield Segment(" " + "─" * (total - 2) + " ")
        yield _NEW_LINE
        for row in self.rows:
            cells = [self._cell(console, options, cell, k, width)
                     for k, (cell, width) in enumerate(zip(row, widths, strict=True))]
            yield from self._lines(cells, widths, max(len(lines) for lines in cells))
        yield Segment(" " * total)
        yield _NEW_LINE

    def _header(self, console, options, widths: list[int]):
        """The header row: bold, folded like any cell, shorter names aligned to the bottom."""
        cells = [self._cell(console, options, Text(name), k, width, _HEADER)
                 for k, ((name, _), width) in enumerate(zip(self.columns, widths, strict=True))]
        height = max(len(lines) for lines in cells)
        cells = [[[Segment(" " * width, _HEADER)]] * (height - len(lines)) + lines
                 for lines, width in zip(cells, widths, strict=True)]
        yield from self._lines(cells, widths, height)

    def _lines(self, cells: list, widths: list[int], height: int):
        for line_number in range(height):
            line = [_SPACE]
            for k, (lines, width) in enumerate(zip(cells, widths, strict=True)):
                if k:
                    line.append(_SPACE)
                line += (lines[line_number] if line_number < len(lines)
                         else [Segment(" " * width)])
            line.append(_SPACE)
            if any(segment.style for segment in line):
                yield from line
            else:  # one segment rich measures at C speed when it crops the line
                yield Measured("".join([segment.text for segment in line]))
            yield _NEW_LINE

    def _cell(self, console, options, cell: Text, k: int, width: int,
              style: Style | None = None) -> list[list[Segment]]:
        """The cell's lines, each `width` wide with its padding (in `style`, a header's)."""
        left, right = self._pads(k)
        justify = self.columns[k][1]
        plain = cell.plain
        room = width - left - right
        width_of_text = line_width(plain)
        if "\n" in plain or width_of_text > room or plain[:1].isspace() or \
                plain[-1:].isspace():  # folded, or trimmed as rich trims it
            return console.render_lines(
                Padding(cell, (0, right, 0, left)),
                options.update(width=width, justify=justify, no_wrap=False, overflow="fold",
                               height=None),
                style=style or Style.null())
        fill = " " * (room - width_of_text)
        if style is None and not cell.style and not cell.spans:
            body = fill + plain if justify == "right" else plain + fill
            return [[Segment(" " * left + body + " " * right)]]
        base = console.get_style(cell.style) if cell.style else style
        pieces = [Segment(piece.text, base + piece.style if base and piece.style
                          else base or piece.style) for piece in cell.render(console)]
        if fill:
            padding = Segment(fill, base)
            pieces = [padding, *pieces] if justify == "right" else [*pieces, padding]
        line = list(Segment.simplify(pieces))
        if left:
            line.insert(0, Segment(" ", style))
        if right:
            line.append(Segment(" ", style))
        return [line]
