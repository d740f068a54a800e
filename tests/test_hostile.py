"""Hostile and odd command lines (issue 9): never an internal error, never a traceback, one
clean line on stderr and exit code 2 for bad input; standard streams that are closed or cannot
show the text; expressions that start with '-'; names that pass for punctuation.

Expected numbers come from SymPy evaluated independently of the engine; the rest are the
house rules themselves (one line, exit code 2, stdout holding only the JSON document).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest
import sympy as sp
from cli_checks import backprop_command, one_error_line, strict_json
from typer.testing import CliRunner

from backprop_cli.cli import app, main

runner = CliRunner()


def invoke(*args: str, input: str | bytes | None = None):
    return runner.invoke(app, list(args), input=input)


def refused(*args: str, input: str | bytes | None = None) -> str:
    """The one error line of a run that must be refused as bad input (not internal)."""
    result = invoke(*args, input=input)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = one_error_line(result.stderr)
    assert "internal error" not in line
    return line


# ---------------------------------------------------------------------------------------------
# Internal errors of issue 9, each as the user ran it


@pytest.mark.parametrize("function", ["motzkin(x)", "chebyshevt_root(x, 1)",
                                      "multigamma(x, 2)"])
def test_sympy_functions_that_cannot_be_built_are_refused_in_one_line(function):
    # motzkin raises ValueError on a symbol, chebyshevt_root an AttributeError inside
    # SymPy's cache, multigamma's derivative a printer error with a two-line message.
    line = refused("grad", function, "--x", "3")
    assert f"SymPy's {function.partition('(')[0]} cannot be used here" in line


def test_sweep_with_a_missing_variable_and_an_unused_one():
    assert "missing value for variable 'y'" in refused("sweep", "x*y", "--x", "0:1")
    line = refused("sweep", "x*y", "--at", "x=0.1:0.2", "--at", "zz4=1")
    assert "missing value for variable 'y'" in line


def hessian_document(*args: str) -> dict:
    result = invoke("hessian", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return strict_json(result.stdout)


@pytest.mark.parametrize(("text", "at", "unknown"), [
    ("besseli(y, x)", "x=1,y=1", "y"),
    ("legendre(x, 2)", "x=-1", "x"),
    ("polygamma(n, x)", "n=1,x=1", "n"),
])
def test_hessian_through_a_partial_sympy_does_not_know_is_flagged_not_a_crash(text, at,
                                                                              unknown):
    document = hessian_document("--at", at, "--", text)
    variables = document["variables"]
    k = variables.index(unknown)
    labels = document["nonfinite"]["hessian"]
    assert all(labels[k][j] == labels[j][k] == "nan" for j in range(len(variables)))
    assert any(f"with respect to {unknown}" in warning and "nondifferentiable" in warning
               for warning in document["warnings"])


def test_hessian_entries_that_are_known_keep_their_value():
    # d2/dx2 polygamma(1, x) = polygamma(3, x); at x = 1 that is 6*zeta(4) = pi**4/15.
    document = hessian_document("--at", "n=1,x=1", "--", "polygamma(n, x)")
    k = document["variables"].index("x")
    assert document["hessian"][k][k] == pytest.approx(float(sp.pi**4 / 15), rel=1e-9)


def test_exact_mode_outside_a_functions_domain_is_undefined_not_an_error():
    # erfinv is defined on [-1, 1] only: at 2 the float64 value is undefined, and the exact
    # value erfinv(2) has no decimal (mpmath raised ValueError: a raw error reached the user).
    document = strict_json(invoke("grad", "erfinv(x)", "--x", "2", "--exact", "--json").stdout)
    assert document["exact"]["gradient"]["x"]["decimal"] == "nan"
    assert not any("failed" in warning for warning in document["warnings"])
    result = invoke("check", "erfinv(x)", "--at", "x=2", "--expect", "d/dx=1", "--exact",
                    "--json")
    assert result.exit_code == 1 and result.stderr == ""
    (item,) = strict_json(result.stdout)["items"]
    assert item["verdict"] == "undetermined" and item["exact"]["decimal"] == "nan"


@pytest.mark.parametrize(("text", "at"), [("hermite(x, y)", "x=-3,y=0"),
                                          ("laguerre(x, y)", "x=0.7,y=2")])
def test_exact_mode_where_sympy_refuses_the_numbers_is_undefined(text, at):
    # SymPy's hermite and laguerre want a nonnegative integer index and raise ValueError
    # otherwise; the engine's NaN for that failed op then met SymPy (AttributeError).
    result = invoke("grad", "--exact", "--json", "--at", at, "--", text)
    document = strict_json(result.stdout)
    assert document["exact"]["value"]["decimal"] == "nan"
    assert not any("failed" in warning or "Error" in warning
                   for warning in document["warnings"])
    checked = invoke("check", text, "--at", at, "--expect", "d/dx=1", "--exact", "--json")
    assert checked.exit_code == 1 and checked.stderr == ""
    assert strict_json(checked.stdout)["verdict"] == "undetermined"


def test_claimed_numbers_beyond_float64_are_refused(tmp_path):
    # 1e999 rounded at its own decimals needed 10.0**999: OverflowError reached the user.
    line = refused("check", "x*y", "--at", "x=1,y=2", "--expect", "d/dx=1e999")
    assert "d/dx=1e999': the number is too large for a float64 number" in line
    table = tmp_path / "answers.csv"
    table.write_text("node,value,adjoint\nx,1,2\ny,-1e999,1\n")
    line = refused("check", "x*y", "--at", "x=1,y=2", "--table", str(table))
    assert f"{table} line 3: value '-1e999' is too large for a float64 number" in line


@pytest.mark.parametrize(("text", "span"), [("exp(x)", "0:1000"), ("x", "-1e307:1e307")])
def test_a_sweep_plot_the_plotter_cannot_scale_is_one_line_with_a_way_out(text, span):
    # plotext overflowed (OverflowError) on spans near float64's limits.
    line = refused("sweep", text, "--x", span)
    assert "limits of float64" in line and "--format csv" in line
    result = invoke("sweep", text, "--x", span, "--points", "5", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 6  # the header and the five points


def test_a_sweep_over_a_subnormal_range_is_drawn_with_short_labels():
    # plotext could not scale 0:1e-320 with its own labels; with round ticks it can
    result = invoke("sweep", "x", "--x", "0:1e-320")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"^ +0 +5e-321 +1e-320 *$", result.stdout, re.MULTILINE), result.stdout


def test_csv_field_over_the_size_limit_names_the_row(tmp_path):
    table = tmp_path / "answers.csv"
    table.write_text("node,value,adjoint\nx,1,2\ny," + "2" * 140_000 + ",1\n")
    line = refused("check", "x*y", "--x", "1", "--y", "2", "--table", str(table))
    assert f"{table} line 3" in line and "longer than 131,072 characters" in line


# ---------------------------------------------------------------------------------------------
# Standard streams: closed, or unable to show the text


def run_with_closed(fds: tuple[int, ...], *args: str, env: dict | None = None,
                    stdin=None) -> subprocess.CompletedProcess:
    """The console script with the given descriptors closed, as `>&-`, `2>&-`, `<&-` do."""
    def close():
        for fd in fds:
            os.close(fd)

    return subprocess.run([backprop_command(), *args], capture_output=True, text=True,
                          stdin=stdin, preexec_fn=close, timeout=120,
                          env={**os.environ, **(env or {})})


def test_closed_standard_output_is_one_line_and_exit_code_2():
    process = run_with_closed((1,), "grad", "x*y", "--x", "1", "--y", "2")
    assert process.returncode == 2
    assert one_error_line(process.stderr) == ("error: cannot write the output: standard "
                                              "output is closed")


# Every command and format, and the help, with standard output closed: run in one process
# (each main() call as a user's run) to keep the suite fast.
CLOSED_STDOUT_RUNS = [
    *(["grad", "x*y", "--x", "1", "--y", "2", "--format", f] for f in ("table", "json")),
    *(["check", "x*y", "--at", "x=1,y=2", "--expect", "d/dx=2", "--format", f]
      for f in ("table", "json")),
    *(["explain", "x*y", "--x", "1", "--y", "2", "--format", f]
      for f in ("text", "markdown", "latex")),
    # svg and png need Graphviz's dot, which a machine may lack (its own error line then)
    *(["graph", "x*y", "--format", f] for f in ("ascii", "dot", "mermaid",
                                                *(("svg", "png") if shutil.which("dot") else ()))),
    *(["forward", "x*y", "--x", "1", "--y", "2", "--wrt", "x", "--format", f]
      for f in ("table", "json")),
    *(["hessian", "x*y", "--x", "1", "--y", "2", "--format", f] for f in ("table", "json")),
    *(["jacobian", "x*y", "--x", "1", "--y", "2", "--format", f] for f in ("table", "json")),
    *(["sweep", "x*y", "--x", "0:1", "--y", "2", "--format", f]
      for f in ("plot", "json", "csv")),
    ["grad", "--help"], ["--help"], ["--version"], ["grad", "x*"], ["grad", "x*", "--json"],
]
DRIVER = textwrap.dedent("""
    import io, json, sys
    from backprop_cli.cli import main
    outcomes = []
    for argv in json.loads(sys.argv[1]):
        err = sys.stderr = io.StringIO()
        try:
            main(argv)
        except SystemExit as leaving:
            outcomes.append([leaving.code, err.getvalue()])
    with open(sys.argv[2], "w") as handle:
        json.dump(outcomes, handle)
