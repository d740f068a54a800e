"""The op table: for each op, its forward function and its local partials side by side.

Calling conventions (chosen so the engine's loops need no per-node packing):
- unary ops:    forward(a) -> out;        partial(a, out) -> d out/d a
- binary ops:   forward(a, b) -> out;     partial(a, b, out) -> (d out/d a, d out/d b)
- n-ary ops:    forward(*args) -> out;    partial(args, out) -> tuple of partials

Forward functions return IEEE values (inf, nan) instead of raising where the math has an answer;
`explain` turns a non-finite result into a status and a message that names the offending input.
Functions that the table lacks come from SymPy: their forward and partials are compiled from
SymPy's own derivative (`fdiff`) once per function.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from .errors import ParseError

INF = math.inf
NAN = math.nan
UNKNOWN_RULE = "unknown to SymPy"
UNEVALUABLE_RULE = "not evaluable numerically"


@dataclass(frozen=True)
class Op:
    """One operation: how to compute it, differentiate it, print it and explain its failures."""

    name: str
    arity: int  # 1, 2, or 0 for "two or more"
    forward: Callable
    partial: Callable
    formula: str
    rules: tuple[str, ...]
    doc: str
    test_point: tuple[float, ...]
    sympy: Callable | None = None
    kink: Callable | None = None
    explain: Callable | None = None
    min_args: int = field(default=0)

    @property
    def is_variadic(self) -> bool:
        return self.arity == 0

    @property
    def rule_reads_constants(self) -> bool:
        """Whether the rule text depends on constant inputs (x**2 → 2*x rather than a formula)."""
        return self.name == "pow"

    def render_formula(self, ids: list[str]) -> str:
        """The node's formula in terms of its input ids."""
        if self.is_variadic:
            return f"{self.name}({', '.join(ids)})"
        return self.formula.format(*ids)

    def render_rule(self, index: int, ids: list[str], constants: list[float | None]) -> str:
        """The symbolic local partial d(node)/d(input `index`), in terms of input ids."""
        if self.name == "pow" and index == 0 and constants[1] is not None:
            return _power_rule(ids[0], constants[1])
        if self.is_variadic:
            return self.rules[0].format(ids[index], self.name)
        return self.rules[index].format(*ids)


def _power_rule(base: str, exponent: float) -> str:
    lowered = exponent - 1
    c = _short(exponent)
    if lowered == exponent:  # exponent - 1 is not representable: keep it symbolic
        return f"{c}*{base}**({c} - 1)"
    if lowered == 0:
        return c
    if lowered == 1:
        return f"{c}*{base}"
    return f"{c}*{base}**{_short(lowered) if lowered > 0 else '(' + _short(lowered) + ')'}"


