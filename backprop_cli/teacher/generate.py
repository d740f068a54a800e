"""`generate`'s library side: every student's variant made from the assignment, and the files
a teacher hands out and keeps (worksheets, answer key, batch file)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from ..errors import InputError, shortened
from .assignment import MAX_STUDENTS, Assignment, Variant, check
from .key import key_document

# a Canvas export's own ID column is Canvas's number; its SIS User ID is the school's id
ID_COLUMNS = ("sis user id", "sis_user_id", "student_id", "student id", "id", "login", "email")


@dataclass(frozen=True)
class Generated:
    """The variants of an assignment and the files written for it (none without --out)."""

    assignment: Assignment
    variants: tuple[Variant, ...]
    files: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # for standard error (worksheets left from an earlier run)

    def to_dict(self) -> dict:
        document = key_document(self.assignment, list(self.variants))
        document["files"] = list(self.files)
        return document


def students_from(names: list[str] | None, roster: str | None, roster_name: str,
                  count: int | None) -> list[str]:
    """The student ids: a list, a roster (CSV with an id column, or one id per line), or
    student-1 ... student-N (padded to N's width)."""
    given = [x for x in (names, roster, count) if x is not None]
    if len(given) > 1:
        flags = [flag for flag, x in zip(("--students", "--roster", "--count"),
                                         (names, roster, count), strict=True) if x is not None]
        raise InputError(f"{' and '.join(flags)} each say who the students are: give one")
    if len(given) != 1:
        raise InputError("say who the students are with one of --students a,b,c, --roster FILE "
                         "or --count N")
    if names is not None:
        students = names
    elif roster is not None:
        students = _roster_ids(roster, roster_name)
    else:
        if not 1 <= count <= MAX_STUDENTS:
            raise InputError(f"--count must be from 1 to {MAX_STUDENTS:,}")
        students = [f"student-{n:0{len(str(count))}d}" for n in range(1, count + 1)]
    if not students:
        raise InputError(f"{roster_name if roster is not None else '--students'} names no "
                         "students")
    if len(students) > MAX_STUDENTS:
        raise InputError(f"{len(students):,} students; at most {MAX_STUDENTS:,} per run")
    seen: set[str] = set()
    for student in students:
        if student in seen:
            raise InputError(f"student id {shortened(student, 40)!r} appears twice")
        seen.add(student)
    return students


def _roster_ids(text: str, name: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(text)))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((header.index(c) for c in ID_COLUMNS if c in header), None)
    if column is None:
        if len(rows[0]) > 1:
            raise InputError(f"{name}: no id column (name one of: {', '.join(ID_COLUMNS)}), or "
                             "give one id per line")
        return [row[0].strip() for row in rows]
    # Canvas exports a "Points Possible" row under the header
    return [row[column].strip() for row in rows[1:]
            if len(row) > column and row[column].strip()
            and not row[0].strip().lower().startswith("points possible")]


def generate(assignment: Assignment, students: list[str]) -> Generated:
    """Every student's variant (render.assignment_files writes them out)."""
    from dataclasses import replace

    check(assignment)
    assignment = replace(assignment, students=tuple(students))
    return Generated(assignment, tuple(assignment.variant(student) for student in students))
