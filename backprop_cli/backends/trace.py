"""Symbolic traces: run an op's rule on stand-ins and record what it computes.

`Rules` records expression trees (the parser's tuples), for the rule column, `explain` and
LaTeX. It folds only what is exact: `2*x**(2 - 1)` is recorded as `2*x`, but `(-0.066)**2`
stays as written.

`Tape` records the nodes of a new graph, each with its float64 value at the point, for the
Hessian: the reverse sweep itself becomes a graph that the engine differentiates again. There
every comparison is replaced by its value at the point (it is constant nearby), so a `where`
keeps only the branch taken and an untaken branch never turns a derivative into 0·inf = NaN.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache

from ..engine import CONST
from ..ops import OPS, op_named
from . import FLOAT
from .base import PRIMITIVES, Backend

_ARITHMETIC = ("add", "sub", "mul", "div", "pow")


class Traced:
    """A value inside a trace: arithmetic records an op instead of computing it."""

    __slots__ = ("trace", "handle")

    def __init__(self, trace: Trace, handle) -> None:
        self.trace = trace
        self.handle = handle

    def __add__(self, other):
        return self.trace.apply("add", (self, other))

    def __radd__(self, other):
        return self.trace.apply("add", (other, self))

    def __sub__(self, other):
        return self.trace.apply("sub", (self, other))

    def __rsub__(self, other):
        return self.trace.apply("sub", (other, self))

    def __mul__(self, other):
        return self.trace.apply("mul", (self, other))

    def __rmul__(self, other):
        return self.trace.apply("mul", (other, self))

    def __truediv__(self, other):
        return self.trace.apply("div", (self, other))

    def __rtruediv__(self, other):
        return self.trace.apply("div", (other, self))

    def __pow__(self, other):
        return self.trace.apply("pow", (self, other))

    def __rpow__(self, other):
        return self.trace.apply("pow", (other, self))

    def __neg__(self):
        return self.trace.apply("neg", (self,))

    def __pos__(self):
        return self

    def _refuse(self, *_):
        raise TypeError("an op's rule compared or branched on a traced value; write the "
                        "convention with B.where and the comparison ops")

    __bool__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __hash__ = None


def number_text(value: float) -> str:
    """A constant as it prints: integers without a decimal point."""
    if value != value:
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


@cache
def _op_names() -> frozenset[str]:
    return frozenset(Backend.op_names())


class Trace(Backend):
    """Every primitive and every op becomes a recorded application."""

    kind = "trace"

    def __init__(self) -> None:
        self._pairs = {}

    def __getattr__(self, name: str):
        # A primitive or an op is recorded under its name, its recorder made on first use: a
        # rule uses a few of the sixty, and a trace is made once per rule template.
        if name.startswith("_") or (name not in PRIMITIVES and name not in _op_names()):
            raise AttributeError(name)
        record = self._recorder(name)
        setattr(self, name, record)
        return record

    def _recorder(self, name: str):
        def record(*args):
            return self.apply(name, args)

        return record

    def handle(self, value):
        if isinstance(value, Traced):
            return value.handle
        if isinstance(value, bool):
            raise TypeError("a rule returned a truth value")
        return self.literal(float(value), number_text(float(value)))

    def apply(self, name: str, args: tuple) -> Traced:
        return Traced(self, self.record(name, [self.handle(a) for a in args]))

    def call(self, op_name: str, *args) -> Traced:
        return self.apply(op_name, args)

    def number(self, value: int | str) -> Traced:
        if isinstance(value, str):
            number = FLOAT.number(value)
            return Traced(self, self.literal(number, value))
        return Traced(self, self.literal(float(value), str(value)))

    def constant(self, value: float, text: str) -> Traced:
        return Traced(self, self.literal(value, text))

    def literal(self, value: float, text: str):
        raise NotImplementedError

    def record(self, name: str, handles: list):
        raise NotImplementedError


def partials_of(trace: Trace, entry, args: list[Traced], out: Traced) -> tuple[Traced, ...]:
    """Run an op's partials on traced arguments (any calling convention)."""
    partials = trace.bound(entry)[1]
    convention = entry.calling_convention
    if convention == 1:
        found = (partials(args[0], out),)
    elif convention == 2:
        found = partials(args[0], args[1], out)
    else:
        found = partials(tuple(args), out)
    return tuple(p if isinstance(p, Traced) else Traced(trace, trace.handle(p)) for p in found)


# ----------------------------------------------------------------------------------------------
# Expression trees


def _exact(value: float, *inputs: float, how) -> bool:
    """Whether float arithmetic gave the exact rational answer (so folding loses nothing)."""
    try:
        return Fraction(value) == how(*(Fraction(x) for x in inputs))
    except (ValueError, OverflowError, ZeroDivisionError):
        return False


_EXACT = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


def _numeral(text: str) -> bool:
    """A constant written as a number (pi and e stay symbols when folding)."""
    return text.lstrip("-")[:1] in "0123456789."


def _negated_text(text: str) -> str:
    return text[1:] if text.startswith("-") else "-" + text


