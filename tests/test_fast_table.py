"""The tables drawn line by line (render/fast_table.py) look exactly as rich's own Table draws
them: the oracle is rich itself, on random tables of every shape, width, style and script."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from backprop_cli.render.fast_table import TitledTable

WORDS = ["x", "x ", " y", "z̅1̅", "-0.25", "tanh(z3)", "1/cosh(z1)²", "seed: ∂L/∂L = 1", "✓", "a\nb",
         "a̅1̅·∂z/∂a + b̅·∂w/∂a = 0.5·2 + 1·3", "[[1, 2], [3, 4]]", "漢字テスト", "",
         "averyveryverylongwordwithoutspacesatall" * 2, "a\xa0b", "\u0305", "x\r", "\x1b[1m"]
STYLES = [None, "red", "bold", "green", "dim red"]


@st.composite
def tables(draw) -> TitledTable:
    count = draw(st.integers(1, 5))
    columns = tuple((draw(st.sampled_from(["node", "value", "∂L/∂variable", "a", "rule"])),
                     draw(st.sampled_from(["left", "right"]))) for _ in range(count))
    table = TitledTable(draw(st.sampled_from(["Forward pass", "G",
                                              "Local derivatives (vector-Jacobian rules)"])),
                        columns)
    for _ in range(draw(st.integers(0, 5))):
        row = []
        for _ in columns:
            text = " ".join(draw(st.lists(st.sampled_from(WORDS), max_size=4)))
            style = draw(st.sampled_from(STYLES))
            row.append(Text.assemble((text[:2], "green"), text[2:]) if style is None and
                       draw(st.booleans()) else Text(text, style=style or ""))
        table.add_row(*row)
    return table


def drawn(renderable, width: int, color: bool) -> str:
    console = Console(file=io.StringIO(), width=width, force_terminal=color,
                      color_system="standard" if color else None)
    console.print(renderable)
    return console.file.getvalue()


@settings(max_examples=250, deadline=None)
@given(table=tables(), width=st.sampled_from([6, 12, 30, 50, 80, 120]), color=st.booleans())
def test_a_table_is_drawn_exactly_as_rich_draws_it(table, width, color) -> None:
    assert drawn(table, width, color) == drawn(table.rich_table(), width, color), (
        table.columns, [[cell.plain for cell in row] for row in table.rows])
