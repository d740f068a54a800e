"""`backprop check` at library level (issue 3): formulas, claims, tables, batch lines, and the
bounded runner, each against an oracle that does not come from the code under test.

Oracles:
- Derivatives: SymPy's own `diff` of the expression, parsed here with SymPy's parser (not the
  project's), evaluated at the counterexample point the checker reports.
- The diamond program `h1 = x*y; h2 = y*z; h = h1*h2; o = h*h` at (x, y, z) = (3, 2, 1), by hand:
      values    x 3, y 2, z 1, h1 6, h2 2, h 12, o 144
      adjoints  o 1, h 2*h = 24, h1 24*h2 = 48, h2 24*h1 = 144,
                x 48*y = 96, y 48*x + 144*z = 288, z 144*y = 288
  A student who writes h1's adjoint as 50 and carries it forward gets x 50*y = 100 and
  y 50*x + 144*z = 294.
- f = x*y + tanh(x) at (1, 2): df/dx = y + 1 - tanh(1)^2 = 2.419974..., df/dy = x = 1.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest
import sympy as sp
from grading_oracle import (
    DIAMOND,
    DIAMOND_ADJOINTS,
    DIAMOND_AT,
    DIAMOND_VALUES,
    ISSUE_EXPR,
    ISSUE_RIGHT,
    ISSUE_WRONG,
    TANH,
    TANH_DX,
    answer_value,
    at_point,
    close,
    sympy_of,
    true_derivative,
)

from backprop_cli.bounded import run_bounded, run_many
from backprop_cli.errors import BackpropError, InputError
from backprop_cli.grading import (
    CORRECT,
    INCORRECT,
    UNDETERMINED,
    Item,
    Job,
    JsonNumber,
    Report,
    TableRow,
    accepts,
    check_claims,
    check_derivative,
    check_table,
    evaluate_program,
    grade,
    grade_line,
    job_from_record,
    parse_claim,
    read_table,
)

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "check"



def assert_counterexample(item: Item, expr: str, wrt: str, answer: str, rel: float = 1e-9
                          ) -> dict:
    """An incorrect verdict whose counterexample SymPy confirms independently."""
    assert item.verdict == INCORRECT, item
    example = item.counterexample
    assert example is not None and set(example) >= {"at", "expected", "given"}, item
    point = example["at"]
    assert wrt in point
    expected = true_derivative(expr, wrt, point)
    given = answer_value(answer, point)
    assert close(example["expected"], expected, rel), (example, expected)
    assert close(example["given"], given, rel), (example, given)
    assert not math.isclose(expected, given, rel_tol=1e-6, abs_tol=1e-9)
    assert item.expected == example["expected"] and item.given == example["given"]
    return example


# ----------------------------------------------------------------------------------------------
# 1. Is this formula the derivative?


def test_oracle_agrees_with_the_issue_on_its_own_example() -> None:
    """The oracle itself: SymPy says the issue's right answer is the derivative."""
    x = sp.Symbol("x", real=True)
    assert sp.simplify(sp.diff(sympy_of(ISSUE_EXPR), x) - sympy_of(ISSUE_RIGHT)) == 0
    assert sp.simplify(sp.diff(sympy_of(ISSUE_EXPR), x) - sympy_of(ISSUE_WRONG)) != 0


def test_issue_right_answer_is_correct() -> None:
    item = check_derivative(ISSUE_EXPR, "x", ISSUE_RIGHT)
    assert item.verdict == CORRECT, item
    assert item.kind == "derivative"
    assert item.counterexample is None


def test_issue_wrong_answer_is_incorrect_with_a_sympy_confirmed_counterexample() -> None:
    item = check_derivative(ISSUE_EXPR, "x", ISSUE_WRONG)
    example = assert_counterexample(item, ISSUE_EXPR, "x", ISSUE_WRONG)
    # The two answers differ by 4x cos(x^2); the point shown must be where that is not zero.
    x = example["at"]["x"]
    assert close(example["given"] - example["expected"], 4 * x * math.cos(x * x), 1e-7)


