"""Is my whole table right? Each row marked, the root cause named, and later numbers that
follow from the student's own earlier ones marked consistent (error carried forward)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..engine import VAR, compile_tape, run_forward, run_reverse_carried
from ..errors import InputError
from ..graph import Graph
from ..result import Result, number
from .claims import accepts
from .claims import places as graded_at
from .report import CORRECT, INCORRECT, Item


@dataclass(frozen=True)
class TableRow:
    """One row of a student's backprop table; a missing number is None (not graded)."""

    node: str
    value: float | None
    adjoint: float | None
    value_decimals: int = 0
    adjoint_decimals: int = 0


def check_table(graph: Graph, result: Result, rows: Sequence[TableRow],
                rtol: float | None = None, atol: float | None = None,
                places: int | None = None, seed: float = 1.0) -> list[Item]:
    """Mark every row, name the first wrong number (values in evaluation order, then adjoints
    in backward order) as the root cause, and mark later wrong numbers that follow from the
    student's own earlier numbers as consistent (error carried forward). `places` grades every
    number at that many decimal places instead of the places it was written with."""
    position = {node_id: i for i, node_id in enumerate(graph.ids)}
    unknown = [row.node for row in rows if row.node not in position]
    if unknown:
        raise InputError(f"table rows name nodes the program does not have: "
                         f"{', '.join(unknown[:5])} (nodes: {', '.join(graph.ids[:12])})")
    seen: set[str] = set()
    for row in rows:
        if row.node in seen:
            raise InputError(f"node {row.node!r} appears twice in the table; give one row per node")
        seen.add(row.node)
    student = {row.node: row for row in rows}
    true_values = [node.value for node in result.nodes]
    true_adjoints = [node.adjoint for node in result.nodes]
    own_values, carried_values = _own_values(graph, student, true_values)
    own_adjoints, upstream = _own_adjoints(graph, student, carried_values, seed)
    true_upstream = [a if a is not None else 0.0 for a in true_adjoints]
    consumers: list[list[int]] = [[] for _ in graph.ids]
    for i, ins in enumerate(graph.inputs):
        for j in set(ins):
            consumers[j].append(i)
    steps = {"value": lambda i: graph.inputs[i], "adjoint": lambda i: consumers[i]}
    numbers = {"value": (carried_values, true_values), "adjoint": (upstream, true_upstream)}

    marks: dict[tuple[str, str], tuple[bool, bool]] = {}
    for row in rows:
        i = position[row.node]
        for kind, given, decimals, true, own in (
            ("value", row.value, row.value_decimals, true_values[i], own_values[i]),
            ("adjoint", row.adjoint, row.adjoint_decimals, true_adjoints[i] or 0.0,
             own_adjoints[i]),
        ):
            if given is None:
                continue
            decimals = decimals if places is None else places
            right = accepts(true, given, decimals, rtol, atol)
            # Carried-forward numbers were computed from the student's rounded ones, so one
            # more unit in the last place is allowed.
            consistent = own is not None and math.isfinite(own) and (
                accepts(own, given, decimals, rtol, atol)
                or abs(own - given) <= 1.5 * 10.0 ** (-decimals))
            carried, true_numbers = numbers[kind]
            trivial = consistent and not right and _trivial(
                steps[kind](i), carried, true_numbers)
            marks[(row.node, kind)] = (right, consistent, trivial, graded_at(given, decimals))

    wrong_values = sorted((position[n], n) for (n, k), (ok, *_) in marks.items()
                          if k == "value" and not ok)
    wrong_adjoints = sorted((-position[n], n) for (n, k), (ok, *_) in marks.items()
                            if k == "adjoint" and not ok)
    root = (wrong_values[0][1], "value") if wrong_values else (
        (wrong_adjoints[0][1], "adjoint") if wrong_adjoints else None)

    items = []
    for row in sorted(rows, key=lambda r: position[r.node]):
        i = position[row.node]
        details: dict = {"node": row.node}
        verdict = CORRECT
        notes = []
        for kind, given, true in (("value", row.value, true_values[i]),
                                  ("adjoint", row.adjoint, true_adjoints[i] or 0.0)):
            if (row.node, kind) not in marks:
                continue
            right, consistent, trivial, graded_places = marks[(row.node, kind)]
            mark = {"given": number(given), "expected": number(true),
                    "verdict": CORRECT if right else INCORRECT}
            if not right:
                verdict = INCORRECT
                mark["places"] = graded_places
                if root == (row.node, kind):
                    mark["root_cause"] = True
                    notes.append(f"{kind}: first wrong number (root cause)")
                elif consistent and trivial:
                    mark["consistent"] = True
                    mark["trivial"] = True
                    notes.append(f"{kind}: follows from your earlier 0 or 1, which makes "
                                 "this step trivial: no carried-forward credit")
                elif consistent:
                    mark["consistent"] = True
                    notes.append(f"{kind}: consistent with your earlier numbers")
                else:
                    notes.append(f"{kind}: wrong")
            details[kind] = mark
        items.append(Item("row", row.node, verdict, reason="; ".join(notes) or None,
                          details=details))
    return items


def _trivial(sources, carried: Sequence[float], true: Sequence[float]) -> bool:
    """A step computed from a student's wrong number that is 0 or ±1 (the true one is not):
    multiplying by it needs no work, so carrying it forward is no evidence of skill."""
    return any(carried[j] in (0.0, 1.0, -1.0) and not math.isclose(carried[j], true[j])
               for j in sources)


def _own_values(graph: Graph, student: Mapping[str, TableRow], true_values: list[float]
                ) -> tuple[list[float], list[float]]:
    """Each node's value recomputed from the student's values of its inputs, and the values
    the student's numbers lead to: theirs where given, and through a node their table leaves
    out (a generated z3 they never see), its value computed from their numbers."""
    position = {node_id: i for i, node_id in enumerate(graph.ids)}
    given = {position[node_id]: row.value for node_id, row in student.items()
             if row.value is not None}
    carried = list(true_values)
    for i, value in given.items():
        carried[i] = value
    # a node the student gave is a leaf here, so their number, not its recomputation, flows on
    ops = [VAR if i in given else op for i, op in enumerate(graph.ops)]
    run_forward(compile_tape(ops, graph.inputs, graph.output), carried)
    tape = compile_tape(graph.ops, graph.inputs, graph.output)
    return run_forward(tape, list(true_values), source=carried), carried


def _own_adjoints(graph: Graph, student: Mapping[str, TableRow], carried_values: list,
                  seed: float) -> tuple[list[float], list[float]]:
    """Each node's adjoint recomputed from the student's adjoints of its consumers (carried
    through the nodes their table leaves out), with local partials taken at the values their
    numbers lead to; and the adjoint each node passes on (the student's where given)."""
    position = {node_id: i for i, node_id in enumerate(graph.ids)}
    given = {position[node_id]: row.adjoint for node_id, row in student.items()
             if row.adjoint is not None}
    tape = compile_tape(graph.ops, graph.inputs, graph.output)
    own = run_reverse_carried(tape, carried_values, graph.output, given, seed)
    own[graph.output] = seed
    upstream = [given.get(i, adjoint) for i, adjoint in enumerate(own)]
    return own, upstream
