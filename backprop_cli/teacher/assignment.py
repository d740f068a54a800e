"""An assignment: a program template, parameter ranges and an assignment salt, from which each
student's variant (their point and the answer key) is made again from their id alone."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

from ..errors import InputError, did_you_mean, shortened
from ..graph import Graph
from ..result import Result

ASKS = ("values", "adjoints", "locals", "gradient", "formula")
DEFAULT_ASK = ("values", "adjoints")
MAX_DRAWS = 400
MAX_STUDENTS = 10_000
FORMAT = "backprop-assignment"
_RANGE = re.compile(r"^\s*(?P<name>[^=\s]+)\s*=\s*(?P<low>[-+]?[\d.]+)\s*:\s*(?P<high>[-+]?[\d.]+)"
                    r"\s*$")


@dataclass(frozen=True)
class Range:
    """A parameter drawn per student: from low to high, with `places` decimals."""

    name: str
    low: float
    high: float
    places: int


@dataclass(frozen=True)
class Question:
    """One number (or formula) a worksheet asks for, and its true answer."""

    question: str  # the claim's left side: z.value, x.adjoint, dL/dw, dz/dw, or "formula d/dw"
    quantity: str  # value | adjoint | gradient | local | formula
    node: str
    answer: float | str
    of: str | None = None  # the statement of a local derivative

    def claim(self, decimals: int) -> str:
        return f"{self.question}={self.answer:.{decimals}f}"


@dataclass(frozen=True)
class Variant:
    """One student's problem: the point, and the questions with their answers."""

    student: str
    at: tuple[tuple[str, float], ...]
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Assignment:
    """Everything needed to make any student's variant again: the template, the ranges, the
    values held fixed, the salt, what is asked, the upstream gradient and the rounding rule."""

    program: str
    ranges: tuple[Range, ...]
    fixed: tuple[tuple[str, float], ...] = ()
    salt: str = ""
    ask: tuple[str, ...] = DEFAULT_ASK
    upstream: float = 1.0
    decimals: int = 2
    title: str = "Backpropagation by hand"
    students: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict:
        document = asdict(self)
        document["ranges"] = [asdict(r) for r in self.ranges]
        document["fixed"] = dict(self.fixed)
        return {"format": FORMAT, "version": 1, **document}

    def variant(self, student: str) -> Variant:
        """The student's variant: the same id and salt always give the same point."""
        return _variant(self, student)

    def _drawn(self, student: str) -> Variant:
        graph = program_graph(self)
        rng = random.Random(int.from_bytes(
            hashlib.sha256(f"{self.salt}\x00{student}".encode()).digest()[:8], "big"))
        failure = None
        for _ in range(MAX_DRAWS):
            point = dict(self.fixed)
            # drawn in name order, and judged on every question, so that neither the order of
            # the ranges nor what is asked moves a student's numbers
            point.update((r.name, _draw(rng, r)) for r in sorted(self.ranges,
                                                                 key=lambda r: r.name))
            if len({point[r.name] for r in self.ranges}) < len(self.ranges):
                continue  # equal parameters would make different mistakes look alike
            result = _evaluated(graph, point, self.upstream)
            if result is None or result.flagged:
                failure = failure or _failure(result, point)
            if result is None:
                continue
            questions = questions_for(self, graph, result)
            every = questions_for(replace(self, ask=ASKS), graph, result)
            if nice(graph, result, every, self, point):
                formulas = tuple(Question(f"formula d/d{r.name}", "formula", r.name,
                                          formula(self, r.name)) for r in self.ranges
                                 ) if "formula" in self.ask else ()
                at = tuple((name, point[name]) for name in graph.variable_names)
                return Variant(student, at, questions + formulas)
        raise NoNicePoint(f"no well-conditioned point for student {shortened(student, 40)!r} "
                          f"in {MAX_DRAWS} draws from the ranges{_why(failure)}; {WIDEN}",
                          failure)


WIDEN = ("widen the ranges, draw with more decimals (--range w=-2.0:2.0 draws 1, "
         "-2.00:2.00 draws 2) or ask for fewer decimals")


