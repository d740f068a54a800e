"""`backprop check` on the command line (issue 3): verdicts, counterexamples, claims, tables,
batches, JSON documents and exit codes, through Typer's CliRunner and once as a real process.

Oracles are independent of the code under test: SymPy's `diff` on the expression read with
SymPy's own parser (the same oracle as in tests/test_grading.py), and the diamond program at
(3, 2, 1) worked by hand: values h1 6, h2 2, h 12, o 144; adjoints h 24, h1 48, h2 144,
x 96, y 288, z 288.
For x*y + tanh(x) at (1, 2): d/dx = 3 - tanh(1)^2 = 2.419974...
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_checks import one_error_line as one_stderr_line
from cli_checks import strict_json
from grading_oracle import (
    DIAMOND,
    DIAMOND_ADJOINTS,
    DIAMOND_VALUES,
    ISSUE_EXPR,
    ISSUE_RIGHT,
    ISSUE_WRONG,
    TANH,
    TANH_DX,
    answer_value,
    close,
    true_derivative,
)
from typer.testing import CliRunner

from backprop_cli.cli import app

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "check"


DIAMOND_POINT = ("--at", "x=3,y=2,z=1")
SLOW = "(x+1)**40*(x-1)**40*sin(x)**20"
SLOW_RIGHT = ("40*(x+1)**39*(x-1)**40*sin(x)**20 + 40*(x+1)**40*(x-1)**39*sin(x)**20"
              " + 20*(x+1)**40*(x-1)**40*sin(x)**19*cos(x)")

runner = CliRunner()


def invoke(*args: str, env: dict | None = None):
    return runner.invoke(app, ["check", *args], env=env)


def check_json(*args: str, code: int) -> dict:
    result = invoke(*args, "--json")
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    document = strict_json(result.stdout)
    assert document["schema"] == 2 and document["ok"] is True
    assert document["verdict"] in ("correct", "incorrect", "undetermined")
    assert isinstance(document["items"], list) and document["items"]
    for item in document["items"]:
        assert item["verdict"] in ("correct", "incorrect", "undetermined")
    return document


def one_error_line(result) -> str:
    """Exit 2 and one clean error line (no internal error) for a CliRunner result."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout
    line = one_stderr_line(result.stderr)
    assert "internal error" not in line
    return line


def batch_rows(stdout: str) -> list[dict]:
    rows = [strict_json(line) for line in stdout.split("\n") if line.strip()]
    for row in rows:
        assert row["id"] is None or isinstance(row["id"], (str, int))  # as given
        assert isinstance(row["line"], int) and row["line"] >= 1
        assert row["verdict"] in ("correct", "incorrect", "undetermined", "error")
        if row["verdict"] == "error":
            assert set(row["error"]) >= {"code", "message"} and row["error"]["message"]
    return rows


def assert_not_executed(*outputs: str) -> None:
    """`echo pwned` would print a line that is exactly "pwned" (messages may quote the input)."""
    for output in outputs:
        assert "pwned" not in [line.strip() for line in output.splitlines()], output


def write_lines(path: Path, records: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records)
                    + "\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------
# 1. Formulas


def test_issue_right_answer_exits_0() -> None:
    document = check_json(ISSUE_EXPR, "--wrt", "x", "--answer", ISSUE_RIGHT, code=0)
    assert document["verdict"] == "correct"
    assert [item["verdict"] for item in document["items"]] == ["correct"]
    assert "counterexample" not in document["items"][0]


def test_issue_wrong_answer_exits_1_with_a_counterexample() -> None:
    document = check_json(ISSUE_EXPR, "--wrt", "x", "--answer", ISSUE_WRONG, code=1)
    assert document["verdict"] == "incorrect"
    (item,) = document["items"]
    assert item["verdict"] == "incorrect"
    example = item["counterexample"]
    assert set(example) == {"at", "expected", "given"}
    assert set(example["at"]) == {"x"}
    assert close(example["expected"], true_derivative(ISSUE_EXPR, "x", example["at"]))
    assert close(example["given"], answer_value(ISSUE_WRONG, example["at"]))
    assert not math.isclose(example["expected"], example["given"], rel_tol=1e-6)


def test_wrong_answer_table_shows_the_counterexample_numbers() -> None:
    result = invoke(ISSUE_EXPR, "--wrt", "x", "--answer", ISSUE_WRONG)
    assert result.exit_code == 1
    assert "✗" in result.stdout and "incorrect" in result.stdout


def test_exp_square_is_correct() -> None:
    check_json("(exp(x) + x)^2", "--wrt", "x", "--answer", "2(exp(x) + x)(exp(x) + 1)", code=0)


@pytest.mark.parametrize("answer, code", [("x/abs(x)", 0), ("x/sqrt(x^2)", 0), ("1", 1)])
def test_sqrt_of_square(answer: str, code: int) -> None:
    document = check_json("sqrt(x^2)", "--wrt", "x", "--answer", answer, code=code)
    if code == 1:
        example = document["items"][0]["counterexample"]
        assert example["at"]["x"] < 0
        assert example["expected"] == pytest.approx(-1.0)
        assert example["given"] == pytest.approx(1.0)


def test_several_partials_at_once() -> None:
    expr = "x^2*y + sin(y)"
    both = check_json(expr, "--wrt", "x", "--answer", "2x y", "--wrt", "y", "--answer",
                      "x^2 + cos(y)", code=0)
    assert [item["verdict"] for item in both["items"]] == ["correct", "correct"]
    one_wrong = check_json(expr, "--wrt", "x", "--answer", "2x y", "--wrt", "y", "--answer",
                           "x^2 - cos(y)", code=1)
    assert [item["verdict"] for item in one_wrong["items"]] == ["correct", "incorrect"]
    example = one_wrong["items"][1]["counterexample"]
    assert close(example["expected"], true_derivative(expr, "y", example["at"]))
    assert close(example["given"], answer_value("x^2 - cos(y)", example["at"]))


def test_an_answer_with_a_foreign_variable_is_incorrect() -> None:
    document = check_json("x^2", "--wrt", "x", "--answer", "2y", code=1)
    example = document["items"][0]["counterexample"]
    assert "y" in example["at"]
    assert close(example["given"], 2 * example["at"]["y"])
    assert close(example["expected"], 2 * example["at"]["x"])


def test_no_valid_points_is_undetermined_and_exits_1() -> None:
    document = check_json("sqrt(-1 - x^2)", "--wrt", "x", "--answer", "x", code=1)
    assert document["verdict"] == "undetermined"
    item = document["items"][0]
    assert item["verdict"] == "undetermined" and "point" in item["reason"].lower()


def test_a_hanging_formula_is_bounded_by_timeout() -> None:
    start = time.monotonic()
    result = invoke("x**(9**9**9)", "--wrt", "x", "--answer", "1", "--timeout", "1", "--json")
    assert time.monotonic() - start < 20
    assert result.exit_code in (1, 2)
    if result.exit_code == 1:
        assert strict_json(result.stdout)["verdict"] != "correct"


