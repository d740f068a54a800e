"""Scores → the files gradebooks import, and the autograder's input and output.

Each format follows its vendor's documented structure:
- Gradescope results.json: gradescope-autograders.readthedocs.io/en/latest/specs/ ("Output
  format", "Test case status", "Output String Formatting"); /autograder/submission and
  /autograder/submission_metadata.json from the same site's specs/ and submission_metadata/.
- PrairieLearn results.json: prairielearn.readthedocs.io/en/latest/externalGrading/ ("The
  Grading Process", "Grading results"): only `score` (in [0, 1]) is required; `gradable: false`
  with `format_errors` marks a submission that cannot be read.
- Canvas gradebook CSV: the columns Canvas exports (Student, ID, SIS User ID, SIS Login ID,
  Section, then one column per assignment titled "Name (id)", and an optional "Points Possible"
  row), as Canvas's importer (canvas-lms app/models/gradebook_importer.rb) reads them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..errors import InputError, shortened
from .lines import JsonNumber, read_record, shown
from .misconceptions import CODES
from .scores import CARRIED, RIGHT, WRONG, Mark, Score

GRADESCOPE_KIND, PRAIRIELEARN_KIND = "gradescope", "prairielearn"
KINDS = (GRADESCOPE_KIND, PRAIRIELEARN_KIND)
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
OUTPUT_LIMIT = 4000
ANSWER_FILES = ("answers.jsonl", "answers.json", "answers.txt", "table.csv")
MAX_ANSWER_BYTES = 1_000_000
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "Points Possible"


@dataclass(frozen=True)
class AutograderPaths:
    """Where an autograder finds the submission and writes its results; the other paths are
    relative to `root`, so tests (and a local dry run) can move the whole tree."""

    kind: str
    root: Path
    submission: str
    results: str
    metadata: str | None = None
    data: str | None = None

    def path(self, relative: str) -> Path:
        """`relative` (one of the fields above) under the root."""
        return Path(self.root) / relative


GRADESCOPE = AutograderPaths(kind=GRADESCOPE_KIND, root=Path("/autograder"),
                             submission="submission", metadata="submission_metadata.json",
                             results="results/results.json")
PRAIRIELEARN = AutograderPaths(kind=PRAIRIELEARN_KIND, root=Path("/grade"), submission="student",
                               data="data/data.json", results="results/results.json")


def points(value: float, what: str = "a score") -> float:
    """`value` rounded to 4 decimals for a gradebook; a non-finite number is an error."""
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"{what} is {number}, not a finite number of points")
    return round(number, 4) + 0.0


def _shown_points(value: float) -> str:
    text = f"{points(value):.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _bounded(text: str, limit: int) -> str:
    return shortened(text, max(limit, 10))


def _passed(mark: Mark) -> bool:
    if mark.max_points == 0:  # worth nothing: failed only when it is wrong
        return mark.outcome not in (WRONG,)
    return mark.outcome in (RIGHT, CARRIED) and mark.points >= mark.max_points


def _feedback(mark: Mark) -> str:
    if mark.misconception is None:
        return mark.feedback
    name = CODES.get(mark.misconception, mark.misconception)
    if name.lower() in mark.feedback.lower():  # already said, in full
        return mark.feedback
    return f"{mark.feedback}\nLikely misconception: {name}"


def _summary(score: Score) -> str:
    return (f"{_shown_points(score.points)} / {_shown_points(score.max_points)} points. "
            f"{score.comments}")


def _visibility(value: str) -> str:
    if value not in VISIBILITIES:
        raise InputError(f"visibility {shown(value)} is not one of {', '.join(VISIBILITIES)}")
    return value


def gradescope_results(score: Score, *, output_limit: int = OUTPUT_LIMIT,
                       visibility: str = "visible", stdout_visibility: str | None = None) -> dict:
    """Gradescope's results.json: the top-level `score` (penalties included; it overrides the
    tests' total), a one-paragraph `output`, and one test per mark with its points, status and
    feedback. Every text is plain (`output_format` "text") and cut to `output_limit` characters."""
    document = {
        "score": points(score.points),
        "output": _bounded(_summary(score), output_limit),
        "output_format": "text",
        "visibility": _visibility(visibility),
        "tests": [_gradescope_test(mark, output_limit) for mark in score.marks],
    }
    if stdout_visibility is not None:
        document["stdout_visibility"] = _visibility(stdout_visibility)
    return document


def _gradescope_test(mark: Mark, output_limit: int) -> dict:
    return {"name": _bounded(mark.question, output_limit),
            "score": points(mark.points, f"the points of {mark.question}"),
            "max_score": points(mark.max_points, f"the maximum of {mark.question}"),
            "status": "passed" if _passed(mark) else "failed",
            "output": _bounded(_feedback(mark), output_limit)}


def prairielearn_results(score: Score, *, output_limit: int = OUTPUT_LIMIT) -> dict:
    """PrairieLearn's results.json: `gradable`, `score` as a fraction in [0, 1] (points beyond
    the maximum or below zero are clipped, as PrairieLearn requires), a `message`, and one test
    per mark as `<pl-external-grader-results>` renders them."""
    points(score.points)
    points(score.max_points, "the maximum")
    fraction = min(1.0, max(0.0, score.fraction))
    return {
        "gradable": True,
        "score": round(fraction, 6) + 0.0,
        "message": _bounded(_summary(score), output_limit),
        "tests": [_prairielearn_test(mark, output_limit) for mark in score.marks],
    }


def _prairielearn_test(mark: Mark, output_limit: int) -> dict:
    return {"name": _bounded(mark.question, output_limit),
            "description": mark.quantity,
            "points": points(mark.points, f"the points of {mark.question}"),
            "max_points": points(mark.max_points, f"the maximum of {mark.question}"),
            "message": _bounded(_feedback(mark), output_limit)}


def not_gradable(kind: str, message: str, *, output_limit: int = OUTPUT_LIMIT) -> dict:
    """What an autograder reports when the submission cannot be read: PrairieLearn marks it
    not gradable (no points, no attempt used) with the message as a format error; Gradescope,
    which has no such state, gets a score of 0 with the message as the output."""
    text = _bounded(message, output_limit)
    if kind == PRAIRIELEARN_KIND:
        return {"gradable": False, "message": text, "format_errors": [text]}
    if kind == GRADESCOPE_KIND:
        return {"score": 0.0, "output": text, "output_format": "text", "visibility": "visible"}
    raise InputError(f"autograder {shown(kind)} is not one of {', '.join(KINDS)}")


@dataclass(frozen=True)
class RosterEntry:
    """One student of a roster: the SIS user id scores are matched on, and what Canvas shows."""

    sis_user_id: str
    name: str = ""
    canvas_id: str = ""
    login_id: str = ""
    section: str = ""


@dataclass(frozen=True)
class Roster:
    """Students by SIS user id (and by SIS login id where that differs), and the roster's
    column names (a Canvas export's assignment columns carry their Canvas ids)."""

    students: dict[str, RosterEntry]
    columns: tuple[str, ...] = ()

    def find(self, student_id: str) -> RosterEntry | None:
        """The student with this SIS user id or SIS login id, or None."""
        return self.students.get(student_id)


_ALIASES = {"sis user id": "sis_user_id", "student": "name", "name": "name",
            "section": "section", "sis login id": "login_id", "login id": "login_id",
            "canvas id": "canvas_id", "canvas user id": "canvas_id"}


def _field(header: str, canvas_export: bool) -> str | None:
    key = " ".join(header.replace("_", " ").split()).lower()
    if key == "id":
        return "canvas_id" if canvas_export else "sis_user_id"
    return _ALIASES.get(key)


def read_roster(text: str, name: str) -> Roster:
    """A roster from CSV text: a Canvas gradebook export (Student, ID, SIS User ID, SIS Login
    ID, Section, ...), a simple CSV with an `id` (or `SIS User ID`) column and optionally
    name, section, canvas id and login id, or one id per line (as `generate --roster` reads).
    Rows with neither a SIS user id nor a login id (Canvas's Points Possible and posting rows)
    are skipped; a student with no SIS user id is found by login id only."""
    rows = _csv_rows(text.lstrip("\ufeff"), name)
    if not rows:
        raise InputError(f"{name}: the roster is empty")
    header = [cell.strip() for cell in rows[0]]
    canvas_export = any(_field(h, True) == "sis_user_id" for h in header)
    fields = [_field(h, canvas_export) for h in header]
    students: dict[str, RosterEntry] = {}
    if "sis_user_id" not in fields and "login_id" not in fields:
        if all(len(row) == 1 for row in rows):  # one id per line, as generate --roster reads
            for number, row in enumerate(rows, 1):
                _add_student(students, RosterEntry(row[0].strip(), "", "", "", ""),
                             f"{name} line {number}")
            return Roster(students)
        raise InputError(f"{name}: the roster needs an id or SIS User ID column, or one id "
                         f"per line (found: {', '.join(header) or 'nothing'})")
    for number, row in enumerate(rows[1:], 2):
        entry = _roster_entry(fields, row)
        if entry is not None:
            _add_student(students, entry, f"{name} line {number}")
    return Roster(students, tuple(header))


def _csv_rows(text: str, name: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text))
    try:
        return [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise InputError(f"{name} line {reader.line_num}: not a readable CSV row ({error})"
                         ) from None


def _roster_entry(fields: list[str | None], row: list[str]) -> RosterEntry | None:
    values = {field: cell.strip() for field, cell in zip(fields, row, strict=False) if field}
    if not values.get("sis_user_id") and not values.get("login_id"):
        return None
    return RosterEntry(values.get("sis_user_id", ""), values.get("name", ""),
                       values.get("canvas_id", ""), values.get("login_id", ""),
                       values.get("section", ""))


def _add_student(students: dict[str, RosterEntry], entry: RosterEntry, where: str) -> None:
    if entry.sis_user_id:
        known = students.get(entry.sis_user_id)
        if known is not None and known.sis_user_id == entry.sis_user_id:
            raise InputError(f"{where}: the id {shown(entry.sis_user_id)} appears twice")
        students[entry.sis_user_id] = entry
    if entry.login_id and entry.login_id not in students:
        students[entry.login_id] = entry


class CanvasCsv(NamedTuple):
    """A Canvas import file and the student ids the roster did not know (written anyway,
    matched by Canvas on their SIS user id)."""

    text: str
    unknown_ids: tuple[str, ...]


def canvas_csv(scores: Iterable[Score], assignment_name: str, roster: Roster | None = None, *,
               assignment_id: str | int | None = None,
               points_possible: bool = True) -> CanvasCsv:
    """A Canvas gradebook import CSV: Canvas's student columns and one assignment column of
    points. The column is "Name (id)" when the Canvas id is given or the roster (a Canvas
    export) has a column of that name; otherwise Canvas matches it by name or creates the
    assignment, with the points possible from the Points Possible row."""
    scores = list(scores)
    student_ids = _student_ids(scores)
    column = _assignment_column(assignment_name, assignment_id, roster)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CANVAS_COLUMNS, column])
    if points_possible and scores:
        writer.writerow([POINTS_POSSIBLE, "", "", "", "", _shown_points(_maximum(scores))])
    unknown = []
    for student_id, score in zip(student_ids, scores, strict=True):
        entry = roster.find(student_id) if roster is not None else None
        if roster is not None and entry is None:
            unknown.append(student_id)
        writer.writerow([*_student_cells(student_id, entry), _shown_points(score.points)])
    return CanvasCsv(out.getvalue(), tuple(unknown))


