"""Property tests: random programs drawn from the op table (tests/programs.py), against SymPy's
derivative of the ops' textbook definitions and against central differences."""

from __future__ import annotations

import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from programs import SYMBOLS, VARIABLES, away_from_kinks, points, programs

from backprop_cli import grad

EPS = 1e-6
RTOL_SYMPY = 1e-7
ATOL_SYMPY = 1e-9
RTOL_FD = 1e-3
ATOL_FD = 1e-5


def sympy_subs(point: dict[str, float]) -> dict:
    return {SYMBOLS[name]: sp.Float(value, 40) for name, value in point.items()}


def real(value) -> float:
    number = complex(value)
    assert abs(number.imag) <= 1e-20 * max(1.0, abs(number.real)), value
    return number.real


def close(actual: float, expected: float, rtol: float, atol: float) -> bool:
    return abs(actual - expected) <= atol + rtol * abs(expected)


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@SETTINGS
@given(programs(), points)
def test_forward_value_matches_sympy(program, point):
    text, expression = program
    assume(away_from_kinks(text, point))
    result = grad(text, point)
    expected = real(sp.N(expression.sym, 30, subs=sympy_subs(point)))
    assert close(result.value, expected, RTOL_SYMPY, ATOL_SYMPY), (text, point, expected)
    assert all(node.status == "ok" for node in result.nodes), text


@SETTINGS
@given(programs(), points)
def test_gradient_matches_sympy_and_central_differences(program, point):
    text, expression = program
    assume(away_from_kinks(text, point))
    result = grad(text, point)
    gradient = dict(result.gradient)
    subs = sympy_subs(point)
    for name in VARIABLES:
        engine = gradient.get(name, 0.0)
        symbolic = real(sp.N(sp.diff(expression.sym, SYMBOLS[name]), 30, subs=subs))
        assert close(engine, symbolic, RTOL_SYMPY, ATOL_SYMPY), (text, point, name, symbolic)
        plus, minus = dict(point), dict(point)
        plus[name] += EPS
        minus[name] -= EPS
        difference = (grad(text, plus).value - grad(text, minus).value) / (2 * EPS)
        assert close(engine, difference, RTOL_FD, ATOL_FD), (text, point, name, difference)
