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
    """`--gradebook canvas=grades.csv` → [("canvas", "grades.csv")]."""
    out = []
    for spec in specs:
        kind, _, path = spec.partition("=")
        kind = kind.strip().lower()
        if kind not in GRADEBOOKS or not path.strip():
            raise InputError(f"cannot read --gradebook {spec!r}; write KIND=PATH with KIND one "
                             f"of {', '.join(GRADEBOOKS)} (e.g. canvas=grades.csv)")
        out.append((kind, path.strip()))
    return out


@dataclass
class Classroom:
    """Scores each batch row with the rubric (the assignment says what was asked), keeps the
    scores, and writes the gradebooks when the batch is done."""

    rubric: Rubric
    assignment: Assignment | None = None
    gradebooks: list[tuple[str, str]] = field(default_factory=list)
    roster: str | None = None
    name: str = "Backpropagation"
    scores: list[Score] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

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
            result = Score(student, 0.0, result.max_points, result.marks,
                           ((f"not graded: {message}", 0.0),))
        self.scores.append(result)
        return {**row, "score": result.to_dict()}

    def finish(self, rows: list[dict]) -> None:
        self.written, self.unknown = write_gradebooks(self.scores, self.gradebooks, self.name,
                                                      self.roster)

    def notes(self) -> tuple[str, ...]:
        notes = [f"wrote the {kind} gradebook {path}" for (kind, path) in self.gradebooks
                 if path in self.written]
        if self.unknown:
            notes.append(f"warning: {len(self.unknown)} student(s) are not on the Canvas "
                         f"roster ({', '.join(self.unknown[:5])}); Canvas will not match "
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
