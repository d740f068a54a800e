"""Statements read shape by shape (shapes.py) against the token-by-token parser: the same
trees, names, printed program and graph, or a refusal that leaves the decision to it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_cli.errors import BackpropError
from backprop_cli.graph import build_graph
from backprop_cli.parse import (
    MAX_STATEMENT_TOKENS,
    Program,
    _ExpressionParser,
    _fast_tokenize,
    _parse_statements,
    _shape_parser,
    _split_statements,
    _tokenize,
    format_program,
    parse_program,
)
from backprop_cli.shapes import parse_shaped

NAMES = ("x", "y", "w", "h0", "h1", "h2", "h3", "pi", "e", "lambda", "sin", "beta", "a1")
TARGETS = ("h0", "h1", "h2", "h3", "e", "sin")
GIVEN = ("x", "y", "w", "e", "beta", "sin", "a1")


def token_by_token(text: str, given: frozenset[str]) -> Program:
    statements, names = _parse_statements(_split_statements(_tokenize(text)), text, given)
    return Program(statements, text, names)


def shaped(text: str, given: frozenset[str]) -> Program | None:
    found = parse_shaped(text, given, _shape_parser, _fast_tokenize, MAX_STATEMENT_TOKENS)
    return None if found is None else Program(found[0], text, found[1])


def assert_same(text: str, given: frozenset[str]) -> Program | None:
    """The shaped parse is None where the parser refuses the text; otherwise it is None or the
    parser's program in every detail."""
    try:
        expected = token_by_token(text, given)
    except BackpropError:
        assert shaped(text, given) is None, text
        return None
    found = shaped(text, given)
    if found is None:
        return None
    assert [(s.target, s.tree, s.line) for s in found.statements] == [
        (s.target, s.tree, s.line) for s in expected.statements], text
    assert found.names == expected.names
    assert found.defined_names == expected.defined_names
    assert format_program(found) == format_program(expected)
    assert build_graph(found) == build_graph(expected)
    return found


@pytest.mark.parametrize("text, given", [
    ("h1 = tanh(x*w + y)\nh2 = h1*h1 + x; h3 = sin(h2) / (1 + e)\nh3 - pi", {"x", "y", "w"}),
    ("a = x\nb = a\nb", {"x"}),
    ("z1 = x*y; z2 = z1 + z1\n\n  \nz3 = max(z2, x, 1)\nlog(z3, 2)", {"x", "y"}),
    ("h = lambda*x**-2 + beta*e\nh", {"x", "lambda", "beta", "e"}),
    ("y1 = -x; y2 = -(-x); y3 = +x - -1.5e-3\ny1*y2*y3", {"x"}),
    ("s = softmax(v); t = sum(s*s)\nt", {"v"}),
    ("r = v[0] + v[-1]\nr", {"v"}),
    ("q = [1, 2] @ v\nq", {"v"}),
    ("d = relu(x) + abs(x - 1)\nd", {"x"}),
    ("t1 = x\r\nt2 = t1*t1\r\nt2", {"x"}),
    ("x = 1\ny*x", {"x", "y"}),  # given and assigned, used after its statement
    ("a = -0.5*x + x*-2 - -1.5e-3; b = 2**-a / 3. + 1E+2*a\nb - 7", {"x"}),
    ("a = log1p(x)*2 + atan2(y, 2) - .5*x; a", {"x", "y"}),  # digits in names; '.5' stays
    ("a = -0*x + -(0)*x; a", {"x"}),
    ("# a neuron\nz = w*x + b  # pre-activation; a = z\n#\ntanh(z) # out", {"w", "x", "b"}),
])
def test_regular_programs_are_read_by_shape(text, given):
    assert assert_same(text, frozenset(given)) is not None


