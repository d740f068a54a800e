"""Grading additions for the teacher's loop: local-derivative claims (`dz/dw`, the statement's
own derivative with the other names held fixed), `dL/da` as an adjoint, an upstream gradient
other than 1, and error-carried-forward that a trivial 0 or 1 cannot game.

Oracles: the neuron of samples/neuron.bp (z = w*x + b; a = sigmoid(z); L = (a - t)**2) at
w = 0.5, x = 2, b = -0.5, t = 1, by hand: z = 0.5, a = σ(0.5) = 0.622459, σ'(0.5) = a(1 - a)
= 0.235004, dL/da = 2(a - t) = -0.755081, dL/dz = -0.177447, dL/dw = x·dL/dz = -0.354894.
Statement-local derivatives by SymPy: d(w*x + b)/dw = x, d(sigmoid(z))/dz = σ(z)(1 - σ(z)).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import sympy as sp

from backprop_cli.errors import InputError
from backprop_cli.grading import CORRECT, INCORRECT, Job, TableRow, grade

NEURON = (Path(__file__).parent.parent / "samples" / "neuron.bp").read_text()
AT = (("w", 0.5), ("x", 2.0), ("b", -0.5), ("t", 1.0))
SIGMA = 1 / (1 + math.exp(-0.5))
DL_DA = 2 * (SIGMA - 1)
DL_DZ = DL_DA * SIGMA * (1 - SIGMA)


def verdicts(*claims: str, seed: float = 1.0, expr: str = NEURON) -> list[str]:
    report = grade(Job(expr, at=AT, claims=claims, seed=seed))
    return [item.verdict for item in report.items]


def test_local_derivative_of_a_statement_holds_the_other_names_fixed():
    w, x, b, z = sp.symbols("w x b z", real=True)
    dz_dw = float(sp.diff(w * x + b, w).subs({w: 0.5, x: 2, b: -0.5}))
    da_dz = float(sp.diff(1 / (1 + sp.exp(-z)), z).subs(z, 0.5))
    assert verdicts(f"dz/dw={dz_dw:.3f}", f"da/dz={da_dz:.4f}", "dz/db=1.0") == [CORRECT] * 3
    assert verdicts(f"da/dz={SIGMA:.4f}") == [INCORRECT]


def test_local_derivative_of_a_name_the_statement_does_not_use_is_refused():
    with pytest.raises(InputError, match=r"'t' is not an input of 'z' \(its inputs: w, x, b\)"):
        grade(Job(NEURON, at=AT, claims=("dz/dt=1",)))


def test_d_output_by_an_intermediate_node_is_its_adjoint():
    assert verdicts(f"dL/da={DL_DA:.4f}", f"d/dz={DL_DZ:.4f}") == [CORRECT, CORRECT]


def test_an_upstream_gradient_scales_every_adjoint():
    claims = (f"L.adjoint={0.5:.2f}", f"a.adjoint={0.5 * DL_DA:.4f}",
              f"d/dw={0.5 * 2 * DL_DZ:.4f}")
    assert verdicts(*claims, seed=0.5) == [CORRECT] * 3
    assert verdicts(*claims) == [INCORRECT] * 3


def test_a_table_with_an_upstream_gradient_carries_the_students_numbers_forward():
    wrong_dz = -0.1  # true 0.5 * DL_DZ = -0.0887
    rows = (TableRow("z", None, wrong_dz, 0, 4), TableRow("w", None, wrong_dz * 2, 0, 4))
    report = grade(Job(NEURON, at=AT, table=rows, seed=0.5))
    marks = {item.label: item.details["adjoint"] for item in report.items}
    assert marks["z"].get("root_cause") and marks["w"].get("consistent")
    assert math.isclose(marks["w"]["expected"], 0.5 * 2 * DL_DZ)


def test_a_carried_forward_zero_earns_no_credit_and_says_why():
    rows = (TableRow("z", None, 0.0, 0, 2), TableRow("w", None, 0.0, 0, 2),
            TableRow("b", None, 0.0, 0, 2))
    report = grade(Job(NEURON, at=AT, table=rows))
    marks = {item.label: item for item in report.items}
    for node in ("w", "b"):
        adjoint = marks[node].details["adjoint"]
        assert adjoint["consistent"] and adjoint["trivial"]
        assert "no carried-forward credit" in marks[node].reason
    assert marks["z"].details["adjoint"]["root_cause"]


def test_a_carried_forward_ordinary_number_is_not_called_trivial():
    rows = (TableRow("z", None, -0.235, 0, 3), TableRow("w", None, -0.47, 0, 2),
            TableRow("x", None, -0.1175, 0, 4))
    report = grade(Job(NEURON, at=AT, table=rows))
    for item in report.items[:2]:  # w and x, in evaluation order
        assert item.details["adjoint"].get("consistent")
        assert not item.details["adjoint"].get("trivial")


# Error carried forward in hand-in lines. A student who takes σ itself for da/dz (0.6225, where
# σ' = 0.2350 belongs) and works on correctly from there writes, by hand:
# z.adjoint = a.adjoint·0.6225, dL/dw = x·z.adjoint, dL/db = z.adjoint.
WRONG_DA_DZ = round(SIGMA, 4)
CARRIED_DZ = round(DL_DA, 4) * WRONG_DA_DZ


def test_hand_in_lines_carry_a_wrong_local_derivative_forward():
    claims = (f"da/dz={WRONG_DA_DZ:.4f}", f"a.adjoint={DL_DA:.4f}",
              f"z.adjoint={CARRIED_DZ:.4f}", f"dL/dw={2 * CARRIED_DZ:.4f}",
              f"dL/db={CARRIED_DZ:.4f}")
    items = grade(Job(NEURON, at=AT, claims=claims)).items
    root, right, *carried = items
    assert root.verdict == INCORRECT and root.details.get("root_cause")
    assert root.details["misconception"]["code"] == "value_for_derivative"
    assert right.verdict == CORRECT
    for item in carried:
        assert item.verdict == INCORRECT and item.details.get("consistent"), item
        assert not item.details.get("trivial") and "misconception" not in item.details
        assert item.reason.startswith("consistent with your earlier numbers")
    # the truth, for the record: each carried number is still wrong
    assert [round(item.expected, 4) for item in carried] == [
        round(DL_DZ, 4), round(2 * DL_DZ, 4), round(DL_DZ, 4)]


def test_lines_and_a_table_of_the_same_numbers_are_marked_and_scored_alike():
    # z = 0.6 written for 0.5, and everything after it worked from 0.6 by hand
    from backprop_cli.teacher.rubric import DEFAULT, score

    a = 1 / (1 + math.exp(-0.6))
    a_adjoint = 2 * (round(a, 4) - 1)
    z_adjoint = round(a_adjoint, 4) * a * (1 - a)
    numbers = {"z": (0.6, z_adjoint), "a": (a, a_adjoint), "w": (None, 2 * z_adjoint),
               "b": (None, z_adjoint)}
    claims = (*(f"{node}.value={value:.4f}" for node, (value, _) in numbers.items()
                if value is not None),
              *(f"{node}.adjoint={adjoint:.4f}" for node, (_, adjoint) in numbers.items()))
    rows = tuple(TableRow(node, None if value is None else round(value, 4),
                          round(adjoint, 4), 4, 4) for node, (value, adjoint) in numbers.items())
    as_lines = grade(Job(NEURON, at=AT, claims=claims)).items
    as_table = grade(Job(NEURON, at=AT, table=rows)).items

    def flags(details: dict) -> tuple:
        return tuple(bool(details.get(key)) for key in ("root_cause", "consistent", "trivial"))

    from_lines = {(item.label.split(".")[0], item.label.split(".")[1].split("=")[0]):
                  flags(item.details) for item in as_lines}
    from_table = {(item.label, kind): flags(item.details[kind])
                  for item in as_table for kind in ("value", "adjoint") if kind in item.details}
    assert from_lines == from_table
    assert from_lines[("z", "value")] == (True, False, False)
    assert sum(consistent for _, consistent, _ in from_lines.values()) == 5
    points = [score([item.to_dict() for item in items], DEFAULT).points
              for items in (as_lines, as_table)]
    assert points[0] == points[1] == 5  # of six numbers, the root cause is the one mark lost


def test_a_wrong_local_derivative_of_one_makes_the_adjoints_after_it_trivial():
    # da/dz = 1 (true 0.2350): z.adjoint = a.adjoint·1 needs no work, so it earns nothing
    from backprop_cli.teacher.rubric import DEFAULT, score

    claims = ("da/dz=1", f"a.adjoint={DL_DA:.4f}", f"z.adjoint={DL_DA:.4f}")
    items = grade(Job(NEURON, at=AT, claims=claims)).items
    assert items[2].details.get("consistent") and items[2].details.get("trivial")
    assert "no carried-forward credit" in items[2].reason
    marks = score([item.to_dict() for item in items], DEFAULT).marks
    assert [mark.points for mark in marks] == [0, 1, 0]


def test_one_wrong_line_with_nothing_after_it_is_not_called_a_root_cause():
    items = grade(Job(NEURON, at=AT, claims=("da/dz=0.30", f"dL/dw={2 * DL_DZ:.4f}"))).items
    assert [item.verdict for item in items] == [INCORRECT, CORRECT]
    assert "root_cause" not in items[0].details
    assert "root cause" not in items[0].reason


def marks_of(*claims: str, rtol: float | None = None, expr: str = NEURON) -> list[dict]:
    report = grade(Job(expr, at=AT, claims=claims, rtol=rtol))
    return [item.details for item in report.items]


def test_a_number_far_from_what_the_students_numbers_give_is_not_carried():
    # z = 0.7 (true 0.5) gives a.adjoint = 2(σ(0.7) - 1) = -0.664: a 0 written for it is one
    # "unit" off at 0 places, but that unit is larger than the number
    assert not marks_of("z.value=0.7", "a.adjoint=0")[1].get("consistent")
    # with a tolerance, the student's number must be within it of their own: -0.1 and -0.6 are
    # 57% and 28% off the -0.2350 and -0.4700 their da/dz = 0.6225 gives
    wrong = marks_of("da/dz=0.6225", f"a.adjoint={DL_DA:.4f}", "dL/dx=-0.1", "dL/db=-0.6",
                     rtol=0.001)
    assert not wrong[2].get("consistent") and not wrong[3].get("consistent")
    right = marks_of("da/dz=0.6225", f"a.adjoint={DL_DA:.4f}",
                     f"dL/db={round(DL_DA, 4) * 0.6225:.4f}", rtol=0.001)
    assert right[2].get("consistent") and right[0].get("root_cause")


def test_a_constants_adjoint_is_never_carried():
    # nothing flows into the constant 3 of a = 3*sigmoid(z): its adjoint is 0 whatever the
    # student's z
    expr = "z = w*x + b\na = 3*sigmoid(z)\nL = (a - t)**2"
    assert [m.get("consistent") for m in marks_of("z.value=0.7", "3.adjoint=1",
                                                  expr=expr)] == [None, None]


def test_a_statements_local_derivative_and_its_inner_steps_are_not_counted_twice():
    # dz3/dw is the inner step w*x of z = w*x + b and dz/dw the statement's: with both 3 (true
    # x = 2) and a right z.adjoint, the student's dL/dw is z.adjoint·3, once
    carried = -0.1774 * 3
    marks = marks_of("dz3/dw=3", "dz/dw=3", f"z.adjoint={DL_DZ:.4f}", f"dL/dw={carried:.4f}")
    assert marks[3].get("consistent")
    assert not marks_of("dz3/dw=3", "dz/dw=3", f"z.adjoint={DL_DZ:.4f}",
                        f"dL/dw={-0.1774 * 4:.4f}")[3].get("consistent")


def test_the_root_cause_is_the_wrong_number_the_carried_ones_follow_from():
    # L.value 0.2 (true 0.1425) is a slip nothing follows from; da/dz = σ is where z.adjoint
    # -0.4700 comes from
    marks = marks_of("L.value=0.2", f"da/dz={WRONG_DA_DZ:.4f}", f"a.adjoint={DL_DA:.4f}",
                     f"z.adjoint={CARRIED_DZ:.4f}")
    assert [bool(m.get("root_cause")) for m in marks] == [False, True, False, False]
    assert marks[3].get("consistent")


def test_numbers_from_right_but_early_rounded_ones_are_not_carried_errors():
    # a.adjoint -0.8 and da/dz 0.2 round the truth to one place; z.adjoint -0.16 = -0.8·0.2 is
    # wrong at two places by rounding early, not by an earlier mistake; dL/dw = 2·(-0.16)
    # carries that wrong z.adjoint forward
    marks = marks_of("a.adjoint=-0.8", "da/dz=0.2", "z.adjoint=-0.16", "dL/dw=-0.32")
    assert not marks[2].get("consistent") and marks[2].get("root_cause")
    assert marks[3].get("consistent")


def test_a_local_derivative_at_the_students_wrong_value_of_one_is_real_work():
    # z = 1 (true 0.5) is wrong at 1 place; σ'(1) = σ(1)(1 - σ(1)) = 0.1966 is right given it
    s1 = 1 / (1 + math.exp(-1))
    marks = marks_of("z.value=1.0", f"da/dz={s1 * (1 - s1):.4f}")
    assert marks[1].get("consistent") and not marks[1].get("trivial")


def test_a_number_that_follows_exactly_from_a_wrong_one_is_carried_near_the_truth_or_not():
    # -0.76·0.25 = -0.19 follows from the wrong da/dz 0.25 (true 0.2350); that the truth's
    # -0.76·0.235 = -0.1786 is within a unit and a half of it does not make it a slip
    marks = marks_of("a.adjoint=-0.76", "da/dz=0.25", "z.adjoint=-0.19", "dL/dw=-0.38")
    assert marks[1].get("root_cause") and marks[2].get("consistent")
    assert marks[3].get("consistent")


def test_a_local_derivative_worked_from_the_students_own_wrong_value_is_carried():
    # a = 0.65 (true σ(0.5) = 0.6225) and da/dz = a(1 - a) = 0.2275 from it, as students
    # write σ', though σ'(z) at their right z is 0.2350
    marks = marks_of("z.value=0.50", "a.value=0.65", "da/dz=0.2275")
    assert marks[1].get("root_cause") and marks[2].get("consistent")
    tanh = "z = w*x + b\nh = tanh(z)\nL = (h + x - t)**2"
    # h = -0.80 (true tanh(-1.28) = -0.8565) and dh/dz = 1 - h² = 0.36
    report = grade(Job(tanh, at=(("w", -1.8), ("x", 1.1), ("b", 0.7), ("t", 1.0)),
                       claims=("z.value=-1.28", "h.value=-0.80", "dh/dz=0.36")))
    assert report.items[2].details.get("consistent")


def test_a_zero_inside_a_consumers_derivative_makes_the_adjoint_trivial():
    # o = h² at the student's h = 0: their h.adjoint 2h = 0 needs no work
    diamond = (Path(__file__).parent.parent / "samples" / "diamond.bp").read_text()
    report = grade(Job(diamond, at=(("x", 3.0), ("y", 2.0), ("z", 1.0)),
                       claims=("h1.value=0", "h.value=0", "h.adjoint=0")))
    assert report.items[2].details.get("consistent") and report.items[2].details.get("trivial")


def test_a_full_score_prints_no_empty_table_of_lost_points(tmp_path):
    """A submission with every point printed 'Score: 16 / 16' and an empty table header
    'question  points  feedback' under it."""
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from backprop_cli.cli import app

    hw3 = Path(__file__).parent.parent / "samples" / "teacher"
    line = json.loads((hw3 / "hw3" / "batch.jsonl").read_text().splitlines()[0])
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "answers.txt").write_text(
        "id=ada\n" + "\n".join(line["expect"]) + "\n")
    result = CliRunner().invoke(app, [
        "check", "--autograder", "gradescope", "--assignment",
        str(hw3 / "hw3" / "assignment.json"), "--rubric", str(hw3 / "rubric.toml"),
        "--autograder-root", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert "Score: 16 / 16" in result.stdout
    assert "feedback" not in result.stdout
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["score"] == 16


def test_a_blank_hand_in_line_is_a_question_not_answered(tmp_path):
    """`z.value=` (a worksheet's line left as printed) was 'not graded: cannot read claim',
    marked wrong, with nothing missing; it is a question not answered."""
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from backprop_cli.cli import app

    hw3 = Path(__file__).parent.parent / "samples" / "teacher"
    line = json.loads((hw3 / "hw3" / "batch.jsonl").read_text().splitlines()[0])
    line["expect"][0] = "z.value="
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps(line) + "\n")
    result = CliRunner().invoke(app, ["check", "--batch", str(batch), "--assignment",
                                      str(hw3 / "hw3" / "assignment.json"), "--json"])
    row = json.loads(result.stdout.splitlines()[0])
    assert row["missing"] == ["z.value"]
    assert all(item["verdict"] == "correct" for item in row["items"])


def test_a_line_not_graded_says_why_first_and_as_no_penalty(tmp_path):
    """An error line's comment ended '...; penalty 0: not graded: unknown field ...'."""
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from backprop_cli.cli import app

    hw3 = Path(__file__).parent.parent / "samples" / "teacher"
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"id": "ada", "expect": ["z.value=-1.28"], "bogus": 1}) + "\n")
    result = CliRunner().invoke(app, ["check", "--batch", str(batch), "--assignment",
                                      str(hw3 / "hw3" / "assignment.json"), "--rubric",
                                      str(hw3 / "rubric.toml"), "--json"])
    comments = json.loads(result.stdout.splitlines()[0])["score"]["comments"]
    assert comments.startswith('not graded: unknown field "bogus"')
    assert "penalty 0" not in comments


