"""NumPy arrays: every primitive elementwise, with NumPy's broadcasting and IEEE results.

Callers run under `numpy.errstate(all="ignore")`: a pole or a domain edge is an inf or a NaN
in the result, never a warning.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .base import Backend

_NAMED = {"pi": math.pi, "e": math.e, "E": math.e, "nan": math.nan, "inf": math.inf}
_erf = np.frompyfunc(math.erf, 1, 1)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _float(array) -> np.ndarray:
    return np.asarray(array, dtype=float)


def _nan_where_either(a, b, values):
    return np.where(np.isnan(a) | np.isnan(b), np.nan, values)


def erf(a):
    return _float(_erf(a))


def erfc(a):
    return _float(_erfc(a))


def maximum(*args):
    out = args[0]
    for arg in args[1:]:
        out = np.maximum(out, arg)
    return out


def minimum(*args):
    out = args[0]
    for arg in args[1:]:
        out = np.minimum(out, arg)
    return out


def gt(a, b):
    return _nan_where_either(a, b, np.greater(a, b).astype(float))


def ge(a, b):
    return _nan_where_either(a, b, np.greater_equal(a, b).astype(float))


def eq(a, b):
    return _nan_where_either(a, b, np.equal(a, b).astype(float))


def sign(a):
    return np.sign(a)


def where(c, a, b):
    return np.where(np.isnan(c), np.nan, np.where(c == 0, b, a))


def share(t, out, *args):
    ties = sum(np.equal(a, out).astype(float) for a in args)
    chosen = np.where(np.equal(t, out), 1.0 / np.where(ties == 0, np.nan, ties), 0.0)
    return _nan_where_either(t, out, chosen)


class ArrayBackend(Backend):
    """float64 NumPy arrays (or NumPy scalars)."""

    kind = "array"

    def __init__(self) -> None:
        super().__init__()
        functions = {
            "div": np.divide, "pow": np.power, "exp": np.exp, "log": np.log,
            "log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt, "sin": np.sin,
            "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
            "atan": np.arctan, "atan2": np.arctan2, "sinh": np.sinh, "cosh": np.cosh,
            "tanh": np.tanh, "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
            "erf": erf, "erfc": erfc, "abs": np.abs, "hypot": np.hypot, "max": maximum,
            "min": minimum, "gt": gt, "ge": ge, "eq": eq, "sign": sign, "where": where,
            "share": share,
        }
        self.set_primitives(functions)

    def undefined_partials(self, code: int, partials, value):
        if isinstance(value, np.ndarray):
            square = value.dot(value)  # NaN exactly when some element is (a fast test)
            if square == square:
                return None
        elif value == value:
            return None
        undefined = np.isnan(value)

        def masked(*args):
            found = partials(*args)
            if code in (1, -1):
                return np.where(undefined, np.nan, found)
            return tuple(np.where(undefined, np.nan, d) for d in found)

        return masked

    def number(self, value: int | str):
        if isinstance(value, str):
            named = _NAMED.get(value)
            return np.float64(named if named is not None else float(Fraction(value)))
        return np.float64(value)

    def constant(self, value: float, text: str):
        return np.float64(value)

    def pointwise(self, function):
        """A float function applied element by element (functions NumPy lacks)."""
        vectorised = np.vectorize(function, otypes=[float])
        return lambda *arrays: vectorised(*arrays)