@pytest.mark.parametrize("text, given", [
    ("2x + 1", {"x"}),  # a name glued to a number
    ("a(x + 1)", {"a", "x"}),  # a user's name before '(' multiplies
    ("θ + x", {"θ", "x"}),
    ("h = h + 1", {"x"}),
    ("h = x; h = x + 1", {"x"}),
    ("b = c*x; c = x; b", {"x"}),  # read before a later statement assigns it
    ("b = c(x + 1); c = x; b", {"x"}),  # called, and assigned by a later statement
    ("x + 1; x", {"x"}),
    ("sin + 1", set()),
    ("sin(", {"x"}),
    ("f(x)", {"x"}),
    ("a = 1e999*x; a", {"x"}),  # too large for float64
    ("a = 2 3*x; a", {"x"}),
    ("a = 0.5x + 1; a", {"x"}),
    ("\x03", set()),  # the characters that mark slots in a shape
    ("x + \x00", {"x"}),
    ("h^e[35]@y", {"h", "y"}),  # a constant cannot be indexed
    ("a - 1.5_0", {"a", "_0"}),  # `_0` glued to a number stays in the shape
    ("if = x*2; if + 1", {"x"}),  # a keyword as a target
    ("None = x; None", {"x"}),
])
def test_anything_unusual_is_left_to_the_parser(text, given):
    assert shaped(text, frozenset(given)) is None
    assert_same(text, frozenset(given))


def test_a_shape_is_parsed_once_and_shared():
    lines = [f"h{k} = tanh(h{k - 1}*w + x)" for k in range(1, 200)]
    program = shaped("h0 = x\n" + "\n".join(lines), frozenset({"x", "w"}))
    shapes = {id(s.shape) for s in program.statements}
    assert len(shapes) == 2


def test_statements_that_differ_in_their_numbers_share_a_shape():
    lines = [f"h{k} = tanh({1 / (k + 1):.6g}*h{k - 1} - {k}e-3*x)" for k in range(1, 300)]
    program = shaped("h0 = x\n" + "\n".join(lines), frozenset({"x"}))
    assert len({id(s.shape) for s in program.statements}) == 2
    assert program.statements[5].text() == "h5 = tanh(0.166667*h4 - 5e-3*x)"


def test_parse_program_takes_the_shaped_reading_and_keeps_messages_exact():
    program = parse_program("a = x*y\nb = tanh(a)\nb", frozenset({"x", "y"}))
    assert all(hasattr(s, "shape") for s in program.statements)
    with pytest.raises(BackpropError, match="line 2: 'a' is assigned twice"):
        parse_program("a = x\na = y", frozenset({"x", "y"}))


_space = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def expressions(draw, depth: int = 3) -> str:
    kind = draw(st.integers(0, 6 if depth else 1))
    if kind == 0:
        return draw(st.sampled_from(NAMES))
    if kind == 1:
        return draw(st.sampled_from(["1", "0.5", "2.", ".25", "3e-2", "1E+2", "7"]))
    left, right = draw(expressions(depth - 1)), draw(expressions(depth - 1))
    gap = draw(_space)
    if kind == 2:
        op = draw(st.sampled_from(["+", "-", "*", "/", "**", "^"]))
        return f"{left}{gap}{op}{draw(_space)}{right}"
    if kind == 3:
        return f"{draw(st.sampled_from(['-', '+', '']))}({left})"
    if kind == 4:
        name = draw(st.sampled_from(["tanh", "sin", "exp", "sigmoid", "abs", "x", "w"]))
        return f"{name}{gap}({left})"
    if kind == 5:
        name = draw(st.sampled_from(["max", "min", "log", "atan2"]))
        return f"{name}({left},{gap}{right})"
    return f"{left}{right}" if draw(st.booleans()) else f"{left} {right}"


@st.composite
def programs(draw) -> tuple[str, frozenset[str]]:
    count = draw(st.integers(1, 5))
    parts = []
    for k in range(count):
        expression = draw(expressions())
        if k < count - 1 or draw(st.booleans()):
            expression = f"{draw(st.sampled_from(TARGETS))}{draw(_space)}={draw(_space)}" \
                         f"{expression}"
        parts.append(expression)
        parts.append(draw(st.sampled_from(["\n", ";", "; ", "\n\n", " ;\n", "\r\n", " # c; d\n",
                                           "#\n"])))
    given = frozenset(draw(st.sets(st.sampled_from(GIVEN))))
    return "".join(parts[:-1]), given


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_programs_read_by_shape_are_the_parsers(case):
    text, names = case
    assert_same(text, names)


def test_the_parser_class_is_the_one_shapes_use():
    assert isinstance(_shape_parser("x", frozenset({"x"})), _ExpressionParser)
