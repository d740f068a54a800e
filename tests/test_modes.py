"""Forward mode, Hessians, Jacobians and sweeps (issue 5), against independent oracles.

Oracles: SymPy's own derivatives (`sympy.diff`, `sympy.hessian`, `Matrix.jacobian`) of an
expression built side by side with the program text, hand math, and the scalar reverse-mode engine
(`grad`) for forward mode and sweeps. Nothing here compares against a stored snapshot of the
output. Random programs are drawn from the op table with every argument kept inside its op's
domain by construction (see `positive`, `inside_unit`, `tame`).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from dataclasses import dataclass

import numpy as np
import pytest
import sympy as sp
from cli_checks import backprop_command
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from backprop_cli import grad
from backprop_cli.cli import app
from backprop_cli.engine import vector_pass
from backprop_cli.errors import InputError
from backprop_cli.graph import build_graph
from backprop_cli.modes import forward_mode, hessian, jacobian, sweep
from backprop_cli.ops import OPS, vector_form, vector_forms
from backprop_cli.parse import parse_program

VARIABLES = ("x", "y", "z")
SYMBOLS = {name: sp.Symbol(name, real=True) for name in VARIABLES}
X, Y, Z = SYMBOLS["x"], SYMBOLS["y"], SYMBOLS["z"]
# Offsets keep drawn points generic (not 0, not equal to one another) when hypothesis shrinks.
OFFSETS = {"x": 0.3183098861837907, "y": -0.5772156649015329, "z": 0.7071067811865476}
RTOL_SYMPY = 1e-7
ATOL_SYMPY = 1e-9
ATOL_HESSIAN = 1e-8
KINK_MARGIN = 1e-3
ANSI = re.compile(r"\x1b\[[0-9;]*m")
PLAIN = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "NO_COLOR": None}

runner = CliRunner()
SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# ----------------------------------------------------------------------------------------------
# Helpers


def invoke(*args: str, env: dict | None = None):
    """Run the Typer app in-process; stdout and stderr are kept apart."""
    return runner.invoke(app, list(args), env={**PLAIN, **(env or {})})


def strict_json(text: str) -> dict:
    """RFC 8259 JSON: NaN and Infinity literals are errors."""
    def refuse(literal: str):
        raise AssertionError(f"non-standard JSON literal {literal}")

    return json.loads(text, parse_constant=refuse)


def run_json(*args: str) -> dict:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    document = strict_json(result.stdout)
    assert document["schema"] == 1 and document["ok"] is True, document
    return document


def one_error_line(result) -> str:
    """Exit 2 and exactly one `error: ...` line on stderr, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def close(actual: float, expected: float, rtol: float, atol: float = 0.0) -> bool:
    return abs(actual - expected) <= atol + rtol * abs(expected)


def subs_of(point: dict[str, float]) -> dict:
    return {SYMBOLS.get(name, sp.Symbol(name, real=True)): sp.Float(value, 40)
            for name, value in point.items()}


def real(value) -> float:
    number = complex(sp.N(value, 30))
    assert abs(number.imag) <= 1e-20 * max(1.0, abs(number.real)), value
    return number.real


def at_point(expression, point: dict[str, float]) -> float:
    return real(expression.xreplace(subs_of(point)))


def sympy_hessian(expression, names, point) -> list[list[float]]:
    matrix = sp.hessian(expression, [SYMBOLS.get(n, sp.Symbol(n, real=True)) for n in names])
    return [[at_point(matrix[i, j], point) for j in range(len(names))]
            for i in range(len(names))]


def assert_matrix_close(actual, expected, rtol: float, atol: float, context=None) -> None:
    assert len(actual) == len(expected), (actual, expected, context)
    for row_a, row_e in zip(actual, expected, strict=True):
        assert len(row_a) == len(row_e), (actual, expected, context)
        for a, e in zip(row_a, row_e, strict=True):
            assert close(a, e, rtol, atol), (actual, expected, context)


def same(a: float | None, b: float, rtol: float = 1e-12) -> bool:
    """A JSON number (None for a gap) against a float: both non-finite, or close."""
    if a is None or not math.isfinite(a):
        return not math.isfinite(b)
    return math.isfinite(b) and close(a, b, rtol, 1e-300)


# ----------------------------------------------------------------------------------------------
# Random programs: text and an independent SymPy expression, built side by side


@dataclass(frozen=True)
class Expr:
    text: str
    sym: sp.Expr
    bound: float  # a crude upper bound on |value| at the drawn points
    kinks: tuple = ()  # SymPy expressions that must stay away from 0


def _kinks(*parts: Expr) -> tuple:
    return tuple(k for part in parts for k in part.kinks)


def tame(a: Expr, limit: float) -> Expr:
    if a.bound <= limit:
        return a
    return Expr(f"tanh({a.text})", sp.tanh(a.sym), 1.0, a.kinks)


def positive(a: Expr, shift: str = "1") -> Expr:
    a = tame(a, 10.0)
    value = sp.Rational(shift)
    return Expr(f"({shift} + ({a.text})**2)", value + a.sym**2, float(value) + a.bound**2,
                a.kinks)


def inside_unit(a: Expr) -> Expr:
    return Expr(f"0.9*tanh({a.text})", sp.Rational(9, 10) * sp.tanh(a.sym), 0.9, a.kinks)


def call(name: str, a: Expr, sym, bound: float, kinks: tuple = ()) -> Expr:
    return Expr(f"{name}({a.text})", sym, bound, a.kinks + kinks)


def b_add(a, b):
    return Expr(f"({a.text}) + ({b.text})", a.sym + b.sym, a.bound + b.bound, _kinks(a, b))


def b_sub(a, b):
    return Expr(f"({a.text}) - ({b.text})", a.sym - b.sym, a.bound + b.bound, _kinks(a, b))


def b_mul(a, b):
    a, b = tame(a, 30.0), tame(b, 30.0)
    return Expr(f"({a.text})*({b.text})", a.sym * b.sym, a.bound * b.bound, _kinks(a, b))


