"""`backprop check --batch` never stops early and never loses a row (issue 9).

Whatever a batch file holds (NaN or 5,000-digit ids, deep nesting, rich markup, U+2028 inside
strings, fields out of range) and whatever happens to the checker processes (killed while idle
or busy, the parent killed or interrupted), the output has exactly one row per non-blank line,
in order, with its line number, its id echoed exactly, and a documented error code on every
error row. The oracles are hand-derived: d(x*y)/dx = y, d(x^2 sin x)/dx = 2x sin x + x^2 cos x.
"""

from __future__ import annotations

import io
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_checks import one_error_line
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from backprop_cli import bounded
from backprop_cli.bounded import run_many
from backprop_cli.cli import app
from backprop_cli.commands.check import SPEC as CHECK
from backprop_cli.errors import ExitCode, exit_code
from backprop_cli.grading import Batch, Item, Job, Report, batch_of, grade_problem
from backprop_cli.grading.batch import PROBLEM_ERROR_CODES, ROW_ERROR_CODES, warm_sympy
from backprop_cli.grading.lines import MAX_LINE_CHARS, TIMEOUT_RANGE
from backprop_cli.render.report import render
from backprop_cli.terminal import Terminal

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCUMENTED_CODES = set(ROW_ERROR_CODES) | set(PROBLEM_ERROR_CODES)
HAS_PROC = Path("/proc/self/stat").exists()
runner = CliRunner()

# A cheap line: d(x*y)/dx at (1, 2) is y = 2.
GOOD_BODY = '"expr": "x*y", "at": {"x": 1, "y": 2}, "expect": ["d/dx=2"]'
# A line that keeps its checker busy for many seconds under --timeout 60 (SymPy gets 24 s).
BUSY_LINE = json.dumps({"id": "busy", "expr": "x**(9**9**9)", "wrt": "x", "answer": "1"})
DERIVATIVE = "x^2*sin(x)"
RIGHT, WRONG = "2x sin(x) + x^2 cos(x)", "2x sin(x)"


