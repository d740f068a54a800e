"""One grading job (a command line's options, or one line of a batch file) and its grading.
Batch lines become Jobs in lines.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ..deadline import time_limit
from ..errors import BackpropError, InputError
from ..gradient import evaluate
from ..graph import Graph, build_graph
from ..parse import parse_program
from ..result import Result
from .claims import (
    Claim,
    accepts,
    check_claims,
    is_blank,
    not_graded,
    parse_claim,
    resolved,
)
from .claims import places as graded_places
from .formulas import check_derivative
from .report import CORRECT, INCORRECT, UNDETERMINED, Item, Report
from .tables import Marked, Number, TableRow, carried_details, carried_note, grade_numbers


def evaluate_program(text: str, point: Mapping[str, float], seed: float = 1.0
                     ) -> tuple[Graph, Result]:
    """The graph and the engine's Result for a program at a point (for claims and tables),
    the backward pass started from the upstream gradient `seed`."""
    graph = build_graph(parse_program(text, given=frozenset(point)))
    return graph, evaluate(graph, point, seed=seed)


@dataclass(frozen=True)
class Job:
    """Everything one `check` needs: the program, answers, claims and a student's table."""

    expr: str
    answers: tuple[tuple[str, str], ...] = ()
    at: tuple[tuple[str, str | float], ...] = ()
    claims: tuple[str, ...] = ()
    table: tuple[TableRow, ...] = ()
    rtol: float | None = None
    atol: float | None = None
    decimals: int | None = None  # grade numbers at N decimal places (else as written)
    seed: float = 1.0  # the upstream gradient dL/d(output) the problem states
    symbolic_seconds: float = 2.0
    exact: bool = False
    precision: int = 15
    data: tuple[str, ...] = ()  # variables bound by --data (held fixed)
    # a batch line or a submission: a claim that cannot be read, or that names what the
    # program lacks, is one wrong answer rather than an error that loses every other answer
    each_claim_alone: bool = False
    # an assignment's student: answering nothing is graded (every question unanswered), not
    # refused as nothing to check
    from_assignment: bool = False


def grade_in_process(job: Job, timeout: float) -> Report:
    """Grade a job that needs no SymPy (claims, tables) here, within `timeout` seconds;
    running out of time is an undetermined item, as in a checker process."""
    from ..errors import shortened
    from .report import UNDETERMINED

    try:
        with time_limit(timeout):
            return grade(job)
    except TimeoutError:
        return Report((Item("problem", shortened(job.expr, 60), UNDETERMINED,
                            reason=f"checking timed out after {timeout:g} s"),))