def b_div(a, b):
    a, d = tame(a, 30.0), positive(b)
    return Expr(f"({a.text})/{d.text}", a.sym / d.sym, a.bound, _kinks(a, d))


def b_power_int(n: int):
    def build(a):
        a = tame(a, 5.0)
        return Expr(f"({a.text})**{n}", a.sym**n, a.bound**n, a.kinks)

    return build


def b_power_real(text: str):
    def build(a):
        base = positive(tame(a, 2.0))
        exponent = sp.Rational(text.strip("()"))
        return Expr(f"{base.text}**{text}", base.sym**exponent,
                    base.bound ** abs(float(exponent)), base.kinks)

    return build


def b_pow(a, b):
    base, exponent = positive(tame(a, 2.0)), tame(b, 2.0)
    return Expr(f"{base.text}^({exponent.text})", base.sym**exponent.sym,
                base.bound**exponent.bound, _kinks(base, exponent))


def b_neg(a):
    return Expr(f"-({a.text})", -a.sym, a.bound, a.kinks)


def b_exp(a):
    a = tame(a, 3.0)
    return call("exp", a, sp.exp(a.sym), math.exp(a.bound))


def b_log(a):
    p = positive(a)
    return call("log", p, sp.log(p.sym), math.log(p.bound) + 1.0)


def b_logb(a, b):
    p, base = positive(a), positive(b, "2")
    return Expr(f"log({p.text}, {base.text})", sp.log(p.sym) / sp.log(base.sym),
                math.log(p.bound) / math.log(2.0) + 1.0, _kinks(p, base))


def b_sqrt(a):
    p = positive(a, "0.5")
    return call("sqrt", p, sp.sqrt(p.sym), math.sqrt(p.bound))


def b_trig(name):
    def build(a):
        a = tame(a, 10.0)
        return call(name, a, getattr(sp, name)(a.sym), 1.0)

    return build


def b_tan(a):
    u = Expr(f"1.2*tanh({a.text})", sp.Rational(6, 5) * sp.tanh(a.sym), 1.2, a.kinks)
    return call("tan", u, sp.tan(u.sym), math.tan(1.2))


def b_unit(name, bound):
    def build(a):
        u = inside_unit(a)
        return call(name, u, getattr(sp, name)(u.sym), bound)

    return build


def b_atan(a):
    return call("atan", a, sp.atan(a.sym), math.pi / 2)


def b_hyperbolic(name):
    def build(a):
        a = tame(a, 3.0)
        return call(name, a, getattr(sp, name)(a.sym), math.cosh(a.bound))

    return build


def b_tanh(a):
    return call("tanh", a, sp.tanh(a.sym), 1.0)


def b_asinh(a):
    return call("asinh", a, sp.asinh(a.sym), math.asinh(a.bound))


def b_acosh(a):
    p = positive(a, "1.5")
    return call("acosh", p, sp.acosh(p.sym), math.acosh(p.bound))


def b_sigmoid(a):
    a = tame(a, 30.0)
    return call("sigmoid", a, 1 / (1 + sp.exp(-a.sym)), 1.0)


def b_softplus(a):
    a = tame(a, 30.0)
    return call("softplus", a, sp.log(1 + sp.exp(a.sym)), a.bound + 1.0)


def b_abs(a):
    return call("abs", a, sp.Abs(a.sym), a.bound, (a.sym,))


def b_relu(a):
    return call("relu", a, sp.Max(0, a.sym), a.bound, (a.sym,))


def b_extreme(name):
    function = sp.Max if name == "max" else sp.Min

    def build(a, b):
        return Expr(f"{name}({a.text}, {b.text})", function(a.sym, b.sym),
                    max(a.bound, b.bound), _kinks(a, b) + (a.sym - b.sym,))

    return build


# name -> (arity, builder). Smooth ops only: every second derivative exists everywhere drawn.
SMOOTH = {
    "add": (2, b_add), "sub": (2, b_sub), "mul": (2, b_mul), "div": (2, b_div),
    "square": (1, b_power_int(2)), "cube": (1, b_power_int(3)),
    "pow 0.5": (1, b_power_real("0.5")), "pow 2.5": (1, b_power_real("2.5")),
    "pow -1.5": (1, b_power_real("(-1.5)")), "pow": (2, b_pow),
    "neg": (1, b_neg), "exp": (1, b_exp), "log": (1, b_log), "logb": (2, b_logb),
    "sqrt": (1, b_sqrt), "sin": (1, b_trig("sin")), "cos": (1, b_trig("cos")),
    "tan": (1, b_tan), "asin": (1, b_unit("asin", math.pi / 2)),
    "acos": (1, b_unit("acos", math.pi)), "atan": (1, b_atan),
    "sinh": (1, b_hyperbolic("sinh")), "cosh": (1, b_hyperbolic("cosh")),
    "tanh": (1, b_tanh), "asinh": (1, b_asinh), "acosh": (1, b_acosh),
    "atanh": (1, b_unit("atanh", math.atanh(0.9))), "sigmoid": (1, b_sigmoid),
    "softplus": (1, b_softplus),
}
KINKED = {"abs": (1, b_abs), "relu": (1, b_relu), "max": (2, b_extreme("max")),
          "min": (2, b_extreme("min"))}
ALL = {**SMOOTH, **KINKED}


def test_random_programs_draw_every_op_in_the_table():
    """The strategies cover the op table (`id` comes from the statement wrappers below)."""
    drawn = {name.split()[0] for name in ALL} - {"square", "cube"}
    assert set(OPS) == drawn | {"id"}


leaves = st.one_of(
    st.sampled_from(VARIABLES).map(lambda v: Expr(v, SYMBOLS[v], 2.0)),
    st.sampled_from(VARIABLES).map(lambda v: Expr(v, SYMBOLS[v], 2.0)),
    st.sampled_from(["0.5", "2", "1.25", "3"]).map(lambda c: Expr(c, sp.Rational(c), float(c))),
)


