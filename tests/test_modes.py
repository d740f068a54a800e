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

import numpy as np
import pytest
import sympy as sp
from cli_checks import backprop_command
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from programs import (
    SYMBOLS,
    VARIABLES,
    away_from_kinks,
    drawable,
    expressions,
    points,
    program_point,
    programs,
    squash,
)
from typer.testing import CliRunner

from backprop_cli import grad
from backprop_cli.cli import app
from backprop_cli.errors import InputError
from backprop_cli.forward_mode import forward_mode
from backprop_cli.graph import build_graph
from backprop_cli.matrices import hessian, jacobian
from backprop_cli.parse import parse_program
from backprop_cli.sweep import sweep, vector_pass

X, Y, Z = SYMBOLS["x"], SYMBOLS["y"], SYMBOLS["z"]
RTOL_SYMPY = 1e-7
ATOL_SYMPY = 1e-9
ATOL_HESSIAN = 1e-8
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
    assert document["schema"] == 2 and document["ok"] is True, document
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
    # SymPy leaves d sign(u)/dx unevaluated when it cannot tell u is real (abs(acos(...))),
    # and DiracDelta(u) when it cannot tell u is not 0 (max(x, tan(0.5)), a Hessian's second
    # derivative of a kink); away from kinks, where these tests evaluate, both are 0.
    expression = expression.replace(
        lambda e: isinstance(e, sp.Derivative) and e.expr.func is sp.sign, lambda e: sp.S.Zero)
    expression = expression.replace(lambda e: e.func is sp.DiracDelta, lambda e: sp.S.Zero)
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


def uses(text: str, name: str) -> bool:
    return re.search(rf"\b{name}\b", text) is not None


ALL = tuple(drawable())


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
@given(programs(ALL, variables_used=2), points,
       st.lists(st.floats(-2, 2, allow_nan=False), min_size=3, max_size=3))
def test_forward_tangents_agree_with_grad_for_every_input(program, point, components):
    text, _ = program
    assume(away_from_kinks(text, point))
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
@given(programs(ALL, variables_used=2), points)
def test_hessian_of_random_programs_equals_sympy_and_is_symmetric(program, point):
    text, expression = program
    assume(away_from_kinks(text, point))
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


def test_a_final_tuple_stays_in_the_expression_so_that_it_reads_back_as_the_same_jacobian():
    first = strict_json(invoke("jacobian", "a = x*y; b = sin(x) + y**2; (a, b)", "--x", "1",
                               "--y", "2", "--json").stdout)
    again = strict_json(invoke("jacobian", first["expression"], "--x", "1", "--y", "2",
                               "--json").stdout)
    x, y = sp.symbols("x y")
    expected = sp.Matrix([x * y, sp.sin(x) + y**2]).jacobian([x, y]).subs({x: 1, y: 2})
    for document in (first, again):
        assert document["outputs"] == ["a", "b"]
        assert_matrix_close(document["jacobian"], expected.tolist(), 1e-15, 0)


def test_jacobian_unknown_output_is_one_line():
    line = one_error_line(invoke("jacobian", "a = x*y\nb = x + y", "--output", "a,c",
                                 "--x", "1", "--y", "2"))
    assert "'c'" in line


@SETTINGS
@given(programs(ALL, variables_used=2), programs(ALL, variables_used=2), expressions(ALL, 2),
       points, st.permutations(["a", "b", "c"]), st.integers(1, 3))
def test_jacobian_of_random_programs_equals_sympy(p1, p2, e3, point, order, count):
    e1, e2, e3 = squash(p1[1], 30.0), squash(p2[1], 30.0), squash(e3, 30.0)
    assume("\n" not in e1.text and "\n" not in e2.text)
    text = f"a = {e1.text}\nb = {e2.text}\nc = a*b + {e3.text}"
    outputs = order[:count]
    exprs = {"a": e1.sym, "b": e2.sym, "c": e1.sym * e2.sym + e3.sym}
    assume(away_from_kinks(text, point))
    point = program_point(text, point)
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


