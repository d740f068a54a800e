"""`backprop graph`: ascii, dot, mermaid, svg and png, against `grad --json` and Graphviz.

The structural reference is the JSON of `grad --json`: its `nodes` and each node's `inputs` are
the graph's nodes and edges. Each drawing is parsed back (DOT and Mermaid by a strict line
grammar, DOT also by Graphviz itself through `dot -Tjson`, SVG by an XML parser, the ascii tree by
its indentation) and compared with that reference: the same nodes, the same multiset of
(input → consumer) edges, and, with a point, the same values, adjoints and local derivatives.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backprop_cli.cli import app
from backprop_cli.render import graph_dot, graph_mermaid

ROOT = Path(__file__).resolve().parent.parent
DIAMOND = "h1 = x*y; h2 = y*z; h = h1*h2; o = h*h"
DIAMOND_POINT = ("--x", "3", "--y", "2", "--z", "1")
# DOT keywords (node, edge, graph, digraph, subgraph, strict) and Mermaid keywords (end, graph,
# subgraph, flowchart, click, style) as names, a Greek name, a name that the generated ids would
# take (z3), a tiny constant and negative values.
KEYWORDS = ("node = θ1*lambda + digraph; edge = node*graph + 1e-7; z3 = edge - 2.5*z; "
            "end = z3**2 + subgraph*strict + click; flowchart = end*node - style")
# (`grad` has a --strict option, so `strict` gets its value through --at.)
KEYWORDS_POINT = ("--at", "θ1=0.5,lambda=-2,digraph=1.5,graph=3,z=-1,subgraph=2,strict=0.25,"
                  "click=1,style=4")
LOGISTIC = ("--file", str(ROOT / "samples" / "logistic_regression.bp"))
LOGISTIC_POINT = ("--x1", "1.5", "--x2", "2.5", "--w1", "-4", "--w2", "3", "--b", "-1",
                  "--y", "1")
# `a` is used both by `b` and, directly, by the output: a shared node one level up.
SHARED = "a = x*y; b = a + 1; c = b*a"
SHARED_POINT = ("--x", "1", "--y", "2")

PROGRAMS = {
    "diamond": ((DIAMOND,), DIAMOND_POINT),
    "keywords": ((KEYWORDS,), KEYWORDS_POINT),
    "logistic": (LOGISTIC, LOGISTIC_POINT),
    "shared": ((SHARED,), SHARED_POINT),
}
CASES = [(program, with_point) for program in PROGRAMS for with_point in (True, False)]
CASE_IDS = [f"{program}-{'point' if with_point else 'structure'}" for program, with_point in CASES]
OVERLINE = "\u0305"

runner = CliRunner()


def invoke(*args: str):
    """The Typer app in-process, wide enough that rich never wraps a line, without colour."""
    return runner.invoke(app, list(args), env={"COLUMNS": "500", "NO_COLOR": "1",
                                               "FORCE_COLOR": None, "TTY_COMPATIBLE": None})


def graph_args(program: str, with_point: bool) -> list[str]:
    source, point = PROGRAMS[program]
    return ["graph", *source, *(point if with_point else ())]


def run_graph(program: str, with_point: bool, *args: str) -> str:
    result = invoke(*graph_args(program, with_point), *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


_REFERENCE: dict[str, dict] = {}


def reference(program: str) -> dict:
    """grad --json at the program's point: the nodes and edges every drawing must show."""
    if program not in _REFERENCE:
        source, point = PROGRAMS[program]
        result = invoke("grad", *source, *point, "--json")
        assert result.exit_code == 0, result.stderr
        _REFERENCE[program] = json.loads(result.stdout)
    return _REFERENCE[program]


def reference_edges(document: dict) -> Counter:
    return Counter((edge["id"], node["id"]) for node in document["nodes"]
                   for edge in node["inputs"])


def edge_count(document: dict) -> int:
    return sum(len(node["inputs"]) for node in document["nodes"])


def head(node: dict) -> str:
    """The first line of a node's label: its id, and its formula for an operation."""
    return f"{node['id']} = {node['expr']}" if node["inputs"] else node["id"]


def close(text: str, value: float) -> bool:
    return math.isclose(float(text), value, rel_tol=1e-5, abs_tol=1e-300)


