"""Regression tests for behaviour that recent fixes introduced.

Every expected number comes from an independent oracle: a derivative worked out by hand (the
working is in the comment next to it), `sympy.diff` evaluated to 30 digits, central differences,
exact integer or rational arithmetic, or IEEE 754 semantics. Nothing here is a snapshot of what the
program printed.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import sympy as sp
from cli_checks import backprop_command, one_error_line, strict_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from backprop_cli import grad
from backprop_cli import graph as graph_module
from backprop_cli import ops as ops_module
from backprop_cli.cli import app, main
from backprop_cli.errors import LimitError, ParseError
from backprop_cli.parse import format_program, parse_program

RTOL_SYMPY = 1e-9
ATOL_SYMPY = 1e-15
EPS = 1e-6
RTOL_FD = 1e-3
ATOL_FD = 1e-5

runner = CliRunner()


# ---------------------------------------------------------------------------------------------
# Helpers


def invoke(*args: str, input: str | bytes | None = None):
    """Run the Typer app in-process; stdout and stderr are kept apart."""
    return runner.invoke(app, list(args), input=input)




def grad_json(*args: str) -> dict:
    result = invoke("grad", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return strict_json(result.stdout)




def bad_input(*args: str) -> str:
    """Run `grad` expecting exit 2 with one error line and nothing on stdout; the line."""
    result = invoke("grad", *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    return one_error_line(result.stderr)


def gradient_of(result) -> dict[str, float]:
    return dict(result.gradient)


def flagged(result, status: str):
    matching = [n for n in result.nodes if n.status == status]
    assert len(matching) == 1, [(n.id, n.op, n.status) for n in result.nodes]
    return matching[0]


def descendants(result, node_id: str) -> set[str]:
    found = {node_id}
    for node in result.nodes:  # topological order
        if any(edge.input in found for edge in node.inputs):
            found.add(node.id)
    return found - {node_id}


def at_point(expression, symbols, values) -> float:
    subs = {s: sp.Float(v, 40) for s, v in zip(symbols, values, strict=True)}
    number = complex(sp.N(expression, 30, subs=subs))
    assert abs(number.imag) < 1e-20, (expression, number)
    return number.real


def close(actual: float, expected: float, rtol: float, atol: float) -> bool:
    return abs(actual - expected) <= atol + rtol * abs(expected)


def central_difference(text: str, at: dict[str, float], name: str) -> float:
    plus, minus = dict(at), dict(at)
    plus[name] += EPS
    minus[name] -= EPS
    return (grad(text, plus).value - grad(text, minus).value) / (2 * EPS)


@pytest.fixture(scope="module")
def validator():
    path = resources.files("backprop_cli") / "schemas" / "grad.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


# ---------------------------------------------------------------------------------------------
# 1. Superscript runs are one exponent


@pytest.mark.parametrize(
    ("text", "x", "value", "derivative"),
    [
        # x**23 at 2: 2**23 = 8388608; d/dx = 23*x**22 = 23*2**22 = 96468992
        ("x²³", 2.0, 2**23, 23 * 2**22),
        # x**10 at 2: 1024; d/dx = 10*2**9 = 5120
        ("x¹⁰", 2.0, 2**10, 10 * 2**9),
        # x**-1 at 2: 0.5; d/dx = -x**-2 = -0.25
        ("x⁻¹", 2.0, 0.5, -0.25),
        # x**-12 at 2: 2**-12; d/dx = -12*x**-13 = -12*2**-13
        ("x⁻¹²", 2.0, 2.0**-12, -12 * 2.0**-13),
    ],
)
def test_superscript_run_is_one_exponent(text, x, value, derivative):
    result = grad(text, {"x": x})
    assert result.value == value
    assert gradient_of(result) == {"x": derivative}
    assert result.node(result.output).op == "pow"


def test_superscript_run_tree():
    tree = parse_program("x²³").statements[0].tree
    assert tree[0] == "pow" and tree[1] == ("var", "x")
    assert tree[2][:2] == ("const", 23.0)
    tree = parse_program("x⁻¹").statements[0].tree
    assert tree[2][:2] == ("const", -1.0)


@pytest.mark.parametrize("text", ["x⁻", "x⁻ + 1", "2*x⁻"])
def test_superscript_minus_alone_is_refused(text):
    with pytest.raises(ParseError) as caught:
        parse_program(text)
    assert "superscript" in str(caught.value)


# ---------------------------------------------------------------------------------------------
# 2. `x.5` is refused; a constant or a one-letter name before '(' multiplies


def test_number_with_leading_point_after_a_name_is_refused():
    with pytest.raises(ParseError) as caught:
        parse_program("x.5")
    assert "'.5'" in str(caught.value)
    with pytest.raises(ParseError):
        grad("x.5", {"x": 2})  # never read as x*0.5 = 1


@pytest.mark.parametrize(
    ("text", "x", "value", "derivative"),
    [
        ("pi(x + 1)", 2.0, math.pi * 3, math.pi),  # pi*(x+1): d/dx = pi
        ("e(x+1)", 2.0, math.e * 3, math.e),  # e*(x+1): d/dx = e
        ("x(3x+1)", 2.0, 2 * 7, 13.0),  # 3x**2 + x: value 14, d/dx = 6x + 1 = 13
    ],
)
def test_constant_or_one_letter_name_before_parenthesis_multiplies(text, x, value, derivative):
    result = grad(text, {"x": x})
    assert result.node(result.output).op == "mul"
    assert result.value == pytest.approx(value, rel=1e-15)
    assert gradient_of(result)["x"] == pytest.approx(derivative, rel=1e-15)


# ---------------------------------------------------------------------------------------------
# 3. Look-alike skeletons, and look-alike option names


@pytest.mark.parametrize(("text", "names"), [("ɑ*a", ("ɑ", "a")), ("ν*v", ("ν", "v")),
                                             ("ν1 + v1", ("ν1", "v1"))])
def test_names_that_look_alike_are_refused_naming_both(text, names):
    with pytest.raises(ParseError) as caught:
        parse_program(text)
    message = str(caught.value)
    for name in names:
        assert repr(name) in message, message
    assert "look alike" in message


def test_names_with_different_skeletons_are_accepted():
    result = grad("ν*w", {"ν": 2, "w": 3})
    assert result.value == 6.0
    assert gradient_of(result) == {"ν": 3.0, "w": 2.0}


@pytest.mark.parametrize("name", ["\uff58", "\u0445"])  # FULLWIDTH x, CYRILLIC ha
def test_look_alike_option_names_are_refused(name):
    line = bad_input("x", f"--{name}", "3")
    assert "look-alike" in line and name in line


# ---------------------------------------------------------------------------------------------
# 4. An undefined value has an undefined derivative


def test_log_of_negative_has_nan_gradient(validator):
    # log(-1) is not a real number. PyTorch would still report d/dx = 1/x = -1; the documented
    # rule here is that the derivatives of an undefined value are undefined too (NaN).
    result = grad("log(x) + 1", {"x": -1})
    assert math.isnan(gradient_of(result)["x"])
    node = flagged(result, "undefined")
    assert node.op == "log"
    downstream = descendants(result, node.id)
    assert downstream
    for other in result.nodes:
        if other.id in downstream:
            assert other.status == "propagated"
    document = grad_json("log(x) + 1", "--x", "-1")
    validator.validate(document)
    assert document["gradient"]["x"] is None
    assert document["nonfinite"]["gradient"] == {"x": "nan"}


# ---------------------------------------------------------------------------------------------
# 5. The status follows the value


@pytest.mark.parametrize(
    ("text", "x", "op", "status"),
    [
        ("log(x, 1)", 2.0, "logb", "infinite"),  # log(2)/log(1) = log(2)/0 = +inf: a pole
        ("erfinv(x)", 1.0, "erfinv", "infinite"),  # erfinv(1) = +inf: a pole
        ("exp(x)", 1000.0, "exp", "overflow"),  # e**1000 ≈ 10**434.3 > DBL_MAX, finite input
    ],
)
def test_status_follows_the_value(text, x, op, status):
    result = grad(text, {"x": x})
    assert result.value == math.inf
    node = flagged(result, status)
    assert node.op == op
    assert node.message


# ---------------------------------------------------------------------------------------------
# 6. An adjoint that overflows is flagged


def test_adjoint_overflow_is_flagged():
    # value: 1e200*(1e200*1e-300) = 1e200*1e-100 = 1e100, finite;
    # d/dx = 1e200*1e200 = 1e400 > DBL_MAX, so +inf.
    result = grad("1e200*(1e200*x)", {"x": 1e-300})
    assert result.value == pytest.approx(1e100, rel=1e-15)
    assert gradient_of(result)["x"] == math.inf
    assert flagged(result, "overflow").op == "mul"
    assert invoke("grad", "1e200*(1e200*x)", "--x", "1e-300").exit_code == 0
    assert invoke("grad", "1e200*(1e200*x)", "--x", "1e-300", "--strict").exit_code == 1


# ---------------------------------------------------------------------------------------------
# 7. max/min: a tie counts only at the chosen end


def test_max_with_a_tie_below_the_maximum_is_not_a_kink():
    # max(3, 1, 1) = 3 is attained by x alone: locally max = x, so the gradient is (1, 0, 0).
    result = grad("max(x, y, z)", {"x": 3, "y": 1, "z": 1})
    assert result.value == 3.0
    assert gradient_of(result) == {"x": 1.0, "y": 0.0, "z": 0.0}
    assert all(n.status == "ok" for n in result.nodes)


def test_min_with_a_tie_at_the_minimum_is_a_kink():
    # min(3, 1, 1) = 1 is attained by y and z: the documented split is 0.5/0.5.
    result = grad("min(x, y, z)", {"x": 3, "y": 1, "z": 1})
    assert result.value == 1.0
    assert gradient_of(result) == {"x": 0.0, "y": 0.5, "z": 0.5}
    assert flagged(result, "kink").op == "min"


def test_max_of_two_tied():
    result = grad("max(x, y)", {"x": 1, "y": 1})
    assert gradient_of(result) == {"x": 0.5, "y": 0.5}
    assert flagged(result, "kink").op == "max"


# ---------------------------------------------------------------------------------------------
# 8. The partial of x/y by y at extreme magnitudes


@pytest.mark.parametrize(("x", "y"), [(1e-300, 1e-200), (1e300, 1e160)])
def test_division_partials_at_extreme_magnitudes(x, y):
    # d/dx (x/y) = 1/y; d/dy (x/y) = -x/y**2. y**2 itself under- or overflows float64 here
    # (1e-400, 1e320), but the partial does not: -1e100 and -1e-20.
    exact_dy = -sp.Rational(x) / sp.Rational(y) ** 2  # the float inputs taken exactly
    exact_dx = 1 / sp.Rational(y)
    result = grad("x/y", {"x": x, "y": y})
    gradient = gradient_of(result)
    assert gradient["y"] == pytest.approx(float(exact_dy), rel=4e-16)
    assert gradient["y"] == pytest.approx(-(x / y) / y, rel=4e-16)
    assert gradient["x"] == pytest.approx(float(exact_dx), rel=4e-16)
    assert all(n.status == "ok" for n in result.nodes)


def test_division_oracles_are_the_expected_magnitudes():
    assert float(-sp.Rational(1, 10**300) / sp.Rational(1, 10**200) ** 2) == -1e100
    assert float(-sp.Integer(10**300) / sp.Integer(10**160) ** 2) == -1e-20


# ---------------------------------------------------------------------------------------------
# 9. The sign of an overflowing pow partial


def test_overflowing_pow_partial_keeps_its_sign():
    # d/dx x**400 = 400*x**399; at x = -10 that is 400*(-10)**399 = -4e401: negative, and
    # beyond DBL_MAX, so -inf. The value (-10)**400 = 1e400 overflows to +inf.
    exact = 400 * (-10) ** 399
    assert exact < 0 and abs(exact) > sys.float_info.max
    result = grad("x**400", {"x": -10})
    assert result.value == math.inf
    assert gradient_of(result)["x"] == -math.inf
    assert flagged(result, "overflow").op == "pow"


# ---------------------------------------------------------------------------------------------
# 10. --check: skipped, failed, too large, timed out


@pytest.mark.parametrize(("text", "x"), [("asin(x)", "1"), ("acos(x)", "1"), ("sinc(x)", "0")])
def test_check_skips_a_non_finite_derivative(text, x, validator):
    # asin'(x) = 1/sqrt(1 - x**2) and acos'(x) = -1/sqrt(1 - x**2) are infinite at 1.
    result = invoke("grad", text, "--x", x, "--check", "--json")
    assert result.exit_code == 0, result.stderr
    document = strict_json(result.stdout)
    validator.validate(document)
    assert document["check"]["status"] == "skipped"
    assert document["check"]["entries"]["x"]["agrees"] is None
    assert document["gradient"]["x"] is None


def test_asin_and_acos_at_one_have_infinite_derivatives():
    assert gradient_of(grad("asin(x)", {"x": 1}))["x"] == math.inf
    assert gradient_of(grad("acos(x)", {"x": 1}))["x"] == -math.inf


def test_check_fails_when_a_partial_is_wrong(monkeypatch):
    # tanh'(1) = 1 - tanh(1)**2 = 0.41997...; an op entry whose partial says 0.5 is caught.
    wrong = dataclasses.replace(ops_module.OPS["tanh"],
                                bind=lambda B: (B.tanh, lambda a, out: 0.5))
    monkeypatch.setitem(ops_module.OPS, "tanh", wrong)
    try:
        result = grad("tanh(x)", {"x": 1}, check=True)
        assert gradient_of(result) == {"x": 0.5}
        assert result.check.status == "failed"
        (name, symbolic, agrees), = result.check.entries
        assert (name, agrees) == ("x", False)
        assert symbolic == pytest.approx(1 - math.tanh(1) ** 2, rel=1e-12)
        cli = invoke("grad", "tanh(x)", "--x", "1", "--check")
        assert cli.exit_code == 1
        assert "✗" in cli.stdout
    finally:  # the wrong op's rule text is cached by op name: later tests must not see it
        from backprop_cli import rules

        rules.rule_tree_templates.cache_clear()
        rules.rule_templates.cache_clear()


def test_check_passes_on_a_large_finite_gradient():
    # d/dx x**70 = 70*x**69 = 7e70 at x = 10: finite, so SymPy's value must be compared.
    exact = 70 * 10**69
    result = grad("x**70", {"x": 10}, check=True)
    assert gradient_of(result)["x"] == float(exact)
    assert result.check.status == "passed", result.check


def test_check_of_an_exponentially_large_tree_is_skipped():
    # a14 = x**(2**14): 15 DAG nodes but 2**15 - 1 nodes as a tree. d/dx = 16384*x**16383.
    program = "a0 = x\n" + "\n".join(f"a{i} = a{i - 1}*a{i - 1}" for i in range(1, 15))
    result = grad(program, {"x": 1.0}, check=True)
    assert gradient_of(result) == {"x": 16384.0}
    assert result.check.status == "skipped"
    assert "too large" in result.check.reason


def test_check_that_sympy_cannot_finish_in_time_is_skipped():
    # 60 polynomial factors: about 1,000 nodes as a tree, but several seconds of sympy.diff
    # and evalf (measured: 5 s), far over the 0.2 s limit.
    text = "*".join(f"(x**{i} + {i}*y + {i + 1})" for i in range(1, 61))
    started = time.monotonic()
    result = grad(text, {"x": 0.3, "y": 0.7}, check=True, check_timeout=0.2)
    assert time.monotonic() - started < 5  # bounded, not a timing measurement
    assert result.check.status == "skipped"
    assert "timed out" in result.check.reason


def test_check_timeout_option_on_the_command_line(monkeypatch):
    from backprop_cli import gradient_check as checks

    def slow(*args):
        time.sleep(30)

    monkeypatch.setattr(checks, "_symbolic_gradient", slow)
    result = invoke("grad", "x*y", "--x", "1", "--y", "2", "--check", "--check-timeout", "0.2",
                    "--json")
    assert result.exit_code == 0, result.stderr
    check = strict_json(result.stdout)["check"]
    assert check["status"] == "skipped"
    assert "timed out" in check["reason"]


# ---------------------------------------------------------------------------------------------
# 11. Exact mode


X, Y = sp.symbols("x y", real=True)
THIRD = sp.Rational(1, 3)


def assert_decimal(decimal: str, oracle, digits: int = 28) -> None:
    got = sp.Float(decimal, 40)
    expected = sp.N(oracle, 40)
    assert abs(got - expected) <= sp.Float(10) ** -digits * abs(expected), (decimal, expected)


def assert_same_number(text: str, oracle) -> None:
    assert sp.simplify(sp.sympify(text) - oracle) == 0, (text, oracle)


def _check_example_exact(exact: dict) -> None:
    # f = x*y + tanh(x) at x = 1/3, y = 2: f = 2/3 + tanh(1/3); df/dx = y + 1 - tanh(x)**2 =
    # 3 - tanh(1/3)**2; df/dy = x = 1/3.
    value = sp.tanh(THIRD) + sp.Rational(2, 3)
    d_x = 3 - sp.tanh(THIRD) ** 2
    assert sp.sympify(exact["value"]["exact"]) == sp.sympify(str(value))
    assert_same_number(exact["value"]["exact"], value)
    assert_same_number(exact["gradient"]["x"]["exact"], d_x)
    assert sp.sympify(exact["gradient"]["y"]["exact"]) == THIRD
    assert_decimal(exact["value"]["decimal"], value)
    assert_decimal(exact["gradient"]["x"]["decimal"], d_x)
    assert_decimal(exact["gradient"]["y"]["decimal"], THIRD)


def test_exact_mode_library():
    result = grad("x*y + tanh(x)", {"x": "1/3", "y": 2}, exact=True, precision=30)
    document = result.to_dict()
    assert document["exact"]["precision"] == 30
    _check_example_exact(document["exact"])
    # the float64 numbers stay as they are
    assert result.value == pytest.approx(2 / 3 + math.tanh(1 / 3), rel=1e-15)


def test_exact_mode_command_line(validator):
    document = grad_json("x*y + tanh(x)", "--x", "1/3", "--y", "2", "--exact", "--precision",
                         "30")
    validator.validate(document)
    _check_example_exact(document["exact"])
    for node in document["nodes"]:
        assert set(node["exact"]["value"]) == {"exact", "decimal"}


def test_exact_mode_keeps_the_kink_conventions():
    # relu'(0) = 0, abs'(0) = 0, and max(x, y, 0) with a three-way tie gives 1/3 to each input.
    result = grad("relu(x) + abs(y) + max(x, y, 0)", {"x": 0, "y": 0}, exact=True)
    gradient = result.to_dict()["exact"]["gradient"]
    assert sp.sympify(gradient["x"]["exact"]) == THIRD
    assert sp.sympify(gradient["y"]["exact"]) == THIRD
    assert gradient_of(result) == pytest.approx({"x": 1 / 3, "y": 1 / 3}, rel=1e-15)


def test_check_exact_shows_the_claims_exact_form():
    result = invoke("check", "x*y + tanh(x)", "--at", "x=1/3,y=2", "--expect", "d/dx=2.8966",
                    "--exact", "--json", "--precision", "30")
    assert result.exit_code == 0, result.stdout + result.stderr
    document = strict_json(result.stdout)
    (item,) = document["items"]
    assert set(item["exact"]) == {"exact", "decimal"}
    d_x = 3 - sp.tanh(THIRD) ** 2
    assert_same_number(item["exact"]["exact"], d_x)
    assert_decimal(item["exact"]["decimal"], d_x)


# ---------------------------------------------------------------------------------------------
# 12. The `parsed` text


def test_parsed_field_makes_products_and_powers_explicit():
    document = grad_json("2x + 3(x+1) + x²", "--x", "2")
    assert document["parsed"] == "2*x + 3*(x + 1) + x**2"
    # 2x + 3(x + 1) + x**2 at 2: 4 + 9 + 4 = 17; d/dx = 2 + 3 + 2x = 9
    assert document["value"] == 17.0
    assert document["gradient"] == {"x": 9.0}


def without_constant_text(tree: tuple) -> tuple:
    """The tree with every constant's text dropped (its value kept)."""
    kind = tree[0]
    if kind == "const":
        return ("const", tree[1])
    if kind in ("var", "ref"):
        return tree
    if kind == "call":
        return ("call", tree[1], tuple(without_constant_text(a) for a in tree[2]))
    return (kind, *(without_constant_text(child) for child in tree[1:]))