def test_derivative_in_terms_of_program_nodes() -> None:
    # For o = h*h with h = h1*h2, h2 = y*z: do/dx = 2h * h2 * y. A student may write it with the
    # program's own node names; the counterexample must not treat h and h2 as free variables.
    result = invoke(DIAMOND, "--wrt", "x", "--answer", "2 h h2 y", "--json")
    assert result.exit_code in (0, 2), result.stdout
    if result.exit_code == 0:
        assert strict_json(result.stdout)["verdict"] == "correct"


def test_wrt_an_intermediate_node_is_not_answered_with_a_zero_derivative() -> None:
    # do/dh1 = 2h * h2 in backprop terms; "the derivative is 0" (h1 as a fresh variable) is wrong.
    result = invoke(DIAMOND, "--wrt", "h1", "--answer", "2 h h2", "--json")
    assert result.exit_code in (0, 2), result.stdout
    if result.exit_code == 2:
        one_error_line(result)


@pytest.mark.parametrize("args", [
    ("x^2", "--answer", "2x"),                                  # --answer without --wrt
    ("x^2", "--wrt", "x"),                                      # --wrt without --answer
    ("x^2", "--wrt", "x", "--answer", "2x", "--wrt", "y"),      # counts differ
    ("x^2", "--wrt", "x", "--answer", ""),                      # empty answer
    ("x^2", "--wrt", "x", "--answer", "2x +"),                  # unparsable answer
    ("x^2", "--wrt", "x", "--answer", "__import__('os').system('echo pwned')"),
    ("x^2", "--wrt", "1x", "--answer", "2x"),                   # not a variable name
    ("--wrt", "x", "--answer", "2x"),                           # no expression
])
def test_bad_formula_input_exits_2_with_one_line(args, capfd) -> None:
    one_error_line(invoke(*args))
    assert_not_executed(*capfd.readouterr())


def test_bad_input_under_json_is_an_error_document() -> None:
    result = invoke("x^2", "--wrt", "x", "--answer", "2x +", "--json")
    assert result.exit_code == 2
    document = strict_json(result.stdout)
    assert document["ok"] is False and document["error"]["code"] and document["error"]["message"]


# ----------------------------------------------------------------------------------------------
# 2. Claims


def test_issue_diamond_claims_all_correct() -> None:
    claims = ["h.adjoint=24", "h1.adjoint=48", "h2.adjoint=144", "d/dy=288", "h.value=12"]
    args = [DIAMOND, *DIAMOND_POINT]
    for claim in claims:
        args += ["--expect", claim]
    document = check_json(*args, code=0)
    assert [item["label"] for item in document["items"]] == claims
    truth = [DIAMOND_ADJOINTS["h"], DIAMOND_ADJOINTS["h1"], DIAMOND_ADJOINTS["h2"],
             DIAMOND_ADJOINTS["y"], DIAMOND_VALUES["h"]]
    assert [item["expected"] for item in document["items"]] == truth
    assert all(item["verdict"] == "correct" for item in document["items"])


def test_diamond_claims_from_a_file_and_variables_as_options() -> None:
    result = invoke("--file", str(SAMPLES.parent / "diamond.bp"), "--x", "3", "--y", "2",
                    "--z", "1", "--expect", "h1.adjoint=48", "--expect", "d/dx=96")
    assert result.exit_code == 0, result.stderr
    assert "✓" in result.stdout and "✗" not in result.stdout
    assert "h1.adjoint=48" in result.stdout


def test_rounded_claims() -> None:
    right = check_json(TANH, "--at", "x=1,y=2", "--expect", "d/dx=2.42", code=0)
    assert right["items"][0]["expected"] == pytest.approx(TANH_DX, rel=1e-12)
    assert right["items"][0]["given"] == 2.42
    wrong = check_json(TANH, "--at", "x=1,y=2", "--expect", "d/dx=2.41", code=1)
    assert wrong["verdict"] == "incorrect"
    assert wrong["items"][0]["expected"] == pytest.approx(TANH_DX, rel=1e-12)
    table = invoke(TANH, "--at", "x=1,y=2", "--expect", "d/dx=2.41")
    assert table.exit_code == 1 and "✗" in table.stdout and "2.41" in table.stdout


@pytest.mark.parametrize("claim, options, code", [
    ("d/dx=2.41", ("--atol", "0.01"), 0),
    ("d/dx=2.41", ("--rtol", "0.005"), 0),
    ("d/dx=2.42", ("--atol", "1e-6"), 1),
    ("d/dx=2.42", ("--rtol", "1e-6"), 1),
    ("d/dx=2.419974", ("--rtol", "1e-6"), 0),
])
def test_tolerances_override_rounding(claim, options, code) -> None:
    check_json(TANH, "--at", "x=1,y=2", "--expect", claim, *options, code=code)


@pytest.mark.parametrize("claim", ["h1.adjoint=4x8", "dx=2", "h1.adjoint", "h1.slope=3",
                                   "h9.adjoint=48", "d/dw=1"])
def test_bad_claims_exit_2_with_one_line(claim: str) -> None:
    one_error_line(invoke(DIAMOND, *DIAMOND_POINT, "--expect", claim))


def test_claims_need_the_point() -> None:
    one_error_line(invoke(DIAMOND, "--at", "x=3,y=2", "--expect", "h1.adjoint=48"))


def test_a_hostile_point_is_refused(capfd) -> None:
    one_error_line(invoke(DIAMOND, "--at", "x=__import__('os').system('echo pwned'),y=2,z=1",
                          "--expect", "h1.adjoint=48"))
    assert_not_executed(*capfd.readouterr())


# ----------------------------------------------------------------------------------------------
# 3. Tables


def _rows_by_node(document: dict) -> dict[str, dict]:
    return {item["node"]: item for item in document["items"] if item["kind"] == "row"}


@pytest.mark.parametrize("name", ["diamond_table.csv", "diamond_table.json"])
def test_sample_table_names_h1_and_marks_x_y_consistent(name: str) -> None:
    document = check_json(DIAMOND, *DIAMOND_POINT, "--table", str(SAMPLES / name), code=1)
    assert document["verdict"] == "incorrect"
    rows = _rows_by_node(document)
    assert set(rows) == set(DIAMOND_VALUES)
    assert rows["h1"]["adjoint"]["root_cause"] is True
    assert rows["h1"]["adjoint"]["expected"] == 48 and rows["h1"]["adjoint"]["given"] == 50
    for node, given in (("x", 100), ("y", 294)):
        adjoint = rows[node]["adjoint"]
        assert adjoint["verdict"] == "incorrect" and adjoint["given"] == given
        assert adjoint["expected"] == DIAMOND_ADJOINTS[node]
        assert adjoint.get("consistent") is True and not adjoint.get("root_cause")
    for node in ("z", "h2", "h", "o"):
        assert rows[node]["verdict"] == "correct"
    roots = [n for n, row in rows.items() for k in ("value", "adjoint")
             if row.get(k, {}).get("root_cause")]
    assert roots == ["h1"]


