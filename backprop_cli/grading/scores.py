"""Scores: a rubric's points for each graded number or formula, with the feedback a student
reads. The gradebook writers (gradebook.py) read Scores and nothing else."""

from __future__ import annotations

from dataclasses import dataclass

# How a mark was earned: right, carried forward from the student's own earlier numbers (error
# carried forward), wrong, not answered, or not decidable at this point.
RIGHT, CARRIED, WRONG, MISSING, UNDECIDED = "right", "carried", "wrong", "missing", "undecided"


@dataclass(frozen=True)
class Mark:
    """One graded question: `z.value`, `x.adjoint`, `d/dx`, `da/dz` (a local derivative) or
    `formula d/dx`, its points out of its maximum, and one line of feedback."""

    question: str
    quantity: str  # "value" | "adjoint" | "gradient" | "local" | "formula"
    points: float
    max_points: float
    outcome: str  # RIGHT | CARRIED | WRONG | MISSING | UNDECIDED
    feedback: str
    misconception: str | None = None  # a code of misconceptions.CODES

    def to_dict(self) -> dict:
        return {"question": self.question, "quantity": self.quantity, "points": self.points,
                "max_points": self.max_points, "outcome": self.outcome,
                "feedback": self.feedback, "misconception": self.misconception}


@dataclass(frozen=True)
class Score:
    """One student's score on one problem: points out of the maximum, each mark, and the
    comments a gradebook shows (the marks that lost points, in one paragraph)."""

    student: str | None
    points: float
    max_points: float
    marks: tuple[Mark, ...]
    penalties: tuple[tuple[str, float], ...] = ()  # (why, points taken off)

    @property
    def not_graded(self) -> bool:
        """A line that could not be graded (its reason is a penalty of no points)."""
        return any(not points and why.startswith("not graded:")
                   for why, points in self.penalties)

    @property
    def fraction(self) -> float:
        return self.points / self.max_points if self.max_points else 0.0

    @property
    def unanswered(self) -> tuple[str, ...]:
        """The questions worth points that the student left out."""
        return tuple(mark.question for mark in self.marks
                     if mark.outcome == MISSING and mark.max_points)

    @property
    def comments(self) -> str:
        # a line that was not graded says why, and only that: its questions were not answered
        # by anything the grader read (a "penalty" of no points is no penalty)
        lost = [why for why, points in self.penalties if not points]
        if self.not_graded:
            return "; ".join(lost)
        lost += [f"{mark.question}: {mark.feedback}" for mark in self.marks
                 if mark.points < mark.max_points]
        lost += [f"penalty {points:g}: {why}" for why, points in self.penalties if points]
        return "; ".join(lost) if lost else "all correct"

    def to_dict(self) -> dict:
        return {"student": self.student, "points": self.points, "max_points": self.max_points,
                "marks": [mark.to_dict() for mark in self.marks],
                "penalties": [{"reason": why, "points": points}
                              for why, points in self.penalties],
                "comments": self.comments}
