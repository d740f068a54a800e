"""Issue 10 §5, end to end: `generate` 30 variants → simulated answers (right, each
misconception, carried-forward errors) → `check --batch` with a rubric → every gradebook format
validated against the structure its system documents → each misconception named, and never on a
right answer.

Oracles: the template samples/teacher/hw3.bp (z = w*x + b; h = tanh(z); L = (h + x - t)**2)
worked by hand here in plain Python floats: h' = 1 - tanh(z)², dL/dh = 2(h + x - t), and x
reaching L by two paths, dL/dx = w·dL/dz + dL/dh. Each mistake is written out from those
formulas, never taken from the code under test."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest
from cli_checks import strict_json
from test_gradebook import GRADESCOPE_SCHEMA, PRAIRIELEARN_SCHEMA, validate
from typer.testing import CliRunner

from backprop_cli.cli import app

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "teacher"
RANGES = ["--range", "w=-2:2", "--range", "x=0.5:2", "--range", "b=-1:1", "--t", "1"]
ASK = "values,locals,adjoints,gradient"
RUBRIC = """
[points]
value = 1
local = 1
adjoint = 2
gradient = 2
[credit]
carried_forward = 1.0
[credit.misconceptions]
sign_flip = 0.5
"""


def hand(at: dict, upstream: float = 1.0) -> dict:
    """The hw3 template worked by hand: every number a worksheet asks for."""
    w, x, b, t = at["w"], at["x"], at["b"], at["t"]
    z = w * x + b
    h = math.tanh(z)
    e = h + x - t
    dh = 1 - h * h
    h_adj = upstream * 2 * e
    z_adj = h_adj * dh
    return {"z.value": z, "h.value": h, "L.value": e * e, "dz/dw": x, "dz/dx": w, "dz/db": 1.0,
            "dh/dz": dh, "h.adjoint": h_adj, "z.adjoint": z_adj, "dL/dw": z_adj * x,
            "dL/dx": z_adj * w + h_adj, "dL/db": z_adj}


SCENARIOS = ("right", "fanout", "value_for_derivative", "sign_flip", "missing_chain_factor",
             "carried", "carried_trivial", "early_rounding")


def rounded_by_hand(at: dict) -> float:
    """dL/dw worked with every intermediate number rounded to 1 decimal place."""
    def r(v: float) -> float:
        return round(v, 1)

    w, x, b, t = at["w"], at["x"], at["b"], at["t"]
    z = r(r(w * x) + b)
    e = r(r(math.tanh(z) + x) - t)
    h_adj = r(2 * e)
    z_adj = r(h_adj * r(1 / math.cosh(z) ** 2))
    return r(z_adj * x)


def answers_for(scenario: str, at: dict) -> tuple[dict, str | None, str | None]:
    """A student's hand-in for a scenario: the batch line's fields, the question the mistake
    is in, and the misconception codes that must be named there."""
    true = hand(at)
    given = dict(true)
    if scenario == "right":
        return {"expect": claims(given)}, None, None
    if scenario == "fanout":  # the skip path x → L left out (or overwritten)
        given["dL/dx"] = true["z.adjoint"] * at["w"]
        return {"expect": claims(given)}, "dL/dx", "fanout"
    if scenario == "value_for_derivative":  # tanh where 1 - tanh² belongs
        given["dh/dz"] = true["h.value"]
        return {"expect": claims(given)}, "dh/dz", "value_for_derivative"
    if scenario == "sign_flip":
        given["dL/dw"] = -true["dL/dw"]
        return {"expect": claims(given)}, "dL/dw", "sign_flip"
    if scenario == "early_rounding":
        given["dL/dw"] = rounded_by_hand(at)
        if f"{given['dL/dw']:.2f}" == f"{true['dL/dw']:.2f}":
            return {"expect": claims(given)}, None, None  # rounding early did no harm here
        return {"expect": claims(given)}, "dL/dw", "early_rounding"
    if scenario == "missing_chain_factor":  # z's adjoint without the local x
        given["dL/dw"] = true["z.adjoint"]
        return {"expect": claims(given)}, "dL/dw", "missing_chain_factor"
    # a table whose z adjoint is wrong, and w, x, b computed from it (error carried forward)
    z_adj = 0.0 if scenario == "carried_trivial" else round(true["z.adjoint"] + 0.37, 2)
    rows = [{"node": "z", "value": f"{true['z.value']:.2f}", "adjoint": f"{z_adj:.2f}"},
            {"node": "h", "value": f"{true['h.value']:.2f}",
             "adjoint": f"{true['h.adjoint']:.2f}"},
            {"node": "w", "adjoint": f"{z_adj * at['x']:.2f}"},
            {"node": "x", "adjoint": f"{z_adj * at['w'] + round(true['h.adjoint'], 2):.2f}"},
            {"node": "b", "adjoint": f"{z_adj:.2f}"}]
    local = {k: v for k, v in given.items() if k.startswith("d") and "/d" in k[:4]
             and not k.startswith("dL/")}
    return {"expect": claims(local), "table": rows}, "z.adjoint", None


def claims(numbers: dict) -> list[str]:
    return [f"{question}={number:.2f}" for question, number in numbers.items()]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The whole loop run once: generate, answer, grade with every gradebook."""
    root = tmp_path_factory.mktemp("class")
    result = runner.invoke(app, ["generate", "--file", str(SAMPLES / "hw3.bp"), *RANGES,
                                 "--count", "30", "--salt", "round-trip", "--ask", ASK,
                                 "--out", str(root / "hw")])
    assert result.exit_code == 0, result.stderr
    key = strict_json((root / "hw" / "key.json").read_text())
    assert len(key["students"]) == 30
    lines, expected = [], {}
    for n, student in enumerate(key["students"]):
        scenario = SCENARIOS[n % len(SCENARIOS)]
        fields, question, code = answers_for(scenario, student["at"])
        lines.append({"id": student["id"], **fields})
        expected[student["id"]] = (scenario, question, code, student["at"])
    (root / "answers.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (root / "rubric.toml").write_text(RUBRIC)
    argv = ["check", "--batch", str(root / "answers.jsonl"), "--assignment",
            str(root / "hw" / "assignment.json"), "--rubric", str(root / "rubric.toml"),
            "--no-line-tolerances", "--json",
            "--gradebook", f"canvas={root / 'canvas.csv'}",
            "--gradebook", f"csv={root / 'grades.csv'}",
            "--gradebook", f"gradescope={root / 'gradescope'}",
            "--gradebook", f"prairielearn={root / 'prairielearn'}"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 1, result.stderr  # some answers are wrong
    rows = [strict_json(line) for line in result.stdout.splitlines()]
    return root, rows, expected


def marks_of(row: dict) -> dict[str, dict]:
    return {mark["question"]: mark for mark in row["score"]["marks"]}


def test_every_student_has_a_scored_row(graded):
    _, rows, expected = graded
    assert [row["id"] for row in rows] == list(expected)
    for row in rows:
        assert row["score"]["max_points"] == 3 * 1 + 4 * 1 + 2 * 2 + 3 * 2  # 17
        assert 0 <= row["score"]["points"] <= row["score"]["max_points"]


def test_right_answers_score_full_marks_and_are_never_diagnosed(graded):
    _, rows, expected = graded
    for row in rows:
        scenario = expected[row["id"]][0]
        for item in row["items"]:
            if item["verdict"] == "correct":
                assert "misconception" not in item, item
        if scenario == "right":
            assert row["verdict"] == "correct"
            assert row["score"]["points"] == 17 and row["score"]["comments"] == "all correct"


def test_each_misconception_is_named_where_it_was_made(graded):
    _, rows, expected = graded
    seen = set()
    for row in rows:
        scenario, question, code, _ = expected[row["id"]]
        if code is None:
            continue
        mark = marks_of(row)[question]
        assert mark["outcome"] == "wrong"
        item = next(i for i in row["items"] if i["label"].startswith(question + "="))
        named = [item["misconception"]["code"], *item["misconception"]["also"]]
        assert any(name.startswith(code) for name in named), (row["id"], scenario, item)
        seen.add(code)
        others = [m for q, m in marks_of(row).items() if q != question]
        assert all(m["outcome"] == "right" for m in others), row["id"]
        share = 0.5 if code == "sign_flip" else 0.0
        assert row["score"]["points"] == pytest.approx(17 - mark["max_points"] * (1 - share))
    assert seen == {"fanout", "value_for_derivative", "sign_flip", "missing_chain_factor",
                    "early_rounding"}


def test_carried_forward_rows_earn_credit_unless_trivial(graded):
    _, rows, expected = graded
    for row in rows:
        scenario = expected[row["id"]][0]
        if not scenario.startswith("carried"):
            continue
        marks = marks_of(row)
        assert marks["z.adjoint"]["outcome"] == "wrong"
        for question in ("dL/dw", "dL/db"):
            if scenario == "carried":
                assert marks[question]["outcome"] == "carried"
                assert marks[question]["points"] == marks[question]["max_points"]
            else:
                assert marks[question]["outcome"] == "wrong" and marks[question]["points"] == 0
                assert "trivial" in marks[question]["feedback"]


def test_the_gradebooks_follow_their_documented_structures(graded):
    root, rows, _ = graded
    points = {row["id"]: row["score"]["points"] for row in rows}
    canvas = list(csv.reader(io.StringIO((root / "canvas.csv").read_text())))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[1][0] == "Points Possible" and float(canvas[1][5]) == 17
    assert {r[2]: float(r[5]) for r in canvas[2:]} == pytest.approx(points)
    plain = list(csv.DictReader(io.StringIO((root / "grades.csv").read_text())))
    assert [r["student_id"] for r in plain] == list(points)
    assert {r["student_id"]: float(r["score"]) for r in plain} == pytest.approx(points)
    for student, total in points.items():
        gradescope = strict_json((root / "gradescope" / f"{student}.json").read_text())
        validate(GRADESCOPE_SCHEMA, gradescope)
        assert gradescope["score"] == pytest.approx(total)
        assert sum(t["max_score"] for t in gradescope["tests"]) == 17
        prairielearn = strict_json((root / "prairielearn" / f"{student}.json").read_text())
        validate(PRAIRIELEARN_SCHEMA, prairielearn)
        assert prairielearn["score"] == pytest.approx(total / 17, abs=1e-4)


def test_a_wrong_seed_is_named_when_the_problem_gives_an_upstream_gradient(tmp_path):
    runner.invoke(app, ["generate", "--file", str(SAMPLES / "hw3.bp"), *RANGES, "--count", "3",
                        "--salt", "seed", "--ask", "adjoints", "--upstream", "0.5",
                        "--out", str(tmp_path / "hw")])
    key = strict_json((tmp_path / "hw" / "key.json").read_text())
    lines = []
    for student in key["students"]:
        started_from_one = hand(student["at"], upstream=1.0)  # the 0.5 ignored
        lines.append({"id": student["id"],
                      "expect": [f"z.adjoint={started_from_one['z.adjoint']:.2f}"]})
        assert math.isclose(hand(student["at"], 0.5)["z.adjoint"], next(
            q["answer"] for q in student["questions"] if q["question"] == "z.adjoint"))
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = runner.invoke(app, ["check", "--batch", str(tmp_path / "a.jsonl"), "--assignment",
                                 str(tmp_path / "hw" / "assignment.json"), "--json"])
    for line in result.stdout.splitlines():
        (item,) = strict_json(line)["items"]
        named = [item["misconception"]["code"], *item["misconception"]["also"]]
        # two mistakes may give the same number at 2 decimals (z's adjoint 0.28 is also h's
        # 0.2837 without the local 0.487); then both are named
        assert "wrong_seed" in named, item


def test_the_autograder_writes_gradescope_and_prairielearn_results(tmp_path):
    runner.invoke(app, ["generate", "--file", str(SAMPLES / "hw3.bp"), *RANGES, "--students",
                        "ada@example.edu", "--salt", "ag", "--ask", ASK, "--out",
                        str(tmp_path / "hw")])
    key = strict_json((tmp_path / "hw" / "key.json").read_text())
    at = key["students"][0]["at"]
    answers = "\n".join(answers_for("sign_flip", at)[0]["expect"]) + "\n"
    gradescope = tmp_path / "autograder"
    (gradescope / "submission").mkdir(parents=True)
    (gradescope / "submission" / "answers.txt").write_text("# my answers\n" + answers)
    (gradescope / "submission_metadata.json").write_text(json.dumps(
        {"users": [{"email": "ada@example.edu", "name": "Ada", "id": 7}]}))
    result = runner.invoke(app, ["check", "--autograder", "gradescope", "--autograder-root",
                                 str(gradescope), "--assignment",
                                 str(tmp_path / "hw" / "assignment.json")])
    assert result.exit_code == 0, result.stderr
    document = strict_json((gradescope / "results" / "results.json").read_text())
    validate(GRADESCOPE_SCHEMA, document)
    assert document["score"] == 11  # 12 questions of 1 point, dL/dw wrong (no rubric credit)
    failed = [t for t in document["tests"] if t["status"] == "failed"]
    assert [t["name"] for t in failed] == ["dL/dw"] and "sign" in failed[0]["output"]

    grade = tmp_path / "grade"
    (grade / "student").mkdir(parents=True)
    record = {"id": "ada@example.edu", **answers_for("right", at)[0]}
    (grade / "student" / "answers.json").write_text(json.dumps(record))
    result = runner.invoke(app, ["check", "--autograder", "prairielearn", "--autograder-root",
                                 str(grade), "--assignment",
                                 str(tmp_path / "hw" / "assignment.json")])
    assert result.exit_code == 0, result.stderr
    document = strict_json((grade / "results" / "results.json").read_text())
    validate(PRAIRIELEARN_SCHEMA, document)
    assert document["gradable"] is True and document["score"] == 1.0

    (grade / "student" / "answers.json").write_text('{"id": "ada@example.edu", "expect": [')
    result = runner.invoke(app, ["check", "--autograder", "prairielearn", "--autograder-root",
                                 str(grade), "--assignment",
                                 str(tmp_path / "hw" / "assignment.json")])
    assert result.exit_code == 2
    document = strict_json((grade / "results" / "results.json").read_text())
    validate(PRAIRIELEARN_SCHEMA, document)
    assert document["gradable"] is False


def test_a_rubric_can_keep_the_true_numbers_out_of_a_students_feedback(tmp_path):
    """A student who may resubmit must not read the answers off the feedback: with
    `[feedback] show_answers = false` the results name the mistake and the places graded, never
    a true number (with them shown, the misconception's message gives 1 - h² itself)."""
    key = json.loads((SAMPLES / "hw3" / "key.json").read_text())
    at = next(s["at"] for s in key["students"] if s["id"] == "ada")
    true = hand(at)
    expect = answers_for("value_for_derivative", at)[0]["expect"]
    expect[expect.index(f"dL/dw={true['dL/dw']:.2f}")] = f"dL/dw={-true['dL/dw']:.2f}"
    secrets = {f"{true[q]:.2f}".lstrip("-") for q in ("dh/dz", "dL/dw")}
    secrets |= {f"{true[q]:.4f}".lstrip("-") for q in ("dh/dz", "dL/dw")}
    rubric = tmp_path / "rubric.toml"
    outputs = {}
    for show in ("true", "false"):
        rubric.write_text(f"[feedback]\nshow_answers = {show}\n")
        root = tmp_path / show
        (root / "submission").mkdir(parents=True)
        (root / "submission" / "answers.txt").write_text("\n".join(["id=ada", *expect]))
        result = runner.invoke(app, ["check", "--autograder", "gradescope", "--autograder-root",
                                     str(root), "--assignment",
                                     str(SAMPLES / "hw3" / "assignment.json"), "--rubric",
                                     str(rubric)])
        assert result.exit_code == 0, result.stderr
        document = strict_json((root / "results" / "results.json").read_text())
        validate(GRADESCOPE_SCHEMA, document)
        assert document["score"] == 10
        outputs[show] = " ".join([document["output"], *(t["output"] for t in document["tests"])])
    assert any(secret in outputs["true"] for secret in secrets)
    assert not any(secret in outputs["false"] for secret in secrets), outputs["false"]
    assert "dh/dz: the value was used where the derivative belongs; wrong at 2 decimal " \
           "places" in outputs["false"]
    assert "dL/dw: the sign is flipped; wrong at 2 decimal places" in outputs["false"]


def test_hidden_answers_keep_the_read_as_note_and_name_a_tolerance(tmp_path):
    """`dJ/dw` is read as dL/dw (a note worth keeping), and under --rtol a number is wrong
    for being outside the tolerance, not at some decimal places."""
    rubric = tmp_path / "rubric.toml"
    rubric.write_text("[feedback]\nshow_answers = false\n")
    result = runner.invoke(app, ["check", "--file", str(SAMPLES.parent / "neuron.bp"), "--w",
                                 "0.5", "--x", "2", "--b", "-0.5", "--t", "1", "--expect",
                                 "dJ/dw=-0.3", "--rtol", "0.01", "--rubric", str(rubric),
                                 "--json"])
    feedback = strict_json(result.stdout)["score"]["marks"][0]["feedback"]
    assert feedback == ("read as dL/dw: the program has no statement 'J' (statements: z, a, "
                        "L); wrong: outside the tolerance")


@pytest.mark.parametrize(("text", "message"), [
    ("[feedback]\nshow_answers = \"no\"\n", "[feedback] show_answers must be true or false"),
    ("[feedback]\nanswers = false\n", "[feedback]: unknown key 'answers' (keys: show_answers)"),
])
def test_bad_feedback_settings_are_refused(tmp_path, text, message):
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(text)
    result = runner.invoke(app, ["check", "x*y", "--x", "1", "--y", "2", "--expect", "d/dx=2",
                                 "--rubric", str(rubric)])
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_the_autograder_grades_an_unfinished_submission_incorrect(tmp_path):
    """One answer of twelve, right: 1 of 12 points, and not "correct" (found in a trial)."""
    key = json.loads((SAMPLES / "hw3" / "key.json").read_text())
    z = next(q["rounded"] for s in key["students"] if s["id"] == "ada"
             for q in s["questions"] if q["question"] == "z.value")
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "answers.txt").write_text(f"id=ada\nz.value={z}\n")
    result = runner.invoke(app, ["check", "--autograder", "gradescope", "--autograder-root",
                                 str(root), "--assignment",
                                 str(SAMPLES / "hw3" / "assignment.json"), "--json"])
    assert result.exit_code == 0, result.stderr
    report = strict_json(result.stdout)
    assert report["verdict"] == "incorrect"
    assert sum(item.get("reason") == "not answered" for item in report["items"]) == 11
    document = strict_json((root / "results" / "results.json").read_text())
    assert document["score"] == 1 and len(document["tests"]) == 12


def test_one_unreadable_hand_in_line_costs_only_itself(tmp_path):
    """A right submission with `H.adjoint=...` (no node H) and `L.value=0,78` (a decimal
    comma) scored 0: the whole submission was an error (found in a new user's trial)."""
    key = json.loads((SAMPLES / "hw3" / "key.json").read_text())
    ada = next(s for s in key["students"] if s["id"] == "ada")
    lines = [f"{q['question']}={q['rounded']}" for q in ada["questions"]
             if not q["question"].startswith("formula")]
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "answers.txt").write_text(
        "\n".join(["id=ada", *lines, "H.adjoint=-1.56", "L.value=0,78"]) + "\n")
    result = runner.invoke(app, ["check", "--autograder", "gradescope", "--autograder-root",
                                 str(root), "--assignment",
                                 str(SAMPLES / "hw3" / "assignment.json"), "--json"])
    assert result.exit_code == 0, result.stderr
    report = strict_json(result.stdout)
    assert report["score"]["points"] == report["score"]["max_points"] == len(lines)
    reasons = {item["label"]: item.get("reason", "") for item in report["items"]}
    assert reasons["H.adjoint=-1.56"].startswith("not graded: no node 'H'")
    assert reasons["L.value=0,78"].startswith("not graded: cannot read claim")
    assert report["verdict"] == "incorrect"
    # on the command line the same claim is an error: it is the user's own typo to fix
    line = runner.invoke(app, ["check", "x*y", "--x", "1", "--y", "2", "--expect",
                               "H.value=1"]).stderr
    assert line.startswith("error: ") and "no node 'H'" in line