def test_exp_square_answer_is_correct() -> None:
    assert check_derivative("(exp(x) + x)^2", "x", "2(exp(x) + x)(exp(x) + 1)").verdict == CORRECT


@pytest.mark.parametrize("expr, answer", [
    ("sqrt(x^2)", "x/abs(x)"),
    ("sqrt(x^2)", "x/sqrt(x^2)"),
    ("sqrt(x^2)", "abs(x)/x"),
    ("log(x^2)", "2/x"),
    ("sqrt(x)^2", "1"),
    ("log(x)", "1/x"),
    ("abs(x)", "x/abs(x)"),
    ("asin(x)", "1/sqrt(1 - x^2)"),
    ("x^x", "x^x*(log(x) + 1)"),
    ("h1 = x*y; h2 = y*z; h = h1*h2; o = h*h", "4 x^2 y^3 z^2"),
])
def test_correct_answers_with_domain_subtleties_are_correct(expr: str, answer: str) -> None:
    wrt = "y" if expr == DIAMOND else "x"
    item = check_derivative(expr, wrt, answer)
    assert item.verdict == CORRECT, item


@pytest.mark.parametrize("expr, answer", [
    ("sqrt(x^2)", "1"),
    ("abs(x)", "1"),
    ("log(x^2)", "1/x"),
    ("(exp(x) + x)^2", "2(exp(x) + x)"),
    ("sin(x^2)", "cos(x^2)"),
    ("x*y + tanh(x)", "y + 1 + tanh(x)^2"),
])
def test_wrong_answers_are_incorrect_with_sympy_confirmed_counterexamples(expr: str, answer: str
                                                                          ) -> None:
    assert_counterexample(check_derivative(expr, "x", answer), expr, "x", answer)


@pytest.mark.parametrize("expr, answer", [("abs(x - 20)", "-1"), ("relu(x - 20)", "0")])
def test_a_wrong_answer_right_only_on_part_of_the_line_is_not_called_correct(expr: str,
                                                                               answer: str
                                                                               ) -> None:
    # SymPy: d/dx |x - 20| = sign(x - 20) and d/dx relu(x - 20) = [x > 20]; both differ from
    # the answer for every x > 20, so "correct" would be a wrong grade.
    x = sp.Symbol("x", real=True)
    assert at_point(sp.diff(sp.Abs(x - 20), x), {"x": 25.0}) == 1.0
    item = check_derivative(expr, "x", answer)
    assert item.verdict != CORRECT, item


def test_sqrt_of_square_answered_one_fails_at_a_negative_x() -> None:
    item = check_derivative("sqrt(x^2)", "x", "1")
    example = assert_counterexample(item, "sqrt(x^2)", "x", "1")
    assert example["at"]["x"] < 0
    assert example["expected"] == pytest.approx(-1.0) and example["given"] == pytest.approx(1.0)


@pytest.mark.parametrize("answer", ["2y", "2x + t"])
def test_an_answer_using_a_variable_the_expression_lacks_is_incorrect(answer: str) -> None:
    item = check_derivative("x^2", "x", answer)
    example = assert_counterexample(item, "x^2", "x", answer)
    foreign = "y" if "y" in answer else "t"
    assert foreign in example["at"]


def test_several_partials_each_get_a_verdict_in_order() -> None:
    expr = "x^2*y + sin(y)"
    right = grade(Job(expr, (("x", "2x y"), ("y", "x^2 + cos(y)"))))
    assert [item.verdict for item in right.items] == [CORRECT, CORRECT]
    assert right.verdict == CORRECT
    assert "d/dx" in right.items[0].label and "d/dy" in right.items[1].label

    mixed = grade(Job(expr, (("x", "2x y"), ("y", "x^2 - cos(y)"))))
    assert [item.verdict for item in mixed.items] == [CORRECT, INCORRECT]
    assert mixed.verdict == INCORRECT
    assert_counterexample(mixed.items[1], expr, "y", "x^2 - cos(y)")


def test_no_valid_points_is_undetermined_with_a_reason() -> None:
    # sqrt(-1 - x^2) is not real anywhere: nothing can be compared.
    item = check_derivative("sqrt(-1 - x^2)", "x", "x")
    assert item.verdict == UNDETERMINED, item
    assert item.counterexample is None
    assert item.reason and "point" in item.reason.lower()


