"""The command line's own job: options in, the right renderer out, one-line errors, exit codes.

The numbers are checked against oracles worked out by hand: for f = x*y + tanh(x) at (1, 2),
f = 2 + tanh(1) = 2.761594155955765, df/dx = y + 1 - tanh(1)**2 = 2.419974341614026, df/dy = x.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import typer
from cli_checks import backprop_command, one_error_line, strict_json
from rich.cells import cell_len
from typer.testing import CliRunner

from backprop_cli import __version__
from backprop_cli.cli import app, main
from backprop_cli.errors import ExitCode

EXAMPLE = "x*y + tanh(x)"
EXAMPLE_VALUE = 2.761594155955765
EXAMPLE_DX = 2.419974341614026
TITLES = ("Forward pass", "Local derivatives", "Backward pass", "Gradient")
# Variables that would make rich colour a pipe; cleared so the test environment cannot leak in.
PLAIN = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "NO_COLOR": None}
ANSI = re.compile(r"\x1b\[([0-9;]*)m")

runner = CliRunner()


def invoke(*args: str, input: str | None = None, env: dict | None = None):
    """Run the Typer app in-process; stdout and stderr are kept apart."""
    return runner.invoke(app, list(args), input=input, env=env)




def grad_json(*args: str, input: str | None = None) -> dict:
    result = invoke("grad", *args, "--json", input=input)
    assert result.exit_code == 0, result.stderr
    return strict_json(result.stdout)




@pytest.fixture(scope="module")
def schema() -> dict:
    path = resources.files("backprop_cli") / "schemas" / "grad.schema.json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


# ---------------------------------------------------------------------------------------------
# Tables


def test_table_output_has_the_four_tables():
    result = invoke("grad", EXAMPLE, "--x", "1", "--y", "2")
    assert result.exit_code == 0, result.stderr
    for title in TITLES:
        assert title in result.stdout
    assert "2.76159" in result.stdout and "2.41997" in result.stdout


@pytest.mark.parametrize("command", [
    ("grad", EXAMPLE, "--x", "1", "--y", "2"), ("explain", EXAMPLE, "--x", "1", "--y", "2"),
    ("check", EXAMPLE, "--x", "1", "--y", "2", "--expect", "d/dx=2.42"),
    ("hessian", EXAMPLE, "--x", "1", "--y", "2")])
@pytest.mark.parametrize("colour", [{}, {"FORCE_COLOR": "1"}])
def test_no_output_line_ends_in_spaces(command, colour):
    """rich pads each line of a table to the table's width; pasted into homework or compared
    with diff, those spaces get in the way."""
    result = invoke(*command, env={"COLUMNS": "100", **colour})
    assert result.exit_code == 0, result.stderr
    plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert bool(colour) == (plain != result.stdout)
    lines = plain.splitlines()
    assert len(lines) >= 4 and not [line for line in lines if line.endswith(" ")]
    if command[0] == "grad":
        assert " node   op     formula      value" in lines  # leading spaces stay


def test_no_line_of_a_table_written_with_output_ends_in_spaces(tmp_path):
    path = tmp_path / "graph.txt"
    result = invoke("graph", EXAMPLE, "--x", "1", "--y", "2", "-o", str(path))
    assert result.exit_code == 0, result.stderr
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines and not [line for line in lines if line.endswith(" ")]


@pytest.mark.parametrize(("args", "said"), [
    (("grad", "x", "--x", "1", "-o", "f.txt"),
     "-o is not an option of backprop grad (it is one of backprop graph, sweep, generate); "
     "grad writes to standard output: use > FILE"),
    (("grad", "x", "--x", "1", "-q"),
     "-q is not an option of backprop grad (backprop grad --help lists its options)")])
def test_a_short_option_the_command_lacks_is_named(args, said):
    """`grad ... -o f.txt` said "unexpected argument '-o': give one expression" (a trial)."""
    assert one_error_line(invoke(*args).stderr) == f"error: {said}"


@pytest.mark.parametrize(("args", "said"), [
    (("x[0]", "--x", "1"), "at x[0]: a single number (a scalar) takes no index"),
    (("y = x[0]; y*2", "--x", "1"), "statement 'y': a single number (a scalar) takes no index"),
    (("W + V", "--W", "[1, 2]", "--V", "[1, 2, 3]"),
     "at W + V: shapes (2,) and (3,) do not broadcast together")])
def test_an_array_error_in_a_bare_expression_names_no_generated_statement(args, said):
    """`x[0]` with a number x said "statement 'z3': an array of shape scalar takes 0 indices"
    (z3 is the tool's name for the unnamed expression; found in a trial)."""
    assert one_error_line(invoke("grad", *args).stderr).startswith(f"error: {said}")


@pytest.mark.parametrize("given", ["x=1 y=2", "x=1;y=2"])
def test_direction_pairs_without_commas_are_said_so(given):
    """They said "'=' may only follow a name at the start of a statement" and "only the last
    statement may be a bare expression" (the value read as a program; a trial)."""
    line = one_error_line(invoke("forward", "x*y", "--x", "1", "--y", "2", "--direction",
                                 given).stderr)
    assert line == (f"error: --direction {given!r}: separate the NAME=VALUE pairs with commas, "
                    "e.g. --direction x=1,y=0.5")


def test_a_bad_direction_is_said_of_the_direction():
    line = one_error_line(invoke("forward", "x*y", "--x", "1", "--y", "2", "--direction",
                                 "x=abc").stderr)
    assert line.startswith("error: --direction x=abc: the direction's value for 'x' is not a "
                           "number")


def test_a_variable_given_through_at_is_never_taken_for_an_option():
    """`--at value=-1:1` said "unknown option --value (did you mean --values?)"; --at is the
    README's way to give a variable whose name is an option's."""
    result = invoke("sweep", "value**2", "--at", "value=-1:1", "--points", "3", "--format",
                    "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["-1.0,1.0,-2.0", "0.0,0.0,0.0", "1.0,1.0,2.0"]


def test_an_option_like_name_the_program_uses_is_its_variable():
    """`sweep "value**2" --value -1:1` said "unknown option --value (did you mean --values?)",
    though the program names value and -1:1 is a range; where the program does not name it,
    the look-alike of --values is still refused."""
    result = invoke("sweep", "value**2", "--value", "-1:1", "--points", "3", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["-1.0,1.0,-2.0", "0.0,0.0,0.0", "1.0,1.0,2.0"]
    for program in ("x**2", "values**2", "value_2*x", "f.value*x", "x**2 # value"):
        refused = invoke("sweep", program, "--x", "0:1", "--value", "-1:1")
        assert refused.exit_code == 2
        assert one_error_line(refused.stderr) == (
            "error: unknown option --value (did you mean --values?)"), program
    glued = invoke("sweep", "2value", "--value", "-1:1", "--points", "3", "--format", "csv")
    assert glued.stdout.splitlines()[1:] == ["-1.0,-2.0,2.0", "0.0,0.0,2.0", "1.0,2.0,2.0"]


def test_an_option_like_name_a_program_file_uses_is_its_variable(tmp_path):
    program = tmp_path / "p.bp"
    program.write_text("y = value**2\n")
    result = invoke("sweep", "--file", str(program), "--value", "-1:1", "--points", "3",
                    "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["-1.0,1.0,-2.0", "0.0,0.0,0.0", "1.0,1.0,2.0"]


def test_digits():
    result = invoke("grad", EXAMPLE, "--x", "1", "--y", "2", "--digits", "3")
    assert result.exit_code == 0, result.stderr
    assert "2.76" in result.stdout and "2.42" in result.stdout
    assert "2.76159" not in result.stdout and "2.41997" not in result.stdout


def test_piped_output_has_no_escape_codes():
    result = invoke("grad", "abs(x) + y", "--x", "0", "--y", "1", "--check", env=PLAIN)
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout + result.stderr


def _colour_codes(text: str) -> list[str]:
    codes = []
    for parameters in ANSI.findall(text):
        for code in filter(None, parameters.split(";")):
            number = int(code)
            if 30 <= number <= 49 or 90 <= number <= 107:
                codes.append(code)
    return codes


def test_no_color_is_honoured_even_when_colour_is_forced():
    args = ("grad", "abs(x) + y", "--x", "0", "--y", "1")
    forced = {**PLAIN, "FORCE_COLOR": "1", "TERM": "xterm-256color"}
    control = invoke(*args, env=forced)
    assert "\x1b[" in control.stdout  # the control: forcing colour does reach the renderer
    result = invoke(*args, env={**forced, "NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    assert _colour_codes(result.stdout) == []


@pytest.mark.parametrize("command", [("grad", EXAMPLE), ("explain", EXAMPLE),
                                     ("fd", "x**3", "--wrt", "x")])
def test_a_columns_of_0_is_taken_as_unset_not_as_a_width_of_nothing(command):
    """rich reads COLUMNS=0 as a width of 0 and printed nothing, with exit 0."""
    values = ("--x", "1", "--y", "2") if command[0] != "fd" else ("--x", "1")
    zero = invoke(*command, *values, env={"COLUMNS": "0"})
    unset = invoke(*command, *values, env={"COLUMNS": None})
    assert zero.exit_code == unset.exit_code == 0, zero.stderr
    assert zero.stdout == unset.stdout and len(zero.stdout.split()) > 20


def test_the_example_fits_in_80_columns():
    result = invoke("grad", EXAMPLE, "--x", "1", "--y", "2", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    widths = [cell_len(line) for line in result.stdout.splitlines()]
    assert max(widths) <= 80, result.stdout


# ---------------------------------------------------------------------------------------------
# JSON


def test_json_values_match_the_oracle(validator):
    document = grad_json(EXAMPLE, "--x", "1", "--y", "2")
    validator.validate(document)
    assert document["ok"] is True
    assert document["value"] == pytest.approx(2 + math.tanh(1), rel=1e-12)
    assert document["value"] == pytest.approx(EXAMPLE_VALUE, rel=1e-12)
    assert document["gradient"]["x"] == pytest.approx(EXAMPLE_DX, rel=1e-12)
    assert document["gradient"]["x"] == pytest.approx(2 + 1 - math.tanh(1) ** 2, rel=1e-12)
    assert document["gradient"]["y"] == pytest.approx(1.0, rel=1e-12)
    assert document["at"] == {"x": 1.0, "y": 2.0}


def test_format_json_is_the_same_as_json():
    a = invoke("grad", EXAMPLE, "--x", "1", "--y", "2", "--json")
    b = invoke("grad", EXAMPLE, "--x", "1", "--y", "2", "--format", "json")
    assert a.exit_code == b.exit_code == 0
    assert a.stdout == b.stdout


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (("log(x)", "--x", "-1"), "undefined"),
        (("log(x)", "--x", "0"), "infinite"),
        (("sqrt(x)", "--x", "0"), "kink"),
        (("abs(x)", "--x", "0"), "kink"),
        (("x/y", "--x", "0", "--y", "0"), "undefined"),
        (("9**9**9**9",), "overflow"),
        (("exp(x)", "--x", "1000"), "overflow"),
    ],
)
def test_flagged_results_validate_and_name_the_node(validator, args, status):
    document = grad_json(*args)
    validator.validate(document)
    flagged = [node for node in document["nodes"] if node["status"] == status]
    assert flagged, document["nodes"]
    assert all(node.get("message") for node in flagged)
    assert document["warnings"]


def test_sqrt_at_zero_has_an_infinite_gradient(validator):
    # The documented convention (PyTorch's): sqrt'(0) = +inf, written as null plus a label.
    document = grad_json("sqrt(x)", "--x", "0")
    validator.validate(document)
    assert document["value"] == 0.0
    assert document["gradient"]["x"] is None
    assert document["nonfinite"]["gradient"] == {"x": "inf"}


def test_log_of_a_negative_has_no_value(validator):
    document = grad_json("log(x)", "--x", "-1")
    validator.validate(document)
    assert document["value"] is None
    assert document["nonfinite"]["value"] == "nan"


def test_check_passes_and_validates(validator):
    document = grad_json(EXAMPLE, "--x", "1", "--y", "2", "--check")
    validator.validate(document)
    check = document["check"]
    assert check["status"] == "passed"
    assert check["entries"]["x"]["agrees"] is True
    assert check["entries"]["x"]["symbolic"] == pytest.approx(EXAMPLE_DX, rel=1e-12)
    assert check["entries"]["y"]["symbolic"] == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize(
    "args",
    [("abs(x)", "--x", "0"), ("sqrt(x)", "--x", "0"), ("log(x)", "--x", "-1"),
     ("max(x, y)", "--x", "1", "--y", "1")],
)
def test_check_on_flagged_results_validates(validator, args):
    document = grad_json(*args, "--check")
    validator.validate(document)
    assert document["check"]["status"] in ("passed", "skipped")


def test_check_shows_ticks_in_the_table():
    result = invoke("grad", EXAMPLE, "--x", "1", "--y", "2", "--check")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("✓") == 2
    assert "✗" not in result.stdout


def test_error_document_on_stdout_and_one_line_on_stderr(validator):
    result = invoke("grad", "x +", "--json")
    assert result.exit_code == 2
    document = strict_json(result.stdout)
    validator.validate(document)
    assert document["ok"] is False
    assert document["error"]["code"] == "parse_error"
    line = one_error_line(result.stderr)
    assert line == f"error: {document['error']['message']}"


def test_missing_variable_error_document_validates(validator):
    result = invoke("grad", "x*y", "--x", "1", "--json")
    assert result.exit_code == 2
    document = strict_json(result.stdout)
    validator.validate(document)
    assert "'y'" in document["error"]["message"]


def test_schema_rejects_what_the_contract_forbids(validator):
    document = grad_json(EXAMPLE, "--x", "1", "--y", "2")
    broken = [
        {**document, "value": "NaN"},
        {**document, "surprise": 1},
        {**document, "nodes": [{**document["nodes"][0], "status": "fine"}]},
        {**document, "ok": False},
        {"schema": 2, "ok": False, "error": {"code": "parse_error"}},
    ]
    for candidate in broken:
        assert not validator.is_valid(candidate), candidate


def test_schema_describes_every_property(schema):
    missing = []
    stack = [("", schema)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            for name, child in node.get("properties", {}).items():
                if "description" not in child:
                    missing.append(f"{where}/{name}")
            stack.extend((f"{where}/{key}", value) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", value) for i, value in enumerate(node))
    assert missing == []


# ---------------------------------------------------------------------------------------------
# Variables and input


@pytest.mark.parametrize(
    ("args", "x"),
    [
        (("--x", "1"), 1.0),
        (("--x=1",), 1.0),
        (("--x", "-2.5"), -2.5),
        (("--x=-2.5",), -2.5),
        (("--at", "x=1,y=2"), 1.0),
        (("--x", "pi/4"), math.pi / 4),
        (("--x", "sqrt(2)/2"), math.sqrt(2) / 2),
    ],
)
def test_variable_values(args, x):
    if "--at" not in args:
        args = (*args, "--y", "2")
    document = grad_json(EXAMPLE, *args)
    assert document["at"]["x"] == pytest.approx(x, rel=1e-15)
    assert document["value"] == pytest.approx(x * 2 + math.tanh(x), rel=1e-12)
    assert document["gradient"]["x"] == pytest.approx(2 + 1 - math.tanh(x) ** 2, rel=1e-12)


def test_at_gives_values_to_names_that_clash_with_options():
    document = grad_json("digits*check", "--at", "digits=3,check=5")
    assert document["value"] == 15.0
    assert document["gradient"] == {"digits": 5.0, "check": 3.0}


def test_greek_variable_option():
    document = grad_json("θ1**2", "--θ1", "0.5")
    assert document["gradient"]["θ1"] == pytest.approx(1.0)


def test_missing_variable_is_named():
    result = invoke("grad", "x*y", "--x", "1")
    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert "'y'" in line and "--y" in line


def test_unused_variable_is_a_warning():
    result = invoke("grad", "x*y", "--x", "1", "--y", "2", "--z", "3")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"warning: .*'z'", result.stderr)
    document = grad_json("x*y", "--x", "1", "--y", "2", "--z", "3")
    assert any("'z'" in warning for warning in document["warnings"])
    assert "z" not in document["gradient"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("x", "--x", "abc"), "'x'"),
        (("x", "--x", "nan"), "finite"),
        (("x", "--x"), "needs a value"),
        (("x", "--x", "1", "--x", "2"), "twice"),
        ((), "no expression"),
        (("x", "--file", "whatever.bp"), "not both"),
        (("--file", "/nonexistent/program.bp"), "not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, fragment):
    result = invoke("grad", *args)
    assert result.exit_code == 2
    assert fragment in one_error_line(result.stderr)
    assert result.stdout == ""


NEURON = "# one neuron\nz = w*x + b\na = sigmoid(z)\nL = (a - t)**2\n"
NEURON_AT = ("--w", "0.5", "--x", "2", "--b", "-0.5", "--t", "1")


def _neuron_oracle() -> tuple[float, float]:
    a = 1 / (1 + math.exp(-(0.5 * 2 - 0.5)))
    return (a - 1) ** 2, 2 * (a - 1) * a * (1 - a) * 2  # L and dL/dw


def test_file(tmp_path):
    program = tmp_path / "neuron.bp"
    program.write_text(NEURON, encoding="utf-8")
    document = grad_json("--file", str(program), *NEURON_AT)
    loss, d_w = _neuron_oracle()
    assert document["output"] == "L"
    assert document["value"] == pytest.approx(loss, rel=1e-12)
    assert document["gradient"]["w"] == pytest.approx(d_w, rel=1e-12)


def test_file_from_stdin():
    document = grad_json("--file", "-", *NEURON_AT, input=NEURON)
    loss, d_w = _neuron_oracle()
    assert document["value"] == pytest.approx(loss, rel=1e-12)
    assert document["gradient"]["w"] == pytest.approx(d_w, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Exit codes: 0 ok, 1 check or --strict failure, 2 bad input


def test_exit_code_values():
    assert (ExitCode.OK, ExitCode.CHECK_FAILED, ExitCode.BAD_INPUT) == (0, 1, 2)


@pytest.mark.parametrize("args", [("abs(x)", "--x", "0"), ("relu(x)", "--x", "0"),
                                  ("max(x, y)", "--x", "1", "--y", "1")])
def test_strict_fails_on_a_kink(args):
    assert invoke("grad", *args).exit_code == 0
    assert invoke("grad", *args, "--strict").exit_code == 1


def test_strict_passes_when_nothing_is_flagged():
    assert invoke("grad", EXAMPLE, "--x", "1", "--y", "2", "--strict").exit_code == 0


# ---------------------------------------------------------------------------------------------
# Help and version


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_help():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "grad" in result.stdout and "--version" in result.stdout


def test_grad_help_mentions_every_option():
    command = typer.main.get_command(app).commands["grad"]
    result = invoke("grad", "--help")
    assert result.exit_code == 0
    options = [opt for param in command.params if param.param_type_name == "option"
               for opt in param.opts if opt.startswith("--")]
    assert {"--file", "--at", "--format", "--json", "--digits", "--check", "--strict"} <= set(
        options)
    for option in options:
        assert option in result.stdout, option
    assert invoke("grad", "-h").stdout == result.stdout


# ---------------------------------------------------------------------------------------------
# The console-script wrapper: usage errors become one line


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["grad", "x", "--x", "1", "--digits", "abc"], "--digits"),
        (["grad", "x", "--x", "1", "--digits", "0"], "--digits"),
        (["grad", "x", "--x", "1", "--format", "xml"], "--format"),
        (["nosuch"], "nosuch"),
    ],
)
def test_usage_errors_are_one_line(capsys, args, fragment):
    with pytest.raises(SystemExit) as caught:
        main(args)
    assert caught.value.code == 2
    captured = capsys.readouterr()
    assert fragment in one_error_line(captured.err)
    assert captured.out == ""


@pytest.mark.parametrize(("args", "helped"), [
    (["hessian", "x*y", "--x", "1", "--y", "2", "--wrt"], "backprop hessian --help"),
    (["grad", "x", "--x", "1", "--digits"], "backprop grad --help"),
    (["gradd", "x"], "backprop --help")])
def test_a_usage_error_points_to_its_commands_help(capsys, args, helped):
    """An option left without its value pointed to 'backprop --help', the list of commands,
    not the command's own options (a trial)."""
    with pytest.raises(SystemExit):
        main(args)
    assert one_error_line(capsys.readouterr().err).endswith(f"(see '{helped}')")


def test_usage_error_with_json_prints_an_error_document(capsys, validator):
    with pytest.raises(SystemExit) as caught:
        main(["grad", "x", "--x", "1", "--digits", "abc", "--json"])
    assert caught.value.code == 2
    captured = capsys.readouterr()
    document = strict_json(captured.out)
    validator.validate(document)
    assert document["ok"] is False
    assert "--digits" in one_error_line(captured.err)



@pytest.mark.parametrize("written", ["--json", "--digits", "--format=json"])
def test_an_option_before_the_command_says_where_it_goes(capsys, written):
    """`backprop --json grad x --x 1` was told "No such option '--json'. Did you mean
    '--version'?"; `--format=json` before it then raised a ValueError."""
    with pytest.raises(SystemExit) as caught:
        main([written, "grad", "x", "--x", "1"])
    assert caught.value.code == 2
    option = written.partition("=")[0]
    assert one_error_line(capsys.readouterr().err) == (
        f"error: {option} comes before the command: options go after it, as in 'backprop grad "
        f"... {option}' (see 'backprop --help')")

def test_main_success(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["grad", "x*y", "--x", "2", "--y", "3", "--json"])
    assert caught.value.code == 0
    assert strict_json(capsys.readouterr().out)["gradient"] == {"x": 3.0, "y": 2.0}


def test_main_strict_failure_exits_1(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["grad", "abs(x)", "--x", "0", "--strict"])
    assert caught.value.code == 1


def test_no_arguments_shows_help_without_an_empty_error(capsys):
    with pytest.raises(SystemExit):
        main([])
    captured = capsys.readouterr()
    assert "Usage" in captured.out + captured.err
    assert not re.search(r"error:\s*(\(|$)", captured.err, re.MULTILINE), captured.err


# ---------------------------------------------------------------------------------------------
# Real processes


def test_real_subprocess():
    env = {key: value for key, value in os.environ.items() if key not in PLAIN}
    env["COLUMNS"] = "200"  # wide, so the width measured below is the output's own
    process = subprocess.run([backprop_command(), "grad", "x*y+tanh(x)", "--x", "1", "--y", "2"],
                             capture_output=True, text=True, encoding="utf-8", env=env,
                             timeout=60)
    assert process.returncode == 0, process.stderr
    assert process.stderr == ""
    for title in TITLES:
        assert title in process.stdout
    assert "\x1b" not in process.stdout
    assert max(cell_len(line) for line in process.stdout.splitlines()) <= 80


def test_the_console_script_ends_with_its_output_whole_and_its_exit_code(tmp_path):
    """The console script's process ends without freeing its objects (cli._end_process): a
    document larger than a pipe's buffer still arrives whole, the exit code stands, and the
    atexit handlers run as at a normal exit."""
    marker = tmp_path / "atexit.txt"
    steps = 3000
    program = tmp_path / "chain.txt"
    program.write_text("h1 = x + 1\n" + "".join(f"h{k} = h{k - 1} + 1\n"
                                                  for k in range(2, steps + 1)))
    script = ("import atexit, sys\n"
              f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
              "from backprop_cli.console import main\n"
              "sys.argv = ['backprop', *sys.argv[1:]]\n"
              "main()\n")
    process = subprocess.run([sys.executable, "-c", script, "grad", "--file", str(program),
                              "--x", "0.5", "--json"], capture_output=True, timeout=120)
    assert process.returncode == 0, process.stderr
    assert len(process.stdout) > 1 << 16
    document = json.loads(process.stdout)
    assert document["value"] == 0.5 + steps  # x + 1, steps times
    assert document["gradient"] == {"x": 1.0}
    assert marker.read_text() == "ran"
    flagged = subprocess.run([sys.executable, "-m", "backprop_cli", "grad", "abs(x)", "--x", "0",
                              "--strict"], capture_output=True, text=True, timeout=60)
    assert flagged.returncode == 1
    wrong = subprocess.run([sys.executable, "-m", "backprop_cli", "grad", "x*", "--x", "1"],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2
    assert wrong.stderr.count("\n") == 1 and wrong.stderr.startswith("error:")


def test_the_console_script_flushes_buffered_output_before_it_ends(tmp_path):
    """With standard output block-buffered (no PYTHONUNBUFFERED), what is still in the buffer
    when the command ends is written by _end_process, and a failure to write it is one line
    and exit code 2."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    usage = subprocess.run([sys.executable, "-m", "backprop_cli", "grad", "x", "--x", "1",
                            "--digits", "99", "--json"], capture_output=True, text=True,
                           env=env, timeout=60)
    assert usage.returncode == 2
    assert json.loads(usage.stdout)["ok"] is False
    assert usage.stderr.count("\n") == 1
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            failed = subprocess.run([sys.executable, "-m", "backprop_cli", "grad", "x*2", "--x",
                                     "1", "--json"], stdout=full, stderr=subprocess.PIPE,
                                    text=True, env=env, timeout=60)
        assert failed.returncode == 2
        assert failed.stderr == "error: cannot write the output: No space left on device\n"


def test_python_dash_m_version():
    process = subprocess.run([sys.executable, "-m", "backprop_cli", "--version"],
                             capture_output=True, text=True, timeout=60)
    assert process.returncode == 0
    assert process.stdout.strip() == f"backprop {__version__}"


@pytest.mark.parametrize(("value", "number"), [("2e", "2"), ("1E", "1"), ("-3.5e", "-3.5")])
def test_a_number_whose_exponent_was_left_out_is_refused(value, number):
    """`--y 2e` was read as 2·e = 5.43656 without a word: an exponent left out, most likely."""
    result = runner.invoke(app, ["grad", "x*y", "--x", "1", "--y", value])
    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert f"write {number}e0 for the number" in line, line


@pytest.mark.parametrize("value", ["2*e", "2 e"])
def test_twice_euler_s_number_written_out_is_a_value(value):
    result = runner.invoke(app, ["grad", "x*y", "--x", "1", "--y", value, "--json"])
    assert strict_json(result.stdout)["at"]["y"] == pytest.approx(2 * math.e, rel=1e-15)


SAMPLES = Path(__file__).parent.parent / "samples"
ASSIGNMENT = str(SAMPLES / "teacher" / "hw3" / "assignment.json")


@pytest.mark.parametrize(("args", "message"), [
    (["sweep", "x*2", "--x", "1..5"], "--x 1..5: a range is START:STOP, e.g. --x 1:5"),
    (["train", "L = (w - lr)**2", "--w", "1", "--lr", "3", "--params", "w"],
     "missing value for variable 'lr': --lr is an option of backprop train, so a variable of "
     "that name is given as --at lr=VALUE"),
    (["train", "L = (W1 - 2)**2", "--W1", "1", "--params", "w1"],
     "--params: 'w1' is not a variable of the program (variables: W1); did you mean 'W1'?"),
    (["check", "--assignment", ASSIGNMENT, "--student", "Ada", "--expect", "d/dx=1"],
     "student 'Ada' is not on the assignment's roster; did you mean 'ada'?"),
    (["check", "x", "--x", "1", "--table", str(SAMPLES)],
     f"{SAMPLES} is a directory, not a file"),
])
def test_messages_that_pointed_the_wrong_way(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert one_error_line(result.stderr) == f"error: {message}"


@pytest.mark.parametrize(("name", "text", "message"), [
    ("semi.csv", "x;y\n1;2\n", "the header row 'x;y' is one column; separate the columns with "
                               "commas"),
    ("twice.csv", "x,x\n1,2\n", "every column needs its own name in the header row ('x' is "
                                "given twice)"),
    ("digits.csv", "x,y\n1_000,2\n", "line 2, column 'x': '1_000' has a digit separator '_'"),
    ("twice.json", '{"w": 1, "w": 5}', "'w' is given twice"),
])
def test_a_data_or_values_file_with_a_slip_is_refused_by_name(tmp_path, name, text, message):
    """A semicolon CSV, a header naming x twice and a JSON key given twice were refused
    without naming the slip, or (1_000, the last of two keys) read without a word."""
    path = tmp_path / name
    path.write_text(text)
    option = "--values" if name.endswith(".json") else "--data"
    result = runner.invoke(app, ["grad", "sum(x*y)" if option == "--data" else "w*2",
                                 option, str(path)])
    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert line.endswith(message), line


def test_a_semicolon_table_is_pointed_out(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("node;value;adjoint\nx;1;2\n")
    result = runner.invoke(app, ["check", "x^2", "--x", "1", "--table", str(table)])
    assert result.exit_code == 2
    assert one_error_line(result.stderr).endswith("; separate the columns with commas")


def test_pi_written_as_a_greek_letter_is_pointed_to_the_constant():
    result = runner.invoke(app, ["explain", "π*x", "--x", "1"])
    assert result.exit_code == 2
    assert one_error_line(result.stderr).endswith("; for the constant π write pi")


def test_an_unknown_flag_without_a_value_is_not_only_a_variable():
    """`grad x --x 1 --verbose` was told "--verbose needs a value (variables are given as
    --verbose VALUE)", as if verbose were a variable of x."""
    result = runner.invoke(app, ["grad", "x", "--x", "1", "--verbose"])
    assert one_error_line(result.stderr) == (
        "error: --verbose is not an option of backprop grad, and no value follows it for a "
        "variable 'verbose' (variables are given as --verbose VALUE)")
    result = runner.invoke(app, ["grad", "x*y", "--x", "1", "--y"])
    assert one_error_line(result.stderr) == (
        "error: --y needs a value (variables are given as --y VALUE)")


@pytest.mark.parametrize(("args", "message"), [
    (["generate", "w*x", "--range", "w=-2:2", "--x", "1", "--salt", "s", "--count", "2",
      "--students", "a"], "--students and --count each say who the students are: give one"),
    (["train", "L = 5", "--lr", "0.1"],
     "the program has no variables to train: its loss is a constant"),
    (["grad", "x", "--x", "0x10"], "value for 'x' is not a number or constant expression: value "
     "'0x10': write numbers in decimal (0x, 0o and 0b prefixes are not read)"),
    (["sweep", "x**2", "--x", "-3:3:0.5"], "--x '-3:3:0.5': a range is START:STOP, with no "
     "step; --points N sets how many points it has"),
    (["grad", "x*1_000", "--x", "1"],
     "digit separator '_' in the number '1_000' at column 3: write 1000"),
    (["grad", "x", "--x", "1e-400"], "value for 'x': 1e-400 is below the smallest float64 "
     "number (about 5e-324), so it would be 0; write 0 if 0 is meant"),
])
def test_near_misses_are_told_what_they_are(args, message):
    """Each was told something beside the point: "say who the students are", "every one is
    data", "it uses 'x10'", "':' is not allowed", "missing value for variable '_000'"; and
    1e-400 was silently 0."""
    result = runner.invoke(app, args)
    assert one_error_line(result.stderr) == f"error: {message}"


@pytest.mark.parametrize(("args", "message"), [
    (["grad", "x*1e-400", "--x", "1"], "number '1e-400' at column 3 is below the smallest "
     "float64 number (about 5e-324), so it would be 0; write 0 if 0 is meant"),
    (["grad", "sum(v)", "--v", "[1e-400, 1]"], "value for 'v': 1e-400 is below the smallest "
     "float64 number (about 5e-324), so it would be 0; write 0 if 0 is meant"),
])
def test_a_number_below_the_smallest_float_is_refused_wherever_it_is_written(args, message):
    """1e-400 is 0 in float64 (Python: float('1e-400') == 0.0); in an expression or an array it
    became 0 without a word, as a value given alone did."""
    assert float("1e-400") == 0.0
    result = runner.invoke(app, args)
    assert one_error_line(result.stderr) == f"error: {message}"