def grade(job: Job) -> Report:
    """Grade a job in this process (callers bound its time; see bounded.py)."""
    from ..api import value_of

    items: list[Item] = []
    warnings: list[str] = []
    for number, (wrt, answer) in enumerate(job.answers, 1):
        which = "the answer" if len(job.answers) == 1 else f"answer {number}"
        item = check_derivative(job.expr, wrt, answer, symbolic_seconds=job.symbolic_seconds,
                                which=which)
        items.append(replace(item, details={**item.details, "quantity": "formula",
                                            "target": wrt}))
    if job.answers and not (job.claims or job.table):
        try:  # a formula's program needs no values: its warnings are all it is read for
            program = parse_program(job.expr, given=frozenset(name for name, _ in job.at))
            warnings += _of_program(build_graph(program), program, job)
        except BackpropError:
            pass  # the formula's own check reports what is wrong with the program
    if job.claims or job.table:
        point = {name: value_of(name, value, arrays=True) for name, value in job.at}
        claims, unreadable = [], []
        for text in job.claims:
            if job.from_assignment and is_blank(text):
                continue  # a hand-in line left blank: the question is not answered
            try:
                claims.append(parse_claim(text))
            except InputError as error:
                if not job.each_claim_alone:
                    raise
                unreadable.append(not_graded(text, error))
        items.extend(unreadable)
        program = parse_program(job.expr, given=frozenset(point))
        graph = build_graph(program)
        warnings += _of_program(graph, program, job)
        from ..api import over_arrays

        if over_arrays(graph, point):
            return _grade_arrays(graph, point, claims, job, items, warnings)
        result = evaluate(graph, point, seed=job.seed)
        claim_items = check_claims(result, claims, job.rtol, job.atol, job.decimals,
                                   job.each_claim_alone)
        if job.exact:
            try:
                with time_limit(job.symbolic_seconds):
                    claim_items = _with_exact_truth(graph, result, claims, claim_items, job)
            except TimeoutError:
                warnings.append(f"exact values were not found within {job.symbolic_seconds:g} s;"
                                " the claims were checked with float64 values")
        numbers = claim_numbers(graph, result, claims, claim_items)
        table_items, marks = grade_numbers(graph, result, job.table, [n for _, n in numbers],
                                           job.rtol, job.atol, job.decimals, job.seed)
        claim_items = carried_claims(claim_items, numbers, marks)
        coarse = _whole_numbers(job, claims, claim_items, table_items)
        if coarse:
            warnings.append(coarse)
        items.extend(_named(claim_items, graph, result, job))
        if job.table:
            items.extend(_named(table_items, graph, result, job))
            graded = {row.node for row in job.table}
            # the nodes a student writes: statements and variables, not generated steps
            missing = [node_id for i, node_id in enumerate(graph.ids) if node_id not in graded
                       and (graph.named[i] or graph.ops[i] == "var")]
            if missing:
                warnings.append(f"the table has no numbers for {len(missing)} node(s) "
                                f"({', '.join(missing[:8])}{', ...' if len(missing) > 8 else ''})"
                                "; they are not graded")
            if not job.from_assignment:  # an assignment's questions say what is unanswered
                blank = _blank_cells(job.table)
                if blank:
                    warnings.append(blank)
                unanswered = 2 * len(missing) + sum(
                    (row.value is None) + (row.adjoint is None) for row in job.table)
                return Report(tuple(items), tuple(warnings), table_numbers=(
                    unanswered, 2 * (len(missing) + len(job.table))))
    if not items and not job.from_assignment:
        if job.table == () and job.claims == () and not job.answers:
            raise InputError("nothing to check: give --wrt X --answer FORMULA, --expect CLAIM, "
                             "or --table FILE")
    return Report(tuple(items), tuple(warnings))


def _whole_numbers(job: Job, claims: Sequence[Claim], claim_items: Sequence[Item],
                   table_items: Sequence[Item]) -> str | None:
    """A warning for the whole numbers accepted as written (to the nearest whole number: 0 for
    -0.35) that would be wrong to one decimal place: a table of zeros and ones would otherwise
    read as right. Not where --decimals, --rtol, --atol or an assignment sets the rule."""
    if job.decimals is not None or job.rtol is not None or job.atol is not None or \
            job.from_assignment:  # the teacher's rule grades it, and says nothing of the truth
        return None

    def coarse(true, given, written) -> bool:
        return (written <= 0 and true is not None and given is not None
                and not accepts(true, given, 1, None, None))

    found = [(claim.text, claim.given, claim.decimals)
             for claim, item in zip(claims, claim_items, strict=True)
             if item.verdict == CORRECT and isinstance(claim.decimals, int)
             and coarse(item.expected, claim.given, claim.decimals)]
    written = {row.node: (row.value_decimals, row.adjoint_decimals) for row in job.table}
    for item in table_items:
        for k, quantity in enumerate(("value", "adjoint")):
            mark = item.details.get(quantity) or {}
            places = written.get(item.details.get("node", item.label), (1, 1))[k]
            if mark.get("verdict") == CORRECT and coarse(mark.get("expected"), mark.get("given"),
                                                        places):
                found.append((f"{item.label}.{quantity}={mark['given']:g}", mark["given"],
                              places))
    if not found:
        return None
    listed = ", ".join(found_text for found_text, *_ in found[:3]) + (
        f" and {len(found) - 3} more" if len(found) > 3 else "")
    given, written = found[0][1] + 0.0, found[0][2]  # -0 is 0
    half = 0.5 * 10.0 ** -graded_places(given, written)  # 5e3: to the nearest 1,000
    unit = "whole number" if half == 0.5 else f"{2 * half:,g}"
    return (f"{listed} {'was' if len(found) == 1 else 'were'} accepted as written, to the "
            f"nearest {unit} ({given:g} accepts {given - half:g} to {given + half:g}), "
            "though wrong to one decimal place; --decimals N grades every number at N places")


