"""Grading a class with a rubric: each batch row's score, and the gradebook files written
from all of them at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError
from ..grading.scores import Score
from .assignment import Assignment
from .rubric import Rubric, score

GRADEBOOKS = ("canvas", "csv", "gradescope", "prairielearn")


def student_of(row_id: object) -> str | None:
    from ..grading.lines import JsonNumber

    if isinstance(row_id, JsonNumber):
        return row_id.text
    return None if row_id is None else str(row_id)


def parse_gradebooks(specs: list[str]) -> list[tuple[str, str]]:
    """`--gradebook canvas=grades.csv` → [("canvas", "grades.csv")], each checked before any
    grading: a known kind, a folder that exists to write into, no path given twice."""
    import os

    out: list[tuple[str, str]] = []
    for spec in specs:
        kind, _, path = spec.partition("=")
        kind, path = kind.strip().lower(), path.strip()
        if kind not in GRADEBOOKS or not path:
            raise InputError(f"cannot read --gradebook {spec!r}; write KIND=PATH with KIND one "
                             f"of {', '.join(GRADEBOOKS)} (e.g. canvas=grades.csv)")
        if any(os.path.abspath(path) == os.path.abspath(p) for _, p in out):
            raise InputError(f"--gradebook {spec!r}: {path} is already another gradebook's "
                             "file; give each its own")
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise InputError(f"--gradebook {spec!r}: the folder {parent} does not exist")
        out.append((kind, path))
    return out


UNSCORED_CODES = frozenset({"time_budget", "workers_failed", "crashed"})


@dataclass
class Classroom:
    """Scores each batch row with the rubric (the assignment says what was asked), keeps the
    scores, and writes the gradebooks when the batch is done."""

    rubric: Rubric
    assignment: Assignment | None = None
    gradebooks: list[tuple[str, str]] = field(default_factory=list)
    roster: str | None = None
    name: str = "Backpropagation"
    shown: bool = True  # the rows carry their scores (without a rubric or gradebook: only
    # the questions left unanswered, which make a row incorrect)
    scores: list[Score] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    # students with a line the run could not grade through no fault of theirs (the time
    # budget, a checker that died): a 0 for them in a Canvas import would clear a grade
    unscored: set[str] = field(default_factory=set)

    def questions(self, student: str | None):
        if self.assignment is None or student is None:
            return None
        try:
            return self.assignment.variant(student).questions
        except InputError:
            return None

    def __call__(self, row: dict) -> dict:
        student = student_of(row.get("id"))
        items = row.get("items", []) if row.get("verdict") != "error" else []
        result = score(items, self.rubric, self.questions(student), student)
        if row.get("verdict") == "error":
            message = row["error"]["message"]
            if not message.startswith("not graded:"):
                message = f"not graded: {message}"
            result = Score(student, 0.0, result.max_points, result.marks, ((message, 0.0),))
            if row["error"]["code"] in UNSCORED_CODES and student is not None:
                self.unscored.add(student)
        self.scores.append(result)
        if self.shown:
            row = {**row, "score": result.to_dict()}
        missing = list(result.unanswered)
        if missing and row.get("verdict") != "error":
            # an answer left out is a wrong one, which makes the row incorrect (as a wrong
            # item does, whatever else is undetermined; a line answering nothing is one too)
            row["missing"] = missing
            row["verdict"] = "incorrect"
        return row

    def finish(self, rows: list[dict]) -> None:
        if self.gradebooks and not self.none_graded:
            self.written, self.unknown = write_gradebooks(self.graded(), self.gradebooks,
                                                          self.name, self.roster)

    @property
    def none_graded(self) -> bool:
        """Whether not one line of the gradebooks' could be graded (a batch of hand-ins
        without --assignment): they would give the whole class 0."""
        graded = self.graded()
        return bool(graded) and all(one.not_graded for one in graded)

    def graded(self) -> list[Score]:
        """One score per student for the gradebooks: a line without an id cannot go in one,
        and a student with several lines (a resubmission) keeps the last that was graded: a
        later line that could not be (an unknown field) must not clear a grade to 0."""
        last: dict[str, Score] = {}
        strangers = set(self.strangers)
        for one in self.scores:
            if one.student is None or one.student in strangers:
                continue
            kept = last.get(one.student)
            if not (one.not_graded and kept is not None and not kept.not_graded):
                last[one.student] = one
        return [one for one in last.values()
                if not (one.not_graded and one.student in self.unscored)]

    def ungraded_resubmissions(self) -> list[str]:
        """Students whose last line could not be graded, after one that was."""
        kept = {one.student: one for one in self.graded()}
        latest: dict[str, Score] = {}
        for one in self.scores:
            if one.student is not None:
                latest[one.student] = one
        return [student for student, one in latest.items()
                if one.not_graded and student in kept and not kept[student].not_graded]

    @property
    def strangers(self) -> list[str]:
        """Ids of lines for students not on the assignment's roster: an import of a made-up
        id with 0 points would fail, or worse, match someone."""
        if self.assignment is None or not self.assignment.students:
            return []
        roster = set(self.assignment.students)
        return list(dict.fromkeys(one.student for one in self.scores
                                  if one.student is not None and one.student not in roster))

    def notes(self) -> tuple[str, ...]:
        notes = [f"wrote the {kind} gradebook {path}" for (kind, path) in self.gradebooks
                 if path in self.written]
        if not self.gradebooks:
            return tuple(notes)
        if self.none_graded:
            return ("warning: no gradebook written: not one line could be graded, and a "
                    "gradebook of them would give every student 0",)
        anonymous = sum(1 for one in self.scores if one.student is None)
        if anonymous:
            notes.append(f"warning: {anonymous} line(s) have no id, so they are in no gradebook")
        students = [one.student for one in self.scores if one.student is not None]
        repeated = sorted({s for s in students if students.count(s) > 1})
        if repeated:
            notes.append(f"warning: {len(repeated)} student(s) have several lines "
                         f"({_few(repeated)}); the gradebooks keep each one's last "
                         "graded line")
        left_out = sorted({one.student for one in self.scores if one.student in self.unscored}
                          - {one.student for one in self.graded()})
        if left_out:
            notes.append(f"warning: {len(left_out)} student(s) have no line the run could "
                         f"grade ({_few(left_out)}: the time budget ran out or a "
                         "checker died); they are in no gradebook, so no grade is cleared")
        ungraded = self.ungraded_resubmissions()
        if ungraded:
            notes.append(f"warning: {len(ungraded)} student(s)' last line could not be graded "
                         f"({_few(ungraded)}); the gradebooks keep the line graded "
                         "before it")
        strangers = self.strangers
        if strangers:
            notes.append(f"warning: {len(strangers)} line(s) name students not on the "
                         f"assignment's roster ({_few(strangers)}); they are in no "
                         "gradebook")
        if self.assignment is not None and self.assignment.students:
            absent = [s for s in self.assignment.students if s not in set(students)]
            if absent:
                notes.append(f"warning: {len(absent)} student(s) of the assignment have no "
                             f"line ({_few(absent)}); they are in no gradebook")
        if self.roster is None and any(kind == "canvas" for kind, _ in self.gradebooks):
            notes.append("warning: no --roster, so the Canvas file has no names or Canvas ids; "
                         "Canvas matches its rows by SIS User ID")
        if self.unknown:
            notes.append(f"warning: {len(self.unknown)} student(s) are not on the Canvas "
                         f"roster ({_few(self.unknown)}); Canvas will not match "
                         "their rows")
        return tuple(notes)


def write_gradebooks(scores: list[Score], gradebooks: list[tuple[str, str]], name: str,
                     roster: str | None = None) -> tuple[list[str], list[str]]:
    """Each gradebook file (Canvas or student_id,score,comments CSV; Gradescope or
    PrairieLearn results.json per student in a folder); returns what was written, and the
    students the Canvas roster does not know."""
    import json
    from pathlib import Path

    from ..grading import gradebook
    from .key import file_names

    written = []
    unknown: list[str] = []
    for kind, path in gradebooks:
        try:
            if kind == "canvas":
                known = gradebook.read_roster(roster, "--roster") if roster is not None else None
                text, unknown = gradebook.canvas_csv(scores, name, known)
                Path(path).write_text(text, encoding="utf-8")
            elif kind == "csv":
                Path(path).write_text(gradebook.comments_csv(scores), encoding="utf-8")
            else:
                folder = Path(path)
                folder.mkdir(parents=True, exist_ok=True)
                make = (gradebook.gradescope_results if kind == "gradescope"
                        else gradebook.prairielearn_results)
                names = file_names([one.student or "unknown" for one in scores])
                for one in scores:
                    target = folder / f"{names[one.student or 'unknown']}.json"
                    target.write_text(json.dumps(make(one), indent=2, allow_nan=False),
                                      encoding="utf-8")
        except OSError as failure:
            raise InputError(f"cannot write the {kind} gradebook {path}: "
                             f"{failure.strerror or failure}") from None
        written.append(path)
    return written, unknown


def _few(names: list[str]) -> str:
    """The first five names, and an ellipsis where there are more."""
    return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
