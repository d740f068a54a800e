"""`check --autograder gradescope|prairielearn`: grade one submission inside the grading
system, from its standard folders, and write its results.json."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackpropError, InputError
from ..grading.report import Report
from ..grading.scores import Score
from .assignment import Assignment
from .rubric import DEFAULT, Rubric, score, with_unanswered

SYSTEMS = ("gradescope", "prairielearn")


@dataclass(frozen=True)
class Autograded:
    """One submission graded inside a grading system: the report, its score, and where the
    results were written."""

    report: Report
    score: Score
    results: str
    system: str

    def to_dict(self) -> dict:
        return {**self.report.to_dict(), "score": self.score.to_dict(), "results": self.results,
                "system": self.system}


def answers_record(text: str, filename: str) -> dict:
    """A submission's answers as a batch line's fields: a JSON object (answers.json/.jsonl),
    one claim per line (answers.txt: `z.value=0.57`, `formula d/dw=x*(1-a)`, `id=ada`, `#`
    comments),
    or a table (table.csv: node,value,adjoint)."""
    from ..grading.lines import read_record

    name = filename.lower()
    if name.endswith((".json", ".jsonl")):
        return read_record(text.strip())
    if name.endswith(".csv"):
        import csv
        import io

        reader = csv.DictReader(io.StringIO(text))
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames or []]
        return {"table": [dict(row) for row in reader]}
    record: dict = {"expect": [], "id": None}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.lower().startswith(("id=", "id =", "id:")):
            named = line.split("=", 1)[-1].split(":", 1)[-1].strip()
            if record["id"] not in (None, named):
                raise InputError(f"{filename} names two students ({record['id']}, {named}); "
                                 "give one id= line")
            record["id"] = named
        else:
            record["expect"].append(line)  # claims, and formula d/dw = ... lines
    return {key: value for key, value in record.items() if value}


def autograde(system: str, assignment: Assignment | None, rubric: Rubric | None,
              root: str | None, timeout: float) -> Autograded:
    """Grade the submission and write the system's results.json; a submission that cannot
    be graded still gets a results file saying why (and the error is raised after)."""
    from ..grading import gradebook

    if system not in SYSTEMS:
        raise InputError(f"--autograder must be one of {', '.join(SYSTEMS)}, not {system!r}")
    if assignment is None:
        raise InputError("--autograder needs --assignment FILE (each student's problem is "
                         "made from their id)")
    paths = gradebook.GRADESCOPE if system == "gradescope" else gradebook.PRAIRIELEARN
    if root is not None:
        paths = dataclasses.replace(paths, root=Path(root))
    try:
        report, result = _graded(paths, assignment, rubric or DEFAULT, timeout)
    except BackpropError as error:
        try:
            gradebook.write_results(paths, gradebook.not_gradable(paths.kind, error.message))
        except OSError:
            pass  # the error itself is what the student and teacher need to see
        raise
    make = (gradebook.gradescope_results if system == "gradescope"
            else gradebook.prairielearn_results)
    try:
        written = gradebook.write_results(paths, make(result))
    except OSError as failure:
        raise InputError(f"cannot write {paths.path(paths.results)}: "
                         f"{failure.strerror or failure}") from None
    return Autograded(report, result, str(written), system)


def _graded(paths, assignment: Assignment, rubric: Rubric, timeout: float
            ) -> tuple[Report, Score]:
    from dataclasses import replace

    from ..grading import grade_bounded, gradebook
    from ..grading.lines import read_problem
    from .assignment import complete

    submission = gradebook.find_submission(paths)
    record = answers_record(submission.text, submission.filename)
    if submission.table is not None:
        if "table" in record:
            raise InputError(f"{submission.filename} has a table and so has table.csv beside "
                             "it; give the table once")
        record["table"] = answers_record(submission.table, "table.csv")["table"]
    student = submission.student_id or record.get("id")
    if student is None:
        raise InputError("the submission does not say whose it is: no student in the "
                         "system's metadata, and no \"id\" in the answers file")
    record = complete({**record, "id": student}, assignment)
    job, _ = read_problem(record, timeout=timeout, line_tolerances=False, from_assignment=True)
    job = replace(job, decimals=assignment.decimals)
    report = grade_bounded(job, timeout)
    scored = score(report.to_dict()["items"], rubric, assignment.variant(student).questions,
                   student)
    return with_unanswered(report, scored), scored
