"""The op table: each op's forward and local partials, written once against a backend.

An entry is a function `bind(B) -> (forward, partials)` registered with `@op(...)`. `B` is a
backend (backends/): float64 scalars, NumPy arrays, exact SymPy numbers, or a symbolic trace
that records expression trees. Inside an entry, values are combined with `+ - *`, with `/` where
the denominator cannot be 0, and with `B.div`, `B.pow` and the backend's functions (`B.exp`,
`B.where`, `B.gt`, ...) or other ops (`B.sigmoid`). Constants an entry returns as they are come
from `B.number`, so that they stay exact in exact mode. Python `if` on a value is not possible:
a trace cannot branch, so conventions at kinks are written with `B.where` and the comparison
ops, and an entry that branches fails the test suite.

Calling conventions, chosen so the engine's loops need no per-node packing:
- unary:   forward(a) -> out;      partials(a, out) -> d out/d a
- binary:  forward(a, b) -> out;   partials(a, b, out) -> (d out/d a, d out/d b)
- n-ary:   forward(*args) -> out;  partials(args, out) -> tuple of partials

Everything else about an op sits in its entry too: its documentation line, its textbook
`definition` in SymPy syntax (the oracle the generated tests compare against), test points and
argument domains, where its kinks are and which convention applies there (PyTorch's), and how a
non-finite value is explained. The engine, forward mode, sweeps, exact mode, `--check`, the rule
column, `explain`, LaTeX and the Hessian all derive from these entries.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import InputError, ParseError

INF = math.inf
NAN = math.nan


@dataclass(frozen=True)
class Domain:
    """Where an argument may be drawn: the open interval (low, high), away from `gap` if
    given; `scale` bounds the magnitude that random test programs feed in (exp-like growth
    needs a small one)."""

    low: float = -INF
    high: float = INF
    scale: float = 30.0
    gap: float | None = None

    def __contains__(self, value: float) -> bool:
        return self.low < value < self.high and value != self.gap


REAL = Domain()
MODERATE = Domain(scale=3.0)
POSITIVE = Domain(0.0)
UNIT = Domain(-1.0, 1.0)
ABOVE_ONE = Domain(1.0)
BASE = Domain(1.0, scale=10.0)
PERIODIC = Domain(scale=10.0)
NONZERO = Domain(gap=0.0)


@dataclass(frozen=True)
class Op:
    """One operation and everything known about it."""

    name: str
    arity: int  # number of arguments; 0 for "two or more"
    bind: Callable  # bind(B) -> (forward, partials)
    doc: str
    definition: str  # SymPy syntax over `params` (for "two or more": a SymPy function name)
    params: tuple[str, ...]
    points: tuple[tuple[float, ...], ...]  # inside every domain, away from kinks
    domains: tuple[Domain, ...]
    edges: Callable | None = None  # float args -> numbers that are 0 exactly at a kink
    convention: str | None = None  # what the derivative is taken to be at a kink
    conventions: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...] = ()
    kink: Callable | None = None  # float args -> note, when not simply "an edge is 0"
    explain: Callable | None = None  # float args -> (status, message) for a non-finite value
    internal: bool = False  # used by derivative rules; not callable from the language
    piecewise_constant: bool = False  # derivative 0 wherever it exists (comparisons)
    called_as: str | None = None  # logb is called as log(a, b)
    defaults: tuple[tuple[float, str], ...] = ()  # values of trailing optional arguments
    aliases: tuple[str, ...] = ()
    min_args: int = 2
    unknown_partials: frozenset[int] = field(default_factory=frozenset)
    # of those, the ones SymPy does give, in functions with no float evaluation here (meijerg)
    unevaluable_partials: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_variadic(self) -> bool:
        return self.arity == 0

    @property
    def calling_convention(self) -> int:
        """1 or 2 for the unary and binary conventions, 0 for the n-ary one."""
        return self.arity if self.arity in (1, 2) else 0

    def kink_note(self, *args: float) -> str | None:
        """The convention applied at these argument values, if they sit at a kink."""
        if self.kink is not None:
            return self.kink(*args)
        if self.edges is not None and self.convention is not None and any(
                e == 0 for e in self.edges(*args)):
            return self.convention
        return None


OPS: dict[str, Op] = {}
ARRAYS_ONLY_IN_GRAD = ("vectors, matrices and their ops (@, sum, softmax, ...) work in grad, "
                       "check --expect, explain, graph, forward, jacobian, hessian, sweep and "
                       "train; formula answers (check --answer), generating and "
                       "practising problems take scalar programs")


def op(name: str, *, doc: str, definition: str, params: tuple[str, ...] = ("x",),
       points: tuple = ((0.7,),), domains: tuple[Domain, ...] | None = None,
       arity: int | None = None, **details) -> Callable:
    """Register the entry `bind(B) -> (forward, partials)` under `name`."""
    count = len(params) if arity is None else arity

    def register(bind: Callable) -> Callable:
        OPS[name] = Op(name, count, bind, doc, definition, params,
                       tuple(tuple(float(v) for v in p) for p in points),
                       domains or (REAL,) * max(len(params), 1), **details)
        return bind

    return register


def _explain_domain(condition: str) -> Callable:
    def explain(a: float) -> tuple[str, str]:
        return "undefined", f"{condition} (input = {a:.6g})"

    return explain


def _explain_log(a: float, *base: float) -> tuple[str, str]:
    if base and (base[0] <= 0 or base[0] == 1):
        return "undefined", f"log base must be positive and not 1 (base = {base[0]:.6g})"
    if a == 0:
        return "infinite", "log(0) is -inf" if not base else "log(0, b) is infinite"
    return "undefined", f"log of a negative number ({a:.6g})"


def _explain_div(a: float, b: float) -> tuple[str, str]:
    if b == 0 and a == 0:
        return "undefined", "0/0 is undefined"
    if b == 0:
        return "infinite", f"division by zero ({a:.6g}/0)"
    return "overflow", "result overflows float64"


def _explain_pow(a: float, b: float) -> tuple[str, str]:
    if a < 0 and not float(b).is_integer():
        return "undefined", f"negative base {a:.6g} to a non-integer power {b:.6g}"
    if a == 0 and b < 0:
        return "infinite", f"0 to a negative power ({b:.6g})"
    return "overflow", f"{a:.6g}**{b:.6g} overflows float64"


def _explain_atanh(a: float) -> tuple[str, str]:
    if abs(a) == 1:
        return "infinite", f"atanh({a:.6g}) is infinite"
    return "undefined", f"atanh needs -1 < input < 1 (input = {a:.6g})"


def _pow_kink(a: float, b: float) -> str | None:
    if a == 0 and b == 0:
        return "0**0 taken as 1, with derivative 0 (PyTorch convention)"
    if a == 0 and 0 < b < 1:
        return "derivative is +inf at 0"
    return None


def _pairwise(*args: float) -> tuple[float, ...]:
    return tuple(a - b for i, a in enumerate(args) for b in args[i + 1:])


def _tie(pick: Callable) -> Callable:
    def kink(*args: float) -> str | None:
        chosen = pick(args)
        if sum(1 for a in args if a == chosen) > 1:
            return "tie: the derivative is split equally between the tied inputs"
        return None

    return kink


# ----------------------------------------------------------------------------------------------
# Arithmetic
# The operator module's functions are the same `a + b` on every backend, called without a
# Python frame (the float engine's forward loop is a tenth faster for it).


@op("add", doc="addition a + b", definition="a + b", params=("a", "b"), points=((0.7, -1.3),))
def _add(B):
    ones = (B.number(1), B.number(1))
    return operator.add, (lambda a, b, out: ones)


@op("sub", doc="subtraction a - b", definition="a - b", params=("a", "b"), points=((0.7, -1.3),))
def _sub(B):
    signs = (B.number(1), B.number(-1))
    return operator.sub, (lambda a, b, out: signs)


@op("mul", doc="multiplication a*b (each partial is the other factor, never out/a)",
    definition="a*b", params=("a", "b"), points=((0.7, -1.3),))
def _mul(B):
    return operator.mul, (lambda a, b, out: (b, a))


@op("div", doc="division a/b", definition="a/b", params=("a", "b"), points=((0.7, -1.3),),
    domains=(REAL, NONZERO), explain=_explain_div)
def _div(B):
    one, div = B.number(1), B.div
    return div, (lambda a, b, out: (div(one, b), div(-out, b)))


@op("pow", doc="power a**b (also a^b); 0**0 = 1", definition="a**b", params=("a", "b"),
    points=((1.3, 2.7), (0.6, -1.5)), domains=(POSITIVE, MODERATE), edges=lambda a, b: (a,),
    kink=_pow_kink, convention="0**0 = 1 with ∂/∂base = 0; ∂(a**b)/∂b = 0 at a = 0, b ≥ 0",
    conventions=(((0.0, 0.0), (0.0, 0.0)), ((0.0, 0.5), (INF, 0.0))),
    explain=_explain_pow)
def _pow(B):
    zero, one = B.number(0), B.number(1)
    where, eq, ge, pow_, log = B.where, B.eq, B.ge, B.pow, B.log

    def partials(a, b, out):
        # PyTorch's pow_backward: ∂/∂a is 0 where b = 0, ∂/∂b is 0 where a = 0 and b >= 0.
        return (where(eq(b, zero), zero, b * pow_(a, b - one)),
                where(eq(a, zero) * ge(b, zero), zero, out * log(a)))

    return pow_, partials


@op("neg", doc="negation -a", definition="-x")
def _neg(B):
    minus_one = B.number(-1)
    return operator.neg, (lambda a, out: minus_one)


@op("id", doc="a named copy (b = a)", definition="x")
def _id(B):
    one = B.number(1)
    return (lambda a: a), (lambda a, out: one)


# ----------------------------------------------------------------------------------------------
# Elementary functions


@op("exp", doc="exponential e**x", definition="exp(x)", points=((0.4,), (-1.1,)),
    domains=(MODERATE,))
def _exp(B):
    return B.exp, (lambda a, out: out)


@op("expm1", doc="exp(x) - 1, accurate for small x", definition="exp(x) - 1",
    points=((0.4,), (-1e-9,)), domains=(MODERATE,))
def _expm1(B):
    return B.expm1, (lambda a, out: B.exp(a))


@op("log", doc="natural logarithm (also ln)", definition="log(x)", points=((1.7,), (0.3,)),
    domains=(POSITIVE,), explain=_explain_log)
def _log(B):
    one, div = B.number(1), B.div
    return B.log, (lambda a, out: div(one, a))


@op("logb", doc="logarithm log(a, b) of a to base b", definition="log(a)/log(b)",
    params=("a", "b"), points=((2.5, 3.0),), domains=(POSITIVE, BASE), called_as="log",
    explain=_explain_log)
def _logb(B):
    one, div, log = B.number(1), B.div, B.log

    def partials(a, b, out):
        log_b = log(b)
        return div(one, a * log_b), div(-log(a), b * (log_b * log_b))

    return (lambda a, b: div(log(a), log(b))), partials


@op("log1p", doc="log(1 + x), accurate for small x", definition="log(1 + x)",
    points=((0.5,), (-0.4,), (1e-9,)), domains=(Domain(-1.0),),
    explain=_explain_domain("log1p needs input > -1"))
def _log1p(B):
    one, div = B.number(1), B.div
    return B.log1p, (lambda a, out: div(one, 1 + a))


@op("sqrt", doc="square root; sqrt'(0) = +inf", definition="sqrt(x)", points=((1.7,),),
    domains=(POSITIVE,), edges=lambda a: (a,), convention="derivative is +inf at 0",
    conventions=(((0.0,), (INF,)),), explain=_explain_domain("sqrt of a negative number"))
def _sqrt(B):
    one, div = B.number(1), B.div
    return B.sqrt, (lambda a, out: div(one, 2 * out))


@op("abs", doc="absolute value; abs'(0) = 0", definition="Abs(x)", points=((-0.7,), (1.2,)),
    edges=lambda a: (a,), convention="derivative taken as 0 at 0 (PyTorch convention)",
    conventions=(((0.0,), (0.0,)),), aliases=("Abs",))
def _abs(B):
    return B.abs, (lambda a, out: B.sign(a))


@op("sin", doc="sine", definition="sin(x)", points=((0.7,), (-2.0,)), domains=(PERIODIC,))
def _sin(B):
    return B.sin, (lambda a, out: B.cos(a))


@op("cos", doc="cosine", definition="cos(x)", points=((0.7,), (-2.0,)), domains=(PERIODIC,))
def _cos(B):
    return B.cos, (lambda a, out: -B.sin(a))


@op("tan", doc="tangent", definition="tan(x)", points=((0.7,),), domains=(Domain(-1.2, 1.2),))
def _tan(B):
    return B.tan, (lambda a, out: 1 + out * out)


@op("asin", doc="arcsine", definition="asin(x)", points=((0.3,), (-0.6,)), domains=(UNIT,),
    explain=_explain_domain("asin needs -1 <= input <= 1"))
def _asin(B):
    one, div, sqrt = B.number(1), B.div, B.sqrt
    return B.asin, (lambda a, out: div(one, sqrt(1 - a * a)))


@op("acos", doc="arccosine", definition="acos(x)", points=((0.3,), (-0.6,)), domains=(UNIT,),
    explain=_explain_domain("acos needs -1 <= input <= 1"))
def _acos(B):
    minus_one, div, sqrt = B.number(-1), B.div, B.sqrt
    return B.acos, (lambda a, out: div(minus_one, sqrt(1 - a * a)))


@op("atan", doc="arctangent", definition="atan(x)", points=((0.7,), (-3.0,)))
def _atan(B):
    one, div = B.number(1), B.div
    return B.atan, (lambda a, out: div(one, 1 + a * a))


@op("atan2", doc="angle of the point (b, a): atan2(y, x), in (-pi, pi]",
    definition="atan2(a, b)", params=("a", "b"), points=((0.3, 0.7), (-0.5, -1.2), (2.0, -0.4)),
    edges=lambda a, b: (a if b < 0 else 1.0,),
    convention="on the branch cut of atan2(y, x) (y = 0, x < 0) the angle jumps by 2*pi; the "
               "formula's derivative is used",
    conventions=(((0.0, -1.0), (-1.0, 0.0)),))
def _atan2(B):
    div = B.div

    def partials(a, b, out):
        square = a * a + b * b
        return div(b, square), div(-a, square)

    return B.atan2, partials


@op("hypot", doc="length sqrt(a**2 + b**2), without overflow", definition="sqrt(a**2 + b**2)",
    params=("a", "b"), points=((0.6, -1.3), (3.0, 4.0)))
def _hypot(B):
    div = B.div
    return B.hypot, (lambda a, b, out: (div(a, out), div(b, out)))


@op("sinh", doc="hyperbolic sine", definition="sinh(x)", points=((0.7,),), domains=(MODERATE,))
def _sinh(B):
    return B.sinh, (lambda a, out: B.cosh(a))


@op("cosh", doc="hyperbolic cosine", definition="cosh(x)", points=((0.7,),), domains=(MODERATE,))
def _cosh(B):
    return B.cosh, (lambda a, out: B.sinh(a))


@op("tanh", doc="hyperbolic tangent", definition="tanh(x)", points=((0.7,), (-2.5,)))
def _tanh(B):
    # 1/cosh(a)**2 rather than 1 - tanh(a)**2: the same number, without the cancellation
    # that leaves only a few correct digits once tanh(a) is within 1e-8 of ±1. cosh >= 1, so
    # the division is safe.
    one, cosh = B.number(1), B.cosh

    def partial(a, out):
        c = cosh(a)
        return one / (c * c)

    return B.tanh, partial


@op("asinh", doc="inverse hyperbolic sine", definition="asinh(x)", points=((0.7,),))
def _asinh(B):
    one, div, sqrt = B.number(1), B.div, B.sqrt
    return B.asinh, (lambda a, out: div(one, sqrt(a * a + 1)))


@op("acosh", doc="inverse hyperbolic cosine", definition="acosh(x)", points=((1.8,),),
    domains=(ABOVE_ONE,), explain=_explain_domain("acosh needs input >= 1"))
def _acosh(B):
    one, div, sqrt = B.number(1), B.div, B.sqrt
    return B.acosh, (lambda a, out: div(one, sqrt(a * a - 1)))


@op("atanh", doc="inverse hyperbolic tangent", definition="atanh(x)", points=((0.4,),),
    domains=(UNIT,), explain=_explain_atanh)
def _atanh(B):
    one, div = B.number(1), B.div
    return B.atanh, (lambda a, out: div(one, 1 - a * a))


@op("erf", doc="error function", definition="erf(x)", points=((0.7,), (-1.4,)))
def _erf(B):
    scale = B.div(B.number(2), B.sqrt(B.number("pi")))
    return B.erf, (lambda a, out: scale * B.exp(-(a * a)))


@op("erfc", doc="complementary error function 1 - erf(x), accurate where erf is near 1",
    definition="erfc(x)", points=((0.7,), (-1.4,), (4.0,)))
def _erfc(B):
    scale = B.div(B.number(-2), B.sqrt(B.number("pi")))
    return B.erfc, (lambda a, out: scale * B.exp(-(a * a)))


# ----------------------------------------------------------------------------------------------
# Activations


@op("sigmoid", doc="logistic sigmoid 1/(1 + exp(-x)) (also logistic)",
    definition="1/(1 + exp(-x))", points=((0.7,), (-4.0,)), aliases=("logistic",))
def _sigmoid(B):
    # σ'(x) = σ(x)σ(-x), which is σ(x)(1 - σ(x)) without cancellation when σ(x) is near 1.
    one, exp = B.number(1), B.exp
    return (lambda a: one / (one + exp(-a))), (lambda a, out: out * B.sigmoid(-a))


@op("relu", doc="rectified linear unit max(x, 0); relu'(0) = 0", definition="Max(x, 0)",
    points=((0.7,), (-0.4,)), edges=lambda a: (a,),
    convention="derivative taken as 0 at 0 (PyTorch convention)", conventions=(((0.0,), (0.0,)),))
def _relu(B):
    zero, one = B.number(0), B.number(1)
    return (lambda a: B.max(a, zero)), (lambda a, out: B.where(B.gt(a, zero), one, zero))


@op("softplus", doc="softplus log(1 + exp(x))", definition="log(1 + exp(x))",
    points=((0.7,), (-2.0,)))
def _softplus(B):
    zero, log1p, exp = B.number(0), B.log1p, B.exp
    # log1p(exp(-|x|)) + max(x, 0): no overflow for large x, no loss for very negative x.
    return ((lambda a: log1p(exp(-B.abs(a))) + B.max(a, zero)),
            (lambda a, out: B.sigmoid(a)))


@op("leaky_relu", doc="x where x > 0, else a*x (a defaults to 0.01)",
    definition="Piecewise((x, x > 0), (a*x, True))", params=("x", "a"),
    points=((0.7, 0.01), (-0.5, 0.2)), domains=(REAL, Domain(0.0, 1.0)),
    defaults=((0.01, "0.01"),), edges=lambda x, a: (x,),
    convention="the derivative at 0 is the slope a (PyTorch convention)",
    conventions=(((0.0, 0.01), (0.01, 0.0)),))
def _leaky_relu(B):
    zero, one = B.number(0), B.number(1)

    def partials(x, a, out):
        inside = B.gt(x, zero)
        return B.where(inside, one, a), B.where(inside, zero, x)

    return (lambda x, a: B.max(x, zero) + a * B.min(x, zero)), partials


@op("elu", doc="x where x > 0, else a*(exp(x) - 1) (a defaults to 1)",
    definition="Piecewise((x, x > 0), (a*(exp(x) - 1), True))", params=("x", "a"),
    points=((0.7, 1.0), (-0.5, 0.5), (-0.5, -0.7)), defaults=((1.0, "1"),),
    edges=lambda x, a: (x,), convention="the derivative at 0 is a (PyTorch convention)",
    conventions=(((0.0, 0.5), (0.5, 0.0)),))
def _elu(B):
    zero, one = B.number(0), B.number(1)

    def partials(x, a, out):
        inside = B.gt(x, zero)
        return B.where(inside, one, a * B.exp(x)), B.where(inside, zero, B.expm1(x))

    return (lambda x, a: B.where(B.gt(x, zero), x, a * B.expm1(x))), partials


@op("selu", doc="scale*(x where x > 0, else alpha*(exp(x) - 1)), PyTorch's constants",
    definition="1.0507009873554805*Piecewise((x, x > 0), (1.6732632423543772*(exp(x) - 1), "
               "True))", points=((0.7,), (-0.5,)), edges=lambda x: (x,),
    convention="the derivative at 0 is scale*alpha (PyTorch convention)",
    conventions=(((0.0,), (1.0507009873554805 * 1.6732632423543772,)),))
def _selu(B):
    zero, one = B.number(0), B.number(1)
    scale, alpha = B.number("1.0507009873554805"), B.number("1.6732632423543772")
    return ((lambda x: scale * (B.max(x, zero) + B.min(zero, alpha * B.expm1(x)))),
            (lambda x, out: scale * B.where(B.gt(x, zero), one, alpha * B.exp(x))))


@op("celu", doc="x where x > 0, else a*(exp(x/a) - 1) (a defaults to 1)",
    definition="Max(0, x) + Min(0, a*(exp(x/a) - 1))", params=("x", "a"),
    points=((0.7, 1.0), (-0.5, 0.5)), domains=(REAL, POSITIVE), defaults=((1.0, "1"),))
def _celu(B):
    zero, one = B.number(0), B.number(1)

    def partials(x, a, out):
        inside, ratio = B.gt(x, zero), B.div(x, a)
        return (B.where(inside, one, B.exp(ratio)),
                B.where(inside, zero, B.expm1(ratio) - ratio * B.exp(ratio)))

    return (lambda x, a: B.max(x, zero) + B.min(zero, a * B.expm1(B.div(x, a)))), partials


@op("gelu", doc="x*Φ(x), Φ the normal distribution function (exact erf form)",
    definition="x*(1 + erf(x/sqrt(2)))/2", points=((0.7,), (-1.3,)))
def _gelu(B):
    # Φ(x) = erfc(-x/sqrt(2))/2, not (1 + erf(x/sqrt(2)))/2, which cancels to a few digits
    # for x below -4.
    root2, root2pi = B.sqrt(B.number(2)), B.sqrt(2 * B.number("pi"))
    return ((lambda x: x * B.erfc(-x / root2) / 2),
            (lambda x, out: B.erfc(-x / root2) / 2 + x * B.exp(-(x * x) / 2) / root2pi))


@op("silu", doc="x*sigmoid(x) (also swish)", definition="x/(1 + exp(-x))",
    points=((0.7,), (-2.5,)), aliases=("swish",))
def _silu(B):
    return ((lambda x: x * B.sigmoid(x)),
            (lambda x, out: B.sigmoid(x) * (1 + x * B.sigmoid(-x))))


@op("mish", doc="x*tanh(softplus(x))", definition="x*tanh(log(1 + exp(x)))",
    points=((0.7,), (-1.5,)))
def _mish(B):
    def partial(x, out):
        s = B.softplus(x)
        c = B.cosh(s)
        return B.tanh(s) + x * B.sigmoid(x) / (c * c)

    return (lambda x: x * B.tanh(B.softplus(x))), partial


@op("softsign", doc="x/(1 + abs(x))", definition="x/(1 + Abs(x))", points=((0.7,), (-2.0,)))
def _softsign(B):
    def partial(x, out):
        s = 1 + B.abs(x)
        return 1 / (s * s)

    return (lambda x: x / (1 + B.abs(x))), partial


@op("hardtanh", doc="x clipped to [-1, 1]", definition="Max(-1, Min(1, x))",
    points=((0.5,), (-0.3,), (2.0,)), edges=lambda x: (x + 1, x - 1),
    convention="derivative 0 at -1 and 1 (PyTorch convention)",
    conventions=(((1.0,), (0.0,)), ((-1.0,), (0.0,))))
def _hardtanh(B):
    zero, one, minus_one = B.number(0), B.number(1), B.number(-1)
    return ((lambda x: B.max(minus_one, B.min(one, x))),
            (lambda x, out: B.where(B.gt(x, minus_one) * B.gt(one, x), one, zero)))


@op("relu6", doc="x clipped to [0, 6]", definition="Min(Max(x, 0), 6)",
    points=((2.5,), (-1.0,), (7.0,)), edges=lambda x: (x, x - 6),
    convention="derivative 0 at 0 and 6 (PyTorch convention)",
    conventions=(((0.0,), (0.0,)), ((6.0,), (0.0,))))
def _relu6(B):
    zero, one, six = B.number(0), B.number(1), B.number(6)
    return ((lambda x: B.min(B.max(x, zero), six)),
            (lambda x, out: B.where(B.gt(x, zero) * B.gt(six, x), one, zero)))


@op("hardsigmoid", doc="x/6 + 1/2 clipped to [0, 1]", definition="Max(0, Min(1, x/6 + 1/2))",
    points=((1.0,), (-4.0,), (5.0,)), edges=lambda x: (x + 3, x - 3),
    convention="derivative 0 at -3 and 3 (PyTorch convention)",
    conventions=(((3.0,), (0.0,)), ((-3.0,), (0.0,))))
def _hardsigmoid(B):
    zero, one, half, sixth = B.number(0), B.number(1), B.number("1/2"), B.number("1/6")
    three = B.number(3)
    return ((lambda x: B.max(zero, B.min(one, x / 6 + half))),
            (lambda x, out: B.where(B.gt(x, -three) * B.gt(three, x), sixth, zero)))


# ----------------------------------------------------------------------------------------------
# Two or more arguments


def _extreme(name: str, doc: str, pick: Callable) -> None:
    @op(name, doc=doc, definition=name.capitalize(), params=("a", "b", "c"), arity=0,
        points=((0.3, 1.1, -0.4), (2.0, -1.0)), edges=_pairwise, kink=_tie(pick),
        convention="ties split the derivative equally",
        conventions=(((1.5, 1.5), (0.5, 0.5)), ((-2.0, -2.0, -2.0), (1 / 3, 1 / 3, 1 / 3))),
        aliases=(name.capitalize(),))
    def _bind(B):
        share = B.share
        return (getattr(B, name),
                lambda args, out: tuple(share(a, out, *args) for a in args))


_extreme("max", "largest of two or more arguments; ties split the derivative equally", max)
_extreme("min", "smallest of two or more arguments; ties split the derivative equally", min)


@op("logaddexp", doc="log(exp(a) + exp(b)), in a stable form", definition="log(exp(a) + exp(b))",
    params=("a", "b"), points=((0.7, -1.3), (40.0, 41.0)))
def _logaddexp(B):
    # max(a, b) + log1p(exp(-|a - b|)): neither exp can overflow. Equal arguments (even both
    # -inf, where a - b is NaN) differ by 0.
    zero = B.number(0)

    def forward(a, b):
        gap = B.where(B.eq(a, b), zero, a - b)
        return B.max(a, b) + B.log1p(B.exp(-B.abs(gap)))

    return forward, (lambda a, b, out: (B.sigmoid(a - b), B.sigmoid(b - a)))


@op("clip", doc="x clipped to [lo, hi] (min(max(x, lo), hi))", definition="Min(Max(x, lo), hi)",
    params=("x", "lo", "hi"), points=((0.5, -1.0, 1.0), (-2.0, -1.0, 1.0), (3.0, -1.0, 1.0)),
    edges=lambda x, lo, hi: (x - lo, x - hi, lo - hi),
    convention="at a bound the derivative goes to x (PyTorch's clamp); with lo > hi the "
               "result is hi",
    conventions=(((0.0, 0.0, 1.0), (1.0, 0.0, 0.0)), ((1.0, 0.0, 1.0), (1.0, 0.0, 0.0))))
def _clip(B):
    zero, one, where, ge, gt = B.number(0), B.number(1), B.where, B.ge, B.gt

    def partials(args, out):
        x, lo, hi = args
        return (where(ge(x, lo) * ge(hi, x), one, zero),
                where(gt(lo, x) * ge(hi, lo), one, zero),
                where(ge(hi, lo) * ge(hi, x), zero, one))

    return (lambda x, lo, hi: B.min(B.max(x, lo), hi)), partials


# ----------------------------------------------------------------------------------------------
# Internal ops: the pieces derivative rules are made of. Each is 0 or 1 (or splits a share)
# and is constant wherever it is differentiable.


def _comparison(name: str, symbol: str) -> None:
    @op(name, doc=f"[a {symbol} b]: 1 where a {symbol} b, else 0", params=("a", "b"),
        definition=f"Piecewise((1, a {symbol} b), (0, True))", points=((0.7, -1.3),),
        internal=True, piecewise_constant=True)
    def _bind(B):
        zero = B.number(0)
        return getattr(B, name), (lambda a, b, out: (zero, zero))


_comparison("gt", ">")
_comparison("ge", ">=")
_comparison("eq", "==")


@op("sign", doc="sign of x (0 at 0)", definition="sign(x)", points=((0.7,), (-0.7,)),
    internal=True, piecewise_constant=True)
def _sign(B):
    zero = B.number(0)
    return B.sign, (lambda a, out: zero)


@op("where", doc="(a if c else b): chooses by c, which is 0 or 1", params=("c", "a", "b"),
    definition="Piecewise((b, Eq(c, 0)), (a, True))", points=((1.0, 0.7, -1.3),),
    internal=True)
def _where(B):
    zero, one, where = B.number(0), B.number(1), B.where
    return where, (lambda args, out: (zero, where(args[0], one, zero), where(args[0], zero, one)))


@op("share", doc="1/ties where t equals out (ties: arguments equal to out), else 0",
    params=("t", "out", "a", "b"), arity=0,
    definition="Piecewise((1/(Piecewise((1, Eq(a, out)), (0, True)) + "
               "Piecewise((1, Eq(b, out)), (0, True))), Eq(t, out)), (0, True))",
    points=((1.0, 1.0, 1.0, -2.0),), internal=True, piecewise_constant=True, min_args=4)
def _share(B):
    zero = B.number(0)
    return B.share, (lambda args, out: (zero,) * len(args))


# ----------------------------------------------------------------------------------------------
# Names the language calls


def _callable_names() -> dict[str, dict[int, Op]]:
    names: dict[str, dict[int, Op]] = {}
    for entry in OPS.values():
        if entry.internal or entry.name in ("add", "sub", "mul", "div", "pow", "neg", "id"):
            continue
        for name in (entry.called_as or entry.name, *entry.aliases):
            counts = names.setdefault(name, {})
            if entry.is_variadic:
                counts[0] = entry
            else:
                for missing in range(len(entry.defaults) + 1):
                    counts[entry.arity - missing] = entry
    return names


def functions() -> dict[str, dict[int, Op]]:
    """Callable name -> {argument count (0: two or more) -> op}, from the table."""
    global _FUNCTIONS
    if _FUNCTIONS is None:
        _FUNCTIONS = _callable_names()
    return _FUNCTIONS


_FUNCTIONS: dict[str, dict[int, Op]] | None = None
ALIASES = {"ln": "log"}


def table_function_names() -> frozenset[str]:
    """Every name the op table calls as a function, aliases included."""
    return frozenset(functions()) | frozenset(ALIASES)


def is_table_function(name: str) -> bool:
    """Whether `name` is called as a function of the op table (no SymPy lookup)."""
    return ALIASES.get(name, name) in functions()


def op_named(name: str) -> Op:
    """The op behind a graph node's op name: the table's, or a SymPy function's (`beta#2`)."""
    found = OPS.get(name)
    if found is not None:
        return found
    from .tensor_names import TENSOR_CALLS

    if name in TENSOR_CALLS:
        raise InputError(ARRAYS_ONLY_IN_GRAD)
    from .fallback import sympy_op_for_node

    return sympy_op_for_node(name)


