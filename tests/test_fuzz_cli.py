"""Hostile argument vectors through the real CLI (`main`), for every command, and hostile text
through every command's library call.

The promises: the exit code is one of the documented ones; a failure is one line on standard
error, never a traceback or an internal error; with --json, standard output is exactly one
strict JSON document.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import sys
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_cli.budget import Budget, BudgetExceeded, enforced
from backprop_cli.cli import main
from backprop_cli.commands import COMMANDS, all_options
from backprop_cli.errors import BackpropError, ExitCode

EXIT_CODES = {code.value for code in ExitCode}

EXPRESSIONS = ["x*y + tanh(x)", "x", "-h*x", "-x*y", "relu(x) + abs(y)", "log(x)", "x/0",
               "h1 = x*y; o = h1**2", "sin(x), cos(y)", "max(x, y)", "x**0", "1/(x-x)",
               "tanh(", "x +* y", "[/]", "[bold red]ALL CORRECT[/]", "f(x)", "tanhh(x)",
               "9**9**9**9", "x" * 300, "θ1*2", "ǃx", "\x1b[31mx", "x\ny", "x;;y", "", " ",
               "legendre(x, 2)", "besseli(y, x)", "motzkin(x)", "polygamma(y, x)", "x!",
               "sqrt(-x)", "(" * 120 + "x" + ")" * 120, "a=x; a=y", "x @ y", "--", "-"]
VALUES = ["1", "2", "-2.5", "0", "0.5", "nan", "inf", "-inf", "1e999", "1e-320", "pi/4", "x",
          "", "[/]", "0:1", "-1:1", "1:1", "x=1,y=2", "-", "10**400", "json", "csv", "table",
          "99999999999999999999", "1,2", "\x1b", "a\nb", "θ", "1e6", "3", "-0.0", "/dev/null"]
VARIABLES = ["--h", "--θ1", "--z4", "--file_", "--digts", "--jsn", "--wrt",
             "--a\x1b[31m", "--a\nb", "--1", "--q=1", "--at"]


GOOD_EXPRESSIONS = ["x*y + tanh(x)", "h1 = x*y; o = h1**2", "relu(x) + abs(y)", "log(x)*y",
                    "max(x, y)", "sin(x), cos(y)", "x**y", "sqrt(x)/y", "a = x; b = a*y; b"]
OPTION_VALUES = {"--answer": ["y", "y + 1/cosh(x)**2", "[/]", "tanhh(x)", "", "x!"],
                 "--wrt": ["x", "y", "q", "[/]"], "--expect": ["d/dx=2", "d/dy=1", "z.value=3",
                                                              "d/dx=1e999", "d/dx=0e999"],
                 "--format": ["json", "csv", "table", "dot", "latex", "markdown", "text",
                              "ascii", "plot", "png"],
                 "--digits": ["1", "3", "17", "0", "99"], "--points": ["2", "5", "0", "-1"],
                 "--direction": ["x=1", "x=1,y=0", "q=1", "x=nan"],
                 "--table": ["/dev/null", "/nonexistent.csv"],
                 "--batch": ["/dev/null", "/nonexistent.jsonl"], "--file": ["-", "/dev/null"]}


def tokens_of(command) -> st.SearchStrategy[list[str]]:
    """An expression, values for x and y (ranges for sweep), then options of the command with
    values that mostly make sense, and now and then hostile tokens."""
    kinds = {flag: option.kind for option in all_options(command) for flag in option.flags}
    flags = [flag for flag in kinds if flag.startswith("--")
             and flag not in ("--time-limit", "--memory-limit", "--output")]
    value = st.sampled_from(VALUES) | st.text(max_size=6)

    def option_tokens(flag: str):
        if kinds.get(flag) is bool:
            return st.just([flag])
        return st.tuples(st.just(flag), st.sampled_from(OPTION_VALUES.get(flag, VALUES))
                         | value).map(list)

    own = st.sampled_from(flags).flatmap(option_tokens)
    hostile = st.tuples(st.sampled_from(VARIABLES + ["-h", "--", "-x"]), value).map(list)
    points = ["-1:1", "0:2", "-3:3", "1:1"] if command.name == "sweep" else ["0.5", "2", "0", "-1"]
    expression = st.sampled_from(GOOD_EXPRESSIONS) | st.sampled_from(EXPRESSIONS) | st.text(
        max_size=12)
    return st.tuples(expression, st.sampled_from(points), REQUIRED.get(command.name, st.just([])),
                     st.lists(own | own | own | hostile, max_size=3)).map(
        lambda parts: [parts[0], "--x", parts[1], "--y", "2", *parts[2],
                       *(token for tokens in parts[3] for token in tokens)])


REQUIRED = {
    "check": st.sampled_from([["--wrt", "x", "--answer", answer]
                              for answer in OPTION_VALUES["--answer"]]
                             + [["--expect", claim] for claim in OPTION_VALUES["--expect"]]),
    "forward": st.sampled_from([["--wrt", "x"], ["--wrt", "y"], ["--direction", "x=1,y=2"]]),
}


def run_main(argv: list[str]) -> tuple[int, bytes, str]:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.StringIO()
    code = 0
    stdin = io.TextIOWrapper(io.BytesIO(b"x*y"), encoding="utf-8")
    old_stdin, sys.stdin = sys.stdin, stdin
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(argv)
    except SystemExit as leaving:
        code = leaving.code if isinstance(leaving.code, int) else 0
    finally:
        sys.stdin = old_stdin
    out.flush()
    return code, out.buffer.getvalue(), err.getvalue()


def strict_json(data: bytes):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(data.decode("utf-8"), parse_constant=refuse)


def check_outcome(argv: list[str], code: int, out: bytes, err: str) -> None:
    assert code in EXIT_CODES, (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    assert "internal error" not in err, (argv, err)
    lines = err.splitlines()
    if code == ExitCode.BAD_INPUT:
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
    elif code == ExitCode.INCOMPLETE:
        assert lines[-1].startswith("error: the batch is incomplete"), (argv, err)
    else:
        assert all(line.startswith("warning: ") for line in lines), (argv, err)
    options = argv[:argv.index("--")] if "--" in argv else argv
    command = next(spec for spec in COMMANDS if spec.name == argv[0])
    if "json" in command.renderers and "--json" in options and not {"-h", "--help"} & set(
            options):
        document = strict_json(out)
        assert isinstance(document, dict) and "ok" in document, (argv, out)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.sampled_from(COMMANDS).flatmap(
    lambda command: tokens_of(command).map(lambda tokens: [command.name, *tokens])))
def test_any_argument_vector_ends_in_a_documented_way(argv):
    with tempfile.TemporaryDirectory() as place:
        here = os.getcwd()
        os.chdir(place)
        try:
            code, out, err = run_main([*argv, "--time-limit", "3"])
        finally:
            os.chdir(here)
    check_outcome(argv, code, out, err)


# ----------------------------------------------------------------------------------------------
# The library call of every command


def library_calls(text: str, value: float):
    from backprop_cli import grad
    from backprop_cli.explain import explain
    from backprop_cli.forward_mode import forward_mode
    from backprop_cli.grading import Job, grade_bounded
    from backprop_cli.matrices import hessian, jacobian
    from backprop_cli.sweep import sweep

    point = {"x": value, "y": 2.0}
    yield lambda: grad(text, point)
    yield lambda: explain(grad(text, point))
    yield lambda: forward_mode(text, point, "x")
    yield lambda: hessian(text, point)
    yield lambda: jacobian(text, point)
    yield lambda: sweep(text, {"y": 2.0}, "x", -1.0, value, 17)
    yield lambda: grade_bounded(Job(text, (("x", text),), tuple(point.items()), ("d/dx=1",),
                                    symbolic_seconds=0.5), timeout=2.0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EXPRESSIONS) | st.text(max_size=30),
       st.sampled_from([1.0, 0.0, -1.0, math.inf, math.nan, 1e308, -0.0]))
def test_every_library_call_returns_or_raises_a_project_error(text, value):
    for call in library_calls(text, value):
        try:
            # bounded as the CLI's --time-limit bounds it: a sweep of a SymPy function over a
            # range out to 1e308 calls mpmath, capped at a second a call, at every point
            with enforced(Budget(3.0, 2 * 1024**3)):
                call()
        except BudgetExceeded:
            pass
        except BackpropError as error:
            assert error.code != "internal_error", (text, error.message)
            assert "\n" not in error.message, (text, error.message)
