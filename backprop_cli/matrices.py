"""Jacobians (one reverse sweep per output) and Hessians (reverse over reverse).

For a Hessian the reverse sweep is traced into a graph of its own: each adjoint a sum of
consumer adjoint × local partial, each partial the op table's own rule traced on the graph's
nodes. The engine then differentiates that graph once per variable. Building it is linear in
the size of the program; nothing here uses finite differences, SymPy, or rule text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .backends.trace import Tape, Traced, partials_of
from .engine import compile_tape, run_forward, run_reverse, undefined_where_nan
from .errors import InputError
from .forward_mode import program_and_point
from .gradient import evaluate, leaf_values, node_flags
from .graph import Graph
from .ops import op_named
from .parse import format_program
from .result import SCHEMA_VERSION, nonfinite_labels, number
from .status import NOT_A_NUMBER

MAX_HESSIAN_NODES = 100_000
MAX_HESSIAN_WORK = 5_000_000  # variables × nodes of the traced reverse sweep


@dataclass(frozen=True)
class Matrix:
    """A Jacobian or Hessian: rows by `rows`, columns by `columns`."""

    kind: str  # "jacobian" | "hessian"
    expression: str
    at: tuple[tuple[str, float], ...]
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        matrix = [[number(v) for v in row] for row in self.values]
        document = {"schema": SCHEMA_VERSION, "ok": True, "expression": self.expression,
                    "at": {k: number(v) for k, v in self.at}, "variables": list(self.columns)}
        if self.kind == "jacobian":
            document.update(outputs=list(self.rows), jacobian=matrix)
        else:
            document.update(hessian=matrix)
        document["warnings"] = list(self.warnings)
        labels = nonfinite_labels(**{self.kind: self.values})
        if labels:
            document["nonfinite"] = labels
        return document


_FINAL_TUPLE = re.compile(r"[;\n]\s*\(?\s*([^\W\d]\w*(?:\s*,\s*[^\W\d]\w*)+)\s*\)?\s*$")


def jacobian(text: str, at: Mapping, outputs: list[str] | None = None) -> Matrix:
    """One reverse sweep per output. Outputs are `outputs`, else a final tuple of statement
    names (`...; a, b`), else the last statement."""
    match = _FINAL_TUPLE.search(text)
    if match is not None:
        if outputs is None:
            outputs = [name.strip() for name in match.group(1).split(",")]
        text = text[:match.start()]
    program, graph, point = program_and_point(text, at)
    names = outputs or [graph.ids[graph.output]]
    position = {node_id: i for i, node_id in enumerate(graph.ids)}
    for name in names:
        if name not in position:
            raise InputError(f"output {name!r} is not a node of the program "
                             f"(statements: {', '.join(sorted(program.defined_names))})")
    values = run_forward(compile_tape(graph.ops, graph.inputs, graph.output),
                         leaf_values(graph, point))
    rows = []
    warnings: list[str] = []
    for name in names:
        output = position[name]
        tape = undefined_where_nan(compile_tape(graph.ops, graph.inputs, output), values)
        adjoints, partials = run_reverse(tape, values, output)
        rows.append(tuple(adjoints[i] for i in graph.variables))
        flags = node_flags(graph, values, adjoints, partials)
        warnings.extend(w for w in flags if w not in warnings)
    return Matrix("jacobian", format_program(program), tuple((graph.ids[i], point[graph.ids[i]])
                  for i in graph.variables), tuple(names), graph.variable_names, tuple(rows),
                  tuple(warnings))


def hessian(text: str, at: Mapping) -> Matrix:
    """Second derivatives by reverse over reverse on the engine."""
    program, graph, point = program_and_point(text, at)
    if len(graph) > MAX_HESSIAN_NODES:
        raise InputError(f"hessian works on programs of up to {MAX_HESSIAN_NODES:,} nodes "
                         f"(this one has {len(graph):,})")
    result = evaluate(graph, point)
    variables = graph.variable_names
    live = graph.live()
    if any(live[i] and node.status in NOT_A_NUMBER for i, node in enumerate(result.nodes)):
        n = len(variables)
        nan_rows = tuple((math.nan,) * n for _ in range(n))
        return Matrix("hessian", format_program(program), result.at, variables, variables,
                      nan_rows, result.warnings)
    tape, adjoints = reverse_sweep_graph(graph, [node.value for node in result.nodes])
    work = len(tape.ops) * len(variables)
    if work > MAX_HESSIAN_WORK:
        raise InputError(f"this Hessian needs {len(variables):,} sweeps over "
                         f"{len(tape.ops):,} nodes; the limit is {MAX_HESSIAN_WORK:,} in all")
    rows = []
    for i in graph.variables:
        row = adjoints.get(i)
        if row is None or tape.is_constant(row):
            # A constant first derivative has second derivatives 0, unless it is itself
            # undefined (a partial SymPy does not know).
            known = row is None or tape.values[row] == tape.values[row]
            rows.append((0.0 if known else math.nan,) * len(variables))
            continue
        second = compile_tape(tape.ops, tape.inputs, row)
        sweep, _ = run_reverse(second, tape.values, row, keep_partials=False)
        rows.append(tuple(sweep[j] for j in graph.variables))
    return Matrix("hessian", format_program(program), result.at, variables, variables,
                  _undefined_together(rows), result.warnings)


def _undefined_together(rows: list[tuple[float, ...]]) -> tuple[tuple[float, ...], ...]:
    """At a kink the two orders of a mixed second derivative can differ, one of them not a
    number: the entry does not exist there, on both sides of the matrix."""
    matrix = [list(row) for row in rows]
    for i, row in enumerate(matrix):
        for j in range(i):
            a, b = row[j], matrix[j][i]
            if (not math.isfinite(a) or not math.isfinite(b)) and not a == b:
                row[j] = matrix[j][i] = math.nan
    return tuple(tuple(row) for row in matrix)


def reverse_sweep_graph(graph: Graph, values: list[float]) -> tuple[Tape, dict[int, int]]:
    """The reverse sweep as a graph with values: the program's nodes first, then every
    partial (traced from the op table) and every adjoint. Returns the tape and, for each node
    that reaches the output, the tape node of its adjoint."""
    tape = Tape(graph.ops, graph.inputs, values)
    live, varying = graph.live(), graph.varying
    adjoint: dict[int, Traced] = {graph.output: tape.number(1)}
    for i in range(len(graph.ids) - 1, -1, -1):
        ins = graph.inputs[i]
        if not ins or not live[i] or i not in adjoint:
            continue
        upstream = adjoint[i]
        partials = partials_of(tape, op_named(graph.ops[i]), [tape.node(j) for j in ins],
                               tape.node(i))
        for j, partial in zip(ins, partials, strict=True):
            if varying[j]:
                term = upstream * partial
                adjoint[j] = adjoint[j] + term if j in adjoint else term
    return tape, {i: value.handle for i, value in adjoint.items()}
