"""Python source: run an op's rule on stand-ins that write down the float64 code it executes.

A stand-in (`Code`) names a local of the code being written. Arithmetic on stand-ins, and every
primitive called on one, appends one assignment to a fresh local, in the order the rule
computes it; numbers stay the float backend's own floats, so whatever a rule computes from
constants alone is computed here exactly as the float backend computes it. The code is
therefore the same operations on the same floats in the same order as calling the rule on the
float backend: the same bits, without a Python call per node (see fused.py, which inlines it).

A rule that branches on a value, compares one, or hands it to anything but a primitive cannot
be written down this way: it raises `Untraceable`, and its op is called as a function instead.
"""

from __future__ import annotations

import math

from . import FLOAT
from .base import PRIMITIVES, Backend


class Untraceable(Exception):
    """The rule needs a value, not a stand-in (a branch, a comparison, a foreign function)."""


class Code:
    """A float64 value inside the code being written: `text` is a local's name."""

    __slots__ = ("writer", "text")

    def __init__(self, writer: Writer, text: str) -> None:
        self.writer = writer
        self.text = text

    def _binary(self, symbol: str, other, reflected: bool = False):
        if not isinstance(other, Code | int | float) or isinstance(other, bool):
            return NotImplemented
        left, right = (other, self) if reflected else (self, other)
        return self.writer.emit(f"{operand(left)} {symbol} {operand(right)}")

    def __add__(self, other):
        return self._binary("+", other)

    def __radd__(self, other):
        return self._binary("+", other, True)

    def __sub__(self, other):
        return self._binary("-", other)

    def __rsub__(self, other):
        return self._binary("-", other, True)

    def __mul__(self, other):
        return self._binary("*", other)

    def __rmul__(self, other):
        return self._binary("*", other, True)

    def __truediv__(self, other):
        return self._binary("/", other)

    def __rtruediv__(self, other):
        return self._binary("/", other, True)

    def __pow__(self, other):
        return self._binary("**", other)

    def __rpow__(self, other):
        return self._binary("**", other, True)

    def __neg__(self):
        return self.writer.emit(f"-{self.text}")

    def __pos__(self):
        return self.writer.emit(f"+{self.text}")

    def _needs_value(self, *_):
        raise Untraceable("the rule needs a value")

    __bool__ = __float__ = __int__ = __index__ = __abs__ = _needs_value
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _needs_value
    __hash__ = None  # type: ignore[assignment]


class Writer:
    """The statements of one op's code, each `t<k> = <expression>`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.lines: list[str] = []
        self.count = 0

    def emit(self, expression: str) -> Code:
        name = f"{self.prefix}{self.count}"
        self.count += 1
        self.lines.append(f"{name} = {expression}")
        return Code(self, name)


def operand(value) -> str:
    """A stand-in's local, or a number as a literal that reads back as the same number."""
    if isinstance(value, Code):
        return value.text
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Untraceable(f"a {type(value).__name__} is not a float64 value")
    if isinstance(value, float) and not math.isfinite(value):
        return "_nan" if value != value else ("_inf" if value > 0 else "(-_inf)")
    text = repr(value)
    return f"({text})" if text.startswith("-") else text


def _primitive(name: str):
    native = getattr(FLOAT, name)
    local = f"_{name}"

    def primitive(*args):
        writer = next((a.writer for a in args if isinstance(a, Code)), None)
        if writer is None:  # constants only: computed now, as the float backend computes it
            return native(*args)
        return writer.emit(f"{local}({', '.join(operand(a) for a in args)})")

    return primitive


class SourceBackend(Backend):
    """Stand-ins that write float64 code; the float backend's numbers and primitives."""

    kind = "source"

    def __init__(self) -> None:
        super().__init__()
        self.set_primitives({name: _primitive(name) for name in PRIMITIVES})

    @staticmethod
    def namespace() -> dict:
        """What the written code refers to: the float backend's primitives and non-finite
        numbers."""
        found = {f"_{name}": getattr(FLOAT, name) for name in PRIMITIVES}
        found.update(_inf=math.inf, _nan=math.nan)
        return found

    def number(self, value: int | str) -> float:
        return FLOAT.number(value)

    def constant(self, value: float, text: str) -> float:
        return FLOAT.constant(value, text)

    def undefined_partials(self, code: int, partials, value):
        raise Untraceable("undefined partials are the float backend's")


SOURCE = SourceBackend()


def written(entry, inputs: tuple[str, ...], prefix: str) -> tuple[list[str], str, list[str],
                                                                   tuple[str, ...]]:
    """An op's float64 code over the locals `inputs`: the statements of its forward, the
    local or literal holding its value (to be stored in the local `out`), the statements of its
    partials (reading `out`), and each partial's local or literal. Raises Untraceable."""
    try:
        forward, partials = SOURCE.bound(entry)
        writer = Writer(prefix)
        value = operand(forward(*(Code(writer, name) for name in inputs)))
        before = writer.lines
        writer.lines = []
        found = partials(*(Code(writer, name) for name in inputs), Code(writer, "out"))
        found = (found,) if len(inputs) == 1 else tuple(found)
        if len(found) != len(inputs):
            raise Untraceable("a partial per input")
        return before, value, writer.lines, tuple(operand(p) for p in found)
    except Untraceable:
        raise
    except Exception as error:  # a rule written for values: call it instead
        raise Untraceable(str(error)) from error
