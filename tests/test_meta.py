"""Meta-tests over the registries: every command is documented, every option is known to the
typo hints and the README, and every output format has a renderer."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from backprop_cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
COMMANDS = typer.main.get_command(cli.app).commands
runner = CliRunner()


def test_every_command_has_help_text_and_a_readme_entry():
    assert set(COMMANDS) == {"grad", "check", "explain", "graph", "forward", "hessian",
                             "jacobian", "sweep"}
    for name, command in COMMANDS.items():
        assert command.help and len(command.help) > 40, name
        assert f"`backprop {name}`" in README, name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_is_documented_and_known_to_the_typo_hints(name):
    declared = {option for param in COMMANDS[name].params if isinstance(param, click.Option)
                for option in param.opts if option.startswith("--") and option != "--help"}
    assert declared == set(cli._COMMAND_OPTIONS[name]), name
    prose = re.sub(r"```.*?```", "", README, flags=re.S)
    code_spans = " ".join(re.findall(r"`([^`]+)`", prose))
    for option in declared:
        assert re.search(rf"{re.escape(option)}\b", code_spans), f"{name} {option} not in README"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_answers_help(name):
    result = runner.invoke(cli.app, [name, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout


FORMATS = [
    ("grad", cli.Format, ["x*y", "--x", "1", "--y", "2"]),
    ("explain", cli.ExplainFormat, ["x*y", "--x", "1", "--y", "2"]),
    ("graph", cli.GraphFormat, ["x*y", "--x", "1", "--y", "2"]),
    ("sweep", cli.SweepFormat, ["x*y", "--x", "0:1", "--y", "2", "--points", "5"]),
]


@pytest.mark.parametrize("command, formats, args", FORMATS, ids=[f[0] for f in FORMATS])
def test_every_format_has_a_renderer(command, formats, args, tmp_path):
    for value in formats:
        extra = ["-o", str(tmp_path / f"out.{value.value}")] if value.value in ("svg", "png") \
            else []
        if extra and shutil.which("dot") is None:
            continue
        result = runner.invoke(cli.app, [command, *args, "--format", value.value, *extra])
        assert result.exit_code == 0, (command, value, result.stderr)
        assert result.stdout or extra, (command, value)


def test_a_plain_grad_imports_neither_sympy_nor_numpy():
    """SymPy's import alone is ~0.4 s; the cold-start target depends on keeping it (and NumPy)
    off the path of a plain grad. Structural, not timed: timings live in benchmarks/."""
    import subprocess
    import sys

    code = ("import sys; sys.argv = ['backprop', 'grad', 'x*y + tanh(x)', '--x', '1', '--y', '2']\n"
            "from backprop_cli.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(' '.join(m for m in ('sympy', 'numpy', 'plotext') "
            "if m in sys.modules))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.strip() == ""


def _functions_table() -> list[list[str]]:
    section = README.split("### Functions", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_every_function_of_the_op_table_has_a_readme_line_and_nothing_else_does():
    from backprop_cli.ops import ALIASES, OPS

    callable_ops = {op.called_as or op.name: op for op in OPS.values()
                    if not op.internal and op.name not in ("add", "sub", "mul", "div", "pow",
                                                           "neg", "id")}
    documented: dict[str, list[list[str]]] = {}
    for cells in _functions_table():
        for name in re.findall(r"`(\w+)\(", cells[0]):
            documented.setdefault(name, []).append(cells)
    assert set(documented) == set(callable_ops)
    for name, op in callable_ops.items():
        what = " ".join(cells[1] for cells in documented[name])
        derivative = " ".join(cells[2] for cells in documented[name])
        for alias in op.aliases:
            assert f"`{alias}`" in what, (name, alias)
        if op.convention is not None:
            assert ";" in derivative, f"the README line of {name} states no kink convention"
    for alias, target in ALIASES.items():
        assert any(f"`{alias}`" in cells[1] for cells in documented[target]), alias