def test_sample_table_as_rich_output() -> None:
    result = invoke("--file", str(SAMPLES.parent / "diamond.bp"), *DIAMOND_POINT, "--table",
                    str(SAMPLES / "diamond_table.csv"), env={"COLUMNS": "200"})
    assert result.exit_code == 1
    h1 = next(line for line in result.stdout.splitlines() if " h1 " in line)
    assert "root cause" in h1
    assert "consistent" in result.stdout


def test_wrong_value_makes_downstream_consistent(tmp_path: Path) -> None:
    table = tmp_path / "student.csv"
    table.write_text("node,value,adjoint\nx,3,\ny,2,\nz,1,\nh1,7,\nh2,2,\nh,14,\n",
                     encoding="utf-8")
    document = check_json(DIAMOND, *DIAMOND_POINT, "--table", str(table), code=1)
    rows = _rows_by_node(document)
    assert rows["h1"]["value"]["root_cause"] is True and rows["h1"]["value"]["expected"] == 6
    assert rows["h"]["value"]["verdict"] == "incorrect"
    assert rows["h"]["value"].get("consistent") is True
    assert rows["h"]["value"]["expected"] == 12
    for node in ("x", "y", "z", "h2"):
        assert rows[node]["verdict"] == "correct"


def test_a_right_table_exits_0(tmp_path: Path) -> None:
    table = tmp_path / "right.json"
    table.write_text(json.dumps([{"node": n, "value": DIAMOND_VALUES[n],
                                  "adjoint": DIAMOND_ADJOINTS[n]} for n in DIAMOND_VALUES]),
                     encoding="utf-8")
    document = check_json(DIAMOND, *DIAMOND_POINT, "--table", str(table), code=0)
    assert len(document["items"]) == 7


def test_a_spreadsheet_csv_with_bom_and_crlf(tmp_path: Path) -> None:
    table = tmp_path / "excel.csv"
    table.write_bytes("\ufeffnode,value,adjoint\r\nh1,6,48\r\nh,12,24\r\n".encode())
    check_json(DIAMOND, *DIAMOND_POINT, "--table", str(table), code=0)


@pytest.mark.parametrize(("name", "text"), [
    ("header.csv", "node,value,adjoint\n"), ("blank.csv", "node,value,adjoint\nx,,\n"),
    ("empty.json", "[]"), ("blank.json", '[{"node": "x"}, {"node": "h", "value": ""}]')])
def test_a_table_without_a_number_is_refused_not_graded_correct(tmp_path: Path, name: str,
                                                                 text: str) -> None:
    """A header alone was "nothing to check: ... or --table FILE" though --table was given,
    and a row with no numbers was graded correct (found in a new user's trial)."""
    table = tmp_path / name
    table.write_text(text, encoding="utf-8")
    line = one_error_line(invoke(DIAMOND, *DIAMOND_POINT, "--table", str(table)))
    assert f"{table}: the table has no numbers to check" in line


def test_a_batch_line_whose_table_has_no_number_says_so(tmp_path: Path) -> None:
    batch = write_lines(tmp_path / "b.jsonl", [{"expr": "x*y", "at": {"x": 1, "y": 2},
                                                "table": [{"node": "x"}]}])
    row = batch_rows(invoke("--batch", str(batch), "--json").stdout)[0]
    assert row["verdict"] == "error" and row["error"]["message"] == (
        "the \"table\" has no numbers to check: give each row a \"value\" and/or an "
        "\"adjoint\"")


def test_an_answer_written_1_over_2x_is_pointed_out() -> None:
    # d/dx sqrt(x) = 1/(2 sqrt(x)); `1/2sqrt(x)` is sqrt(x)/2, wrong, and says why it may be
    result = invoke("sqrt(x)", "--wrt", "x", "--answer", "1/2sqrt(x)")
    assert result.exit_code == 1
    assert result.stderr == ("warning: --answer '1/2sqrt(x)': '/2sqrt(...)' divides by 2 "
                             "only, then multiplies by sqrt(...): implicit multiplication "
                             "binds as * does, left to right; to divide by both write "
                             "/(2*sqrt(...))\n")


def test_a_blank_row_is_not_answered_and_the_table_warning_goes_to_stderr(tmp_path: Path
                                                                          ) -> None:
    table = tmp_path / "partial.csv"
    table.write_text(f"node,value,adjoint\nx,,\nh,{DIAMOND_VALUES['h']},\n", encoding="utf-8")
    result = invoke(DIAMOND, *DIAMOND_POINT, "--table", str(table), env={"COLUMNS": "50"})
    assert result.exit_code == 0, result.stderr
    assert "warning" not in result.stdout and "✓  x" not in result.stdout
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 2 and "no numbers for 6 node(s) (x, " in warning[0]
    assert warning[0].endswith("they are not graded")
    assert warning[1] == "warning: the table leaves 1 number(s) empty (h.adjoint); they are " \
        "not graded"


NEURON = ("--file", str(SAMPLES.parent / "neuron.bp"), "--w", "0.5", "--x", "2", "--b", "-0.5",
          "--t", "1")


def test_a_claim_about_an_unknown_statement_says_how_it_was_read() -> None:
    """`dq/dw` (no statement q) was graded as dL/dw without a word (found in a new user's
    trial): it still is (dJ/dw is common notation for a loss), and says so."""
    # dL/dw of the neuron is 2 (a - 1) a (1 - a) x with a = sigmoid(0.5): -0.354894
    document = check_json(*NEURON, "--expect", "dq/dw=2", "--expect", "dJ/dw=-0.355", code=1)
    wrong, right = document["items"]
    assert wrong["verdict"] == "incorrect" and right["verdict"] == "correct"
    read = "read as dL/dw: the program has no statement '{}' (statements: z, a, L)"
    assert read.format("q") in wrong["reason"] and right["reason"] == read.format("J")
    plain = check_json("x*y", "--x", "1", "--y", "2", "--expect", "df/dx=2", code=0)
    assert "reason" not in plain["items"][0]


def test_check_warns_of_what_grad_warns_of() -> None:
    """An unused --q and Euler's e were silent in `check` while `grad` warned of them."""
    result = invoke("x*y", "--x", "1", "--y", "2", "--q", "3", "--expect", "d/dx=2")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ("warning: variable 'q' was given a value but is not used; it is "
                             "ignored\n")
    document = check_json("e*x", "--x", "1", "--expect", "d/dx=2.72", code=0)
    assert document["warnings"] == ["'e' is Euler's number 2.71828...; give --e VALUE to use "
                                    "it as a variable"]


def test_a_number_that_rounds_to_zero_is_shown_without_a_minus_sign() -> None:
    # dL/dw of the neuron is 2 (a - 1) a (1 - a) with a = sigmoid(0.5) = 0.6225: -0.354894
    document = check_json(*NEURON, "--expect", "dL/dw=12", code=1)
    assert "-0.354894 rounds to 0 at 0 decimal places, not 12" in document["items"][0]["reason"]


