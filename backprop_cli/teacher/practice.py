"""Practice in the terminal: one problem, its hidden numbers asked one at a time, each answer
graded by the same grader as `check`, with the named misconception or a hint on a miss and the
worked step once the tries are used up."""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass, field

from ..errors import BackpropError, InputError, shortened
from ..grading.claims import NUMBER
from ..grading.jobs import Job, evaluate_program, grade
from ..grading.misconceptions import CODES
from ..grading.report import CORRECT
from ..printing import format_tree
from ..result import Result
from .assignment import (
    ASKS,
    MAX_DRAWS,
    WIDEN,
    Assignment,
    NoNicePoint,
    Question,
    Variant,
    questions_for,
)

_NUMBER = re.compile(NUMBER)
QUIT = frozenset(("quit", "q", "exit"))
SKIP = frozenset(("skip", "s", "next"))
HINT = frozenset(("?", "hint", "h", ""))


@dataclass(frozen=True)
class Term:
    """One path into an adjoint: the consumer's adjoint times ∂consumer/∂node."""

    consumer: str
    consumer_adjoint: float
    local: float


@dataclass(frozen=True)
class Step:
    """What a question's hint and worked answer show: for a value, the statement as written and
    with the numbers put in; for an adjoint (or a gradient entry), its terms; for a local
    derivative or a formula, the rule."""

    question: Question
    formula: str | None = None  # the statement (value, local), or the formula asked
    substituted: str | None = None  # the statement with the numbers put in
    rule: str | None = None  # a local derivative as a formula over the statement's names
    terms: tuple[Term, ...] = ()
    seed: float | None = None  # the output's adjoint is the upstream gradient


@dataclass(frozen=True)
class Problem:
    """A practice problem: the assignment it comes from, the student's variant and a step for
    each question."""

    assignment: Assignment
    variant: Variant
    output: str
    steps: tuple[Step, ...]
    tries: int
    drawn: bool  # the point was drawn from ranges (`--student` makes it again)
    from_file: bool = False  # an assignment file, which holds its salt
    # the nodes at a kink, each with the convention its derivative follows there (relu at 0:
    # 0), which a student working by hand must be told, as grad and explain tell it
    kinks: tuple[str, ...] = ()


def problem(assignment: Assignment, student: str | None, tries: int,
            from_file: bool = False) -> Problem:
    """The problem of `student` (a new one when None): drawn from the ranges, or the fixed
    point when there are none."""
    from .assignment import check

    if tries < 1:
        raise InputError("--tries must be at least 1")
    if assignment.ranges:
        check(assignment)
        if assignment.students and student is None:
            raise InputError("give --student ID, one of the assignment's students")
        if assignment.students and student not in assignment.students:
            raise InputError(f"student {shortened(student, 40)!r} is not on the assignment's "
                             "roster (ids are matched exactly)")
        try:
            variant = assignment.variant(student or f"p-{secrets.token_hex(3)}")
        except NoNicePoint as failure:
            why = f" (e.g. {failure.failure})" if failure.failure else ""
            raise InputError(f"no point fit to work by hand in {MAX_DRAWS} draws from the "
                             f"ranges{why}; {WIDEN}") from None
    else:
        variant = _fixed_variant(assignment, student or "practice")
    _, result = evaluate_program(assignment.program, dict(variant.at), assignment.upstream)
    troubled = [node for node in result.flagged if node.status != "kink"]
    if troubled or not all(isinstance(q.answer, str) or math.isfinite(q.answer)
                           for q in variant.questions):
        node = (troubled or list(result.flagged) or [None])[0]
        why = f" ({node.id}: {node.message or node.status})" if node is not None else ""
        raise InputError(f"the problem has no finite answer at this point{why}; choose other "
                         "values")
    trees = _statements(assignment, frozenset(name for name, _ in result.at))
    steps = tuple(_step(trees, result, q) for q in variant.questions)
    kinks = tuple(f"{node.id} = {node.expr}: {node.message}" for node in result.flagged
                  if node.status == "kink")
    return Problem(assignment, variant, result.output, steps, tries, bool(assignment.ranges),
                   from_file, kinks)


def _fixed_variant(assignment: Assignment, student: str) -> Variant:
    """Every variable given: the questions about all of them (the gradient with respect to
    every variable, as a worked example asks)."""
    from .assignment import check, formula, program_graph

    check(assignment, drawn=False)
    graph = program_graph(assignment)
    point = dict(assignment.fixed)
    _, result = evaluate_program(assignment.program, point, assignment.upstream)
    variables = tuple(graph.variable_names)
    questions = questions_for(assignment, graph, result, variables=variables)
    if "formula" in assignment.ask:
        questions += tuple(Question(f"formula d/d{v}", "formula", v, formula(assignment, v))
                           for v in variables)
    if not questions:
        raise InputError("the program has nothing to ask with this --ask; ask for some of "
                         f"{', '.join(ASKS)}")
    return Variant(student, tuple((v, point[v]) for v in variables), questions)