class NoNicePoint(InputError):
    """No draw from the ranges gave a point students can work by hand; `failure` says what
    went wrong at the first point that could not be evaluated cleanly, if any did."""

    def __init__(self, message: str, failure: str | None = None) -> None:
        super().__init__(message)
        self.failure = failure


def _failure(result: Result | None, point: Mapping[str, float]) -> str:
    at = ", ".join(f"{name} = {value:g}" for name, value in point.items())
    if result is None:
        return f"at {at} the program cannot be evaluated"
    node = result.flagged[0]
    return f"at {at}, {node.id}: {node.message or node.status}"


def _why(failure: str | None) -> str:
    return f" (e.g. {failure})" if failure else ""


@functools.lru_cache(maxsize=4096)
def _variant(assignment: Assignment, student: str) -> Variant:
    # grading a class asks for each student's variant more than once
    return assignment._drawn(student)


def parse_range(text: str) -> Range:
    """`w=-2:2` → w drawn from -2 to 2 with one decimal (the more decimals the ends are
    written with, the more the draw has, at least one)."""
    match = _RANGE.match(text)
    if not match and re.match(r"^\s*[^=\s]+\s*=[^:]+:[^:]+$", text):
        raise InputError(f"--range {shortened(text.strip(), 40)!r}: write the ends as plain "
                         "decimals (e.g. w=-2.5:2.5), without exponents")
    if not match:
        raise InputError(f"cannot read --range {shortened(text, 40)!r}; write NAME=LOW:HIGH, "
                         "e.g. --range w=-2:2")
    try:
        low, high = float(match["low"]), float(match["high"])
    except ValueError:
        raise InputError(f"--range {text.strip()!r}: the ends must be numbers") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise InputError(f"--range {text.strip()!r}: LOW must be below HIGH")
    places = max(1, *(len(end.partition(".")[2]) for end in (match["low"], match["high"])))
    if places > 6:
        raise InputError(f"--range {text.strip()!r}: at most 6 decimals")
    return Range(match["name"], low, high, places)


