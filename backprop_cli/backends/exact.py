"""SymPy values: exact numbers (`1/3` stays 1/3, `tanh(1)` stays tanh(1)) or expressions in
real symbols.

With exact numbers the comparisons decide at once, so the kink conventions hold exactly as in
float64; at an exact 0, so do IEEE's: 1/0 = +inf, log(0) = -inf (SymPy alone says complex
infinity). With symbols comparisons become `Piecewise`, so SymPy can differentiate through
them. User input can make SymPy's arithmetic grow without bound: callers bound the time.
"""

from __future__ import annotations

import sympy

from .base import Backend

_NAMED = {"pi": sympy.pi, "e": sympy.E, "E": sympy.E, "nan": sympy.nan, "inf": sympy.oo}


def _decided(relation):
    """1 or 0 for a relation SymPy can decide, a Piecewise of it otherwise."""
    if relation is sympy.true:
        return sympy.Integer(1)
    if relation is sympy.false:
        return sympy.Integer(0)
    return sympy.Piecewise((1, relation), (0, True))


def _compare(relation):
    def compare(a, b):
        if a is sympy.nan or b is sympy.nan:
            return sympy.nan
        try:
            return _decided(relation(a, b))
        except TypeError:  # a comparison with a complex or undefined number
            return sympy.nan

    return compare


def _equal(a, b):
    if a is sympy.nan or b is sympy.nan:
        return sympy.nan
    if a == b:
        return sympy.Integer(1)
    difference = a - b
    if difference.is_zero:
        return sympy.Integer(1)
    if difference.is_zero is False:
        return sympy.Integer(0)
    return sympy.Piecewise((1, sympy.Eq(a, b)), (0, True))


def _zero(value) -> bool:
    return value.is_zero is True


def div(a, b):
    """a/b, with IEEE's signed infinities for a nonzero number over an exact 0 (SymPy alone
    gives complex infinity)."""
    if _zero(b) and a.is_number:
        if _zero(a) or a is sympy.nan:
            return sympy.nan
        return sympy.oo if a.is_positive else -sympy.oo if a.is_negative else a / b
    return a / b


def _power(evaluate: bool):
    def power(a, b):
        if _zero(a) and b.is_number and b.is_negative:
            return sympy.oo
        return sympy.Pow(a, b, evaluate=evaluate)

    return power


def log(a):
    return -sympy.oo if _zero(a) else sympy.log(a)


def log1p(a):
    return -sympy.oo if _zero(a + 1) else sympy.log(1 + a)


def real(function):
    """The function where its value is real; NaN where SymPy would give a complex number,
    as float64 does (log(-1) is undefined, not i*pi), or refuses numbers outside the
    function's domain (hermite(-3, x) raises ValueError)."""
    def real_valued(*args):
        try:
            value = function(*args)
        except (ValueError, ArithmeticError, TypeError):
            if all(getattr(a, "is_number", False) for a in args):
                return sympy.nan
            raise
        if value.is_number and (value is sympy.zoo or value.has(sympy.I)):
            return sympy.nan
        return value

    return real_valued


def atan2(a, b):
    """SymPy's atan2, and IEEE's atan2(0, 0) = 0."""
    if _zero(a) and _zero(b):
        return sympy.Integer(0)
    return sympy.atan2(a, b)


def undefined(value) -> bool:
    if isinstance(value, float):  # the engine's NaN for an op that failed
        return value != value
    return value is sympy.nan or (value.is_number and (value is sympy.zoo
                                                        or value.has(sympy.I)))


def where(c, a, b):
    if c.is_Number:
        if c is sympy.nan:
            return sympy.nan
        return b if c == 0 else a
    return sympy.Piecewise((b, sympy.Eq(c, 0)), (a, True))


def share(t, out, *args):
    chosen = _equal(t, out)
    if chosen.is_Number:
        if chosen == 0 or chosen is sympy.nan:
            return chosen
        return 1 / sum((_equal(a, out) for a in args), sympy.Integer(0))
    return sympy.Piecewise((1 / sum(_equal(a, out) for a in args), sympy.Eq(t, out)),
                           (0, True))


class ExactBackend(Backend):
    """SymPy numbers and expressions."""

    kind = "exact"

    def __init__(self, evaluate: bool = True) -> None:
        super().__init__()
        self.evaluate = evaluate
        functions = {
            "div": div, "pow": real(_power(evaluate)), "exp": sympy.exp, "log": real(log),
            "log1p": real(log1p), "expm1": lambda a: sympy.exp(a) - 1,
            "sqrt": real(sympy.sqrt), "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan,
            "asin": real(sympy.asin), "acos": real(sympy.acos), "atan": sympy.atan,
            "atan2": atan2, "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
            "asinh": sympy.asinh, "acosh": real(sympy.acosh), "atanh": real(sympy.atanh),
            "erf": sympy.erf, "erfc": sympy.erfc, "abs": sympy.Abs,
            "hypot": lambda a, b: sympy.sqrt(a**2 + b**2), "max": sympy.Max, "min": sympy.Min,
            "gt": _compare(lambda a, b: a > b), "ge": _compare(lambda a, b: a >= b),
            "eq": _equal, "sign": sympy.sign, "where": where, "share": share,
        }
        self.set_primitives(functions)

    def undefined_partials(self, code: int, partials, value):
        if not undefined(value):
            return None
        if code in (1, -1):
            return lambda *args: sympy.nan
        if code in (2, -2):
            return lambda *args: (sympy.nan, sympy.nan)
        return lambda args, out: (sympy.nan,) * len(args)

    def number(self, value: int | str):
        if isinstance(value, str):
            named = _NAMED.get(value)
            return named if named is not None else sympy.Rational(value)
        return sympy.Integer(value)

    def constant(self, value: float, text: str):
        """The literal as written: `0.1` is 1/10, `pi` is π."""
        named = _NAMED.get(text)
        return named if named is not None else sympy.Rational(text)

    def real_valued(self, function):
        """A SymPy function (a fallback op's) with complex values turned into NaN."""
        return real(function)

    def symbol(self, name: str):
        return sympy.Symbol(name, real=True)