class Rules(Trace):
    """Records expression trees, folding what is exact."""

    def literal(self, value: float, text: str) -> tuple:
        return ("const", value, text)

    def record(self, name: str, handles: list) -> tuple:
        folded = self._fold(name, handles)
        if folded is not None:
            return folded
        if name in _ARITHMETIC:
            a, b = handles
            if name == "mul" and a == b:
                return ("pow", a, ("const", 2.0, "2"))
            return (name, a, b)
        if name == "neg":
            return ("neg", handles[0])
        if name == "id":
            return handles[0]
        return ("call", name, tuple(handles))

    def _fold(self, name: str, args: list) -> tuple | None:
        constants = [a[1] if a[0] == "const" else None for a in args]
        known = all(c is not None for c in constants)
        entry = OPS.get(name)
        if entry is not None and entry.piecewise_constant and known:
            value = FLOAT.call(name, *constants)
            return ("const", value, number_text(value))
        if name == "where":
            if constants[0] is not None:
                c = constants[0]
                return args[2] if c == 0 else (args[1] if c == c else ("const", math.nan, "nan"))
            return args[1] if args[1] == args[2] else None
        if name == "neg":
            a = args[0]
            if a[0] == "const":
                return ("const", -a[1], _negated_text(a[2]))
            if a[0] == "div":  # -(a/b) is (-a)/b exactly, and reads "-a/b"
                return ("div", self.record("neg", [a[1]]), a[2])
            return a[1] if a[0] == "neg" else None
        if name in _EXACT and known and all(_numeral(a[2]) for a in args):
            value = FLOAT.call(name, *constants)
            if math.isfinite(value) and _exact(value, *constants, how=_EXACT[name]):
                return ("const", value, number_text(value))
        return _identity(name, args, constants)


def _identity(name: str, args: list, constants: list) -> tuple | None:
    """x + 0, x*1, 0*x, x/1, x**1 and -1*x, which read better folded."""
    if name == "add":
        if constants[0] == 0:
            return args[1]
        if constants[1] == 0:
            return args[0]
    elif name == "sub":
        if constants[1] == 0:
            return args[0]
        if constants[0] == 0:
            return ("neg", args[1])
    elif name == "mul":
        for mine, other in ((0, 1), (1, 0)):
            if constants[mine] == 1:
                return args[other]
            if constants[mine] == 0:
                return ("const", 0.0, "0")
            if constants[mine] == -1:
                return ("neg", args[other])
    elif name == "div" and constants[1] == 1:
        return args[0]
    elif name == "pow":
        if constants[1] == 1:
            return args[0]
        if constants[1] == 0:
            return ("const", 1.0, "1")
    return None


# ----------------------------------------------------------------------------------------------
# A graph with values



class Tape(Trace):
    """Records nodes of a graph, each with its float64 value; starts from an existing graph's
    nodes and values, which later nodes may use by their number."""

    def __init__(self, ops: list[str], inputs: list[tuple[int, ...]],
                 values: list[float]) -> None:
        super().__init__()
        self.ops = list(ops)
        self.inputs = list(inputs)
        self.values = list(values)
        self.index: dict[tuple, int] = {}
        self.constants: dict[float, int] = {}

    def node(self, position: int) -> Traced:
        return Traced(self, position)

    def literal(self, value: float, text: str) -> int:
        if value == value and value in self.constants:
            return self.constants[value]
        position = self._append(CONST, (), value)
        if value == value:
            self.constants[value] = position
        return position

    def is_constant(self, position: int) -> bool:
        return self.ops[position] == CONST

    def record(self, name: str, handles: list) -> int:
        values = [self.values[h] for h in handles]
        entry = OPS.get(name) or op_named(name)
        known = all(self.ops[h] == CONST for h in handles)
        if entry.piecewise_constant or known:
            return self.literal(_value(entry, values), "")
        if name == "where":
            c = values[0]
            return handles[2] if c == 0 else (handles[1] if c == c else self.literal(math.nan, ""))
        if name == "id":
            return handles[0]
        folded = self._identity(name, handles, values)
        if folded is not None:
            return folded
        key = (name, tuple(handles))
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = self._append(name, tuple(handles), _value(entry, values))
        return found

    def _identity(self, name: str, handles: list, values: list) -> int | None:
        """1*x and x + 0 are x, values and derivatives alike. (0*x is not folded: where x
        is infinite it is NaN, and the Hessian must say so on both sides.)"""
        constant = [values[k] if self.ops[h] == CONST else None for k, h in enumerate(handles)]
        if name == "mul":
            for mine, other in ((0, 1), (1, 0)):
                if constant[mine] == 1:
                    return handles[other]
        elif name in ("add", "sub") and constant[1] == 0:
            return handles[0]
        elif name == "add" and constant[0] == 0:
            return handles[1]
        return None

    def _append(self, name: str, inputs: tuple, value: float) -> int:
        self.ops.append(name)
        self.inputs.append(inputs)
        self.values.append(value)
        return len(self.ops) - 1


def _value(entry, values: list[float]) -> float:
    try:
        return FLOAT.bound(entry)[0](*values)
    except (ArithmeticError, ValueError, TypeError):
        return math.nan