def load(text: str, name: str) -> Assignment:
    """An assignment file (written by `generate`) read back."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{name} is not an assignment file ({error.msg} at line "
                         f"{error.lineno})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError(f"{name} is not an assignment file written by `backprop generate` "
                         f"(it has no \"format\": \"{FORMAT}\")")
    try:
        assignment = Assignment(
            program=document["program"],
            ranges=tuple(Range(r["name"], float(r["low"]), float(r["high"]), int(r["places"]))
                         for r in document["ranges"]),
            fixed=tuple((k, float(v)) for k, v in document.get("fixed", {}).items()),
            salt=str(document["salt"]), ask=tuple(document["ask"]),
            upstream=float(document.get("upstream", 1.0)),
            decimals=int(document.get("decimals", 2)),
            title=str(document.get("title", "")),
            students=tuple(str(s) for s in document.get("students", ())))
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{name}: the assignment file is damaged ({error!s:.60})") from None
    check(assignment)
    return assignment


def check(assignment: Assignment, drawn: bool = True) -> None:
    """Refuse an assignment that cannot make variants: unknown asks, a variable with neither a
    range nor a fixed value, a range for a name the program does not have (`drawn=False`: a
    problem at the fixed values alone, as practice allows)."""
    check_ask(assignment)
    if drawn and not assignment.ranges:
        raise InputError("give at least one --range NAME=LOW:HIGH, so students get different "
                         "problems")
    if not math.isfinite(assignment.upstream) or assignment.upstream == 0:
        raise InputError("--upstream must be a finite number other than 0")
    graph = program_graph(assignment)
    variables = set(graph.variable_names)
    drawn = [r.name for r in assignment.ranges]
    given = drawn + [name for name, _ in assignment.fixed]
    extra = [name for name in given if name not in variables]
    if extra:
        raise InputError(_not_a_variable(extra[0], graph))
    twice = sorted({name for name in given if given.count(name) > 1})
    if twice:
        raise InputError(f"{twice[0]!r} is given twice (a --range and a value, or two ranges)")
    missing = [name for name in graph.variable_names if name not in given]
    if missing:
        raise InputError(f"no range or value for {', '.join(missing)}: give --range "
                         f"{missing[0]}=LOW:HIGH or --{missing[0]} VALUE")


def check_ask(assignment: Assignment) -> None:
    """Refuse an --ask that names something no worksheet asks."""
    unknown = [a for a in assignment.ask if a not in ASKS]
    if unknown:
        raise InputError(f"cannot ask for {unknown[0]!r}; ask for some of {', '.join(ASKS)}"
                         f"{did_you_mean(unknown[0], ASKS)}")


def _not_a_variable(name: str, graph: Graph) -> str:
    import difflib

    variables = ", ".join(graph.variable_names)
    if name in graph.ids:
        return (f"{name!r} is a statement of the program (computed from the others); give "
                f"ranges and values to its variables: {variables}")
    close = difflib.get_close_matches(name, graph.variable_names, n=1, cutoff=0.5) or [
        v for v in graph.variable_names if v.lower() == name.lower()]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (f"--range or a value names {name!r}, which the program does not use (its "
            f"variables: {variables}){hint}")


def questions_for(assignment: Assignment, graph: Graph, result: Result,
                  variables: Sequence[str] | None = None) -> tuple[Question, ...]:
    """The questions the assignment asks, in the order a student works: forward values,
    local derivatives, adjoints backwards, the gradient, formulas. The adjoints and gradient
    asked are those of `variables`, by default the drawn ones (a fixed target is given)."""
    from ..grading.claims import statement_inputs, statement_local

    nodes = {node.id: node for node in result.nodes}
    statements = [graph.ids[i] for i in range(len(graph)) if graph.named[i]]
    if variables is None:
        variables = [r.name for r in assignment.ranges]
    variables = list(variables)
    output = result.output
    d_out = f"d{output}" if graph.named[graph.output] else "d"
    questions: list[Question] = []
    if "values" in assignment.ask:
        questions += [Question(f"{s}.value", "value", s, nodes[s].value) for s in statements]
    if "locals" in assignment.ask:
        # the output statement's own derivatives are the adjoints of its inputs (dL/da)
        for s in statements[:-1] if statements and statements[-1] == output else statements:
            for name in statement_inputs(result, s):
                questions.append(Question(f"d{s}/d{name}", "local", name,
                                          statement_local(result, s, name), of=s))
    if "adjoints" in assignment.ask:
        backward = [s for s in reversed(statements) if s != output]
        if "gradient" not in assignment.ask:
            backward += variables
        questions += [Question(f"{n}.adjoint", "adjoint", n, nodes[n].adjoint or 0.0)
                      for n in backward]
    if "gradient" in assignment.ask:
        gradient = dict(result.gradient)
        questions += [Question(f"{d_out}/d{v}", "gradient", v, gradient[v]) for v in variables]
    return tuple(questions)


@functools.lru_cache(maxsize=64)
def _formula(program: str, names: frozenset[str], wrt: str) -> str:
    import sympy

    from ..deadline import time_limit
    from ..graph import build_graph
    from ..parse import parse_program
    from ..sympy_forms import to_sympy

    graph = build_graph(parse_program(program, given=names))
    expression = to_sympy(graph)[graph.output]
    derivative = sympy.diff(expression, sympy.Symbol(wrt, real=True))
    try:
        with time_limit(1.0):
            derivative = sympy.simplify(derivative)
    except TimeoutError:
        pass
    return str(derivative).replace("**", "^")


def formula(assignment: Assignment, wrt: str) -> str:
    """d output / d wrt as a formula in the variables (SymPy, simplified within a second;
    the same for every student, so made once)."""
    names = frozenset(r.name for r in assignment.ranges) | frozenset(
        n for n, _ in assignment.fixed)
    return _formula(assignment.program, names, wrt)


def nice(graph: Graph, result: Result, questions: Sequence[Question], assignment: Assignment,
         point: Mapping[str, float]) -> bool:
    """A point students can work by hand: nothing flagged (no kink, no domain edge), numbers
    of moderate size, each answer clear of a rounding boundary at the decimals asked and with
    two digits at least there (so a mistake shows), and no kink within the rounding of an
    input (the gradient agrees with a central difference over that step)."""
    if result.flagged or not math.isfinite(result.value) or abs(result.value) > 1e4:
        return False
    for node in result.nodes:
        numbers = [node.value, node.adjoint or 0.0, *(e.local or 0.0 for e in node.inputs)]
        if not all(math.isfinite(v) and abs(v) <= 1e4 for v in numbers):
            return False
    unit = 10.0 ** -assignment.decimals
    for question in questions:
        if isinstance(question.answer, str):
            continue
        answer = question.answer
        if abs(answer) < 10 * unit:  # two digits at least (a 0 would make steps trivial)
            return False
        fraction = abs(answer) / unit % 1.0
        if abs(fraction - 0.5) < 0.1:  # a hair from rounding either way
            return False
    return _smooth(graph, result, assignment, point)


def _smooth(graph: Graph, result: Result, assignment: Assignment,
            point: Mapping[str, float]) -> bool:
    gradient = dict(result.gradient)
    for r in assignment.ranges:
        h = 0.5 * 10.0 ** -r.places
        up = _evaluated(graph, {**point, r.name: point[r.name] + h}, assignment.upstream)
        down = _evaluated(graph, {**point, r.name: point[r.name] - h}, assignment.upstream)
        if up is None or down is None or up.flagged or down.flagged:
            return False
        slope = assignment.upstream * (up.value - down.value) / (2 * h)
        if abs(slope - gradient[r.name]) > 0.05 * max(1.0, abs(gradient[r.name])):
            return False
    return True


def _draw(rng: random.Random, r: Range) -> float:
    for _ in range(100):
        value = round(r.low + rng.random() * (r.high - r.low), r.places)
        if value not in (0.0, 1.0, -1.0) and r.low <= value <= r.high:
            return value + 0.0
    return round((r.low + r.high) / 2, r.places) + 0.0


def program_graph(assignment: Assignment) -> Graph:
    """The assignment's program as a graph, its drawn and fixed names given."""
    from ..graph import build_graph
    from ..parse import parse_program

    names = frozenset(r.name for r in assignment.ranges) | frozenset(
        n for n, _ in assignment.fixed)
    return build_graph(parse_program(assignment.program, given=names))


