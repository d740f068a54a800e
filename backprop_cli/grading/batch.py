"""Grading in child processes: one job within a time limit, or a class's batch file with one
checker per core, rows in input order, a bad line an error row that never stops the rest."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..bounded import run_bounded, run_many
from ..errors import BackpropError, InputError
from .jobs import Job, grade, grade_line
from .report import CORRECT, UNDETERMINED, Item, Report


def warm_sympy() -> None:
    """Load SymPy and the parts of it a check touches once here, before forking, so that
    checker processes do not each pay for the imports and first-use setup."""
    from .formulas import check_derivative

    check_derivative("x**2*sin(x)", "x", "2x sin(x) + x^2 cos(x)")


def grade_bounded(job: Job, timeout: float) -> Report:
    """Grade a job in a child process; running out of time is an undetermined item."""
    warm_sympy()
    outcome = run_bounded(grade, (job,), timeout)
    if outcome.ok:
        return outcome.value
    if outcome.code == "timeout":
        label = job.expr if len(job.expr) <= 60 else job.expr[:57] + "..."
        return Report((Item("problem", label, UNDETERMINED,
                            reason=f"checking {outcome.reason}"),))
    raise BackpropError(outcome.reason or "checking failed", code=outcome.code)


@dataclass
class Batch:
    """A batch being graded: iterating yields one row per problem line, in input order, as the
    checkers finish; the rows seen so far are kept."""

    lines: list[tuple[int, str]]
    timeout: float
    rows: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self) -> Iterator[dict]:
        warm_sympy()
        workers = max(1, min(len(self.lines), os.cpu_count() or 1))
        outcomes = run_many(grade_line, [(line, number, self.timeout)
                                         for number, line in self.lines], self.timeout, workers)
        for (number, line), outcome in zip(self.lines, outcomes, strict=True):
            row = outcome.value if outcome.ok else error_row(line, number, outcome)
            self.rows.append(row)
            yield row

    @property
    def all_correct(self) -> bool:
        return all(row["verdict"] == CORRECT for row in self.rows)


def batch_of(text: str, name: str, timeout: float) -> Batch:
    """The problems of a batch file (one JSON object per non-blank line)."""
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise InputError(f"{name} has no problems (one JSON object per line)")
    return Batch(lines, timeout)


def error_row(line: str, number: int, outcome) -> dict:
    try:
        item_id = json.loads(line).get("id", number)
    except (json.JSONDecodeError, AttributeError):
        item_id = number
    if item_id is None:
        item_id = number
    return {"id": item_id, "verdict": "error",
            "error": {"code": outcome.code or "error", "message": outcome.reason or "failed"}}
