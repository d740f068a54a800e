"""The evaluation loops: forward values, reverse accumulation, forward tangents.

A tape is compiled once for a graph, an output and a backend: one entry per op node with the
op's forward and partials already bound to that backend (float64, NumPy arrays, exact SymPy
numbers). The same loops then serve `grad`, forward mode, Jacobians and Hessians (float64),
sweeps (arrays), exact mode (SymPy) and grading's recomputation from a student's numbers. The
loops are iterative and index flat lists, one call per node; nothing here knows an op by name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import count

from .backends import FLOAT, Backend
from .ops import op_named

VAR = "var"
CONST = "const"
FAILED = (ArithmeticError, ValueError, TypeError)
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
                 backend: Backend = FLOAT, live: Sequence[bool] | None = None) -> list[tuple]:
    """One entry per op node: (node, code, forward, partials, first input, second, inputs).

    The code is the op's calling convention (1, 2, or 0 for n-ary), negative for nodes that do
    not reach `output` (`live`, when the caller has it), so the reverse loop never tests
    liveness."""
    bound: dict[str, tuple] = {}
    tape = []
    append = tape.append
    for i, name, ins, alive in zip(count(), ops, inputs,
                                   liveness(inputs, output) if live is None else live):
        if name == VAR or name == CONST:  # a leaf (a caller may make any node one)
            continue
        found = bound.get(name)
        if found is None:
            entry = op_named(name)
            found = bound[name] = (entry.calling_convention, *backend.bound(entry))
        code, forward, partials = found
        append((i, code if alive else _DEAD[code], forward, partials, ins[0],
                ins[1] if len(ins) > 1 else -1, ins))
    return tape


_LIVE = {-1: 1, -2: 2, -3: 0}


def for_output(tape: list[tuple], inputs: Sequence[tuple[int, ...]], output: int
               ) -> list[tuple]:
    """The tape with its nodes marked live or dead for another output (as compile_tape would
    mark them, at a fraction of its cost: one sweep per output of a Jacobian)."""
    live = liveness(inputs, output)
    return [entry if (entry[1] >= 0) is live[entry[0]] else
            (entry[0], _DEAD[entry[1]] if entry[1] >= 0 else _LIVE[entry[1]], *entry[2:])
            for entry in tape]


def run_forward(tape: list[tuple], values: list, source: list | None = None) -> list:
    """Fill in every op node's value; `values` holds the leaves (variables and constants).
    With `source`, each node is computed from the inputs' values there instead (grading
    recomputes a student's node from the student's own numbers of its inputs)."""
    source = values if source is None else source
    for i, code, forward, _, a, b, ins in tape:
        try:
            if code == 1 or code == -1:
                values[i] = forward(source[a])
            elif code == 2 or code == -2:
                values[i] = forward(source[a], source[b])
            else:
                values[i] = forward(*[source[j] for j in ins])
        except FAILED:
            values[i] = math.nan
    return values


class _Discard:
    """Stands in for the list of partials when the caller does not keep them."""

    def __setitem__(self, index: int, value: object) -> None:
        pass


def run_reverse(tape: list[tuple], values: list, output: int, seed=1.0, zero=0.0,
                keep_partials: bool = True, upstream: list | None = None
                ) -> tuple[list, list[tuple]]:
    """Local partials on every edge and adjoints d output / d node of every node. With
    `upstream`, each node passes on its value there instead of its accumulated adjoint (one
    step of the chain rule per node: grading recomputes a student's adjoints this way)."""
    adjoints = [zero] * len(values)
    adjoints[output] = seed
    source = adjoints if upstream is None else upstream
    partials_at: list = [()] * len(values) if keep_partials else _Discard()
    for i, code, _, partials, a, b, ins in reversed(tape):
        try:
            if code == 1:
                d = partials(values[a], values[i])
                partials_at[i] = (d,)
                adjoints[a] += source[i] * d
            elif code == 2:
                partials_at[i] = local = partials(values[a], values[b], values[i])
                g = source[i]
                adjoints[a] += g * local[0]
                adjoints[b] += g * local[1]
            elif code == 0:
                partials_at[i] = local = partials(tuple(values[j] for j in ins), values[i])
                g = source[i]
                for j, d in zip(ins, local, strict=True):
                    adjoints[j] += g * d
            elif keep_partials:
                partials_at[i] = _partials(code, partials, ins, values, i)
        except FAILED:
            partials_at[i] = (math.nan,) * len(ins)
            if code >= 0:
                for j in ins:
                    adjoints[j] += source[i] * math.nan
    return adjoints, partials_at if keep_partials else []


def run_reverse_carried(tape: list[tuple], values: list, output: int,
                        given: Mapping[int, float], seed: float = 1.0,
                        corrections: Mapping[int, Sequence[tuple[int, float]]] | None = None
                        ) -> list:
    """Adjoints where a node with a number in `given` passes that number on instead of its
    accumulated adjoint, and every other node its accumulated one: a student's adjoints
    carried through the nodes their table leaves out (grading only; kept apart from
    run_reverse so the engine's own loop stays lean). A node i with `corrections[i]` also
    passes upstream * delta to each (j, delta) listed: the student's own local derivative of
    a statement in place of the one its inner nodes give."""
    adjoints = [0.0] * len(values)
    adjoints[output] = seed
    corrections = corrections or {}
    for i, code, _, partials, _a, _b, ins in reversed(tape):
        if code < 0:  # does not reach the output
            continue
        try:
            local = _partials(code, partials, ins, values, i)
        except FAILED:
            local = (math.nan,) * len(ins)
        upstream = given.get(i, adjoints[i])
        for j, d in zip(ins, local, strict=True):
            adjoints[j] += upstream * d
        for j, delta in corrections.get(i, ()):
            adjoints[j] += upstream * delta
    return adjoints


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
    except FAILED:
        return (math.nan,) * len(args)


def run_tangents(tape: list[tuple], values: list, seeds: dict[int, float],
                 depends: Sequence[bool]) -> tuple[list, list[tuple]]:
    """Forward mode: d node / d direction for every node, from the seed tangents of the
    inputs, by the same local partials the reverse loop uses (float64 tapes). `depends` says
    which nodes depend on the seeded inputs at all."""
    tangent = [0.0] * len(values)
    for i, t in seeds.items():
        tangent[i] = t
    partials_at: list[tuple] = [()] * len(values)
    for i, code, _, partials, a, b, ins in tape:
        try:
            # An input that does not depend on the direction carries no tangent, whatever its
            # partial: in x**y by y, d/dx = inf at x = 0 must not make 0*inf = NaN.
            if code == 1 or code == -1:
                d = partials(values[a], values[i])
                partials_at[i] = (d,)
                tangent[i] = d * tangent[a] if depends[a] else 0.0
            elif code == 2 or code == -2:
                partials_at[i] = local = partials(values[a], values[b], values[i])
                tangent[i] = ((local[0] * tangent[a] if depends[a] else 0.0)
                              + (local[1] * tangent[b] if depends[b] else 0.0))
            else:
                partials_at[i] = local = partials(tuple(values[j] for j in ins), values[i])
                tangent[i] = sum((d * tangent[j] for j, d in zip(ins, local, strict=True)
                                  if depends[j]), 0.0)
        except FAILED:
            partials_at[i] = (math.nan,) * len(ins)
            tangent[i] = math.nan
    return tangent, partials_at


def dependents(inputs: Sequence[tuple[int, ...]], sources) -> list[bool]:
    """Which nodes depend on any of the `sources` (node numbers), themselves included."""
    depends = [False] * len(inputs)
    for i in sources:
        depends[i] = True
    for i, ins in enumerate(inputs):
        if not depends[i]:
            for j in ins:
                if depends[j]:
                    depends[i] = True
                    break
    return depends


def undefined_where_nan(tape: list[tuple], values: list, backend: Backend = FLOAT
                        ) -> list[tuple]:
    """Where a node's value is undefined (NaN) so is its derivative: a partial such as
    d log(a)/da = 1/a must not report a finite slope at a = -1. On any backend."""
    if backend is FLOAT:
        total = sum(values)  # NaN whenever a value is NaN (or infinities of both signs are)
        if total == total or all(v == v for v in values):
            return tape
    masked = []
    for entry in tape:
        partials = backend.undefined_partials(entry[1], entry[3], values[entry[0]])
        masked.append(entry if partials is None else entry[:3] + (partials,) + entry[4:])
    return masked
