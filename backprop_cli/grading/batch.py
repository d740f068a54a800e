"""Grading in child processes: one job within a time limit, or a class's batch file with one
checker per core. A batch gives exactly one row per non-blank line, in input order, whatever
the lines hold and whatever happens to the checkers."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from ..bounded import run_bounded, run_many
from ..errors import (
    BackpropError,
    BudgetError,
    InputError,
    LimitError,
    MissingValues,
    ParseError,
    as_error,
    shortened,
)
from .jobs import Job, grade
from .lines import TOLERANCE_FIELDS, read_problem, read_record, split_lines
from .report import CORRECT, UNDETERMINED, Item, Report

# The `code` of a batch error row, and what it means (the README's table is checked against
# these). The project's own error codes (parse_error, input_error, ...) come on top.
ROW_ERROR_CODES = {
    "bad_line": "the line is not one strict JSON object (NaN and Infinity are not JSON), is "
                "nested too deeply or is too long",
    "bad_field": "a field is unknown, missing, of the wrong type or out of range",
    "tolerance_forbidden": "the line sets rtol, atol or timeout under --no-line-tolerances",
    "timeout": "the check did not finish within the time limit of its line",
    "memory": "the check ran out of its memory allowance",
    "crashed": "the checker process died while grading the line",
    "time_budget": "not graded: the run's time budget ran out (the batch is incomplete)",
    "workers_failed": "not graded: checker processes could not be kept running (the batch is "
                      "incomplete)",
}
PROBLEM_ERROR_CODES = (ParseError.code, InputError.code, LimitError.code, BudgetError.code,
                       "internal_error")
INCOMPLETE_CODES = frozenset({"time_budget", "workers_failed"})
DOCUMENTED_CODES = frozenset(ROW_ERROR_CODES) | frozenset(PROBLEM_ERROR_CODES)

_MESSAGES = {
    "memory": "the check ran out of its memory allowance (the run's memory budget; allow "
              "more with --memory-limit)",
    "crashed": "the checker process died while grading this line (it was killed or crashed)",
    "time_budget": "not graded: the time budget of the run ran out; raise it with --time-limit",
    "workers_failed": "not graded: the checker processes could not be kept running",
}


def warm_sympy() -> None:
    """Load SymPy and the parts of it a check touches once here, before forking, so that
    checker processes do not each pay for the imports and first-use setup."""
    from .formulas import check_derivative

    check_derivative("x**2*sin(x)", "x", "2x sin(x) + x^2 cos(x)")


def grade_bounded(job: Job, timeout: float) -> Report:
    """Grade a job in a child process; running out of time is an undetermined item. Only a
    job that needs SymPy (formula answers, exact claims) imports it, here before the fork so
    that its time limit is the check's own."""
    if job.answers or job.exact:
        import sympy  # noqa: F401
    outcome = run_bounded(grade, (job,), timeout)
    if outcome.ok:
        return outcome.value
    if outcome.code == "timeout":
        reason = f"checking {outcome.reason}"
        if job.answers and not (job.claims or job.table):
            # each formula answer undecided as itself, so a rubric scores the question it
            # answers (undecided), not "not answered"
            return Report(tuple(Item("derivative", f"d/d{wrt} = {answer}", UNDETERMINED,
                                     reason=reason,
                                     details={"quantity": "formula", "target": wrt})
                                for wrt, answer in job.answers))
        return Report((Item("problem", shortened(job.expr, 60), UNDETERMINED, reason=reason),))
    raise BackpropError(outcome.reason or "checking failed", code=outcome.code)


def grade_problem(job: Job) -> dict:
    """A batch line's verdict and items (run in a checker process). Failures that are not the
    project's errors become them, so a row never shows a raw Python exception."""
    try:
        report = grade(job)
        graded = {"verdict": report.verdict, "items": [item.to_dict() for item in report.items]}
        json.dumps(graded, allow_nan=False)
    except MissingValues as error:
        raise error.in_batch() from None
    except (BackpropError, MemoryError):
        raise
    except OverflowError:
        raise LimitError("a number in the problem is too large for a float64 number") from None
    except ValueError as error:
        if "integer string conversion" in str(error):
            raise LimitError("a number in the problem has too many digits") from None
        raise as_error(error) from None
    except Exception as error:  # noqa: BLE001 - mapped to the project's internal_error
        raise as_error(error) from None
    return graded


@dataclass(frozen=True)
class Line:
    """A non-blank line of a batch file: its number, its id as given (numbers as written; None
    when absent or unreadable), and its Job and time limit, or the error row's code and
    message."""

    number: int
    id: object = None
    job: Job | None = None
    timeout: float = 5.0
    error: tuple[str, str] | None = None
    own_tolerances: bool = False  # the line set its own rtol, atol or timeout


def read_line(number: int, text: str, *, timeout: float = 5.0, rtol: float | None = None,
              atol: float | None = None, line_tolerances: bool = True,
              assignment=None) -> Line:
    """One line read and checked (no grading): a Line with a Job, or with its error. With an
    assignment (teacher.assignment), a line's problem is made from its id."""
    item_id = None
    try:
        record = read_record(text)
        item_id = record.get("id")
        if assignment is not None:
            from ..teacher.assignment import complete

            record = complete(record, assignment)
        job, limit = read_problem(record, timeout=timeout, rtol=rtol, atol=atol,
                                  line_tolerances=line_tolerances,
                                  from_assignment=assignment is not None)
    except BackpropError as error:
        return Line(number, item_id, error=(error.code, error.message))
    except Exception as error:  # noqa: BLE001 - a bug must not cost the other lines their rows
        failure = as_error(error)
        return Line(number, item_id, error=(failure.code, failure.message))
    own = any(record.get(key) is not None for key in TOLERANCE_FIELDS)
    return Line(number, item_id, job, limit, own_tolerances=own)


