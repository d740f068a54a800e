"""`backprop practice` (issue 10 §4): the hidden numbers asked one at a time, graded as `check`
grades them, a named misconception or a hint on a miss, the worked step after the tries, the
score; line input, so it runs in a pipe.

Oracles: the tanh neuron z = w*x + b, a = tanh(z), L = (a - t)**2 worked with SymPy, and the
published point of student ada in samples/teacher/hw3/key.json worked by hand in floats."""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from pathlib import Path

import pytest
import sympy
from cli_checks import backprop_command, one_error_line, strict_json
from typer.testing import CliRunner

from backprop_cli.cli import app

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "teacher"
NEURON = "z = w*x + b; a = tanh(z); L = (a - t)**2"
POINT = ["--w", "0.7", "--x", "1.5", "--b", "0.3", "--t", "1"]


def _neuron_truth() -> dict[str, float]:
    """Values and adjoints of the neuron at POINT, from SymPy."""
    w, x, b, t = sympy.symbols("w x b t", real=True)
    at = {w: 0.7, x: 1.5, b: 0.3, t: 1}
    z = w * x + b
    a = sympy.tanh(z)
    loss = (a - t) ** 2
    a_symbol = sympy.Symbol("A")
    z_symbol = sympy.Symbol("Z")
    truth = {"z.value": z.subs(at), "a.value": a.subs(at), "L.value": loss.subs(at),
             "a.adjoint": sympy.diff((a_symbol - t) ** 2, a_symbol).subs(
                 {a_symbol: a.subs(at), t: 1}),
             "z.adjoint": sympy.diff((sympy.tanh(z_symbol) - t) ** 2, z_symbol).subs(
                 {z_symbol: z.subs(at), t: 1})}
    truth.update({f"{v}.adjoint": sympy.diff(loss, v).subs(at) for v in (w, x, b, t)})
    return {name: float(value) for name, value in truth.items()}


TRUTH = _neuron_truth()
ORDER = ["z.value", "a.value", "L.value", "a.adjoint", "z.adjoint", "w.adjoint", "x.adjoint",
         "b.adjoint", "t.adjoint"]


def _practise(*args: str, answers: list[str]):
    return runner.invoke(app, ["practice", *args], input="".join(f"{a}\n" for a in answers))


def test_right_answers_score_full_marks_on_the_first_try() -> None:
    result = _practise(NEURON, *POINT, answers=[f"{TRUTH[q]:.2f}" for q in ORDER])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("✓ right") == len(ORDER)
    assert "score: 9 / 9 (first try: 9)\n" in result.stdout


def test_a_miss_names_the_misconception_that_gives_the_number() -> None:
    # z̄ with tanh(z) itself in place of 1 - tanh²(z): the value used for the derivative
    value_for_derivative = TRUTH["a.adjoint"] * TRUTH["a.value"]
    answers = [f"{TRUTH[q]:.2f}" for q in ORDER[:4]] + [f"{value_for_derivative:.2f}", "quit"]
    result = _practise(NEURON, *POINT, answers=answers)
    assert "not right: the value was used where the derivative belongs; 2 tries left" \
        in result.stdout
    assert "score: 4 / 9 (first try: 4)\n" in result.stdout


def test_the_worked_step_is_shown_after_the_tries_and_the_score_counts_it_missed() -> None:
    result = _practise(NEURON, *POINT, "--tries", "2", answers=["9", "8", "quit"])
    assert result.exit_code == 0
    z = TRUTH["z.value"]
    assert "✗ not right; 1 try left" in result.stdout
    assert f"the answer: z = w·x + b = 0.7·1.5 + 0.3 = {z:g} ≈ {z:.2f}" in result.stdout
    assert "score: 0 / 9 (first try: 0)" in result.stdout
    assert "to review: z.value, a.value" in result.stdout


