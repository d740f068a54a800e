"""Homework verification: derivative formulas, numeric claims, and whole backprop tables.

Each check is a pure function of its inputs that returns an `Item` with a verdict:
"correct", "incorrect" or "undetermined". SymPy is consulted first for formulas (its work is
time-limited), then the answer is compared numerically with the engine at random points inside
the real domain of both sides; a disagreement comes with a counterexample.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .deadline import time_limit
from .engine import compile_tape, node_partials
from .errors import InputError
from .gradient import evaluate
from .graph import Graph, build_graph
from .parse import parse_program
from .result import SCHEMA_VERSION, Result, number

CORRECT, INCORRECT, UNDETERMINED = "correct", "incorrect", "undetermined"
MIN_POINTS = 20
MAX_TRIES = 600
POINT_RTOL = 1e-8
POINT_ATOL = 1e-10
CONFIRM_SECONDS = 1.0
_BAD_STATUS = frozenset(("undefined", "infinite", "overflow", "propagated", "nondifferentiable",
                         "kink"))
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_CLAIM = re.compile(
    rf"^\s*(?:d(?:\w+)?/d(?P<var>[^\s=]+)|(?P<node>[^\s.=]+)\.(?P<kind>adjoint|value|grad))"
    rf"\s*=\s*(?P<number>{_NUMBER})\s*$"
)


@dataclass(frozen=True)
class Item:
    """One graded answer: what was claimed, what is true, and the verdict."""

    kind: str  # "derivative" | "claim" | "row"
    label: str
    verdict: str
    expected: float | None = None
    given: float | None = None
    reason: str | None = None
    counterexample: dict | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        entry = {"kind": self.kind, "label": self.label, "verdict": self.verdict,
                 "expected": number(self.expected), "given": number(self.given)}
        if self.reason:
            entry["reason"] = self.reason
        if self.counterexample is not None:
            entry["counterexample"] = self.counterexample
        entry.update(self.details)
        return entry


@dataclass(frozen=True)
class Report:
    """All items of one `check` run and the overall verdict."""

    items: tuple[Item, ...]
    warnings: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        verdicts = {item.verdict for item in self.items}
        if INCORRECT in verdicts:
            return INCORRECT
        if UNDETERMINED in verdicts or not verdicts:
            return UNDETERMINED
        return CORRECT

    def to_dict(self) -> dict:
        return {"schema": SCHEMA_VERSION, "ok": True, "verdict": self.verdict,
                "items": [item.to_dict() for item in self.items],
                "warnings": list(self.warnings)}


# ----------------------------------------------------------------------------------------------
# Is this formula the derivative?


def check_derivative(expr: str, wrt: str, answer: str, *, symbolic_seconds: float = 2.0,
                     seed: int = 0) -> Item:
    """Verdict on `answer` as d(expr)/d(wrt): symbolic first, then at random points.

    `wrt` may be a variable or a statement of the program (then the derivative is that node's
    adjoint), and the answer may use the program's statement names (h1, z, ...)."""
    label = f"d/d{wrt} = {answer}"
    _check_variable_name(wrt)
    program = parse_program(expr, given=frozenset({wrt}))
    statements = program.defined_names
    if wrt in statements:
        program = parse_program(expr)
    expr_graph = build_graph(program)
    names = set(expr_graph.variable_names) | ({wrt} - statements)
    answer_graph = build_graph(parse_program(answer, given=frozenset(names | statements)))
    problem = _Problem(expr_graph, answer_graph, wrt, statements)
    proof = None if wrt in statements else symbolic_equal(problem, symbolic_seconds)
    if proof is True:
        return Item("derivative", label, CORRECT, reason="SymPy: the difference simplifies to 0")
    variables = sorted(names | (set(answer_graph.variable_names) - statements))
    agreed, counterexample = _compare_at_points(problem, variables, seed)
    if counterexample is not None:
        return Item("derivative", label, INCORRECT, expected=counterexample["expected"],
                    given=counterexample["given"], counterexample=counterexample,
                    reason="differs from the true derivative at the point shown")
    if agreed >= MIN_POINTS:
        return Item("derivative", label, CORRECT,
                    reason=f"agrees with the true derivative at {agreed} random points")
    symbolic = {None: "the derivative is taken at a program node, so SymPy was not asked",
                False: "SymPy found no proof",
                TIMED_OUT: f"SymPy did not finish in {symbolic_seconds:g} s"}[proof]
    return Item("derivative", label, UNDETERMINED,
                reason=f"{symbolic}, and only {agreed} points inside the domain of both sides "
                       "were found")