def test_a_rubric_credits_a_misconception_named_beside_another(tmp_path):
    """x feeds two paths: keeping only the path through w*x is both `fanout_overwritten` and
    `fanout_dropped` (named as "also"); the rubric's credit for the second was lost."""
    w, x, b, t = 0.5, 1.5, 0.2, 1.0
    h = math.tanh(w * x + b)
    through_wx = 2 * (h + x - t) * (1 - h * h) * w  # dL/dx without the direct path
    rubric = tmp_path / "rubric.toml"
    rubric.write_text("[credit.misconceptions]\nfanout_dropped = 0.5\n")
    result = runner.invoke(app, ["check", "--file", str(SAMPLES / "hw3.bp"), "--w", str(w),
                                 "--x", str(x), "--b", str(b), "--t", str(t), "--expect",
                                 f"dL/dx={through_wx:.4f}", "--rubric", str(rubric), "--json"])
    document = strict_json(result.stdout)
    named = document["items"][0]["misconception"]
    assert named["code"] == "fanout_overwritten" and named["also"] == ["fanout_dropped"]
    assert document["score"]["points"] == 0.5


def test_a_line_for_a_student_off_the_roster_goes_in_no_gradebook(tmp_path):
    """`zed` is not on hw3's roster: the csv gradebook had a row `zed,0,...` for them."""
    batch = tmp_path / "answers.jsonl"
    batch.write_text((SAMPLES / "answers.jsonl").read_text()
                     + '{"id": "zed", "expect": ["z.value=1"]}\n')
    book = tmp_path / "grades.csv"
    result = runner.invoke(app, ["check", "--batch", str(batch), "--assignment",
                                 str(SAMPLES / "hw3" / "assignment.json"), "--gradebook",
                                 f"csv={book}", "--no-line-tolerances"])
    assert result.exit_code == 1, result.stderr
    students = [line.split(",")[0] for line in book.read_text().splitlines()[1:]]
    assert students == ["ada", "alan", "grace", "emmy", "srini"]
    assert ("warning: 1 line(s) name students not on the assignment's roster (zed); they are "
            "in no gradebook") in result.stderr