def test_a_hint_an_empty_line_and_unreadable_input_cost_no_try() -> None:
    result = _practise(NEURON, *POINT, "--tries", "1",
                       answers=["?", "", "one point three", f"{TRUTH['z.value']:.2f}", "quit"])
    assert result.stdout.count("hint: z = w·x + b") == 2
    assert "type a number such as -0.25 (or ? for a hint" in result.stdout
    assert "score: 1 / 9 (first try: 1)" in result.stdout


def test_a_rounding_slip_is_told_without_giving_the_answer() -> None:
    slip = round(TRUTH["a.value"], 4) + 1e-4  # one off in the last place asked
    assert f"{slip:.4f}" != f"{TRUTH['a.value']:.4f}"
    result = _practise(NEURON, *POINT, "--decimals", "4",
                       answers=[f"{TRUTH['z.value']:.4f}", f"{slip:.4f}", "quit"])
    line = next(line for line in result.stdout.splitlines() if "✗" in line)
    assert "round to 4 decimal places" in line and f"{TRUTH['a.value']:.4f}" not in line


def test_the_adjoint_hint_and_answer_follow_the_chain_rule() -> None:
    result = _practise(NEURON, *POINT, "--tries", "1",
                       answers=[f"{TRUTH[q]:.2f}" for q in ORDER[:4]] + ["?", "skip", "quit"])
    assert "hint: z̅ = a̅·∂a/∂z: for each step that uses z" in result.stdout
    a_bar = TRUTH["a.adjoint"]
    local = 1 - TRUTH["a.value"] ** 2
    assert (f"the answer: z̅ = a̅·∂a/∂z = ({a_bar:.6g})·{local:.6g} = "
            f"{TRUTH['z.adjoint']:.6g} ≈ {TRUTH['z.adjoint']:.2f}") in result.stdout


def test_end_of_input_ends_with_the_score() -> None:
    result = _practise(NEURON, *POINT, answers=[f"{TRUTH['z.value']:.2f}"])
    assert result.exit_code == 0
    assert "score: 1 / 9 (first try: 1)\n" in result.stdout


def test_a_generated_assignment_is_practised_with_the_students_numbers() -> None:
    """ada's published point in key.json, worked by hand: z = w*x + b, h = tanh(z),
    L = (h + x - t)**2, x reaching L by two paths."""
    key = json.loads((SAMPLES / "hw3" / "key.json").read_text())
    at = next(s["at"] for s in key["students"] if s["id"] == "ada")
    w, x, b, t = at["w"], at["x"], at["b"], at["t"]
    z = w * x + b
    h = math.tanh(z)
    loss = (h + x - t) ** 2
    h_bar = 2 * (h + x - t)
    z_bar = h_bar * (1 - h * h)
    answers = [z, h, loss, x, w, 1.0, 1 - h * h, h_bar, z_bar, z_bar * x, z_bar * w + h_bar,
               z_bar]
    result = _practise("--assignment", str(SAMPLES / "hw3" / "assignment.json"), "--student",
                       "ada", answers=[f"{a:.2f}" for a in answers])
    assert result.exit_code == 0, result.stderr
    assert f"At: w = {w:g}, x = {x:g}, b = {b:g}, t = {t:g}" in result.stdout
    assert "score: 12 / 12 (first try: 12)\n" in result.stdout
    # the assignment file holds its salt: `--salt` beside --assignment is refused
    assert "(These numbers again: the same command with --student ada)\n" in result.stdout


def test_the_same_student_and_salt_give_generates_numbers() -> None:
    args = ["z = w*x + b; a = sigmoid(z)", "--range", "w=-2:2", "--range", "b=-1:1", "--x", "1.5",
            "--salt", "hw9"]
    key = strict_json(runner.invoke(app, ["generate", *args, "--students", "kim",
                                          "--json"]).stdout)
    at = key["students"][0]["at"]
    result = _practise(*args, "--student", "kim", answers=[])
    assert f"At: w = {at['w']:g}, x = 1.5, b = {at['b']:g}" in result.stdout
    assert "(These numbers again: the same command with --student kim --salt hw9)" \
        in result.stdout


