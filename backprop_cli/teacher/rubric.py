"""A rubric (TOML or JSON) and the score it gives a graded problem: points per node and
quantity, credit for error carried forward and for named misconceptions, penalties."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import InputError
from ..grading.report import DIFFERS
from ..grading.scores import CARRIED, MISSING, RIGHT, UNDECIDED, WRONG, Mark, Score
from ..printing import told_apart

QUANTITIES = ("value", "adjoint", "local", "gradient", "formula")
_SECTIONS = {"points", "nodes", "credit", "penalties", "feedback"}


@dataclass(frozen=True)
class Rubric:
    """Points per quantity (and per node), the share of points an error-carried-forward number
    earns, partial credit per named misconception, points off per wrong answer, and whether
    feedback may show the true numbers (not to a student who may resubmit)."""

    points: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(QUANTITIES, 1.0))
    nodes: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    carried_forward: float = 1.0
    misconceptions: Mapping[str, float] = field(default_factory=dict)
    wrong_penalty: float = 0.0
    show_answers: bool = True

    def check_nodes(self, ids, name: str) -> None:
        """Refuse a [nodes.q] section for a node the program lacks: a typo there would
        quietly leave every student's points as they were."""
        unknown = sorted(set(self.nodes) - set(ids))
        if unknown:
            shown = ", ".join(i for i in ids if not i[0].isdigit())
            raise InputError(f"{name} [nodes.{unknown[0]}]: the assignment's program has no "
                             f"node {unknown[0]!r} (nodes: {shown})")

    def points_for(self, quantity: str, node: str | None) -> float:
        own = self.nodes.get(node or "", {})
        return float(own.get(quantity, self.points.get(quantity, 1.0)))


DEFAULT = Rubric()


def load_rubric(text: str, name: str) -> Rubric:
    """A rubric file: TOML (by default) or JSON (a name ending .json, or text starting {)."""
    if name.endswith(".json") or text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{name}: not valid JSON ({error.msg} at line {error.lineno})"
                             ) from None
    else:
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise InputError(f"{name}: not valid TOML ({error})") from None
    if not isinstance(document, dict):
        raise InputError(f"{name}: a rubric is a table of sections (points, nodes, credit, "
                         "penalties, feedback)")
    return _rubric(document, name)


def _rubric(document: Mapping, name: str) -> Rubric:
    unknown = sorted(set(document) - _SECTIONS)
    if unknown:
        raise InputError(f"{name}: unknown section {unknown[0]!r} (sections: points, nodes, "
                         "credit, penalties, feedback)")
    points = dict.fromkeys(QUANTITIES, 1.0)
    points.update(_numbers(document.get("points", {}), f"{name} [points]", QUANTITIES))
    nodes = {}
    for node, own in _table(document.get("nodes", {}), f"{name} [nodes]").items():
        nodes[node] = _numbers(own, f"{name} [nodes.{node}]", QUANTITIES)
    credit = _table(document.get("credit", {}), f"{name} [credit]")
    from ..grading.misconceptions import CODES

    unknown = sorted(set(credit) - {"carried_forward", "misconceptions"})
    if unknown:
        raise InputError(f"{name} [credit]: unknown key {unknown[0]!r} (keys: carried_forward, "
                         "misconceptions)")
    carried = _fraction(credit.get("carried_forward", 1.0), f"{name} [credit] carried_forward")
    misconceptions = {code: _fraction(value, f"{name} [credit.misconceptions] {code}")
                      for code, value in _numbers(credit.get("misconceptions", {}),
                                                  f"{name} [credit.misconceptions]",
                                                  tuple(CODES)).items()}
    penalties = _numbers(document.get("penalties", {}), f"{name} [penalties]", ("wrong",))
    feedback = _table(document.get("feedback", {}), f"{name} [feedback]")
    unknown = sorted(set(feedback) - {"show_answers"})
    if unknown:
        raise InputError(f"{name} [feedback]: unknown key {unknown[0]!r} (keys: show_answers)")
    show = feedback.get("show_answers", True)
    if not isinstance(show, bool):
        raise InputError(f"{name} [feedback] show_answers must be true or false, not {show!r}")
    return Rubric(points, nodes, carried, misconceptions, penalties.get("wrong", 0.0), show)


def _table(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"{where} must be a table of keys and values")
    return value


