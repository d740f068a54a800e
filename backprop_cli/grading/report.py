"""The verdicts of grading: one Item per answer, claim or table row, and a Report of them."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..result import SCHEMA_VERSION, number

CORRECT, INCORRECT, UNDETERMINED = "correct", "incorrect", "undetermined"
DIFFERS = "differs from the true derivative at the point shown"  # a formula's usual reason


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
    score: object | None = None  # scores.Score, when graded with a rubric
    # A table's numbers not answered and its numbers in all (value and adjoint of every node
    # a student writes): a verdict on the numbers given says how many were left out.
    table_numbers: tuple[int, int] | None = None

    @property
    def verdict(self) -> str:
        verdicts = {item.verdict for item in self.items}
        if INCORRECT in verdicts:
            return INCORRECT
        if UNDETERMINED in verdicts or not verdicts:
            return UNDETERMINED
        return CORRECT

    def to_dict(self) -> dict:
        document = {"schema": SCHEMA_VERSION, "ok": True, "verdict": self.verdict,
                    "items": [item.to_dict() for item in self.items],
                    "warnings": list(self.warnings)}
        if self.score is not None:
            document["score"] = self.score.to_dict()
        if self.table_numbers and self.table_numbers[0]:
            document["table_not_answered"] = {"numbers": self.table_numbers[0],
                                              "of": self.table_numbers[1]}
        return document