ATOMS = ["x", "y", "z", "2", "3", "0.5", "1.5e1", "7.", "pi", "e"]
SUPERSCRIPTS = ["²", "³", "²³", "⁻¹", "¹⁰"]
BINARY_OPS = ["+", "-", "*", "/", "**", "^"]
FORMS = ["atom", "binary", "binary", "binary", "paren", "neg", "sup", "implicit", "call",
         "call2"]


@st.composite
def expressions(draw, depth: int = 5) -> str:
    """Random text of the input grammar: binary operators, parentheses, unary minus,
    superscripts, implicit products and calls, nested up to `depth` levels."""
    form = "atom" if depth == 0 else draw(st.sampled_from(FORMS))
    if form == "atom":
        return draw(st.sampled_from(ATOMS))
    inner = expressions(depth - 1)
    if form == "binary":
        return f"{draw(inner)} {draw(st.sampled_from(BINARY_OPS))} {draw(inner)}"
    if form == "paren":
        return f"({draw(inner)})"
    if form == "neg":
        return f"-{draw(inner)}"
    if form == "sup":
        return draw(inner) + draw(st.sampled_from(SUPERSCRIPTS))
    if form == "implicit":
        # the right operand is a parenthesis or a one-letter name, so never two numbers in a row
        right = draw(st.one_of(inner.map(lambda a: f"({a})"), st.sampled_from("xyz")))
        return f"{draw(inner)} {right}"
    if form == "call":
        return f"{draw(st.sampled_from(['sin', 'exp', 'tanh', 'sqrt']))}({draw(inner)})"
    return f"{draw(st.sampled_from(['max', 'log']))}({draw(inner)}, {draw(inner)})"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_parsed_text_reparses_to_the_same_tree(text):
    program = parse_program(text)
    printed = format_program(program)
    again = parse_program(printed)
    original = program.statements[0].tree
    assert without_constant_text(again.statements[0].tree) == without_constant_text(original), (
        text, printed)
    assert format_program(again) == printed