def test_sweep_warns_of_its_gaps():
    # log is undefined below 0 and -inf at 0: three of -1, -0.5, 0, 0.5, 1; sqrt'(0) = inf.
    result = invoke("sweep", "log(x)", "--x", "-1:1", "--points", "5", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == ("warning: the output is not a finite number at 3 of 5 "
                                     "points (the first at x = -1); they are gaps")
    document = run_json("sweep", "sqrt(x)", "--x", "0:1", "--points", "3")
    assert document["warnings"] == ["the derivative is not a finite number at 1 of 3 points "
                                    "(the first at x = 0); they are gaps"]
    assert run_json("sweep", "x^2", "--x", "-1:1", "--points", "5")["warnings"] == []


def test_sweep_warns_of_points_at_a_kink():
    # abs and relu have their kink at 0, the third of -1, -0.5, 0, 0.5, 1 and none of four
    # points over -1:1; relu(y) does not depend on the swept x. fd and grad warned; sweep not.
    document = run_json("sweep", "abs(x) + relu(x)", "--x", "-1:1", "--points", "5")
    assert document["derivative"][2] == 0.0  # abs'(0) = relu'(0) = 0 by convention
    assert document["warnings"] == ["the derivative takes a kink's convention at 1 of 5 points "
                                    "(the first at x = 0; see Conventions at kinks in the "
                                    "README)"]
    assert run_json("sweep", "abs(x)", "--x", "-1:1", "--points", "4")["warnings"] == []
    assert run_json("sweep", "relu(y) + x", "--x", "-1:1", "--y", "0",
                    "--points", "5")["warnings"] == []


@pytest.mark.parametrize("name", ["value", "derivative"])
def test_sweep_csv_columns_keep_distinct_names_when_the_variable_shares_one(name):
    result = invoke("sweep", f"{name}^2", "--at", f"{name}=-1:1", "--points", "3",
                    "--format", "csv")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == f"{name},output_value,output_derivative"
    # (x, x**2, 2x) at -1, 0, 1
    assert [[float(c) for c in line.split(",")] for line in lines[1:]] == [
        [-1.0, 1.0, -2.0], [0.0, 0.0, 0.0], [1.0, 1.0, 2.0]]


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


@pytest.mark.parametrize(("args", "named"), [
    (["--x", "abc"], "e.g. --x -3:3 (--x has a value, not a range)"),
    (["--x", "1", "--y", "2"], "e.g. --y -3:3 (--x, --y have values, not ranges)"),
    ([], "no values were given"),
    (["--x", "1:2", "--y", "3:4"], "not 2 (x, y)"),
])
def test_a_sweep_without_exactly_one_range_says_what_it_got(args, named):
    line = one_error_line(invoke("sweep", "x*y", *args))
    assert "START:STOP" in line and named in line


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


def _y_labels(plot: str) -> list[str]:
    return [line.split("┤")[0].strip() for line in plot.splitlines() if "┤" in line]


@pytest.mark.parametrize(("text", "span", "largest"), [
    ("exp(x)", "0:200", math.exp(200)), ("x^40", "-100:100", 100.0**40),
    ("1e-30*x", "-1:1", 1e-30), ("exp(x)", "0:150", math.exp(150))])
def test_sweep_plot_of_huge_or_tiny_numbers_has_short_labels_and_a_curve(text, span, largest):
    """plotext wrote every digit of these (66 of them at e^150, and the canvas was blank at
    e^200): the labels are now round numbers short enough to leave the plot its width."""
    result = invoke("sweep", text, "--x", span, env={"COLUMNS": "60"})
    assert result.exit_code == 0, result.stderr
    labels = _y_labels(result.stdout)
    assert len(labels) >= 2 and all(len(label) <= 7 for label in labels), labels
    numbers = [float(label) for label in labels]
    assert max(numbers) <= largest * 1.0001 and max(numbers) >= largest / 10
    assert numbers == sorted(numbers, reverse=True)
    canvas = [line.split("┤" if "┤" in line else "│")[1] for line in result.stdout.splitlines()
              if line.strip().startswith(("│", *labels)) and ("┤" in line or "│" in line)]
    assert sum(1 for line in canvas if line.strip(" │")) >= 3, result.stdout


def test_round_ticks_of_one_axis_share_one_notation():
    from backprop_cli.render.plot import round_ticks

    assert round_ticks(0.0, 1.2e6) == ([0.0, 500000.0, 1000000.0], ["0", "5e5", "1e6"])
    assert round_ticks(0.0, 4.0)[1] == ["0", "1", "2", "3", "4"]
    assert round_ticks(1e6, 1e6 + 1e-9) is None  # finer than float64's spacing there


@given(st.floats(-1e300, 1e300), st.floats(1e-300, 1e300))
def test_round_ticks_lie_in_the_range_and_their_labels_read_back(low, span):
    from backprop_cli.render.plot import round_ticks

    high = low + span
    assume(high > low and math.isfinite(high))
    ticks = round_ticks(low, high)
    if ticks is None:
        return
    positions, labels = ticks
    step = (high - low) / 5
    assert 1 <= len(positions) <= 6 and len(set(labels)) == len(labels)
    for position, label in zip(positions, labels, strict=True):
        assert low - step * 1e-6 <= position <= high + step * 1e-6
        assert math.isclose(float(label), position, abs_tol=step * 1e-6, rel_tol=1e-12)


def test_sweep_plot_as_a_real_piped_process():
    env = {k: v for k, v in os.environ.items() if k not in PLAIN}
    completed = subprocess.run(
        [backprop_command(), "sweep", "f = x^2", "--x", "-1:3", "--points", "50"],
        capture_output=True, text=True, timeout=60, env=env, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "\x1b[" not in completed.stdout
    assert "df/dx" in completed.stdout
    assert completed.stderr == ""


def test_a_sweep_calling_sympy_functions_stays_on_one_thread():
    # mpmath's working precision is one global shared by all threads, and SymPy's per-call
    # time limit is a main-thread signal: such a program must never run side by side.
    from backprop_cli.sweep import _threads

    points = 1_000_000
    assert _threads(build_graph(parse_program("beta(x, 2) + x")), points) == 1
    assert _threads(build_graph(parse_program("tanh(x) + x")), points) == (
        2 if len(os.sched_getaffinity(0)) > 1 else 1)


def test_a_tight_memory_budget_keeps_a_sweep_on_one_thread():
    # A second thread maps its own stack and malloc arena for the rest of the run: under a
    # small budget that space is what a long sweep needs to finish.
    from backprop_cli import budget
    from backprop_cli.sweep import _threads

    graph = build_graph(parse_program("tanh(x) + x"))
    with budget.enforced(budget.Budget(60, 256 * 1024**2)):
        assert _threads(graph, 1_000_000) == 1


def test_ops_computed_in_python_per_element_are_the_ones_kept_on_one_thread():
    # The oracle is the array backend itself: the ops whose forward or partial reaches its
    # per-element Python functions are exactly the ones a sweep keeps on one thread.
    from backprop_cli.backends import arrays
    from backprop_cli.backends.arrays import ArrayBackend
    from backprop_cli.ops import OPS
    from backprop_cli.sweep import PYTHON_PER_ELEMENT

    calls = []
    originals = arrays._erf, arrays._erfc
    arrays._erf = lambda a: (calls.append(1), originals[0](a))[1]
    arrays._erfc = lambda a: (calls.append(1), originals[1](a))[1]
    try:
        backend = ArrayBackend()
        found = set()
        for name, entry in OPS.items():
            if entry.calling_convention == 0:
                continue
            forward, partials = entry.bind(backend)
            args = [np.linspace(0.5, 0.9, 4)] * entry.calling_convention
            calls.clear()
            with np.errstate(all="ignore"):
                out = forward(*args)
                partials(*args, out)
            if calls:
                found.add(name)
    finally:
        arrays._erf, arrays._erfc = originals
    assert found == PYTHON_PER_ELEMENT


def test_two_threads_never_turn_away_a_sweep_that_one_thread_takes(monkeypatch):
    # The work limit counts one thread's chunks: two threads' smaller chunks are the same
    # work. 6,000,000 points of a 300-node chain are within the limit.
    import backprop_cli.sweep as sweeping

    chain = "\n".join(["a0 = tanh(x)"] + [f"a{k} = tanh(a{k - 1})" for k in range(1, 300)])
    monkeypatch.setattr(sweeping, "_chunked_pass",
                        lambda graph, wrt, length, *rest: (np.zeros(length), np.zeros(length)))
    assert sweeping.sweep(chain, {}, "x", -1, 1, 6_000_000).points == 6_000_000


def test_a_sweep_stopped_by_its_budget_leaves_no_thread_running():
    # The points above 0 are slow (sin of numbers near 1e300), so the main thread has long
    # finished its half and waits for the other when the time limit fires.
    import threading

    from backprop_cli.deadline import time_limit

    text = "\n".join(["h = max(x, 0)*1e300", "a0 = sin(h)"]
                     + [f"a{k} = sin(h + a{k - 1})" for k in range(1, 80)])
    with pytest.raises(TimeoutError), time_limit(0.5, TimeoutError):
        sweep(text, {}, "x", -1, 1, 400_000)
    assert [t.name for t in threading.enumerate() if t.name == "sweep"] == []


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
    # One chunk of everything gives the very same numbers as the sweep's chunks, which two
    # threads share (13 chunks: six and seven).
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


def test_a_sweep_range_wider_than_float64_says_so():
    """-1e308:1e308 goes from a smaller to a larger finite number; its width does not fit."""
    line = one_error_line(invoke("sweep", "x", "--x", "-1e308:1e308"))
    assert "wider than float64 can hold" in line
    halves = [invoke("sweep", "x", "--x", span, "--points", "3", "--format", "csv")
              for span in ("-1e308:0", "0:1e308")]
    assert [h.exit_code for h in halves] == [0, 0]


def test_sweep_error_in_json_mode_is_an_error_document():
    result = invoke("sweep", "x^2", "--x", "3:-1", "--json")
    one_error_line(result)
    assert strict_json(result.stdout)["ok"] is False


def test_a_matrix_wider_than_the_terminal_is_shown_in_whole_columns():
    """A Hessian of 8 variables at 80 columns cut every cell and label to `0.177…`, `W[2,…`
    (exit 0); it is shown as tables of whole columns, each with the row labels."""
    args = ["hessian", "a*b*c*d*e1*f*g*h", *[item for k, name in enumerate(
        ("a", "b", "c", "d", "e1", "f", "g", "h")) for item in (f"--{name}", f"{1.1 + k:.1f}")]]
    shown = CliRunner().invoke(app, args, env={"COLUMNS": "80"}).stdout
    assert "…" not in shown
    assert all(len(line) <= 80 for line in shown.splitlines())
    assert "Hessian, columns 1–" in shown and "of 8" in shown
    values = [1.1 + k for k in range(8)]
    product = math.prod(values)
    for i in range(8):
        for j in range(8):  # ∂²(abc...)/∂i∂j: the product without i and j (0 on the diagonal)
            expected = 0.0 if i == j else product / (values[i] * values[j])
            assert f"{expected:.6g}" in shown