def _statements(assignment: Assignment, names: frozenset[str]) -> dict[str, tuple]:
    from ..parse import parse_program

    program = parse_program(assignment.program, given=names)
    return {s.target: s.tree for s in program.statements if s.target is not None}


def _step(trees: dict[str, tuple], result: Result, question: Question) -> Step:
    from ..grading.claims import statement_inputs, statement_local

    nodes = {node.id: node for node in result.nodes}
    if question.quantity == "value":
        tree = trees[question.node]
        numbers = {name: ("const", nodes[name].value, _number(nodes[name].value))
                   for name in statement_inputs(result, question.node)}
        from ..printing import substitute

        return Step(question, format_tree(tree), format_tree(substitute(tree, numbers)))
    if question.quantity == "local":
        return Step(question, format_tree(trees[question.of]),
                    rule=_local_rule(result, question.of, question.node))
    if question.quantity == "formula":
        return Step(question, str(question.answer))
    # the statements, the output among them where it has no name (`x*sin(x)` is one)
    statements = [node.id for node in result.nodes if node.named or node.id == result.output]
    terms = tuple(Term(s, nodes[s].adjoint or 0.0, statement_local(result, s, question.node))
                  for s in statements if question.node in statement_inputs(result, s))
    return Step(question, terms=terms,
                seed=nodes[question.node].adjoint if question.node == result.output else None)


def _local_rule(result: Result, of: str, wrt: str) -> str:
    """∂of/∂wrt over the names the statement uses, from the op table's own rules (as
    `explain` writes them): the sum over the paths inside the statement of the product of
    the rules on each edge, the statement's generated nodes written out as formulas."""
    from ..explain import constants_of
    from ..grading.claims import inside_statement
    from ..printing import substitute
    from ..rules import formula_tree, rule_tree

    by_id = {node.id: node for node in result.nodes}
    written: dict[str, tuple] = {}  # a generated node → its formula over names
    for node in result.nodes:
        if inside_statement(node):
            ids = [edge.input for edge in node.inputs]
            written[node.id] = substitute(formula_tree(node.op, ids, constants_of(node, by_id)),
                                          written)
    paths: list[tuple] = []
    pending: list[tuple[str, tuple]] = [(of, ())]
    while pending:
        node_id, factors = pending.pop()
        node = by_id[node_id]
        ids = [edge.input for edge in node.inputs]
        for k, edge in enumerate(node.inputs):
            rule = rule_tree(node.op, k, ids, constants_of(node, by_id))
            step = (*factors, substitute(rule, written)) if rule is not None else factors
            if edge.input == wrt:
                paths.append(step)
            elif edge.input in written:
                pending.append((edge.input, step))
    terms = [_product(factors) for factors in reversed(paths)]
    total = terms[0]
    for term in terms[1:]:
        total = ("add", total, term)
    return format_tree(total)


def _product(factors: tuple) -> tuple:
    """The factors' product, factors of 1 left out and of -1 made a sign."""
    negative = sum(f[0] == "const" and f[1] == -1 for f in factors) % 2 == 1
    kept = [f for f in factors if not (f[0] == "const" and f[1] in (1, -1))]
    tree = kept[-1] if kept else ("const", 1.0, "1")  # the factor nearest the input first
    for factor in reversed(kept[:-1]):
        tree = ("mul", tree, factor)
    return ("neg", tree) if negative else tree


def _number_text(text: str) -> str:
    """A typed number as the grader reads it (a typographic minus allowed), or an error
    that says what to type."""
    text = text.replace("\u2212", "-")
    if _NUMBER.fullmatch(text) is None or not math.isfinite(float(text)):
        comma = re.fullmatch(r"([-+]?\d+),(\d+)", text.strip())
        if comma:  # 0,5: a decimal comma, as --x 1,5 is told on the command line
            raise InputError(f"use a decimal point: {comma[1]}.{comma[2]}")
        raise InputError("type a number such as -0.25 (or ? for a hint, skip to go on, quit "
                         "to stop)")
    return text


def _number(value: float) -> str:
    return f"{value + 0.0:.6g}"