def _student_ids(scores: Sequence[Score]) -> list[str]:
    ids = [score.student for score in scores]
    missing = sum(student is None or not str(student).strip() for student in ids)
    if missing:
        raise InputError(f"{missing} of {len(ids)} scores have no student id; a gradebook "
                         "matches rows by id")
    seen: set[str] = set()
    for student in ids:
        if student in seen:
            raise InputError(f"student {shown(student)} has more than one score; give one "
                             "score per student")
        seen.add(student)
    return [str(student) for student in ids]


def _maximum(scores: Sequence[Score]) -> float:
    maxima = sorted({points(score.max_points, "the maximum") for score in scores})
    if len(maxima) > 1:
        raise InputError(f"the scores are out of different maxima "
                         f"({', '.join(map(_shown_points, maxima))}); one Canvas column holds "
                         "one assignment")
    return maxima[0]


def _assignment_column(name: str, assignment_id: str | int | None, roster: Roster | None) -> str:
    name = name.strip()
    if not name:
        raise InputError("the Canvas assignment needs a name")
    if assignment_id is not None:
        if not re.fullmatch(r"\d+", str(assignment_id).strip()):
            raise InputError(f"Canvas assignment id {shown(str(assignment_id))} is not a number")
        return f"{name} ({str(assignment_id).strip()})"
    for column in roster.columns if roster is not None else ():
        match = re.fullmatch(r"(.*)\s\((\d+)\)", column)
        if match and match.group(1) == name:
            return column
    return name


