"""Is my whole table right? Each row marked, the root cause named, and later numbers that
follow from the student's own earlier ones marked consistent (error carried forward). The same
marking serves hand-in lines (`mark_numbers`), whose local derivatives carry too."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ..engine import VAR, compile_tape, run_forward, run_reverse, run_reverse_carried
from ..errors import InputError
from ..graph import Graph
from ..result import Result, number
from .claims import accepts, leaves_within, local_within
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


@dataclass(frozen=True)
class Number:
    """One number a student gave: a node's value or adjoint, or the local derivative of the
    statement `of` with respect to the node (by node number)."""

    kind: str  # "value" | "adjoint" | "local"
    node: int
    given: float
    decimals: int
    of: int | None = None


@dataclass(frozen=True)
class Marked:
    """How one Number was graded: right, right given the student's own earlier numbers
    (consistent), made trivial by their 0 or ±1, the first wrong number (root), the places."""

    right: bool
    consistent: bool
    trivial: bool
    places: int
    root: bool = False


def check_table(graph: Graph, result: Result, rows: Sequence[TableRow],
                rtol: float | None = None, atol: float | None = None,
                places: int | None = None, seed: float = 1.0,
                also: Sequence[Number] = ()) -> list[Item]:
    """Mark every row, name the first wrong number (values in evaluation order, then local
    derivatives, then adjoints in backward order) as the root cause, and mark later wrong
    numbers that follow from the student's own earlier numbers as consistent (error carried
    forward). `also` are the student's other numbers (their hand-in lines), which carry too.
    `places` grades every number at that many decimal places instead of the places it was
    written with."""
    return grade_numbers(graph, result, rows, also, rtol, atol, places, seed)[0]


def grade_numbers(graph: Graph, result: Result, rows: Sequence[TableRow],
                  also: Sequence[Number], rtol: float | None = None,
                  atol: float | None = None, places: int | None = None, seed: float = 1.0
                  ) -> tuple[list[Item], list[Marked]]:
    """A table's items (see check_table) and the marks of the student's other numbers."""
    numbers = table_numbers(graph, rows)
    marks = mark_numbers(graph, result, [*numbers, *also], rtol, atol, places, seed)
    own_marks, also_marks = marks[:len(numbers)], marks[len(numbers):]
    by_cell = {(graph.ids[n.node], n.kind): m
               for n, m in zip(numbers, own_marks, strict=True)}
    true_values = [node.value for node in result.nodes]
    true_adjoints = [node.adjoint for node in result.nodes]
    position = {node_id: i for i, node_id in enumerate(graph.ids)}
    items = []
    for row in sorted(rows, key=lambda r: position[r.node]):
        i = position[row.node]
        details: dict = {"node": row.node}
        verdict = CORRECT
        notes = []
        for kind, given, true in (("value", row.value, true_values[i]),
                                  ("adjoint", row.adjoint, true_adjoints[i] or 0.0)):
            if (row.node, kind) not in by_cell:
                continue
            marked = by_cell[(row.node, kind)]
            mark = {"given": number(given), "expected": number(true),
                    "verdict": CORRECT if marked.right else INCORRECT}
            if not marked.right:
                verdict = INCORRECT
                mark.update(carried_details(marked))
                notes.append(f"{kind}: {carried_note(marked) or 'wrong'}")
            details[kind] = mark
        items.append(Item("row", row.node, verdict, reason="; ".join(notes) or None,
                          details=details))
    return items, also_marks


def carried_details(marked: Marked) -> dict:
    """What a wrong number's details say of how it was graded."""
    details: dict = {"places": marked.places}
    if marked.root:
        details["root_cause"] = True
    elif marked.consistent:
        details["consistent"] = True
        if marked.trivial:
            details["trivial"] = True
    return details


def carried_note(marked: Marked) -> str | None:
    """The feedback on a wrong number that is the root cause or follows from earlier ones."""
    if marked.root:
        return "first wrong number (root cause)"
    if marked.consistent and marked.trivial:
        return ("follows from your earlier 0 or 1, which makes this step trivial: no "
                "carried-forward credit")
    if marked.consistent:
        return "consistent with your earlier numbers"
    return None


def table_numbers(graph: Graph, rows: Sequence[TableRow]) -> list[Number]:
    """A table's numbers; an InputError for a row naming a node the program lacks or a node
    given two rows."""
    position = {node_id: i for i, node_id in enumerate(graph.ids)}
    unknown = [row.node for row in rows if row.node not in position]
    if unknown:
        raise InputError(f"table rows name nodes the program does not have: "
                         f"{', '.join(unknown[:5])} (nodes: {', '.join(graph.ids[:12])})")
    seen: set[str] = set()
    numbers = []
    for row in rows:
        if row.node in seen:
            raise InputError(f"node {row.node!r} appears twice in the table; give one row per node")
        seen.add(row.node)
        if row.value is not None:
            numbers.append(Number("value", position[row.node], row.value, row.value_decimals))
        if row.adjoint is not None:
            numbers.append(Number("adjoint", position[row.node], row.adjoint,
                                  row.adjoint_decimals))
    return numbers