def lookup(name: str, missing_ok: bool = False) -> object | None:
    """Whether `name(...)` can be called: the table first, then SymPy's own functions."""
    name = ALIASES.get(name, name)
    if name in functions():
        return functions()[name]
    from .fallback import sympy_arities

    if sympy_arities(name):
        return sympy_arities(name)
    if not missing_ok:
        raise ParseError(unknown_function_message(name))
    return None


def unknown_function_message(name: str) -> str:
    """Why `name(...)` cannot be called: unknown, or known to SymPy but not usable."""
    from .fallback import is_sympy_function

    if is_sympy_function(name):
        return (f"SymPy's {name} cannot be used here (no derivative rule, or not a real "
                "function)")
    suggestion = function_suggestion(name)
    hint = f"; did you mean {suggestion}?" if suggestion else ""
    return f"unknown function {name!r}{hint} (to multiply, write {name}*(...))"


WRITTEN_OTHERWISE = {"log10": "log(x, 10)", "log2": "log(x, 2)", "lg": "log(x, 10)",
                     "fact": "factorial(x)", "sigma": "sigmoid(x)", "σ": "sigmoid(x)",
                     "arcsin": "asin(x)", "arccos": "acos(x)", "arctan": "atan(x)",
                     "sgn": "x/abs(x)"}


