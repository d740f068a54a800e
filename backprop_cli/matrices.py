"""Jacobians (one reverse sweep per output) and Hessians (reverse over reverse).

For a Hessian the reverse sweep is traced into a graph of its own: each adjoint a sum of
consumer adjoint × local partial, each partial the op table's own rule traced on the graph's
nodes. The engine then differentiates that graph once per variable. Building it is linear in
the size of the program; nothing here uses finite differences, SymPy, or rule text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from .backends.trace import Tape, Traced, partials_of
from .engine import compile_tape, for_output, run_forward, run_reverse, undefined_where_nan
from .errors import InputError, LimitError, not_a_variable
from .forward_mode import program_and_point
from .gradient import evaluate, leaf_values, node_flags
from .graph import Graph, fallback_nodes, work_size
from .ops import op_named
from .parse import check_size, format_program
from .result import SCHEMA_VERSION, nonfinite_labels, number
from .status import NOT_A_NUMBER

MAX_HESSIAN_NODES = 100_000
# Work limits, measured on a 2-core machine: a variable's reverse sweep costs about 0.5 µs
# per node of the traced sweep, an output's about 1.5 µs per node of the program, so either
# limit is about 20 s. A node calling a SymPy function counts as FALLBACK_COST nodes.
MAX_HESSIAN_WORK = 30_000_000  # variables × nodes of the traced reverse sweep
MAX_JACOBIAN_WORK = 10_000_000  # outputs × nodes of the program
FALLBACK_COST = 400
MAX_TABLE_ENTRIES = 10_000  # a matrix drawn as a table (rendering 10^6 cells takes seconds)


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


_NAME = re.compile(r"[^\W\d]\w*")
NO_VARIABLES = "the program has no variables to differentiate: its {what} has {has}"


def _array_jacobian(program, graph: Graph, point: Mapping, outputs: list[str] | None,
                    max_entries: int | None, data: frozenset[str]) -> Matrix:
    """The Jacobian of a program over arrays: every element of each output, by every element
    of every variable."""
    import numpy as np

    from .tensor_engine import array_jacobian, forward_pass, value_flags

    names = outputs or [graph.ids[graph.output]]
    unknown = [name for name in names if name not in graph.ids]
    if unknown:
        raise InputError(f"output {unknown[0]!r} is not a node of the program (statements: "
                         f"{', '.join(sorted(program.defined_names))})")
    rows: list = []
    values: list = []
    columns: list = []
    for name in names:
        labels, columns, found = array_jacobian(graph, point, graph.ids.index(name), data)
        rows += labels
        values += found
        _table_fits(len(rows), len(columns), max_entries, "smaller outputs or fewer variables")
    at_labels = tuple((label, float(v)) for i in graph.variables if graph.ids[i] not in data
                      for label, v in zip(_labels(graph.ids[i], point[graph.ids[i]]),
                                          np.ravel(point[graph.ids[i]]), strict=True))
    flags = value_flags(graph, forward_pass(graph, point)[0])
    return Matrix("jacobian", format_program(program), at_labels, tuple(rows), tuple(columns),
                  tuple(values), (*program.cautions, *flags))


def array_program_hessian(text: str, at: Mapping, wrt: Sequence[str] | None,
                          max_entries: int | None, data: frozenset[str] = frozenset()
                          ) -> Matrix | None:
    """The Hessian of a program over arrays by every element of its variables (or of those
    in `wrt`), or None for a scalar program."""
    from .api import over_arrays, value_of
    from .graph import build_graph
    from .parse import parse_program

    check_size(text)
    point = {name: value_of(name, value, arrays=True) for name, value in at.items()}
    program = parse_program(text, given=frozenset(point))
    graph = build_graph(program)
    if not over_arrays(graph, point):
        return None
    import numpy as np

    from .tensor_engine import (
        HESSIAN_STEP,
        array_hessian,
        refuse_whole_numbers,
        whole_number_variables,
    )

    all_variables = [name for name in graph.variable_names if name not in data]
    whole = whole_number_variables(graph)
    names = [name for name in all_variables if name not in whole]
    if not names:
        raise InputError(NO_VARIABLES.format(what="Hessian", has="no rows"))
    if wrt:
        refuse_whole_numbers(graph, wrt, "--wrt {name!r}")
        unknown = [name for name in wrt if name not in names]
        if unknown and unknown[0].partition("[")[0] in names:
            raise InputError(f"--wrt {unknown[0]!r}: give the whole variable, "
                             f"--wrt {unknown[0].partition('[')[0]} (the Hessian's rows are "
                             "its every element)")
        if unknown:
            raise not_a_variable(unknown[0], names, data)
        names = [name for name in names if name in wrt]
    labels, matrix, warnings = array_hessian(graph, point, names, data)
    _table_fits(len(labels), len(labels), max_entries, "--wrt to ask for fewer variables")
    at_labels = tuple((label, float(v)) for name in all_variables
                      for label, v in zip(_labels(name, point[name]), np.ravel(point[name]),
                                          strict=True))
    note = (f"second derivatives over arrays are central differences of the reverse-mode "
            f"gradient (step {HESSIAN_STEP:g} times each element's size, at least "
            f"{HESSIAN_STEP:g}, smaller where a kink is that near), accurate to about 6 "
            "significant digits")
    return Matrix("hessian", format_program(program), at_labels, tuple(labels), tuple(labels),
                  tuple(tuple(float(v) for v in row) for row in matrix),
                  (*program.cautions, note, *warnings))


def _labels(name: str, value) -> list[str]:
    from .tensor_engine import element_labels

    return element_labels(name, value)


def final_tuple(text: str) -> tuple[str, list[str]] | None:
    """A final tuple of statement names (`...; a, b` or `...; (a, b)`) split off the program:
    the text before it and the names. One pass over the text (no backtracking regex)."""
    stripped = text.rstrip()
    cut = max(stripped.rfind(";"), stripped.rfind("\n"))
    if cut < 0:
        return None
    tail = stripped[cut + 1:].strip()
    tail = tail[1:] if tail.startswith("(") else tail
    tail = tail[:-1] if tail.endswith(")") else tail
    names = [part.strip() for part in tail.split(",")]
    if len(names) < 2 or not all(_NAME.fullmatch(name) for name in names):
        return None
    return text[:cut], names


def jacobian(text: str, at: Mapping, outputs: list[str] | None = None,
             max_entries: int | None = None, data: frozenset[str] = frozenset()) -> Matrix:
    """One reverse sweep per output. Outputs are `outputs`, else a final tuple of statement
    names (`...; a, b`), else the last statement. With `max_entries`, a matrix larger than
    that is refused before any sweep. A program over arrays gives every element of each
    output by every element of every variable (the names in `data` are a data set's)."""
    check_size(text)
    found = final_tuple(text)
    if found is None:
        return _jacobian(text, at, outputs, None, max_entries, data)
    text, names_in_text = found
    matrix = _jacobian(text, at, outputs, names_in_text, max_entries, data)
    # the expression keeps the final tuple, so that it reads back as the same outputs
    return replace(matrix, expression=f"{matrix.expression}\n({', '.join(names_in_text)})")


def _jacobian(text: str, at: Mapping, outputs: list[str] | None,
              names_in_text: list[str] | None, max_entries: int | None,
              data: frozenset[str]) -> Matrix:
    from .api import over_arrays

    program, graph, point = program_and_point(text, at, arrays=True)
    if all(name in data for name in graph.variable_names):
        raise InputError(NO_VARIABLES.format(what="Jacobian", has="no columns"))
    if over_arrays(graph, point):
        return _array_jacobian(program, graph, point, outputs or names_in_text, max_entries,
                               data)
    outputs = outputs if outputs is not None else names_in_text
    names = outputs or [graph.ids[graph.output]]
    position = {node_id: i for i, node_id in enumerate(graph.ids)}
    for name in names:
        if name not in position:
            named = sorted(program.defined_names)
            known = (f"statements: {', '.join(named)}" if named else
                     "it names no statements; write `a = ...; b = ...; a, b` to name outputs")
            raise InputError(f"output {name!r} is not a node of the program ({known})")
    work = len(names) * work_size(graph.ops, FALLBACK_COST)
    if work > MAX_JACOBIAN_WORK:
        raise LimitError(f"jacobian: {len(names):,} outputs × {len(graph):,} nodes"
                         f"{_weighted(graph.ops)} is too much work (at most "
                         f"{MAX_JACOBIAN_WORK:,}); ask for fewer outputs with --output, or "
                         "use a smaller program")
    _table_fits(len(names), len(graph.variables), max_entries,
                "--output with fewer outputs")
    compiled = compile_tape(graph.ops, graph.inputs, graph.output, live=graph.live())
    values = run_forward(compiled, leaf_values(graph, point))
    rows = []
    warnings: list[str] = []
    for name in names:
        output = position[name]
        tape = undefined_where_nan(for_output(compiled, graph.inputs, output), values)
        adjoints, partials = run_reverse(tape, values, output)
        rows.append(tuple(adjoints[i] for i in graph.variables))
        flags = node_flags(graph, values, adjoints, partials)
        warnings.extend(w for w in flags if w not in warnings)
    return Matrix("jacobian", format_program(program), tuple((graph.ids[i], point[graph.ids[i]])
                  for i in graph.variables), tuple(names), graph.variable_names, tuple(rows),
                  (*program.cautions, *warnings))


def hessian(text: str, at: Mapping, wrt: Sequence[str] | None = None,
            max_entries: int | None = None) -> Matrix:
    """Second derivatives by reverse over reverse on the engine: of every variable, or of the
    variables in `wrt` (the rows and columns of those). The work, variables × nodes of the
    traced reverse sweep, is estimated before any sweep and refused beyond the limit."""
    program, graph, point = program_and_point(text, at)
    if len(graph) > MAX_HESSIAN_NODES:
        raise LimitError(f"hessian works on programs of up to {MAX_HESSIAN_NODES:,} nodes "
                         f"(this one has {len(graph):,})")
    chosen = _chosen_variables(graph, wrt)
    n = len(chosen)
    # The traced sweep holds the program, so the program's size is a lower bound of it.
    _hessian_work(n, graph.ops)
    _table_fits(n, n, max_entries, "--wrt to ask for fewer variables")
    result = evaluate(graph, point)
    names = tuple(graph.ids[i] for i in chosen)
    live = graph.live()
    if any(live[i] and node.status in NOT_A_NUMBER for i, node in enumerate(result.nodes)):
        nan_rows = tuple((math.nan,) * n for _ in range(n))
        return Matrix("hessian", format_program(program), result.at, names, names,
                      nan_rows, (*program.cautions, *result.warnings))
    tape, adjoints = reverse_sweep_graph(graph, [node.value for node in result.nodes])
    _hessian_work(n, tape.ops)
    rows = []
    for i in chosen:
        row = adjoints.get(i)
        if row is None or tape.is_constant(row):
            # A constant first derivative has second derivatives 0, unless it is itself
            # undefined (a partial SymPy does not know).
            known = row is None or tape.values[row] == tape.values[row]
            rows.append((0.0 if known else math.nan,) * n)
            continue
        second = compile_tape(tape.ops, tape.inputs, row)
        sweep, _ = run_reverse(second, tape.values, row, keep_partials=False)
        rows.append(tuple(sweep[j] for j in chosen))
    return Matrix("hessian", format_program(program), result.at, names, names,
                  _undefined_together(rows), (*program.cautions, *result.warnings))


def _chosen_variables(graph: Graph, wrt: Sequence[str] | None) -> list[int]:
    """The node numbers of the variables asked for (all of them without `wrt`)."""
    if not graph.variables:
        raise InputError(NO_VARIABLES.format(what="Hessian", has="no rows"))
    if not wrt:
        return list(graph.variables)
    position = {graph.ids[i]: i for i in graph.variables}
    for name in wrt:
        if name not in position:
            raise InputError(f"--wrt: {name!r} is not a variable of the program (variables: "
                             f"{', '.join(graph.variable_names) or 'none'})")
    return [position[name] for name in dict.fromkeys(wrt)]


def _hessian_work(variables: int, ops: Sequence[str]) -> None:
    work = variables * work_size(ops, FALLBACK_COST)
    if work > MAX_HESSIAN_WORK:
        raise LimitError(f"hessian: {variables:,} variables × {len(ops):,} nodes"
                         f"{_weighted(ops)} is too much work (at most {MAX_HESSIAN_WORK:,}); "
                         "use --wrt to ask for fewer variables, or a smaller program")


def _weighted(ops: Sequence[str]) -> str:
    calls = fallback_nodes(ops)
    return (f" (and {calls:,} call{'s' if calls != 1 else ''} of SymPy functions, each "
            f"counted as {FALLBACK_COST} nodes)" if calls else "")


def _table_fits(rows: int, columns: int, max_entries: int | None, fewer: str) -> None:
    if max_entries is not None and rows * columns > max_entries:
        raise LimitError(f"the table shows matrices of up to {max_entries:,} entries (this one "
                         f"is {rows:,} × {columns:,}); use --json, or {fewer}")


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