TIMED_OUT = "timed out"


@dataclass(frozen=True)
class _Problem:
    """A derivative question: the program, the answer, the variable, the statement names."""

    expr: Graph
    answer: Graph
    wrt: str
    statements: frozenset[str]


def _check_variable_name(name: str) -> None:
    if not name.isidentifier():
        raise InputError(f"--wrt {name!r} is not a variable name")


def symbolic_equal(problem: _Problem, seconds: float) -> bool | str:
    """True when SymPy proves d(expr)/d(wrt) - answer == 0 within `seconds`; False when it
    finds no proof; TIMED_OUT when it runs out of time."""
    try:
        with time_limit(seconds):
            import sympy

            from .checks import to_sympy

            exprs = to_sympy(problem.expr)
            expression = exprs[problem.expr.output]
            answer = to_sympy(problem.answer)[problem.answer.output]
            # Statement names in the answer stand for the program's own expressions.
            ids = problem.expr.ids
            answer = answer.xreplace({sympy.Symbol(name, real=True): exprs[ids.index(name)]
                                      for name in problem.statements})
            difference = sympy.diff(expression, sympy.Symbol(problem.wrt, real=True)) - answer
            return sympy.simplify(difference) == 0
    except TimeoutError:
        return TIMED_OUT
    except (RecursionError, MemoryError, ArithmeticError, TypeError, ValueError,
            AttributeError, NotImplementedError):
        return False


def _sample_points(variables: Sequence[str], centres: Sequence[float], seed: int):
    """Random points at several scales, and around the constants the problem mentions (so
    that abs(x - 20) is also tried beyond 20)."""
    rng = random.Random(seed)
    scales = (1.0, 3.0, 0.3, 10.0, 100.0, 0.001, 1e4)
    for attempt in range(MAX_TRIES):
        scale = scales[attempt % len(scales)]
        point = {}
        for name in variables:
            centre = rng.choice(centres) if centres and attempt % 3 == 2 else 0.0
            value = centre + rng.uniform(-scale, scale)
            # Three significant digits: readable counterexamples at every scale.
            point[name] = float(f"{value:.3g}") or 0.5
        yield point


def _centres(*graphs: Graph) -> list[float]:
    found = set()
    for graph in graphs:
        for value in graph.constants:
            if value is not None and math.isfinite(value) and 1.0 < abs(value) < 1e12:
                found.update((value, -value, 1.0 / value, -1.0 / value))
    return sorted(found)


def _compare_at_points(problem: _Problem, variables: list[str], seed: int
                       ) -> tuple[int, dict | None]:
    agreed = 0
    for point in _sample_points(variables, _centres(problem.expr, problem.answer), seed):
        truth, node_values = _trusted_derivative(problem, point)
        if truth is None:
            continue
        given = _trusted_value(problem.answer, {**point, **node_values})
        if given is None:
            continue
        if not math.isclose(truth, given, rel_tol=POINT_RTOL, abs_tol=POINT_ATOL):
            exact = _exact_sides(problem, point)
            if exact is not None:
                truth, given = exact
                if math.isclose(truth, given, rel_tol=1e-12, abs_tol=1e-15):
                    continue  # float64 rounding, not a wrong answer: the point proves nothing
            at = {name: point[name] for name in variables}
            return agreed, {"at": at, "expected": truth, "given": given}
        agreed += 1
        if agreed >= MIN_POINTS + 10:
            break
    return agreed, None


