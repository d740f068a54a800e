"""Oracles generated from the op table: each op's textbook `definition` (SymPy syntax, written in
its entry beside, not derived from, its forward and partials), evaluated by SymPy at 30 digits,
and central finite differences of the float64 forward. A new op is covered by these with no
edit here."""

from __future__ import annotations

import math
from functools import cache

import sympy as sp

from backprop_cli.ops import OPS, Op

RTOL_SYMPY = 1e-9
ATOL_SYMPY = 1e-15
EPS = 1e-6
RTOL_FD = 1e-3
ATOL_FD = 1e-5


def close(actual: float, expected: float, rtol: float, atol: float = 0.0) -> bool:
    """gradcheck's test: |actual - expected| <= atol + rtol * |expected|; inf equals inf."""
    if math.isinf(expected) or math.isinf(actual):
        return actual == expected
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    return abs(actual - expected) <= atol + rtol * abs(expected)


def user_ops() -> list[str]:
    """Ops the language can call (internal ops only appear inside derivative rules)."""
    return sorted(name for name, op in OPS.items() if not op.internal)


def arguments(op: Op, count: int) -> tuple[sp.Symbol, ...]:
    names = op.params if len(op.params) == count else tuple(f"a{k}" for k in range(count))
    return tuple(sp.Symbol(name, real=True) for name in names)


@cache
def _parsed(definition: str, params: tuple[str, ...]):
    symbols = {name: sp.Symbol(name, real=True) for name in params}
    return sp.sympify(definition, locals=symbols)


def definition(op: Op, args: list) -> sp.Expr:
    """The op's textbook definition applied to SymPy expressions `args`."""
    if op.is_variadic and op.definition.isidentifier():
        return getattr(sp, op.definition)(*args)
    expression = _parsed(op.definition, op.params)
    return expression.xreplace({sp.Symbol(name, real=True): arg
                                for name, arg in zip(op.params, args, strict=True)})


def at_point(expression: sp.Expr, values: dict) -> float:
    """The expression at the point, to 30 digits; a real number is required."""
    substitution = {symbol: sp.Float(value, 40) for symbol, value in values.items()}
    number = complex(sp.N(expression.xreplace(substitution), 30))
    assert abs(number.imag) <= 1e-20 * max(1.0, abs(number.real)), (expression, values)
    return number.real


def oracle_value(op: Op, point: tuple[float, ...]) -> float:
    symbols = arguments(op, len(point))
    return at_point(definition(op, list(symbols)), dict(zip(symbols, point, strict=True)))


def oracle_partials(op: Op, point: tuple[float, ...]) -> tuple[float, ...]:
    symbols = arguments(op, len(point))
    expression = definition(op, list(symbols))
    values = dict(zip(symbols, point, strict=True))
    return tuple(at_point(sp.diff(expression, symbol), values) for symbol in symbols)


def central_difference(function, args: tuple[float, ...], index: int) -> float:
    plus, minus = list(args), list(args)
    plus[index] += EPS
    minus[index] -= EPS
    return (function(*plus) - function(*minus)) / (2 * EPS)