@st.composite
def expressions(draw, table: dict, depth: int = 3) -> Expr:
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(leaves)
    arity, build = table[draw(st.sampled_from(sorted(table)))]
    return build(*[draw(expressions(table, depth - 1)) for _ in range(arity)])


def uses(text: str, name: str) -> bool:
    return re.search(rf"\b{name}\b", text) is not None


@st.composite
def multivariate(draw, table: dict) -> Expr:
    """An expression that uses two or three of the variables."""
    expression = draw(expressions(table))
    wanted = draw(st.sampled_from([("x", "y"), ("x", "y", "z")]))
    for name in wanted:
        if not uses(expression.text, name):
            combine = draw(st.sampled_from([b_add, b_sub, b_mul]))
            expression = combine(expression, Expr(name, SYMBOLS[name], 2.0))
    return expression


@st.composite
def programs(draw, table: dict) -> tuple[str, Expr]:
    """A multivariate expression, sometimes as statements with fan-out and a copy (id node)."""
    expression = draw(multivariate(table))
    shape = draw(st.integers(0, 2))
    if shape == 0:
        return expression.text, expression
    if shape == 1:
        return f"u = {expression.text}\nv = u", expression
    other = draw(expressions(table, 2))
    u, w = tame(expression, 30.0), tame(other, 30.0)
    text = f"u = {u.text}\nw = {w.text}\nc = u\nout = c*w + u"
    return text, Expr(text, u.sym * w.sym + u.sym, 0.0, _kinks(u, w))


points = st.fixed_dictionaries(
    {name: st.floats(-1.0, 1.0, allow_nan=False).map(lambda u, n=name: u + OFFSETS[n])
     for name in VARIABLES}
)


def away_from_kinks(expression: Expr, point: dict[str, float]) -> bool:
    for kink in expression.kinks:
        if kink == 0:
            continue
        if abs(at_point(kink, point)) < KINK_MARGIN:
            return False
    return True


def program_point(text: str, point: dict[str, float]) -> dict[str, float]:
    """The point restricted to the program's variables (no 'unused variable' noise)."""
    return {name: value for name, value in point.items() if uses(text, name)}


# ----------------------------------------------------------------------------------------------
# forward: acceptance


def test_forward_sin_cos_at_2_is_cos_4_library():
    result = forward_mode("sin(x)*cos(x)", {"x": 2})
    assert result.wrt == "x"
    assert result.derivative == pytest.approx(math.cos(4), rel=1e-12)
    assert result.value == pytest.approx(math.sin(2) * math.cos(2), rel=1e-12)
    tangents = {formula: t for _, formula, _, t in result.nodes}
    # Hand math: d sin(x) = cos(x), d cos(x) = -sin(x), product rule gives cos(2x).
    assert tangents["x"] == 1.0
    assert tangents["sin(x)"] == pytest.approx(math.cos(2), rel=1e-12)
    assert tangents["cos(x)"] == pytest.approx(-math.sin(2), rel=1e-12)


def test_forward_sin_cos_at_2_is_cos_4_cli():
    document = run_json("forward", "sin(x)*cos(x)", "--x", "2")
    assert document["wrt"] == "x"
    assert document["derivative"] == pytest.approx(math.cos(4), rel=1e-12)
    tangents = document["tangents"]
    assert isinstance(tangents, dict) and tangents
    assert all(isinstance(k, str) and isinstance(v, float | int) for k, v in tangents.items())
    assert tangents["x"] == 1.0
    assert tangents[document["output"]] == pytest.approx(math.cos(4), rel=1e-12)
    assert sorted(tangents.values()) == pytest.approx(
        sorted([1.0, math.cos(2), -math.sin(2), math.cos(4)]), rel=1e-12)


def test_forward_table_output_shows_tangents_and_cost():
    result = invoke("forward", "x*y + tanh(x)", "--wrt", "x", "--x", "1", "--y", "2")
    assert result.exit_code == 0, result.stderr
    assert "\x1b[" not in result.stdout
    text = " ".join(result.stdout.split())
    # d/dx (x*y + tanh x) = y + 1 - tanh(1)^2 = 2.419974...
    assert "2.41997" in text
    # Cost line: 2 inputs -> 2 forward sweeps against 1 reverse sweep, 3 operations.
    assert "3 operations" in text and "2 sweeps" in text and "reverse" in text


def test_forward_cost_in_json_counts_operations_and_inputs():
    document = run_json("forward", "x*y + tanh(x)", "--wrt", "y", "--x", "1", "--y", "2")
    assert document["derivative"] == pytest.approx(1.0, rel=1e-12)
    cost = document["cost"]
    assert cost["operations"] == 3  # mul, tanh, add
    assert cost["inputs"] == 2
    assert cost["forward_mode_sweeps"] == 2 and cost["reverse_mode_sweeps"] == 1


def test_forward_tangents_of_every_statement_by_hand():
    text = "h1 = x*y\nh2 = y*z\nh = h1*h2\no = h*h"
    x, y, z = 3.0, 2.0, 1.0
    document = run_json("forward", text, "--wrt", "y", "--x", "3", "--y", "2", "--z", "1")
    tangents = document["tangents"]
    h = x * y * y * z
    assert tangents["h1"] == pytest.approx(x)
    assert tangents["h2"] == pytest.approx(z)
    assert tangents["h"] == pytest.approx(2 * x * y * z)
    assert tangents["o"] == pytest.approx(2 * h * 2 * x * y * z)
    assert document["derivative"] == pytest.approx(4 * x * x * y**3 * z * z)


def test_forward_direction_is_the_dot_product_with_the_gradient_cli():
    document = run_json("forward", "x*y + tanh(x)", "--direction", "x=1,y=0.5",
                        "--x", "1", "--y", "2")
    gradient = dict(grad("x*y + tanh(x)", {"x": 1, "y": 2}).gradient)
    expected = gradient["x"] * 1 + gradient["y"] * 0.5
    assert document["derivative"] == pytest.approx(expected, rel=1e-12)
    assert document["direction"] == {"x": 1.0, "y": 0.5}