""")


def test_closed_standard_output_for_every_command_and_format(tmp_path):
    report = tmp_path / "outcomes.json"
    process = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(CLOSED_STDOUT_RUNS),
                              str(report)], preexec_fn=lambda: os.close(1),
                             capture_output=False, stderr=subprocess.PIPE, text=True,
                             timeout=300)
    assert process.returncode == 0, process.stderr
    outcomes = json.loads(report.read_text())
    assert len(outcomes) == len(CLOSED_STDOUT_RUNS)
    for argv, (code, stderr) in zip(CLOSED_STDOUT_RUNS, outcomes, strict=True):
        assert code == 2, (argv, stderr)
        line = one_error_line(stderr)
        if argv[-1] == "x*":  # a parse error is said as it is; its JSON could not be written
            assert "ends with '*'" in line or "cannot write the output" in line, argv
        else:
            assert line == "error: cannot write the output: standard output is closed", argv


def test_closed_standard_output_with_output_file_still_writes_the_file(tmp_path):
    target = tmp_path / "graph.dot"
    process = run_with_closed((1,), "graph", "x*y", "--format", "dot", "-o", str(target))
    assert process.returncode == 0, process.stderr
    assert target.read_text().startswith("digraph")


@pytest.mark.parametrize("args", [["grad", "x*", "--x", "1", "--json"],
                                  ["grad", "x*y", "--x", "1", "--bogus", "--json"],
                                  ["hessian", "x", "--json", "--digits", "0"]])
def test_closed_standard_error_keeps_standard_output_one_json_document(args):
    process = run_with_closed((2,), *args)
    assert process.returncode == 2
    document = strict_json(process.stdout)  # the whole of stdout: one document, nothing after
    assert document["ok"] is False and document["error"]["message"]


def test_closed_standard_input_with_file_dash():
    process = run_with_closed((0,), "grad", "--file", "-", "--x", "1")
    assert process.returncode == 2
    line = one_error_line(process.stderr)
    assert "internal error" not in line and "standard input is closed" in line


def test_an_encoding_that_cannot_show_the_names_escapes_them():
    env = {"PYTHONIOENCODING": "ascii"}
    table = run_with_closed((), "grad", "θ1*2", "--θ1", "1", env=env)
    assert table.returncode == 0, table.stderr
    assert "\\u03b81" in table.stdout and "Traceback" not in table.stderr
    # JSON stays valid JSON: the escapes are JSON's own \\u escapes (pairs above U+FFFF).
    document = run_with_closed((), "grad", "θ1*2 + é", "--θ1", "1", "--é", "2", "--json",
                               env=env)
    assert document.stdout.isascii()
    assert strict_json(document.stdout)["gradient"] == {"θ1": 2.0, "é": 1.0}
    error = run_with_closed((), "grad", "θ1*2", env=env)  # no value for θ1
    assert error.returncode == 2 and "\\u03b81" in one_error_line(error.stderr)


# ---------------------------------------------------------------------------------------------
# Expressions that start with '-'


@pytest.mark.parametrize(("args", "value", "gradient"), [
    # -h*x at h = 2, x = 1: value -2, d/dh = -x = -1, d/dx = -h = -2
    (["-h*x", "--h", "2", "--x", "1"], -2.0, {"h": -1.0, "x": -2.0}),
    (["--h", "2", "-h*x", "--x", "1"], -2.0, {"h": -1.0, "x": -2.0}),
    # -x*y at x = 1, y = 2: value -2, d/dx = -y = -2, d/dy = -x = -1
    (["-x*y", "--x", "1", "--y", "2"], -2.0, {"x": -2.0, "y": -1.0}),
    # -o at o = 3 (graph's -o is not grad's): value -3, d/do = -1
    (["-o", "--o", "3"], -3.0, {"o": -1.0}),
    # x*h at x = -2 (a value that starts with '-'), h = 1
    (["x*h", "--x", "-2", "--h", "1"], -2.0, {"x": 1.0, "h": -2.0}),
])
def test_an_expression_that_starts_with_a_minus_is_the_expression(args, value, gradient):
    result = invoke("grad", *args, "--json")
    assert result.exit_code == 0, result.stderr
    document = strict_json(result.stdout)
    assert document["value"] == value and document["gradient"] == gradient


@pytest.mark.parametrize("args", [["grad", "-h"], ["grad", "--help"],
                                  ["grad", "x*y", "-h"], ["hessian", "-h"]])
def test_help_alone_still_shows_the_help(args):
    result = invoke(*args)
    assert result.exit_code == 0
    assert "Usage: backprop" in result.stdout


def test_graph_short_output_option_still_takes_its_value(tmp_path):
    target = tmp_path / "g.dot"
    result = invoke("graph", "-x*y", "-o", str(target), "--format", "dot")
    assert result.exit_code == 0, result.stderr
    assert target.read_text().startswith("digraph")


# ---------------------------------------------------------------------------------------------
# Repeated flags mean what they say once


@pytest.mark.parametrize("args", [
    ["grad", "x*y", "--x", "1", "--y", "2"],
    ["check", "x*y", "--at", "x=1,y=2", "--expect", "d/dx=2"],
    ["forward", "x*y", "--x", "1", "--y", "2", "--wrt", "x"],
    ["hessian", "x*y", "--x", "1", "--y", "2"],
    ["jacobian", "x*y", "--x", "1", "--y", "2"],
    ["sweep", "x*y", "--x", "0:1", "--y", "2", "--points", "3"],
])
@pytest.mark.parametrize("flags", [["--json", "--json"], ["--json", "--format", "json"],
                                   ["--format", "table", "--json", "--json"]])
def test_json_given_twice_is_still_json(args, flags):
    if args[0] == "sweep" and "table" in flags:
        flags = [flag.replace("table", "plot") for flag in flags]
    result = invoke(*args, *flags)
    assert result.exit_code == 0, result.stderr
    assert strict_json(result.stdout)["ok"] is True


@pytest.mark.parametrize(("command", "format_name", "start"), [
    ("explain", "latex", "%"), ("explain", "markdown", "##"), ("graph", "dot", "digraph"),
    ("graph", "mermaid", "flowchart")])
def test_format_given_twice_is_that_format(command, format_name, start):
    result = invoke(command, "x*y", "--x", "1", "--y", "2", "--format", format_name,
                    "--format", format_name)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(start)


# ---------------------------------------------------------------------------------------------
# Error lines are one line, control characters escaped


@pytest.mark.parametrize("args", [
    ["grad", "x", "--a\x1b[31m", "1"],
    ["grad", "x", "--a\nb", "1"],
    ["grad", "x", "--x", "1", "--\x1bb"],
    ["grad", "x\u2028y", "--x", "1"],
    ["gr\nad", "x"],
    ["grad", "--digits", "1\x1b[0m", "x", "--x", "1"],
    ["check", "x", "--x", "1", "--wrt", "x", "--answer", "1\x1b[2J"],
    ["grad", "--file", "no\nsuch\x1bfile", "--x", "1"],
])
def test_error_lines_escape_control_characters(args, capsys):
    with pytest.raises(SystemExit) as leaving:
        main(args)
    assert leaving.value.code == 2
    line = one_error_line(capsys.readouterr().err)
    assert not any(ord(char) < 32 or 0x7F <= ord(char) <= 0x9F or char in "\u2028\u2029"
                   for char in line), line


# ---------------------------------------------------------------------------------------------
# Names that pass for punctuation or digits; LaTeX of every name the parser accepts


@pytest.mark.parametrize("char", ["ǃ", "ǀ", "ǁ", "ǂ", "ʔ", "ꞏ", "ʹ", "ˈ", "ʼ", "ȝ", "Ƨ", "Ƽ",
                                  "Ꞌ", "ɂ", "\U00010140", "ａ", "ƻ"])
@pytest.mark.parametrize("where", ["program", "option"])
def test_letters_that_read_as_punctuation_or_digits_are_refused(char, where):
    if where == "program":
        line = refused("grad", f"x + a{char}", "--x", "1")
    else:
        line = refused("grad", "x", "--x", "1", f"--a{char}", "2")
    assert "look-alike character" in line and repr(char) in line


@pytest.mark.parametrize("name", ["é", "ą", "đ", "þ", "ŋ", "ȁ", "ạ", "ɐ", "θ", "ς", "ά", "Ω"])
def test_ordinary_latin_and_greek_letters_are_names(name):
    result = invoke("grad", f"{name}*3", f"--{name}", "2", "--json")
    assert result.exit_code == 0, result.stderr
    assert strict_json(result.stdout)["gradient"] == {name: 3.0}


def accepted_name_characters() -> list[str]:
    """Every non-ASCII character the parser accepts inside a name."""
    from backprop_cli.errors import ParseError
    from backprop_cli.parse import check_name

    found = []
    for code in range(0x80, 0x30000):
        char = chr(code)
        if not ("a" + char).isidentifier():
            continue
        try:
            check_name("a" + char)
        except ParseError:
            continue
        found.append(char)
    return found


def test_every_accepted_name_has_its_own_latex_symbol():
    import string

    from backprop_cli.render.latex_math import latex_id

    chars = accepted_name_characters()
    assert len(chars) > 1000  # Latin and Greek letters with their accents
    names = [*string.ascii_letters, *chars, *("a" + char for char in chars),
             *("aa", "ab", "a1", "a_1")]
    symbols = {}
    for name in names:
        symbol = latex_id(name)
        assert symbol.isascii(), (name, symbol)
        assert symbols.setdefault(symbol, name) == name, (name, symbols[symbol], symbol)


def pdflatex(document: str, tmp_path) -> tuple[subprocess.CompletedProcess, str]:
    import shutil

    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    (tmp_path / "names.tex").write_text(document, encoding="utf-8")
    process = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                              "-no-shell-escape", "names.tex"], cwd=tmp_path,
                             capture_output=True, text=True, errors="replace", timeout=120)
    log = (tmp_path / "names.log").read_text(encoding="latin-1")
    return process, log


def preamble_asked_for(fragment: str) -> str:
    """The packages the fragment's first line asks for, as preamble lines."""
    import re

    first = fragment.splitlines()[0]
    assert first.startswith("% backprop explain: needs ")
    return "\n".join(re.findall(r"\\usepackage(?:\[[^\]]*\])?\{[^}]*\}", first))