def test_slow_simplification_is_bounded_and_decided_numerically() -> None:
    expr = "(x+1)**40*(x-1)**40*sin(x)**20"
    start = time.monotonic()
    item = check_derivative(expr, "x", "1", symbolic_seconds=0.5)
    assert time.monotonic() - start < 15
    assert_counterexample(item, expr, "x", "1", rel=1e-6)


def test_a_hostile_answer_is_refused_by_the_parser(capfd) -> None:
    with pytest.raises(BackpropError):
        check_derivative("x^2", "x", "__import__('os').system('echo pwned')")
    with pytest.raises(BackpropError):
        check_derivative("__import__('os').system('echo pwned')", "x", "1")
    captured = capfd.readouterr()
    # `echo pwned` would print a line that is exactly "pwned".
    assert "pwned" not in [line.strip() for line in (captured.out + captured.err).splitlines()]


# ----------------------------------------------------------------------------------------------
# 2. Are these numbers right?


@pytest.mark.parametrize("text, kind, target, given, decimals", [
    ("d/dx=2.42", "gradient", "x", 2.42, 2),
    ("h1.adjoint=48", "adjoint", "h1", 48.0, 0),
    ("h.value=12", "value", "h", 12.0, 0),
    ("  dL/dy = -0.5 ", "gradient", "y", -0.5, 1),
    ("o.value=1.5e-3", "value", "o", 0.0015, 4),
])
def test_parse_claim_reads_the_three_forms(text, kind, target, given, decimals) -> None:
    claim = parse_claim(text)
    assert (claim.kind, claim.target, claim.decimals) == (kind, target, decimals)
    assert claim.given == pytest.approx(given)


@pytest.mark.parametrize("text", ["dx=2", "h1.adjoint=", "h1.adjoint=4x8", "h1.slope=3",
                                  "d/dx 2.42", "", "h1.adjoint=48=49"])
def test_malformed_claims_are_input_errors(text: str) -> None:
    with pytest.raises(InputError):
        parse_claim(text)


@pytest.mark.parametrize("true, given, decimals, verdict", [
    (TANH_DX, 2.42, 2, True),
    (TANH_DX, 2.41, 2, False),
    (TANH_DX, 2.4, 1, True),
    (TANH_DX, 2.420, 3, True),
    (TANH_DX, 2.4200, 4, True),   # 2.41997 rounds to 2.4200
    (TANH_DX, 2.41997, 5, True),
    (TANH_DX, 2.41998, 5, False),
    (-TANH_DX, -2.42, 2, True),
    (48.0, 48.0, 0, True),
    (48.0, 50.0, 0, False),
])
def test_homework_rounding(true, given, decimals, verdict) -> None:
    # Oracle: Python's round() of the true value at the decimals given.
    assert (round(true, decimals) == given) is verdict
    assert accepts(true, given, decimals, None, None) is verdict


def test_explicit_tolerances_override_rounding() -> None:
    assert accepts(TANH_DX, 2.41, 2, None, 0.01)        # |2.41997 - 2.41| < 0.01
    assert accepts(TANH_DX, 2.41, 2, 0.005, None)       # relative 0.4 %
    assert not accepts(TANH_DX, 2.42, 2, None, 1e-6)    # tighter than rounding
    assert not accepts(TANH_DX, 2.41, 2, 1e-3, None)


def test_diamond_claims_match_the_hand_worked_figures() -> None:
    _, result = evaluate_program(DIAMOND, DIAMOND_AT)
    claims = [parse_claim(f"{node}.adjoint={value}") for node, value in DIAMOND_ADJOINTS.items()]
    claims += [parse_claim(f"{node}.value={value}") for node, value in DIAMOND_VALUES.items()]
    claims += [parse_claim("d/dx=96"), parse_claim("d/dy=288"), parse_claim("d/dz=288")]
    items = check_claims(result, claims)
    assert all(item.verdict == CORRECT for item in items), [i for i in items
                                                            if i.verdict != CORRECT]
    for item in items:
        assert item.expected == pytest.approx(item.given, abs=0)