def test_a_rubric_section_for_a_node_the_program_lacks_is_refused(tmp_path):
    """`[nodes.l]` for L was accepted and changed nothing (found in a new user's trial)."""
    rubric = tmp_path / "rubric.toml"
    rubric.write_text("[nodes.l]\nvalue = 2\n")
    result = runner.invoke(app, ["check", "--batch", str(SAMPLES / "answers.jsonl"),
                                 "--assignment", str(SAMPLES / "hw3" / "assignment.json"),
                                 "--rubric", str(rubric), "--no-line-tolerances"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {rubric} [nodes.l]: the assignment's program "
                                    "has no node 'l' (nodes: w, x, ")


def test_a_question_answered_twice_gets_the_lower_mark_and_says_so() -> None:
    """A right dL/dw beside a wrong w.adjoint (one question) earned full credit, silently."""
    key = json.loads((SAMPLES / "hw3" / "key.json").read_text())
    right = next(q["rounded"] for s in key["students"] if s["id"] == "ada"
                 for q in s["questions"] if q["question"] == "dL/dw")
    marks = {}
    for order in ((f"dL/dw={right}", "w.adjoint=-0.24"), ("w.adjoint=-0.24", f"dL/dw={right}")):
        result = runner.invoke(app, ["check", "--assignment", str(SAMPLES / "hw3" /
                                                                   "assignment.json"),
                                     "--student", "ada", "--expect", order[0], "--expect",
                                     order[1], "--rubric", str(SAMPLES / "rubric.toml"),
                                     "--json"])
        mark = next(m for m in strict_json(result.stdout)["score"]["marks"]
                    if m["quantity"] == "gradient" and m["question"] in ("dL/dw", "w.adjoint"))
        marks[order] = (mark["points"], mark["feedback"])
    for points, feedback in marks.values():
        assert points == 0 and feedback.startswith("answered twice (")
        assert "the lower mark counts: " in feedback and "not -0.24" in feedback


def test_the_sample_class_is_graded_as_the_readme_says(tmp_path):
    """samples/teacher: the generated assignment is what `generate` makes again, and the
    class's answers get the scores and misconceptions the README describes."""
    result = runner.invoke(app, ["generate", "--file", str(SAMPLES / "hw3.bp"), *RANGES,
                                 "--roster", str(SAMPLES / "roster.csv"), "--salt", "hw3-2026",
                                 "--ask", ASK, "--title", "Homework 3", "--out",
                                 str(tmp_path / "hw3")])
    assert result.exit_code == 0, result.stderr
    for name in ("key.json", "batch.jsonl", "worksheets/ada.md", "worksheets/ada.tex"):
        made = (tmp_path / "hw3" / name).read_text()
        assert made == (SAMPLES / "hw3" / name).read_text().replace(
            "samples/teacher/hw3", str(tmp_path / "hw3")), name
    result = runner.invoke(app, ["check", "--batch", str(SAMPLES / "answers.jsonl"),
                                 "--assignment", str(SAMPLES / "hw3" / "assignment.json"),
                                 "--rubric", str(SAMPLES / "rubric.toml"), "--json",
                                 "--no-line-tolerances"])
    rows = {row["id"]: row for row in map(strict_json, result.stdout.splitlines())}
    # grace's one mistake is dh/dz = tanh (0.86): her table's z adjoint 3.21 = 3.72·0.86 and
    # the gradient after it carry it forward, so only dh/dz's point is lost
    assert {k: (r["score"]["points"], r["score"]["max_points"]) for k, r in rows.items()} == {
        "ada": (16, 16), "alan": (14, 16), "grace": (15, 16), "emmy": (15, 16),
        "srini": (2, 16)}
    codes = {k: sorted({m["misconception"] for m in r["score"]["marks"] if m["misconception"]})
             for k, r in rows.items()}
    assert codes == {"ada": [], "alan": ["fanout_overwritten"],
                     "grace": ["value_for_derivative"], "emmy": ["sign_flip"], "srini": []}


def test_unanswered_questions_make_a_row_incorrect_without_a_rubric() -> None:
    """srini in samples/teacher/answers.jsonl answers 3 of 12 questions."""
    result = runner.invoke(app, ["check", "--batch", str(SAMPLES / "answers.jsonl"),
                                 "--assignment", str(SAMPLES / "hw3" / "assignment.json"),
                                 "--json"])
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    srini = next(row for row in rows if row.get("id") == "srini")
    assert srini["verdict"] == "incorrect" and len(srini["missing"]) == 9
    assert "score" not in srini


def test_one_student_with_unanswered_questions_is_incorrect() -> None:
    key = json.loads((SAMPLES / "hw3" / "key.json").read_text())
    z = next(q["rounded"] for s in key["students"] if s["id"] == "ada"
             for q in s["questions"] if q["question"] == "z.value")
    result = runner.invoke(app, ["check", "--assignment", str(SAMPLES / "hw3" /
                                                               "assignment.json"),
                                 "--student", "ada", "--expect", f"z.value={z}", "--json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and report["verdict"] == "incorrect"
    assert sum(item.get("reason") == "not answered" for item in report["items"]) == 11


def test_an_unreadable_line_is_a_wrong_answer_to_its_question_not_not_answered(tmp_path):
    """`h.value=-0,86` was scored "not answered" beside a 0/0 "not asked" test marked passed:
    a student who resubmits was not told what to fix (found in a teacher's trial)."""
    batch = tmp_path / "answers.jsonl"
    batch.write_text(json.dumps({"id": "ada", "expect": [
        "z.value=-1.28", "h.value=-0,86", "dz/dw: 1.10", "L.value=0,57", "L.value=0.57"]}))
    result = runner.invoke(app, ["check", "--batch", str(batch), "--assignment",
                                 str(SAMPLES / "hw3" / "assignment.json"), "--rubric",
                                 str(SAMPLES / "rubric.toml"), "--json"])
    marks = {m["question"]: m for m in strict_json(result.stdout.splitlines()[0])["score"]
             ["marks"]}
    for question in ("h.value", "dz/dw"):
        assert marks[question]["outcome"] == "wrong"
        assert marks[question]["feedback"].startswith("not graded: cannot read claim")
    assert marks["L.value"]["outcome"] == "right"  # the line written again, readable, counts
    assert not any(q.startswith(("h.value", "dz/dw", "L.value")) and m["max_points"] == 0
                   and m["feedback"].startswith("not asked") for q, m in marks.items())


def test_a_wrong_answer_worth_no_points_is_not_a_passed_test():
    from backprop_cli.grading.gradebook import gradescope_results
    from backprop_cli.grading.scores import Mark, Score

    wrong = Mark("L.value", "value", 0.0, 0.0, "wrong", "wrong at 2 decimal places")
    right = Mark("L.value", "value", 0.0, 0.0, "right", "right")
    statuses = [gradescope_results(Score("ada", 0.0, 0.0, (mark,)))["tests"][0]["status"]
                for mark in (wrong, right)]
    assert statuses == ["failed", "passed"]


def test_an_autograded_submission_may_be_lines_and_a_table_side_by_side(tmp_path):
    """answers.txt with the local derivatives and table.csv with the rest: the table was
    ignored, every row "not answered" (found in a teacher's trial). grace's numbers, as in
    samples/teacher/answers.jsonl, where they score 15 of 16."""
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "answers.txt").write_text(
        "id=grace\ndz/dw=2.00\ndz/dx=0.80\ndz/db=1.00\ndh/dz=0.86\n")
    (root / "submission" / "table.csv").write_text(
        "node,value,adjoint\nz,1.30,3.21\nh,0.86,3.72\nL,3.47,\nw,,6.42\nx,,6.29\nb,,3.21\n")
    result = runner.invoke(app, ["check", "--autograder", "gradescope", "--autograder-root",
                                 str(root), "--assignment", str(SAMPLES / "hw3" /
                                                                "assignment.json"),
                                 "--rubric", str(SAMPLES / "rubric.toml")])
    assert result.exit_code == 0, result.stderr
    assert strict_json((root / "results" / "results.json").read_text())["score"] == 15


def test_an_answers_file_naming_two_students_is_refused(tmp_path):
    root = tmp_path / "grade"
    (root / "student").mkdir(parents=True)
    (root / "student" / "answers.txt").write_text("id=ada\nz.value=-1.28\nid=alan\n")
    result = runner.invoke(app, ["check", "--autograder", "prairielearn", "--autograder-root",
                                 str(root), "--assignment", str(SAMPLES / "hw3" /
                                                                "assignment.json")])
    assert result.exit_code == 2
    assert "answers.txt names two students (ada, alan); give one id= line" in result.stderr


@pytest.mark.parametrize(("given", "written"), [("2.4", "1 decimal place")])
def test_an_answer_right_to_fewer_places_than_asked_is_named_so(given, written, tmp_path):
    """df/dx of x*y + tanh(x) at (1, 2) is 2 + sech(1)^2 = 2.41997: 2.4 is right to the place
    it was written to, not to the 2 asked. It was named early_rounding (rounding every step to
    one place happens to give 2.4 too); the simpler account comes first, and a rubric may
    credit it."""
    true = 2 + 1 / math.cosh(1.0) ** 2
    assert round(true, 1) == 2.4 and round(true, 0) == 2
    rubric = tmp_path / "rubric.toml"
    rubric.write_text("[credit.misconceptions]\ntoo_few_decimals = 0.5\n")
    result = runner.invoke(app, ["check", "x*y + tanh(x)", "--x", "1", "--y", "2", "--expect",
                                 f"d/dx={given}", "--decimals", "2", "--rubric", str(rubric),
                                 "--json"])
    document = strict_json(result.stdout)
    item = document["items"][0]
    assert item["verdict"] == "incorrect"
    assert item["misconception"] == {
        "code": "too_few_decimals", "also": [],
        "message": f"{given} is right to {written}, but 2 decimal places are asked"}
    assert document["score"]["points"] == 0.5


@pytest.mark.parametrize(("program", "args"), [
    ("x*y + tanh(x)", ("--expect", "d/dx=2.5", "--decimals", "2")),
    ("x*y + tanh(x)", ("--expect", "d/dx=2.42", "--decimals", "3")),
    ("x*y + tanh(x)", ("--expect", "d/dx=2.4", "--rtol", "1e-3")),
    ("x*y + tanh(x)", ("--expect", "d/dx=2", "--decimals", "2")),
    ("0.44*x - 1", ("--expect", "d/dx=0", "--decimals", "2")),
    ("0.44*x - 1", ("--expect", "d/dx=0.0", "--decimals", "2"))])
def test_a_number_that_is_not_a_rounding_of_the_work_is_not_too_few_decimals(program, args):
    # 2.5 is wrong at 1 place too; 2.42 is right at 2 but 2.420 is asked (true 2.41997 is
    # 2.420, so it is right); under a tolerance places are not graded; a whole number near the
    # truth is no rounding of the work (a class writing whole numbers would earn the credit);
    # 0.0 for 0.44 is wrong at its one place.
    document = strict_json(runner.invoke(app, ["check", program, "--x", "1", "--y", "2",
                                                *args, "--json"]).stdout)
    item = document["items"][0]
    assert (item.get("misconception") or {}).get("code") != "too_few_decimals"


def test_one_point_zero_for_0_96_is_too_few_decimals_not_a_trivial_one():
    document = strict_json(runner.invoke(app, [
        "check", "0.96*x", "--x", "1", "--expect", "d/dx=1.0", "--decimals", "2",
        "--json"]).stdout)
    assert document["items"][0]["misconception"]["code"] == "too_few_decimals"


def test_too_few_decimals_says_the_number_as_written():
    """1234567.6 was shown as 1.23457e+06 (d/dx = 1234567.5678)."""
    document = strict_json(runner.invoke(app, [
        "check", "1234567.5678*x", "--x", "1", "--expect", "d/dx=1234567.6", "--decimals", "2",
        "--json"]).stdout)
    assert document["items"][0]["misconception"]["message"] == (
        "1234567.6 is right to 1 decimal place, but 2 decimal places are asked")


def test_a_table_cell_right_to_fewer_places_than_asked_is_named_so(tmp_path):
    table = tmp_path / "table.csv"
    table.write_text("node,value,adjoint\nx,1,2.4\ny,2,1\n")  # x's adjoint is 2.41997
    document = strict_json(runner.invoke(app, [
        "check", "x*y + tanh(x)", "--x", "1", "--y", "2", "--table", str(table),
        "--decimals", "2", "--json"]).stdout)
    (row,) = [item for item in document["items"] if item.get("node") == "x"]
    assert row["adjoint"]["misconception"]["code"] == "too_few_decimals"
    assert row["value"]["verdict"] == "correct"


@pytest.mark.parametrize(("system", "folder", "name", "text"), [
    ("gradescope", "submission", "answers.txt", "id=ada\n# nothing yet\n"),
    ("prairielearn", "student", "answers.json", '{"id": "ada"}')])
def test_an_empty_submission_is_graded_as_nothing_answered(tmp_path, system, folder, name,
                                                          text):
    """It was an error for the student to read: 'nothing to check: give "wrt" and "answer",
    "expect" claims or "table" rows' (a batch line's wording), and no score per question."""
    (tmp_path / folder).mkdir()
    (tmp_path / folder / name).write_text(text)
    result = runner.invoke(app, ["check", "--autograder", system, "--autograder-root",
                                 str(tmp_path), "--assignment",
                                 str(SAMPLES / "hw3" / "assignment.json")])
    assert result.exit_code == 0, result.stderr
    document = strict_json((tmp_path / "results" / "results.json").read_text())
    validate(GRADESCOPE_SCHEMA if system == "gradescope" else PRAIRIELEARN_SCHEMA, document)
    assert document["score"] == 0
    tests = document["tests"]
    said = {t.get("output", t.get("message")) for t in tests}  # PrairieLearn: "message"
    assert len(tests) == 12 and said == {"not answered"}


@pytest.mark.parametrize(("name", "text", "said"), [
    ("answers.json", '{"id": "ada", "expects": ["z.value=-1.28"]}',
     'unknown field "expects" (did you mean "expect"?)'),
    ("answers.json", '{"id": "ada", "wrt": ["w"]}', '1 "wrt" but 0 "answer"'),
    ("answers.txt", "id=mallory\n", "student 'mallory' is not on the assignment's roster")])
def test_a_submission_without_answers_that_cannot_be_graded_still_says_why(tmp_path, name,
                                                                           text, said):
    """Graded as empty, these scored 0 with exit 0: a misspelt field, a formula question with
    no formula, a student off the roster (a review of the empty-submission change)."""
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / name).write_text(text)
    result = runner.invoke(app, ["check", "--autograder", "gradescope", "--autograder-root",
                                 str(tmp_path), "--assignment",
                                 str(SAMPLES / "hw3" / "assignment.json")])
    assert result.exit_code == 2 and said in result.stderr, result.stderr


def test_a_whole_worksheet_written_to_one_place_short_is_marked_alike(tmp_path):
    """Every hand-in line to 1 decimal place where the assignment asks 2 (a trial): some lines
    were named too_few_decimals, others marked carried forward from the earlier short numbers,
    one 'trivial' from a 1.0 that was 1.0098 rounded. Each number right to the place it was
    written to is too short, alike, and earns the rubric's credit for it."""
    key = json.loads((SAMPLES / "hw3" / "key.json").read_text())
    at = next(s["at"] for s in key["students"] if s["id"] == "ada")
    true = hand(at)
    lines = ["id=ada", *(f"{q}={v:.1f}" for q, v in true.items())]
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "answers.txt").write_text("\n".join(lines) + "\n")
    rubric = tmp_path / "rubric.toml"
    rubric.write_text("[credit]\ncarried_forward = 0.5\n[credit.misconceptions]\n"
                      "too_few_decimals = 0.9\n")
    result = runner.invoke(app, ["check", "--autograder", "gradescope", "--autograder-root",
                                 str(tmp_path), "--assignment",
                                 str(SAMPLES / "hw3" / "assignment.json"), "--rubric",
                                 str(rubric), "--json"])
    assert result.exit_code == 0, result.stderr
    marks = {m["question"]: m for m in strict_json(result.stdout)["score"]["marks"]}
    for question, value in true.items():
        mark = marks[question]
        if round(value, 2) == round(round(value, 1), 2):  # 1 place is all 2 places show
            assert mark["outcome"] == "right", question
        else:
            assert mark["misconception"] == "too_few_decimals", (question, mark)
            assert mark["points"] == 0.9, (question, mark)


def test_an_assignment_line_answering_nothing_is_graded_in_a_batch_and_alone(tmp_path):
    """`{"id": "dave", "expect": []}` was an error row in a batch ('nothing to check: give
    "wrt" and "answer"...', which the student's gradebook comment repeated), and `check
    --student` with no answers exited 2; the autograder graded the same as every question
    not answered (a trial). All three now agree."""
    assignment = str(SAMPLES / "hw3" / "assignment.json")
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"id": "ada", "expect": []}\n')
    result = runner.invoke(app, ["check", "--batch", str(batch), "--assignment", assignment,
                                 "--json"])
    assert result.exit_code == 1, result.stderr  # an incorrect row
    (row,) = [strict_json(line) for line in result.stdout.splitlines()]
    assert row["verdict"] == "incorrect" and len(row["missing"]) == 12
    alone = runner.invoke(app, ["check", "--assignment", assignment, "--student", "ada",
                                "--json"])
    document = strict_json(alone.stdout)
    assert alone.exit_code == 1 and document["verdict"] == "incorrect"
    assert {item["reason"] for item in document["items"]} == {"not answered"}
    assert len(document["items"]) == 12
