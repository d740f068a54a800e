"""Gradebook writers and autograder I/O, against the vendors' documented structures.

The schemas below are written from the vendors' documentation, not from the code under test:
- Gradescope, gradescope-autograders.readthedocs.io/en/latest/specs/: "Output format" (top-level
  score, execution_time, output, output_format, test_output_format, test_name_format, visibility,
  stdout_visibility, extra_data, tests, leaderboard; per test score, max_score, status, name,
  name_format, number, output, output_format, tags, visibility, extra_data), "Test case status"
  (passed | failed), visibility (hidden | after_due_date | after_published | visible) and
  "Output String Formatting" (text | simple_format | html | md | ansi).
- PrairieLearn, prairielearn.readthedocs.io/en/latest/externalGrading/, "Grading results": score
  in [0.0, 1.0] is the one required field unless `gradable` is false; format_errors is a string
  or a list of strings; tests carry name, description, points, max_points, message, output.
- Canvas: its importer (canvas-lms app/models/gradebook_importer.rb) wants a header whose first
  cell holds "Student" and second "ID", then SIS User ID and SIS Login ID, a "Section" column
  closing the student columns, assignment columns titled "Name (id)" or a name, and an optional
  row whose first cell holds "Points Possible".
Our own contract is stricter than the vendors' (every test has a name, points and feedback);
that is the `required` lists below.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from backprop_cli.errors import InputError
from backprop_cli.grading.gradebook import (
    GRADESCOPE,
    PRAIRIELEARN,
    canvas_csv,
    comments_csv,
    find_submission,
    gradescope_results,
    not_gradable,
    prairielearn_results,
    read_roster,
    write_results,
)
from backprop_cli.grading.misconceptions import CODES
from backprop_cli.grading.scores import CARRIED, MISSING, RIGHT, WRONG, Mark, Score

VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
FORMAT = {"enum": ["text", "simple_format", "html", "md", "ansi"]}
NUMBER = {"type": "number"}
TEXT = {"type": "string"}

GRADESCOPE_TEST = {
    "type": "object",
    "required": ["name", "score", "max_score", "status", "output"],
    "additionalProperties": False,
    "properties": {"score": NUMBER, "max_score": {"type": "number", "minimum": 0},
                   "status": {"enum": ["passed", "failed"]}, "name": TEXT, "name_format": FORMAT,
                   "number": TEXT, "output": TEXT, "output_format": FORMAT,
                   "tags": {"type": "array", "items": TEXT}, "visibility": VISIBILITY,
                   "extra_data": {"type": "object"}},
}
GRADESCOPE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["score", "output"],
    "additionalProperties": False,
    "properties": {"score": NUMBER, "execution_time": NUMBER, "output": TEXT,
                   "output_format": FORMAT, "test_output_format": FORMAT,
                   "test_name_format": FORMAT, "visibility": VISIBILITY,
                   "stdout_visibility": VISIBILITY, "extra_data": {"type": "object"},
                   "tests": {"type": "array", "items": GRADESCOPE_TEST},
                   "leaderboard": {"type": "array"}},
}
PRAIRIELEARN_TEST = {
    "type": "object",
    "required": ["name", "points", "max_points", "message"],
    "additionalProperties": False,
    "properties": {"name": TEXT, "description": TEXT, "points": NUMBER,
                   "max_points": {"type": "number", "minimum": 0}, "message": TEXT,
                   "output": TEXT, "images": {"type": "array"}},
}
PRAIRIELEARN_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {"gradable": {"type": "boolean"},
                   "score": {"type": "number", "minimum": 0, "maximum": 1},
                   "message": TEXT, "output": TEXT, "images": {"type": "array"},
                   "format_errors": {"oneOf": [TEXT, {"type": "array", "items": TEXT}]},
                   "tests": {"type": "array", "items": PRAIRIELEARN_TEST}},
    "if": {"required": ["gradable"], "properties": {"gradable": {"const": False}}},
    "then": {"required": ["gradable", "message"]},
    "else": {"required": ["score"]},
}


def validate(schema: dict, document: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(document)
    json.dumps(document, allow_nan=False)


def mark(question: str, points: float, max_points: float = 1.0, outcome: str = RIGHT,
         feedback: str = "right", misconception: str | None = None) -> Mark:
    return Mark(question, "adjoint", points, max_points, outcome, feedback, misconception)


ALICE = Score("alice", 2.5, 4.0, (
    mark("z.value", 1.0),
    mark("x.adjoint", 1.0, outcome=CARRIED, feedback="carried from your z"),
    mark("y.adjoint", 0.5, 1.0, WRONG, "you gave 3, expected 4", "fanout_dropped"),
    mark("d/dx", 0.0, 1.0, MISSING, "not answered"),
), (("late", 0.0),))
BOB = Score("bob", 4.0, 4.0, (mark("z.value", 4.0, 4.0),))


# Gradescope


def test_gradescope_results_follow_the_documented_structure():
    document = gradescope_results(ALICE)
    validate(GRADESCOPE_SCHEMA, document)
    assert document["score"] == 2.5
    assert document["visibility"] == "visible"
    assert [test["name"] for test in document["tests"]] == [m.question for m in ALICE.marks]
    assert [test["status"] for test in document["tests"]] == ["passed", "passed", "failed",
                                                              "failed"]
    assert [test["max_score"] for test in document["tests"]] == [1.0] * 4
    wrong = document["tests"][2]["output"]
    assert "you gave 3, expected 4" in wrong and CODES["fanout_dropped"] in wrong
    assert "2.5 / 4 points" in document["output"] and "not answered" in document["output"]


def test_gradescope_stdout_visibility_is_optional_and_checked():
    assert "stdout_visibility" not in gradescope_results(BOB)
    document = gradescope_results(BOB, stdout_visibility="after_published", visibility="hidden")
    validate(GRADESCOPE_SCHEMA, document)
    assert document["stdout_visibility"] == "after_published"
    with pytest.raises(InputError, match="visibility"):
        gradescope_results(BOB, visibility="students")


def test_points_are_rounded_and_finite():
    third = Score("c", 1 / 3, 1.0, (mark("q", 1 / 3),))
    assert gradescope_results(third)["score"] == 0.3333
    assert gradescope_results(third)["tests"][0]["score"] == 0.3333
    for bad in (float("nan"), float("inf")):
        with pytest.raises(InputError, match="not a finite number"):
            gradescope_results(Score("d", bad, 1.0, ()))
        with pytest.raises(InputError, match="not a finite number"):
            prairielearn_results(Score("d", 0.0, 1.0, (mark("q", bad),)))


def test_long_feedback_is_cut_to_the_output_limit():
    long = Score("e", 0.0, 1.0, (mark("q", 0.0, outcome=WRONG, feedback="x" * 10_000),))
    document = gradescope_results(long, output_limit=500)
    assert len(document["tests"][0]["output"]) <= 500
    assert len(prairielearn_results(long, output_limit=500)["tests"][0]["message"]) <= 500


# PrairieLearn


def test_prairielearn_results_follow_the_documented_structure():
    document = prairielearn_results(ALICE)
    validate(PRAIRIELEARN_SCHEMA, document)
    assert document["gradable"] is True
    assert document["score"] == pytest.approx(2.5 / 4)
    tests = document["tests"]
    assert [(t["name"], t["points"], t["max_points"]) for t in tests] == [
        (m.question, m.points, m.max_points) for m in ALICE.marks]
    assert CODES["fanout_dropped"] in tests[2]["message"]


@pytest.mark.parametrize(("points", "max_points", "fraction"),
                         [(5.0, 4.0, 1.0), (-1.0, 4.0, 0.0), (0.0, 0.0, 0.0), (1.0, 3.0, 0.333333)])
def test_prairielearn_score_stays_in_the_unit_interval(points, max_points, fraction):
    document = prairielearn_results(Score("f", points, max_points, ()))
    validate(PRAIRIELEARN_SCHEMA, document)
    assert document["score"] == fraction


def test_not_gradable_documents():
    prairielearn = not_gradable("prairielearn", "answers.json: not valid JSON")
    validate(PRAIRIELEARN_SCHEMA, prairielearn)
    assert prairielearn["gradable"] is False and "score" not in prairielearn
    assert prairielearn["format_errors"] == ["answers.json: not valid JSON"]
    gradescope = not_gradable("gradescope", "answers.json: not valid JSON")
    validate(GRADESCOPE_SCHEMA, gradescope)
    assert gradescope["score"] == 0 and gradescope["output"] == "answers.json: not valid JSON"
    with pytest.raises(InputError, match="gradescope, prairielearn"):
        not_gradable("moodle", "x")


# Canvas


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def canvas_reads(header: list[str]) -> tuple[int, list[str]]:
    """The number of student columns and the assignment headers, the way Canvas's importer
    reads a header row (row_has_student_headers?, update_column_count, header?)."""
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1]
    student_columns = 3
    if header[2] == "SIS Login ID":
        student_columns += 1
    elif header[2] == "SIS User ID" and header[3] == "SIS Login ID":
        student_columns += 2
    assert "Section" in header[student_columns - 1]
    return student_columns, header[student_columns:]


def test_canvas_csv_without_roster():
    export = canvas_csv([ALICE, BOB], "Backprop 1")
    header = next(csv.reader(io.StringIO(export.text)))
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Backprop 1"]
    assert canvas_reads(header) == (5, ["Backprop 1"])
    rows = read_csv(export.text)
    assert rows[0]["Student"] == "Points Possible" and rows[0]["Backprop 1"] == "4"
    assert [(r["Student"], r["ID"], r["SIS User ID"], r["Backprop 1"]) for r in rows[1:]] == [
        ("alice", "", "alice", "2.5"), ("bob", "", "bob", "4")]
    assert export.unknown_ids == ()
    assert len(read_csv(canvas_csv([BOB], "HW", points_possible=False).text)) == 1


CANVAS_EXPORT = """\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Backprop 1 (4711),Current Score
    Points Possible,,,,,4,(read only)
