"""The test suite's one random-program builder, generated from the op table.

Each program is built twice, side by side: as text for the tool, and as a SymPy expression
written from each op's textbook `definition` (the independent oracle). Arguments are mapped
into each op's declared domain by construction (positive arguments as `1 + u**2`, arguments
in (-1, 1) as `0.9*tanh(u)`, ...), and an argument whose values could exceed its domain's scale
is squashed with tanh, so every program is finite and well conditioned at the drawn points.
Points near a kink are rejected by `away_from_kinks`, which reads the kinks from the op table.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import sympy as sp
from hypothesis import strategies as st
from op_oracles import definition

from backprop_cli import grad
from backprop_cli.backends import FLOAT
from backprop_cli.ops import OPS, Domain, Op

VARIABLES = ("x", "y", "z")
SYMBOLS = {name: sp.Symbol(name, real=True) for name in VARIABLES}
# Offsets keep the drawn points generic (not 0, not equal to one another) when hypothesis
# shrinks the drawn floats to 0.
OFFSETS = {"x": 0.3183098861837907, "y": -0.5772156649015329, "z": 0.7071067811865476}
CONSTANTS = ("0.5", "2", "1.25", "3")
KINK_MARGIN = 1e-3
_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


@dataclass(frozen=True)
class Expr:
    text: str
    sym: sp.Expr
    low: float  # an interval holding the value at every drawn point
    high: float

    @property
    def bound(self) -> float:
        return max(abs(self.low), abs(self.high))


def drawable(smooth: bool = False) -> list[str]:
    """The ops random programs use: every op the language calls (`id` comes from statement
    copies); with `smooth`, only ops without kinks."""
    names = []
    for name, op in sorted(OPS.items()):
        if op.internal or name == "id":
            continue
        if smooth and (op.edges is not None or op.kink is not None):
            continue
        names.append(name)
    return names


def variable(name: str) -> Expr:
    return Expr(name, SYMBOLS[name], -2.0, 2.0)


def constant(text: str) -> Expr:
    return Expr(text, sp.Rational(text), float(text), float(text))


leaves = st.one_of(st.sampled_from(VARIABLES).map(variable),
                   st.sampled_from(VARIABLES).map(variable),
                   st.sampled_from(CONSTANTS).map(constant))


def squash(e: Expr, scale: float) -> Expr:
    """`e` itself if its values stay within `scale`, else tanh(e), which stays within 1."""
    if e.bound <= scale:
        return e
    return Expr(f"tanh({e.text})", sp.tanh(e.sym), -1.0, 1.0)


def into(domain: Domain, e: Expr, negative: bool) -> Expr:
    """`e` mapped into the domain; `negative` picks the side of a gap."""
    if domain.low == -math.inf and domain.high == math.inf:
        e = squash(e, domain.scale)
        if domain.gap is None:
            return e
        s = squash(e, 10.0)
        away = Expr(f"(1 + ({s.text})**2)", 1 + s.sym**2, 1.0, 1.0 + s.bound**2)
        if negative:
            return Expr(f"(-{away.text})", -away.sym, -away.high, -away.low)
        return away
    if domain.high == math.inf:
        shift = domain.low + (1.0 if domain.low == 0 else 0.5)
        s = squash(e, 10.0)
        return Expr(f"({shift:g} + ({s.text})**2)", sp.Rational(repr(shift)) + s.sym**2,
                    shift, shift + s.bound**2)
    middle, half = (domain.low + domain.high) / 2, 0.9 * (domain.high - domain.low) / 2
    text = f"{half:g}*tanh({e.text})" + (f" + {middle:g}" if middle else "")
    return Expr(f"({text})", sp.Rational(repr(half)) * sp.tanh(e.sym) + sp.Rational(
        repr(middle)), middle - half, middle + half)


def _range(op: Op, args: list[Expr]) -> tuple[float, float]:
    """An interval holding the op's values over the arguments' intervals: the float forward
    at a grid of each argument's interval, widened."""
    forward = FLOAT.bound(op)[0]
    grids = [sorted({a.low, a.high, (a.low + a.high) / 2, a.low + (a.high - a.low) / 4,
                     a.high - (a.high - a.low) / 4}) for a in args]
    found = [forward(*combo) for combo in itertools.product(*grids)]
    finite = [v for v in found if math.isfinite(v)]
    low, high = min(finite), max(finite)
    spread = high - low
    return low - 0.5 * spread - 1.0, high + 0.5 * spread + 1.0


def text_of(op: Op, args: list[str], implicit: bool = False, caret: bool = False) -> str:
    if op.name in _INFIX:
        if implicit and op.name == "mul":
            return f"({args[0]}) ({args[1]})"
        return f"({args[0]}){_INFIX[op.name]}({args[1]})"
    if op.name == "pow":
        return f"({args[0]}){'^' if caret else '**'}({args[1]})"
    if op.name == "neg":
        return f"-({args[0]})"
    return f"{op.called_as or op.name}({', '.join(args)})"