def _student_cells(student_id: str, entry: RosterEntry | None) -> list[str]:
    if entry is None:
        return [student_id, "", student_id, "", ""]
    return [entry.name or student_id, entry.canvas_id, entry.sis_user_id or student_id,
            entry.login_id, entry.section]


def comments_csv(scores: Iterable[Score]) -> str:
    """`student_id,score,comments`: each student's points and the comments their gradebook
    shows (the marks that lost points, and penalties), quoted by the csv module."""
    scores = list(scores)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student_id", "score", "comments"])
    for student_id, score in zip(_student_ids(scores), scores, strict=True):
        writer.writerow([student_id, _shown_points(score.points), score.comments])
    return out.getvalue()


class Submission(NamedTuple):
    """The student's answers file: their id (None when neither the platform nor the file
    gives one), its text, and its name inside the submission folder; and a table.csv beside
    an answers file (hand-in lines for the locals, a table for the rest), if there is one."""

    student_id: str | None
    text: str
    filename: str
    table: str | None = None


def find_submission(paths: AutograderPaths) -> Submission:
    """The first answers file in the submission folder (answers.jsonl, answers.json,
    answers.txt, table.csv, names in any case; the top level first), and the student's id:
    Gradescope's submission metadata (users[0]: sid, else email) wins, since the platform
    knows who submitted; an "id" in a JSON answers file is used only when it gives none.
    PrairieLearn's data.json is the question's data (params, submitted answers) and names no
    student, so there the id comes from the file, if at all."""
    folder = paths.path(paths.submission)
    if not folder.is_dir():
        raise InputError(f"no submission folder at {folder}")
    file = _answers_file(folder)
    text = _read_text(file, folder)
    filename = file.relative_to(folder).as_posix()
    student_id = _platform_id(paths)
    if student_id is None and file.suffix.lower() in (".json", ".jsonl"):
        student_id = _file_id(text, filename)
    beside = [path for path in file.parent.iterdir()
              if path.name.lower() == "table.csv" and path != file and path.is_file()]
    table = _read_text(beside[0], folder) if beside else None
    return Submission(student_id, text, filename, table)