def error_row(line: Line, code: str, message: str) -> dict:
    return {"id": line.id, "line": line.number, "verdict": "error",
            "error": {"code": code, "message": message}}


def _row(line: Line, outcome) -> dict:
    if outcome.ok:
        return {"id": line.id, "line": line.number, **outcome.value}
    code = outcome.code if outcome.code in DOCUMENTED_CODES else "internal_error"
    if code == "timeout":
        message = f"the check {outcome.reason}; raise --timeout for more time"
    else:
        message = _MESSAGES.get(code) or outcome.reason or "the check failed"
    return error_row(line, code, message)


@dataclass
class Batch:
    """A batch being graded: iterating yields one row per non-blank line, in input order, as
    the checkers finish; the rows seen so far are kept. `deadline` (a time.monotonic()
    instant) bounds the whole run: lines not graded by then become `time_budget` rows, and
    `incomplete` is then True (as when checker processes cannot be kept running)."""

    lines: list[Line]
    timeout: float
    deadline: float | None = None
    rows: list[dict] = field(default_factory=list)
    incomplete: bool = False
    scored: Callable[[dict], dict] | None = None  # adds a row's score (a rubric's)
    classroom: object | None = None  # teacher.classroom.Classroom: scores and gradebooks
    finished: Callable[[list[dict]], None] | None = None  # given every row at the end

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self) -> Iterator[dict]:
        self.rows = []
        self.incomplete = False
        jobs = [line for line in self.lines if line.job is not None]
        outcomes = iter(())
        if jobs:
            warm_sympy()
            workers = max(1, min(len(jobs), os.cpu_count() or 1))
            outcomes = run_many(grade_problem, [(line.job,) for line in jobs], self.timeout,
                                workers, timeouts=[line.timeout for line in jobs],
                                deadline=self.deadline)
        try:
            for line in self.lines:
                if line.error is not None:
                    row = error_row(line, *line.error)
                else:
                    row = _row(line, next(outcomes))
                    if row.get("error", {}).get("code") in INCOMPLETE_CODES:
                        self.incomplete = True
                if self.scored is not None:
                    row = self.scored(row)
                self.rows.append(row)
                yield row
            if self.finished is not None:
                self.finished(self.rows)
        finally:
            close = getattr(outcomes, "close", None)
            if close is not None:
                close()

    def notes(self) -> tuple[str, ...]:
        """What the rows cannot say, for standard error: lines that loosened their own
        grading, and a batch that could not grade every line."""
        notes = []
        own = [line.number for line in self.lines if line.own_tolerances]
        if own:
            shown = ", ".join(str(number) for number in own[:8]) + (", ..." if len(own) > 8
                                                                     else "")
            notes.append(f"warning: {len(own):,} line(s) set their own rtol, atol or timeout "
                         f"(line {shown}); give --no-line-tolerances to grade every line with "
                         "the command line's settings")
        if self.incomplete:
            codes = [row["error"]["code"] for row in self.rows
                     if row.get("error", {}).get("code") in INCOMPLETE_CODES]
            why = ("the run's time budget ran out; allow more with --time-limit SECONDS"
                   if "time_budget" in codes else
                   "checker processes could not be kept running")
            notes.append(f"error: the batch is incomplete: {len(codes):,} of {len(self):,} "
                         f"lines were not graded ({why})")
        if self.classroom is not None:
            notes.extend(self.classroom.notes())
        return tuple(notes)

    @property
    def all_correct(self) -> bool:
        return all(row["verdict"] == CORRECT for row in self.rows)


def batch_of(text: str, name: str, timeout: float, *, rtol: float | None = None,
             atol: float | None = None, line_tolerances: bool = True,
             deadline: float | None = None, decimals: int | None = None,
             assignment=None) -> Batch:
    """The problems of a batch file (one JSON object per non-blank line), each line read and
    checked; `timeout`, `rtol` and `atol` apply to lines that do not set their own, and
    `decimals` (the homework's rounding rule) to every line. With an assignment, each line's
    problem is made from its id, and the assignment's rounding rule applies unless `decimals`
    is given."""
    if assignment is not None:
        # the lines are students' answers: their rounding rule and tolerances are the teacher's
        line_tolerances = False
        if decimals is None:
            decimals = assignment.decimals
    lines = [read_line(number, line, timeout=timeout, rtol=rtol, atol=atol,
                       line_tolerances=line_tolerances, assignment=assignment)
             for number, line in split_lines(text)]
    if decimals is not None:
        lines = [replace(line, job=replace(line.job, decimals=decimals)) if line.job else line
                 for line in lines]
    if not lines:
        raise InputError(f"{name} has no problems (one JSON object per line)")
    return Batch(lines, timeout, deadline)


def grade_line(line: str, number: int, timeout: float = 5.0) -> dict:
    """Grade one batch line in this process (no time limit is enforced): its row. A line that
    cannot be graded raises its BackpropError."""
    read = read_line(number, line, timeout=timeout)
    if read.error is not None:
        raise BackpropError(read.error[1], code=read.error[0])
    return {"id": read.id, "line": number, **grade_problem(read.job)}