def test_forward_direction_missing_components_are_zero():
    result = forward_mode("x*y + tanh(x)", {"x": 1, "y": 2}, direction={"y": 3.0})
    assert result.derivative == pytest.approx(3.0 * 1.0, rel=1e-12)


@SETTINGS
@given(programs(ALL), points, st.lists(st.floats(-2, 2, allow_nan=False), min_size=3,
                                       max_size=3))
def test_forward_tangents_agree_with_grad_for_every_input(program, point, components):
    text, _ = program
    point = program_point(text, point)
    gradient = dict(grad(text, point).gradient)
    assume(all(math.isfinite(g) for g in gradient.values()))
    assert len(gradient) >= 2
    for name, g in gradient.items():
        result = forward_mode(text, point, wrt=name)
        assert close(result.derivative, g, 1e-9, 1e-12), (text, point, name, g,
                                                            result.derivative)
    direction = dict(zip(gradient, components, strict=False))
    expected = sum(gradient[name] * d for name, d in direction.items())
    scale = sum(abs(gradient[name] * d) for name, d in direction.items())
    result = forward_mode(text, point, direction=direction)
    assert close(result.derivative, expected, 1e-9, 1e-12 * (1 + scale)), (text, point,
                                                                          direction)


@pytest.mark.parametrize(("text", "expression", "x"), [
    # A constant input (an exponent, a function's order) has tangent 0, whatever its partial.
    ("x**2", X**2, 2.0),
    ("x**2", X**2, -1.0),
    ("x**3 + x", X**3 + X, -1.5),
    ("besselj(2, x)", sp.besselj(2, X), 1.5),
    ("polygamma(1, x)", sp.polygamma(1, X), 1.5),
])
def test_forward_through_ops_with_constant_inputs(text, expression, x):
    expected = at_point(sp.diff(expression, X), {"x": x})
    assert dict(grad(text, {"x": x}).gradient)["x"] == pytest.approx(expected, rel=1e-9)
    result = forward_mode(text, {"x": x})
    assert result.derivative == pytest.approx(expected, rel=1e-9), result.nodes


# ----------------------------------------------------------------------------------------------
# forward: errors


def test_forward_several_variables_without_wrt_names_wrt():
    line = one_error_line(invoke("forward", "x*y", "--x", "1", "--y", "2"))
    assert "--wrt" in line
    with pytest.raises(InputError, match="--wrt"):
        forward_mode("x*y", {"x": 1, "y": 2})


def test_forward_wrt_not_a_variable():
    line = one_error_line(invoke("forward", "x*y", "--wrt", "q", "--x", "1", "--y", "2"))
    assert "q" in line


def test_forward_wrt_a_statement_is_not_a_variable():
    line = one_error_line(invoke("forward", "h = x*y\nh + x", "--wrt", "h", "--x", "1",
                                 "--y", "2"))
    assert "'h'" in line


def test_forward_direction_naming_a_non_variable():
    line = one_error_line(invoke("forward", "x*y", "--direction", "x=1,q=2", "--x", "1",
                                 "--y", "2"))
    assert "q" in line


def test_forward_direction_not_name_value_pairs():
    one_error_line(invoke("forward", "x*y", "--direction", "x", "--x", "1", "--y", "2"))


def test_forward_errors_in_json_mode_are_error_documents():
    result = invoke("forward", "x*y", "--x", "1", "--y", "2", "--json")
    one_error_line(result)
    document = strict_json(result.stdout)
    assert document["ok"] is False


# ----------------------------------------------------------------------------------------------
# hessian



def test_hessian_of_the_example_equals_sympy_library_and_cli():
    expected = sympy_hessian(X * Y + sp.tanh(X), ["x", "y"], {"x": 1, "y": 2})
    result = hessian("x*y + tanh(x)", {"x": 1, "y": 2})
    assert result.rows == result.columns == ("x", "y")
    assert_matrix_close(result.values, expected, 1e-9, 1e-12)
    document = run_json("hessian", "x*y + tanh(x)", "--x", "1", "--y", "2")
    assert document["variables"] == ["x", "y"]
    assert_matrix_close(document["hessian"], expected, 1e-9, 1e-12)
    # Hand math too: d2/dx2 tanh = -2 tanh sech^2.
    assert document["hessian"][0][0] == pytest.approx(
        -2 * math.tanh(1) * (1 - math.tanh(1) ** 2), rel=1e-9)


def test_hessian_table_output():
    result = invoke("hessian", "x*y + tanh(x)", "--x", "1", "--y", "2")
    assert result.exit_code == 0, result.stderr
    assert "Hessian" in result.stdout and "-0.6397" in result.stdout


def test_hessian_of_a_diamond_of_statements():
    text = "h1 = x*y\nh2 = y*z\nh = h1*h2\no = h*h"
    point = {"x": 3, "y": 2, "z": 1}
    expected = sympy_hessian((X * Y * Y * Z) ** 2, ["x", "y", "z"], point)
    result = hessian(text, point)
    assert result.columns == ("x", "y", "z")
    assert_matrix_close(result.values, expected, 1e-12, 1e-12)
    document = run_json("hessian", text, "--x", "3", "--y", "2", "--z", "1")
    assert_matrix_close(document["hessian"], expected, 1e-12, 1e-12)


def test_hessian_ignores_statements_the_output_does_not_use():
    result = hessian("a = exp(x)\nb = x*y^2", {"x": 1.5, "y": 2})
    assert_matrix_close(result.values, [[0, 4], [4, 3]], 1e-12, 1e-12)


def test_hessian_of_a_linear_program_is_zero():
    result = hessian("2*x + y - 3", {"x": 1.5, "y": 2})
    assert_matrix_close(result.values, [[0, 0], [0, 0]], 0, 0)