def _answers_file(folder: Path) -> Path:
    def depth(path: Path) -> int:
        return len(path.relative_to(folder).parts)

    files = sorted((path for path in folder.rglob("*") if path.is_file()),
                   key=lambda path: (depth(path), str(path)))
    answers = [path for path in files if path.name.lower() in ANSWER_FILES]
    if answers:
        return min(answers, key=lambda path: (depth(path), ANSWER_FILES.index(path.name.lower())))
    found = ", ".join(path.relative_to(folder).as_posix() for path in files[:5]) or "no files"
    raise InputError(f"no answers file in {folder}: expected one of {', '.join(ANSWER_FILES)} "
                     f"(found: {found})")


def _read_text(file: Path, folder: Path) -> str:
    if not file.resolve().is_relative_to(folder.resolve()):
        raise InputError(f"{file} is a link to a file outside the submission; submit the "
                         "answers file itself")
    size = file.stat().st_size
    if size > MAX_ANSWER_BYTES:
        raise InputError(f"{file} is {size:,} bytes; an answers file may have at most "
                         f"{MAX_ANSWER_BYTES:,}")
    try:
        return file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{file} is not UTF-8 text (byte {error.start + 1}); save it as "
                         "UTF-8") from None


def _platform_id(paths: AutograderPaths) -> str | None:
    if paths.metadata is None:
        return None
    file = paths.path(paths.metadata)
    if not file.exists():
        return None
    try:
        metadata = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"{file}: not valid JSON ({error})") from None
    users = metadata.get("users") if isinstance(metadata, dict) else None
    user = users[0] if isinstance(users, list) and users and isinstance(users[0], dict) else {}
    for key in ("sid", "email"):
        value = user.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def _file_id(text: str, filename: str) -> str | None:
    lines = [line for line in text.split("\n") if line.strip()]
    if filename.lower().endswith(".jsonl") and len(lines) > 1:
        raise InputError(f"{filename} has {len(lines)} lines; it must hold one JSON object "
                         "(one problem's answers)")
    try:
        record = read_record(text.strip())
    except InputError as error:
        raise InputError(f"{filename}: {error.message}") from None
    value = record.get("id")
    if value is None:
        return None
    if not isinstance(value, (str, JsonNumber)):
        raise InputError(f"{filename}: the id must be a string or a number, not {shown(value)}")
    return str(value).strip() or None


def write_results(paths: AutograderPaths, document: dict) -> Path:
    """Writes `document` as strict JSON (no NaN or Infinity) to the results file, creating its
    folder (PrairieLearn does not create it); the file is replaced whole, never half written."""
    file = paths.path(paths.results)
    text = json.dumps(document, allow_nan=False, ensure_ascii=False, indent=2) + "\n"
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(file.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, file)
    return file