def test_a_node_listed_twice_is_not_graded_against_the_other_row(tmp_path: Path) -> None:
    table = tmp_path / "twice.csv"
    table.write_text("node,value,adjoint\nx,3,96\nx,4,96\n", encoding="utf-8")
    result = invoke(DIAMOND, *DIAMOND_POINT, "--table", str(table), "--json")
    if result.exit_code == 2:
        one_error_line(result)
        return
    rows = [item for item in strict_json(result.stdout)["items"] if item["kind"] == "row"]
    assert [(r["value"]["given"], r["value"]["verdict"]) for r in rows] == \
        [(3, "correct"), (4, "incorrect")]


@pytest.mark.parametrize("name, text", [
    ("nohead.csv", "x,3,96\ny,2,288\n"),
    ("nan.csv", "node,value,adjoint\nx,three,96\n"),
    ("unknown.csv", "node,value,adjoint\nq,3,96\n"),
    ("bad.json", "[{\"node\": \"x\", \"value\": \"abc\"}]"),
    ("broken.json", "[{\"node\": \"x\", "),
    ("empty.csv", ""),
])
def test_bad_table_files_exit_2_with_one_line(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    one_error_line(invoke(DIAMOND, *DIAMOND_POINT, "--table", str(path)))


def test_missing_table_file_exits_2(tmp_path: Path) -> None:
    one_error_line(invoke(DIAMOND, *DIAMOND_POINT, "--table", str(tmp_path / "nope.csv")))


# ----------------------------------------------------------------------------------------------
# 4. Batches


def _claim_truth(record: dict, claim: str) -> float:
    """Hand-worked truth for the sample's claims (see the module docstring)."""
    target, _, _ = claim.partition("=")
    if record["expr"] == DIAMOND:
        if target.startswith("d/d"):
            return DIAMOND_ADJOINTS[target[3:]]
        node, _, kind = target.partition(".")
        return (DIAMOND_ADJOINTS if kind == "adjoint" else DIAMOND_VALUES)[node]
    assert record["expr"] == TANH and record["at"] == {"x": 1, "y": 2}
    return {"d/dx": TANH_DX, "d/dy": 1.0}[target]


def _oracle_verdict(record: dict) -> str:
    """Correct iff every answer equals SymPy's derivative at fixed real points (where both
    sides are real) and every claim is the hand-worked truth rounded to the decimals given."""
    verdicts = []
    wrt = record.get("wrt", [])
    answers = record.get("answer", [])
    wrt, answers = ([wrt], [answers]) if isinstance(wrt, str) else (wrt, answers)
    for variable, answer in zip(wrt, answers, strict=True):
        agree = []
        for k, base in enumerate((-2.3, -0.7, 0.45, 1.3, 2.9)):
            point = {name: base + 0.37 * j * (k + 1) for j, name in enumerate("xyzwb")}
            try:
                truth = true_derivative(record["expr"], variable, point)
                given = answer_value(answer, point)
            except (AssertionError, TypeError, ZeroDivisionError):
                continue  # outside the real domain of one side
            agree.append(close(truth, given, 1e-9))
        assert len(agree) >= 3, record
        verdicts.append(all(agree))
    for claim in record.get("expect", []):
        number = claim.partition("=")[2]
        decimals = len(number.partition(".")[2])
        verdicts.append(round(_claim_truth(record, claim), decimals) == float(number))
    return "correct" if all(verdicts) else "incorrect"


def test_sample_batch_verdicts_match_the_oracles() -> None:
    path = SAMPLES / "batch.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
               if line.strip()]
    assert len(records) >= 12
    assert any("answer" in r for r in records) and any("expect" in r for r in records)
    expected = [_oracle_verdict(record) for record in records]
    assert {"correct", "incorrect"} <= set(expected)

    result = invoke("--batch", str(path), "--json")
    assert result.exit_code == 1, result.stderr
    rows = batch_rows(result.stdout)
    assert [row["id"] for row in rows] == [str(r["id"]) for r in records]
    assert [row["verdict"] for row in rows] == expected
    for record, row in zip(records, rows, strict=True):
        for item in row["items"]:
            if item["kind"] == "derivative" and item["verdict"] == "incorrect":
                example = item["counterexample"]
                wrt = item["label"].split(" ")[0][3:]  # "d/dx = ..." -> "x"
                assert close(example["expected"], true_derivative(record["expr"], wrt,
                                                                  example["at"]))


def test_sample_batch_summary_table() -> None:
    result = invoke("--batch", str(SAMPLES / "batch.jsonl"))
    assert result.exit_code == 1
    assert "alice-1" in result.stdout and "bob-2" in result.stdout
    assert "incorrect" in result.stdout


def test_a_batch_summary_names_the_root_cause_of_hand_in_lines(tmp_path: Path) -> None:
    # the diamond with h1's adjoint 50 (true 48): x = 2·50 and y = 3·50 + 144 follow from it
    path = write_lines(tmp_path / "lines.jsonl", [
        {"id": "kim", "expr": DIAMOND, "at": {"x": 3, "y": 2, "z": 1},
         "expect": ["d/dx=100", "h1.adjoint=50", "d/dy=294"]}])
    result = invoke("--batch", str(path))
    assert result.exit_code == 1
    assert "h1.adjoint=50: root cause (later numbers follow from it), true 48" in " ".join(
        result.stdout.split())
    items = batch_rows(invoke("--batch", str(path), "--json").stdout)[0]["items"]
    assert [bool(item.get("consistent")) for item in items] == [True, False, True]


def test_an_all_correct_batch_exits_0(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "good.jsonl", [
        {"id": 1, "expr": ISSUE_EXPR, "wrt": "x", "answer": ISSUE_RIGHT},
        {"id": 2, "expr": DIAMOND, "at": {"x": 3, "y": 2, "z": 1},
         "expect": ["h1.adjoint=48", "h.value=12", "d/dy=288"]},
        {"id": 3, "expr": TANH, "at": {"x": 1, "y": 2}, "expect": ["d/dx=2.42"]},
    ])
    result = invoke("--batch", str(path), "--json")
    assert result.exit_code == 0, result.stdout
    assert [(r["id"], r["verdict"]) for r in batch_rows(result.stdout)] == \
        [(1, "correct"), (2, "correct"), (3, "correct")]  # ids keep their JSON type


