"""Work proportional to the input (issue 9): refused before it starts with one line that says
how to shrink it, or streamed in bounded memory.

Each limit is reached with a small program built just over it (most are refused before any
evaluation, so they are quick). Streamed sweep output is checked against the engine run in one
chunk and against the library's own document; the SymPy oracle checks `hessian --wrt`.
"""

from __future__ import annotations

import json
import math
import subprocess
import tracemalloc

import numpy as np
import pytest
import sympy as sp
from cli_checks import backprop_command, one_error_line, strict_json
from typer.testing import CliRunner

from backprop_cli.cli import app
from backprop_cli.graph import MAX_FALLBACK_NODES, build_graph, nodes_beyond
from backprop_cli.matrices import (
    MAX_HESSIAN_WORK,
    MAX_JACOBIAN_WORK,
    MAX_TABLE_ENTRIES,
    final_tuple,
)
from backprop_cli.parse import parse_program
from backprop_cli.render import graph_dot
from backprop_cli.render.json_format import dumps
from backprop_cli.result import label
from backprop_cli.sweep import CHUNK_BYTES, MAX_SWEEP_WORK, sweep, vector_pass

PLAIN = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "NO_COLOR": None}
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), env=PLAIN)


def refused(*args: str) -> str:
    """The one error line of a refused command (exit 2, nothing else on stderr)."""
    result = invoke(*args)
    assert result.exit_code == 2, (result.exit_code, result.stdout[:300], result.stderr)
    return one_error_line(result.stderr)


def chain(statements: int) -> str:
    """h0 = x*y; h_k = h_{k-1}*x + y: two op nodes a statement, values stay exact integers
    at x = 1."""
    return "\n".join(["h0 = x*y"] + [f"h{k} = h{k - 1}*x + y" for k in range(1, statements)])


def variables_program(count: int) -> tuple[str, str]:
    """A sum of squares of `count` variables, written as a chain, and its --at option."""
    lines = ["s0 = x0*x0"] + [f"s{k} = s{k - 1} + x{k}*x{k}" for k in range(1, count)]
    return "\n".join(lines), ",".join(f"x{k}={k % 7 + 1}" for k in range(count))


# ----------------------------------------------------------------------------------------------
# sweep: streamed, chunked by the node count, and a work limit

SWEPT = "f = log(x)*y + sqrt(x + 1)*tanh(x*y) + 1/x"  # gaps (x <= 0, x = -1 slope, 1/0)