# ---------------------------------------------------------------------------------------------
# 13. Command-line polish


@pytest.mark.parametrize(("option", "value", "suggestion"),
                         [("--digts", "3", "--digits"), ("--fromat", "json", "--format")])
def test_misspelt_option_is_refused_with_a_suggestion(option, value, suggestion):
    line = bad_input("x", "--x", "1", option, value)
    assert f"did you mean {suggestion}" in line


def test_misspelt_command_is_one_line(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["grd", "x"])
    assert caught.value.code == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert line.count("grad") == 1, line
    assert captured.out == ""


@pytest.mark.parametrize("format_args", [["--format", "json"], ["--format=json"]])
def test_usage_error_with_format_json_prints_an_error_document(capsys, validator, format_args):
    with pytest.raises(SystemExit) as caught:
        main(["grad", "x", "--x", "1", *format_args, "--digits", "abc"])
    assert caught.value.code == 2
    captured = capsys.readouterr()
    document = strict_json(captured.out)
    validator.validate(document)
    assert document["ok"] is False
    assert document["error"]["code"] == "usage_error"
    assert "--digits" in one_error_line(captured.err)


def test_decimal_comma_is_explained():
    assert "decimal point" in bad_input("x", "--x", "1,5")


def test_file_with_a_byte_order_mark(tmp_path):
    program = tmp_path / "bom.bp"
    program.write_bytes(b"\xef\xbb\xbf" + "h = x*y\nout = h + x²\n".encode())
    document = grad_json("--file", str(program), "--x", "3", "--y", "2")
    # out = x*y + x**2 at (3, 2): 6 + 9 = 15; d/dx = y + 2x = 8; d/dy = x = 3
    assert document["value"] == 15.0
    assert document["gradient"] == {"x": 8.0, "y": 3.0}


