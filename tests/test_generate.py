"""`backprop generate` and assignments (issue 10 §2): a variant per student, seeded from the id
and the salt, with nice numbers, worksheets, an answer key and a batch file `check` grades.

Oracles: SymPy's own evaluation and `diff` of the program (read with SymPy's parser, in
grading_oracle.sympy_of), never the engine; the rounding rule written out here."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest
import sympy as sp
from cli_checks import one_error_line, strict_json
from grading_oracle import at_point, sympy_of
from typer.testing import CliRunner

from backprop_cli.cli import app
from backprop_cli.errors import InputError
from backprop_cli.teacher.assignment import Assignment, load, parse_range

runner = CliRunner()
NEURON = (Path(__file__).parent.parent / "samples" / "neuron.bp").read_text()
RANGES = (parse_range("w=-2:2"), parse_range("x=0.5:3"), parse_range("b=-1:1"))
ASK = ("values", "locals", "adjoints", "gradient", "formula")


def neuron(salt: str = "hw3", **changes) -> Assignment:
    return Assignment(NEURON, RANGES, (("t", 1.0),), salt, ASK, **changes)


STATEMENTS = [line.split("#")[0].strip() for line in NEURON.splitlines()
              if line.split("#")[0].strip()]
NAMES = [statement.split("=")[0].strip() for statement in STATEMENTS]


def value_of(node: str) -> sp.Expr:
    """A statement's value in the variables (SymPy reading the statements up to it)."""
    return sympy_of("; ".join(STATEMENTS[:NAMES.index(node) + 1]))


def output_in_terms_of(node: str) -> sp.Expr:
    """The output with `node` as a free symbol (the statements after it)."""
    return sympy_of("; ".join(STATEMENTS[NAMES.index(node) + 1:]))


def test_the_same_id_and_salt_give_the_same_variant_and_others_differ():
    first, again = neuron().variant("alice"), neuron().variant("alice")
    assert first == again
    points = {neuron().variant(s).at for s in ("alice", "bob", "carol", "dan", "erin")}
    assert len(points) >= 4
    assert neuron("hw4").variant("alice").at != first.at


def test_drawn_numbers_are_nice_and_inside_their_ranges():
    for student in (f"s{n}" for n in range(25)):
        point = dict(neuron().variant(student).at)
        assert point["t"] == 1.0
        for r in RANGES:
            value = point[r.name]
            assert r.low <= value <= r.high
            assert value == round(value, 1) and value not in (0.0, 1.0, -1.0)
        assert len({point["w"], point["x"], point["b"]}) == 3


def test_the_key_agrees_with_sympy_and_is_clear_of_rounding_boundaries():
    whole = value_of("L")
    for student in ("alice", "bob", "carol"):
        variant = neuron().variant(student)
        point = dict(variant.at)
        for q in variant.questions:
            symbol = sp.Symbol(q.node, real=True)
            if q.quantity == "value":
                true = at_point(value_of(q.node), point)
            elif q.quantity in ("gradient", "adjoint") and q.node in point:
                true = at_point(sp.diff(whole, symbol), point)
            elif q.quantity == "adjoint":
                true = at_point(sp.diff(output_in_terms_of(q.node), symbol).subs(
                    symbol, value_of(q.node)), point)
            elif q.quantity == "local":
                own = sympy_of(STATEMENTS[NAMES.index(q.of)].split("=", 1)[1])
                inner = {sp.Symbol(n, real=True): value_of(n) for n in NAMES}
                true = at_point(sp.diff(own, symbol).subs(inner), point)
            else:
                formula = sympy_of(q.answer.replace("^", "**"))
                assert math.isclose(at_point(formula, point),
                                    at_point(sp.diff(whole, symbol), point), rel_tol=1e-9)
                continue
            assert math.isclose(q.answer, true, rel_tol=1e-9, abs_tol=1e-12), q
            assert abs(q.answer) >= 0.1
            assert abs((abs(q.answer) * 100) % 1 - 0.5) >= 0.1, q  # 2 decimals, clear of .xx5


def test_a_kink_inside_the_rounding_of_an_input_is_avoided():
    assignment = Assignment("L = relu(w*x - 1)", (parse_range("w=0.5:1.5"),
                                                  parse_range("x=0.5:1.5")), (), "k", ("values",))
    for student in (f"s{n}" for n in range(30)):
        point = dict(assignment.variant(student).at)
        assert abs(point["w"] * point["x"] - 1) > 0.05


def test_an_assignment_file_round_trips(tmp_path):
    original = neuron(upstream=0.5, decimals=3, title="HW 3")
    text = json.dumps(original.to_dict())
    assert load(text, "a.json") == original
    assert load(text, "a.json").variant("bob") == original.variant("bob")


@pytest.mark.parametrize("ranges, fixed, message", [
    ((), (("t", 1.0),), "at least one --range"),
    (RANGES[:2], (("t", 1.0),), "no range or value for b"),
    ((*RANGES, parse_range("q=0:1")), (("t", 1.0),), "'q', which the program does not use"),
    (RANGES, (("t", 1.0), ("w", 2.0)), "'w' is given twice"),
])
def test_an_assignment_that_cannot_make_variants_is_refused(ranges, fixed, message):
    from backprop_cli.teacher.assignment import check

    with pytest.raises(InputError, match=message):
        check(Assignment(NEURON, ranges, fixed, "s"))