def test_hessian_of_a_sympy_fallback_function():
    point = {"x": 0.5, "y": 2}
    expected = sympy_hessian(sp.erf(X) * Y, ["x", "y"], point)
    assert_matrix_close(hessian("erf(x)*y", point).values, expected, 1e-9, 1e-12)


@pytest.mark.parametrize(("text", "active", "point"), [
    # relu, abs and max on their active branches, each as the hand-chosen smooth expression.
    ("relu(x*y)^2 + abs(x - y)*y + max(x, y)*x", (X * Y) ** 2 + (X - Y) * Y + X * X,
     {"x": 1.5, "y": 0.5}),
    ("relu(x*y)^2 + abs(x - y)*y + max(x, y)*x", 0 + (Y - X) * Y + Y * X,
     {"x": -1.5, "y": 0.5}),
    ("abs(sin(x))*y^2 + relu(x)*exp(y)", -sp.sin(X) * Y**2, {"x": -1.0, "y": 0.7}),
    ("abs(sin(x))*y^2 + relu(x)*exp(y)", sp.sin(X) * Y**2 + X * sp.exp(Y),
     {"x": 1.0, "y": 0.7}),
    ("min(x^2, y^3)*x + max(x, y, 0.1)^3", X**3 + Y**3, {"x": 1.2, "y": 2.0}),
    ("relu(relu(x)*y)^3", (X * Y) ** 3, {"x": 0.8, "y": 1.3}),
])
def test_hessian_of_kinked_ops_away_from_kinks_is_the_active_branch(text, active, point):
    names = [name for name in VARIABLES if uses(text, name)]
    result = hessian(text, point)
    assert list(result.columns) == names
    assert_matrix_close(result.values, sympy_hessian(active, names, point), 1e-9, 1e-12,
                        text)


@SETTINGS
@given(programs(SMOOTH), points)
def test_hessian_of_random_programs_equals_sympy_and_is_symmetric(program, point):
    text, expression = program
    point = program_point(text, point)
    result = hessian(text, point)
    names = list(result.columns)
    assert set(names) == set(point), (text, names)
    assert list(result.rows) == names
    expected = sympy_hessian(expression.sym, names, point)
    assert_matrix_close(result.values, expected, RTOL_SYMPY, ATOL_HESSIAN, (text, point))
    n = len(names)
    for i in range(n):
        for j in range(i):
            assert close(result.values[i][j], result.values[j][i], 1e-9, 1e-10), (text, point)


@pytest.mark.parametrize(("text", "expression", "point"), [
    ("x^x", X**X, {"x": 1.5}),
    ("pi*x^2 + e*y^3", sp.pi * X**2 + sp.E * Y**3, {"x": 1.5, "y": 2}),
    ("f = x*y\ng = f\ng*g", (X * Y) ** 2, {"x": 1.5, "y": 2}),
    ("x^-1 + 0.1*sqrt(y)", 1 / X + sp.sqrt(Y) / 10, {"x": 1.5, "y": 2}),
    ("sigmoid(x*y) + softplus(x - y)",
     1 / (1 + sp.exp(-X * Y)) + sp.log(1 + sp.exp(X - Y)), {"x": 0.5, "y": -0.3}),
    ("log(x, y) + atanh(x/y) + acosh(y + x)", sp.log(X) / sp.log(Y) + sp.atanh(X / Y)
     + sp.acosh(Y + X), {"x": 0.5, "y": 2.5}),
    ("besselj(2, x)*y", sp.besselj(2, X) * Y, {"x": 1.5, "y": -0.5}),
    # Names that look like the engine's own node ids (z1, z3) must not collide with them.
    ("z1 = x*y\nz1*z1 + x", (X * Y) ** 2 + X, {"x": 0.5, "y": 2}),
    ("z3*x + sin(z3)", sp.Symbol("z3", real=True) * X + sp.sin(sp.Symbol("z3", real=True)),
     {"x": 2, "z3": 0.5}),
])
def test_hessian_of_worked_programs_equals_sympy(text, expression, point):
    result = hessian(text, point)
    names = list(result.columns)
    assert set(names) == set(point)
    assert_matrix_close(result.values, sympy_hessian(expression, names, point), 1e-9, 1e-12,
                        text)


def test_hessian_cli_errors_are_one_line():
    one_error_line(invoke("hessian", "x*y", "--x", "1"))
    one_error_line(invoke("hessian", "x*(y", "--x", "1", "--y", "2"))


# ----------------------------------------------------------------------------------------------
# jacobian


def test_jacobian_of_several_outputs_cli_matches_sympy():
    text = "a = x*y\nb = sin(x) + y^2\nc = a*b"
    point = {"x": 0.7, "y": -1.3}
    a, b = X * Y, sp.sin(X) + Y**2
    expected = sp.Matrix([a, b, a * b]).jacobian([X, Y])
    document = run_json("jacobian", text, "--output", "a,b,c", "--x", "0.7", "--y", "-1.3")
    assert document["outputs"] == ["a", "b", "c"]
    assert document["variables"] == ["x", "y"]
    assert_matrix_close(document["jacobian"],
                        [[at_point(expected[i, j], point) for j in range(2)] for i in range(3)],
                        1e-12, 1e-14)


def test_jacobian_rows_follow_the_requested_order():
    text = "a = x*y\nb = x + 2*y"
    result = jacobian(text, {"x": 1, "y": 2}, ["b", "a"])
    assert result.rows == ("b", "a")
    assert_matrix_close(result.values, [[1, 2], [2, 1]], 0, 0)


def test_jacobian_default_output_is_the_last_statement():
    text = "a = x*y\nb = sin(x) + y"
    document = run_json("jacobian", text, "--x", "1", "--y", "2")
    assert document["outputs"] == ["b"]
    assert_matrix_close(document["jacobian"], [[math.cos(1), 1.0]], 1e-12, 0)