def _blank_cells(table) -> str | None:
    """A warning for the numbers a table's rows leave empty (a row with one of its two)."""
    for quantity in ("value", "adjoint"):
        if len(table) > 1 and all(getattr(row, quantity) is None for row in table):
            other = "adjoint" if quantity == "value" else "value"
            if all(getattr(row, other) is not None for row in table):
                return f"the table gives no {quantity}s; they are not graded"
    blank = [f"{row.node}.{quantity}" for row in table for quantity in ("value", "adjoint")
             if getattr(row, quantity) is None]
    if not blank:
        return None
    return (f"the table leaves {len(blank)} number(s) empty ({', '.join(blank[:8])}"
            f"{', ...' if len(blank) > 8 else ''}); they are not graded")


def claim_numbers(graph: Graph, result: Result, claims: Sequence[Claim],
                  items: Sequence[Item]) -> list[tuple[int, Number]]:
    """The numbers of the graded scalar claims (a gradient entry is its variable's adjoint),
    each with the position of its item."""
    position = {node_id: i for i, node_id in enumerate(graph.ids)}
    numbers = []
    for k, (claim, item) in enumerate(zip(claims, items, strict=True)):
        if (item.verdict == UNDETERMINED or "quantity" not in item.details
                or isinstance(claim.decimals, tuple)):
            continue
        claim = resolved(claim, result)
        node = position[claim.target]
        if claim.kind == "local":
            number = Number("local", node, claim.given, claim.decimals, of=position[claim.of])
        else:
            kind = "value" if claim.kind == "value" else "adjoint"
            number = Number(kind, node, claim.given, claim.decimals)
        numbers.append((k, number))
    return numbers


def carried_claims(items: list[Item], numbers: Sequence[tuple[int, Number]],
                   marks: Sequence[Marked]) -> list[Item]:
    """The claim items marked as a table's rows are: a wrong number that is right given the
    student's own earlier numbers is consistent (error carried forward), and a wrong number
    such numbers follow from is a root cause."""
    out = list(items)
    for (k, _), marked in zip(numbers, marks, strict=True):
        if marked.right or not (marked.root or marked.consistent):
            continue
        item = out[k]
        note = carried_note(marked)
        reason = f"{note}; {item.reason}" if note and item.reason else (note or item.reason)
        out[k] = replace(item, reason=reason, details={**item.details,
                                                       **carried_details(marked)})
    return out


def _of_program(graph: Graph, program, job: Job) -> list[str]:
    """What `grad` would warn of in the job's program (a data set's columns are the data's)."""
    from ..api import program_warnings

    given = {name: value for name, value in job.at if name not in job.data}
    return list(program_warnings(graph, program, given))


def _grade_arrays(graph: Graph, point: Mapping, claims: list, job: Job, items: list[Item],
                  warnings: list[str]) -> Report:
    """Claims about a program over arrays, graded element by element (tables, exact values
    and misconceptions are for scalar programs)."""
    from ..tensor_engine import evaluate_tensors

    if job.table:
        raise InputError("--table grades scalar programs; for arrays claim each value or "
                         "adjoint with --expect, e.g. W1.adjoint=[[0.30], [0.34]]")
    result = evaluate_tensors(graph, point, seed=job.seed, data=frozenset(job.data))
    items.extend(check_claims(result, claims, job.rtol, job.atol, job.decimals,
                              job.each_claim_alone))
    return Report(tuple(items), tuple(warnings))