def _short(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


# ----------------------------------------------------------------------------------------------
# Forward functions with IEEE results at poles and domain edges


def _div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def _pow(a: float, b: float) -> float:
    if a < 0 and math.isfinite(b) and not b.is_integer():
        return NAN
    try:
        return a**b
    except ZeroDivisionError:
        return INF
    except OverflowError:
        return -INF if a < 0 and b.is_integer() and b % 2 == 1 else INF


def _pow_partial(a: float, b: float, out: float) -> tuple[float, float]:
    if b == 0:
        d_base = 0.0
    else:
        try:
            d_base = b * a ** (b - 1)
        except (ZeroDivisionError, OverflowError):
            # |a**(b-1)| is infinite; its sign is negative only for a < 0 and odd b - 1.
            negative = a < 0 and (b - 1).is_integer() and (b - 1) % 2 == 1
            d_base = math.copysign(INF, b) * (-1.0 if negative else 1.0)
        if isinstance(d_base, complex):
            d_base = NAN
    if a > 0:
        d_exponent = out * math.log(a)
    elif a == 0 and b >= 0:
        d_exponent = 0.0
    else:
        d_exponent = NAN
    return d_base, d_exponent


def _exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        return INF


def _log(a: float) -> float:
    if a > 0:
        return math.log(a)
    return -INF if a == 0 else NAN


def _logb(a: float, b: float) -> float:
    return _div(_log(a), _log(b))


def _logb_partial(a: float, b: float, out: float) -> tuple[float, float]:
    log_b = _log(b)
    return _div(1.0, a * log_b), _div(-_log(a), b * log_b * log_b)


def _sqrt(a: float) -> float:
    return math.sqrt(a) if a >= 0 else NAN


def _sqrt_partial(a: float, out: float) -> float:
    return 0.5 / out if out else INF


def _guard(function: Callable[[float], float]) -> Callable[[float], float]:
    def guarded(a: float) -> float:
        try:
            return function(a)
        except ValueError:
            return NAN
        except OverflowError:
            return INF if a > 0 else -INF if function is not math.cosh else INF

    return guarded


def _atanh(a: float) -> float:
    if abs(a) == 1:
        return math.copysign(INF, a)
    return math.atanh(a) if abs(a) < 1 else NAN


def _sigmoid(a: float) -> float:
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    z = math.exp(a)
    return z / (1.0 + z)


def _sech2(a: float, out: float) -> float:
    # 1 - tanh(a)**2 written as 4e^(-2|a|) / (1 + e^(-2|a|))**2: no cancellation for large |a|.
    t = math.exp(-2.0 * abs(a))
    return 4.0 * t / ((1.0 + t) * (1.0 + t))


def _sigmoid_partial(a: float, out: float) -> float:
    # sigmoid(a) * sigmoid(-a) equals out * (1 - out) without cancellation when out is near 1.
    return _sigmoid(a) * _sigmoid(-a)


def _softplus(a: float) -> float:
    return math.log1p(math.exp(-abs(a))) + max(a, 0.0)


def _relu(a: float) -> float:
    return 0.0 if a <= 0 else a  # NaN stays NaN (IEEE 754, as PyTorch)


def _max(*args: float) -> float:
    top = max(args)
    return math.nan if any(a != a for a in args) else top


def _min(*args: float) -> float:
    low = min(args)
    return math.nan if any(a != a for a in args) else low


def _extreme_partial(args: tuple, out: float) -> tuple[float, ...]:
    ties = sum(1 for a in args if a == out)
    share = 1.0 / ties if ties else NAN
    return tuple(share if a == out else 0.0 for a in args)


def _inverse_sqrt(value: float) -> float:
    if value > 0:
        return 1.0 / math.sqrt(value)
    return INF if value == 0 else NAN


# ----------------------------------------------------------------------------------------------
# Kinks: points where the derivative does not exist and a convention picks the value


def _at_zero(a: float, *_: float) -> str | None:
    return "derivative taken as 0 at 0 (PyTorch convention)" if a == 0 else None


def _sqrt_kink(a: float) -> str | None:
    return "derivative is +inf at 0" if a == 0 else None


def _pow_kink(a: float, b: float) -> str | None:
    if a == 0 and b == 0:
        return "0**0 taken as 1 (PyTorch convention)"
    if a == 0 and 0 < b < 1:
        return "derivative is +inf at 0"
    return None


def _tie(extreme: Callable) -> Callable:
    def kink(*args: float) -> str | None:
        chosen = extreme(args)
        if sum(1 for a in args if a == chosen) > 1:
            return "tie: the derivative is split equally between the tied inputs"
        return None

    return kink


# ----------------------------------------------------------------------------------------------
# Explanations of non-finite results: (status, message)


def _value(x: float) -> str:
    return f"{x:.6g}"


def _explain_log(a: float, *rest: float) -> tuple[str, str]:
    if rest and (rest[0] <= 0 or rest[0] == 1):
        return "undefined", f"log base must be positive and not 1 (base = {_value(rest[0])})"
    if a == 0:
        return "infinite", "log(0) is -inf"
    return "undefined", f"log of a negative number ({_value(a)})"


def _explain_div(a: float, b: float) -> tuple[str, str]:
    if b == 0 and a == 0:
        return "undefined", "0/0 is undefined"
    if b == 0:
        return "infinite", f"division by zero ({_value(a)}/0)"
    return "overflow", "result overflows float64"


def _explain_pow(a: float, b: float) -> tuple[str, str]:
    if a < 0 and not b.is_integer():
        return "undefined", f"negative base {_value(a)} to a non-integer power {_value(b)}"
    if a == 0 and b < 0:
        return "infinite", f"0 to a negative power ({_value(b)})"
    return "overflow", f"{_value(a)}**{_value(b)} overflows float64"


def _explain_domain(condition: str) -> Callable:
    def explain(a: float) -> tuple[str, str]:
        return "undefined", f"{condition} (input = {_value(a)})"

    return explain


def _explain_atanh(a: float) -> tuple[str, str]:
    if abs(a) == 1:
        return "infinite", f"atanh({_value(a)}) is infinite"
    return "undefined", f"atanh needs -1 < input < 1 (input = {_value(a)})"


# ----------------------------------------------------------------------------------------------
# SymPy builders, used by symbolic checks (imported lazily: SymPy is slow to import)


def _sp():
    import sympy

    return sympy


def _sympy_unary(name: str) -> Callable:
    def build(a):
        return getattr(_sp(), name)(a, evaluate=False)

    return build


# ----------------------------------------------------------------------------------------------
# The table


def _unary(name, forward, partial, rule, doc, point, sympy_name=None, kink=None, explain=None):
    return Op(
        name=name,
        arity=1,
        forward=forward,
        partial=partial,
        formula=f"{name}({{0}})",
        rules=(rule,),
        doc=doc,
        test_point=(point,),
        sympy=_sympy_unary(sympy_name or name),
        kink=kink,
        explain=explain,
    )


def _build_table() -> dict[str, Op]:
    table = [
        Op("add", 2, lambda a, b: a + b, lambda a, b, out: (1.0, 1.0), "{0} + {1}", ("1", "1"),
           "addition a + b", (0.7, -1.3), sympy=lambda a, b: _sp().Add(a, b, evaluate=False)),
        Op("sub", 2, lambda a, b: a - b, lambda a, b, out: (1.0, -1.0), "{0} - {1}", ("1", "-1"),
           "subtraction a - b", (0.7, -1.3),
           sympy=lambda a, b: _sp().Add(a, _sp().Mul(-1, b, evaluate=False), evaluate=False)),
        Op("mul", 2, lambda a, b: a * b, lambda a, b, out: (b, a), "{0}*{1}", ("{1}", "{0}"),
           "multiplication a*b (partials are the other factor, never out/a)", (0.7, -1.3),
           sympy=lambda a, b: _sp().Mul(a, b, evaluate=False)),
        Op("div", 2, _div, lambda a, b, out: (_div(1.0, b), _div(-out, b)), "{0}/{1}",
           ("1/{1}", "-{0}/{1}**2"), "division a/b", (0.7, -1.3),
           sympy=lambda a, b: _sp().Mul(a, _sp().Pow(b, -1, evaluate=False), evaluate=False),
           explain=_explain_div),
        Op("pow", 2, _pow, _pow_partial, "{0}**{1}", ("{1}*{0}**({1} - 1)", "{0}**{1}*log({0})"),
           "power a**b (also a^b); 0**0 = 1", (1.3, 2.7),
           sympy=lambda a, b: _sp().Pow(a, b, evaluate=False), kink=_pow_kink,
           explain=_explain_pow),
        Op("neg", 1, lambda a: -a, lambda a, out: -1.0, "-{0}", ("-1",), "negation -a", (0.7,),
           sympy=lambda a: _sp().Mul(-1, a, evaluate=False)),
        Op("id", 1, lambda a: a, lambda a, out: 1.0, "{0}", ("1",),
           "a named copy (b = a)", (0.7,), sympy=lambda a: a),
        _unary("exp", _exp, lambda a, out: out, "exp({0})", "exponential e**a", 0.4),
        _unary("log", _log, lambda a, out: _div(1.0, a), "1/{0}", "natural logarithm", 1.7,
               explain=_explain_log),
        Op("logb", 2, _logb, _logb_partial, "log({0}, {1})",
           ("1/({0}*log({1}))", "-log({0})/({1}*log({1})**2)"),
           "logarithm log(a, b) of a to base b", (2.5, 3.0),
           sympy=lambda a, b: _sp().log(a) / _sp().log(b), explain=_explain_log),
        _unary("sqrt", _sqrt, _sqrt_partial, "1/(2*sqrt({0}))", "square root; sqrt'(0) = +inf",
               1.7, kink=_sqrt_kink, explain=_explain_domain("sqrt of a negative number")),
        _unary("abs", abs, lambda a, out: (a > 0) - (a < 0) + 0.0, "sign({0})",
               "absolute value; abs'(0) = 0", -0.7, sympy_name="Abs", kink=_at_zero),
        _unary("sin", _guard(math.sin), lambda a, out: math.cos(a), "cos({0})", "sine", 0.7),
        _unary("cos", _guard(math.cos), lambda a, out: -math.sin(a), "-sin({0})", "cosine", 0.7),
        _unary("tan", _guard(math.tan), lambda a, out: 1.0 + out * out, "1 + tan({0})**2",
               "tangent", 0.7),
        _unary("asin", _guard(math.asin), lambda a, out: _inverse_sqrt(1.0 - a * a),
               "1/sqrt(1 - {0}**2)", "arcsine", 0.3,
               explain=_explain_domain("asin needs -1 <= input <= 1")),
        _unary("acos", _guard(math.acos), lambda a, out: -_inverse_sqrt(1.0 - a * a),
               "-1/sqrt(1 - {0}**2)", "arccosine", 0.3,
               explain=_explain_domain("acos needs -1 <= input <= 1")),
        _unary("atan", math.atan, lambda a, out: 1.0 / (1.0 + a * a), "1/(1 + {0}**2)",
               "arctangent", 0.7),
        _unary("sinh", _guard(math.sinh), lambda a, out: _guard(math.cosh)(a), "cosh({0})",
               "hyperbolic sine", 0.7),
        _unary("cosh", _guard(math.cosh), lambda a, out: _guard(math.sinh)(a), "sinh({0})",
               "hyperbolic cosine", 0.7),
        _unary("tanh", math.tanh, _sech2, "1 - tanh({0})**2",
               "hyperbolic tangent", 0.7),
        _unary("asinh", math.asinh, lambda a, out: 1.0 / math.sqrt(a * a + 1.0),
               "1/sqrt({0}**2 + 1)", "inverse hyperbolic sine", 0.7),
        _unary("acosh", _guard(math.acosh), lambda a, out: _inverse_sqrt(a * a - 1.0),
               "1/sqrt({0}**2 - 1)", "inverse hyperbolic cosine", 1.8,
               explain=_explain_domain("acosh needs input >= 1")),
        _unary("atanh", _atanh, lambda a, out: _div(1.0, 1.0 - a * a), "1/(1 - {0}**2)",
               "inverse hyperbolic tangent", 0.4, explain=_explain_atanh),
        Op("sigmoid", 1, _sigmoid, _sigmoid_partial, "sigmoid({0})",
           ("sigmoid({0})*(1 - sigmoid({0}))",), "logistic sigmoid 1/(1 + exp(-a))", (0.7,),
           sympy=lambda a: 1 / (1 + _sp().exp(-a))),
        Op("relu", 1, _relu, lambda a, out: 1.0 if a > 0 else 0.0, "relu({0})",
           ("(1 if {0} > 0 else 0)",), "rectified linear unit max(a, 0); relu'(0) = 0", (0.7,),
           sympy=lambda a: _sp().Max(0, a), kink=_at_zero),
        Op("softplus", 1, _softplus, lambda a, out: _sigmoid(a), "softplus({0})",
           ("sigmoid({0})",), "softplus log(1 + exp(a))", (0.7,),
           sympy=lambda a: _sp().log(1 + _sp().exp(a))),
        Op("max", 0, _max, _extreme_partial, "", ("(1 if {0} is the {1} else 0; ties split)",),
           "largest of two or more arguments; ties split equally", (0.3, 1.1, -0.4),
           sympy=lambda *args: _sp().Max(*args), kink=_tie(max), min_args=2),
        Op("min", 0, _min, _extreme_partial, "", ("(1 if {0} is the {1} else 0; ties split)",),
           "smallest of two or more arguments; ties split equally", (0.3, 1.1, -0.4),
           sympy=lambda *args: _sp().Min(*args), kink=_tie(min), min_args=2),
    ]
    return {op.name: op for op in table}


OPS: dict[str, Op] = _build_table()

# Names a user may call, and the op each resolves to (log with two arguments is logb).
FUNCTIONS = {name for name, op in OPS.items() if op.name not in ("add", "sub", "mul", "div",
                                                                  "pow", "neg", "id", "logb")}
ALIASES = {"ln": "log", "Abs": "abs", "Max": "max", "Min": "min", "logistic": "sigmoid"}


def lookup(name: str, missing_ok: bool = False, count: int | None = None) -> Op | None:
    """The op a function name refers to: the table first, then SymPy's own functions.

    Graph op names of SymPy functions with several arities carry the count: `beta#2`.
    """
    name, _, arity = name.partition("#")
    name = ALIASES.get(name, name)
    if name in FUNCTIONS:
        return OPS[name]
    counts = sympy_arities(name)
    if counts and (count is None or count in counts):
        return sympy_op(name, int(arity) if arity else (count or counts[0]))
    if not missing_ok:
        raise ParseError(unknown_function_message(name))
    return None


def is_table_function(name: str) -> bool:
    """Whether `name` is a function of the op table itself (no SymPy lookup)."""
    return ALIASES.get(name, name) in FUNCTIONS


def unknown_function_message(name: str) -> str:
    """Why `name(...)` cannot be called: unknown, or known to SymPy but not usable."""
    try:
        import sympy

        known = name in sympy.functions.__all__
    except ImportError:  # pragma: no cover - sympy is a dependency
        known = False
    if known:
        return (f"SymPy's {name} cannot be used here (no derivative rule, or not a real "
                "function)")
    return f"unknown function {name!r} (to multiply, write {name}*(...))"


def _plural(count: int) -> str:
    return f"{count} argument" + ("" if count == 1 else "s")


def resolve(name: str, count: int) -> Op:
    """The op for a call of `name` with `count` arguments; wrong arity is a ParseError."""
    op = lookup(name)
    if op.name == "log" and count == 2:
        return OPS["logb"]
    if op.name in OPS:
        allowed = _allowed_counts(op)
    else:
        allowed = set(sympy_arities(name.partition("#")[0]))
        if count in allowed:
            return lookup(name, count=count)
    if count not in allowed:
        if len(allowed) == 1:
            wanted = _plural(next(iter(allowed)))
        elif isinstance(allowed, range):
            wanted = f"at least {_plural(allowed.start)}"
        else:
            wanted = " or ".join(map(str, sorted(allowed))) + " arguments"
        raise ParseError(f"{name}() takes {wanted}, not {count}")
    return op


def _allowed_counts(op: Op) -> set[int] | range:
    if op.name == "log":
        return {1, 2}
    if op.is_variadic:
        return range(op.min_args, 1_000_000)
    return {op.arity}


# ----------------------------------------------------------------------------------------------
# Functions SymPy knows and the table lacks: compiled once from SymPy's own derivative


_SYMPY_EXCLUDED = {"Piecewise", "Heaviside", "DiracDelta", "floor", "ceiling", "frac", "sign",
                   "re", "im", "arg", "conjugate", "Id", "real_root", "root", "sqrt", "exp",
                   "Max", "Min", "Abs", "log"}


@cache
def sympy_arities(name: str) -> tuple[int, ...]:
    """The argument counts (1 or 2) SymPy's function `name` accepts; () if it is not usable."""
    if not name.isascii() or not name.isidentifier() or name.startswith("_"):
        return ()
    if name in _SYMPY_EXCLUDED:
        return ()
    import sympy
    from sympy.core.function import FunctionClass

    if name not in sympy.functions.__all__:
        return ()
    function = getattr(sympy.functions, name)
    nargs = getattr(function, "nargs", None)
    if not isinstance(function, FunctionClass) or not isinstance(nargs, sympy.FiniteSet):
        return ()
    return tuple(sorted(int(n) for n in nargs if int(n) in (1, 2)))


@cache
def sympy_op(name: str, arity: int) -> Op | None:
    """An Op for SymPy's function `name` with `arity` arguments, or None if SymPy has no
    derivative with respect to any argument. A partial SymPy does not know is NaN, so
    differentiating through that argument is flagged rather than guessed."""
    import sympy

    function = getattr(sympy.functions, name)
    symbols = sympy.symbols(f"a0:{arity}", real=True)
    expression = function(*symbols)
    partials = []
    for symbol in symbols:
        try:
            partial = expression.diff(symbol)
        except (NotImplementedError, TypeError, ValueError, ArithmeticError):
            partial = None
        if partial is not None and partial.has(sympy.Derivative, sympy.Subs):
            partial = None
        partials.append(partial)
    if all(p is None for p in partials):
        return None
    modules = ["mpmath"]
    out = sympy.Symbol("out")
    forward = _real(sympy.lambdify(symbols, expression, modules))
    raw = [sympy.lambdify(symbols + (out,), p, modules) if p is not None else None
           for p in partials]
    usable = [f is not None and _evaluates(f, arity + 1) for f in raw]
    compiled = [_real(f) if ok else _unknown_partial for f, ok in zip(raw, usable, strict=True)]
    placeholders = {s: sympy.Symbol(f"{{{i}}}") for i, s in enumerate(symbols)}
    rules = tuple(str(p.xreplace(placeholders)) if ok else
                  (UNKNOWN_RULE if p is None else UNEVALUABLE_RULE)
                  for p, ok in zip(partials, usable, strict=True))
    formula = f"{name}(" + ", ".join(f"{{{i}}}" for i in range(arity)) + ")"
    partial = _unary_from(compiled[0]) if arity == 1 else _binary_from(compiled)
    if not _evaluates(sympy.lambdify(symbols, expression, modules), arity):
        return None
    suffix = f"#{arity}" if len(sympy_arities(name)) > 1 else ""
    return Op(name=name + suffix, arity=arity, forward=forward, partial=partial,
              formula=formula, rules=rules, doc=f"SymPy's {name} (rule from SymPy's derivative)",
              test_point=(0.7,) * arity, sympy=lambda *args: function(*args))


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


def _unknown_partial(*args: float) -> float:
    return NAN


FALLBACK_SECONDS = 1.0


def _real(function: Callable) -> Callable:
    """A real-valued, time-limited float function from a lambdified SymPy expression; any
    failure (no convergence, overflow, complex result, too slow) is NaN and gets flagged."""
    from .bounded import time_limit

    def real_valued(*args: float) -> float:
        try:
            with time_limit(FALLBACK_SECONDS):
                value = complex(function(*args))
        except Exception:  # mpmath raises many kinds; all mean "no real number here"
            return NAN
        return value.real if value.imag == 0 else NAN

    return real_valued


def _unary_from(d: Callable) -> Callable:
    return lambda a, out: d(a, out)


def _binary_from(ds: list[Callable]) -> Callable:
    d0, d1 = ds
    return lambda a, b, out: (d0(a, b, out), d1(a, b, out))


# ----------------------------------------------------------------------------------------------
# The same ops over NumPy arrays, for sweeps over many points: forward(*arrays) -> array and
# partial(*arrays, out) -> tuple of arrays. IEEE results (inf, nan) come from NumPy itself.


def vector_forms() -> dict[str, tuple[Callable, Callable]]:
    """Vectorised forward and partials of every op in OPS (built on first use: NumPy is
    imported only by commands that sweep)."""
    import numpy as np

    def where_pos(condition, value):
        return np.where(condition, value, 0.0)

    def np_pow(a, b):
        with np.errstate(all="ignore"):
            out = np.power(a, b)
        return np.where((a < 0) & (np.floor(b) != b), np.nan, out)

    def np_pow_partial(a, b, out):
        with np.errstate(all="ignore"):
            d_base = np.where(b == 0, 0.0, b * np.power(a, b - 1))
            d_exp = np.where(a > 0, out * np.log(np.where(a > 0, a, 1.0)),
                             np.where((a == 0) & (b >= 0), 0.0, np.nan))
        return d_base, d_exp

    def sigmoid(a):
        return 0.5 * (1.0 + np.tanh(0.5 * a))

    def extreme(choose):
        def forward_(*args):
            return choose(np.stack(np.broadcast_arrays(*args)), axis=0)

        def partial_(args, out):
            hits = [(np.asarray(a) == out).astype(float) for a in args]
            ties = sum(hits)
            with np.errstate(all="ignore"):
                return tuple(h / ties for h in hits)

        return forward_, partial_

    forms = {
        "add": (np.add, lambda a, b, out: (np.ones_like(out), np.ones_like(out))),
        "sub": (np.subtract, lambda a, b, out: (np.ones_like(out), -np.ones_like(out))),
        "mul": (np.multiply, lambda a, b, out: (b * np.ones_like(out), a * np.ones_like(out))),
        "div": (np.divide, lambda a, b, out: (1.0 / b, -out / b)),
        "pow": (np_pow, np_pow_partial),
        "neg": (np.negative, lambda a, out: -np.ones_like(out)),
        "id": (lambda a: a, lambda a, out: np.ones_like(out)),
        "exp": (np.exp, lambda a, out: out),
        "log": (np.log, lambda a, out: 1.0 / a),
        "logb": (lambda a, b: np.log(a) / np.log(b),
                 lambda a, b, out: (1.0 / (a * np.log(b)), -np.log(a) / (b * np.log(b) ** 2))),
        "sqrt": (np.sqrt, lambda a, out: 0.5 / out),
        "abs": (np.abs, lambda a, out: np.sign(a)),
        "sin": (np.sin, lambda a, out: np.cos(a)),
        "cos": (np.cos, lambda a, out: -np.sin(a)),
        "tan": (np.tan, lambda a, out: 1.0 + out * out),
        "asin": (np.arcsin, lambda a, out: 1.0 / np.sqrt(1.0 - a * a)),
        "acos": (np.arccos, lambda a, out: -1.0 / np.sqrt(1.0 - a * a)),
        "atan": (np.arctan, lambda a, out: 1.0 / (1.0 + a * a)),
        "sinh": (np.sinh, lambda a, out: np.cosh(a)),
        "cosh": (np.cosh, lambda a, out: np.sinh(a)),
        "tanh": (np.tanh, lambda a, out: 1.0 / np.cosh(a) ** 2),
        "asinh": (np.arcsinh, lambda a, out: 1.0 / np.sqrt(a * a + 1.0)),
        "acosh": (np.arccosh, lambda a, out: 1.0 / np.sqrt(a * a - 1.0)),
        "atanh": (np.arctanh, lambda a, out: 1.0 / (1.0 - a * a)),
        "sigmoid": (sigmoid, lambda a, out: sigmoid(a) * sigmoid(-a)),
        "relu": (lambda a: np.where(a > 0, a, np.where(np.isnan(a), a, 0.0)),
                 lambda a, out: where_pos(a > 0, 1.0)),
        "softplus": (lambda a: np.logaddexp(0.0, a),
                     lambda a, out: sigmoid(a)),
        "max": extreme(np.max),
        "min": extreme(np.min),
    }
    return forms


def vector_form(name: str) -> tuple[Callable, Callable]:
    """The vectorised forward and partial of an op; SymPy fallbacks are applied point by
    point (correct, not fast)."""
    forms = _vector_forms_cached()
    if name in forms:
        return forms[name]
    import numpy as np

    op = lookup(name)
    forward_scalar = np.vectorize(op.forward, otypes=[float])
    if op.arity == 1:
        partial_scalar = np.vectorize(op.partial, otypes=[float])
        return forward_scalar, partial_scalar
    first = np.vectorize(lambda a, b, out: op.partial(a, b, out)[0], otypes=[float])
    second = np.vectorize(lambda a, b, out: op.partial(a, b, out)[1], otypes=[float])
    return forward_scalar, lambda a, b, out: (first(a, b, out), second(a, b, out))


@cache
def _vector_forms_cached() -> dict[str, tuple[Callable, Callable]]:
    return vector_forms()