HOSTILE = [
    {"id": "right", "expr": ISSUE_EXPR, "wrt": "x", "answer": ISSUE_RIGHT},
    {"id": "inject", "expr": "__import__('os').system('echo pwned')", "wrt": "x",
     "answer": "1"},
    {"id": "inject-answer", "expr": "x^2", "wrt": "x",
     "answer": "__import__('os').system('echo pwned')"},
    {"id": "inject-at", "expr": "x^2", "at": {"x": "__import__('os').system('echo pwned')"},
     "expect": ["d/dx=2"]},
    {"id": "tower", "expr": "x**(9**9**9)", "wrt": "x", "answer": "1"},
    {"id": "slow-wrong", "expr": SLOW, "wrt": "x", "answer": "1"},
    {"id": "slow-right", "expr": SLOW, "wrt": "x", "answer": SLOW_RIGHT},
    "{this is not json",
    "[1, 2, 3]",
    {"id": "no-expr"},
    {"id": "wrong", "expr": ISSUE_EXPR, "wrt": "x", "answer": ISSUE_WRONG},
    {"id": "claims", "expr": DIAMOND, "at": {"x": 3, "y": 2, "z": 1},
     "expect": ["h1.adjoint=48", "h.value=12", "d/dy=288"]},
    {"id": "rounded", "expr": TANH, "at": {"x": 1, "y": 2}, "expect": ["d/dx=2.41"]},
]


def _assert_hostile_rows(rows: list[dict]) -> None:
    assert len(rows) == len(HOSTILE)
    ids = [row["id"] for row in rows]
    assert ids[:7] == ["right", "inject", "inject-answer", "inject-at", "tower", "slow-wrong",
                       "slow-right"]
    assert ids[9:] == ["no-expr", "wrong", "claims", "rounded"]
    verdict = {row["id"]: row["verdict"] for row in rows}
    for bad in ("inject", "inject-answer", "inject-at", "no-expr"):
        assert verdict[bad] == "error", rows
    assert rows[7]["verdict"] == "error" and rows[8]["verdict"] == "error"
    assert verdict["tower"] in ("error", "undetermined")
    assert verdict["slow-wrong"] in ("error", "incorrect")  # never "correct"
    assert verdict["slow-right"] == "correct"
    assert verdict["right"] == "correct" and verdict["claims"] == "correct"
    assert verdict["wrong"] == "incorrect" and verdict["rounded"] == "incorrect"
    wrong = rows[ids.index("wrong")]["items"][0]["counterexample"]
    assert close(wrong["expected"], true_derivative(ISSUE_EXPR, "x", wrong["at"]))
    assert close(wrong["given"], answer_value(ISSUE_WRONG, wrong["at"]))


