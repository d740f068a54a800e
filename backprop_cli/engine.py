"""The evaluation loops: forward values, reverse accumulation, forward tangents.

A tape is compiled once for a graph, an output and a backend: one entry per op node with the
op's forward and partials already bound to that backend (float64, NumPy arrays, exact SymPy
numbers). The same loops then serve `grad`, forward mode, Jacobians and Hessians (float64),
sweeps (arrays), exact mode (SymPy) and grading's recomputation from a student's numbers. The
loops are iterative and index flat lists, one call per node; nothing here knows an op by name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .backends import FLOAT, Backend
from .ops import op_named

VAR = "var"
CONST = "const"
_FAILED = (ArithmeticError, ValueError, TypeError)
# Codes of nodes the output does not depend on: partials are computed, never accumulated.
_DEAD = {1: -1, 2: -2, 0: -3}


def liveness(inputs: Sequence[tuple[int, ...]], output: int) -> list[bool]:
    """Which nodes the output depends on (the output included); nodes are in topological
    order."""
    live = [False] * len(inputs)
    live[output] = True
    for i in range(output, -1, -1):
        if live[i]:
            for j in inputs[i]:
                live[j] = True
    return live


def compile_tape(ops: Sequence[str], inputs: Sequence[tuple[int, ...]], output: int,
                 backend: Backend = FLOAT) -> list[tuple]:
    """One entry per op node: (node, code, forward, partials, first input, second, inputs).

    The code is the op's calling convention (1, 2, or 0 for n-ary), negative for nodes that do
    not reach `output`, so the reverse loop never tests liveness."""
    live = liveness(inputs, output)
    bound: dict[str, tuple] = {}
    tape = []
    for i, name in enumerate(ops):
        if name == VAR or name == CONST:
            continue
        pair = bound.get(name)
        if pair is None:
            entry = op_named(name)
            pair = bound[name] = (entry.calling_convention, *backend.bound(entry))
        code, forward, partials = pair
        ins = inputs[i]
        tape.append((i, code if live[i] else _DEAD[code], forward, partials, ins[0],
                     ins[1] if len(ins) > 1 else -1, ins))
    return tape


def run_forward(tape: list[tuple], values: list) -> list:
    """Fill in every op node's value; `values` holds the leaves (variables and constants)."""
    for i, code, forward, _, a, b, ins in tape:
        try:
            if code == 1 or code == -1:
                values[i] = forward(values[a])
            elif code == 2 or code == -2:
                values[i] = forward(values[a], values[b])
            else:
                values[i] = forward(*[values[j] for j in ins])
        except _FAILED:
            values[i] = math.nan
    return values


class _Discard:
    """Stands in for the list of partials when the caller does not keep them."""

    def __setitem__(self, index: int, value: object) -> None:
        pass


def run_reverse(tape: list[tuple], values: list, output: int, seed=1.0, zero=0.0,
                keep_partials: bool = True) -> tuple[list, list[tuple]]:
    """Local partials on every edge and adjoints d output / d node of every node."""
    adjoints = [zero] * len(values)
    adjoints[output] = seed
    partials_at: list = [()] * len(values) if keep_partials else _Discard()
    for i, code, _, partials, a, b, ins in reversed(tape):
        try:
            if code == 1:
                d = partials(values[a], values[i])
                partials_at[i] = (d,)
                adjoints[a] += adjoints[i] * d
            elif code == 2:
                partials_at[i] = local = partials(values[a], values[b], values[i])
                g = adjoints[i]
                adjoints[a] += g * local[0]
                adjoints[b] += g * local[1]
            elif code == 0:
                partials_at[i] = local = partials(tuple(values[j] for j in ins), values[i])
                g = adjoints[i]
                for j, d in zip(ins, local, strict=True):
                    adjoints[j] += g * d
            elif keep_partials:
                partials_at[i] = _partials(code, partials, ins, values, i)
        except _FAILED:
            partials_at[i] = (math.nan,) * len(ins)
            if code >= 0:
                for j in ins:
                    adjoints[j] += adjoints[i] * math.nan
    return adjoints, partials_at if keep_partials else []


def _partials(code: int, partials, ins, values: list, i: int) -> tuple:
    if code == 1 or code == -1:
        return (partials(values[ins[0]], values[i]),)
    if code == 2 or code == -2:
        return tuple(partials(values[ins[0]], values[ins[1]], values[i]))
    return tuple(partials(tuple(values[j] for j in ins), values[i]))


def node_partials(code: int, partials, args: list, out) -> tuple:
    """One node's local partials at the given input values and output value, as a tuple."""
    try:
        return _partials(code, partials, range(len(args)), [*args, out], len(args))
    except _FAILED:
        return (math.nan,) * len(args)


def run_tangents(tape: list[tuple], values: list, seeds: dict[int, float]
                 ) -> tuple[list, list[tuple]]:
    """Forward mode: d node / d direction for every node, from the seed tangents of the
    inputs, by the same local partials the reverse loop uses (float64 tapes)."""
    tangent = [0.0] * len(values)
    for i, t in seeds.items():
        tangent[i] = t
    partials_at: list[tuple] = [()] * len(values)
    for i, code, _, partials, a, b, ins in tape:
        try:
            # An input whose tangent is exactly 0 contributes nothing, whatever its partial:
            # x**2 at x < 0 has d/d(exponent) = NaN, and x**y at x = 0 has d/dx = inf, but
            # neither may turn a zero tangent into NaN.
            if code == 1 or code == -1:
                d = partials(values[a], values[i])
                partials_at[i] = (d,)
                t = tangent[a]
                tangent[i] = d * t if t else 0.0
            elif code == 2 or code == -2:
                partials_at[i] = local = partials(values[a], values[b], values[i])
                t, u = tangent[a], tangent[b]
                tangent[i] = (local[0] * t if t else 0.0) + (local[1] * u if u else 0.0)
            else:
                partials_at[i] = local = partials(tuple(values[j] for j in ins), values[i])
                tangent[i] = sum((d * tangent[j] for j, d in zip(ins, local, strict=True)
                                  if tangent[j]), 0.0)
        except _FAILED:
            partials_at[i] = (math.nan,) * len(ins)
            tangent[i] = math.nan
    return tangent, partials_at


def undefined_where_nan(tape: list[tuple], values: list[float]) -> list[tuple]:
    """Where a node's value is undefined (NaN) so is its derivative: a partial such as
    d log(a)/da = 1/a must not report a finite slope at a = -1 (float64 tapes)."""
    if all(v == v for v in values):
        return tape
    return [entry if values[entry[0]] == values[entry[0]]
            else entry[:3] + (_NAN_PARTIALS[entry[1]],) + entry[4:] for entry in tape]


_NAN_PARTIALS = {
    1: lambda a, out: math.nan, -1: lambda a, out: math.nan,
    2: lambda a, b, out: (math.nan, math.nan), -2: lambda a, b, out: (math.nan, math.nan),
    0: lambda args, out: (math.nan,) * len(args), -3: lambda args, out: (math.nan,) * len(args),
}