def test_generate_writes_worksheets_key_and_a_batch_that_check_grades(tmp_path):
    out = tmp_path / "hw3"
    result = runner.invoke(app, ["generate", "--file", "samples/neuron.bp", "--range", "w=-2:2",
                                 "--range", "x=0.5:3", "--range", "b=-1:1", "--t", "1",
                                 "--students", "alice,bob,carol", "--salt", "hw3",
                                 "--ask", "values,adjoints,gradient", "--out", str(out)])
    assert result.exit_code == 0, result.output
    key = strict_json((out / "key.json").read_text())
    assert [s["id"] for s in key["students"]] == ["alice", "bob", "carol"]
    for name in ("alice", "bob", "carol"):
        sheet = (out / "worksheets" / f"{name}.md").read_text()
        assert "________" in sheet and name in sheet
        answers = next(s for s in key["students"] if s["id"] == name)["questions"]
        for q in answers:  # the worksheet asks, it never tells
            assert q["rounded"] not in sheet.split("At:")[1].split("## Hand in")[0]
    graded = runner.invoke(app, ["check", "--batch", str(out / "batch.jsonl"), "--json"])
    assert graded.exit_code == 0, graded.output
    rows = [json.loads(line) for line in graded.stdout.splitlines()]
    assert [row["verdict"] for row in rows] == ["correct"] * 3


def test_check_makes_each_students_problem_again_from_the_id(tmp_path):
    out = tmp_path / "hw"
    runner.invoke(app, ["generate", "--file", "samples/neuron.bp", "--range", "w=-2:2",
                        "--range", "x=0.5:3", "--range", "b=-1:1", "--t", "1", "--students",
                        "alice,bob", "--salt", "hw", "--out", str(out)])
    key = strict_json((out / "key.json").read_text())
    alice = {q["question"]: q["rounded"] for q in key["students"][0]["questions"]}
    lines = [{"id": "alice", "expect": [f"{k}={v}" for k, v in alice.items()]},
             {"id": "bob", "expect": [f"{k}={v}" for k, v in alice.items()]}]
    submissions = tmp_path / "answers.jsonl"
    submissions.write_text("".join(json.dumps(line) + "\n" for line in lines))
    graded = runner.invoke(app, ["check", "--batch", str(submissions), "--assignment",
                                 str(out / "assignment.json"), "--json"])
    rows = [json.loads(line) for line in graded.stdout.splitlines()]
    assert [row["verdict"] for row in rows] == ["correct", "incorrect"]
    single = runner.invoke(app, ["check", "--assignment", str(out / "assignment.json"),
                                 "--student", "alice", *sum((["--expect", f"{k}={v}"]
                                                             for k, v in alice.items()), [])])
    assert single.exit_code == 0, single.output


def test_a_line_for_a_student_not_on_the_roster_is_an_error_row(tmp_path):
    out = tmp_path / "hw"
    runner.invoke(app, ["generate", "x*w", "--range", "w=1.5:3", "--range", "x=1.5:3",
                        "--students", "alice", "--salt", "s", "--out", str(out)])
    submissions = tmp_path / "answers.jsonl"
    submissions.write_text('{"id": "mallory", "expect": ["d/dx=1.00"]}\n')
    graded = runner.invoke(app, ["check", "--batch", str(submissions), "--assignment",
                                 str(out / "assignment.json"), "--json"])
    row = json.loads(graded.stdout)
    assert row["error"]["code"] == "bad_field" and "not on the assignment's roster" in \
        row["error"]["message"]


@pytest.mark.parametrize("argv, message", [
    (["x*w", "--range", "w=1:2", "--x", "1", "--students", "a"], "give --salt"),
    (["x*w", "--range", "w=1:2", "--x", "1", "--salt", "s"], "--students a,b,c"),
    (["x*w", "--range", "w=2:1", "--x", "1", "--salt", "s", "--count", "2"],
     "LOW must be below HIGH"),
    (["x*w", "--range", "w:1", "--x", "1", "--salt", "s", "--count", "2"], "NAME=LOW:HIGH"),
    (["x*w", "--range", "w=1:2", "--salt", "s", "--count", "2"], "no range or value for x"),
    (["x*w", "--range", "w=1:2", "--x", "1", "--salt", "s", "--students", "a,a"],
     "appears twice"),
    (["x*w", "--range", "w=1:2", "--x", "1", "--salt", "s", "--count", "2", "--ask", "vals"],
     "cannot ask for 'vals'"),
])
def test_generate_refuses_bad_input_in_one_line(argv, message):
    result = runner.invoke(app, ["generate", *argv])
    assert result.exit_code == 2
    assert message in one_error_line(result.stderr)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_the_latex_worksheet_compiles(tmp_path):
    out = tmp_path / "hw"
    runner.invoke(app, ["generate", "h = tanh(θ*x); L = h**2", "--range", "θ=0.5:1.5", "--x",
                        "2", "--students", "zoë_1", "--salt", "s", "--ask",
                        "values,locals,adjoints,formula", "--out", str(out)])
    (tex,) = (out / "worksheets").glob("*.tex")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                         cwd=tex.parent, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