def test_diamond_wrong_claims_are_incorrect_and_show_the_truth() -> None:
    _, result = evaluate_program(DIAMOND, DIAMOND_AT)
    items = check_claims(result, [parse_claim("h1.adjoint=50"), parse_claim("d/dy=144"),
                                  parse_claim("h.value=13")])
    assert [item.verdict for item in items] == [INCORRECT] * 3
    assert [item.expected for item in items] == [48, 288, 12]
    assert [item.given for item in items] == [50, 144, 13]


def test_tanh_claims_round_like_homework_and_tolerances_override() -> None:
    _, result = evaluate_program(TANH, {"x": 1.0, "y": 2.0})
    claims = [parse_claim("d/dx=2.42"), parse_claim("d/dx=2.41"), parse_claim("d/dy=1")]
    items = check_claims(result, claims)
    assert [item.verdict for item in items] == [CORRECT, INCORRECT, CORRECT]
    assert items[0].expected == pytest.approx(TANH_DX, rel=1e-12)
    loose = check_claims(result, [parse_claim("d/dx=2.41")], atol=0.01)
    assert loose[0].verdict == CORRECT
    tight = check_claims(result, [parse_claim("d/dx=2.42")], rtol=1e-6)
    assert tight[0].verdict == INCORRECT


@pytest.mark.parametrize("claim", ["h9.adjoint=48", "d/dw=1", "q.value=0"])
def test_claims_about_things_the_program_lacks_are_input_errors(claim: str) -> None:
    _, result = evaluate_program(DIAMOND, DIAMOND_AT)
    with pytest.raises(InputError):
        check_claims(result, [parse_claim(claim)])


# ----------------------------------------------------------------------------------------------
# 3. Is my whole table right?


def _marks(items: list[Item]) -> dict[str, Item]:
    return {item.label: item for item in items}


def _table(values: dict, adjoints: dict) -> list[TableRow]:
    return [TableRow(node, float(values[node]), float(adjoints[node]))
            for node in ("x", "y", "z", "h1", "h2", "h", "o")]


def test_sample_tables_csv_and_json_read_the_same() -> None:
    csv_rows = read_table((SAMPLES / "diamond_table.csv").read_text(encoding="utf-8"), "csv")
    json_rows = read_table((SAMPLES / "diamond_table.json").read_text(encoding="utf-8"), "json")
    as_tuples = [(r.node, r.value, r.adjoint) for r in csv_rows]
    assert as_tuples == [(r.node, r.value, r.adjoint) for r in json_rows]
    student = {node: (value, adjoint) for node, value, adjoint in as_tuples}
    wrong_h1 = dict(DIAMOND_ADJOINTS, h1=50, x=100, y=294)
    assert student == {node: (DIAMOND_VALUES[node], wrong_h1[node]) for node in DIAMOND_VALUES}



@pytest.mark.parametrize(("row", "message"), [
    ("a,0,62,-0,76", "t.csv line 3: 5 cells, the header has 3; write decimals with a point "
                     "(0.62, not 0,62)"),
    ("a,0.62,-0.76,1", "t.csv line 3: 4 cells, the header has 3"),
])
def test_a_table_row_longer_than_its_header_is_refused(row, message) -> None:
    """Cut to the header, `a,0,62,-0,76` (decimal commas) was graded as value 0 and adjoint
    62, both wrong, with no hint."""
    with pytest.raises(InputError) as caught:
        read_table(f"node,value,adjoint\nx,3,\n{row}\n", "t.csv")
    assert str(caught.value) == message