def _exact_sides(problem: _Problem, point: Mapping[str, float]) -> tuple[float, float] | None:
    """The true derivative and the answer at the point to 30 digits (SymPy, time-limited), to
    tell a wrong answer from float64 rounding; None if SymPy cannot say in time."""
    try:
        with time_limit(CONFIRM_SECONDS):
            import sympy

            from .checks import to_sympy

            exprs = to_sympy(problem.expr)
            ids = problem.expr.ids
            answer = to_sympy(problem.answer)[problem.answer.output].xreplace(
                {sympy.Symbol(name, real=True): exprs[ids.index(name)]
                 for name in problem.statements})
            if problem.wrt in problem.statements:
                return None
            derivative = sympy.diff(exprs[problem.expr.output],
                                    sympy.Symbol(problem.wrt, real=True))
            values = {sympy.Symbol(name, real=True): sympy.Rational(repr(value))
                      for name, value in point.items()}
            sides = [complex(e.xreplace(values).evalf(30)) for e in (derivative, answer)]
    except Exception:  # SymPy could not settle it in time: keep the float verdict
        return None
    if any(abs(side.imag) > 1e-12 * max(1.0, abs(side.real)) for side in sides):
        return None
    return sides[0].real, sides[1].real


def _trusted(result: Result) -> bool:
    return all(node.status not in _BAD_STATUS for node in result.nodes)


def _trusted_derivative(problem: _Problem, point: Mapping[str, float]
                        ) -> tuple[float | None, dict[str, float]]:
    """The true derivative at the point (None if the program is not smooth and finite there),
    and the values of the program's statements, which the answer may use."""
    graph = problem.expr
    result = evaluate(graph, {name: point[name] for name in graph.variable_names})
    if not _trusted(result):
        return None, {}
    values = {node.id: node.value for node in result.nodes if node.id in problem.statements}
    if problem.wrt in problem.statements:
        value = result.node(problem.wrt).adjoint
    else:
        value = dict(result.gradient).get(problem.wrt, 0.0)
    return (value if value is not None and math.isfinite(value) else None), values


def _trusted_value(graph: Graph, point: Mapping[str, float]) -> float | None:
    if any(name not in point for name in graph.variable_names):
        return None
    result = evaluate(graph, {name: point[name] for name in graph.variable_names})
    if not _trusted(result) or not math.isfinite(result.value):
        return None
    return result.value


# ----------------------------------------------------------------------------------------------
# Are these numbers right?


@dataclass(frozen=True)
class Claim:
    """`d/dx=2.42`, `h1.adjoint=48` or `h.value=12`, with the decimals the number was given to."""

    text: str
    kind: str  # "gradient" | "adjoint" | "value"
    target: str
    given: float
    decimals: int


def parse_claim(text: str) -> Claim:
    """Read one claim; a malformed claim is an InputError that shows the accepted forms."""
    match = _CLAIM.match(text)
    if not match:
        raise InputError(f"cannot read claim {text!r}; write d/dx=2.42, h1.adjoint=48 or "
                         "h.value=12")
    number_text = match["number"]
    if match["var"] is not None:
        kind, target = "gradient", match["var"]
    else:
        kind = "adjoint" if match["kind"] in ("adjoint", "grad") else "value"
        target = match["node"]
    return Claim(text.strip(), kind, target, float(number_text), _decimals(number_text))


def _decimals(number_text: str) -> int:
    mantissa, _, exponent = number_text.lower().partition("e")
    fraction = mantissa.partition(".")[2]
    return len(fraction) - (int(exponent) if exponent else 0)


def accepts(true: float, given: float, decimals: int, rtol: float | None, atol: float | None
            ) -> bool:
    """Homework rounding: the true value rounds to the given one at its decimals, unless a
    tolerance is set explicitly."""
    if not math.isfinite(true):
        return False
    if rtol is not None or atol is not None:
        return math.isclose(true, given, rel_tol=rtol or 0.0, abs_tol=atol or 0.0)
    return abs(true - given) <= 0.5 * 10.0 ** (-decimals) * (1 + 1e-9) + 1e-12 * abs(given)