class Raw:
    """A JSON number token as written, for comparing ids exactly."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Raw) and other.text == self.text

    def __repr__(self) -> str:
        return f"Raw({self.text[:30]!r})"


def _refuse(literal: str):
    raise AssertionError(f"non-standard JSON literal {literal}")


def exact_json(text: str):
    """Strict JSON with numbers kept as their tokens."""
    return json.loads(text, parse_int=Raw, parse_float=Raw, parse_constant=_refuse)


def rows_of(stdout: str) -> list[dict]:
    """Every output line is one strict JSON row; U+2028 and friends never split one."""
    lines = [line for line in stdout.split("\n") if line]
    assert len(lines) == len(stdout.splitlines())
    rows = [exact_json(line) for line in lines]
    for row in rows:
        assert isinstance(row["line"], Raw) and int(row["line"].text) >= 1
        assert row["verdict"] in ("correct", "incorrect", "undetermined", "error")
        if row["verdict"] == "error":
            assert row["error"]["code"] in DOCUMENTED_CODES, row
            assert row["error"]["message"]
            assert "Error:" not in row["error"]["message"], row  # no raw Python exception
    return rows


def line_numbers(rows: list[dict]) -> list[int]:
    return [int(row["line"].text) for row in rows]


def codes(rows: list[dict]) -> list[str | None]:
    return [row["error"]["code"] if row["verdict"] == "error" else None for row in rows]


def batch_json(path: Path, *args: str):
    result = runner.invoke(app, ["check", "--batch", str(path), "--json", *args])
    assert "Traceback" not in result.stderr
    return result


def write(path: Path, lines: list[str], ending: str = "\n") -> Path:
    path.write_bytes(ending.join(lines).encode("utf-8") + ending.encode())
    return path


# ----------------------------------------------------------------------------------------------
# Lines that used to end the batch


def test_nan_infinity_and_huge_ids_end_only_their_own_line(tmp_path: Path) -> None:
    big = "9" * 5000
    lines = [f'{{"id": NaN, {GOOD_BODY}}}', f'{{"id": Infinity, {GOOD_BODY}}}',
             '{"id": 1, "expr": "x", "at": {"x": -Infinity}, "expect": ["d/dx=1"]}',
             f'{{"id": 1e999, {GOOD_BODY}}}', f'{{"id": {big}, {GOOD_BODY}}}',
             f'{{"id": -0.0e-0, {GOOD_BODY}}}', "[" * 100_000, f'{{"id": "last", {GOOD_BODY}}}']
    result = batch_json(write(tmp_path / "b.jsonl", lines))
    assert result.exit_code == 1, result.stderr
    rows = rows_of(result.stdout)
    assert line_numbers(rows) == list(range(1, 9))
    assert codes(rows) == ["bad_line"] * 3 + [None] * 3 + ["bad_line", None]
    assert [row["id"] for row in rows] == [None, None, None, Raw("1e999"), Raw(big),
                                           Raw("-0.0e-0"), None, "last"]
    assert f'"id":{big},' in result.stdout  # the token itself, never int-to-str converted
    assert "NaN" in rows[0]["error"]["message"] and "nested" in rows[6]["error"]["message"]
    assert all(row["verdict"] == "correct" for row in rows[3:6] + rows[7:])


def test_a_line_over_the_length_limit_is_an_error_row(tmp_path: Path) -> None:
    long_line = f'{{"id": "long", "expr": "x", "pad": "{"a" * MAX_LINE_CHARS}"}}'
    result = batch_json(write(tmp_path / "b.jsonl", [long_line, f'{{"id": 2, {GOOD_BODY}}}']))
    rows = rows_of(result.stdout)
    assert codes(rows) == ["bad_line", None] and rows[0]["id"] is None
    assert f"{MAX_LINE_CHARS:,}" in rows[0]["error"]["message"]


def test_line_breaks_inside_strings_and_crlf_keep_one_row_per_line(tmp_path: Path) -> None:
    lines = [f'{{"id": "a\u2028b", {GOOD_BODY}}}', "",
             '{"id": "c\u2029d\u0085e", "expr": "x*y", "at": {"x": 1, "y": 2}, '
             '"expect": ["d/dx=3"]}', "   \t", f'{{"id": "f", {GOOD_BODY}}}']
    for ending in ("\n", "\r\n"):
        result = batch_json(write(tmp_path / "b.jsonl", lines, ending))
        rows = rows_of(result.stdout)
        assert line_numbers(rows) == [1, 3, 5]
        assert [row["id"] for row in rows] == ["a\u2028b", "c\u2029d\u0085e", "f"]
        assert [row["verdict"] for row in rows] == ["correct", "incorrect", "correct"]
        assert "\u2028" not in result.stdout and "\\u2028" in result.stdout


def test_null_and_missing_ids_are_echoed_as_null_with_the_line_number(tmp_path: Path) -> None:
    lines = [f'{{"id": null, {GOOD_BODY}}}', "", f"{{{GOOD_BODY}}}",
             f'{{"id": [1.50, {{"k": true}}], {GOOD_BODY}}}']
    rows = rows_of(batch_json(write(tmp_path / "b.jsonl", lines)).stdout)
    assert [row["id"] for row in rows] == [None, None, [Raw("1.50"), {"k": True}]]
    assert line_numbers(rows) == [1, 3, 4]


@pytest.mark.parametrize("line, code, words", [
    ('{"id": 1, "id": 2, "expr": "x"}', "bad_line", "twice"),
    ('{"id": "s", "expr": "x", "at": {"x": "\\ud800"}}', "bad_line", "surrogate"),
    ('{"id": "o", "expr": "x", "wrt": "x", "answr": "1"}', "bad_field", 'did you mean "answer"'),
    ('{"id": "e", "expr": 5, "wrt": "x", "answer": "1"}', "bad_field", '"expr"'),
    ('{"id": "w", "expr": "x", "wrt": ["x", "y"], "answer": "1"}', "bad_field", '"wrt"'),
    ('{"id": "a", "expr": "x", "at": [1], "expect": ["d/dx=1"]}', "bad_field", '"at"'),
    ('{"id": "h", "expr": "x", "at": {"x": ' + "9" * 400 + '}, "expect": ["d/dx=1"]}',
     "bad_field", "finite"),
    ('{"id": "t", "expr": "x", "table": [5]}', "bad_field", '"table"'),
    ('{"id": "n", "expr": "x"}', "bad_field", "nothing to check"),
    ('["not", "an", "object"]', "bad_line", "JSON object"),
])
def test_bad_lines_and_fields_are_error_rows(tmp_path: Path, line: str, code: str,
                                            words: str) -> None:
    rows = rows_of(batch_json(write(tmp_path / "b.jsonl",
                                    [line, f'{{"id": "next", {GOOD_BODY}}}'])).stdout)
    assert codes(rows) == [code, None], rows
    assert words in rows[0]["error"]["message"]
    assert rows[0]["id"] == (None if code == "bad_line" else json.loads(line)["id"])


def test_claims_with_huge_numbers_are_readable_errors_or_verdicts(tmp_path: Path) -> None:
    lines = [json.dumps({"id": k, "expr": "x*y", "at": {"x": 1, "y": 2}, "expect": [claim]})
             for k, claim in enumerate(["d/dx=1e400", "d/dx=" + "9" * 5000, "d/dx=0e999",
                                        "d/dx=2e-99999999999", "d/dx=2e0"])]
    rows = rows_of(batch_json(write(tmp_path / "b.jsonl", lines)).stdout)
    assert codes(rows) == [None] * 5
    # a number beyond float64 is a claim not graded, a wrong answer beside the line's others
    assert all("not graded" in row["items"][0]["reason"] and "too large" in
               row["items"][0]["reason"] for row in rows[:2])
    # 0e999 has no significant digit: it claims 0, which d/dx = 2 does not round to
    assert [row["verdict"] for row in rows] == ["incorrect"] * 4 + ["correct"]


def test_a_file_that_is_not_utf8_is_one_error_for_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(f'{{"id": 1, {GOOD_BODY}}}\n{{"id": "\xff"}}\n'.encode("latin-1"))
    result = runner.invoke(app, ["check", "--batch", str(path), "--json"])
    assert result.exit_code == 2
    assert "UTF-8" in one_error_line(result.stderr)


# ----------------------------------------------------------------------------------------------
# Tolerances and time limits on a line


@pytest.mark.parametrize("setting", ['"rtol": 1e300', '"rtol": 1', '"rtol": -0.1',
                                     '"rtol": "0.1"', '"rtol": true', '"atol": -1',
                                     '"atol": 1e999', '"timeout": 0.01', '"timeout": 1e9',
                                     '"timeout": [5]'])
def test_line_tolerances_are_checked_like_the_options(tmp_path: Path, setting: str) -> None:
    line = ('{"id": "self-graded", "expr": "x*y", "at": {"x": 1, "y": 2}, '
            f'"expect": ["d/dx=999"], {setting}}}')
    rows = rows_of(batch_json(write(tmp_path / "b.jsonl", [line])).stdout)
    assert codes(rows) == ["bad_field"] and rows[0]["id"] == "self-graded"
    assert setting.split(":")[0] in rows[0]["error"]["message"]


def test_nan_tolerance_is_not_json(tmp_path: Path) -> None:
    line = f'{{"id": 1, {GOOD_BODY}, "rtol": NaN}}'
    assert codes(rows_of(batch_json(write(tmp_path / "b.jsonl", [line])).stdout)) == \
        ["bad_line"]


def test_valid_line_tolerances_apply_unless_the_teacher_forbids_them(tmp_path: Path) -> None:
    # d/dx = 2; 2.9 is within rtol 0.5 of it (0.9 <= 0.5 * 2.9) but does not round to it.
    lines = ['{"id": "loose", "expr": "x*y", "at": {"x": 1, "y": 2}, "expect": ["d/dx=2.9"], '
             '"rtol": 0.5}',
             '{"id": "slow", "expr": "x*y", "at": {"x": 1, "y": 2}, "expect": ["d/dx=2"], '
             '"timeout": 2}',
             f'{{"id": "plain", {GOOD_BODY}}}']
    path = write(tmp_path / "b.jsonl", lines)
    rows = rows_of(batch_json(path).stdout)
    assert [row["verdict"] for row in rows] == ["correct", "correct", "correct"]
    result = batch_json(path, "--no-line-tolerances")
    assert result.exit_code == 1
    rows = rows_of(result.stdout)
    assert codes(rows) == ["tolerance_forbidden", "tolerance_forbidden", None]
    assert "rtol" in rows[0]["error"]["message"] and "timeout" in rows[1]["error"]["message"]


def test_the_command_line_tolerances_are_the_batch_defaults(tmp_path: Path) -> None:
    # 2.1 does not round to 2 at one decimal, but is within rtol 0.1 of it.
    path = write(tmp_path / "b.jsonl", ['{"id": 1, "expr": "x*y", "at": {"x": 1, "y": 2}, '
                                        '"expect": ["d/dx=2.1"]}'])
    assert rows_of(batch_json(path).stdout)[0]["verdict"] == "incorrect"
    assert rows_of(batch_json(path, "--rtol", "0.1").stdout)[0]["verdict"] == "correct"


@pytest.mark.parametrize("args", [("--rtol", "1e300"), ("--rtol", "1"), ("--atol", "inf"),
                                  ("--rtol", "nan")])
def test_out_of_range_tolerance_options_are_refused(tmp_path: Path, args) -> None:
    path = write(tmp_path / "b.jsonl", [f'{{"id": 1, {GOOD_BODY}}}'])
    one_error_line(runner.invoke(app, ["check", "--batch", str(path), *args]).stderr)
    result = runner.invoke(app, ["check", "x*y", "--x", "1", "--y", "2", "--expect", "d/dx=9",
                                 *args])
    assert result.exit_code == 2
    one_error_line(result.stderr)


def test_no_line_tolerances_needs_a_batch() -> None:
    result = runner.invoke(app, ["check", "x*y", "--x", "1", "--y", "2", "--expect", "d/dx=2",
                                 "--no-line-tolerances"])
    assert result.exit_code == 2 and "--batch" in one_error_line(result.stderr)


def test_the_line_timeout_range_is_the_options() -> None:
    option = next(option for option in CHECK.options if option.name == "timeout")
    assert (option.min, option.max) == TIMEOUT_RANGE


# ----------------------------------------------------------------------------------------------
# Student text is shown literally


HOSTILE_TEXT = ["[bold red]ALL CORRECT[/]", "[/]", "[link=https://example.com]click[/link]",
                ":smile:", "\x1b[31mred"]


def test_markup_in_ids_answers_and_claims_is_shown_literally(tmp_path: Path) -> None:
    lines = [json.dumps({"id": text, "expr": "x*y", "at": {"x": 1, "y": 2},
                         "expect": ["d/dx=2"]}) for text in HOSTILE_TEXT]
    lines += [json.dumps({"id": "answer", "expr": "x^2", "wrt": "x", "answer": "[/]"}),
              json.dumps({"id": "claim", "expr": "x^2", "at": {"x": 1}, "expect": ["[/].value=1"]}),
              json.dumps({"id": "wrt", "expr": "x^2", "wrt": "[b]x", "answer": "2x"})]
    path = write(tmp_path / "b.jsonl", lines)
    terminal = Terminal(out=io.StringIO(), err=io.StringIO(), color=True, width=300)
    result = runner.invoke(app, ["check", "--batch", str(path)], obj=terminal)
    shown = terminal.out.getvalue()
    assert result.exit_code == 1, terminal.err.getvalue()
    for text in HOSTILE_TEXT[:4]:
        assert text in shown
    assert "\\x1b[31mred" in shown and "\x1b[31mred" not in shown
    assert "\x1b]8;" not in shown and "😄" not in shown  # no hyperlink, no emoji
    assert "[/].value=1" in shown and "[b]x" in shown
    rows = rows_of(batch_json(path).stdout)
    assert [row["id"] for row in rows[:5]] == HOSTILE_TEXT


def test_a_report_shows_labels_and_reasons_literally() -> None:
    report = Report((Item("claim", "[bold red]h.value=1[/]", "incorrect", 1.0, 2.0),
                     Item("row", "[/]", "incorrect", reason="[link=https://x.y]z[/link]")))
    console = Terminal(out=io.StringIO(), color=True, width=200).console()
    console.print(render(report))
    shown = console.file.getvalue()
    assert "[bold red]h.value=1[/]" in shown and "[link=https://x.y]z[/link]" in shown
    assert "\x1b]8;" not in shown


def test_the_terminal_console_never_reads_markup() -> None:
    console = Terminal(out=io.StringIO(), color=True).console()
    console.print("[bold]x[/] :smile:")
    assert "[bold]x[/] :smile:" in console.file.getvalue()


# ----------------------------------------------------------------------------------------------
# run_many: idle deaths, deadlines, workers that cannot be kept alive


def _value(value):
    return value


def _hang_or(value):
    while value == "hang":
        time.sleep(0.05)
    return value


def test_a_worker_that_died_while_idle_gets_no_task_and_no_row_is_lost() -> None:
    stream = run_many(_value, [(k,) for k in range(4)], timeout=30, workers=1)
    assert next(stream).value == 0
    # The only worker is idle now (the generator is paused before handing it more work).
    for child in bounded.multiprocessing.active_children():
        os.kill(child.pid, signal.SIGKILL)
        child.join()
    assert [(outcome.ok, outcome.value) for outcome in stream] == [(True, 1), (True, 2),
                                                                   (True, 3)]


def test_a_task_sent_to_a_worker_dying_between_tasks_goes_to_a_fresh_one() -> None:
    # The worker is stopped, so the next task lands in its pipe; it is killed before it can
    # say it began the task. That task never ran: it is not a crash.
    import threading

    stream = run_many(_value, [(k,) for k in range(4)], timeout=30, workers=1)
    assert next(stream).value == 0
    (child,) = bounded.multiprocessing.active_children()
    os.kill(child.pid, signal.SIGSTOP)
    threading.Timer(0.3, os.kill, (child.pid, signal.SIGKILL)).start()
    assert [(outcome.ok, outcome.value) for outcome in stream] == [(True, 1), (True, 2),
                                                                   (True, 3)]


def test_workers_that_cannot_start_end_the_run_with_one_outcome_per_task(monkeypatch) -> None:
    monkeypatch.setattr(bounded, "_spawn", lambda function, memory: None)
    outcomes = list(run_many(_value, [(k,) for k in range(5)], timeout=30, workers=2))
    assert [outcome.code for outcome in outcomes] == ["workers_failed"] * 5


def _die(parent: int, memory: int) -> None:
    os._exit(0)


def test_workers_that_die_at_once_do_not_loop_forever(monkeypatch) -> None:
    monkeypatch.setattr(bounded, "_as_child", _die)
    outcomes = list(run_many(_value, [(k,) for k in range(6)], timeout=30, workers=2))
    assert len(outcomes) == 6
    assert {outcome.code for outcome in outcomes} <= {"workers_failed", "crashed"}
    assert bounded.multiprocessing.active_children() == []


def test_the_deadline_stops_running_and_waiting_tasks() -> None:
    items = [("ok",), ("hang",), ("hang",), ("late",)]
    outcomes = list(run_many(_hang_or, items, timeout=60, workers=2,
                             deadline=time.monotonic() + 0.5))
    assert outcomes[0].value == "ok"
    assert [outcome.code for outcome in outcomes[1:]] == ["time_budget"] * 3
    assert bounded.multiprocessing.active_children() == []


def test_a_batch_past_its_deadline_is_incomplete_and_exits_3() -> None:
    text = "\n".join([f'{{"id": "first", {GOOD_BODY}}}', BUSY_LINE, BUSY_LINE, BUSY_LINE,
                      "{broken"])
    warm_sympy()  # before the clock starts: the first line must be graded in time
    batch = batch_of(text, "b.jsonl", 60.0, deadline=time.monotonic() + 1.5)
    rows = list(batch)
    assert [row["line"] for row in rows] == [1, 2, 3, 4, 5]
    assert codes_of(rows) == [None, "time_budget", "time_budget", "time_budget", "bad_line"]
    assert "--time-limit" in rows[1]["error"]["message"]
    assert batch.incomplete
    assert exit_code(None, CHECK.failed(batch, None)) == ExitCode.INCOMPLETE == 3


def codes_of(rows: list[dict]) -> list[str | None]:
    return [row["error"]["code"] if row["verdict"] == "error" else None for row in rows]


def test_a_batch_whose_workers_cannot_run_exits_3_with_every_row(tmp_path: Path,
                                                                 monkeypatch) -> None:
    monkeypatch.setattr(bounded, "_spawn", lambda function, memory: None)
    path = write(tmp_path / "b.jsonl", [f'{{"id": 1, {GOOD_BODY}}}', "{bad",
                                        f'{{"id": 3, {GOOD_BODY}}}'])
    result = batch_json(path)
    assert result.exit_code == 3
    assert codes(rows_of(result.stdout)) == ["workers_failed", "bad_line", "workers_failed"]
    result = runner.invoke(app, ["check", "--batch", str(path)])
    assert result.exit_code == 3 and "not graded" in result.stdout


def test_exceptions_in_grading_become_project_errors(monkeypatch) -> None:
    from backprop_cli.errors import BackpropError
    from backprop_cli.grading import batch

    def overflow(job):
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(batch, "grade", overflow)
    with pytest.raises(BackpropError) as caught:
        grade_problem(Job("x"))
    assert caught.value.code == "limit_exceeded" and "Overflow" not in caught.value.message


# ----------------------------------------------------------------------------------------------
# Hypothesis: any batch file


ID_TOKENS = st.one_of(
    st.sampled_from(["null", "0", "-0", "1.50", "1e999", "-1E-999", "9" * 5000, "true",
                     '[1, [2.0, {"a": 1e999}]]', '{"k": null}', '"[/]"',
                     '"[bold red]ALL CORRECT[/]"', '"a\u2028b"', '"\\u2029\\u0085"',
                     '"\\ud83d\\ude00"', '"\\u001b[31m"']),
    st.integers(-10**30, 10**30).map(str),
    st.text(max_size=12).map(lambda text: json.dumps(text, ensure_ascii=False)),
)


@st.composite
def batch_lines(draw):
    """(line text, expected) where expected is None for a blank line, else (id token or None,
    verdict or error code)."""
    kind = draw(st.sampled_from(["good", "wrong", "bad_field", "nan", "deep", "not_json",
                                 "not_object", "blank"]))
    token = draw(ID_TOKENS)
    if kind == "blank":
        return draw(st.sampled_from(["", "  ", "\t", " \t "])), None
    if kind in ("good", "wrong"):
        y = draw(st.integers(-50, 50))
        claim = y if kind == "good" else y + draw(st.sampled_from([1, -3, 10]))
        body = f'"expr": "x*y", "at": {{"x": 1, "y": {y}}}, "expect": ["d/dx={claim}"]'
        return f'{{"id": {token}, {body}}}', (token, "correct" if kind == "good" else "incorrect")
    if kind == "bad_field":
        field = draw(st.sampled_from(['"rtol": 1e300', '"atol": -2', '"timeout": 0',
                                      '"exprr": "x"', '"wrt": 7']))
        return f'{{"id": {token}, {GOOD_BODY}, {field}}}', (token, "bad_field")
    if kind == "nan":
        where = draw(st.sampled_from(["id", "at"]))
        constant = draw(st.sampled_from(["NaN", "Infinity", "-Infinity"]))
        if where == "id":
            return f'{{"id": {constant}, {GOOD_BODY}}}', (None, "bad_line")
        return (f'{{"id": {token}, "expr": "x", "at": {{"x": {constant}}}, '
                '"expect": ["d/dx=1"]}', (None, "bad_line"))
    if kind == "deep":
        depth = draw(st.sampled_from([33, 1000, 100_000]))
        return '{"id": 1, "x": ' + "[" * depth + "]" * depth + "}", (None, "bad_line")
    if kind == "not_json":
        # codec: a lone surrogate cannot be written to a file at all
        text = draw(st.text(alphabet=st.characters(blacklist_characters="\n\r", codec="utf-8"),
                            min_size=1, max_size=20).filter(lambda t: not _parses("{" + t)))
        return "{" + text, (None, "bad_line")
    return draw(st.sampled_from(["[1, 2]", '"text"', "5", "null"])), (None, "bad_line")


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(batch_lines(), min_size=1, max_size=8),
       endings=st.lists(st.sampled_from(["\n", "\r\n"]), min_size=8, max_size=8),
       broken=st.booleans())
def test_any_batch_file_gives_one_row_per_line(tmp_path_factory, lines, endings,
                                               broken) -> None:
    path = tmp_path_factory.mktemp("hyp") / "b.jsonl"
    data = b"".join(text.encode("utf-8") + ending.encode()
                    for (text, _), ending in zip(lines, endings, strict=False))
    broken = broken and len(lines) > 2
    if broken:
        data += b'{"id": "\xff"}\n'  # not UTF-8: one error for the whole file, as before
    path.write_bytes(data)
    result = runner.invoke(app, ["check", "--batch", str(path), "--json", "--timeout", "30"])
    assert "Traceback" not in result.stderr
    expected = [(number, want) for number, (_, want) in enumerate(lines, 1) if want is not None]
    if broken or not expected:
        assert result.exit_code == 2
        one_error_line(result.stderr)
        return
    rows = rows_of(result.stdout)
    assert line_numbers(rows) == [number for number, _ in expected]
    for row, (_, (token, outcome)) in zip(rows, expected, strict=True):
        assert row["id"] == (None if token is None else exact_json(token))
        assert (row["error"]["code"] if row["verdict"] == "error" else row["verdict"]) == outcome
    all_correct = all(outcome == "correct" for _, (_, outcome) in expected)
    assert result.exit_code == (0 if all_correct else 1)


# ----------------------------------------------------------------------------------------------
# Real processes: workers killed at random, the parent killed or interrupted


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "backprop_cli", "check", *args]


def _environment() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _children(pid: int) -> list[int]:
    """Live processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _state(int(entry)) not in (None, "Z"):
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return None