def test_wrong_h1_adjoint_is_the_root_cause_and_x_y_follow_from_it() -> None:
    graph, result = evaluate_program(DIAMOND, DIAMOND_AT)
    rows = read_table((SAMPLES / "diamond_table.csv").read_text(encoding="utf-8"), "csv")
    marks = _marks(check_table(graph, result, rows))
    assert set(marks) == set(DIAMOND_VALUES)

    h1 = marks["h1"]
    assert h1.verdict == INCORRECT
    assert h1.details["adjoint"].get("root_cause") is True
    assert h1.details["adjoint"]["expected"] == DIAMOND_ADJOINTS["h1"]
    assert h1.details["value"]["verdict"] == CORRECT
    assert "root cause" in (h1.reason or "")

    for node in ("x", "y"):
        adjoint = marks[node].details["adjoint"]
        assert marks[node].verdict == INCORRECT
        assert adjoint["verdict"] == INCORRECT
        assert adjoint.get("consistent") is True, marks[node]
        assert not adjoint.get("root_cause")
        assert adjoint["expected"] == DIAMOND_ADJOINTS[node]
        assert "consistent" in (marks[node].reason or "")

    for node in ("z", "h2", "h", "o"):
        assert marks[node].verdict == CORRECT, marks[node]
    assert sum(bool(m.details.get(k, {}).get("root_cause"))
               for m in marks.values() for k in ("value", "adjoint")) == 1


def test_a_later_number_wrong_on_its_own_is_neither_root_nor_consistent() -> None:
    # x's adjoint 97 is neither the truth (96) nor what h1 = 50 implies (100).
    graph, result = evaluate_program(DIAMOND, DIAMOND_AT)
    adjoints = dict(DIAMOND_ADJOINTS, h1=50, x=97, y=294)
    marks = _marks(check_table(graph, result, _table(DIAMOND_VALUES, adjoints)))
    assert marks["h1"].details["adjoint"].get("root_cause") is True
    x = marks["x"].details["adjoint"]
    assert x["verdict"] == INCORRECT and not x.get("consistent") and not x.get("root_cause")
    assert marks["y"].details["adjoint"].get("consistent") is True


def test_a_near_miss_after_right_numbers_is_a_slip_not_a_carried_error() -> None:
    # Every number before them right, x 97 and y 289 (true 96 and 288) are one unit off:
    # nothing the student wrote earlier leads there, so neither is "consistent", and with
    # nothing following from either, neither is a root cause.
    graph, result = evaluate_program(DIAMOND, DIAMOND_AT)
    adjoints = dict(DIAMOND_ADJOINTS, x=97, y=289)
    marks = _marks(check_table(graph, result, _table(DIAMOND_VALUES, adjoints)))
    for node in ("x", "y"):
        adjoint = marks[node].details["adjoint"]
        assert adjoint["verdict"] == INCORRECT and not adjoint.get("consistent"), adjoint
        assert not adjoint.get("root_cause") and marks[node].reason == "adjoint: wrong"


def test_a_wrong_value_carried_forward_is_marked_consistent() -> None:
    # The student multiplies 3*2 = 7 and carries it: h = 7*2 = 14, o = 14^2 = 196; backward
    # h 2*14 = 28, h1 28*2 = 56, h2 28*7 = 196, x 56*2 = 112, y 56*3 + 196*1 = 364, z 196*2 = 392.
    graph, result = evaluate_program(DIAMOND, DIAMOND_AT)
    values = dict(DIAMOND_VALUES, h1=7, h=14, o=196)
    adjoints = {"o": 1, "h": 28, "h1": 56, "h2": 196, "x": 112, "y": 364, "z": 392}
    marks = _marks(check_table(graph, result, _table(values, adjoints)))

    h1 = marks["h1"].details["value"]
    assert h1["verdict"] == INCORRECT and h1.get("root_cause") is True
    assert h1["expected"] == 6
    for node in ("h", "o"):
        value = marks[node].details["value"]
        assert value["verdict"] == INCORRECT
        assert value.get("consistent") is True, marks[node]
        assert value["expected"] == DIAMOND_VALUES[node]
    for node in ("h", "h1", "h2", "x", "y", "z"):
        adjoint = marks[node].details["adjoint"]
        assert adjoint["verdict"] == INCORRECT
        assert adjoint.get("consistent") is True, marks[node]
        assert adjoint["expected"] == DIAMOND_ADJOINTS[node]
    for node in ("x", "y", "z", "h2"):
        assert marks[node].details["value"]["verdict"] == CORRECT
    assert marks["o"].details["adjoint"]["verdict"] == CORRECT