def test_hostile_batch_as_a_real_process(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "hostile.jsonl", HOSTILE)
    command = Path(sys.executable).with_name("backprop")
    executable = str(command) if command.exists() else shutil.which("backprop")
    assert executable, "backprop is not installed"
    start = time.monotonic()
    process = subprocess.run([executable, "check", "--batch", str(path), "--json", "--timeout",
                              "1"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    elapsed = time.monotonic() - start
    assert elapsed < 30, f"the batch took {elapsed:.1f} s with --timeout 1"
    assert process.returncode == 1, process.stderr
    assert_not_executed(process.stdout, process.stderr)
    assert process.stderr.strip() == ""  # no progress bar or noise when not on a terminal
    _assert_hostile_rows(batch_rows(process.stdout))


def test_hostile_batch_summary_in_process(tmp_path: Path, capfd) -> None:
    path = write_lines(tmp_path / "hostile.jsonl", HOSTILE)
    result = invoke("--batch", str(path), "--timeout", "1")
    assert result.exit_code == 1
    assert "right" in result.stdout and "rounded" in result.stdout
    assert "error" in result.stdout
    captured = capfd.readouterr()
    assert_not_executed(result.stdout, result.stderr, captured.out, captured.err)


@pytest.mark.parametrize("args, content", [
    (("x^2", "--batch"), "{\"id\": 1, \"expr\": \"x\", \"wrt\": \"x\", \"answer\": \"1\"}\n"),
    (("--expect", "d/dx=1", "--batch"), "{\"id\": 1, \"expr\": \"x\"}\n"),
    (("--batch",), ""),
    (("--batch",), "\n\n   \n"),
])
def test_bad_batch_invocations_exit_2(tmp_path: Path, args, content: str) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text(content, encoding="utf-8")
    one_error_line(invoke(*args, str(path)))


def test_missing_batch_file_exits_2(tmp_path: Path) -> None:
    one_error_line(invoke("--batch", str(tmp_path / "missing.jsonl")))


@pytest.mark.parametrize(("program", "wrt", "hint"), [
    ("w1*x", "W1", "did you mean w1?"),
    ("h = w1*x; o = h^2", "hh", "statements: h, o; did you mean h?"),
    ("x*y", "q", "variables: x, y)"),
])
def test_a_derivative_by_a_name_the_program_lacks_is_refused(program, wrt, hint):
    # d/dW1 of w1*x is 0 only because W1 is not in the program: grading "0" as correct would
    # reward a misspelt variable.
    line = one_error_line(runner.invoke(app, ["check", program, "--wrt", wrt, "--answer", "0"]))
    assert f"cannot take d/d{wrt}: the program has no variable or statement '{wrt}'" in line
    assert hint in line


def test_an_answer_that_cannot_be_read_is_named():
    line = one_error_line(runner.invoke(app, ["check", "x^2", "--wrt", "x", "--answer", "2x",
                                              "--wrt", "x", "--answer", "tanhh(x)"]))
    assert line.startswith("error: answer 2 to d/dx, 'tanhh(x)': unknown function 'tanhh'; "
                           "did you mean tanh?")


def _claims(*args: str) -> dict:
    result = runner.invoke(app, ["check", "x*y + tanh(x)", "--at", "x=1,y=2", *args, "--json"])
    return {item["label"]: item for item in strict_json(result.stdout)["items"]}


def test_a_claim_missed_by_rounding_says_what_the_true_value_rounds_to():
    true = 2 + 1 / math.cosh(1) ** 2  # d/dx of x*y + tanh(x) at x=1, y=2
    item = _claims("--expect", "d/dx=2.41")["d/dx=2.41"]
    assert item["verdict"] == "incorrect"
    assert item["reason"] == f"{true:.6g} rounds to {true:.2f} at 2 decimal places, not 2.41"


def test_decimals_grades_every_number_at_that_many_places():
    claims = ("--expect", "d/dx=2.4", "--expect", "d/dx=2.420", "--expect", "d/dx=2.4199743")
    as_written = _claims(*claims)
    at_two = _claims(*claims, "--decimals", "2")
    assert [item["verdict"] for item in as_written.values()] == ["correct"] * 3
    assert [item["verdict"] for item in at_two.values()] == ["incorrect", "correct", "correct"]


def test_decimals_applies_to_tables_and_batches(tmp_path):
    table = tmp_path / "answers.csv"
    table.write_text("node,value,adjoint\nx,1,2.4\n")
    args = ["check", "x*y + tanh(x)", "--at", "x=1,y=2", "--table", str(table)]
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, [*args, "--decimals", "2"]).exit_code == 1
    batch = tmp_path / "class.jsonl"
    batch.write_text('{"id": 1, "expr": "x*y + tanh(x)", "at": {"x": 1, "y": 2}, '
                     '"expect": ["d/dx=2.4"]}\n')
    assert runner.invoke(app, ["check", "--batch", str(batch)]).exit_code == 0
    assert runner.invoke(app, ["check", "--batch", str(batch), "--decimals", "2"]).exit_code == 1


def test_a_batch_shows_a_tables_root_cause_before_the_rows_that_follow_from_it(tmp_path):
    # z's adjoint is wrong; the rows for w and x come first in the table and carry it forward
    line = {"id": "s1", "expr": "z = w*x + b; a = sigmoid(z); L = (a - t)**2",
            "at": {"w": 0.5, "x": 2, "b": -0.5, "t": 1},
            "table": [{"node": "w", "value": 0.5, "adjoint": -0.47},
                      {"node": "x", "value": 2, "adjoint": -0.1175},
                      {"node": "z", "value": 0.5, "adjoint": -0.235}]}
    batch = tmp_path / "class.jsonl"
    batch.write_text(json.dumps(line) + "\n")
    result = runner.invoke(app, ["check", "--batch", str(batch)], env={"COLUMNS": "200"})
    sigma = 1 / (1 + math.exp(-0.5))
    true = 2 * (sigma - 1) * sigma * (1 - sigma)  # dL/dz
    assert (f"z.adjoint: root cause (later numbers follow from it), true {true:.6g}, given -0.235"
            in result.stdout)


def _marks(program: str, point: str, table_text: str, tmp_path) -> dict:
    table = tmp_path / "table.csv"
    table.write_text(table_text)
    result = runner.invoke(app, ["check", program, "--at", point, "--table", str(table),
                                 "--json"])
    return {item["node"]: item for item in strict_json(result.stdout)["items"]}


def test_error_carried_forward_through_nodes_the_table_leaves_out(tmp_path):
    # samples/neuron.bp: the student's z adjoint is wrong (-0.235); w's is -0.235·x and x's is
    # -0.235·w, right by their own numbers, though z = w*x + b has a generated node for w*x
    # that no student writes.
    program = (Path(__file__).parent.parent / "samples" / "neuron.bp").read_text()
    marks = _marks(program, "w=0.5,x=2,b=-0.5,t=1",
                   "node,value,adjoint\nw,0.5,-0.47\nx,2,-0.1175\nz,0.5,-0.235\n", tmp_path)
    assert marks["z"]["adjoint"].get("root_cause")
    for node in ("w", "x"):
        assert marks[node]["adjoint"]["verdict"] == "incorrect"
        assert "consistent" in marks[node]["reason"], marks[node]


def test_a_wrong_value_is_carried_forward_through_an_omitted_node(tmp_path):
    # h is wrong (8, true 6); o = (h + 1)^2 = 81 follows from it through the unnamed h + 1
    marks = _marks("h = x*y; o = (h + 1)^2", "x=3,y=2", "node,value\nh,8\no,81\n", tmp_path)
    assert marks["h"]["value"].get("root_cause")
    assert "consistent" in marks["o"]["reason"], marks["o"]


@pytest.mark.parametrize(("typo", "option"), [
    (["--decimal", "2"], "--decimals"), (["--digit", "2"], "--digits"),
    (["--rtl", "0.0001"], "--rtol"), (["--tmeout", "10"], "--timeout")])
def test_a_misspelt_option_with_a_number_is_refused_not_taken_for_a_variable(typo, option):
    """`--decimal 2` was taken for a variable nothing uses: the claim was graded as written
    (correct, exit 0) where --decimals 2 grades it incorrect; grad refused the same typo."""
    result = invoke("x*y + tanh(x)", "--x", "1", "--y", "2", "--expect", "d/dx=2.4", *typo)
    assert result.exit_code == 2
    assert one_stderr_line(result.stderr) == \
        f"error: unknown option {typo[0]} (did you mean {option}?)"
    formula = invoke("x^2", "--wrt", "x", "--answer", "2x", *typo)
    assert formula.exit_code == 2, formula.stdout


def test_an_option_with_two_letters_swapped_is_named():
    result = invoke("x^2", "--wtr", "x", "--answer", "2x")
    assert result.exit_code == 2
    assert one_stderr_line(result.stderr) == "error: unknown option --wtr (did you mean --wrt?)"


def test_a_variable_named_like_an_option_the_program_uses_is_a_variable():
    result = invoke("decimal*2", "--decimal", "1", "--expect", "d/ddecimal=2")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(("program", "answer", "hint"), [
    ("x^3", "3*X^2", "your answer uses 'X', which the problem does not have (variables: x); "
                     "did you mean 'x'?"),
    ("x^3*y", "3yx^2", "your answer uses 'yx', which the problem does not have (variables: x, "
                       "y): 'yx' is one name; write y*x for a product"),
    ("x^3*y", "3*x^2*z", "your answer uses 'z', which the problem does not have (variables: "
                         "x, y)")])
def test_an_answer_with_a_name_the_problem_does_not_have_says_so(program, answer, hint):
    """`3*X^2` and `3yx^2` were graded only by a counterexample at X = 0.689 or yx = -0.159,
    with no word that the name is not the problem's."""
    result = invoke(program, "--wrt", "x", "--answer", answer, "--json")
    assert result.exit_code == 1
    item = strict_json(result.stdout)["items"][0]
    assert item["verdict"] == "incorrect"
    assert item["reason"] == hint
    shown = invoke(program, "--wrt", "x", "--answer", answer, "--digits", "3")
    assert " ".join(shown.stdout.split()).count(hint.split(" (")[0]) == 1


def test_a_name_that_cancels_out_is_still_graded_by_its_value():
    result = invoke("x^3", "--wrt", "x", "--answer", "3*x^2 + a - a", "--json")
    assert strict_json(result.stdout)["verdict"] == "correct"


def test_a_counterexample_shows_numbers_that_differ():
    """At 6 digits the counterexample read "the derivative is 0.00806679, your answer gives
    0.00806679"; the numbers are shown to as many digits as tell them apart."""
    result = invoke("exp(x)", "--wrt", "x", "--answer", "exp(x) + 1e-9", "--json")
    example = strict_json(result.stdout)["items"][0]["counterexample"]
    x = example["at"]["x"]
    shown = " ".join(invoke("exp(x)", "--wrt", "x", "--answer", "exp(x) + 1e-9").stdout.split())
    true, given = f"{math.exp(x):.7g}", f"{math.exp(x) + 1e-9:.7g}"
    assert true != given
    assert f"the derivative is {true}, your answer gives {given}" in shown


def test_a_number_graded_at_many_places_shows_the_truth_to_them():
    """"1.23457 rounds to 1.2345678 at 7 decimal places" showed the truth to 6 digits."""
    result = invoke("x*y", "--x", "1.2345678", "--y", "1", "--expect", "d/dy=1.2345679")
    assert "1.2345678 rounds to 1.2345678 at 7 decimal places, not 1.2345679" in \
        " ".join(result.stdout.split())


DIAMOND_TABLE = ("node,value,adjoint\nx,3,96\ny,2,288\nh1,6,48\nz,1,288\nh2,2,144\nh,12,24\n"
                 "o,144,1\n")  # samples/diamond.bp at x = 3, y = 2, z = 1 (its README figures)


@pytest.mark.parametrize(("change", "left", "warning"), [
    (lambda text: text.replace("z,1,288\n", ""), 2,
     "the table has no numbers for 1 node(s) (z); they are not graded"),
    (lambda text: "\n".join(line.rsplit(",", 1)[0] + "," if k else line
                            for k, line in enumerate(text.splitlines())), 7,
     "the table gives no adjoints; they are not graded"),
    (lambda text: text.replace("h2,2,144", "h2,2,"), 1,
     "the table leaves 1 number(s) empty (h2.adjoint); they are not graded")])
def test_an_incomplete_table_says_so_in_its_verdict(tmp_path, change, left, warning):
    """A table with a row or a column left out read "verdict: correct", exit 0, with at most
    a warning for a missing row and nothing for empty cells."""
    table = tmp_path / "table.csv"
    table.write_text(change(DIAMOND_TABLE))
    program = str(Path(__file__).parent.parent / "samples" / "diamond.bp")
    result = invoke("--file", program, "--x", "3", "--y", "2", "--z", "1", "--table", str(table))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == \
        f"verdict: correct ({left} of the table's 14 numbers not answered)"
    assert f"warning: {warning}" in result.stderr.splitlines()
    document = strict_json(invoke("--file", program, "--x", "3", "--y", "2", "--z", "1",
                                  "--table", str(table), "--json").stdout)
    assert document["table_not_answered"] == {"numbers": left, "of": 14}
    table.write_text(DIAMOND_TABLE)
    whole = invoke("--file", program, "--x", "3", "--y", "2", "--z", "1", "--table", str(table))
    assert whole.stdout.splitlines()[-1] == "verdict: correct" and not whole.stderr


def test_a_one_digit_whole_number_is_read_to_one_decimal_place(tmp_path):
    """`d/dx=2` for x*y + tanh(x) (2.41997: y + sech²(1) by hand, so 2 leaves the tanh path
    out), dL/dw=0 for -0.3549 and a table of zeros and ones read "verdict: correct", a whole
    number being graded to the nearest whole number (2 accepting 1.5 to 2.5). A one-digit whole
    number is now read as n.0; true values from samples/neuron.bp's published figures (dL/dw =
    -0.35489, dL/dt = 0.75508)."""
    item = check_json("x*y + tanh(x)", "--x", "1", "--y", "2", "--expect", "d/dx=2",
                      code=1)["items"][0]
    assert item["verdict"] == "incorrect"
    assert item["reason"].endswith("2.41997 rounds to 2.4 at 1 decimal place, not 2.0")
    assert "kept only the path through x*y" in item["reason"]
    result = invoke(*NEURON, "--expect", "dL/dw=0", "--expect", "dL/dt=1", "--json")
    assert [item["verdict"] for item in strict_json(result.stdout)["items"]] == \
        ["incorrect", "incorrect"]
    assert invoke(*NEURON, "--expect", "dL/dw=0", "--decimals", "0").exit_code == 0
    assert invoke(*NEURON, "--expect", "x.value=2").exit_code == 0
    table = tmp_path / "zeros.csv"
    table.write_text("node,value,adjoint\nw,0,0\nx,2,0\n")
    assert invoke(*NEURON, "--table", str(table)).exit_code == 1


def test_a_larger_whole_number_accepted_as_written_is_warned_of():
    """47.7 (10 × 4.77) claimed as 48: right to the nearest whole number, wrong to one
    decimal place, which a warning says."""
    result = invoke("L = 10*x", "--x", "4.77", "--expect", "L.value=48")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "warning: L.value=48 was accepted as written, to the nearest whole number (48 accepts "
        "47.5 to 48.5), though wrong to one decimal place; --decimals N grades every number at "
        "N places"]