,,,,,Manual Posting,
"Lovelace, Ada",101,alice,ada@uni.edu,Section A,,100
"Turing, Alan",102,alan,alan@uni.edu,Section B,3,75
"Student, Test",103,,test@uni.edu,,,
"""


def test_canvas_csv_with_a_canvas_export_roster():
    roster = read_roster(CANVAS_EXPORT, "grades.csv")
    export = canvas_csv([ALICE, BOB], "Backprop 1", roster)
    rows = read_csv(export.text)
    assert list(rows[0])[-1] == "Backprop 1 (4711)"
    assert rows[1] == {"Student": "Lovelace, Ada", "ID": "101", "SIS User ID": "alice",
                       "SIS Login ID": "ada@uni.edu", "Section": "Section A",
                       "Backprop 1 (4711)": "2.5"}
    assert rows[2]["Student"] == "bob" and rows[2]["SIS User ID"] == "bob"
    assert export.unknown_ids == ("bob",)
    assert len(rows) == 3


def test_roster_skips_canvas_rows_and_finds_students_by_login_id():
    roster = read_roster(CANVAS_EXPORT, "grades.csv")
    assert roster.find("Points Possible") is None
    assert roster.find("test@uni.edu").name == "Student, Test"
    assert roster.find("ada@uni.edu").sis_user_id == "alice"
    by_email = Score("ada@uni.edu", 1.0, 4.0, ())
    row = read_csv(canvas_csv([by_email], "Backprop 1", roster).text)[1]
    assert (row["Student"], row["SIS User ID"]) == ("Lovelace, Ada", "alice")


def test_canvas_csv_with_a_simple_roster_and_an_assignment_id():
    roster = read_roster("id,name,section,canvas_id\nalice,Ada Lovelace,A,101\n", "roster.csv")
    export = canvas_csv([ALICE], "Backprop 1", roster, assignment_id=99)
    row = read_csv(export.text)[1]
    assert row == {"Student": "Ada Lovelace", "ID": "101", "SIS User ID": "alice",
                   "SIS Login ID": "", "Section": "A", "Backprop 1 (99)": "2.5"}
    with pytest.raises(InputError, match="not a number"):
        canvas_csv([ALICE], "Backprop 1", assignment_id="abc")


@pytest.mark.parametrize(("scores", "message"), [
    ([Score(None, 1.0, 4.0, ())], "no student id"),
    ([ALICE, ALICE], "more than one score"),
    ([ALICE, Score("carol", 1.0, 5.0, ())], "different maxima"),
])
def test_canvas_csv_refuses_rows_it_cannot_match(scores, message):
    with pytest.raises(InputError, match=message):
        canvas_csv(scores, "HW")


@pytest.mark.parametrize(("text", "message"), [
    ("name,section\nAda,A\n", "roster.csv: the roster needs an id"),
    ("id\nalice\nalice\n", "roster.csv line 3: the id 'alice'|roster.csv line 3: the id \"alice\""),
    ("", "roster.csv: the roster is empty"),
])
def test_bad_rosters(text, message):
    with pytest.raises(InputError, match=message):
        read_roster(text, "roster.csv")


def test_a_roster_of_one_id_per_line_is_read_as_generate_reads_it():
    """`generate --roster` took it; `check --roster` stopped the whole batch, no gradebook
    written (a trial)."""
    roster = read_roster("alice\nbob@example.edu\n\ncarol\n", "roster.txt")
    assert sorted(roster.students) == ["alice", "bob@example.edu", "carol"]
    assert roster.find("bob@example.edu").sis_user_id == "bob@example.edu"
    with pytest.raises(InputError, match="roster.txt line 2: the id"):
        read_roster("alice\nalice\n", "roster.txt")


# Comments


def test_comments_csv_round_trips_commas_quotes_and_newlines():
    tricky = Score("dan, jr", 0.0, 2.0, (
        mark("z.value", 0.0, outcome=WRONG, feedback='you wrote "3, 4"\nexpected 7'),
        mark("x.adjoint", 0.0, outcome=MISSING, feedback="it's missing; see \"x\""),
    ), (("late, by a day", 1.0),))
    rows = read_csv(comments_csv([tricky, BOB]))
    assert rows == [{"student_id": "dan, jr", "score": "0", "comments": tricky.comments},
                    {"student_id": "bob", "score": "4", "comments": "all correct"}]
    assert "\n" in rows[0]["comments"] and "penalty 1: late, by a day" in rows[0]["comments"]


# Autograder input and output


def test_standard_paths_are_the_documented_ones():
    assert GRADESCOPE.path(GRADESCOPE.submission) == Path("/autograder/submission")
    assert GRADESCOPE.path(GRADESCOPE.metadata) == Path("/autograder/submission_metadata.json")
    assert GRADESCOPE.path(GRADESCOPE.results) == Path("/autograder/results/results.json")
    assert PRAIRIELEARN.path(PRAIRIELEARN.submission) == Path("/grade/student")
    assert PRAIRIELEARN.path(PRAIRIELEARN.data) == Path("/grade/data/data.json")
    assert PRAIRIELEARN.path(PRAIRIELEARN.results) == Path("/grade/results/results.json")


def gradescope_tree(root: Path, files: dict[str, str], user: dict | None = None):
    for name, text in files.items():
        path = root / "submission" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "submission").mkdir(parents=True, exist_ok=True)
    if user is not None:
        metadata = {"id": 1, "users": [user], "assignment": {"title": "Backprop 1"}}
        (root / "submission_metadata.json").write_text(json.dumps(metadata))
    return replace(GRADESCOPE, root=root)


def test_gradescope_submission_and_student_id(tmp_path):
    user = {"email": "ada@uni.edu", "id": 1234, "name": "Ada", "sid": "alice"}
    paths = gradescope_tree(tmp_path, {"answers.txt": "x.adjoint = 4\n"}, user)
    assert find_submission(paths) == ("alice", "x.adjoint = 4\n", "answers.txt", None)
    del user["sid"]
    paths = gradescope_tree(tmp_path, {}, user)
    assert find_submission(paths).student_id == "ada@uni.edu"


def test_the_platform_id_wins_over_the_files_id(tmp_path):
    answers = json.dumps({"id": "mallory", "expect": {"x": 4}}, indent=2)
    paths = gradescope_tree(tmp_path, {"answers.json": answers},
                            {"email": "ada@uni.edu", "id": 1, "name": "Ada"})
    assert find_submission(paths) == ("ada@uni.edu", answers, "answers.json", None)
    (tmp_path / "submission_metadata.json").unlink()
    assert find_submission(paths).student_id == "mallory"


def test_answers_files_in_order_of_preference(tmp_path):
    paths = gradescope_tree(tmp_path, {"answers.txt": "a", "Answers.JSONL": '{"id": 7}\n',
                                       "deep/answers.json": "{}"})
    assert find_submission(paths) == ("7", '{"id": 7}\n', "Answers.JSONL", None)
    nested = gradescope_tree(tmp_path / "nested", {"repo/table.csv": "node,value\nz,1\n",
                                                   "repo/notes.md": "hi"})
    assert find_submission(nested) == (None, "node,value\nz,1\n", "repo/table.csv", None)


def test_prairielearn_submission(tmp_path):
    (tmp_path / "student").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "data.json").write_text('{"params": {}, "submitted_answers": {}}')
    (tmp_path / "student" / "answers.jsonl").write_bytes(
        b'\xef\xbb\xbf{"id": "alice", "table": [{"node": "z", "value": 1}]}\n')
    paths = replace(PRAIRIELEARN, root=tmp_path)
    submission = find_submission(paths)
    assert submission.student_id == "alice" and submission.filename == "answers.jsonl"
    assert submission.text.startswith('{"id"')


def test_missing_and_unreadable_submissions(tmp_path):
    paths = replace(GRADESCOPE, root=tmp_path)
    with pytest.raises(InputError, match=f"no submission folder at {tmp_path / 'submission'}"):
        find_submission(paths)
    gradescope_tree(tmp_path, {"main.py": "print()"})
    with pytest.raises(InputError, match=r"no answers file in .*submission: expected one of "
                                         r"answers.jsonl.*\(found: main.py\)"):
        find_submission(paths)
    (tmp_path / "submission" / "answers.json").write_text('{"id": "a",')
    with pytest.raises(InputError, match="answers.json: not valid JSON"):
        find_submission(paths)
    (tmp_path / "submission" / "answers.json").write_text('{"id": ["a"]}')
    with pytest.raises(InputError, match="the id must be a string or a number"):
        find_submission(paths)
    (tmp_path / "submission" / "answers.json").write_bytes(b'{"id": "\xff"}')
    with pytest.raises(InputError, match="is not UTF-8 text"):
        find_submission(paths)
    (tmp_path / "submission" / "answers.json").write_text('{}\n{}\n')
    (tmp_path / "submission" / "answers.json").rename(tmp_path / "submission" / "answers.jsonl")
    with pytest.raises(InputError, match="has 2 lines; it must hold one JSON object"):
        find_submission(paths)


def test_bad_metadata_and_links_are_refused(tmp_path):
    paths = gradescope_tree(tmp_path, {"answers.txt": "x = 1"})
    (tmp_path / "submission_metadata.json").write_text("{not json")
    with pytest.raises(InputError, match="submission_metadata.json: not valid JSON"):
        find_submission(paths)
    (tmp_path / "submission_metadata.json").unlink()
    secret = tmp_path / "solution.txt"
    secret.write_text("the answers")
    (tmp_path / "submission" / "answers.txt").unlink()
    os.symlink(secret, tmp_path / "submission" / "answers.txt")
    with pytest.raises(InputError, match="is a link to a file outside the submission"):
        find_submission(paths)


def test_write_results_creates_the_folder_and_writes_strict_json(tmp_path):
    paths = replace(PRAIRIELEARN, root=tmp_path)
    written = write_results(paths, prairielearn_results(ALICE))
    assert written == tmp_path / "results" / "results.json"
    validate(PRAIRIELEARN_SCHEMA, json.loads(written.read_text(encoding="utf-8")))
    with pytest.raises(ValueError):
        write_results(paths, {"score": float("nan")})
    assert json.loads(written.read_text(encoding="utf-8"))["gradable"] is True
    assert sorted(p.name for p in written.parent.iterdir()) == ["results.json"]