def test_a_long_streamed_sweep_is_the_one_chunk_computation_in_json_and_csv():
    points = 30_001  # several chunks and slices; x = 0 is a point (log and 1/x undefined)
    document = strict_json(invoke("sweep", SWEPT, "--x", "-1.5:1.5", "--y", "0.7",
                                  "--points", str(points), "--json").stdout)
    xs = np.linspace(-1.5, 1.5, points)
    value, derivative = vector_pass(build_graph(parse_program(SWEPT)), {"x": xs, "y": 0.7},
                                    "x", chunk=points)
    assert document["x"] == xs.tolist()

    def nulls(array) -> list:
        return [v if math.isfinite(v) else None for v in array.tolist()]

    assert document["value"] == nulls(value)
    assert document["derivative"] == nulls(derivative)
    labels = document["nonfinite"]
    assert labels["value"] == [label(v) for v in value.tolist()]
    assert labels["derivative"] == [label(v) for v in derivative.tolist()]
    assert labels["value"][0] == "nan" and labels["value"][-1] is None
    csv = invoke("sweep", SWEPT, "--x", "-1.5:1.5", "--y", "0.7", "--points", str(points),
                 "--format", "csv").stdout.splitlines()
    assert csv[0] == "x,value,derivative" and len(csv) == points + 1
    for k in (0, 1, points // 2, 16_383, 16_384, points - 1):
        cells = csv[k + 1].split(",")
        assert float(cells[0]) == xs[k]
        for cell, expected in zip(cells[1:], (value[k], derivative[k]), strict=True):
            assert cell == (repr(float(expected)) if math.isfinite(expected) else "")


def test_streamed_json_is_the_library_document_byte_for_byte():
    result = sweep(SWEPT, {"y": 0.7}, "x", -1.5, 1.5, 20_001)
    streamed = invoke("sweep", SWEPT, "--x", "-1.5:1.5", "--y", "0.7", "--points", "20001",
                      "--json").stdout
    assert streamed == dumps(result.to_dict()) + "\n"


def test_sweep_output_file_holds_what_standard_output_would(tmp_path):
    target = tmp_path / "sweep.csv"
    args = ("sweep", "x^2", "--x", "-1:3", "--points", "1000", "--format", "csv")
    assert invoke(*args, "-o", str(target)).stdout == ""
    assert target.read_text(encoding="utf-8") == invoke(*args).stdout


def test_sweep_memory_is_bounded_by_the_chunk_not_by_nodes_times_points():
    text = chain(500)  # 1,002 nodes; 20,000 points of all of them would be 320 MB
    tracemalloc.start()
    try:
        sweep(text, {"y": 0.5}, "x", -1.0, 1.0, 20_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * CHUNK_BYTES, peak


def test_sweep_beyond_its_work_limit_is_refused_before_evaluating():
    nodes = len(build_graph(parse_program(chain(150))))
    points = 10_000_000
    assert nodes * points > MAX_SWEEP_WORK
    line = refused("sweep", chain(150), "--x", "0:1", "--y", "2", "--points", str(points))
    assert "too much work" in line and "--points" in line and f"{nodes:,} nodes" in line


# ----------------------------------------------------------------------------------------------
# hessian: variables × nodes, --wrt, and the table's size


def test_hessian_beyond_its_work_limit_is_refused_with_how_to_shrink_it():
    count = 6_000  # 6,000 variables × at least 18,000 nodes
    text, at = variables_program(count)
    assert count * count > MAX_HESSIAN_WORK
    line = refused("hessian", text, "--at", at, "--json")
    assert "too much work" in line and "--wrt" in line and f"{count:,} variables" in line


def test_hessian_wrt_gives_those_rows_and_columns_as_sympy_does():
    text = "f = x*y*z + sin(x)*z^2 + exp(y*w)"
    point = {"x": 0.3, "y": -0.7, "z": 1.1, "w": 0.4}
    symbols = {name: sp.Symbol(name, real=True) for name in point}
    x, y, z, w = symbols.values()
    expression = x * y * z + sp.sin(x) * z ** 2 + sp.exp(y * w)
    at = ",".join(f"{name}={value}" for name, value in point.items())
    document = strict_json(invoke("hessian", text, "--at", at, "--wrt", "z,x", "--json").stdout)
    assert document["variables"] == ["z", "x"]
    for i, a in enumerate(("z", "x")):
        for j, b in enumerate(("z", "x")):
            expected = float(sp.diff(expression, symbols[a], symbols[b]).subs(
                {symbols[k]: v for k, v in point.items()}))
            assert document["hessian"][i][j] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_hessian_wrt_must_name_variables():
    line = refused("hessian", "x*y", "--x", "1", "--y", "2", "--wrt", "q")
    assert "'q'" in line and "variables: x, y" in line


def test_a_matrix_too_large_for_a_table_is_refused_there_and_given_in_json():
    count = 101  # 10,201 entries
    assert count * count > MAX_TABLE_ENTRIES
    text, at = variables_program(count)
    line = refused("hessian", text, "--at", at)
    assert "--json" in line and "--wrt" in line and "101 × 101" in line
    document = strict_json(invoke("hessian", text, "--at", at, "--json").stdout)
    assert document["hessian"][5][5] == 2.0 and document["hessian"][5][6] == 0.0


# ----------------------------------------------------------------------------------------------
# jacobian: outputs × nodes, and the final tuple found without backtracking


def test_jacobian_beyond_its_work_limit_is_refused_with_how_to_shrink_it():
    statements = 2_300  # 4,601 nodes × 2,300 outputs
    text = chain(statements)
    nodes = len(build_graph(parse_program(text)))
    assert nodes * statements > MAX_JACOBIAN_WORK
    outputs = ",".join(f"h{k}" for k in range(statements))
    line = refused("jacobian", text, "--x", "1", "--y", "2", "--output", outputs)
    assert "too much work" in line and "--output" in line and f"{statements:,} outputs" in line


@pytest.mark.parametrize(("text", "expected"), [
    ("a = x*y; b = x + y; a, b", ("a = x*y; b = x + y", ["a", "b"])),
    ("a = x*y\nb = x + y\n(a, b)\n", ("a = x*y\nb = x + y", ["a", "b"])),
    ("a = x\nθ1 = a*2; a ,  θ1  ", ("a = x\nθ1 = a*2", ["a", "θ1"])),
    ("a = x*y; b = x + y; a", None),  # one name is the last statement, not a tuple
    ("a = x*y, b", None),  # no statement before it
    ("a = x; b = 2; a, 2b", None),
    ("a = x; b = 2; a, b + 1", None),
])
def test_final_tuple_is_the_last_statement_when_it_lists_names(text, expected):
    assert final_tuple(text) == expected


def test_a_final_tuple_after_blank_lines_is_read_in_one_pass():
    # The former regex backtracked over every split of the whitespace: minutes for this.
    text = "a = x*y" + "\n " * 30_000 + "a, b\n"
    done = subprocess.run([backprop_command(), "jacobian", "--x", "1", "--y", "2", "--json",
                           "--", text], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "'b' is not a node" in one_error_line(done.stderr)
    document = json.loads(done.stdout)
    assert document["ok"] is False


# ----------------------------------------------------------------------------------------------
# explain and the terminal graph: refused from the program's first statements


def test_explain_and_the_ascii_graph_refuse_a_large_program_from_a_prefix():
    text = chain(40_000)  # 80,001 nodes
    for args in (("explain", text, "--x", "1", "--y", "2"), ("graph", text)):
        line = refused(*args)
        assert "at least" in line and "2,000 nodes" in line


def test_nodes_beyond_never_refuses_a_program_within_the_limit():
    padded = "\n".join(f"# a comment of some length, line {k}; with a semicolon\n"
                       f"step_number_{k} = step_number_{k - 1}*x + y" if k else "step_number_0 = x"
                       for k in range(900))
    nodes = len(build_graph(parse_program(padded)))
    assert nodes < 2_000 < 24 * 2_000 < len(padded)
    assert nodes_beyond(padded, 2_000) is None
    found = nodes_beyond(chain(5_000), 2_000)
    assert found is not None and 2_000 < found <= len(build_graph(parse_program(chain(5_000))))
    assert nodes_beyond("a = x; b = (", 2) is None  # the full parse reports the error


# ----------------------------------------------------------------------------------------------
# --exact, SymPy functions, Graphviz


def test_exact_mode_beyond_its_node_limit_is_refused():
    line = refused("grad", chain(25_001), "--x", "1", "--y", "2", "--exact")
    assert "50,000 nodes" in line and "leave out --exact" in line


def test_programs_with_many_sympy_function_calls_are_refused():
    def calls(count: int) -> str:
        return "\n".join(f"h{k} = erfinv(x/{k + 2})" + (f" + h{k - 1}" if k else "")
                         for k in range(count))

    result = invoke("grad", calls(MAX_FALLBACK_NODES), "--x", "0.5", "--json")
    assert result.exit_code == 0, result.stderr
    line = refused("grad", calls(MAX_FALLBACK_NODES + 1), "--x", "0.5")
    assert f"{MAX_FALLBACK_NODES + 1} times" in line and "at most" in line


graphviz = pytest.mark.skipif(not graph_dot.shutil.which("dot"), reason="Graphviz not installed")


@graphviz
@pytest.mark.parametrize(("cap", "value", "named"), [
    ("GRAPHVIZ_SECONDS", 0.05, "time cap of 0.05 s"),
    ("GRAPHVIZ_MEMORY_BYTES", 8 * 1024**2, "memory cap of 8 MiB"),
])
def test_graphviz_runs_under_its_own_caps(monkeypatch, tmp_path, cap, value, named):
    monkeypatch.setattr(graph_dot, cap, value)
    program = "\n".join(["h0 = x*y"] + [f"h{k} = tanh(h{k - 1}*x + h{k // 2})"
                                        for k in range(1, 150)])
    line = refused("graph", program, "--format", "svg", "-o", str(tmp_path / "g.svg"))
    assert named in line and "Graphviz" in line and "--format dot" in line