@dataclass
class Record:
    """How one question went: the answers tried, the hints taken, and the outcome
    (first_try, correct, revealed, skipped or unanswered)."""

    question: Question
    attempts: list[dict] = field(default_factory=list)
    hints: int = 0
    outcome: str = "unanswered"

    def to_dict(self, decimals: int) -> dict:
        q = self.question
        answer = q.answer if isinstance(q.answer, str) else f"{q.answer:.{decimals}f}"
        entry = {"question": q.question, "quantity": q.quantity, "node": q.node,
                 "answer": answer, "outcome": self.outcome, "hints": self.hints,
                 "attempts": self.attempts}
        if q.of is not None:
            entry["of"] = q.of
        return entry


@dataclass(frozen=True)
class Reply:
    """What the session says to one line of input, and whether the question is over."""

    kind: str  # correct | incorrect | revealed | hint | skipped | unreadable | quit
    done: bool
    reason: str | None = None  # on a miss: the misconception's name or the rounding rule
    misconception: dict | None = None
    tries_left: int = 0


class Session:
    """A practice run over a problem's questions, in order; `respond` takes each line the
    student types."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.records = [Record(step.question) for step in problem.steps]
        self.position = 0
        self._tries = 0

    @property
    def step(self) -> Step | None:
        """The step being asked, or None when every question is over."""
        return self.problem.steps[self.position] if self.position < len(self.records) else None

    def respond(self, line: str) -> Reply:
        """Grade one line: a number (or a formula), `?` for a hint, `skip`, `quit`."""
        record = self.records[self.position]
        text = line.strip()
        word = text.lower()
        if word in QUIT:
            self.position = len(self.records)
            return Reply("quit", True)
        if word in HINT:
            record.hints += 1
            return Reply("hint", False)
        if word in SKIP:
            record.outcome = "skipped"
            return self._next(Reply("skipped", True))
        question = record.question
        try:
            item = self._graded(question, text)
        except BackpropError as error:  # a formula that does not parse, a word for a number
            return Reply("unreadable", False, reason=error.message)
        self._tries += 1
        found = item.details.get("misconception")
        attempt = {"given": text, "verdict": item.verdict}
        if found:
            attempt["misconception"] = found["code"]
        record.attempts.append(attempt)
        if item.verdict == CORRECT:
            record.outcome = "first_try" if self._tries == 1 else "correct"
            return self._next(Reply("correct", True))
        left = self.problem.tries - self._tries
        reason = CODES.get(found["code"]) if found else self._near_miss(question, text)
        if reason is None and question.quantity == "formula" and item.reason and \
                item.reason.startswith("your answer uses "):
            reason = item.reason  # a name the problem lacks (σ, wx, q): no number in it
        if left <= 0:
            record.outcome = "revealed"
            return self._next(Reply("revealed", True, reason=reason, misconception=found))
        return Reply("incorrect", False, reason=reason, misconception=found, tries_left=left)

    def _next(self, reply: Reply) -> Reply:
        self.position += 1
        self._tries = 0
        return reply

    def _graded(self, question: Question, text: str):
        assignment = self.problem.assignment
        at = self.problem.variant.at
        if question.quantity == "formula":
            job = Job(assignment.program, answers=((question.node, text),), at=at)
        else:
            text = _number_text(text)
            job = Job(assignment.program, at=at, claims=(f"{question.question}={text}",),
                      decimals=assignment.decimals, seed=assignment.upstream)
        (item,) = grade(job).items
        return item

    def _near_miss(self, question: Question, text: str) -> str | None:
        """A number one unit off in the last decimal asked is a rounding slip: say the rule,
        not the answer."""
        if isinstance(question.answer, str):
            return None
        decimals = self.problem.assignment.decimals
        unit = 10.0 ** -decimals
        if abs(float(_number_text(text)) - round(question.answer, decimals)) <= unit * (1 + 1e-9):
            return (f"close: check the last decimal place (round to {decimals} decimal "
                    "places, to the nearest, from unrounded numbers)")
        return None

    @property
    def score(self) -> int:
        return sum(r.outcome in ("first_try", "correct") for r in self.records)

    @property
    def first_try(self) -> int:
        return sum(r.outcome == "first_try" for r in self.records)

    def to_dict(self) -> dict:
        """The run for scripts: the problem, each question's outcome, the score."""
        from ..errors import SCHEMA_VERSION

        problem = self.problem
        decimals = problem.assignment.decimals
        return {"schema": SCHEMA_VERSION, "ok": True,
                "problem": {"student": problem.variant.student if problem.drawn else None,
                            "program": problem.assignment.program,
                            "at": dict(problem.variant.at),
                            "upstream": problem.assignment.upstream, "decimals": decimals},
                "questions": [r.to_dict(decimals) for r in self.records],
                "score": self.score, "max_score": len(self.records),
                "first_try": self.first_try}