def check_claims(result: Result, claims: Sequence[Claim], rtol: float | None = None,
                 atol: float | None = None) -> list[Item]:
    """One Item per claim about a computed Result."""
    gradient = dict(result.gradient)
    nodes = {node.id: node for node in result.nodes}
    items = []
    for claim in claims:
        if claim.kind == "gradient":
            if claim.target not in gradient:
                raise InputError(f"claim {claim.text!r}: {claim.target!r} is not a variable of "
                                 f"the program (variables: {', '.join(gradient) or 'none'})")
            true = gradient[claim.target]
        else:
            if claim.target not in nodes:
                raise InputError(f"claim {claim.text!r}: no node {claim.target!r} (nodes: "
                                 f"{', '.join(list(nodes)[:12])})")
            node = nodes[claim.target]
            true = node.adjoint if claim.kind == "adjoint" else node.value
            if true is None:
                true = 0.0  # a constant has no adjoint: nothing flows into it
        if not math.isfinite(true):
            items.append(Item("claim", claim.text, UNDETERMINED, given=claim.given,
                              reason="the true value is not a finite number at this point"))
            continue
        verdict = CORRECT if accepts(true, claim.given, claim.decimals, rtol, atol) else INCORRECT
        items.append(Item("claim", claim.text, verdict, expected=true, given=claim.given))
    return items


# ----------------------------------------------------------------------------------------------
# Is my whole table right?


@dataclass(frozen=True)
class TableRow:
    """One row of a student's backprop table; a missing number is None (not graded)."""

    node: str
    value: float | None
    adjoint: float | None
    value_decimals: int = 0
    adjoint_decimals: int = 0


