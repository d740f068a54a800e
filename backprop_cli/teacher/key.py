"""What `generate` writes besides the worksheets: the answer key (JSON) and the batch file that
`check --batch` grades (JSONL, one line per student, the key's numbers in place of answers)."""

from __future__ import annotations

import json
import re

from ..errors import SCHEMA_VERSION, InputError
from .assignment import Assignment, Variant

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def key_document(assignment: Assignment, variants: list[Variant]) -> dict:
    """The answer key: the assignment, and per student the point and every answer (full
    precision, and as the rounding rule writes it)."""
    return {"schema": SCHEMA_VERSION, "ok": True, "assignment": assignment.to_dict(),
            "students": [variant_document(assignment, v) for v in variants]}


def variant_document(assignment: Assignment, variant: Variant) -> dict:
    questions = []
    for q in variant.questions:
        entry = {"question": q.question, "quantity": q.quantity, "node": q.node,
                 "answer": q.answer}
        if q.of is not None:
            entry["of"] = q.of
        if not isinstance(q.answer, str):
            entry["rounded"] = f"{q.answer:.{assignment.decimals}f}"
        questions.append(entry)
    return {"id": variant.student, "at": dict(variant.at), "upstream": assignment.upstream,
            "questions": questions}


def batch_line(assignment: Assignment, variant: Variant) -> str:
    """One `check --batch` line: the student's problem and the key's answers (replace them by
    the student's to grade the student)."""
    record: dict = {"id": variant.student, "expr": assignment.program, "at": dict(variant.at)}
    if assignment.upstream != 1.0:
        record["upstream"] = assignment.upstream
    numbers = [q for q in variant.questions if q.quantity != "formula"]
    formulas = [q for q in variant.questions if q.quantity == "formula"]
    if numbers:
        record["expect"] = [q.claim(assignment.decimals) for q in numbers]
    if formulas:
        record["wrt"] = [q.node for q in formulas]
        record["answer"] = [q.answer for q in formulas]
    return json.dumps(record, ensure_ascii=False, allow_nan=False)


def file_names(students: list[str]) -> dict[str, str]:
    """A file name for each student's worksheet, safe on every system; two ids that would
    share one are refused."""
    names: dict[str, str] = {}
    taken: dict[str, str] = {}
    for student in students:
        name = _UNSAFE.sub("_", student).strip("._") or "student"
        other = taken.get(name.lower())
        if other is not None:
            raise InputError(f"student ids {other!r} and {student!r} would share the worksheet "
                             f"file {name!r} (file names ignore case and punctuation on some "
                             "systems); make the ids differ in more than that")
        taken[name.lower()] = student
        names[student] = name
    return names