def _named(items: list[Item], graph: Graph, result: Result, job: Job) -> list[Item]:
    """Items whose wrong numbers carry the misconception that gives them exactly, if one
    does (a carried-forward number is not a new mistake, so it is not diagnosed)."""
    values = [node.value for node in result.nodes]
    adjoints = [node.adjoint or 0.0 for node in result.nodes]
    out = []
    for item in items:
        if item.verdict != INCORRECT or (item.kind == "claim" and (
                "quantity" not in item.details  # a claim that was not graded
                or item.details.get("consistent"))):
            out.append(item)
        elif item.kind == "claim":
            found = _diagnosed(graph, values, adjoints, job,
                               {**item.details, "expected": item.expected}, item.given)
            out.append(_with_misconception(item, found, item.details) if found else item)
        else:
            details = dict(item.details)
            # a diagnosis takes the place of its cell's bare "wrong" (not "adjoint: wrong;
            # adjoint: the sign is flipped")
            notes = item.reason.split("; ") if item.reason else []
            reasons = []
            for kind in ("value", "adjoint"):
                cell = details.get(kind)
                if not cell or cell["verdict"] != INCORRECT or cell.get("consistent"):
                    continue
                found = _diagnosed(graph, values, adjoints, job,
                                   {"quantity": kind, "target": item.label,
                                    "places": cell.get("places"), "written": cell.get("written"),
                                    "expected": cell.get("expected")}, cell["given"])
                if found:
                    details[kind] = {**cell, "misconception": _described(found)}
                    named = f"{kind}: {found[0].message}"
                    if f"{kind}: wrong" in notes:
                        notes[notes.index(f"{kind}: wrong")] = named
                    else:
                        reasons.append(named)
            reason = "; ".join([*notes, *reasons]) or None
            out.append(replace(item, details=details, reason=reason))
    return out


def _diagnosed(graph: Graph, values: list, adjoints: list, job: Job, about: dict,
               given: float | None) -> tuple:
    from .claims import accepts
    from .misconceptions import Misconception, diagnose, too_few_places

    quantity, target = about.get("quantity"), about.get("target")
    places = about.get("places")
    if given is None or places is None or quantity is None:
        return ()
    written = about.get("written")  # set where the number is right to fewer places than asked
    if written is not None:
        return (too_few_places(about["expected"], given, written, places),)
    node, wrt = target, None
    rule = (lambda candidate: accepts(candidate, given, places, job.rtol, job.atol))
    if quantity == "local":
        node, wrt = about["of"], target
        position = graph.ids.index(node)
        if target not in (graph.ids[j] for j in graph.inputs[position]):
            # a statement's derivative through inner steps has no single edge to diagnose;
            # a lost minus sign is still plain to see
            true = about.get("expected")
            if true is not None and true != 0 and rule(-true):
                return (Misconception("sign_flip", f"the sign is flipped: a minus sign was lost "
                                      f"or added in d{node}/d{target}", -true),)
            return ()
    return diagnose(graph, values, adjoints, job.seed, quantity, node, given, rule, wrt=wrt)


def _described(found: tuple) -> dict:
    first = found[0]
    return {"code": first.code, "message": first.message,
            "also": [code for code in dict.fromkeys(m.code for m in found[1:])
                     if code != first.code]}


def _with_misconception(item: Item, found: tuple, details: dict) -> Item:
    return replace(item, details={**details, "misconception": _described(found)},
                   reason=f"{found[0].message}; {item.reason}")


def _with_exact_truth(graph: Graph, result: Result, claims: Sequence[Claim],
                      items: list[Item], job: Job) -> list[Item]:
    """Claim items with the true value also in exact form (`--exact`)."""
    from ..exact import evaluate_exact

    exact = evaluate_exact(graph, dict(job.at), job.precision)
    position = {node_id: i for i, node_id in enumerate(graph.ids)}
    out = []
    for claim, item in zip(claims, items, strict=True):
        i = position[claim.target]
        number = exact.values[i] if claim.kind == "value" else exact.adjoints[i]
        out.append(replace(item, details={**item.details, "exact": number.to_dict()})
                   if number is not None else item)
    return out