def test_latex_of_every_accepted_name_compiles(tmp_path):
    from backprop_cli.render.latex_math import bar, latex_id, needs_t1

    lines = []
    for char in accepted_name_characters():
        for name in (char, "a" + char, char + "1"):
            lines.append(f"${latex_id(name)} = {bar(name)}$ \\par")
    body = "\n".join(lines)
    fonts = "\\usepackage[T1]{fontenc}\n" if needs_t1(body) else ""
    process, log = pdflatex("\\documentclass{article}\n\\usepackage{amsmath}\n" + fonts
                            + "\\begin{document}\n" + body + "\n\\end{document}\n", tmp_path)
    assert process.returncode == 0, [line for line in log.splitlines() if line.startswith("!")]
    assert "Missing character" not in log


@pytest.mark.parametrize(("program", "point", "t1"), [
    ("ą*đ + tanh(þ) + ŋ", "ą=1,đ=2,þ=0.5,ŋ=3", True),
    ("ά*ς + ɐ*ạ - ȁ", "ά=1,ς=2,ɐ=0.5,ạ=3,ȁ=1", False),
    ("é*θ1 + Ωx", "é=1,θ1=2,Ωx=3", False),
])
def test_explain_latex_with_unusual_names_compiles_with_the_preamble_it_asks_for(
        program, point, t1, tmp_path):
    result = invoke("explain", "--format", "latex", "--at", point, "--", program)
    assert result.exit_code == 0, result.stderr
    preamble = preamble_asked_for(result.stdout)
    assert ("fontenc" in preamble) is t1
    process, log = pdflatex("\\documentclass{article}\n" + preamble + "\n\\begin{document}\n"
                            + result.stdout + "\n\\end{document}\n", tmp_path)
    assert process.returncode == 0, [line for line in log.splitlines() if line.startswith("!")]
    assert "Missing character" not in log