def _gone(pids: list[int], within: float = 10.0) -> bool:
    """Whether every pid has ended (or is a zombie) within `within` seconds."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        if all(_state(pid) in (None, "Z") for pid in pids):
            return True
        time.sleep(0.05)
    return False


def _first_line(process: subprocess.Popen, wait: float = 120.0) -> str:
    ready, _, _ = select.select([process.stdout], [], [], wait)
    assert ready, "the batch printed nothing"
    return process.stdout.readline()


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.skipif(not HAS_PROC, reason="needs Linux /proc")
def test_workers_killed_at_random_never_cost_a_row(tmp_path: Path) -> None:
    answers = [RIGHT if k % 3 else WRONG for k in range(60)]
    path = write(tmp_path / "b.jsonl", [json.dumps({"id": k, "expr": DERIVATIVE, "wrt": "x",
                                                    "answer": answer})
                                        for k, answer in enumerate(answers)])
    out = (tmp_path / "out.txt").open("w+")
    process = subprocess.Popen(_command("--batch", str(path), "--json"), stdout=out,
                               stderr=subprocess.PIPE, text=True, env=_environment())
    chance = random.Random(9)
    kills = 0
    while process.poll() is None:
        workers = _children(process.pid)
        if workers:
            _kill_all([chance.choice(workers)])
            kills += 1
        time.sleep(chance.uniform(0, 0.02))
    stderr = process.stderr.read()
    assert process.returncode in (0, 1, 3), stderr
    assert stderr == ""
    out.seek(0)
    rows = rows_of(out.read())
    assert line_numbers(rows) == list(range(1, 61))
    assert [row["id"] for row in rows] == [Raw(str(k)) for k in range(60)]
    for row, answer in zip(rows, answers, strict=True):
        if row["verdict"] == "error":
            assert row["error"]["code"] in ("crashed", "workers_failed")
        else:
            assert row["verdict"] == ("correct" if answer == RIGHT else "incorrect")
    assert kills > 0


def _busy_batch(tmp_path: Path) -> subprocess.Popen:
    path = write(tmp_path / "b.jsonl", [f'{{"id": "fast", {GOOD_BODY}}}', *[BUSY_LINE] * 4])
    return subprocess.Popen(_command("--batch", str(path), "--json", "--timeout", "60"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_environment(), start_new_session=True)


@pytest.mark.skipif(not HAS_PROC, reason="needs Linux /proc")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_their_parent(tmp_path: Path, how: signal.Signals) -> None:
    process = _busy_batch(tmp_path)
    workers: list[int] = []
    try:
        assert '"fast"' in _first_line(process)
        workers = _children(process.pid)
        assert workers
        process.send_signal(how)
        process.wait(timeout=60)
        assert _gone(workers), [(pid, _state(pid)) for pid in workers]
    finally:
        process.kill()
        process.wait()
        _kill_all(workers)


@pytest.mark.skipif(not HAS_PROC, reason="needs Linux /proc")
def test_ctrl_c_ends_with_one_line_exit_130_and_the_rows_so_far(tmp_path: Path) -> None:
    process = _busy_batch(tmp_path)
    workers: list[int] = []
    try:
        first = _first_line(process)
        workers = _children(process.pid)
        os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
        rest, stderr = process.communicate(timeout=60)
        assert process.returncode == ExitCode.INTERRUPTED == 130, stderr
        assert stderr == "error: interrupted\n"
        assert [row["id"] for row in rows_of(first + rest)] == ["fast"]
        assert _gone(workers)
    finally:
        process.kill()
        process.wait()
        _kill_all(workers)


# ----------------------------------------------------------------------------------------------
# Documentation


def test_the_readme_documents_every_row_error_code_and_exit_code() -> None:
    section = README[README.index("## Checking homework"):README.index("## Explaining")]
    for code in DOCUMENTED_CODES:
        assert f"`{code}`" in section, code
    for fragment in ("`--no-line-tolerances`", '"line"', "| 3 |", "| 130 |"):
        assert fragment in README, fragment


def test_a_batch_object_reports_its_length_and_rows() -> None:
    batch = batch_of(f'{{"id": 1, {GOOD_BODY}}}\n\n{{oops\n', "b", 5.0)
    assert isinstance(batch, Batch) and len(batch) == 2
    assert [row["line"] for row in batch] == [1, 3] and len(batch.rows) == 2


def test_lines_that_set_their_own_tolerances_are_pointed_out() -> None:
    lines = ['{"id": 1, "expr": "x*y", "at": {"x": 1, "y": 2}, "expect": ["d/dx=999"], '
             '"rtol": 0.999999}',
             '{"id": 2, "expr": "x*y", "at": {"x": 1, "y": 2}, "expect": ["d/dx=2"]}']
    batch = batch_of("\n".join(lines), "class.jsonl", 5.0)
    list(batch)
    assert batch.notes() == ("warning: 1 line(s) set their own rtol, atol or timeout (line 1); "
                             "give --no-line-tolerances to grade every line with the command "
                             "line's settings",)


@pytest.mark.parametrize("name", ["[/]", "x y", "ǃ", "1x", ""])
def test_a_name_in_at_that_is_no_variable_is_a_bad_field(name) -> None:
    line = json.dumps({"id": 1, "expr": "x*y", "at": {name: 1, "x": 1, "y": 2},
                       "expect": ["d/dx=2"]})
    (row,) = list(batch_of(line, "class.jsonl", 5.0))
    assert row["verdict"] == "error" and row["error"]["code"] == "bad_field"
    assert "in \"at\"" in row["error"]["message"]