def test_standard_input_that_is_not_utf8():
    result = invoke("grad", "--file", "-", "--x", "1", input=b"x*\xff\xfe2")
    assert result.exit_code == 2
    assert "not UTF-8" in one_error_line(result.stderr)
    assert result.stdout == ""


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_writing_to_a_full_device(extra):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        process = subprocess.run([backprop_command(), "grad", "x*y", "--x", "1", "--y", "2",
                                  *extra], stdout=full, stderr=subprocess.PIPE, text=True,
                                 timeout=60)
    assert process.returncode == 2
    line = one_error_line(process.stderr)
    assert "write" in line


def test_warnings_go_to_stderr_in_table_mode():
    result = invoke("grad", "log(x) + 1", "--x", "-1")
    assert result.exit_code == 0
    assert "warning" not in result.stdout
    assert re.search(r"^warning: .*log", result.stderr, re.MULTILINE), result.stderr


def test_large_program_table_shows_the_gradient_and_a_note():
    # a0 = x, a_i = a_(i-1)*x + 1: nodes x, a0 (id), the constant 1, and a mul and an add per
    # statement: 3 + 2*299 = 601. a_n = x**(n+1) + (1 - x**n)/(1 - x), so at x = 0.5 the
    # derivative is 1/(1 - x)**2 = 4 up to terms of order 300*0.5**298.
    program = "a0 = x\n" + "\n".join(f"a{i} = a{i - 1}*x + 1" for i in range(1, 300))
    result = invoke("grad", program, "--x", "0.5")
    assert result.exit_code == 0, result.stderr
    assert "601 nodes" in result.stdout
    assert "400" in result.stdout and "--json" in result.stdout
    assert "Forward pass" not in result.stdout
    gradient_part = result.stdout.split("Gradient", 1)[1]
    match = re.search(r"^\s*x\s+(\S+)\s*$", gradient_part, re.MULTILINE)
    assert match, result.stdout
    assert float(match.group(1)) == pytest.approx(4.0, rel=1e-5)


def test_constant_node_id_is_its_literal_text():
    result = grad("1e-7*x", {"x": 3})
    constant = result.node("1e-7")
    assert constant.op == "const"
    assert constant.value == 1e-7
    assert gradient_of(result) == {"x": 1e-7}


# ---------------------------------------------------------------------------------------------
# 14. Node limit


def test_more_than_half_a_million_nodes_is_refused():
    # 560 statements of 900 products each: 560*900 > 500,000 nodes (each product is new).
    body = "*x" * 900
    program = "a0 = x\n" + "\n".join(f"a{i} = a{i - 1}{body}" for i in range(1, 560))
    with pytest.raises(LimitError) as caught:
        grad(program, {"x": 1.0})
    assert "500,000" in str(caught.value)


def test_node_limit_boundary(monkeypatch):
    # x, then 500 products ending in a, then 500 more ending in b: 1 + 500 + 500 = 1001 nodes.
    program = "a = x" + "*x" * 500 + "\nb = a" + "*x" * 500
    monkeypatch.setattr(graph_module, "MAX_NODES", 1001)
    result = grad(program, {"x": 1.0})
    assert len(result.nodes) == 1001
    # b = x**1001: d/dx = 1001 at x = 1
    assert gradient_of(result) == {"x": 1001.0}
    monkeypatch.setattr(graph_module, "MAX_NODES", 1000)
    with pytest.raises(LimitError):
        grad(program, {"x": 1.0})


# ---------------------------------------------------------------------------------------------
# 15. SymPy fallbacks


def _fallback_against_sympy(text: str, expression, symbols, values) -> None:
    at = {s.name: v for s, v in zip(symbols, values, strict=True)}
    result = grad(text, at)
    assert all(n.status == "ok" for n in result.nodes), result.nodes
    assert close(result.value, at_point(expression, symbols, values), RTOL_SYMPY, ATOL_SYMPY)
    gradient = gradient_of(result)
    for symbol in symbols:
        expected = at_point(sp.diff(expression, symbol), symbols, values)
        assert close(gradient[symbol.name], expected, RTOL_SYMPY, ATOL_SYMPY), (symbol, expected)
        difference = central_difference(text, at, symbol.name)
        assert close(gradient[symbol.name], difference, RTOL_FD, ATOL_FD), (symbol, difference)


def test_factorial_at_an_integer():
    result = grad("factorial(x)", {"x": 3})
    assert result.value == pytest.approx(6.0, rel=1e-15)
    # d/dx Γ(x + 1) = Γ(x + 1)ψ(x + 1); at 3: 6*(1 + 1/2 + 1/3 - γ)
    expected = 6 * (1 + 1 / 2 + 1 / 3 - float(sp.EulerGamma.evalf(30)))
    assert gradient_of(result)["x"] == pytest.approx(expected, rel=1e-12)
    _fallback_against_sympy("factorial(x)", sp.factorial(X), (X,), (3.0,))


def test_factorial_at_a_half_is_gamma_three_halves():
    result = grad("factorial(x)", {"x": 0.5})
    assert result.value == pytest.approx(math.sqrt(math.pi) / 2, rel=1e-14)
    _fallback_against_sympy("factorial(x)", sp.factorial(X), (X,), (0.5,))


def test_beta_and_both_partials():
    _fallback_against_sympy("beta(x, y)", sp.beta(X, Y), (X, Y), (1.5, 2.5))
    # B(3/2, 5/2) = Γ(3/2)Γ(5/2)/Γ(4) = (√π/2)(3√π/4)/6 = π/16
    assert grad("beta(x, y)", {"x": 1.5, "y": 2.5}).value == pytest.approx(math.pi / 16,
                                                                           rel=1e-14)


def test_lambert_w():
    _fallback_against_sympy("LambertW(x)", sp.LambertW(X), (X,), (0.7,))
    # W(x)*exp(W(x)) = x, and W'(x) = W/(x(1 + W))
    result = grad("LambertW(x)", {"x": 0.7})
    w = result.value
    assert w * math.exp(w) == pytest.approx(0.7, rel=1e-14)
    assert gradient_of(result)["x"] == pytest.approx(w / (0.7 * (1 + w)), rel=1e-12)


