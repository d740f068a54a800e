"""Is my whole table right? Each row marked, the root cause named, and later numbers that
follow from the student's own earlier ones marked consistent (error carried forward). The same
marking serves hand-in lines (`mark_numbers`), whose local derivatives carry too."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..engine import CONST, VAR, compile_tape, run_forward, run_reverse, run_reverse_carried
from ..errors import InputError
from ..graph import Graph
from ..result import Result, number
from .claims import accepts, as_written, inside_statement, local_within, right_to_fewer_places
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
    (consistent), made trivial by their 0 or ±1, a wrong number such numbers follow from
    (root), the places graded at, right only to the fewer places it was written to (short)."""

    right: bool
    consistent: bool
    trivial: bool
    places: int
    root: bool = False
    short: bool = False  # right to fewer places than asked (claims.right_to_fewer_places)


def check_table(graph: Graph, result: Result, rows: Sequence[TableRow],
                rtol: float | None = None, atol: float | None = None,
                places: int | None = None, seed: float = 1.0,
                also: Sequence[Number] = ()) -> list[Item]:
    """Mark every row: wrong numbers that follow from the student's own earlier wrong numbers
    as consistent (error carried forward), and those they follow from as the root cause (see
    mark_numbers). `also` are the student's other numbers (their hand-in lines), which carry
    too. `places` grades every number at that many decimal places instead of the places it
    was written with."""
    return grade_numbers(graph, result, rows, also, rtol, atol, places, seed)[0]


