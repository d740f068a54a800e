"""Property tests: random expressions built from the op table, against SymPy and differences.

The strategy builds each expression twice, side by side: as program text for `grad` and as an
independent SymPy expression written with SymPy's own functions. Arguments are kept inside each
op's domain by construction (positive arguments for log and sqrt, |argument| < 1 for asin, acos
and atanh, and so on), and growth-prone ops get a tanh-squashed argument once a crude magnitude
bound exceeds a limit, so every example is finite and well conditioned. Points where a kinked op
(abs, relu, max, min) sits within 1e-3 of its kink are rejected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from backprop_cli import grad
from backprop_cli.ops import OPS

VARIABLES = ("x", "y", "z")
SYMBOLS = {name: sp.Symbol(name, real=True) for name in VARIABLES}
# Offsets keep the drawn points generic (not 0, not equal to one another) even when hypothesis
# shrinks the drawn floats to 0.
OFFSETS = {"x": 0.3183098861837907, "y": -0.5772156649015329, "z": 0.7071067811865476}
EPS = 1e-6
RTOL_SYMPY = 1e-7
ATOL_SYMPY = 1e-9
RTOL_FD = 1e-3
ATOL_FD = 1e-5
KINK_MARGIN = 1e-3


@dataclass(frozen=True)
class Expr:
    text: str
    sym: sp.Expr
    bound: float  # an upper bound on |value| for points in the drawn box
    kinks: tuple = ()  # SymPy expressions that must stay away from 0 (arguments of kinks)


def _join_kinks(*parts: Expr) -> tuple:
    return tuple(k for part in parts for k in part.kinks)


def tame(a: Expr, limit: float) -> Expr:
    """`a` itself if small enough, else tanh(a) (bounded by 1)."""
    if a.bound <= limit:
        return a
    return Expr(f"tanh({a.text})", sp.tanh(a.sym), 1.0, a.kinks)


def positive(a: Expr, shift: float = 1.0) -> Expr:
    """shift + a**2, which is >= shift > 0."""
    a = tame(a, 10.0)
    return Expr(f"({shift} + ({a.text})**2)", shift + a.sym**2, shift + a.bound**2, a.kinks)


def inside_unit(a: Expr) -> Expr:
    """0.9*tanh(a), which lies in (-0.9, 0.9)."""
    return Expr(f"0.9*tanh({a.text})", sp.Rational(9, 10) * sp.tanh(a.sym), 0.9, a.kinks)


def unary(name: str, a: Expr, sym, bound: float, kinks: tuple = ()) -> Expr:
    return Expr(f"{name}({a.text})", sym, bound, a.kinks + kinks)


def build_add(a, b):
    return Expr(f"({a.text}) + ({b.text})", a.sym + b.sym, a.bound + b.bound, _join_kinks(a, b))


def build_sub(a, b):
    return Expr(f"({a.text}) - ({b.text})", a.sym - b.sym, a.bound + b.bound, _join_kinks(a, b))


def build_mul(a, b, implicit=False):
    a, b = tame(a, 30.0), tame(b, 30.0)
    text = f"({a.text}) ({b.text})" if implicit else f"({a.text})*({b.text})"
    return Expr(text, a.sym * b.sym, a.bound * b.bound, _join_kinks(a, b))


def build_div(a, b):
    a, d = tame(a, 30.0), positive(b)
    return Expr(f"({a.text})/{d.text}", a.sym / d.sym, a.bound, _join_kinks(a, d))


def build_pow(a, b, integer_exponent=None, caret=False):
    power = "^" if caret else "**"
    if integer_exponent is not None:
        a = tame(a, 5.0)
        return Expr(f"({a.text}){power}{integer_exponent}", a.sym**integer_exponent,
                    a.bound**integer_exponent, a.kinks)
    base, exponent = positive(tame(a, 2.0)), tame(b, 2.0)
    return Expr(f"{base.text}{power}({exponent.text})", base.sym**exponent.sym,
                base.bound**exponent.bound, _join_kinks(base, exponent))


def build_neg(a):
    return Expr(f"-({a.text})", -a.sym, a.bound, a.kinks)


def build_exp(a):
    a = tame(a, 3.0)
    return unary("exp", a, sp.exp(a.sym), math.exp(a.bound))


def build_log(a):
    p = positive(a)
    return unary("log", p, sp.log(p.sym), math.log(p.bound) + 1.0)


def build_logb(a, b):
    p, base = positive(a), positive(b, 2.0)
    return Expr(f"log({p.text}, {base.text})", sp.log(p.sym) / sp.log(base.sym),
                math.log(p.bound) / math.log(2.0) + 1.0, _join_kinks(p, base))


def build_sqrt(a):
    p = positive(a, 0.5)
    return unary("sqrt", p, sp.sqrt(p.sym), math.sqrt(p.bound))


def build_abs(a):
    return unary("abs", a, sp.Abs(a.sym), a.bound, (a.sym,))


def build_trig(name):
    def build(a):
        a = tame(a, 10.0)
        return unary(name, a, getattr(sp, name)(a.sym), 1.0)

    return build


def build_tan(a):
    b = Expr(f"1.2*tanh({a.text})", sp.Rational(6, 5) * sp.tanh(a.sym), 1.2, a.kinks)
    return unary("tan", b, sp.tan(b.sym), math.tan(1.2))


def build_inverse_trig(name, bound):
    def build(a):
        u = inside_unit(a)
        return unary(name, u, getattr(sp, name)(u.sym), bound)

    return build


def build_atan(a):
    return unary("atan", a, sp.atan(a.sym), math.pi / 2)


def build_hyperbolic(name):
    def build(a):
        a = tame(a, 3.0)
        return unary(name, a, getattr(sp, name)(a.sym), math.cosh(a.bound))

    return build


def build_tanh(a):
    return unary("tanh", a, sp.tanh(a.sym), 1.0)


def build_asinh(a):
    a = tame(a, 1e3)
    return unary("asinh", a, sp.asinh(a.sym), math.asinh(a.bound))


def build_acosh(a):
    p = positive(a, 1.5)
    return unary("acosh", p, sp.acosh(p.sym), math.acosh(p.bound))


def build_sigmoid(a):
    a = tame(a, 30.0)
    return unary("sigmoid", a, 1 / (1 + sp.exp(-a.sym)), 1.0)


def build_relu(a):
    return unary("relu", a, sp.Max(0, a.sym), a.bound, (a.sym,))


def build_softplus(a):
    a = tame(a, 30.0)
    return unary("softplus", a, sp.log(1 + sp.exp(a.sym)), a.bound + 1.0)


def build_extreme(name):
    function = sp.Max if name == "max" else sp.Min

    def build(*args):
        kinks = tuple(args[i].sym - args[j].sym for i in range(len(args))
                      for j in range(i + 1, len(args)))
        text = f"{name}({', '.join(a.text for a in args)})"
        return Expr(text, function(*[a.sym for a in args]), max(a.bound for a in args),
                    _join_kinks(*args) + kinks)

    return build


# op name -> (number of arguments, builder); None means "drawn from 2 or 3"
BUILDERS = {
    "add": (2, build_add),
    "sub": (2, build_sub),
    "mul": (2, build_mul),
    "div": (2, build_div),
    "pow": (2, build_pow),
    "neg": (1, build_neg),
    "exp": (1, build_exp),
    "log": (1, build_log),
    "logb": (2, build_logb),
    "sqrt": (1, build_sqrt),
    "abs": (1, build_abs),
    "sin": (1, build_trig("sin")),
    "cos": (1, build_trig("cos")),
    "tan": (1, build_tan),
    "asin": (1, build_inverse_trig("asin", math.pi / 2)),
    "acos": (1, build_inverse_trig("acos", math.pi)),
    "atan": (1, build_atan),
    "sinh": (1, build_hyperbolic("sinh")),
    "cosh": (1, build_hyperbolic("cosh")),
    "tanh": (1, build_tanh),
    "asinh": (1, build_asinh),
    "acosh": (1, build_acosh),
    "atanh": (1, build_inverse_trig("atanh", math.atanh(0.9))),
    "sigmoid": (1, build_sigmoid),
    "relu": (1, build_relu),
    "softplus": (1, build_softplus),
    "max": (None, build_extreme("max")),
    "min": (None, build_extreme("min")),
}
# `id` has no expression syntax: it is the statement `name = other_name`, drawn separately below.
STATEMENT_ONLY = {"id"}
OP_NAMES = sorted(BUILDERS)


def test_every_op_is_drawn_by_the_strategy():
    assert set(OPS) == set(BUILDERS) | STATEMENT_ONLY


variables = st.sampled_from(VARIABLES).map(lambda v: Expr(v, SYMBOLS[v], 2.0))
leaves = st.one_of(
    variables,
    variables,
    st.sampled_from(["0.5", "2", "1.25", "3"]).map(
        lambda c: Expr(c, sp.Rational(c), float(c))),
)


@st.composite
def expressions(draw, depth: int = 3) -> Expr:
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(leaves)
    name = draw(st.sampled_from(OP_NAMES))
    count, build = BUILDERS[name]
    if count is None:
        count = draw(st.integers(2, 3))
    args = [draw(expressions(depth - 1)) for _ in range(count)]
    if name == "mul":
        return build(*args, implicit=draw(st.booleans()))
    if name == "pow":
        integer = draw(st.sampled_from([None, None, 2, 3]))
        return build(*args, integer_exponent=integer, caret=draw(st.booleans()))
    return build(*args)


@st.composite
def programs(draw) -> tuple[str, Expr]:
    """An expression, sometimes written as named statements ending in a copy (an id node)."""
    expression = draw(expressions())
    if draw(st.booleans()):
        return f"u = {expression.text}\nv = u", expression
    return expression.text, expression


points = st.fixed_dictionaries(
    {name: st.floats(-1.0, 1.0, allow_nan=False).map(lambda u, n=name: u + OFFSETS[n])
     for name in VARIABLES}
)


def sympy_subs(point: dict[str, float]) -> dict:
    return {SYMBOLS[name]: sp.Float(value, 40) for name, value in point.items()}


def real(value) -> float:
    number = complex(value)
    assert abs(number.imag) <= 1e-20 * max(1.0, abs(number.real)), value
    return number.real


def away_from_kinks(expression: Expr, point: dict[str, float]) -> bool:
    subs = sympy_subs(point)
    for kink in expression.kinks:
        if kink == 0:  # structurally zero, e.g. max(a, a): every rule agrees there
            continue
        if abs(real(sp.N(kink, 20, subs=subs))) < KINK_MARGIN:
            return False
    return True


def close(actual: float, expected: float, rtol: float, atol: float) -> bool:
    return abs(actual - expected) <= atol + rtol * abs(expected)


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@SETTINGS
@given(programs(), points)
def test_forward_value_matches_sympy(program, point):
    text, expression = program
    assume(away_from_kinks(expression, point))
    result = grad(text, point)
    expected = real(sp.N(expression.sym, 30, subs=sympy_subs(point)))
    assert close(result.value, expected, RTOL_SYMPY, ATOL_SYMPY), (text, point, expected)
    assert all(node.status in ("ok", "kink") for node in result.nodes), text


@SETTINGS
@given(programs(), points)
def test_gradient_matches_sympy_and_central_differences(program, point):
    text, expression = program
    assume(away_from_kinks(expression, point))
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