def test_polygamma_with_a_constant_order():
    _fallback_against_sympy("polygamma(1, x)", sp.polygamma(1, X), (X,), (1.7,))


def test_polygamma_order_is_not_differentiable():
    result = grad("polygamma(n, x)", {"n": 1, "x": 1.7})
    node = flagged(result, "nondifferentiable")
    assert node.op.startswith("polygamma")
    assert "SymPy knows no derivative" in node.message
    gradient = gradient_of(result)
    assert math.isnan(gradient["n"])
    assert result.value == pytest.approx(at_point(sp.polygamma(1, X), (X,), (1.7,)), rel=1e-12)
    # the partial by x is still known: d/dx polygamma(1, x) = polygamma(2, x)
    assert gradient["x"] == pytest.approx(at_point(sp.polygamma(2, X), (X,), (1.7,)),
                                          rel=RTOL_SYMPY)


def test_airy_function_value_works_and_its_derivative_is_flagged(validator):
    result = grad("airyai(x)", {"x": 0.7})
    assert result.value == pytest.approx(at_point(sp.airyai(X), (X,), (0.7,)), rel=RTOL_SYMPY)
    assert flagged(result, "nondifferentiable").op == "airyai"
    assert math.isnan(gradient_of(result)["x"])
    document = grad_json("airyai(x)", "--x", "0.7")
    validator.validate(document)
    assert document["nonfinite"]["gradient"] == {"x": "nan"}


def test_floor_is_refused():
    line = bad_input("floor(x)", "--x", "1.5")
    assert "floor" in line


# ---------------------------------------------------------------------------------------------
# 15. One definition per op: the wrong answers that rule strings gave


X_SYMBOL = sp.Symbol("x", real=True)
Y_SYMBOL = sp.Symbol("y", real=True)


