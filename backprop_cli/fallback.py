"""Functions SymPy knows and the op table lacks, turned into ops once per function.

The forward value is SymPy's own function (evaluated with mpmath on floats, time-limited). The
local partials are SymPy's own derivative (`fdiff`), translated once into an entry written
against the backend, so a function such as `gamma` is differentiated, traced, printed and
differentiated again (Hessian) exactly like a table op. A partial SymPy does not know, or that
uses something the translation cannot express, is NaN, so differentiating through that
argument is flagged rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

from .deadline import time_limit
from .errors import BackpropError
from .ops import OPS, REAL, Op

FALLBACK_SECONDS = 1.0
_EXCLUDED = {"Piecewise", "Heaviside", "DiracDelta", "floor", "ceiling", "frac", "sign", "re",
             "im", "arg", "conjugate", "Id", "real_root", "root", "sqrt", "exp", "Max", "Min",
             "Abs", "log"}
# SymPy's names of functions the op table has under its own name.
_TABLE_NAMES = {"Abs": "abs", "Max": "max", "Min": "min", "sign": "sign"}


def is_sympy_function(name: str) -> bool:
    """Whether SymPy defines a function of this name (usable or not)."""
    if not name.isascii() or not name.isidentifier() or name.startswith("_"):
        return False
    import sympy

    return name in sympy.functions.__all__


@cache
def sympy_arities(name: str) -> tuple[int, ...]:
    """The argument counts (1 or 2) SymPy's function `name` accepts; () if it is not usable."""
    return tuple(n for n in raw_arities(name) if sympy_op(name, n) is not None)


def node_name(name: str, arity: int) -> str:
    """The graph's op name of SymPy's `name` with `arity` arguments: `beta#2` when SymPy's
    function takes several counts."""
    return f"{name}#{arity}" if len(raw_arities(name)) > 1 else name


@cache
def raw_arities(name: str) -> tuple[int, ...]:
    """The argument counts (1 or 2) of SymPy's function `name`, if it is a function class."""
    if name in _EXCLUDED or name in OPS or not is_sympy_function(name):
        return ()
    import sympy
    from sympy.core.function import FunctionClass

    function = getattr(sympy.functions, name)
    nargs = getattr(function, "nargs", None)
    if not isinstance(function, FunctionClass) or not isinstance(nargs, sympy.FiniteSet):
        return ()
    return tuple(sorted(int(n) for n in nargs if int(n) in (1, 2)))


def sympy_op_for_node(node_op: str) -> Op:
    """The op behind a graph node named `erfc` or `beta#2`."""
    name, _, count = node_op.partition("#")
    arities = raw_arities(name)
    found = sympy_op(name, int(count) if count else arities[0])
    if found is None:
        raise KeyError(node_op)
    return found


_BUILDING: set[tuple[str, int]] = set()
# Failures that say the run is out of time or memory, not that SymPy's function is unusable.
_EXHAUSTION = (TimeoutError, MemoryError, RecursionError, BackpropError)


def _usable(name: str, arity: int) -> bool:
    """Whether a derivative may call SymPy's `name` with `arity` arguments (a function whose
    own derivative refers back to itself, such as polygamma, is being built: it is usable)."""
    if arity not in raw_arities(name):
        return False
    return (name, arity) in _BUILDING or sympy_op(name, arity) is not None


@cache
def sympy_op(name: str, arity: int) -> Op | None:
    """An Op for SymPy's function `name` with `arity` arguments, or None when SymPy knows no
    derivative with respect to any argument or the function cannot be evaluated."""
    _BUILDING.add((name, arity))
    try:
        return _build(name, arity)
    except _EXHAUSTION:
        raise
    except Exception:  # SymPy's functions fail in every way on real symbols
        # (motzkin's ValueError, chebyshevt_root's AttributeError, multigamma's printer
        # error): such a function is not usable here, which the parser says in one line.
        return None
    finally:
        _BUILDING.discard((name, arity))


def _build(name: str, arity: int) -> Op | None:
    import sympy

    function = getattr(sympy.functions, name)
    symbols = sympy.symbols(f"a0:{arity}", real=True)
    expression = function(*symbols)
    derivatives = []
    for symbol in symbols:
        try:
            derivative = expression.diff(symbol)
        except _EXHAUSTION:
            raise
        except Exception:  # no derivative SymPy can give
            derivative = None
        if derivative is not None and derivative.has(sympy.Derivative, sympy.Subs):
            derivative = None
        derivatives.append(derivative)
    if all(d is None for d in derivatives):
        return None
    evaluate = sympy.lambdify(symbols, expression, ["mpmath"])
    if not _evaluates(evaluate, arity):
        return None
    out = sympy.Symbol("out")
    translated = [None if d is None else _translatable(d, symbols, out) for d in derivatives]
    unknown = frozenset(k for k, t in enumerate(translated) if t is None)
    unevaluable = frozenset(k for k in unknown if derivatives[k] is not None)
    float_forward = _real(evaluate)
    params = tuple(f"x{k}" for k in range(arity)) if arity > 1 else ("x",)
    return Op(name=node_name(name, arity), arity=arity,
              bind=_binder(function, float_forward, translated, symbols, out),
              doc=f"SymPy's {name} (rule from SymPy's derivative)",
              definition=f"{name}({', '.join(params)})", params=params,
              points=((0.7,) * arity,), domains=(REAL,) * arity, unknown_partials=unknown,
              unevaluable_partials=unevaluable)


