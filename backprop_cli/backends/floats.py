"""float64 scalars with IEEE 754 results where Python's `math` would raise.

Python raises on 1/0, on overflow and outside a function's domain; IEEE 754 (and NumPy and
PyTorch) give ±inf or NaN, with the sign of a zero deciding the sign of an infinity. These
functions give the IEEE answer, so every op written on them is IEEE-correct without a check of
its own. The engine still turns an exception into NaN, as a last resort.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .base import Backend

INF = math.inf
NAN = math.nan
_NAMED = {"pi": math.pi, "e": math.e, "E": math.e, "nan": NAN, "inf": INF}


def _odd_integer(b: float) -> bool:
    return math.isfinite(b) and float(b).is_integer() and b % 2 == 1


def div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def pow_(a: float, b: float) -> float:
    try:
        out = a**b
    except ZeroDivisionError:
        # 0 to a negative power: -inf for -0 and an odd integer power, else +inf.
        return math.copysign(INF, a) if _odd_integer(b) else INF
    except OverflowError:
        return -INF if a < 0 and _odd_integer(b) else INF
    return NAN if out.__class__ is complex else out


def exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        return INF


def expm1(a: float) -> float:
    try:
        return math.expm1(a)
    except OverflowError:
        return INF


def log(a: float) -> float:
    if a > 0:
        return math.log(a)
    return -INF if a == 0 else NAN


def log1p(a: float) -> float:
    if a > -1:
        return math.log1p(a)
    return -INF if a == -1 else NAN


def sqrt(a: float) -> float:
    return math.sqrt(a) if a >= 0 else NAN


def _nan_outside(function):
    def guarded(a: float) -> float:
        try:
            return function(a)
        except ValueError:
            return NAN

    return guarded


def sinh(a: float) -> float:
    try:
        return math.sinh(a)
    except OverflowError:
        return math.copysign(INF, a)


def cosh(a: float) -> float:
    try:
        return math.cosh(a)
    except OverflowError:
        return INF


def acosh(a: float) -> float:
    return math.acosh(a) if a >= 1 else NAN


def atanh(a: float) -> float:
    if -1 < a < 1:
        return math.atanh(a)
    return math.copysign(INF, a) if abs(a) == 1 else NAN


def asin(a: float) -> float:
    return math.asin(a) if -1 <= a <= 1 else NAN


def acos(a: float) -> float:
    return math.acos(a) if -1 <= a <= 1 else NAN


def maximum(*args: float) -> float:
    """The largest argument; NaN if any is NaN (IEEE 754 maximum, as PyTorch)."""
    if len(args) == 2:
        a, b = args
        if a >= b:
            return float(a)
        return float(b) if b > a else NAN
    top = max(args)
    return NAN if any(a != a for a in args) else float(top)


def minimum(*args: float) -> float:
    if len(args) == 2:
        a, b = args
        if a <= b:
            return float(a)
        return float(b) if b < a else NAN
    low = min(args)
    return NAN if any(a != a for a in args) else float(low)


def gt(a: float, b: float) -> float:
    if a > b:
        return 1.0
    return 0.0 if a == a and b == b else NAN


def ge(a: float, b: float) -> float:
    if a >= b:
        return 1.0
    return 0.0 if a == a and b == b else NAN


def eq(a: float, b: float) -> float:
    if a == b:
        return 1.0
    return 0.0 if a == a and b == b else NAN


def sign(a: float) -> float:
    if a > 0:
        return 1.0
    if a < 0:
        return -1.0
    return 0.0 if a == 0 else NAN


def where(c: float, a: float, b: float) -> float:
    if c == 0:
        return float(b)
    return float(a) if c == c else NAN


def share(t: float, out: float, *args: float) -> float:
    """1/ties where t equals out (ties: how many arguments equal out), else 0."""
    if out != out or t != t:
        return NAN
    if t != out:
        return 0.0
    return 1.0 / sum(1 for a in args if a == out)


def abs_(a: float) -> float:
    return abs(a)


_NAN_PARTIALS = {
    1: lambda a, out: NAN, -1: lambda a, out: NAN,
    2: lambda a, b, out: (NAN, NAN), -2: lambda a, b, out: (NAN, NAN),
    0: lambda args, out: (NAN,) * len(args), -3: lambda args, out: (NAN,) * len(args),
}


class FloatBackend(Backend):
    """float64 scalars."""

    kind = "float"

    def __init__(self) -> None:
        super().__init__()
        functions = {
            "div": div, "pow": pow_, "exp": exp, "log": log, "log1p": log1p, "expm1": expm1,
            "sqrt": sqrt, "sin": _nan_outside(math.sin), "cos": _nan_outside(math.cos),
            "tan": _nan_outside(math.tan), "asin": asin, "acos": acos, "atan": math.atan,
            "atan2": math.atan2, "sinh": sinh, "cosh": cosh, "tanh": math.tanh,
            "asinh": math.asinh, "acosh": acosh, "atanh": atanh, "erf": math.erf,
            "erfc": math.erfc, "abs": abs_,
            "hypot": math.hypot, "max": maximum, "min": minimum, "gt": gt, "ge": ge, "eq": eq,
            "sign": sign, "where": where, "share": share,
        }
        self.set_primitives(functions)

    def undefined_partials(self, code: int, partials, value):
        return _NAN_PARTIALS[code] if value != value else None

    def number(self, value: int | str) -> float:
        if isinstance(value, str):
            named = _NAMED.get(value)
            return named if named is not None else float(Fraction(value))
        return float(value)

    def constant(self, value: float, text: str) -> float:
        return value