def hessian_json(*args: str) -> dict:
    result = invoke("hessian", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return strict_json(result.stdout)


def sympy_at(expression, **point: float) -> float:
    values = {sp.Symbol(k, real=True): sp.Float(v, 40) for k, v in point.items()}
    return float(sp.N(expression.xreplace(values), 30))


@pytest.mark.parametrize(("text", "x", "expression"), [
    ("atan2(-0.066, x)", 2.3, sp.atan2(sp.Rational("-0.066"), X_SYMBOL)),
    ("atan2(x, -0.5)", 1.7, sp.atan2(X_SYMBOL, sp.Rational("-0.5"))),
])
def test_hessian_of_atan2_with_a_negative_constant(text, x, expression):
    document = hessian_json("--at", f"x={x}", "--", text)
    expected = sympy_at(sp.diff(expression, X_SYMBOL, 2), x=x)
    # The figures: -0.0108312 (it printed -0.0108669) and 0.1724 (it printed 0.2439).
    assert document["hessian"][0][0] == pytest.approx(expected, rel=1e-12)


def test_hessian_of_atan2_times_y_is_right_and_symmetric():
    document = hessian_json("--at", "x=0.3,y=1.2", "--", "atan2(-0.5, x)*y")
    matrix = sp.hessian(sp.atan2(sp.Rational("-0.5"), X_SYMBOL) * Y_SYMBOL,
                        (X_SYMBOL, Y_SYMBOL))
    got = document["hessian"]
    assert got[0][1] == got[1][0]
    for i in range(2):
        for j in range(2):
            assert got[i][j] == pytest.approx(sympy_at(matrix[i, j], x=0.3, y=1.2), rel=1e-12,
                                              abs=1e-15)


def test_rule_with_a_negative_constant_is_parenthesized_in_table_json_and_explain():
    # d/dx atan2(-0.066, x) = 0.066/((-0.066)**2 + x**2); pasted without parentheses it read
    # -0.066**2 = -(0.066**2).
    document = grad_json("--x", "2.3", "atan2(-0.066, x)")
    (edge,) = [e for node in document["nodes"] for e in node["inputs"] if e["rule"]]
    assert "(-0.066)**2" in edge["rule"]
    assert edge["local"] == pytest.approx(0.066 / (0.066**2 + 2.3**2), rel=1e-12)
    table = invoke("grad", "atan2(-0.066, x)", "--x", "2.3").stdout
    assert "(-0.066)²" in table
    explained = invoke("explain", "atan2(-0.066, x)", "--x", "2.3").stdout
    assert "(-0.066)²" in explained
    latex = invoke("explain", "atan2(-0.066, x)", "--x", "2.3", "--format", "latex").stdout
    assert r"\left(-0.066\right)^{2}" in latex


def test_an_entry_whose_rule_branches_cannot_be_traced():
    """A rule written with Python's `if` on a value would once have become a constant in the
    Hessian; now tracing it fails, so the generated tests fail for such an entry."""
    from backprop_cli.backends.trace import Rules, Traced, partials_of

    branching = dataclasses.replace(
        ops_module.OPS["relu"],
        bind=lambda B: (lambda a: a, lambda a, out: 1.0 if a > 0 else 0.0))
    rules = Rules()
    x = Traced(rules, ("var", "x"))
    with pytest.raises(TypeError, match="branched"):
        partials_of(rules, branching, [x], rules.apply("relu", (x,)))


def test_hessian_of_x_to_the_zero_at_zero_is_zero():
    document = hessian_json("--at", "x=0", "--", "x**0")
    # x**0 is the constant 1 (0**0 = 1 by convention), so every derivative is 0.
    assert document["hessian"] == [[0.0]]
    assert "nonfinite" not in document


def test_x_to_the_minus_one_at_minus_zero_is_minus_infinity():
    # IEEE 754: pow(-0, -1) = -inf; d/dx x**(-1) = -x**(-2) = -inf there too. 1/x agrees.
    document = grad_json("--at", "x=-0.0", "x**(-1)")
    assert document["value"] is None and document["nonfinite"]["value"] == "-inf"
    assert document["nonfinite"]["gradient"] == {"x": "-inf"}
    quotient = grad_json("--at", "x=-0.0", "1/x")
    assert quotient["nonfinite"]["value"] == "-inf"


def test_hessian_jacobian_and_forward_label_non_finite_numbers():
    hessian_document = hessian_json("--at", "x=0", "--", "sqrt(x)*x")
    assert "nonfinite" in hessian_document
    labels = hessian_document["nonfinite"]["hessian"]
    assert labels[0][0] in ("inf", "-inf", "nan") and hessian_document["hessian"][0][0] is None
    result = invoke("jacobian", "--json", "--at", "x=0", "--", "a = log(x); b = x; a, b")
    jacobian_document = strict_json(result.stdout)
    assert jacobian_document["jacobian"][0][0] is None
    assert jacobian_document["nonfinite"]["jacobian"][0][0] == "inf"
    assert jacobian_document["nonfinite"]["jacobian"][1][0] is None
    result = invoke("forward", "--json", "--at", "x=0", "--", "sqrt(x)")
    forward_document = strict_json(result.stdout)
    assert forward_document["derivative"] is None
    assert forward_document["nonfinite"]["derivative"] == "inf"
    assert forward_document["nonfinite"]["tangents"] == {"z2": "inf"}


# ---------------------------------------------------------------------------------------------
# 16. Review of the redesign: ops, modes and the command line


def test_elu_with_a_negative_alpha_is_piecewise():
    # elu(x, a) = x for x > 0, else a*(exp(x) - 1) (PyTorch's definition), for any a.
    assert grad("elu(x, -1)", {"x": 1}).value == 1.0
    result = grad("elu(x, -1)", {"x": -1}, check=True)
    assert result.value == pytest.approx(-(math.exp(-1) - 1), rel=1e-15)
    assert dict(result.gradient)["x"] == pytest.approx(-math.exp(-1), rel=1e-15)
    assert result.check.status == "passed"


def test_leaky_relu_hessian_at_its_kink_is_symmetric():
    # At x = 0 the convention takes the x <= 0 branch, a*x: d2/dx da = 1, both ways.
    document = hessian_json("--at", "x=0,a=0.2", "--", "leaky_relu(x, a)")
    assert document["hessian"] == [[0.0, 1.0], [1.0, 0.0]]


@pytest.mark.parametrize(("text", "at"), [("y*sqrt(abs(x))", "x=0,y=2"),
                                          ("relu(x)*sqrt(y)", "x=-1,y=0")])
def test_zero_times_infinity_is_nan_on_both_sides_of_the_hessian(text, at):
    labels = hessian_json("--at", at, "--", text)["nonfinite"]["hessian"]
    assert labels[0][1] == labels[1][0] == "nan"


def test_hessian_row_of_an_unknown_partial_is_nan():
    # SymPy knows no derivative of besseli by its order: the order's row cannot be 0.
    document = hessian_json("--at", "x=1,y=1.5", "--", "besseli(y, x)")
    assert document["variables"] == ["y", "x"]
    assert document["nonfinite"]["hessian"][0] == ["nan", "nan"]
    expected = sympy_at(sp.diff(sp.besseli(Y_SYMBOL, X_SYMBOL), X_SYMBOL, 2), x=1, y=1.5)
    assert document["hessian"][1][1] == pytest.approx(expected, rel=1e-9)


def test_forward_and_reverse_agree_where_zero_meets_infinity():
    # sqrt(relu(x)) at x = -1: relu' = 0 times sqrt'(0) = inf is NaN in both modes (IEEE).
    assert math.isnan(dict(grad("sqrt(relu(x))", {"x": -1}).gradient)["x"])
    result = invoke("forward", "--json", "--at", "x=-1", "--", "sqrt(relu(x))")
    assert strict_json(result.stdout)["nonfinite"]["derivative"] == "nan"


def test_sweep_and_exact_mode_mask_undefined_nodes_as_grad_does():
    # log(x)**0 + x at x = -1: log is undefined there, so is every derivative through it.
    assert math.isnan(dict(grad("log(x)**0 + x", {"x": -1}).gradient)["x"])
    result = invoke("sweep", "--format", "csv", "--x", "-2:0", "--points", "3", "--",
                    "log(x)**0 + x")
    assert result.stdout.splitlines()[2] == "-1.0,0.0,"
    exact = strict_json(invoke("grad", "--json", "--exact", "--at", "x=-1", "--",
                               "log(x)**0 + x").stdout)
    assert exact["exact"]["gradient"]["x"]["decimal"] == "nan"


def test_exact_mode_never_turns_a_complex_number_into_a_real_one():
    # log(1)/log(-1): float64 says undefined; SymPy alone would say 0/(i*pi) = 0.
    document = strict_json(invoke("grad", "--json", "--exact", "--at", "x=1,y=-1", "--",
                                  "log(x, y)").stdout)
    assert document["exact"]["value"]["decimal"] == "nan"
    origin = strict_json(invoke("grad", "--json", "--exact", "--at", "x=0,y=0", "--",
                                "atan2(y, x)").stdout)
    assert origin["value"] == 0.0 and origin["exact"]["value"]["decimal"] == "0"


def test_logaddexp_of_two_minus_infinities_is_minus_infinity():
    # log(exp(-inf) + exp(-inf)) = log(0) = -inf (NumPy's logaddexp agrees).
    document = grad_json("--x", "0", "--y", "0", "logaddexp(log(x), log(y))")
    assert document["nonfinite"]["value"] == "-inf"


def test_sweep_names_a_missing_variable():
    line = one_error_line(invoke("sweep", "x*y", "--x", "-1:3").stderr)
    assert "missing value for variable 'y'" in line


@pytest.mark.parametrize(("args", "hint"), [
    (("grad", "x*w1", "--x", "1", "--W1", "2"),
     "(a value was given for W1: names are case-sensitive)"),
    (("grad", "x*w1", "--x", "1", "--at", "W1=2"),
     "(a value was given for W1: names are case-sensitive)"),
    (("grad", "x*sigma", "--x", "1", "--sigmo", "2"),
     "(a value was given for sigmo: is it a misspelling of sigma?)"),
    (("sweep", "x*w1", "--x", "0:1", "--W1", "2"), "(a value was given for W1"),
    (("train", "L = (w1 - 3)**2", "--W1", "2"), "(a value was given for W1"),
    (("grad", "x*w1*w2", "--x", "1", "--W2", "2"), "(a value was given for W2"),
    (("grad", "xy + 1", "--x", "1", "--y", "2"),
     "(for the product write x*y: a name is one variable)"),
    (("grad", "wxb", "--w", "1", "--x", "2", "--b", "3", "--wx", "4"),
     "(for the product write wx*b: a name is one variable)"),
])
def test_a_missing_variable_points_at_the_look_alike_that_was_given(args, hint):
    """`--W1 2` for w1 said only "missing value for variable 'w1'" (found in a trial)."""
    line = one_error_line(invoke(*args).stderr)
    assert line.startswith("error: missing value") and hint in line


def test_a_batch_line_missing_a_variable_is_told_to_give_it_in_at(tmp_path):
    """A batch row said "give it as --y VALUE": a batch line's values are its "at" object."""
    batch = tmp_path / "b.jsonl"
    batch.write_text('{"id": "a", "expr": "x*y", "at": {"x": 1}, "expect": ["d/dx=2"]}\n'
                     '{"id": "b", "expr": "x*w1", "at": {"x": 1, "W1": 2}, "expect": '
                     '["d/dx=2"]}\n')
    rows = [strict_json(line) for line in invoke("check", "--batch", str(batch),
                                                  "--json").stdout.splitlines()]
    assert [row["error"]["message"] for row in rows] == [
        "missing value for variable 'y': give it in the line's \"at\" object, as "
        "\"at\": {\"y\": VALUE}",
        "missing value for variable 'w1': give it in the line's \"at\" object, as "
        "\"at\": {\"w1\": VALUE} (a value was given for W1: names are case-sensitive)"]
    batch.write_text('{"expr": "σ(x)", "at": {"x": 1}, "expect": ["d/dx=1"]}\n')
    row = strict_json(invoke("check", "--batch", str(batch), "--json").stdout)
    assert row["error"]["message"].endswith("σ(x) is read as σ·(x): for the function write "
                                            "sigmoid(x)")


@pytest.mark.parametrize(("text", "derivative", "warned"), [
    ("1/2x", 0.5, "'/2x' divides by 2 only, then multiplies by x"),
    ("1/2 (x + 1)", 0.5, "'/2 (...)' divides by 2 only, then multiplies by (...)"),
    ("3/2sin(x)", 1.5 * math.cos(2.0), "to divide by both write /(2*sin(...))"),
    ("1/2*x", 0.5, None), ("x/2", 0.5, None), ("1/(2x)", -0.125, None),
    ("a = x/2  # the half, 1/2x\na", 0.5, None),
    ("1/2e-1x", 5.0, "'/2e-1x' divides by 2e-1 only, then multiplies by x"),
    ("x/2e3", 0.0005, None)])
def test_a_number_after_a_division_that_multiplies_what_follows_is_pointed_out(
        text, derivative, warned):
    """`1/2x` is (1/2)·x (SymPy's implicit multiplication reads it so too), where a student
    may mean 1/(2x): a classic trap, found in a new user's trial."""
    document = grad_json(text, "--x", "2")
    assert math.isclose(document["gradient"]["x"], derivative, rel_tol=1e-12)
    said = [w for w in document["warnings"] if "divides by" in w]
    assert (said == []) if warned is None else (len(said) == 1 and warned in said[0])


@pytest.mark.parametrize("args", [
    ("sweep", "1/2x*y", "--x", "0:1", "--y", "1", "--points", "2", "--json"),
    ("forward", "1/2x*y", "--x", "1", "--y", "1", "--wrt", "x", "--json"),
    ("forward", "sum(1/2x)", "--x", "[1, 2]", "--direction", "x=[1, 0]", "--json"),
    ("hessian", "1/2x*y", "--x", "1", "--y", "1", "--json"),
    ("hessian", "sum(1/2x*x)", "--x", "[1, 2]", "--json"),
    ("jacobian", "1/2x*y", "--x", "1", "--y", "1", "--json"),
    ("jacobian", "sum(1/2x)", "--x", "[1, 2]", "--json"),
    ("fd", "1/2x*y", "--x", "1", "--y", "1", "--wrt", "x", "--json"),
    ("train", "(1/2x - 1)**2", "--x", "0", "--steps", "1", "--json"),
    ("graph", "1/2x*y", "--format", "dot"),
    ("generate", "1/2x*w", "--range", "w=0:1", "--x", "1", "--students", "a", "--salt", "s",
     "--json")])
def test_every_command_points_out_1_over_2x(args):
    """Only grad, explain and check did: a sweep or a Hessian of `1/2x` meant as 1/(2x) was
    drawn or computed for (1/2)·x without a word."""
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    warned = "'/2x' divides by 2 only, then multiplies by x"
    if "--json" in args and args[0] != "generate":  # the document carries it, as grad's does
        assert sum(warned in w for w in strict_json(result.stdout)["warnings"]) == 1
    else:
        assert sum(warned in line for line in result.stderr.splitlines()) == 1


@pytest.mark.parametrize(("args", "missing"), [
    (("x*w1", "--x", "1", "--w2", "2"), "w1"),
    # a name the program uses is no look-alike: theta2, W and a, b have their own values
    (("theta1*x + theta2", "--x", "1", "--theta2", "1"), "theta1"),
    (("W*w", "--W", "2"), "w"), (("a*b*ab", "--a", "1", "--b", "2"), "ab")])
def test_a_missing_variable_without_a_look_alike_has_no_hint(args, missing):
    line = one_error_line(invoke("grad", *args).stderr)
    assert line.endswith(f"give it as --{missing} VALUE or --at {missing}=VALUE")


def test_sweep_json_labels_non_finite_points():
    document = strict_json(invoke("sweep", "sqrt(x)", "--x", "0:1", "--points", "2",
                                  "--json").stdout)
    assert document["derivative"] == [None, 0.5]
    assert document["nonfinite"]["derivative"] == ["inf", None]


@pytest.mark.parametrize(("args", "words"), [
    (["grad", "--x", "1", "--y", "2", "--", "x*y", "--json"], "comes after '--'"),
    (["grad", "x", "--x", "1", "--wrt", "x"], "not an option of backprop grad"),
    (["grad", "x", "--x", "1", "--points", "10"], "--at points=VALUE"),
    (["grad", "x*y", "--jsno", "--x", "1", "--y", "2"], "unknown option --jsno (did you mean"),
])
def test_options_in_the_wrong_place_are_named(args, words):
    result = invoke(*args)
    assert result.exit_code == 2
    assert words in one_error_line(result.stderr)


def test_a_variable_named_like_another_commands_option_still_works():
    assert grad_json("--points", "10", "points*2")["gradient"] == {"points": 2.0}


def test_warnings_are_one_line_each_even_when_long():
    result = invoke("grad", "leaky_relu(x, 0.2) + 0*aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    "--x", "0", "--aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1")
    assert result.exit_code == 0
    kinks = [line for line in result.stderr.splitlines() if "kink" in line]
    assert len(kinks) == 1 and kinks[0].endswith("(PyTorch convention)")


def test_error_carried_forward_ignores_statements_that_do_not_reach_the_output():
    # b = x*y at (2, 0); the student wrote x = 3, so their y adjoint 3 (= x) follows from it.
    # The unused statement a = log(y), with log'(0) = inf, must not turn that into NaN.
    from backprop_cli.grading import TableRow, check_table, evaluate_program

    graph, result = evaluate_program("a = log(y)\nb = x*y", {"x": 2.0, "y": 0.0})
    rows = [TableRow("x", 3.0, None, 0, 0), TableRow("y", None, 3.0, 0, 0)]
    items = {item.label: item for item in check_table(graph, result, rows)}
    assert items["x"].details["value"].get("root_cause") is True
    assert items["y"].details["adjoint"].get("consistent") is True


# From a new user's trial of the array commands (an ML learner's path)
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "samples"
NETWORK = [f"--file={SAMPLE_DIR / 'network_51.bp'}", f"--data={SAMPLE_DIR / 'points_51.csv'}",
           f"--values={SAMPLE_DIR / 'network_51.json'}"]


def test_a_sweep_without_a_range_names_the_values_without_printing_arrays():
    """The message held every array and data column printed by NumPy (2,000 characters)."""
    line = one_error_line(invoke("sweep", *NETWORK).stderr)
    assert line == ("error: give the variable to sweep a range START:STOP, e.g. --b2 -3:3 "
                    "(--W1, --b1, --W2, --b2 have values, not ranges)")


def test_a_range_of_arrays_is_refused_as_a_range():
    line = one_error_line(invoke("sweep", "L = sum(v*a)", "--v", "[1,2]", "--a",
                                 "[1,2]:3").stderr)
    assert line == ("error: --a '[1,2]:3': a range's ends are numbers: a sweep moves one "
                    "scalar variable")


@pytest.mark.parametrize(("option", "said"), [
    ("--W1", "--W1 replaces 'W1', a (2, 1) array from --values, with one number"),
    ("--x", "--x replaces the data column 'x' (51 rows) with one number")])
def test_a_number_replacing_a_files_array_is_warned_of(option, said):
    result = invoke("sweep", *NETWORK, option, "-1:1", "--points", "3", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert f"warning: {said}" in result.stderr.splitlines()


def test_forward_mode_counts_parameters_not_data_as_inputs():
    # W1 (2, 1), b1 (2, 1), W2 (1, 2), b2: 7 elements; the 51 rows of x and y are data
    result = invoke("forward", *NETWORK, "--wrt", "b2")
    assert "7 inputs): forward mode needs 7 sweeps" in " ".join(result.stdout.split())


@pytest.mark.parametrize(("args", "said"), [
    (("hessian", *NETWORK, "--wrt", "W1[0,0]"),
     "--wrt 'W1[0,0]': give the whole variable, --wrt W1 (the Hessian's rows are its every "
     "element)"),
    (("forward", "x*y", "--x", "1", "--y", "2", "--direction", ""),
     "--direction is empty: give NAME=VALUE pairs, e.g. --direction x=1,y=0.5"),
    (("forward", "x*y", "--x", "1", "--y", "2", "--direction", "x=1,x=2"),
     "--direction gives 'x' twice; give it once"),
    (("jacobian", "a = x*y; b = x + y", "--x", "1", "--y", "2", "--output", "a,a"),
     "--output names 'a' twice; give it once"),
    (("train", "(w - 1)**2", "--w", "0", "--params", ""),
     "--params names nothing; give NAME,NAME,... or leave it out"),
    (("hessian", "x*y", "--x", "1", "--y", "2", "--wrt", ","),
     "--wrt names nothing; give NAME,NAME,... or leave it out")])
def test_lists_and_directions_that_say_nothing_or_twice_are_refused(args, said):
    """Each was taken silently: an empty direction gave 0, a repeated name kept the last,
    an output twice gave a row twice, and --params "" trained every variable."""
    assert one_error_line(invoke(*args).stderr) == f"error: {said}"


def test_the_readmes_direction_for_the_network_is_its_directional_derivative():
    gradient = strict_json(invoke("grad", *NETWORK, "--json").stdout)["gradient"]
    expected = 0.1 * gradient["W1"][0][0] - 0.2 * gradient["W1"][1][0] + gradient["b2"]
    document = strict_json(invoke("forward", *NETWORK, "--direction",
                                  "W1=[[0.1], [-0.2]],b2=1", "--json").stdout)
    assert math.isclose(document["derivative"], expected, rel_tol=1e-12)
    assert f"{expected:.6g}" == "-0.736656"


@pytest.mark.parametrize(("args", "name"), [
    (("grad", "L = tanh(x) + 1", "--x", "1", "--tanh", "0.9"), "tanh"),
    (("grad", "exp = x*2; L = exp(x)", "--x", "1"), "exp"),
    (("sweep", "gamma(x)", "--x", "1:2", "--gamma", "2", "--points", "2", "--format", "csv"),
     "gamma")])
def test_a_function_called_by_a_name_that_has_a_value_is_warned_of(args, name):
    """A value, column or statement named like a function turned `exp(w*y)` into exp·(w*y)
    without a word (README: names you define win)."""
    said = [line for line in invoke(*args).stderr.splitlines()
            if f"so {name}(...) multiplies by it" in line]
    assert len(said) == 1


def test_a_data_column_named_like_a_function_multiplies(tmp_path):
    (tmp_path / "d.csv").write_text("exp,y\n1,2\n3,4\n")
    document = strict_json(invoke("grad", "L = sum(exp(w*y))", "--w", "1", "--data",
                                  str(tmp_path / "d.csv"), "--json").stdout)
    assert document["value"] == 1 * 2 + 3 * 4  # exp·(w·y), the column times w·y
    assert any("rather than calling the function exp" in w for w in document["warnings"])
    plain = strict_json(invoke("grad", "L = exp(x)", "--x", "1", "--json").stdout)
    assert not any("calling the function" in w for w in plain["warnings"])


@pytest.mark.parametrize(("program", "warned"), [
    ("L = 2exp(w*y)", True),             # a number before the name: still the name
    ("# uses exp(y)\nL = w*exp", False),  # a comment is not code
    ("L = w*myexp(y)", False)])           # a longer name is another name
def test_a_shadowed_function_is_looked_for_in_code_and_whole_names(program, warned):
    result = invoke("grad", program, "--w", "1", "--y", "2", "--exp", "3", "--myexp", "1")
    assert result.exit_code == 0, result.stderr
    assert ("so exp(...) multiplies by it" in result.stderr) == warned


# ---------------------------------------------------------------------------------------------
# From a new user's trial of the modes (explain, graph, forward, hessian, jacobian, fd)


def test_a_sympy_function_real_through_complex_arithmetic_is_real():
    """besseli(-1, -0.5) = -0.2578943...: mpmath reaches it with a -8e-26j residue, and the
    node was `undefined` (NaN), its Hessian null without a warning. Oracle: mpmath's own
    numerical differentiation of the real part."""
    import mpmath

    def real(f):
        return lambda t: mpmath.re(f(t))

    i_minus_1, i_1 = (lambda t: mpmath.besseli(-1, t)), (lambda t: mpmath.besseli(1, t))
    result = grad("besseli(-1, x)", {"x": -0.5})
    assert result.value == pytest.approx(float(real(i_minus_1)(-0.5)), rel=1e-14)
    assert dict(result.gradient)["x"] == pytest.approx(
        float(mpmath.diff(real(i_minus_1), -0.5)), rel=1e-12)
    document = strict_json(invoke("hessian", "besseli(1, x)", "--x", "-0.5", "--json").stdout)
    assert document["hessian"][0][0] == pytest.approx(
        float(mpmath.diff(real(i_1), -0.5, 2)), rel=1e-10)
    assert math.isnan(grad("besselj(0.5, x)", {"x": -1.0}).value)  # truly complex: still NaN


def test_explain_of_a_program_without_variables_is_refused():
    """It printed empty Reverse sweep and Gradient sections and exited 0."""
    result = invoke("explain", "2*3")
    assert result.exit_code == 2
    assert one_error_line(result.stderr) == ("error: the program has no variables: there is no "
                                             "chain rule to write out (backprop grad shows its "
                                             "value)")


@pytest.mark.parametrize(("args", "said"), [
    (("hessian", "2*3 + sin(1)"), "its Hessian has no rows"),
    (("hessian", "sum([1, 2]*3)"), "its Hessian has no rows"),
    (("jacobian", "2*3"), "its Jacobian has no columns"),
    (("jacobian", "[1, 2]*2"), "its Jacobian has no columns")])
def test_a_matrix_of_a_program_without_variables_is_refused(args, said):
    """They printed an empty, broken table and exited 0, where forward and fd refuse."""
    result = invoke(*args)
    assert result.exit_code == 2
    assert one_error_line(result.stderr) == (
        f"error: the program has no variables to differentiate: {said}")


@pytest.mark.parametrize(("text", "x", "status"), [
    ("log(x)", 1e-310, "overflow"),  # d/dx = 1/x = 1e310, beyond float64's 1.8e308
    ("1/x", 1e-200, "overflow"),  # d/dx = -1/x^2 = -1e400
    ("asin(x)", 1.0, "nondifferentiable"),  # 1/sqrt(1 - x^2): no finite value at 1
    ("atanh(x) + x", 0.5, "ok")])
def test_a_derivative_beyond_float64_is_an_overflow_not_a_nondifferentiable_point(text, x,
                                                                                   status):
    """log(x) at 1e-310 was `nondifferentiable`: 'derivative ... is infinite here', though the
    derivative is a number, 1e310, only too large for float64 (a trial)."""
    assert 310 > math.log10(sys.float_info.max) > 308  # 1e310 is no float64
    node = next(n for n in grad(text, {"x": x}).nodes if n.op not in ("var", "const"))
    assert node.status == status, node.message
    if status == "overflow":
        assert node.message == ("derivative with respect to x is finite but beyond float64 "
                                "here [overflow]")


def test_sympy_functions_say_why_a_derivative_is_missing():
    """lowergamma's derivative by its first argument was said to be unknown to SymPy, which
    gives one (a meijerg function this tool cannot evaluate); zeta's warning named the
    internal op zeta#2; zeta(x) was refused as taking 2 arguments, which SymPy's does not."""
    a, x = sp.symbols("a x", real=True)
    assert sp.lowergamma(a, x).diff(a).has(sp.meijerg)
    node = flagged(grad("lowergamma(y, x)", {"x": 1, "y": 2}), "nondifferentiable")
    assert node.message == ("SymPy's derivative of lowergamma with respect to y uses functions "
                            "this tool cannot evaluate [nondifferentiable]")
    assert sp.zeta(x, 1).diff(x).has(sp.Derivative)
    node = flagged(grad("zeta(x, 1)", {"x": 3}), "nondifferentiable")
    assert node.message == ("SymPy knows no derivative of zeta with respect to x "
                            "[nondifferentiable]")
    assert sp.zeta(x).diff(x).has(sp.Derivative)
    result = runner.invoke(app, ["grad", "zeta(x)", "--x", "3"])
    assert one_error_line(result.stderr) == (
        "error: zeta() with 1 argument: SymPy knows no derivative of it by any argument, so it "
        "cannot be differentiated here (with 2 arguments it can) (column 1)")