def _numbers(value: object, where: str, keys: Sequence[str]) -> dict[str, float]:
    numbers = {}
    for key, number in _table(value, where).items():
        if key not in keys:
            raise InputError(f"{where}: unknown key {key!r} (keys: {', '.join(keys)})")
        if isinstance(number, bool) or not isinstance(number, (int, float)) \
                or not math.isfinite(number) or number < 0:
            raise InputError(f"{where}: {key} must be a number of at least 0, not {number!r}")
        numbers[key] = float(number)
    return numbers


def _fraction(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise InputError(f"{where} must be a share of the points from 0 to 1, not {value!r}")
    return float(value)


def question_key(item: Mapping) -> tuple | None:
    """What a graded item is about, the same for a claim, a table cell and an assignment's
    question: (quantity, node, statement of a local derivative)."""
    quantity = item.get("quantity")
    if quantity is None:
        return None
    if quantity == "gradient":
        quantity = "adjoint"  # d/dw and w.adjoint are one number
    return quantity, item.get("target") or item.get("node"), item.get("of")


def score(items: Sequence[Mapping], rubric: Rubric, questions: Sequence | None = None,
          student: str | None = None) -> Score:
    """The rubric's score of a graded problem (its items as in the JSON report). With the
    assignment's `questions`, each is one mark (unanswered ones score 0); without, every
    graded number and formula is."""
    answered: dict[tuple, Mark] = {}
    extra: list[Mark] = []
    asked = {question.question: question_key({"quantity": question.quantity,
                                              "node": question.node, "of": question.of})
             for question in questions or ()}
    for item in items:
        for key, mark in _marks(item, rubric):
            if key is None and (mark.feedback.startswith("not graded:")
                                and _written_question(item) in asked):
                # `h.value=-0,86` answers h.value, wrongly: not "not answered" plus an extra
                key = asked[_written_question(item)]
            if key is None:
                extra.append(mark)
            elif key in answered:
                answered[key] = _answered_twice(answered[key], mark)
            else:
                answered[key] = mark
    marks: list[Mark] = []
    if questions is not None:
        for question in questions:
            key = question_key({"quantity": question.quantity, "node": question.node,
                                "of": question.of})
            mark = answered.pop(key, None)
            if mark is None:
                points = rubric.points_for(question.quantity, question.node)
                mark = Mark(question.question, question.quantity, 0.0, points, MISSING,
                            "not answered")
            else:
                mark = _as_asked(mark, question, rubric)
            marks.append(mark)
        extra += [mark for mark in answered.values()]
        # answers to what was not asked earn nothing and cost nothing
        extra = [Mark(m.question, m.quantity, 0.0, 0.0, m.outcome,
                      f"not asked; {m.feedback}", m.misconception) for m in extra]
    else:
        marks = list(answered.values())
    marks += extra
    wrong = sum(1 for mark in marks if mark.outcome == WRONG and mark.max_points > 0)
    penalties = ((f"{wrong} wrong answer(s) at {rubric.wrong_penalty:g} each",
                  wrong * rubric.wrong_penalty),) if wrong and rubric.wrong_penalty else ()
    earned = sum(mark.points for mark in marks) - sum(p for _, p in penalties)
    maximum = sum(mark.max_points for mark in marks)
    return Score(student, round(max(0.0, earned), 6), round(maximum, 6), tuple(marks),
                 penalties)


def _written_question(item: Mapping) -> str:
    """The question a hand-in line names before its `=` or `:` (`h.value` of `h.value=-0,86`)."""
    return str(item.get("label", "")).split("=")[0].split(":")[0].strip()


def _answered_twice(first: Mark, second: Mark) -> Mark:
    """Two answers to one question (`dL/dw` and `w.adjoint`): the lower mark counts, so that
    a second guess neither hedges the first nor hides a wrong number, and the feedback says
    so. A line that could not be read gives way to one that could (a typo, written again)."""
    from dataclasses import replace

    unread = [m.feedback.startswith("not graded:") for m in (first, second)]
    if unread[0] != unread[1]:
        return second if unread[0] else first

    def share(mark: Mark) -> float:
        return mark.points / mark.max_points if mark.max_points else float(mark.outcome == RIGHT)

    counted = second if share(second) < share(first) else first
    return replace(counted, feedback=f"answered twice ({first.question}, {second.question}); "
                                     f"the lower mark counts: {counted.feedback}")


def with_unanswered(report, scored: Score):
    """The report with a "not answered" item for each question worth points that the student
    left out: an unanswered question is not a right answer, so such a report is not all
    correct."""
    from dataclasses import replace

    from ..grading.report import INCORRECT, Item

    missing = tuple(Item("claim", question, INCORRECT, reason="not answered")
                    for question in scored.unanswered)
    return replace(report, items=report.items + missing) if missing else report


def _as_asked(mark: Mark, question, rubric: Rubric) -> Mark:
    """A mark under the question it answers, worth what that question is worth (a table's
    w.adjoint answers the gradient question dL/dw, and earns the gradient's points)."""
    worth = rubric.points_for(question.quantity, question.node)
    share = mark.points / mark.max_points if mark.max_points else float(mark.outcome == RIGHT)
    return Mark(question.question, question.quantity, round(worth * share, 6), worth,
                mark.outcome, mark.feedback, mark.misconception)


def _marks(item: Mapping, rubric: Rubric):
    kind = item.get("kind")
    if kind == "row":
        for quantity in ("value", "adjoint"):
            cell = item.get(quantity)
            if cell is None:
                continue
            node = item.get("node", item.get("label"))
            yield ((quantity, node, None),
                   _mark(f"{node}.{quantity}", quantity, node, cell, rubric))
        return
    quantity = item.get("quantity")
    node = item.get("target")
    question = item.get("label", "").split("=")[0].strip()
    if kind == "derivative":
        question = f"formula d/d{node}" if node else question
    yield question_key(item), _mark(question, quantity or "value", node, item, rubric)


def _why(graded: Mapping, show_answers: bool) -> str:
    """Why a number or formula is wrong, in the words of the check; without the true number
    or derivative when answers are not shown."""
    from ..grading.claims import unit, why_not

    example = graded.get("counterexample")
    if example:
        at = ", ".join(f"{name} = {value:g}" for name, value in example["at"].items())
        reason = graded.get("reason")
        why = f"; {reason}" if reason and reason != DIFFERS else ""  # a name it does not have
        if not show_answers:
            return f"at {at} your formula differs from the derivative{why}"
        expected, given = told_apart(example["expected"], example["given"], 6)
        return f"at {at} the derivative is {expected}, your formula gives {given}{why}"
    given, expected, places = graded.get("given"), graded.get("expected"), graded.get("places")
    reason = graded.get("reason")
    if reason and reason.startswith("not graded:"):  # the answer could not be read
        return reason
    if not show_answers:
        read_as = next((part for part in (reason or "").split("; ")
                        if part.startswith("read as ")), None)
        if reason and "outside the tolerance" in reason:
            wrong = "wrong: outside the tolerance"
        else:
            wrong = "wrong" if places is None else f"wrong at {unit(places)}"
        return f"{read_as}; {wrong}" if read_as else wrong
    if reason and graded.get("kind") == "claim":
        return reason
    if None not in (given, expected, places):
        return why_not(expected, given, places, None, None)
    return reason or "wrong"


def _mark(question: str, quantity: str, node: str | None, graded: Mapping,
          rubric: Rubric) -> Mark:
    points = rubric.points_for(quantity, node)
    verdict = graded.get("verdict")
    misconception = graded.get("misconception")
    code = misconception.get("code") if isinstance(misconception, Mapping) else None
    if verdict == "correct":
        return Mark(question, quantity, points, points, RIGHT, "right")
    if verdict == "undetermined":
        return Mark(question, quantity, 0.0, points, UNDECIDED,
                    graded.get("reason") or "could not be decided; ask your teacher")
    if graded.get("consistent") and not graded.get("trivial"):
        share = rubric.carried_forward
        return Mark(question, quantity, round(points * share, 6), points, CARRIED,
                    "follows from your earlier numbers (error carried forward)")
    if graded.get("trivial"):
        return Mark(question, quantity, 0.0, points, WRONG,
                    "follows from your earlier 0 or 1, which makes this step trivial: no "
                    "carried-forward credit")
    feedback = _why(graded, rubric.show_answers)
    if graded.get("root_cause") and "root cause" not in feedback:
        feedback = f"the root cause (later numbers follow from it): {feedback}"
    share = 0.0
    if code is not None:
        from ..grading.misconceptions import CODES

        # a mistake's message shows the numbers it gives; its name does not
        message = (misconception.get("message", "") if rubric.show_answers
                   else CODES.get(code, code))
        if message not in feedback:
            feedback = f"{message}; {feedback}"
        # two mistakes may give the same number (both are named): the larger credit counts
        also = misconception.get("also") or []
        share = max(rubric.misconceptions.get(one, 0.0) for one in [code, *also])
    return Mark(question, quantity, round(points * share, 6), points, WRONG, feedback, code)
