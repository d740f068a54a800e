"""Oracles shared by the grading tests: published figures and SymPy reading student syntax."""

from __future__ import annotations

import math

import sympy as sp
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication,
    parse_expr,
    standard_transformations,
)

DIAMOND = "h1 = x*y; h2 = y*z; h = h1*h2; o = h*h"
DIAMOND_AT = {"x": 3.0, "y": 2.0, "z": 1.0}
DIAMOND_VALUES = {"x": 3, "y": 2, "z": 1, "h1": 6, "h2": 2, "h": 12, "o": 144}
DIAMOND_ADJOINTS = {"o": 1, "h": 24, "h1": 48, "h2": 144, "x": 96, "y": 288, "z": 288}

TANH = "x*y + tanh(x)"
TANH_DX = 2.0 + 1.0 - math.tanh(1.0) ** 2  # 2.419974...

ISSUE_EXPR = "x^2*(3x+1) - sin(x^2)"
ISSUE_RIGHT = "3x^2 + 2x(3x + 1 - cos(x^2))"
ISSUE_WRONG = "3x^2 + 2x(3x + 1 + cos(x^2))"

# ----------------------------------------------------------------------------------------------
# The SymPy oracle: student syntax (^, implicit products) read by SymPy's own parser.

_TRANSFORMATIONS = standard_transformations + (implicit_multiplication, convert_xor)
_T = sp.Symbol("t")
_FUNCTIONS = {"sigmoid": sp.Lambda(_T, 1 / (1 + sp.exp(-_T))), "abs": sp.Abs}


def sympy_of(text: str) -> sp.Expr:
    """A program or expression as one SymPy expression in real symbols."""
    known: dict = dict(_FUNCTIONS)
    expression = None
    for statement in text.replace("\n", ";").split(";"):
        if not statement.strip():
            continue
        name, _, rhs = statement.rpartition("=")
        expression = parse_expr(rhs.strip(), local_dict=known, transformations=_TRANSFORMATIONS)
        expression = expression.subs({s: sp.Symbol(s.name, real=True)
                                      for s in expression.free_symbols if not s.is_real})
        if name.strip():
            known[name.strip()] = expression
    return expression


def at_point(expression: sp.Expr, point: dict) -> float:
    values = {sp.Symbol(name, real=True): sp.Float(value, 30) for name, value in point.items()}
    number = complex(sp.N(expression.subs(values), 30))
    assert abs(number.imag) <= 1e-12 * max(1.0, abs(number.real)), number
    return number.real


def true_derivative(expr: str, wrt: str, point: dict) -> float:
    return at_point(sp.diff(sympy_of(expr), sp.Symbol(wrt, real=True)), point)


def answer_value(answer: str, point: dict) -> float:
    return at_point(sympy_of(answer), point)


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