def test_without_a_student_each_run_draws_its_own_numbers_and_says_how_to_repeat_them() -> None:
    args = ["z = w*x + b", "--range", "w=-2:2", "--range", "b=-1:1", "--x", "1.5"]
    first = _practise(*args, answers=[]).stdout
    student = first.split("--student ")[1].split(")")[0]
    again = _practise(*args, "--student", student, answers=[]).stdout
    assert first.splitlines()[4:6] == again.splitlines()[4:6]


def test_a_formula_is_graded_symbolically() -> None:
    result = _practise("z = w*x + b; a = z**2", "--range", "w=1:2", "--x", "3", "--b", "1",
                       "--ask", "formula", answers=["2*(w*x + b)*x"])
    assert result.exit_code == 0, result.stderr
    assert "✓ right" in result.stdout and "score: 1 / 1 (first try: 1)" in result.stdout


def test_json_records_the_run_and_keeps_a_pipe_quiet() -> None:
    answers = [f"{TRUTH['z.value']:.2f}", "0.5", "?", f"{TRUTH['a.value']:.2f}", "skip", "quit"]
    result = _practise(NEURON, *POINT, "--json", answers=answers)
    record = strict_json(result.stdout)
    assert result.stderr == ""  # standard error is no terminal here: no conversation
    assert (record["score"], record["max_score"], record["first_try"]) == (2, 9, 1)
    outcomes = [q["outcome"] for q in record["questions"]]
    assert outcomes[:4] == ["first_try", "correct", "skipped", "unanswered"]
    assert record["questions"][1]["hints"] == 1
    assert record["questions"][1]["attempts"][0] == {"given": "0.5", "verdict": "incorrect"}
    assert record["questions"][2]["answer"] == f"{TRUTH['L.value']:.2f}"


@pytest.mark.parametrize(("args", "fragment"), [
    (["--file", "-", "--x", "1"], "practice reads the answers from it"),
    ([NEURON, *POINT, "--student", "kim"], "--student picks drawn numbers"),
    (["--assignment", str(SAMPLES / "hw3" / "assignment.json"), "--range", "w=0:1"],
     "leave out --range"),
    ([NEURON, "--w", "0.7", "--x", "1.5", "--b", "0.3"], "no range or value for t"),
    ([NEURON, *POINT, "--ask", "adjoint"], "cannot ask for 'adjoint'"),
    (["L = x*2", "--x", "1", "--y", "3"], "'y', which the program does not use"),
    (["--assignment", str(SAMPLES / "hw3" / "assignment.json"), "--student", "Ada"],
     "'Ada' is not on the assignment's roster"),
    (["--assignment", str(SAMPLES / "hw3" / "assignment.json")], "give --student ID"),
    ([NEURON, *POINT, "--upstream", "inf"], "--upstream must be a finite number"),
    ([NEURON, "--range", "w=-1e300:1e300", "--x", "1.5", "--b", "0.3", "--t", "1"],
     "without exponents"),
    (["L = log(x)", "--range", "x=-2:-1"], "log of a negative number"),
    (["L = sqrt(x)", "--x", "0"], "(L: "),
    (["log(w)", "--w", "-1"], "log of a negative number"),
])
def test_wrong_input_is_one_line_and_exit_2(args, fragment) -> None:
    result = runner.invoke(app, ["practice", *args], input="")
    assert result.exit_code == 2, result.stdout
    assert fragment in one_error_line(result.stderr)