def test_a_misspelt_command_with_two_suggestions_names_them_once(capsys):
    with pytest.raises(SystemExit) as leaving:
        main(["gra", "x"])
    assert leaving.value.code == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.count("Did you mean") == 1 and "'grad', 'graph'" in line, line


# ---------------------------------------------------------------------------------------------
# Odd command lines for every command: whatever they hold, the outcome is an exit code and
# at most one error line, never an internal error. (No --output among the tokens: graph would
# write files wherever the tests run.)

ODD_TOKENS = ["x*y + tanh(x)", "-x*y", "-h*x", "x/0", "log(-x)", "sqrt(x)", "a = x*y; a^2",
              "x^x^x", "9**9**9**9", "max(x, y)", "gamma(x)", "besselj(y, x)", "polygamma(y, x)",
              "θ1*2", "x\ny", "x;;y", "", "(", "x*", "f(x)", "x.y", "'a'", "\x1b[31mx", "x\u2028y",
              "ǃ", "ｘ", "\udcffx", "--x", "--y", "--h", "--θ1", "--a\nb", "--json", "--jsno",
              "--format", "json", "csv", "dot", "latex", "--at", "x=1,y=2", "x=1:2", "--digits",
              "--points", "--wrt", "x", "--answer", "--expect", "d/dx=2", "--exact", "--check",
              "--", "-h", "1", "-1", "0", "nan", "inf", "1e308", "pi/4", "-3:3", "0:0", "1,5",
              "--file", "/nonexistent", "--direction", "--precision", "--timeout"]