def _binder(function, float_forward: Callable, translated: list, symbols, out) -> Callable:
    def bind(B):
        if B.kind == "float":
            forward = float_forward
        elif B.kind == "array":
            forward = B.pointwise(float_forward)
        elif B.kind == "exact":
            forward = B.real_valued(function)
        else:
            forward = None  # a trace records the call itself
        nan = B.number("nan")
        parts = [_compile(d, symbols, out, B) if d is not None else None for d in translated]
        parts = [p if p is not None else (lambda *values: nan) for p in parts]
        if len(parts) == 1:
            only = parts[0]
            return forward, (lambda a, result: only(a, result))
        first, second = parts
        return forward, (lambda a, b, result: (first(a, b, result), second(a, b, result)))

    return bind


class _Untranslatable(Exception):
    pass


def _translatable(derivative, symbols, out):
    """The derivative if the translation can express it (checked once, on a dry run)."""
    try:
        _compile(derivative, symbols, out, None)
    except _Untranslatable:
        return None
    return derivative


def _compile(expression, symbols, out, B) -> Callable:
    """A function (args..., out) -> value computing `expression` with backend B's operations
    (B None: only check that every part can be expressed)."""
    import sympy

    position = {symbol: k for k, symbol in enumerate(symbols)}

    def build(node) -> Callable:
        if node in position:
            k = position[node]
            return lambda values: values[k]
        if node == out:
            return lambda values: values[-1]
        if node.is_Number or node in (sympy.pi, sympy.E):
            if node.is_Number and not node.is_finite:
                raise _Untranslatable
            text = "pi" if node == sympy.pi else "e" if node == sympy.E else str(node)
            if B is None:
                return lambda values: None
            constant = B.number(text)
            return lambda values: constant
        if node.is_Add:
            terms = [build(arg) for arg in node.args]
            return lambda values: _sum(t(values) for t in terms)
        if node.is_Mul:
            numerator, denominator = node.as_numer_denom()
            if denominator != 1:
                top, bottom = build(numerator), build(denominator)
                return lambda values: B.div(top(values), bottom(values))
            factors = [build(arg) for arg in node.args]
            return lambda values: _product(f(values) for f in factors)
        if node.is_Pow:
            return _power(node, build)
        name = type(node).__name__
        table = _TABLE_NAMES.get(name, name)
        if table not in OPS and not _usable(name, len(node.args)):
            raise _Untranslatable
        arguments = [build(arg) for arg in node.args]
        op_name = table if table in OPS else node_name(name, len(node.args))
        return lambda values: B.call(op_name, *[a(values) for a in arguments])

    def _power(node, build) -> Callable:
        base, exponent = node.args
        b = build(base)
        if exponent == sympy.Rational(1, 2):
            return lambda values: B.sqrt(b(values))
        if exponent == -1:
            return lambda values: B.div(B.number(1), b(values))
        if exponent == sympy.Rational(-1, 2):
            return lambda values: B.div(B.number(1), B.sqrt(b(values)))
        if exponent == 2:
            return lambda values: _square(b(values))
        e = build(exponent)
        return lambda values: B.pow(b(values), e(values))

    compiled = build(expression)
    return lambda *values: compiled(values)


def _sum(terms):
    total = None
    for term in terms:
        total = term if total is None else total + term
    return total


def _product(factors):
    total = None
    for factor in factors:
        total = factor if total is None else total * factor
    return total


def _square(value):
    return value * value


def _evaluates(function: Callable, arity: int) -> bool:
    """Whether the compiled function runs at all (some SymPy printers emit unknown names)."""
    for point in ((0.7,) * arity, (1.3,) * arity, (2.0,) * arity):
        try:
            complex(function(*point))
            return True
        except NameError:
            return False
        except Exception:  # outside the function's domain: try another point
            continue
    return True


def _real(function: Callable) -> Callable:
    """A real-valued, time-limited float function from a lambdified SymPy expression; any
    failure (no convergence, overflow, complex result, too slow) is NaN and gets flagged."""

    def real_valued(*args: float) -> float:
        try:
            with time_limit(FALLBACK_SECONDS):
                value = complex(function(*args))
        except Exception:  # mpmath raises many kinds; all mean "no real number here"
            return math.nan
        # mpmath may reach a real value through complex arithmetic and keep a rounding
        # residue (besseli(-1, -0.5) = -0.2578943... - 8e-26j): a part 1e-15 of the real
        # one is that residue, far below float64's own rounding of the real part
        if value.imag == 0 or abs(value.imag) <= 1e-15 * abs(value.real):
            return value.real
        return math.nan

    return real_valued