def grade_numbers(graph: Graph, result: Result, rows: Sequence[TableRow],
                  also: Sequence[Number], rtol: float | None = None,
                  atol: float | None = None, places: int | None = None, seed: float = 1.0
                  ) -> tuple[list[Item], list[Marked]]:
    """A table's items (see check_table) and the marks of the student's other numbers."""
    numbers = table_numbers(graph, rows)
    marks = mark_numbers(graph, result, [*numbers, *also], rtol, atol, places, seed)
    own_marks, also_marks = marks[:len(numbers)], marks[len(numbers):]
    by_cell = {(graph.ids[n.node], n.kind): (n, m)
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
            own, marked = by_cell[(row.node, kind)]
            mark = {"given": number(given), "expected": number(true),
                    "verdict": CORRECT if marked.right else INCORRECT}
            if not marked.right:
                verdict = INCORRECT
                mark.update(carried_details(marked))
                if marked.short:
                    mark["written"] = own.decimals
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
        return "root cause (later numbers follow from it)"
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
    numbers lead to (see `_follow`). A wrong number is carried forward (consistent) when it is
    right given their numbers, their wrong numbers moved it there, and their numbers with the
    wrong ones made right do not give it; a wrong number that is not is a root cause when
    some carried number follows from it."""
    true_values = [node.value for node in result.nodes]
    true_adjoints = [node.adjoint or 0.0 for node in result.nodes]
    inside = [inside_statement(node) for node in result.nodes]
    true_partials = [[edge.local for edge in node.inputs] for node in result.nodes]
    true_locals = {(n.of, n.node): local_within(graph.inputs, true_partials, inside, n.of,
                                                n.node) for n in numbers if n.kind == "local"}
    trues = [true_locals[(n.of, n.node)] if n.kind == "local" else
             (true_values if n.kind == "value" else true_adjoints)[n.node] for n in numbers]
    decimals = [as_written(n.given, n.decimals) if places is None else places for n in numbers]
    rights = [accepts(true, n.given, d, rtol, atol)
              for n, true, d in zip(numbers, trues, decimals, strict=True)]
    graded = [graded_at(n.given, d) for n, d in zip(numbers, decimals, strict=True)]
    # a number right to the fewer places it was written to is too short, neither carried nor
    # a root cause (later numbers may still carry its rounding)
    short = [not right and right_to_fewer_places(true, n.given, n.decimals, places, rtol, atol)
             for n, true, right in zip(numbers, trues, rights, strict=True)]
    plain = [Marked(right, False, False, g, short=s)
             for right, g, s in zip(rights, graded, short, strict=True)]
    if all(rights):  # nothing to carry
        return plain

    tape = compile_tape(graph.ops, graph.inputs, graph.output)
    wrong = [k for k, right in enumerate(rights) if not right]
    is_wrong = set(wrong)

    def follow(corrected: Sequence[int] = ()) -> tuple[list[tuple], list, list]:
        """What the student's numbers give each number (see `_follow`), with those in
        `corrected` replaced by the true ones."""
        replaced = set(corrected)
        given = [trues[k] if k in replaced else n.given for k, n in enumerate(numbers)]
        return _follow(graph, tape, inside, true_values, seed, numbers, given)

    def carried_by(own: list[tuple], fixed: list[tuple]) -> list[bool]:
        # right given their numbers, moved there by their wrong numbers, and not what their
        # right numbers alone give (a near miss, or numbers rounded too early)
        return [k in is_wrong and any(
            _agrees(c, n.given, d, rtol, atol) and not any(
                _close(c, f, n.given, d, rtol, atol) for f in fixed[k]) for c in own[k])
            and not any(f is not None and accepts(f, n.given, d, rtol, atol) for f in fixed[k])
            for k, (n, d) in enumerate(zip(numbers, decimals, strict=True))]

    own, carried_values, upstream = follow()
    if not any(k in is_wrong and any(_agrees(c, numbers[k].given, decimals[k], rtol, atol)
                                  for c in own[k]) for k in range(len(numbers))):
        return plain
    fixed = follow(wrong)[0]
    carried = carried_by(own, fixed)
    if not any(carried):
        return plain
    causes = [k for k in wrong if not carried[k]]
    roots = set()
    if len(causes) <= MAX_CAUSES_TRIED:  # past that, no cause is named rather than a guess
        for k in causes:
            again = carried_by(follow((k,))[0], fixed)
            if any(c and not a for c, a in zip(carried, again, strict=True)):
                roots.add(k)
    carried = [c and not s for c, s in zip(carried, short, strict=True)]
    roots -= {k for k in roots if short[k]}
    trivial = _trivial_steps(graph, numbers, true_values, true_adjoints, true_locals,
                             carried, carried_values, upstream, rights)
    return [Marked(m.right, carried[k], carried[k] and trivial[k], m.places, k in roots,
                   m.short) for k, m in enumerate(plain)]


# Each wrong number not carried forward is tried as the cause of the carried ones by one more
# pass over the graph; past this many, none is named.
MAX_CAUSES_TRIED = 20


def _close(own: float | None, other: float | None, given: float, decimals: int,
           rtol: float | None, atol: float | None) -> bool:
    """Two numbers the student's numbers may give are the same at the places graded."""
    if own is None or other is None or not (math.isfinite(own) and math.isfinite(other)):
        return False
    if rtol is not None or atol is not None:
        return math.isclose(own, other, rel_tol=rtol or 0.0, abs_tol=atol or 0.0)
    return abs(own - other) <= 0.5 * 10.0 ** -graded_at(given, decimals)


def _agrees(own: float | None, given: float, decimals: int, rtol: float | None,
            atol: float | None) -> bool:
    """The student's number is what their own numbers give. Computed from their rounded
    numbers, it may be one more unit in the last place off, where that unit is small beside
    the number (a 0 written for -0.66 is not one unit off)."""
    if own is None or not math.isfinite(own):
        return False
    if accepts(own, given, decimals, rtol, atol):
        return True
    unit = 10.0 ** -graded_at(given, decimals)
    return (rtol is None and atol is None and unit <= 0.1 * abs(own)
            and abs(own - given) <= 1.5 * unit)


def _follow(graph: Graph, tape: list, inside: Sequence[bool], true_values: list[float],
            seed: float, numbers: Sequence[Number], given: Sequence[float]
            ) -> tuple[list[tuple], list, list]:
    """What the student's own numbers lead to, for each number (a tuple: a local derivative
    may be worked two ways): a value recomputed from their values of its inputs; a
    statement's local derivative at their values (tanh's as 1 - h² from their h, too); an
    adjoint from
    their adjoints of its consumers times their local derivatives (where given), carried
    through the nodes they leave out (a generated z3 they never see). Where a number is given
    twice, the first is carried on. Also the values their numbers lead to, and the adjoint
    each node passes on (theirs where given)."""
    values: dict[int, float] = {}
    adjoints: dict[int, float] = {}
    locals_: dict[tuple[int, int], float] = {}
    for n, written in zip(numbers, given, strict=True):
        if n.kind == "value":
            values.setdefault(n.node, written)
        elif n.kind == "adjoint":
            adjoints.setdefault(n.node, written)
        else:
            locals_.setdefault((n.of, n.node), written)
    own_values, carried = _own_values(graph, tape, values, true_values)
    own_locals = _own_locals(graph, tape, inside, carried, [(n.of, n.node) for n in numbers
                                                             if n.kind == "local"])
    # A statement's local derivative stands for the chain through its inside nodes, so only
    # a statement's (not an inside node's) replaces the one the graph gives.
    corrections: dict[int, list[tuple[int, float]]] = {}
    for (of, node), local in locals_.items():
        if not inside[of]:
            corrections.setdefault(of, []).append((node, local - own_locals[(of, node)]))
    own_adjoints = run_reverse_carried(tape, carried, graph.output, adjoints, seed,
                                       corrections)
    own_adjoints[graph.output] = seed
    upstream = [adjoints.get(i, adjoint) for i, adjoint in enumerate(own_adjoints)]
    out: list[tuple] = []
    for n in numbers:
        if n.kind == "value":
            out.append((own_values[n.node],))
        elif n.kind == "local":
            out.append((own_locals[(n.of, n.node)], *_from_output(graph, carried, n)))
        else:  # nothing flows into a constant
            out.append((0.0 if graph.ops[n.node] == CONST else own_adjoints[n.node],))
    return out, carried, upstream


def _from_output(graph: Graph, carried: list, n: Number) -> tuple:
    """A statement `h = tanh(z)`'s dh/dz from the student's own h, which differs from the one
    at their z when their h is wrong and their z right."""
    from .misconceptions import BY_OUTPUT

    written = BY_OUTPUT.get(graph.ops[n.of])
    if written is None or graph.inputs[n.of] != (n.node,):
        return ()
    return (written[1](carried[n.of]),)


def _trivial_steps(graph: Graph, numbers: Sequence[Number], true_values: list,
                   true_adjoints: list, true_locals: Mapping, carried: Sequence[bool],
                   carried_values: list, upstream: list, rights: Sequence[bool]) -> list[bool]:
    """For each carried number, whether the student's wrong 0 or ±1 made its step trivial: a
    value from such an input value; an adjoint from such an adjoint of a consumer, such a
    local derivative of theirs, or such a value inside a consumer's derivative (2h at h = 0).
    A local derivative takes its rule's work whatever the value. A 0 or ±1 the grader accepts
    (1.00 for 1.00279) is right, not a shortcut."""
    locals_ = {(n.of, n.node): n.given for n in reversed(numbers) if n.kind == "local"}
    right = {(n.kind if n.kind != "gradient" else "adjoint",
              (n.of, n.node) if n.kind == "local" else n.node)
             for n, ok in zip(numbers, rights, strict=True) if ok}
    values = {j for kind, j in right if kind == "value"}
    adjoints = {j for kind, j in right if kind == "adjoint"}
    local_keys = {j for kind, j in right if kind == "local"}
    trivial = []
    for n, is_carried in zip(numbers, carried, strict=True):
        if not is_carried or n.kind == "local":
            trivial.append(False)
        elif n.kind == "value":
            trivial.append(_trivial(graph.inputs[n.node], carried_values, true_values, values))
        else:
            users = graph.consumers[n.node]
            trivial.append(
                _trivial(users, upstream, true_adjoints, adjoints)
                or _trivial([j for c in users for j in (c, *graph.inputs[c])], carried_values,
                            true_values, values)
                or any(_trivial([key], locals_, true_locals, local_keys)
                       for key in locals_ if key[1] == n.node))
    return trivial


def _order(n: Number) -> tuple:
    """Where a number comes in working a backprop table: values in evaluation order, local
    derivatives, then adjoints in backward order."""
    if n.kind == "value":
        return (0, n.node, 0)
    if n.kind == "local":
        return (1, n.of, n.node)
    return (2, -n.node, 0)


def _trivial(sources, carried, true, right) -> bool:
    """A step computed from a student's wrong number that is 0 or ±1 (the true one is not,
    and the student's was not accepted for it, `right`): multiplying by it needs no work, so
    carrying it forward is no evidence of skill."""
    return any(carried[j] in (0.0, 1.0, -1.0) and j not in right
               and not math.isclose(carried[j], true[j]) for j in sources)


def _own_values(graph: Graph, tape: list, given: Mapping[int, float],
                true_values: list[float]) -> tuple[list[float], list[float]]:
    """Each node's value recomputed from the student's values of its inputs, and the values
    the student's numbers lead to: theirs where given, and through a node they leave out, its
    value computed from their numbers."""
    carried = list(true_values)
    for i, value in given.items():
        carried[i] = value
    # a node the student gave is a leaf here, so their number, not its recomputation, flows on
    ops = [VAR if i in given else op for i, op in enumerate(graph.ops)]
    run_forward(compile_tape(ops, graph.inputs, graph.output), carried)
    return run_forward(tape, list(true_values), source=carried), carried


def _own_locals(graph: Graph, tape: list, inside: Sequence[bool], carried_values: list,
                keys: Sequence[tuple[int, int]]) -> dict:
    """Statements' local derivatives at the values the student's numbers lead to."""
    if not keys:
        return {}
    _, partials = run_reverse(tape, carried_values, graph.output)
    return {(of, node): local_within(graph.inputs, partials, inside, of, node)
            for of, node in keys}