def test_only_a_wrong_value_with_true_numbers_after_it() -> None:
    # h1 value 7 then h 14: h is consistent with the student's h1 even though 14 is wrong.
    graph, result = evaluate_program(DIAMOND, DIAMOND_AT)
    rows = [TableRow("h1", 7.0, None), TableRow("h2", 2.0, None), TableRow("h", 14.0, None)]
    marks = _marks(check_table(graph, result, rows))
    assert marks["h1"].details["value"].get("root_cause") is True
    assert marks["h2"].verdict == CORRECT
    assert marks["h"].verdict == INCORRECT
    assert marks["h"].details["value"].get("consistent") is True
    assert "adjoint" not in marks["h"].details  # missing numbers are not graded


def test_a_right_table_is_all_correct() -> None:
    graph, result = evaluate_program(DIAMOND, DIAMOND_AT)
    items = check_table(graph, result, _table(DIAMOND_VALUES, DIAMOND_ADJOINTS))
    assert [item.verdict for item in items] == [CORRECT] * 7
    assert Report(tuple(items)).verdict == CORRECT


def test_read_table_formats() -> None:
    rows = read_table("node,value,adjoint\nh1,6,\nh2,,144\n", "t.csv")
    assert [(r.node, r.value, r.adjoint) for r in rows] == [("h1", 6.0, None),
                                                            ("h2", None, 144.0)]
    rows = read_table(" Node , Value \n h1 , 6.0 \n", "t.csv")
    assert [(r.node, r.value, r.adjoint, r.value_decimals) for r in rows] == [("h1", 6.0, None,
                                                                               1)]
    wrapped = read_table(json.dumps({"rows": [{"node": "h1", "value": 6, "adjoint": 48}]}), "t")
    assert [(r.node, r.value, r.adjoint) for r in wrapped] == [("h1", 6.0, 48.0)]


@pytest.mark.parametrize("text", [
    "x,3,96\ny,2,288\n",                       # no header
    "node,value,adjoint\nx,three,96\n",        # not a number
    "node,value,adjoint\n,3,96\n",             # no node name
    "name,score\nx,3\n",                       # wrong columns
    "[{\"node\": \"x\", \"value\": \"abc\"}]",  # JSON, not a number
    "[{\"node\": \"x\", \"value\": 3,]",       # JSON, invalid
    "[1, 2, 3]",                               # JSON, not objects
    "{\"x\": 3}",                              # JSON, no rows
])
def test_bad_tables_are_input_errors(text: str) -> None:
    with pytest.raises(InputError):
        read_table(text, "student.table")


def test_table_naming_an_unknown_node_is_an_input_error() -> None:
    graph, result = evaluate_program(DIAMOND, DIAMOND_AT)
    with pytest.raises(InputError, match="h9"):
        check_table(graph, result, [TableRow("h9", 1.0, 1.0)])


# ----------------------------------------------------------------------------------------------
# Jobs, batch lines and reports


def test_grade_line_for_both_kinds_of_problem() -> None:
    derivative = grade_line(json.dumps({"id": 7, "expr": ISSUE_EXPR, "wrt": "x",
                                        "answer": ISSUE_WRONG}), 1)
    assert derivative["id"] == JsonNumber("7") and derivative["line"] == 1  # kept as written
    assert derivative["verdict"] == INCORRECT
    example = derivative["items"][0]["counterexample"]
    assert close(example["expected"], true_derivative(ISSUE_EXPR, "x", example["at"]))

    claims = grade_line(json.dumps({"id": "c", "expr": DIAMOND, "at": {"x": 3, "y": 2, "z": 1},
                                    "expect": ["h1.adjoint=48", "h.value=12", "d/dy=288"]}), 2)
    assert claims["verdict"] == CORRECT
    assert [item["verdict"] for item in claims["items"]] == [CORRECT] * 3
    json.dumps({**derivative, "id": None}, allow_nan=False)
    json.dumps(claims, allow_nan=False)


