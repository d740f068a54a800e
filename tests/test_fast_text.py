"""Text drawn line by line (render/fast_text.py) looks exactly as rich draws it: the oracle is
rich itself, on random lines of the characters explanations use and of others."""

from __future__ import annotations

import io

import pytest
from hypothesis import assume, given, settings
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


STEP_PIECES = ["x", "z̅1̅", "∂z3/∂x", "·", "tanh(z3)", "²", " + ", " = ", "θ1", "0.419974",
               "1/cosh(x)²", "averyveryverylongwordwithoutspaces"]


@settings(max_examples=300, deadline=None)
@given(head=st.lists(st.sampled_from(STEP_PIECES), min_size=1, max_size=16).map("".join),
       rules=st.lists(st.lists(st.sampled_from(STEP_PIECES), min_size=1, max_size=5)
                      .map("".join).map(str.strip).filter(bool), max_size=4),
       width=st.integers(8, 120), lead=st.sampled_from([0, 2]))
def test_a_long_step_goes_on_indented_under_itself_and_loses_nothing(head, rules, width,
                                                                     lead) -> None:
    from backprop_cli.render.explain_text import hanging

    line = " " * lead + head.strip() + (f"   where {', '.join(rules)}" if rules else "")
    assume(head.strip())
    pieces = hanging(line, width)
    if line_width(line) <= width:
        assert pieces == [line]
        return
    if pieces is None:  # a character wider than its line: rich wraps the line as any text
        return
    assert all(line_width(piece) <= width for piece in pieces)
    assert not any(piece.endswith(" ") for piece in pieces)
    # nothing lost or added: the same characters in the same order, spaces aside (a word
    # wider than a line is folded)
    assert "".join(pieces).replace(" ", "") == line.replace(" ", "")
    # the step's own lines go on four in; its rules start a line four in, and go on ten in
    where = next((k for k, piece in enumerate(pieces) if "where " in piece), len(pieces))
    indents = [len(piece) - len(piece.lstrip(" ")) for piece in pieces]
    assert indents[0] == lead and set(indents[1:where]) <= {lead + 4}
    if rules:
        assert pieces[where].startswith(" " * (lead + 4) + "where ")
        assert set(indents[where:]) == {lead + 4} | ({lead + 10} if indents[where + 1:] else set())
        assert sum("where " in piece for piece in pieces) == 1


def test_explain_at_40_columns_keeps_each_step_indented_within_the_width() -> None:
    from typer.testing import CliRunner

    from backprop_cli.cli import app

    result = CliRunner().invoke(app, ["explain", "x*y + tanh(x)", "--x", "1", "--y", "2"],
                                env={"COLUMNS": "40", "NO_COLOR": "1"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert all(line_width(line.rstrip()) <= 40 for line in lines)
    # every line of the sweeps is indented: a step, or a step's continuation
    sweeps = lines[lines.index("Forward sweep") + 1:lines.index("Gradient")]
    assert all(line.startswith("  ") for line in sweeps if line and line != "Reverse sweep")
    assert "      where ∂z3/∂x = y," in lines and "            ∂z4/∂x = 1/cosh(x)²" in lines


@pytest.mark.parametrize(("program", "point"), [
    # a flagged step makes the forward sweep styled (its status in yellow)
    ("log(x) + learning_rate_alpha*momentum_beta_one",
     ["--x", "-1", "--learning_rate_alpha", ".5", "--momentum_beta_one", ".9"]),
    ("ẏ*y + tanh(ẏ)", ["--ẏ", "1", "--y", "2"]),  # a letter outside the known widths
    ("max(x, y)*x", ["--x", "1", "--y", "2"]),  # a rule with a comma of its own
])
@pytest.mark.parametrize("width", [30, 50])
def test_explain_never_goes_on_from_the_left_edge(program, point, width) -> None:
    import re

    from typer.testing import CliRunner

    from backprop_cli.cli import app

    shown = [CliRunner().invoke(app, ["explain", program, *point],
                                env={"COLUMNS": str(width), colour: "1"}).stdout
             for colour in ("NO_COLOR", "FORCE_COLOR")]
    assert "\x1b[33m" in shown[1] or "undefined" not in shown[0]  # the status in yellow
    lines = re.sub("\x1b\\[[0-9;]*m", "", shown[1]).splitlines()
    assert lines == shown[0].splitlines()
    assert all(line_width(line) <= width for line in lines)
    sweeps = lines[lines.index("Forward sweep") + 1:lines.index("Gradient")]
    assert all(line.startswith("  ") for line in sweeps if line and line != "Reverse sweep")
    assert not any(line.rstrip(" ").endswith(",") and "where" not in line and
                   not line.startswith(" " * 10) for line in sweeps)


def test_explain_over_arrays_keeps_to_the_width_too() -> None:
    from typer.testing import CliRunner

    from backprop_cli.cli import app

    command = ["explain", "sum(tanh(W @ v))", "--W", "[[1, 2], [3, 4]]", "--v", "[0.5, -0.25]"]
    wide, narrow = (CliRunner().invoke(app, command, env={"COLUMNS": width, "NO_COLOR": "1"})
                    for width in ("400", "60"))
    assert wide.exit_code == narrow.exit_code == 0
    lines = narrow.stdout.splitlines()
    assert max(map(line_width, lines)) <= 60 < max(map(line_width, wide.stdout.splitlines()))
    assert "      -0.196612]]" in lines  # goes on under its step
    assert narrow.stdout.split() == wide.stdout.split()
