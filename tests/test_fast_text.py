"""Text drawn line by line (render/fast_text.py) looks exactly as rich draws it: the oracle is
rich itself, on random lines of the characters explanations use and of others."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from backprop_cli.render.fast_text import FastText, line_width

PIECES = ["x", "z̅1̅", " = ", "∂L/∂x", "·", "tanh(z3)", "²", "⁻¹", " + ", "θ1", "←", "√",
          "漢字", "é", "\u200b", "\t", "  ", "averyveryverylongwordwithoutspaces", "ä̅", "\x07",
          "\xa0"]


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.lists(st.sampled_from(PIECES), max_size=20).map("".join),
                      min_size=1, max_size=6),
       width=st.sampled_from([5, 12, 40, 80, 120]), ending=st.booleans())
def test_text_is_drawn_exactly_as_rich_draws_it(lines, width, ending) -> None:
    plain = "\n".join(lines) + ("\n" if ending else "")
    text = Text(plain)
    drawn = []
    for renderable in (FastText(text), FastText(plain), text):
        console = Console(file=io.StringIO(), width=width, color_system=None)
        console.print(renderable)
        drawn.append(console.file.getvalue())
    assert drawn[0] == drawn[2], lines
    assert drawn[1] == drawn[2], lines


@given(st.text(max_size=40))
def test_the_line_width_is_rich_cell_len(line) -> None:
    from rich.cells import cell_len

    assert line_width(line) == cell_len(line)


def test_the_only_spaces_of_known_width_are_one_cell_wide() -> None:
    """wrapped() counts each space after a word as one cell."""
    from rich.cells import cell_len

    from backprop_cli.render.fast_text import _NARROW, _ZERO_CHARS

    assert not [c for c in _ZERO_CHARS if c.isspace()]
    assert all(cell_len(c) == 1 for c in _NARROW if c.isspace())