@st.composite
def expressions(draw, ops: tuple[str, ...], depth: int = 3) -> Expr:
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(leaves)
    if draw(st.integers(0, 9)) == 0:  # an integer power of a base of either sign
        base = squash(draw(expressions(ops, depth - 1)), 5.0)
        n = draw(st.sampled_from([2, 3]))
        values = [base.low**n, base.high**n, 0.0 if base.low < 0 < base.high else base.low**n]
        return Expr(f"({base.text})**{n}", base.sym**n, min(values), max(values))
    op = OPS[draw(st.sampled_from(ops))]
    count = draw(st.integers(op.min_args, 3)) if op.is_variadic else op.arity
    given = count - (draw(st.integers(0, len(op.defaults))) if op.defaults else 0)
    domains = op.domains if len(op.domains) == count else (op.domains[0],) * count
    args = [into(domains[k], draw(expressions(ops, depth - 1)), draw(st.booleans()))
            for k in range(given)]
    missing = count - given
    if missing:
        args += [constant(text) for _, text in op.defaults[len(op.defaults) - missing:]]
    text = text_of(op, [a.text for a in args[:given]], draw(st.booleans()), draw(st.booleans()))
    low, high = _range(op, args)
    return Expr(text, definition(op, [a.sym for a in args]), low, high)


def _uses(text: str, name: str) -> bool:
    import re

    return re.search(rf"\b{name}\b", text) is not None


@st.composite
def programs(draw, ops: tuple[str, ...] | None = None, variables_used: int = 1
             ) -> tuple[str, Expr]:
    """A program using at least `variables_used` of x, y, z; sometimes as named statements
    with fan-out and a copy (an `id` node)."""
    ops = tuple(ops or drawable())
    expression = draw(expressions(ops))
    for name in VARIABLES[:variables_used]:
        if not _uses(expression.text, name):
            combine = OPS[draw(st.sampled_from(["add", "sub", "mul"]))]
            other = squash(expression, 30.0)
            expression = Expr(text_of(combine, [other.text, name]),
                              definition(combine, [other.sym, SYMBOLS[name]]),
                              *_range(combine, [other, variable(name)]))
    shape = draw(st.integers(0, 2))
    if shape == 0:
        return expression.text, expression
    if shape == 1:
        return f"u = {expression.text}\nv = u", expression
    other = squash(draw(expressions(ops, 2)), 30.0)
    u = squash(expression, 30.0)
    text = f"u = {u.text}\nw = {other.text}\nc = u\nout = c*w + u"
    return text, Expr(text, u.sym * other.sym + u.sym, -1e4, 1e4)


points = st.fixed_dictionaries(
    {name: st.floats(-1.0, 1.0, allow_nan=False).map(lambda u, n=name: u + OFFSETS[n])
     for name in VARIABLES})


def program_point(text: str, point: dict[str, float]) -> dict[str, float]:
    """The point restricted to the program's variables (no 'unused variable' noise)."""
    return {name: value for name, value in point.items() if _uses(text, name)}


def away_from_kinks(text: str, point: dict[str, float]) -> bool:
    """No node sits within KINK_MARGIN of one of its op's kinks (read from the op table)."""
    result = grad(text, program_point(text, point))
    values = {node.id: node.value for node in result.nodes}
    for node in result.nodes:
        op = OPS.get(node.op)
        if op is None or op.edges is None:
            continue
        args = [values[edge.input] for edge in node.inputs]
        if any(abs(e) < KINK_MARGIN for e in op.edges(*args)):
            return False
    return all(node.status == "ok" for node in result.nodes)


@st.composite
def statement_programs(draw, ops: tuple[str, ...] | None = None, most: int = 7
                       ) -> tuple[str, sp.Expr, dict[str, float]]:
    """Named statements t1, t2, ... over x, y, z and earlier statements, so fan-out and reuse
    abound; returns the text, the output's SymPy expression, and a point."""
    ops = tuple(ops or drawable())
    names = [variable(name) for name in VARIABLES]
    lines = []
    for k in range(draw(st.integers(1, most))):
        op = OPS[draw(st.sampled_from(ops))]
        count = draw(st.integers(op.min_args, 3)) if op.is_variadic else op.arity
        domains = op.domains if len(op.domains) == count else (op.domains[0],) * count
        args = [into(domains[j], draw(st.sampled_from(names)), draw(st.booleans()))
                for j in range(count)]
        name = f"t{k + 1}"
        lines.append(f"{name} = {text_of(op, [a.text for a in args])}")
        low, high = _range(op, args)
        names.append(Expr(name, definition(op, [a.sym for a in args]), low, high))
    return "\n".join(lines), names[-1].sym, draw(points)