def test_jacobian_default_output_of_an_unnamed_final_expression_is_the_gradient():
    text = "a = x*y\na + sin(x)"
    result = jacobian(text, {"x": 1, "y": 2})
    assert len(result.rows) == 1
    gradient = dict(grad(text, {"x": 1, "y": 2}).gradient)
    assert result.values[0] == pytest.approx((gradient["x"], gradient["y"]), rel=1e-12)


def test_jacobian_of_a_final_tuple():
    """The issue: several outputs are `--output a,b` *or a final tuple*."""
    result = invoke("jacobian", "a = x*y\nb = x + y\na, b", "--x", "1", "--y", "2", "--json")
    assert result.exit_code == 0, result.stderr
    document = strict_json(result.stdout)
    assert_matrix_close(document["jacobian"], [[2, 1], [1, 1]], 0, 0)


def test_jacobian_unknown_output_is_one_line():
    line = one_error_line(invoke("jacobian", "a = x*y\nb = x + y", "--output", "a,c",
                                 "--x", "1", "--y", "2"))
    assert "'c'" in line


@SETTINGS
@given(multivariate(ALL), multivariate(ALL), expressions(ALL, 2), points,
       st.permutations(["a", "b", "c"]), st.integers(1, 3))
def test_jacobian_of_random_programs_equals_sympy(e1, e2, e3, point, order, count):
    e1, e2, e3 = tame(e1, 30.0), tame(e2, 30.0), tame(e3, 30.0)
    text = f"a = {e1.text}\nb = {e2.text}\nc = a*b + {e3.text}"
    outputs = order[:count]
    exprs = {"a": e1.sym, "b": e2.sym, "c": e1.sym * e2.sym + e3.sym}
    point = program_point(text, point)
    assume(away_from_kinks(Expr(text, 0, 0, _kinks(e1, e2, e3)), point))
    result = jacobian(text, point, outputs)
    assert list(result.rows) == outputs
    names = list(result.columns)
    assert set(names) == set(point)
    matrix = sp.Matrix([exprs[o] for o in outputs]).jacobian([SYMBOLS[n] for n in names])
    expected = [[at_point(matrix[i, j], point) for j in range(len(names))]
                for i in range(len(outputs))]
    assert_matrix_close(result.values, expected, RTOL_SYMPY, ATOL_SYMPY, (text, point))


# ----------------------------------------------------------------------------------------------
# sweep: x^2 over -1:3


def scalar(text: str, name: str, x: float, fixed: dict | None = None) -> tuple[float, float]:
    result = grad(text, {**(fixed or {}), name: x})
    return result.value, dict(result.gradient).get(name, 0.0)


def test_sweep_of_x_squared_json_matches_hand_math_and_the_scalar_engine():
    document = run_json("sweep", "x^2", "--x", "-1:3", "--points", "41")
    assert document["variable"] == "x"
    xs, values, derivatives = document["x"], document["value"], document["derivative"]
    assert len(xs) == len(values) == len(derivatives) == 41
    assert xs[0] == -1.0 and xs[-1] == 3.0
    assert xs == pytest.approx(np.linspace(-1, 3, 41).tolist(), rel=1e-15, abs=1e-15)
    for x, value, derivative in zip(xs, values, derivatives, strict=True):
        assert close(value, x * x, 1e-12, 1e-300), x
        assert close(derivative, 2 * x, 1e-12, 1e-300), x
        scalar_value, scalar_derivative = scalar("x^2", "x", x)
        assert close(value, scalar_value, 1e-12, 1e-300), x
        assert close(derivative, scalar_derivative, 1e-12, 1e-300), x