def check_label(lines: list[str], node: dict, with_point: bool) -> None:
    """A node's label lines against its JSON entry."""
    assert lines[0] == head(node), (lines, node)
    text = "\n".join(lines[1:])
    value = re.search(r"^value (\S+)$", text, re.M)
    adjoint = re.search(r"^adjoint (\S+)$", text, re.M)
    if with_point:
        assert value and close(value.group(1), node["value"]), (lines, node)
        if node["adjoint"] is not None:
            assert adjoint and close(adjoint.group(1), node["adjoint"]), (lines, node)
    else:
        assert value is None and adjoint is None, lines


def check_edge_label(label: str | None, edge: dict, with_point: bool) -> None:
    """With a point the local derivative's value, without one its rule; none for constants."""
    if edge["rule"] is None:
        assert not label, (label, edge)
    elif with_point:
        assert label and close(label, edge["local"]), (label, edge)
    else:
        assert label == edge["rule"], (label, edge)


def check_drawing(nodes: dict[str, list[str]], edges: list[tuple[str, str, str | None]],
                  program: str, with_point: bool) -> None:
    """`nodes`: drawing id → label lines; `edges`: (tail id, head id, label) in drawing ids."""
    document = reference(program)
    by_head = {head(node): node for node in document["nodes"]}
    assert len(nodes) == len(document["nodes"])
    names = {}
    for drawing_id, lines in nodes.items():
        assert lines[0] in by_head, lines
        node = by_head[lines[0]]
        assert node["id"] not in names.values(), f"{node['id']} is drawn twice"
        names[drawing_id] = node["id"]
        check_label(lines, node, with_point)
    assert len(edges) == edge_count(document)
    assert Counter((names[tail], names[head_id]) for tail, head_id, _ in edges) == (
        reference_edges(document))
    consumers = {node["id"]: node for node in document["nodes"]}
    for tail, head_id, label in edges:
        edge = next(e for e in consumers[names[head_id]]["inputs"] if e["id"] == names[tail])
        check_edge_label(label, edge, with_point)


# ---------------------------------------------------------------------------------------------
# DOT

DOT_NODE = re.compile(r'  (n\d+) \[label=("(?:[^"\\]|\\.)*")(, penwidth=2)?\];')
DOT_EDGE = re.compile(r'  (n\d+) -> (n\d+)(?: \[label=("(?:[^"\\]|\\.)*")\]| \[style=dashed\]);')
DOT_FIXED = {"digraph backprop {", "  rankdir=LR;",
             '  node [shape=box, style="rounded", fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];', "}"}


def dot_unquote(quoted: str) -> str:
    """A DOT double-quoted string as Graphviz shows it: \\n a line break, \\\\ a backslash."""
    out, k, body = [], 0, quoted[1:-1]
    while k < len(body):
        if body[k] == "\\" and k + 1 < len(body):
            out.append({"n": "\n", "l": "\n", "r": "\n"}.get(body[k + 1], body[k + 1]))
            k += 2
        else:
            out.append(body[k])
            k += 1
    return "".join(out)


def parse_dot(text: str):
    """Every line must be one of the fixed lines, a node statement or an edge statement."""
    nodes, edges, outputs = {}, [], []
    lines = text.splitlines()
    assert lines[0] == "digraph backprop {" and lines[-1] == "}"
    for line in lines:
        if line in DOT_FIXED:
            continue
        if match := DOT_NODE.fullmatch(line):
            assert match.group(1) not in nodes, f"two statements for {match.group(1)}"
            nodes[match.group(1)] = dot_unquote(match.group(2)).split("\n")
            if match.group(3):
                outputs.append(match.group(1))
            continue
        match = DOT_EDGE.fullmatch(line)
        assert match, f"not a node or edge statement: {line!r}"
        label = dot_unquote(match.group(3)) if match.group(3) else None
        edges.append((match.group(1), match.group(2), label))
    return nodes, edges, outputs


def needs_dot() -> str:
    executable = shutil.which("dot")
    if executable is None:
        pytest.skip("Graphviz's dot is not installed")
    return executable


def graphviz(text: str, output_format: str) -> subprocess.CompletedProcess:
    return subprocess.run([needs_dot(), f"-T{output_format}"], input=text.encode(),
                          capture_output=True, timeout=60, check=False)


def graphviz_texts(drawn: dict) -> list[str]:
    """The text lines Graphviz drew for one node or edge (its own reading of the label)."""
    return [op["text"] for op in drawn.get("_ldraw_", []) if op["op"] == "T"]