def test_a_resubmission_that_cannot_be_graded_clears_no_grade(tmp_path):
    """A student's full marks became 0 in the gradebook when their later line had an unknown
    field (an error row), the last line being kept whatever it was."""
    import csv
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from backprop_cli.cli import app

    hw3 = Path(__file__).parent.parent / "samples" / "teacher"
    good = json.loads((hw3 / "hw3" / "batch.jsonl").read_text().splitlines()[0])
    bad = {"id": good["id"], "expect": good["expect"], "bogus": 1}
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    book = tmp_path / "grades.csv"
    result = CliRunner().invoke(app, ["check", "--batch", str(batch), "--assignment",
                                      str(hw3 / "hw3" / "assignment.json"), "--rubric",
                                      str(hw3 / "rubric.toml"), "--gradebook", f"csv={book}"])
    rows = list(csv.DictReader(book.open()))
    assert [row["score"] for row in rows if row["student_id"] == "ada"] == ["16"], rows
    assert "warning: 1 student(s)' last line could not be graded (ada); the gradebooks keep " \
           "the line graded before it" in result.stderr


def test_a_student_whose_line_the_run_could_not_grade_is_in_no_gradebook(tmp_path):
    """A line the time budget left ungraded wrote 0 to the gradebooks (a Canvas import clears
    the student's grade with it), with 'not graded: not graded: ...' and every question 'not
    answered' as its comment."""
    from pathlib import Path

    from backprop_cli.teacher.assignment import load
    from backprop_cli.teacher.classroom import Classroom
    from backprop_cli.teacher.rubric import DEFAULT

    path = Path(__file__).parent.parent / "samples" / "teacher" / "hw3" / "assignment.json"
    book = tmp_path / "grades.csv"
    classroom = Classroom(DEFAULT, load(path.read_text(), str(path)), [("csv", str(book))])
    row = classroom({"id": "ada", "line": 1, "verdict": "error", "error": {
        "code": "time_budget",
        "message": "not graded: the time budget of the run ran out; raise it with --time-limit"}})
    assert row["score"]["comments"] == ("not graded: the time budget of the run ran out; raise "
                                        "it with --time-limit")
    classroom.finish([row])
    assert "ada" not in book.read_text()
    assert any("1 student(s) have no line the run could grade (ada" in note
               for note in classroom.notes())