def mark_numbers(graph: Graph, result: Result, numbers: Sequence[Number],
                 rtol: float | None = None, atol: float | None = None,
                 places: int | None = None, seed: float = 1.0) -> list[Marked]:
    """Grade each of a student's numbers against the truth and against what their own other
    numbers lead to. A value is recomputed from their values of its inputs; a local derivative
    at their values; an adjoint from their adjoints of its consumers times their local
    derivatives (where given), carried through the nodes they leave out. Where a number is
    given twice, the first one is carried on."""
    true_values = [node.value for node in result.nodes]
    true_adjoints = [node.adjoint or 0.0 for node in result.nodes]
    inside = [not named and op not in ("var", "const")
              for named, op in zip(graph.named, graph.ops, strict=True)]
    true_partials = [[edge.local for edge in node.inputs] for node in result.nodes]
    true_locals = {(n.of, n.node): local_within(graph.inputs, true_partials, inside, n.of,
                                                n.node) for n in numbers if n.kind == "local"}
    trues = [true_locals[(n.of, n.node)] if n.kind == "local" else
             (true_values if n.kind == "value" else true_adjoints)[n.node] for n in numbers]
    decimals = [n.decimals if places is None else places for n in numbers]
    rights = [accepts(true, n.given, d, rtol, atol)
              for n, true, d in zip(numbers, trues, decimals, strict=True)]
    if all(rights):  # nothing to carry
        return [Marked(True, False, False, graded_at(n.given, d))
                for n, d in zip(numbers, decimals, strict=True)]

    given: dict[str, dict] = {"value": {}, "adjoint": {}, "local": {}}
    for n in numbers:
        given[n.kind].setdefault(n.node if n.of is None else (n.of, n.node), n.given)
    own_values, carried_values = _own_values(graph, given["value"], true_values)
    own_locals = _own_locals(graph, inside, carried_values, true_locals)
    corrections: dict[int, list[tuple[int, float]]] = {}
    for (of, node), local in given["local"].items():
        corrections.setdefault(of, []).append((node, local - own_locals[(of, node)]))
    tape = compile_tape(graph.ops, graph.inputs, graph.output)
    own_adjoints = run_reverse_carried(tape, carried_values, graph.output, given["adjoint"],
                                       seed, corrections)
    own_adjoints[graph.output] = seed
    upstream = [given["adjoint"].get(i, adjoint) for i, adjoint in enumerate(own_adjoints)]
    consumers: list[list[int]] = [[] for _ in graph.ids]
    for i, ins in enumerate(graph.inputs):
        for j in set(ins):
            consumers[j].append(i)

    marks = []
    for n, true, right, d in zip(numbers, trues, rights, decimals, strict=True):
        if n.kind == "value":
            own = own_values[n.node]
            trivial = _trivial(graph.inputs[n.node], carried_values, true_values)
        elif n.kind == "adjoint":
            own = own_adjoints[n.node]
            trivial = _trivial(consumers[n.node], upstream, true_adjoints) or any(
                _trivial([key], given["local"], true_locals)
                for key in given["local"] if key[1] == n.node)
        else:
            own = own_locals[(n.of, n.node)]
            trivial = _trivial(leaves_within(graph.inputs, inside, n.of), carried_values,
                               true_values)
        graded = graded_at(n.given, d)
        # Carried-forward numbers were computed from the student's rounded ones, so one more
        # unit in the last place is allowed; but only where their earlier numbers lead away
        # from the truth: a near miss after right numbers is a slip, not a carried error.
        consistent = own is not None and math.isfinite(own) and (
            accepts(own, n.given, d, rtol, atol) or abs(own - n.given) <= 1.5 * 10.0 ** -graded
        ) and not accepts(true, own, d, rtol, atol)
        marks.append(Marked(right, consistent, consistent and not right and trivial, graded))
    root = min(_order(n) for n, m in zip(numbers, marks, strict=True) if not m.right)
    return [replace(m, root=True) if not m.right and _order(n) == root else m
            for n, m in zip(numbers, marks, strict=True)]


def _order(n: Number) -> tuple:
    """Where a number comes in working a backprop table: values in evaluation order, local
    derivatives, then adjoints in backward order."""
    if n.kind == "value":
        return (0, n.node, 0)
    if n.kind == "local":
        return (1, n.of, n.node)
    return (2, -n.node, 0)


def _trivial(sources, carried, true) -> bool:
    """A step computed from a student's wrong number that is 0 or ±1 (the true one is not):
    multiplying by it needs no work, so carrying it forward is no evidence of skill."""
    return any(carried[j] in (0.0, 1.0, -1.0) and not math.isclose(carried[j], true[j])
               for j in sources)


def _own_values(graph: Graph, given: Mapping[int, float], true_values: list[float]
                ) -> tuple[list[float], list[float]]:
    """Each node's value recomputed from the student's values of its inputs, and the values
    the student's numbers lead to: theirs where given, and through a node their table leaves
    out (a generated z3 they never see), its value computed from their numbers."""
    carried = list(true_values)
    for i, value in given.items():
        carried[i] = value
    # a node the student gave is a leaf here, so their number, not its recomputation, flows on
    ops = [VAR if i in given else op for i, op in enumerate(graph.ops)]
    run_forward(compile_tape(ops, graph.inputs, graph.output), carried)
    tape = compile_tape(graph.ops, graph.inputs, graph.output)
    return run_forward(tape, list(true_values), source=carried), carried


def _own_locals(graph: Graph, inside: Sequence[bool], carried_values: list,
                keys: Iterable[tuple[int, int]]) -> dict:
    """The statements' local derivatives the student gave, at the values their numbers lead
    to."""
    keys = list(keys)
    if not keys:
        return {}
    tape = compile_tape(graph.ops, graph.inputs, graph.output)
    _, partials = run_reverse(tape, carried_values, graph.output)
    return {(of, node): local_within(graph.inputs, partials, inside, of, node)
            for of, node in keys}