@pytest.mark.parametrize(("program", "with_point"), CASES, ids=CASE_IDS)
def test_dot_has_one_node_per_node_and_one_edge_per_input_edge(program, with_point):
    text = run_graph(program, with_point, "--format", "dot")
    nodes, edges, outputs = parse_dot(text)
    check_drawing(nodes, edges, program, with_point)
    document = reference(program)
    assert [nodes[n][0].split(" = ")[0] for n in outputs] == [document["output"]]


@pytest.mark.parametrize(("program", "with_point"), CASES, ids=CASE_IDS)
def test_dot_is_accepted_by_graphviz_and_read_as_written(program, with_point):
    text = run_graph(program, with_point, "--format", "dot")
    svg = graphviz(text, "svg")
    assert svg.returncode == 0 and svg.stderr == b"", svg.stderr
    laid_out = graphviz(text, "json")
    assert laid_out.returncode == 0, laid_out.stderr
    drawn = json.loads(laid_out.stdout)
    document = reference(program)
    assert len(drawn["objects"]) == len(document["nodes"])
    assert len(drawn["edges"]) == edge_count(document)
    nodes, edges, _ = parse_dot(text)
    for obj in drawn["objects"]:
        assert graphviz_texts(obj) == nodes[obj["name"]], obj["name"]
    names = [obj["name"] for obj in drawn["objects"]]
    assert Counter((names[e["tail"]], names[e["head"]]) for e in drawn["edges"]) == Counter(
        (tail, head_id) for tail, head_id, _ in edges)


@pytest.mark.parametrize("text", [
    'say "hi"', "back\\slash", "trailing\\", "two\nlines", "a -> b; }", "{x} <y> |z| [w]",
    "\\N \\G \\E \\l", "θ1 λ é",
])
def test_dot_quote_survives_graphviz(text):
    """Whatever the label, Graphviz draws exactly its lines, and the graph stays one node."""
    source = f"digraph g {{ a [label={graph_dot.quote(text)}]; }}\n"
    laid_out = graphviz(source, "json")
    assert laid_out.returncode == 0, laid_out.stderr
    drawn = json.loads(laid_out.stdout)
    assert len(drawn["objects"]) == 1
    assert graphviz_texts(drawn["objects"][0]) == text.split("\n")


# ---------------------------------------------------------------------------------------------
# Mermaid

MERMAID_NODE = re.compile(r'    (n\d+)\["([^"]*)"\]')
MERMAID_LINK = re.compile(r'    (n\d+) (?:-->\|"([^"]*)"\||-\.->) (n\d+)')
MERMAID_ENTITIES = {"quot": '"', "lt": "<", "gt": ">", "amp": "&"}


def mermaid_unquote(body: str) -> str:
    body = body.replace("<br/>", "\n")

    def entity(match: re.Match) -> str:
        name = match.group(1)
        return chr(int(name)) if name.isdigit() else MERMAID_ENTITIES[name]

    return re.sub(r"#(\w+);", entity, body)


def parse_mermaid(text: str):
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    nodes, edges = {}, []
    for line in lines[1:]:
        if match := MERMAID_NODE.fullmatch(line):
            assert match.group(1) not in nodes
            nodes[match.group(1)] = mermaid_unquote(match.group(2)).split("\n")
            continue
        match = MERMAID_LINK.fullmatch(line)
        assert match, f"not a node or link line: {line!r}"
        label = mermaid_unquote(match.group(2)) if match.group(2) is not None else None
        edges.append((match.group(1), match.group(3), label))
    return nodes, edges


@pytest.mark.parametrize(("program", "with_point"), CASES, ids=CASE_IDS)
def test_mermaid_has_one_node_line_per_node_and_one_link_per_edge(program, with_point):
    text = run_graph(program, with_point, "--format", "mermaid")
    nodes, edges = parse_mermaid(text)
    check_drawing(nodes, edges, program, with_point)
    # ids are generated (n0, n1, ...), so a name such as `end` or `subgraph` is only ever
    # inside a quoted label
    document = reference(program)
    assert sorted(nodes, key=lambda n: int(n[1:])) == [f"n{k}" for k in
                                                       range(len(document["nodes"]))]
    for line in text.splitlines()[1:]:
        assert re.match(r"    n\d+[\[ ]", line), line