def test_hand_ins_graded_without_their_assignment_write_no_gradebook(tmp_path):
    """A teacher who left out --assignment got a gradebook giving the whole class 0 ("not
    graded: the line has no "expr""), ready to import over real grades."""
    from pathlib import Path

    from typer.testing import CliRunner

    from backprop_cli.cli import app

    answers = Path(__file__).parent.parent / "samples" / "teacher" / "answers.jsonl"
    book = tmp_path / "grades.csv"
    result = CliRunner().invoke(app, ["check", "--batch", str(answers), "--gradebook",
                                      f"csv={book}"])
    assert not book.exists()
    assert "warning: no gradebook written: not one line could be graded, and a gradebook of " \
           "them would give every student 0" in result.stderr
    assert "a hand-in of an assignment's answers is graded with --assignment FILE" in \
           " ".join(result.stdout.split())


def test_a_right_one_carried_forward_is_not_a_trivial_step():
    """a's adjoint 1.0028, written 1.00 (right at 2 places), then σ(0.5) = 0.6225 for da/dz
    (σ' = 0.2350 belongs): z's adjoint 1.00·0.6225 is carried forward from a wrong local
    derivative, and was refused its credit as 'your earlier 0 or 1 makes this step trivial' (the
    1.00 was compared with 1.0028 exactly)."""
    program = "z = w*x + b; a = sigmoid(z); L = c*a"
    at = (("w", 0.5), ("x", 2.0), ("b", -0.5), ("c", 1.0028))
    claims = ("a.adjoint=1.00", f"da/dz={SIGMA:.4f}", f"z.adjoint={SIGMA:.4f}",
              f"dL/dw={2 * SIGMA:.4f}")
    items = grade(Job(program, at=at, claims=claims)).items
    marks = {item.label: item for item in items}
    assert marks["a.adjoint=1.00"].verdict == CORRECT
    for label in (f"z.adjoint={SIGMA:.4f}", f"dL/dw={2 * SIGMA:.4f}"):
        assert marks[label].details.get("consistent"), marks[label]
        assert not marks[label].details.get("trivial"), marks[label]
    # with a wrong 1 (a's adjoint 1.3 in truth) the step is trivial, as before
    at = (("w", 0.5), ("x", 2.0), ("b", -0.5), ("c", 1.3))
    items = grade(Job(program, at=at, claims=claims)).items
    marks = {item.label: item for item in items}
    assert marks[f"z.adjoint={SIGMA:.4f}"].details.get("trivial")


def test_a_batch_error_row_shows_no_score_in_the_summary(tmp_path):
    """An error row read '0/16' in the summary beside the graded rows, a number a teacher could
    copy, though a later or earlier line may be what the gradebooks keep."""
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from backprop_cli.cli import app

    hw3 = Path(__file__).parent.parent / "samples" / "teacher"
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"id": "ada", "expect": ["z.value=-1.28"], "bogus": 1}) + "\n")
    result = CliRunner().invoke(app, ["check", "--batch", str(batch), "--assignment",
                                      str(hw3 / "hw3" / "assignment.json"), "--rubric",
                                      str(hw3 / "rubric.toml")], env={"COLUMNS": "120"})
    row = next(line for line in result.stdout.splitlines() if " ada " in line)
    assert " error " in row and " — " in row and "0/" not in row