def test_a_lost_minus_through_a_minus_one_is_a_sign_flip_named_once(tmp_path):
    """dL/dt through a - t (local derivative -1) given as -0.7551 for 0.755081 was "the path
    through a - t used only a - t's adjoint, without the local derivative da - t/dt = -1",
    after a bare "adjoint: wrong"."""
    table = tmp_path / "t.csv"
    table.write_text("node,value,adjoint\nt,1,-0.7551\n")
    item = strict_json(invoke(*NEURON, "--table", str(table), "--json").stdout)["items"][0]
    assert item["adjoint"]["misconception"]["code"] == "sign_flip"
    assert item["reason"] == ("adjoint: the sign is flipped: a minus sign was lost or added on "
                              "the way to t's adjoint")


def test_a_generated_step_is_written_in_parentheses_in_a_derivative():
    """dL/dw given as the adjoint of w*x alone read "without the local derivative dw*x/dw"."""
    item = strict_json(invoke(*NEURON, "--expect", "dL/dw=-0.1774", "--json").stdout)["items"][0]
    assert "without the local derivative d(w*x)/dw = 2" in item["reason"], item["reason"]


@pytest.mark.parametrize(("args", "message"), [
    (["--expect", "d2/dx2=2"], "claim 'd2/dx2=2': a second derivative is not a claim of a "
                               "backprop table; backprop hessian gives second derivatives"),
    (["--expect", "x.valeu=2"], "cannot read claim 'x.valeu=2': 'valeu' is not a quantity; "
                                "write x.value=... or x.adjoint=...; did you mean 'value'?"),
    (["--expect", "d/dx=2,42"], "cannot read claim 'd/dx=2,42' (use a decimal point: 2.42); "
                                "write d/dx=2.42, h1.adjoint=48, h.value=12 or da/dz=0.42"),
])
def test_a_claim_that_cannot_be_read_says_what_to_change(args, message):
    """d2/dx2=2 said "'x2' is not an input of '2'"; x.valeu and 2,42 got the generic line."""
    result = invoke("x^2", "--x", "1", *args)
    assert result.exit_code == 2
    assert one_stderr_line(result.stderr) == f"error: {message}"


def test_an_array_claim_that_cannot_be_read_names_the_claim():
    result = invoke("L = sum(W)", "--W", "[[1, 2]]", "--expect", "d/dW=[[1, 2]")
    assert result.exit_code == 2
    assert one_stderr_line(result.stderr).startswith(
        "error: claim 'd/dW=[[1, 2]': the claimed array is not an array of numbers")


@pytest.mark.parametrize("at", ["x=1;y=2", "x=1 y=2"])
def test_at_pairs_separated_otherwise_than_by_commas_are_pointed_out(at):
    """--at "x=1;y=2" said "only the last statement may be a bare expression"."""
    result = invoke("x^2 + y", "--at", at, "--expect", "d/dx=2")
    assert result.exit_code == 2
    assert one_stderr_line(result.stderr) == (
        f"error: --at {at!r}: separate the NAME=VALUE pairs with commas, as in --at x=1,y=2")