def test_a_batch_record_can_carry_a_table() -> None:
    rows = json.loads((SAMPLES / "diamond_table.json").read_text(encoding="utf-8"))
    row = grade_line(json.dumps({"id": "t", "expr": DIAMOND, "at": DIAMOND_AT, "table": rows}), 1)
    assert row["verdict"] == INCORRECT
    h1 = next(item for item in row["items"] if item["label"] == "h1")
    assert h1["adjoint"]["root_cause"] is True


@pytest.mark.parametrize("line", [
    "{not json",
    "[1, 2]",
    "\"just a string\"",
    json.dumps({"id": 1}),
    json.dumps({"id": 1, "expr": "x^2", "wrt": ["x", "y"], "answer": "2x"}),
    json.dumps({"id": 1, "expr": "x^2", "wrt": 5, "answer": "2x"}),
    json.dumps({"id": 1, "expr": "x^2", "at": [1], "expect": ["d/dx=2"]}),
    json.dumps({"id": 1, "expr": "x^2"}),
])
def test_bad_batch_lines_raise_backprop_errors(line: str) -> None:
    with pytest.raises(BackpropError):
        grade_line(line, 3)


def test_an_unreadable_claim_in_a_batch_line_is_a_wrong_answer_beside_the_others() -> None:
    row = grade_line(json.dumps({"id": 1, "expr": "x^2", "at": {"x": 1},
                                 "expect": ["d/dx two", "d/dx=2"]}), 3)
    assert row["verdict"] == "incorrect"
    verdicts = {item["label"]: (item["verdict"], item.get("reason", ""))
                for item in row["items"]}
    assert verdicts["d/dx=2"] == ("correct", "")
    assert verdicts["d/dx two"][0] == "incorrect"
    assert verdicts["d/dx two"][1].startswith("not graded: cannot read claim 'd/dx two'")


def test_job_from_record_reads_lists_and_tolerances() -> None:
    item_id, job = job_from_record({"id": "q", "expr": "x*y", "wrt": ["x", "y"],
                                    "answer": ["y", "x"], "atol": 0.5})
    assert item_id == "q"
    assert job.answers == (("x", "y"), ("y", "x"))
    assert job.atol == 0.5


def test_report_verdict_and_document() -> None:
    right = Item("claim", "a", CORRECT)
    wrong = Item("claim", "b", INCORRECT)
    unsure = Item("derivative", "c", UNDETERMINED, reason="no valid points")
    assert Report((right,)).verdict == CORRECT
    assert Report((right, unsure)).verdict == UNDETERMINED
    assert Report((unsure, wrong, right)).verdict == INCORRECT
    document = Report((right, wrong)).to_dict()
    assert document["schema"] == 2 and document["ok"] is True
    assert document["verdict"] == INCORRECT
    assert [item["verdict"] for item in document["items"]] == [CORRECT, INCORRECT]


# ----------------------------------------------------------------------------------------------
# bounded.run_many / run_bounded: tiny functions in forked processes


def _sleep_then(seconds: float, value):
    time.sleep(seconds)
    return value


def _misbehave(how: str, value=None):
    if how == "exit":
        os._exit(3)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "raise":
        raise ValueError("boom")
    if how == "input":
        raise InputError("bad item")
    if how == "hang":
        while True:
            time.sleep(0.05)
    if how == "allocate":
        return len(bytearray(value))
    return value


def _memory_cap() -> int:
    """A cap 512 MiB above what this (soon forked) process already maps."""
    with open("/proc/self/status", encoding="ascii") as status:
        mapped_kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    return mapped_kib * 1024 + 512 * 1024**2


def test_run_many_keeps_input_order_when_tasks_finish_out_of_order() -> None:
    delays = [0.4, 0.0, 0.2, 0.0, 0.1, 0.0, 0.3, 0.0]
    outcomes = list(run_many(_sleep_then, [(d, i) for i, d in enumerate(delays)], timeout=10,
                             workers=3))
    assert [o.ok for o in outcomes] == [True] * len(delays)
    assert [o.value for o in outcomes] == list(range(len(delays)))


def test_run_many_one_worker_and_no_items() -> None:
    assert [o.value for o in run_many(_sleep_then, [(0, "a"), (0, "b")], 5, workers=1)] == \
        ["a", "b"]
    assert list(run_many(_sleep_then, [], 5, workers=2)) == []