def test_sweep_of_x_squared_csv_has_the_same_numbers():
    document = run_json("sweep", "x^2", "--x", "-1:3", "--points", "9")
    result = invoke("sweep", "x^2", "--x", "-1:3", "--points", "9", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "x,value,derivative"
    rows = [[float(cell) for cell in line.split(",")] for line in lines[1:]]
    assert len(rows) == 9
    for (x, value, derivative), jx, jv, jd in zip(rows, document["x"], document["value"],
                                                   document["derivative"], strict=True):
        assert (x, value, derivative) == (jx, jv, jd)
        assert value == pytest.approx(x * x, rel=1e-12) and derivative == pytest.approx(2 * x)


def test_sweep_format_json_is_the_same_as_json():
    a = invoke("sweep", "x^2", "--x", "-1:3", "--points", "5", "--json")
    b = invoke("sweep", "x^2", "--x", "-1:3", "--points", "5", "--format", "json")
    assert a.exit_code == b.exit_code == 0
    assert strict_json(a.stdout) == strict_json(b.stdout)


def test_sweep_with_a_fixed_variable():
    document = run_json("sweep", "f = x*y + tanh(x)", "--x", "-1:1", "--y", "2",
                        "--points", "5")
    assert document["output"] == "f"
    for x, value, derivative in zip(document["x"], document["value"],
                                    document["derivative"], strict=True):
        assert value == pytest.approx(2 * x + math.tanh(x), rel=1e-12, abs=1e-15)
        assert derivative == pytest.approx(2 + 1 - math.tanh(x) ** 2, rel=1e-12)


@pytest.mark.parametrize(("text", "span", "count", "undefined"), [
    ("log(x)", "-2:3", 6, {-2.0, -1.0, 0.0}),  # log(0) = -inf: a gap too
    ("sqrt(x)", "-1:1", 5, {-1.0, -0.5}),
    ("1/x", "-1:1", 5, {0.0}),
    ("1/x", "-1:1", 3, {0.0}),
])
def test_sweep_undefined_points_are_gaps_not_crashes(text, span, count, undefined):
    document = run_json("sweep", text, "--x", span, "--points", str(count))
    csv = invoke("sweep", text, "--x", span, "--points", str(count), "--format", "csv")
    assert csv.exit_code == 0, csv.stderr
    rows = [line.split(",") for line in csv.stdout.strip().splitlines()[1:]]
    assert len(rows) == count
    for k, (x, value, derivative) in enumerate(zip(document["x"], document["value"],
                                                   document["derivative"], strict=True)):
        scalar_value, scalar_derivative = scalar(text, "x", x)
        if x in undefined:
            assert value is None and derivative is None, (x, value, derivative)
            assert rows[k][1:] == ["", ""], rows[k]
        else:
            assert same(value, scalar_value) and same(derivative, scalar_derivative), x
            assert rows[k][1] == ("" if value is None else repr(value))
            assert rows[k][2] == ("" if derivative is None else repr(derivative))
    plot = invoke("sweep", text, "--x", span, "--points", str(count))
    assert plot.exit_code == 0, plot.stderr


def test_sweep_of_sqrt_at_zero_has_a_value_and_no_finite_slope():
    document = run_json("sweep", "sqrt(x)", "--x", "-1:1", "--points", "5")
    k = document["x"].index(0.0)
    assert document["value"][k] == 0.0
    assert document["derivative"][k] is None  # sqrt'(0) = +inf, not a number in JSON


def test_sweep_where_every_point_is_undefined_is_all_gaps():
    document = run_json("sweep", "log(x)", "--x", "-3:-1", "--points", "5")
    assert document["value"] == [None] * 5 and document["derivative"] == [None] * 5
    assert invoke("sweep", "log(x)", "--x", "-3:-1", "--points", "5").exit_code == 0


def test_sweep_range_ends_may_be_constant_expressions():
    document = run_json("sweep", "x^2", "--x", "-pi:pi", "--points", "3")
    assert document["x"] == pytest.approx([-math.pi, 0.0, math.pi], rel=1e-15)
    assert document["derivative"] == pytest.approx([-2 * math.pi, 0.0, 2 * math.pi])


def test_sweep_through_sympy_fallback_functions_matches_the_scalar_engine():
    text = "besselj(2, x) + erf(x)*y"
    result = sweep(text, {"y": 0.5}, "x", 0.5, 1.5, 5)
    for x, value, derivative in zip(result.x, result.value, result.derivative, strict=True):
        scalar_value, scalar_derivative = scalar(text, "x", float(x), {"y": 0.5})
        assert same(float(value), scalar_value) and same(float(derivative), scalar_derivative)


def test_sweep_plot_has_legend_labels_and_no_ansi_when_piped():
    result = invoke("sweep", "f = x^2", "--x", "-1:3", "--points", "30")
    assert result.exit_code == 0, result.stderr
    assert "\x1b[" not in result.stdout
    assert "f" in result.stdout and "df/dx" in result.stdout


def test_sweep_plot_labels_an_unnamed_output():
    document = run_json("sweep", "x^2", "--x", "-1:3", "--points", "5")
    result = invoke("sweep", "x^2", "--x", "-1:3", "--points", "30")
    assert result.exit_code == 0
    output = document["output"]
    assert output in result.stdout and f"d{output}/dx" in result.stdout


def test_sweep_plot_honours_no_color_even_when_colour_is_forced():
    forced = invoke("sweep", "f = x^2", "--x", "-1:3", "--points", "30",
                    env={"FORCE_COLOR": "1"})
    assert forced.exit_code == 0, forced.stderr
    assert ANSI.search(forced.stdout), "forced colour should colour the plot (test sanity)"
    plain = invoke("sweep", "f = x^2", "--x", "-1:3", "--points", "30",
                   env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert plain.exit_code == 0, plain.stderr
    assert "\x1b[" not in plain.stdout
    assert "df/dx" in plain.stdout


def test_sweep_plot_as_a_real_piped_process():
    env = {k: v for k, v in os.environ.items() if k not in PLAIN}
    completed = subprocess.run(
        [backprop_command(), "sweep", "f = x^2", "--x", "-1:3", "--points", "50"],
        capture_output=True, text=True, timeout=60, env=env, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "\x1b[" not in completed.stdout
    assert "df/dx" in completed.stdout
    assert completed.stderr == ""


def test_sweep_library_result_matches_the_scalar_engine_with_gaps_as_nan():
    result = sweep("log(x)*y", {"y": 2}, "x", -1, 2, 7)
    for x, value, derivative in zip(result.x, result.value, result.derivative, strict=True):
        scalar_value, scalar_derivative = scalar("log(x)*y", "x", float(x), {"y": 2})
        assert same(value, scalar_value) and same(derivative, scalar_derivative), x


def test_sweep_across_the_chunk_boundary_matches_the_scalar_engine():
    text = "f = sin(x)*exp(-x^2/4) + log(2 + x)*y + max(x, 0.5)*tanh(x*y) + sqrt(x + 1)"
    count = 100_000
    result = sweep(text, {"y": 0.7}, "x", -1, 3, count)
    assert len(result.x) == count
    # One chunk of everything gives the very same numbers as 65,536-point chunks.
    graph = build_graph(parse_program(text))
    whole_value, whole_derivative = vector_pass(graph, {"x": result.x, "y": 0.7}, "x",
                                                chunk=count)
    np.testing.assert_array_equal(result.value, whole_value)
    np.testing.assert_array_equal(result.derivative, whole_derivative)
    rng = np.random.default_rng(5)
    sampled = {0, 1, 65_534, 65_535, 65_536, 65_537, count - 1} | set(
        rng.integers(0, count, 30).tolist())
    for k in sorted(sampled):
        x = float(result.x[k])
        scalar_value, scalar_derivative = scalar(text, "x", x, {"y": 0.7})
        assert same(float(result.value[k]), scalar_value), (k, x)
        assert same(float(result.derivative[k]), scalar_derivative), (k, x)
    # x = -1 is sqrt's edge: a value but an infinite slope, so a gap in the derivative.
    assert math.isfinite(result.value[0]) and not math.isfinite(result.derivative[0])


# ----------------------------------------------------------------------------------------------
# sweep: range and variable errors


@pytest.mark.parametrize("args", [
    ("x*y", "--x", "-1:1", "--y", "0:1"),  # two ranges
    ("x*y", "--x", "1", "--y", "2"),  # none
    ("x^2",),  # no variable at all
    ("x^2", "--x", "3:-1"),  # backwards
    ("x^2", "--x", "1:1"),  # empty
    ("x^2", "--x", "a:b"),  # not numbers
    ("x^2", "--x", "1:"),
    ("x^2", "--x", ":1"),
    ("x^2", "--x", "1:2:3"),
    ("x^2", "--x", "0:inf"),
    ("y^2", "--x", "0:1", "--y", "2"),  # the swept name is not a variable of the program
])
def test_sweep_range_errors_exit_2_with_one_line(args):
    one_error_line(invoke("sweep", *args, "--points", "5"))


def test_sweep_range_error_names_the_problem():
    assert "one variable" in one_error_line(
        invoke("sweep", "x*y", "--x", "-1:1", "--y", "0:1"))


def test_sweep_error_in_json_mode_is_an_error_document():
    result = invoke("sweep", "x^2", "--x", "3:-1", "--json")
    one_error_line(result)
    assert strict_json(result.stdout)["ok"] is False


# ----------------------------------------------------------------------------------------------
# Meta-test: every op has a vectorised form that equals the scalar op


def _grid(name: str) -> list[tuple[float, ...]]:
    """The op's test point, scaled copies of it (same signs, same domain) and a few extras."""
    point = OPS[name].test_point
    grid = [point] + [tuple(v * s for v in point) for s in (0.8, 0.9, 1.1, 1.2)]
    whole_line = {"add", "sub", "mul", "neg", "id", "exp", "sin", "cos", "tan", "atan",
                  "sinh", "cosh", "tanh", "asinh", "sigmoid", "softplus", "abs", "relu",
                  "max", "min", "div", "atanh", "asin", "acos"}
    if name in whole_line:
        grid += [tuple(-v for v in p) for p in grid]
    extras = {
        "pow": [(-1.3, 2.0), (-1.3, 3.0), (0.0, 2.0), (2.0, -1.0), (0.5, 0.5)],
        "div": [(0.0, 2.0), (-3.0, 0.25)],
        "exp": [(5.0,), (-20.0,)],
        "sigmoid": [(8.0,), (-8.0,)],
        "softplus": [(8.0,), (-8.0,)],
        "tanh": [(3.0,), (-3.0,)],
        "max": [(2.0, -1.0, 0.5), (-2.0, 1.0)],
        "min": [(2.0, -1.0, 0.5), (-2.0, 1.0)],
        "logb": [(0.5, 2.0), (10.0, 0.5)],
        "log": [(0.01,), (100.0,)],
        "sqrt": [(0.01,), (100.0,)],
    }
    return grid + extras.get(name, [])


def _vector_values(name: str, grid: list[tuple[float, ...]]):
    fwd, partial = vector_form(name)
    columns = [np.array(column, dtype=float) for column in zip(*grid, strict=True)]
    out = fwd(*columns)
    if OPS[name].is_variadic:
        partials = partial(columns, out)
    elif OPS[name].arity == 1:
        partials = (partial(columns[0], out),)
    else:
        partials = partial(columns[0], columns[1], out)
    return np.broadcast_to(out, (len(grid),)), [np.broadcast_to(p, (len(grid),))
                                                for p in partials]


def _scalar_values(name: str, args: tuple[float, ...]):
    op = OPS[name]
    out = op.forward(*args)
    if op.is_variadic:
        partials = op.partial(args, out)
    elif op.arity == 1:
        partials = (op.partial(args[0], out),)
    else:
        partials = op.partial(args[0], args[1], out)
    return out, tuple(partials)


def test_every_op_has_a_vectorised_form():
    assert set(vector_forms()) == set(OPS)


@pytest.mark.parametrize("name", sorted(OPS))
def test_vectorised_op_equals_the_scalar_op_on_a_grid(name):
    by_count: dict[int, list[tuple[float, ...]]] = {}
    for args in _grid(name):
        by_count.setdefault(len(args), []).append(args)
    for grid in by_count.values():
        out, partials = _vector_values(name, grid)
        assert len(partials) == len(grid[0])
        for k, args in enumerate(grid):
            scalar_out, scalar_partials = _scalar_values(name, args)
            assert same(float(out[k]), scalar_out), (name, args, out[k], scalar_out)
            if math.isnan(scalar_out):
                assert math.isnan(out[k]), (name, args)
            for index, (vector_d, scalar_d) in enumerate(zip(partials, scalar_partials,
                                                             strict=True)):
                assert same(float(vector_d[k]), scalar_d), (name, args, index,
                                                            vector_d[k], scalar_d)


def _op_program(name: str) -> tuple[str, list[str]]:
    op = OPS[name]
    names = [f"a{k}" for k in range(len(op.test_point))]
    if name == "id":
        return "f = a0\ng = f", names
    return op.render_formula(names), names


@pytest.mark.parametrize("name", sorted(OPS))
def test_sweep_of_every_op_matches_the_scalar_engine(name):
    """Each argument of each op swept near its test point, through `sweep`, against `grad`."""
    text, names = _op_program(name)
    point = dict(zip(names, OPS[name].test_point, strict=True))
    if name == "id":
        assert "id" in build_graph(parse_program(text)).ops
    for swept in names:
        centre = point[swept]
        half = 0.05 * max(abs(centre), 0.2)
        fixed = {n: v for n, v in point.items() if n != swept}
        result = sweep(text, fixed, swept, centre - half, centre + half, 7)
        for x, value, derivative in zip(result.x, result.value, result.derivative,
                                        strict=True):
            scalar_value, scalar_derivative = scalar(text, swept, float(x), fixed)
            assert same(float(value), scalar_value), (name, swept, x)
            assert same(float(derivative), scalar_derivative), (name, swept, x)