@pytest.mark.parametrize("text", ['say "hi"', "a|b", "<b>bold</b>", "x & y", "#quot;", "`x`",
                                  "two\nlines", "end", 'a"]-->b["c'])
def test_mermaid_quote_keeps_the_label_inside_its_quotes(text):
    quoted = graph_mermaid.quote(text)
    assert quoted.startswith('"') and quoted.endswith('"')
    body = quoted[1:-1]
    assert '"' not in body and "\n" not in body
    assert mermaid_unquote(body) == text


# ---------------------------------------------------------------------------------------------
# svg and png through Graphviz; a clear error without it

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("program", ["diamond", "keywords"])
def test_svg_to_a_file_is_valid_svg_with_every_node_and_edge(program, tmp_path):
    needs_dot()
    path = tmp_path / "graph.svg"
    result = invoke(*graph_args(program, True), "--format", "svg", "-o", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    groups = [g.get("class") for g in root.iter(f"{SVG}g")]
    document = reference(program)
    assert groups.count("node") == len(document["nodes"])
    assert groups.count("edge") == edge_count(document)


def test_svg_to_standard_output(tmp_path):
    needs_dot()
    result = invoke(*graph_args("diamond", False), "--format", "svg")
    assert result.exit_code == 0, result.stderr
    assert ET.fromstring(result.stdout_bytes).tag == f"{SVG}svg"


def test_png_to_a_file(tmp_path):
    needs_dot()
    path = tmp_path / "graph.png"
    result = invoke(*graph_args("diamond", True), "--format", "png", "-o", str(path))
    assert result.exit_code == 0, result.stderr
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 0 and height > 0


@pytest.mark.parametrize("output_format", ["svg", "png"])
def test_without_graphviz_svg_and_png_exit_2_naming_graphviz(output_format, tmp_path,
                                                             monkeypatch):
    monkeypatch.setattr(graph_dot.shutil, "which", lambda *args, **kwargs: None)
    path = tmp_path / f"graph.{output_format}"
    result = invoke(*graph_args("diamond", True), "--format", output_format, "-o", str(path))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "graphviz" in lines[0].lower()
    assert "--format dot" in lines[0]
    assert result.stdout == ""
    assert not path.exists()


def test_without_graphviz_dot_text_still_works(monkeypatch):
    monkeypatch.setattr(graph_dot.shutil, "which", lambda *args, **kwargs: None)
    text = run_graph("diamond", True, "--format", "dot")
    parse_dot(text)


# ---------------------------------------------------------------------------------------------
# ascii

TREE_PREFIX = re.compile(r"^((?:│   |    |├── |└── )*)")


def parse_ascii(text: str):
    """Rows of (depth, node id, shown in full?, edge label text or None, the rest)."""
    rows = []
    for raw in text.rstrip("\n").split("\n"):
        prefix = TREE_PREFIX.match(raw).group(1)
        assert len(prefix) % 4 == 0, raw
        content = raw[len(prefix):].replace(OVERLINE, "")
        label = re.match(r"\(∂(\S+?)/∂(\S+?) = ", content)
        if label:
            node = label.group(2)
            match = re.match(rf"\((.*?)\) {re.escape(node)}(?=  \[| = |  ↑)", content)
            assert match, raw
            edge_label, rest = match.group(1), content[match.end(1) + 2:]
            edge_label = re.sub(r", argument \d+$", "", edge_label)  # x*x's two edges
        else:
            node, edge_label, rest = content.split()[0], None, content
        assert rest.startswith(node), raw
        rows.append((len(prefix) // 4, node, not rest.endswith("↑ see above"), edge_label, rest))
    return rows


@pytest.mark.parametrize(("program", "with_point"), CASES, ids=CASE_IDS)
def test_ascii_draws_every_node_once_and_every_edge(program, with_point):
    rows = parse_ascii(run_graph(program, with_point, "--format", "ascii"))
    document = reference(program)
    nodes = {node["id"]: node for node in document["nodes"]}
    assert rows[0][0] == 0 and rows[0][1] == document["output"]
    assert all(depth > 0 for depth, *_ in rows[1:])
    full = Counter(node for _, node, in_full, _, _ in rows if in_full)
    assert full == Counter(set(nodes)), "every node drawn in full exactly once"
    # the tree's parent/child pairs are exactly the JSON edges (fan-out edges included)
    parents: list[str] = []
    edges = Counter()
    first_full: dict[str, int] = {}
    pointing_down = []
    for k, (depth, node, in_full, edge_label, rest) in enumerate(rows):
        del parents[depth:]
        if depth:
            edges[(node, parents[depth - 1])] += 1
            edge = next(e for e in nodes[parents[depth - 1]]["inputs"] if e["id"] == node)
            if edge["rule"] is None:
                assert edge_label is None, rest
            else:
                assert edge_label is not None and edge_label.startswith(
                    f"∂{parents[depth - 1]}/∂{node} = "), edge_label
                if with_point:
                    assert close(edge_label.rsplit(" = ", 1)[1], edge["local"]), edge_label
        if in_full:
            first_full[node] = k
        elif node not in first_full:
            pointing_down.append(f"row {k}: {node} ↑ see above, but {node} is drawn below")
        parents.append(node)
    assert edges == reference_edges(document)
    assert pointing_down == [], "a later use must point back to a node drawn above it"


@pytest.mark.parametrize("program", list(PROGRAMS))
def test_ascii_with_a_point_shows_values_and_adjoints_of_grad_json(program):
    rows = parse_ascii(run_graph(program, True))
    nodes = {node["id"]: node for node in reference(program)["nodes"]}
    for _, node, in_full, _, rest in rows:
        if not in_full:
            continue
        entry = nodes[node]
        value = re.search(r"  value (\S+)", rest)
        assert value and close(value.group(1), entry["value"]), rest
        if entry["adjoint"] is not None:
            adjoint = re.search(rf"  {re.escape(node)} (\S+)$", rest)
            assert adjoint and close(adjoint.group(1), entry["adjoint"]), rest


def test_ascii_diamond_by_hand():
    """y and h are shared: drawn once each, their second use points back up."""
    text = run_graph("diamond", True)
    rows = parse_ascii(text)
    assert [(node, in_full) for _, node, in_full, _, _ in rows] == [
        ("o", True), ("h", True), ("h1", True), ("x", True), ("y", True), ("h2", True),
        ("y", False), ("z", True), ("h", False)]
    for name, value, adjoint in [("h", 12, 24), ("h1", 6, 48), ("h2", 2, 144), ("x", 3, 96),
                                 ("y", 2, 288), ("z", 1, 288), ("o", 144, 1)]:
        bar = "".join(char + OVERLINE for char in name)
        assert f"value {value}  {bar} {adjoint}" in text, name
    assert text.count("see above") == 2


def test_ascii_without_a_point_shows_no_numbers():
    rows = parse_ascii(run_graph("diamond", False))
    assert not any("value" in rest for *_, rest in rows)
    labels = {(node, label) for _, node, _, label, _ in rows if label}
    assert ("y", "∂h1/∂y = x") in labels and ("y", "∂h2/∂y = z") in labels


# ---------------------------------------------------------------------------------------------
# Determinism: same input, same bytes, across processes with different hash seeds


@pytest.mark.parametrize("output_format", ["dot", "mermaid", "ascii"])
def test_output_is_byte_identical_across_runs(output_format):
    args = [sys.executable, "-m", "backprop_cli", *graph_args("keywords", True),
            "--format", output_format]
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "COLUMNS": "200", "NO_COLOR": "1"}
        done = subprocess.run(args, capture_output=True, timeout=60, env=env, check=False)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    in_process = invoke(*graph_args("keywords", True), "--format", output_format)
    if output_format != "ascii":  # the tree's width follows the terminal
        assert in_process.stdout_bytes == outputs[0]


def test_svg_is_byte_identical_across_runs(tmp_path):
    needs_dot()
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    for path in (first, second):
        result = invoke(*graph_args("keywords", True), "--format", "svg", "-o", str(path))
        assert result.exit_code == 0, result.stderr
    assert first.read_bytes() == second.read_bytes()


def test_an_input_taken_twice_has_each_edge_labelled_with_its_argument():
    """u = x*x drew two edges each labelled ∂u/∂x = x, where the partial is 2x; grad's table
    labels them (argument 1), (argument 2)."""
    from typer.testing import CliRunner

    from backprop_cli.cli import app

    shown = CliRunner().invoke(app, ["graph", "u = x*x; L = u*y", "--x", "1.5", "--y", "2"])
    assert "(∂u/∂x = x = 1.5, argument 1) x" in shown.stdout
    assert "(∂u/∂x = x = 1.5, argument 2) x" in shown.stdout