def function_suggestion(name: str) -> str | None:
    """The function a misspelt or foreign name most likely meant (`tanhh` → `tanh`, `Sin` →
    `sin`, `log10` → `log(x, 10)`), or None."""
    import difflib

    if name in WRITTEN_OTHERWISE or name.lower() in WRITTEN_OTHERWISE:
        return WRITTEN_OTHERWISE.get(name) or WRITTEN_OTHERWISE[name.lower()]
    from .tensor_names import CALLED_NAMES

    known = sorted({*functions(), *ALIASES, *(CALLED_NAMES - {"[]"})})
    lower = name.lower()
    if lower in known:
        return lower
    # Two neighbouring letters swapped is the commonest slip (`tahn`, `sigmiod`); difflib
    # would rank `tan` above `tanh` for `tahn`.
    swapped = {lower[:k] + lower[k + 1] + lower[k] + lower[k + 2:] for k in range(len(lower) - 1)}
    for candidate in known:
        if candidate in swapped:
            return candidate
    close = difflib.get_close_matches(lower, known, n=1, cutoff=0.75)
    return close[0] if close else None


def _plural(count: int) -> str:
    return f"{count} argument" + ("" if count == 1 else "s")


def resolve(name: str, count: int) -> tuple[Op, tuple[tuple[float, str], ...]]:
    """The op for a call of `name` with `count` arguments, and the default values to append;
    a wrong number of arguments is a ParseError."""
    name = ALIASES.get(name, name)
    table = functions().get(name)
    if table is not None:
        entry = table.get(count)
        if entry is None and 0 in table and count >= table[0].min_args:
            entry = table[0]
        if entry is not None:
            missing = 0 if entry.is_variadic else entry.arity - count
            return entry, entry.defaults[len(entry.defaults) - missing:] if missing else ()
        allowed = sorted(table)
        if allowed == [0]:
            wanted = f"at least {_plural(table[0].min_args)}"
        elif len(allowed) == 1:
            wanted = _plural(allowed[0])
        else:
            wanted = " or ".join(map(str, allowed)) + " arguments"
        raise ParseError(f"{name}() takes {wanted}, not {count}")
    from .fallback import raw_arities, sympy_arities, sympy_op

    allowed = sympy_arities(name)
    if count not in allowed:
        wanted = _plural(allowed[0]) if len(allowed) == 1 else " or ".join(map(str, allowed)) \
            + " arguments"
        if count in raw_arities(name):  # SymPy's zeta(s): defined, but not differentiable
            raise ParseError(f"{name}() with {_plural(count)}: SymPy knows no derivative of it "
                             f"by any argument, so it cannot be differentiated here (with "
                             f"{wanted} it can)")
        raise ParseError(f"{name}() takes {wanted}, not {count}")
    return sympy_op(name, count), ()