def test_it_runs_in_a_pipe_and_waiting_for_the_student_is_not_the_runs_time() -> None:
    """A real process reading a pipe, with a time budget shorter than the student's pause."""
    process = subprocess.Popen(
        [backprop_command(), "practice", NEURON, *POINT, "--time-limit", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    out, err = process.communicate("".join(f"{TRUTH[q]:.2f}\n" for q in ORDER), timeout=60)
    assert process.returncode == 0, err
    assert out.rstrip().endswith("score: 9 / 9 (first try: 9)")


def test_the_readme_transcript_is_what_practice_prints() -> None:
    """The README's piped example, run with the printf's lines as input."""
    import re
    import shlex

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    match = re.search(r"```text\n\$ printf '([^']*)' \| (backprop practice [^\n]*\\\n[^\n]*)\n"
                      r"(.*?)```", readme, re.S)
    assert match is not None
    lines, command, shown = match.groups()
    args = shlex.split(command.replace("\\\n", " "))[2:]
    result = runner.invoke(app, ["practice", *args], input=lines.replace("\\n", "\n"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.rstrip("\n") == shown.rstrip("\n")


def test_local_derivatives_are_worked_with_the_op_tables_rules() -> None:
    """By hand: ∂z/∂w = x, ∂z/∂b = 1, ∂a/∂z = 1 - tanh²(z) (written 1/cosh(z)², as explain
    writes it), ∂q/∂t = -2(a - t) for q = (a - t)**2."""
    program = "z = w*x + b; a = tanh(z); q = (a - t)**2; L = 2*q"
    result = _practise(program, *POINT, "--ask", "locals", "--tries", "1",
                       answers=["1.5", "0", "9", "9", "9", "9"])
    z = 0.7 * 1.5 + 0.3
    a = math.tanh(z)
    assert "✓ right" in result.stdout  # ∂z/∂w = x = 1.5
    for line in ("the answer: ∂z/∂x = w = 0.7 ≈ 0.70", "the answer: ∂z/∂b = 1 ≈ 1.00",
                 f"the answer: ∂a/∂z = 1/cosh(z)² = {1 - a * a:.6g} ≈ {1 - a * a:.2f}",
                 f"the answer: ∂q/∂a = 2·(a - t) = {2 * (a - 1):.6g} ≈ {2 * (a - 1):.2f}",
                 f"the answer: ∂q/∂t = -(2·(a - t)) = {-2 * (a - 1):.6g} ≈ "
                 f"{-2 * (a - 1):.2f}"):
        assert line in result.stdout, line
    assert "score: 1 / 6 (first try: 1)\n" in result.stdout


def test_an_upstream_gradient_is_the_outputs_adjoint_in_every_answer() -> None:
    """With upstream 3, every adjoint is 3 times the SymPy one."""
    answers = [f"{TRUTH[q]:.2f}" for q in ORDER[:3]] + [f"{3 * TRUTH[q]:.2f}" for q in ORDER[3:]]
    result = _practise(NEURON, *POINT, "--upstream", "3", answers=answers)
    assert "The upstream gradient of the output is 3" in result.stdout
    assert "score: 9 / 9 (first try: 9)\n" in result.stdout


def test_a_formula_that_does_not_parse_is_told_and_the_session_goes_on() -> None:
    result = _practise("z = w*x + b; a = z**2", "--range", "w=1:2", "--x", "3", "--b", "1",
                       "--ask", "formula", answers=["foo(", "tanhh(z)", "2*(w*x + b)*x"])
    assert result.exit_code == 0, result.stderr
    assert "unknown function 'tanhh'; did you mean tanh?" in result.stdout
    assert "score: 1 / 1 (first try: 1)\n" in result.stdout


@pytest.mark.parametrize("typed", ["nan", "inf", "1_0", "1e400", "0x10", "1,35"])
def test_what_is_not_a_plain_number_is_asked_again(typed) -> None:
    result = _practise(NEURON, *POINT, "--tries", "1", answers=[typed, "1.35", "quit"])
    asked = "use a decimal point: 1.35" if typed == "1,35" else "type a number such as -0.25"
    assert asked in result.stdout and "claim" not in result.stdout
    assert "score: 1 / 9 (first try: 1)\n" in result.stdout


def test_a_typographic_minus_is_a_minus() -> None:
    answers = [f"{TRUTH[q]:.2f}".replace("-", "\u2212") for q in ORDER]
    result = _practise(NEURON, *POINT, answers=answers)
    assert "score: 9 / 9 (first try: 9)\n" in result.stdout


def test_undecodable_input_is_a_line_to_type_again() -> None:
    process = subprocess.run(
        [backprop_command(), "practice", "L = x*x", "--x", "-0.5", "--ask", "values"],
        input="\u22120.25\n0.25\n".encode(), capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "ascii"}, timeout=60)
    assert process.returncode == 0, process.stderr
    assert b"score: 1 / 1 (first try: 1)" in process.stdout


def test_practice_states_the_convention_at_a_kink():
    """relu at 0 in practice gave no word of its convention (derivative 0), so a student who
    took relu'(0) = 1 was told only 'a chain-rule factor is missing'; grad and explain warn."""
    from typer.testing import CliRunner

    from backprop_cli.cli import app

    shown = CliRunner().invoke(app, ["practice", "h = relu(x); L = h*y", "--x", "0", "--y", "3"],
                               input="quit\n").stdout
    assert "Note: h = relu(x): kink: derivative taken as 0 at 0 (PyTorch convention)" in shown


def test_a_formula_answer_with_a_name_the_problem_lacks_is_told_so():
    """practice said a bare 'not right' to 2*(sigmoid(wx+b)-t)*x, where check names 'wx'."""
    from typer.testing import CliRunner

    from backprop_cli.cli import app

    shown = CliRunner().invoke(app, [
        "practice", "z = w*x + b; a = sigmoid(z); L = (a - t)^2", "--w", "0.5", "--x", "2",
        "--b", "-0.5", "--t", "1", "--ask", "formula"],
        input="2*(sigmoid(wx+b)-t)*x\nquit\n").stdout
    assert "'wx' is one name; write w*x for a product" in shown


def test_practice_points_out_a_decimal_comma_and_a_misspelt_ask():
    from typer.testing import CliRunner

    from backprop_cli.cli import app

    comma = CliRunner().invoke(app, ["practice", "L = x*y", "--x", "0.5", "--y", "0.25"],
                               input="0,5\nquit\n").stdout
    assert "use a decimal point: 0.5" in comma
    asked = CliRunner().invoke(app, ["practice", "L = x*y", "--x", "0.5", "--y", "0.25",
                                     "--ask", "valus"])
    assert asked.exit_code == 2
    assert asked.stderr.rstrip().endswith("did you mean 'values'?")


def test_the_answer_is_rounded_as_by_hand():
    """0.125 was shown '≈ 0.12' (a float's half to even) where a student rounding by hand
    writes 0.13; the grader accepts both."""
    from typer.testing import CliRunner

    from backprop_cli.cli import app

    shown = CliRunner().invoke(app, ["practice", "L = x*y", "--x", "0.5", "--y", "0.25"],
                               input="skip\nquit\n").stdout
    assert "0.125 ≈ 0.13" in shown


def test_the_answer_to_an_unnamed_expression_shows_its_chain_rule_step() -> None:
    """`practice "x*sin(x)" --x 1`, skipped, printed "x̅ =  =  = 1.38177": the worked step had
    no terms, the output having no statement name. sin(1) + cos(1) = 1.38177 (SymPy)."""
    import sympy as sp

    x = sp.Symbol("x")
    slope = float(sp.diff(x * sp.sin(x), x).subs(x, 1))
    result = runner.invoke(app, ["practice", "x*sin(x)", "--x", "1"], input="skip\n")
    assert f"the answer: x̅ = z̅3̅·∂z3/∂x = 1·{slope:.6g} = {slope:.6g} ≈ {slope:.2f}" in \
        result.stdout