@pytest.mark.parametrize("command", ["grad", "check", "explain", "graph", "forward", "hessian",
                                     "jacobian", "sweep"])
def test_odd_command_lines_never_end_in_an_internal_error(command):
    import contextlib
    import io

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.sampled_from(ODD_TOKENS), max_size=7))
    def run(tokens):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            with pytest.raises(SystemExit) as leaving:
                main([command, *tokens])
        assert leaving.value.code in (0, 1, 2), (tokens, err.getvalue())
        lines = err.getvalue().splitlines()
        assert all(line.startswith(("error: ", "warning: ")) for line in lines), (tokens, lines)
        assert sum(line.startswith("error: ") for line in lines) <= 1, (tokens, lines)
        assert "internal error" not in err.getvalue(), tokens
        if leaving.value.code == 2:
            assert len([line for line in lines if line.startswith("error: ")]) == 1, tokens

    run()


def _fails_in_two_lines():
    raise ValueError("Unsupported by the printer: Product\nSet the printer option 'strict'")


def test_a_library_failure_in_a_bounded_child_is_one_readable_line():
    from backprop_cli.bounded import run_bounded

    outcome = run_bounded(_fails_in_two_lines, (), timeout=30)
    assert not outcome.ok
    assert outcome.reason == "failed (Unsupported by the printer: Product)"


@pytest.mark.parametrize(("pair", "fragment"), [
    ("[link=https://x]y[/link]=1", "'[link' is not a variable name"),
    ("ǃ=1", "variable 'ǃ' in --at: look-alike character"),
])
def test_a_bad_name_given_through_at_is_named_as_given(pair, fragment):
    line = refused("grad", "x", "--x", "1", "--at", pair)
    assert fragment in line and "--[" not in line