def _evaluated(graph: Graph, point: Mapping[str, float], upstream: float) -> Result | None:
    from ..gradient import evaluate

    try:
        return evaluate(graph, point, seed=upstream)
    except (ArithmeticError, ValueError):
        return None


def complete(record: dict, assignment: Assignment) -> dict:
    """A batch line of a student's answers with their problem filled in from the assignment
    (the program, their point, the upstream gradient), made again from their id. A line that
    states its own problem must state the same one."""
    from ..grading.lines import JsonNumber, bad_field

    student = record.get("id")
    if isinstance(student, JsonNumber):
        student = student.text
    if not isinstance(student, str) or not student:
        raise bad_field("with --assignment, each line needs the student's \"id\" (their "
                        "problem is made from it)")
    if assignment.students and student not in assignment.students:
        # a case slip only: another close id would be a classmate's, and this message reaches
        # the student through an autograder
        same = [name for name in assignment.students if name.lower() == student.lower()]
        hint = f"; did you mean {same[0]!r}?" if same else ""
        raise bad_field(f"student {shortened(student, 40)!r} is not on the assignment's roster"
                        f"{hint}")
    variant = assignment.variant(student)
    filled = {"expr": assignment.program, "at": dict(variant.at),
              "upstream": assignment.upstream}
    for key, value in filled.items():
        own = record.get(key)
        if own is not None and not _same(own, value):
            raise bad_field(f"the line's \"{key}\" differs from student "
                            f"{shortened(student, 40)!r}'s problem in the assignment; leave it "
                            "out (the assignment gives it)")
    return {**record, **filled}


def _same(given: object, expected: object) -> bool:
    from ..grading.lines import JsonNumber

    if isinstance(given, JsonNumber):
        given = float(given.text)
    if isinstance(expected, dict):
        return isinstance(given, dict) and given.keys() == expected.keys() and all(
            _same(given[k], expected[k]) for k in expected)
    if isinstance(expected, float):
        return isinstance(given, (int, float)) and float(given) == expected
    return given == expected