def check_table(graph: Graph, result: Result, rows: Sequence[TableRow],
                rtol: float | None = None, atol: float | None = None) -> list[Item]:
    """Mark every row, name the first wrong number (values in evaluation order, then adjoints
    in backward order) as the root cause, and mark later wrong numbers that follow from the
    student's own earlier numbers as consistent (error carried forward)."""
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
    own_values = _own_values(graph, student, true_values)
    own_adjoints = _own_adjoints(graph, student, own_values, true_adjoints)

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
            right = accepts(true, given, decimals, rtol, atol)
            # Carried-forward numbers were computed from the student's rounded ones, so one
            # more unit in the last place is allowed.
            consistent = own is not None and math.isfinite(own) and (
                accepts(own, given, decimals, rtol, atol)
                or abs(own - given) <= 1.5 * 10.0 ** (-decimals))
            marks[(row.node, kind)] = (right, consistent)

    wrong_values = sorted((position[n], n) for (n, k), (ok, _) in marks.items()
                          if k == "value" and not ok)
    wrong_adjoints = sorted((-position[n], n) for (n, k), (ok, _) in marks.items()
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
            right, consistent = marks[(row.node, kind)]
            mark = {"given": number(given), "expected": number(true),
                    "verdict": CORRECT if right else INCORRECT}
            if not right:
                verdict = INCORRECT
                if root == (row.node, kind):
                    mark["root_cause"] = True
                    notes.append(f"{kind}: first wrong number (root cause)")
                elif consistent:
                    mark["consistent"] = True
                    notes.append(f"{kind}: consistent with your earlier numbers")
                else:
                    notes.append(f"{kind}: wrong")
            details[kind] = mark
        items.append(Item("row", row.node, verdict, reason="; ".join(notes) or None,
                          details=details))
    return items


def _own_values(graph: Graph, student: Mapping[str, TableRow], true_values: list[float]
                ) -> list[float | None]:
    """Each node's value recomputed from the student's values of its inputs (where given)."""
    given = list(true_values)
    position = {node_id: i for i, node_id in enumerate(graph.ids)}
    for node_id, row in student.items():
        if row.value is not None:
            given[position[node_id]] = row.value
    own: list[float | None] = list(true_values)
    for i, _, forward, _, _, _, ins in compile_tape(graph.ops, graph.inputs, graph.output):
        try:
            own[i] = forward(*[given[j] for j in ins])
        except (ArithmeticError, ValueError, TypeError):
            own[i] = None
    return own


def _own_adjoints(graph: Graph, student: Mapping[str, TableRow], own_values: list,
                  true_adjoints: list) -> list[float | None]:
    """Each node's adjoint recomputed from the student's adjoints of its consumers, with local
    partials taken at the student's own values."""
    n = len(graph.ids)
    position = {node_id: i for i, node_id in enumerate(graph.ids)}
    given_value: list = [None] * n
    given_adjoint: list = [None] * n
    for node_id, row in student.items():
        given_value[position[node_id]] = row.value
        given_adjoint[position[node_id]] = row.adjoint
    own = [0.0] * n
    for i, code, _, partials, _, _, ins in reversed(compile_tape(graph.ops, graph.inputs,
                                                                  graph.output)):
        upstream = given_adjoint[i] if given_adjoint[i] is not None else (true_adjoints[i] or 0.0)
        args = [given_value[j] if given_value[j] is not None else own_values[j] for j in ins]
        out = given_value[i] if given_value[i] is not None else own_values[i]
        if out is None or any(a is None for a in args):
            local = (math.nan,) * len(ins)
        else:
            local = node_partials(code, partials, args, out)
        for j, d in zip(ins, local, strict=True):
            own[j] += upstream * d
    own[graph.output] = 1.0
    return own


def read_table(text: str, name: str) -> list[TableRow]:
    """Rows from CSV (header: node,value,adjoint) or JSON (a list of such objects)."""
    stripped = text.lstrip()
    if stripped.startswith("[") or stripped.startswith("{"):
        return _table_from_json(text, name)
    return _table_from_csv(text, name)


def _cell(raw, what: str, where: str) -> tuple[float | None, int]:
    if raw is None:
        return None, 0
    text = str(raw).strip()
    if not text:
        return None, 0
    if not re.fullmatch(_NUMBER, text):
        raise InputError(f"{where}: {what} {text!r} is not a number")
    return float(text), _decimals(text)


def _row(record: Mapping, where: str) -> TableRow:
    node = str(record.get("node", "")).strip()
    if not node:
        raise InputError(f"{where}: the row has no node name")
    value, value_decimals = _cell(record.get("value"), "value", where)
    adjoint, adjoint_decimals = _cell(record.get("adjoint"), "adjoint", where)
    return TableRow(node, value, adjoint, value_decimals, adjoint_decimals)


def _table_from_csv(text: str, name: str) -> list[TableRow]:
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "node" not in fields or not ({"value", "adjoint"} & set(fields)):
        raise InputError(f"{name}: the CSV needs a header with node and value and/or adjoint "
                         f"columns (found: {', '.join(fields) or 'nothing'})")
    reader.fieldnames = fields
    return [_row(record, f"{name} line {number + 2}") for number, record in enumerate(reader)]


def _table_from_json(text: str, name: str) -> list[TableRow]:
    import json

    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{name}: not valid JSON ({error.msg} at line {error.lineno})") from None
    if isinstance(data, dict):
        data = data.get("rows", data.get("nodes"))
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputError(f"{name}: expected a list of objects with node, value, adjoint")
    return [_row(record, f"{name} row {number + 1}") for number, record in enumerate(data)]


def evaluate_program(text: str, point: Mapping[str, float]) -> tuple[Graph, Result]:
    """The graph and the engine's Result for a program at a point (for claims and tables)."""
    graph = build_graph(parse_program(text, given=frozenset(point)))
    return graph, evaluate(graph, point)


# ----------------------------------------------------------------------------------------------
# One grading job (a command line's options or one line of a batch file)


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
    symbolic_seconds: float = 2.0
    exact: bool = False
    precision: int = 15


def grade(job: Job) -> Report:
    """Grade a job in this process (callers bound its time; see bounded.py)."""
    from .api import value_of

    items: list[Item] = []
    warnings: list[str] = []
    for wrt, answer in job.answers:
        items.append(check_derivative(job.expr, wrt, answer,
                                      symbolic_seconds=job.symbolic_seconds))
    if job.claims or job.table:
        point = {name: value_of(name, value) for name, value in job.at}
        claims = [parse_claim(text) for text in job.claims]
        graph, result = evaluate_program(job.expr, point)
        claim_items = check_claims(result, claims, job.rtol, job.atol)
        if job.exact:
            try:
                with time_limit(job.symbolic_seconds):
                    claim_items = _with_exact_truth(graph, result, claims, claim_items, job)
            except TimeoutError:
                warnings.append(f"exact values were not found within {job.symbolic_seconds:g} s;"
                                " the claims were checked with float64 values")
        items.extend(claim_items)
        if job.table:
            table_items = check_table(graph, result, job.table, job.rtol, job.atol)
            items.extend(table_items)
            graded = {row.node for row in job.table}
            missing = [node_id for node_id in graph.ids if node_id not in graded
                       and graph.ops[graph.ids.index(node_id)] != "const"]
            if missing:
                warnings.append(f"the table has no rows for {len(missing)} node(s) "
                                f"({', '.join(missing[:8])}{', ...' if len(missing) > 8 else ''})"
                                "; they are not graded")
    if not items:
        if job.table == () and job.claims == () and not job.answers:
            raise InputError("nothing to check: give --wrt X --answer FORMULA, --expect CLAIM, "
                             "or --table FILE")
    return Report(tuple(items), tuple(warnings))


def _with_exact_truth(graph: Graph, result: Result, claims: Sequence[Claim],
                      items: list[Item], job: Job) -> list[Item]:
    """Claim items with the true value also in exact form (`--exact`)."""
    from dataclasses import replace

    from .exact import evaluate_exact

    exact = evaluate_exact(graph, dict(job.at), job.precision)
    position = {node_id: i for i, node_id in enumerate(graph.ids)}
    out = []
    for claim, item in zip(claims, items, strict=True):
        i = position[claim.target]
        number = exact.values[i] if claim.kind == "value" else exact.adjoints[i]
        out.append(replace(item, details={**item.details, "exact": number.to_dict()})
                   if number is not None else item)
    return out


def json_text(value: object) -> str:
    import json

    return json.dumps(value)


def job_from_record(record: object, symbolic_seconds: float = 2.0) -> tuple[object, Job]:
    """A batch line's id and Job: {"id", "expr", "wrt", "answer"} or {"id", "expr", "at",
    "expect"} (lists allowed for wrt/answer, and "table" rows as in a table file)."""
    if not isinstance(record, dict):
        raise InputError("each line must be a JSON object")
    item_id = record.get("id")
    expr = record.get("expr")
    if not isinstance(expr, str):
        raise InputError("the item has no \"expr\" string")
    wrt = _as_list(record.get("wrt"), "wrt")
    answer = _as_list(record.get("answer"), "answer")
    if len(wrt) != len(answer):
        raise InputError(f"{len(wrt)} \"wrt\" but {len(answer)} \"answer\"; give one per answer")
    at = record.get("at") or {}
    if not isinstance(at, dict):
        raise InputError("\"at\" must be an object such as {\"x\": 1}")
    expect = _as_list(record.get("expect"), "expect")
    table = tuple(_row(r, f"row {n + 1}") for n, r in enumerate(record.get("table") or [])
                  if isinstance(r, dict))
    tolerance = {}
    for key in ("rtol", "atol"):
        if key in record:
            value = record[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(f"\"{key}\" must be a number, not {value!r}")
            tolerance[key] = float(value)
    for name, value in at.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise InputError(f"the value of {name!r} in \"at\" must be a number or a constant "
                             f"expression such as \"1/3\", not {json_text(value)}")
    job = Job(expr, tuple(zip(wrt, answer, strict=True)),
              tuple((str(k), v if isinstance(v, (int, float)) else str(v)) for k, v in at.items()),
              tuple(expect), table, **tolerance, symbolic_seconds=symbolic_seconds)
    return item_id, job


def _as_list(value: object, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise InputError(f"\"{name}\" must be a string or a list of strings")


def grade_line(line: str, number: int, timeout: float = 5.0) -> dict:
    """Grade one JSON line of a batch file; returns its result row (errors included)."""
    import json

    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"line {number}: not valid JSON ({error.msg})") from None
    item_id, job = job_from_record(record, symbolic_seconds=0.4 * timeout)
    if item_id is None:
        item_id = number
    report = grade(job)
    return {"id": item_id, "verdict": report.verdict,
            "items": [item.to_dict() for item in report.items]}