def test_a_batch_summary_names_the_mistake(tmp_path):
    """The batch table showed only "d/dy=144: true value 288" where the JSON names
    fanout_overwritten (the README's diamond: y's adjoint sums its two paths, 288)."""
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"id": "dan-2", "expr": "h1 = x*y; h2 = y*z; h = h1*h2; o = h*h",
                                 "at": {"x": 3, "y": 2, "z": 1}, "expect": ["d/dy=144"]}) + "\n")
    shown = " ".join(invoke("--batch", str(batch)).stdout.split())
    assert "d/dy=144: y's adjoint was overwritten (=) instead of summed (+=)" in shown
    assert shown.count("true value 288") == 1


@pytest.mark.parametrize(("claim", "message"), [
    ("dA/dw=2", "claim 'dA/dw=2': the program has no statement 'A'; did you mean 'a'?"),
    ("hh.adjoint=1", "claim 'hh.adjoint=1': no node 'hh' (names: w, x, b, a, h, q, t, L); "
                     "did you mean 'h'?"),
    ("dL/dW=1", "claim 'dL/dW=1': 'W' is not a variable of the program (variables: w, x, b, "
                "t); did you mean 'w'?"),
    ("dL/dx=", "claim 'dL/dx=' has no number after its '='"),
])
def test_a_claim_naming_what_the_program_lacks_suggests_the_name(claim, message):
    """dA/dw for the statement a was read as dL/dw, and clashed with the student's own dL/dw;
    hh.adjoint and dL/dW listed the names without a suggestion."""
    result = invoke("a = w*x + b; h = sigmoid(a); q = h*w; L = 0.5*(q - t)**2",
                    "--at", "w=0.7,x=2,b=0.1,t=1", "--expect", claim)
    assert result.exit_code == 2
    assert one_stderr_line(result.stderr) == f"error: {message}"


def test_a_roster_slip_suggests_only_a_change_of_case():
    """'alam' was told 'did you mean alan?': a classmate's id, which an autograder shows the
    student. Only a case slip (Ada for ada) is suggested."""
    assignment = str(SAMPLES.parent / "teacher" / "hw3" / "assignment.json")
    near = invoke("--assignment", assignment, "--student", "alam", "--expect", "d/dx=1")
    assert one_stderr_line(near.stderr) == \
        "error: student 'alam' is not on the assignment's roster"
    case = invoke("--assignment", assignment, "--student", "ADA", "--expect", "d/dx=1")
    assert one_stderr_line(case.stderr).endswith("did you mean 'ada'?")


def test_an_assignment_table_counts_no_numbers_it_never_asked_for(tmp_path):
    """With --assignment, the questions say what is unanswered: a table of adjoints only was
    'correct (4 of the table's 8 numbers not answered)' with a warning about values."""
    assignment = str(SAMPLES.parent / "teacher" / "hw3" / "assignment.json")
    table = tmp_path / "t.csv"
    table.write_text("node,adjoint\nh,-1.51\n")
    result = invoke("--assignment", assignment, "--student", "ada", "--table", str(table))
    assert "numbers not answered" not in result.stdout
    assert "gives no values" not in result.stderr


def test_minus_zero_and_a_thousands_separator_read_plainly():
    zero = check_json(*NEURON, "--expect", "dL/dw=-0", code=1)
    assert zero["items"][0]["reason"].endswith("rounds to -0.4 at 1 decimal place, not 0.0")
    thousands = invoke("x^2", "--x", "1", "--expect", "d/dx=1,000")
    assert "decimal point" not in thousands.stderr


def test_a_formula_check_that_times_out_is_labelled_as_the_answer(monkeypatch):
    """The row of a timed-out formula check was one item labelled with the problem's text, so
    a rubric scored the answered question 'not answered'."""
    from backprop_cli.bounded import Outcome
    from backprop_cli.grading import batch
    from backprop_cli.grading.jobs import Job

    monkeypatch.setattr(batch, "run_bounded", lambda *args: Outcome(
        False, code="timeout", reason="timed out after 1 s"))
    report = batch.grade_bounded(Job("x^3*y", (("x", "3x^2 y"), ("y", "x^3")), (), (), ()), 1.0)
    assert [(item.label, item.verdict, item.reason, item.details) for item in report.items] == [
        ("d/dx = 3x^2 y", "undetermined", "checking timed out after 1 s",
         {"quantity": "formula", "target": "x"}),
        ("d/dy = x^3", "undetermined", "checking timed out after 1 s",
         {"quantity": "formula", "target": "y"})]


def test_an_exact_claim_is_written_as_grad_exact_writes_it():
    """check --exact wrote cosh(1/3)**(-2) + 2 where grad --exact writes cosh(1/3)⁻² + 2."""
    result = invoke("x*y + tanh(x)", "--at", "x=1/3,y=2", "--expect", "d/dx=2.9", "--exact")
    assert "exact: cosh(1/3)⁻² + 2 = 2.89662955960491" in " ".join(result.stdout.split())


@pytest.mark.parametrize("tolerance", [["--rtol", "0.1"], ["--atol", "1"]])
def test_decimals_and_a_tolerance_together_are_refused(tolerance):
    """`--expect d/dx=5.5 --rtol 0.1 --decimals 2` (true 6) was correct: --decimals was
    ignored beside a tolerance without a word."""
    result = runner.invoke(app, ["check", "x*y + tanh(x)", "--x", "1", "--y", "2", "--expect",
                                 "d/dx=5.5", *tolerance, "--decimals", "2"])
    assert result.exit_code == 2
    assert one_error_line(result) == (
        f"error: --decimals and {tolerance[0]} both set how close a number must be: give one "
        f"(--decimals N rounds to N places; {tolerance[0]} is a tolerance)")


def test_a_claim_on_a_generated_node_lists_the_nodes_grad_shows():
    """z2 for x*y + tanh(x) was told "no node 'z2' (names: x, y)", where z3, z4 and z5 are
    the nodes grad's table shows and claims may name."""
    result = invoke("x*y + tanh(x)", "--x", "1", "--y", "2", "--expect", "z2.value=1")
    assert result.exit_code == 2
    assert one_stderr_line(result.stderr) == (
        "error: claim 'z2.value=1': no node 'z2' (names: x, y; the other nodes, as grad shows "
        "them: z3, z4, z5)")



def test_a_zero_with_an_exponent_is_a_one_digit_whole_number_too():
    """`dL/dw=0e1` (written to -1 places) was accepted for 0.280854, where `dL/dw=0` is not: the
    one-digit rule looked only at numbers written to 0 places."""
    item = check_json(*NEURON[:2], "--at", "w=0.5,x=-1,b=0.2,t=1", "--expect", "dL/dw=0e1",
                      code=1)["items"][0]
    assert item["verdict"] == "incorrect"


def test_a_claim_with_an_exponent_is_warned_of_with_its_own_unit():
    """5e3 for 4,500 is accepted (the README: to the nearest 1,000), but the warning said
    "5000 accepts 4999.5 to 5000.5"."""
    result = invoke("h = x*1; L = h*1", "--x", "4500", "--expect", "h.value=5e3")
    assert result.exit_code == 0
    assert "accepted as written, to the nearest 1,000 (5000 accepts 4500 to 5500)" in \
        result.stderr
