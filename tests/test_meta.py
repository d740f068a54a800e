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
from backprop_cli.commands import COMMANDS as SPECS
from backprop_cli.commands import option_flags

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
COMMANDS = typer.main.get_command(cli.app).commands
runner = CliRunner()


def test_every_command_has_help_text_and_a_readme_entry():
    assert set(COMMANDS) == {"grad", "check", "explain", "graph", "forward", "hessian",
                             "jacobian", "sweep", "fd", "train", "generate", "practice"}
    for name, command in COMMANDS.items():
        assert command.help and len(command.help) > 40, name
        assert f"`backprop {name}`" in README, name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_is_documented_and_known_to_the_typo_hints(name):
    declared = {option for param in COMMANDS[name].params if isinstance(param, click.Option)
                for option in param.opts if option.startswith("--") and option != "--help"}
    spec = next(spec for spec in SPECS if spec.name == name)
    assert declared == set(option_flags(spec)), name
    prose = re.sub(r"```.*?```", "", README, flags=re.S)
    code_spans = " ".join(re.findall(r"`([^`]+)`", prose))
    for option in declared:
        assert re.search(rf"{re.escape(option)}\b", code_spans), f"{name} {option} not in README"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_answers_help(name):
    result = runner.invoke(cli.app, [name, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout


ARGUMENTS = {"sweep": ["x*y", "--x", "0:1", "--y", "2", "--points", "5"],
             "check": ["x*y", "--wrt", "x", "--answer", "y"],
             "forward": ["x*y", "--x", "1", "--y", "2", "--wrt", "x"],
             "fd": ["x*y", "--x", "1", "--y", "2", "--wrt", "x"],
             "generate": ["x*w", "--range", "w=1.5:3", "--x", "2", "--salt", "s", "--count",
                          "2"]}
FORMATS = [(spec.name, name) for spec in SPECS for name in spec.renderers]


@pytest.mark.parametrize(("command", "output_format"), FORMATS,
                         ids=[f"{c}-{f}" for c, f in FORMATS])
def test_every_format_has_a_renderer(command, output_format, tmp_path):
    args = ARGUMENTS.get(command, ["x*y", "--x", "1", "--y", "2"])
    extra = ["-o", str(tmp_path / f"out.{output_format}")] if output_format in ("svg", "png") \
        else []
    if extra and shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed")
    result = runner.invoke(cli.app, [command, *args, "--format", output_format, *extra])
    assert result.exit_code == 0, (command, output_format, result.stderr)
    assert result.stdout or extra, (command, output_format)


def test_a_plain_grad_imports_neither_sympy_nor_numpy():
    """SymPy's import alone is ~0.4 s; the cold-start target depends on keeping it (and NumPy)
    off the path of a plain grad. Structural, not timed: timings live in benchmarks/."""
    import subprocess
    import sys

    # The console script's process ends in cli._end_process, which runs the atexit handlers:
    # the modules are listed there, after the whole command.
    code = ("import atexit, sys\n"
            "sys.argv = ['backprop', 'grad', 'x*y + tanh(x)', '--x', '1', '--y', '2']\n"
            "atexit.register(lambda: sys.stderr.write('loaded: ' + ' '.join(m for m in "
            "('sympy', 'numpy', 'plotext') if m in sys.modules)))\n"
            "from backprop_cli.cli import main\n"
            "main()\n")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.strip() == "loaded:"


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
    from backprop_cli.tensor_names import CALLED_NAMES

    assert set(documented) == set(callable_ops) | (CALLED_NAMES - {"[]"})
    for name, op in callable_ops.items():
        what = " ".join(cells[1] for cells in documented[name])
        derivative = " ".join(cells[2] for cells in documented[name] if len(cells) > 2)
        for alias in op.aliases:
            assert f"`{alias}`" in what, (name, alias)
        if op.convention is not None:
            assert ";" in derivative, f"the README line of {name} states no kink convention"
    for alias, target in ALIASES.items():
        assert any(f"`{alias}`" in cells[1] for cells in documented[target]), alias


# ----------------------------------------------------------------------------------------------
# The house rules on imports, read from the source


PACKAGE = Path(__file__).resolve().parent.parent / "backprop_cli"
PRESENTATION = ("render", "commands", "cli", "terminal", "console", "__main__")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module imported, names imported from it) for every import in the file, resolved."""
    import ast

    package = _module_name(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [alias.name for alias in node.names]
            if node.module is None:  # from . import ops: the names are modules
                found += [(f"{module}.{name}", []) for name in names]
            else:
                found.append((module, names))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def _is_presentation(path: Path) -> bool:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py") in PRESENTATION


@pytest.mark.parametrize("path", [p for p in SOURCES if not _is_presentation(p)],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_library_modules_never_import_renderers_or_the_cli(path):
    for module, _ in _imports(path):
        parts = module.split(".")
        assert not (parts[0] == "backprop_cli" and len(parts) > 1
                    and parts[1] in PRESENTATION), (path.name, module)


@pytest.mark.parametrize("name", ["ops.py", "fallback.py", "backends", "engine.py", "fused.py"])
def test_the_op_table_and_engine_import_no_process_machinery(name):
    paths = sorted((PACKAGE / name).rglob("*.py")) if (PACKAGE / name).is_dir() \
        else [PACKAGE / name]
    for path in paths:
        for module, _ in _imports(path):
            assert module.split(".")[-1] not in ("bounded", "multiprocessing", "subprocess"), (
                path.name, module)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_reaches_into_another_modules_private_names(path):
    import ast

    for module, names in _imports(path):
        if module.startswith("backprop_cli"):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, (path.name, module, private)
    modules = {alias.asname or alias.name.rsplit(".", 1)[-1]
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.ImportFrom) and node.module is None
               for alias in node.names}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            raise AssertionError(f"{path.name}: {node.value.id}.{node.attr}")


def test_a_terminal_passed_in_receives_the_output_and_the_errors():
    """Tests swap the terminal instead of capturing the real streams."""
    import io

    from backprop_cli.terminal import Terminal

    terminal = Terminal(out=io.StringIO(), err=io.StringIO(), color=False, width=100)
    result = runner.invoke(cli.app, ["grad", "x*y", "--x", "3", "--y", "2", "--json"],
                           obj=terminal)
    assert result.exit_code == 0 and result.stdout == ""
    assert '"gradient":{"x":2.0,"y":3.0}' in terminal.out.getvalue()
    result = runner.invoke(cli.app, ["grad", "x*", "--x", "1"], obj=terminal)
    assert result.exit_code == 2
    assert terminal.err.getvalue().startswith("error: the expression ends with '*'")