def test_run_many_times_out_a_hanging_task_and_carries_on() -> None:
    items = [("ok", 1), ("hang",), ("ok", 3), ("hang",), ("ok", 5)]
    start = time.monotonic()
    outcomes = list(run_many(_misbehave, items, timeout=0.5, workers=2))
    assert time.monotonic() - start < 8
    assert [o.ok for o in outcomes] == [True, False, True, False, True]
    assert [o.value for o in outcomes if o.ok] == [1, 3, 5]
    for outcome in (outcomes[1], outcomes[3]):
        assert outcome.code == "timeout"
        assert "0.5" in outcome.reason


def test_run_many_survives_crashing_tasks() -> None:
    items = [("ok", 1), ("exit",), ("ok", 3), ("kill",), ("ok", 5), ("ok", 6)]
    outcomes = list(run_many(_misbehave, items, timeout=5, workers=2))
    assert [o.ok for o in outcomes] == [True, False, True, False, True, True]
    assert [o.value for o in outcomes if o.ok] == [1, 3, 5, 6]
    assert outcomes[1].code == "crashed" and outcomes[3].code == "crashed"
    assert outcomes[1].reason


def test_run_many_turns_exceptions_into_outcomes() -> None:
    outcomes = list(run_many(_misbehave, [("raise",), ("input",), ("ok", 3)], 5, workers=2))
    assert not outcomes[0].ok and outcomes[0].code == "error"
    assert outcomes[0].reason == "failed (boom)"
    assert not outcomes[1].ok and outcomes[1].code == "input_error"
    assert outcomes[1].reason == "bad item"
    assert outcomes[2].ok and outcomes[2].value == 3


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_run_many_caps_memory() -> None:
    # 1 GiB is fine without a cap (its pages are never touched) but over a cap 512 MiB away.
    cap = _memory_cap()
    assert run_bounded(_misbehave, ("allocate", 1024**3), 10, memory=2 * cap).value == 1024**3
    outcomes = list(run_many(_misbehave, [("allocate", 1024**3), ("ok", 2)], 10, workers=1,
                             memory=cap))
    assert not outcomes[0].ok and outcomes[0].code == "memory"
    assert outcomes[1].ok and outcomes[1].value == 2


def test_run_many_leaves_no_processes_behind() -> None:
    list(run_many(_misbehave, [("ok", 1), ("hang",), ("exit",)], 0.3, workers=2))
    assert multiprocessing.active_children() == []
    stream = run_many(_sleep_then, [(0, i) for i in range(10)], 5, workers=2)
    assert next(stream).value == 0
    stream.close()  # a consumer that stops early
    assert multiprocessing.active_children() == []


def test_run_bounded_outcomes() -> None:
    assert run_bounded(_misbehave, ("ok", 42), 5).value == 42
    start = time.monotonic()
    hung = run_bounded(_misbehave, ("hang",), 0.3)
    assert time.monotonic() - start < 5
    assert not hung.ok and hung.code == "timeout"
    assert run_bounded(_misbehave, ("exit",), 5).code == "crashed"
    raised = run_bounded(_misbehave, ("raise",), 5)
    assert not raised.ok and "boom" in raised.reason
    if Path("/proc/self/status").exists():
        capped = run_bounded(_misbehave, ("allocate", 1024**3), 10, memory=_memory_cap())
        assert capped.code == "memory"
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize(("text", "message"), [
    ('[{"node": "x", "value": true}]', "t.json row 1: value true is not a number"),
    ('[{"node": "h", "value": "0,62"}]',
     "t.json row 1: value '0,62' is not a number (use a decimal point: 0.62)"),
    ('node,value,adjoint\nh,"0,62",\n',
     "t.json line 2: value '0,62' is not a number (use a decimal point: 0.62)"),
])
def test_a_table_cell_that_is_not_a_number_is_shown_as_written(text, message) -> None:
    """JSON's true was echoed as Python's 'True', and a decimal comma in a table got no hint,
    where a claim's gets one."""
    with pytest.raises(InputError) as caught:
        read_table(text, "t.json")
    assert str(caught.value) == message
