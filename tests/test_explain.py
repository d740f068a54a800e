"""`backprop explain`: the chain rule step by step, checked against independent oracles.

Oracles: the diamond worked by hand (below), `sympy.diff` for random programs, and the JSON of
`grad --json` as the structural reference (which edges exist, their local derivatives and the
adjoints). Nothing here compares explain's output with a stored copy of itself: every number a
reverse-sweep line prints is parsed back and the arithmetic redone.

The diamond h1 = x*y; h2 = y*z; h = h1*h2; o = h*h at (x, y, z) = (3, 2, 1), by hand:
    h1 = 6, h2 = 2, h = 12, o = 144
    o̅ = 1
    h̅ = o̅·∂o/∂h + o̅·∂o/∂h = 1·12 + 1·12 = 24        (o = h*h: two edges from h)
    h̅1 = h̅·h2 = 24·2 = 48,  h̅2 = h̅·h1 = 24·6 = 144
    x̅ = h̅1·y = 48·2 = 96
    y̅ = h̅1·x + h̅2·z = 48·3 + 144·1 = 288            (fan-out: one term per path)
    z̅ = h̅2·y = 144·2 = 288
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from programs import SYMBOLS, VARIABLES, statement_programs
from typer.testing import CliRunner

from backprop_cli import api
from backprop_cli.cli import app
from backprop_cli.explain import explain

ROOT = Path(__file__).resolve().parent.parent
DIAMOND = "h1 = x*y; h2 = y*z; h = h1*h2; o = h*h"
DIAMOND_POINT = ("--x", "3", "--y", "2", "--z", "1")
DIAMOND_ADJOINTS = {"o": 1, "h": 24, "h1": 48, "h2": 144, "x": 96, "y": 288, "z": 288}
# node -> sorted (consumer, consumer's adjoint, local derivative) of its chain-rule terms
DIAMOND_TERMS = {
    "o": [],
    "h": [("o", 1, 12), ("o", 1, 12)],
    "h1": [("h", 24, 2)],
    "h2": [("h", 24, 6)],
    "x": [("h1", 48, 2)],
    "y": [("h1", 48, 3), ("h2", 144, 1)],
    "z": [("h2", 144, 2)],
}
# The diamond's node ids as LaTeX symbols, written by hand.
DIAMOND_LATEX = {"o": "o", "h": "h", "h_{1}": "h1", "h_{2}": "h2", "x": "x", "y": "y", "z": "z"}

LOGISTIC_FILE = str(ROOT / "samples" / "logistic_regression.bp")
LOGISTIC_POINT = ("--x1", "1.5", "--x2", "2.5", "--w1", "-4", "--w2", "3", "--b", "-1",
                  "--y", "1")
ODD = "a = θ1*w_1 - lambda*(-2.5); yhat = sigmoid(a); L = (yhat - 1)**2 + lambda*θ1**2 - 3"
ODD_POINT = ("--θ1", "-0.5", "--w_1", "2", "--lambda", "0.1")

PROGRAMS = {
    "diamond": ((DIAMOND,), DIAMOND_POINT),
    "logistic": (("--file", LOGISTIC_FILE), LOGISTIC_POINT),
    "odd-names": ((ODD,), ODD_POINT),
}
FORMATS = ("text", "markdown", "latex")
OVERLINE = "\u0305"

runner = CliRunner()


def invoke(*args: str):
    """The Typer app in-process, wide enough that rich never wraps a line, without colour."""
    return runner.invoke(app, list(args), env={"COLUMNS": "500", "NO_COLOR": "1",
                                               "FORCE_COLOR": None, "TTY_COMPATIBLE": None})


def run_explain(program: str, *args: str) -> str:
    (source, point) = PROGRAMS[program]
    result = invoke("explain", *source, *point, *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def grad_json(program: str) -> dict:
    (source, point) = PROGRAMS[program]
    result = invoke("grad", *source, *point, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# ---------------------------------------------------------------------------------------------
# Parsing the reverse sweep back out of each format


class Line:
    """One reverse-sweep line: the node, its terms' (consumer, adjoint, local) and its value."""

    def __init__(self, node: str, consumers: list[str], numbers: list[tuple[float, float]],
                 value: float, seed: bool):
        self.node, self.consumers, self.numbers, self.value, self.seed = (
            node, consumers, numbers, value, seed)

    @property
    def terms(self) -> list[tuple[str, float, float]]:
        assert len(self.consumers) == len(self.numbers), (self.consumers, self.numbers)
        return sorted((c, a, b) for c, (a, b) in zip(self.consumers, self.numbers, strict=True))


def _plain_number(text: str) -> float:
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    return float(text)


def _plain_products(text: str) -> list[tuple[float, float]]:
    """`48·3 + 144·1` → [(48, 3), (144, 1)]; negative factors are parenthesized."""
    pairs = []
    for term in text.split(" + "):
        factors = term.split("·")
        assert len(factors) == 2, f"a term is not a product of two numbers: {term!r}"
        pairs.append((_plain_number(factors[0]), _plain_number(factors[1])))
    return pairs


def text_reverse(stdout: str) -> dict[str, Line]:
    section = stdout.split("Reverse sweep", 1)[1].split("\nGradient", 1)[0]
    lines = {}
    for raw in section.splitlines()[1:]:
        if not raw.strip():
            continue
        main = raw.strip().replace(OVERLINE, "").split("   where ")[0]
        parts = main.split(" = ")
        node = parts[0]
        assert node not in lines, f"{node} has two reverse lines"
        if len(parts) == 3 and parts[2] == "1" and parts[1].startswith("∂"):
            lines[node] = Line(node, [], [], 1.0, True)
            continue
        assert len(parts) == 4, raw
        consumers = re.findall(rf"∂([^/]+)/∂{re.escape(node)}(?![\w])", parts[1])
        lines[node] = Line(node, consumers, _plain_products(parts[2]), float(parts[3]), False)
    return lines


def markdown_cells(row: str) -> list[str]:
    """The cells of a GFM table row: split at `|` not escaped by a backslash."""
    assert row.startswith("|") and row.endswith("|"), row
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row[1:-1])]


def markdown_reverse(stdout: str) -> dict[str, Line]:
    section = stdout.split("### Reverse sweep", 1)[1].split("### Gradient", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert markdown_cells(rows[0]) == ["adjoint", "chain rule", "with numbers", "value"]
    lines = {}
    for row in rows[2:]:
        adjoint, rule, numbers, value = markdown_cells(row)
        node = adjoint.replace(OVERLINE, "")
        assert node not in lines, f"{node} has two reverse rows"
        if numbers == "1" and rule == f"∂{node}/∂{node}":
            lines[node] = Line(node, [], [], float(value), True)
            continue
        consumers = re.findall(rf"∂([^/]+)/∂{re.escape(node)} \(", rule)
        lines[node] = Line(node, consumers, _plain_products(numbers), float(value), False)
    return lines


_LATEX_NUMBER = r"-?[0-9.]+(?: \\cdot 10\^\{-?\d+\})?"
_LATEX_FACTOR = re.compile(rf"\\left\(({_LATEX_NUMBER})\\right\)|({_LATEX_NUMBER})")


def _latex_number(text: str) -> float:
    mantissa, _, exponent = text.partition(r" \cdot 10^{")
    return float(mantissa + ("e" + exponent.rstrip("}") if exponent else ""))


def latex_reverse(stdout: str, names: dict[str, str] | None = None) -> dict[str, Line]:
    """Rows of the reverse-sweep align*; `names` maps LaTeX symbols back to node ids."""
    block = stdout.split("\\paragraph{Reverse sweep}", 1)[1]
    block = block.split("\\begin{align*}", 1)[1].split("\\end{align*}", 1)[0]
    lines = {}
    for row in block.strip().split(" \\\\\n"):
        lhs, rhs = row.split("&=")
        symbol = re.fullmatch(r"\\(?:bar|overline)\{(.*)\}", lhs.strip()).group(1)
        node = names[symbol] if names else symbol
        parts = rhs.strip().split(" = ")
        if parts == ["1"]:
            lines[node] = Line(node, [], [], 1.0, True)
            continue
        assert len(parts) == 3, row
        consumers = re.findall(r"\\frac\{\\partial (.+?)\}\{\\partial ", parts[0])
        if names:
            consumers = [names[c] for c in consumers]
        numbers = []
        for term in parts[1].split(" + "):
            factors = [a or b for a, b in _LATEX_FACTOR.findall(term)]
            assert len(factors) == 2, f"a term is not a product of two numbers: {term!r}"
            numbers.append((_latex_number(factors[0]), _latex_number(factors[1])))
        lines[node] = Line(node, consumers, numbers, _latex_number(parts[2]), False)
    return lines


def reverse_lines(output_format: str, stdout: str, names=None) -> dict[str, Line]:
    if output_format == "text":
        return text_reverse(stdout)
    if output_format == "markdown":
        return markdown_reverse(stdout)
    return latex_reverse(stdout, names)


def assert_arithmetic(lines: dict[str, Line], rel: float) -> None:
    """Each line's printed numbers multiply and sum to its printed value."""
    for line in lines.values():
        if line.seed:
            assert line.value == 1
            continue
        products = [a * b for a, b in line.numbers]
        scale = sum(abs(p) for p in products)
        assert math.isclose(sum(products), line.value, rel_tol=rel, abs_tol=rel * scale), (
            line.node, line.numbers, line.value)


# ---------------------------------------------------------------------------------------------
# The diamond, worked by hand


@pytest.mark.parametrize("output_format", FORMATS)
def test_diamond_shows_every_adjoint_with_its_chain_rule_terms(output_format):
    stdout = run_explain("diamond", "--format", output_format)
    lines = reverse_lines(output_format, stdout, DIAMOND_LATEX)
    assert set(lines) == set(DIAMOND_ADJOINTS)
    assert {node: line.value for node, line in lines.items()} == DIAMOND_ADJOINTS
    assert lines["o"].seed
    for node, expected in DIAMOND_TERMS.items():
        assert lines[node].terms == expected, (node, lines[node].terms)
    assert_arithmetic(lines, rel=0)  # integers: exact


@pytest.mark.parametrize("output_format", FORMATS)
def test_diamond_fan_out_term_counts(output_format):
    lines = reverse_lines(output_format, run_explain("diamond", "--format", output_format),
                          DIAMOND_LATEX)
    assert sorted(lines["y"].consumers) == ["h1", "h2"]  # exactly two terms, through h1 and h2
    assert lines["x"].consumers == ["h1"]
    assert lines["z"].consumers == ["h2"]


def test_diamond_text_trace_forward_and_gradient():
    stdout = run_explain("diamond")
    trace = stdout.split("Evaluation trace", 1)[1].split("Forward sweep", 1)[0]
    assert [line.split()[0] for line in trace.splitlines()[1:] if line.strip()] == [
        "x", "y", "z", "h1", "h2", "h", "o"]
    forward = stdout.split("Forward sweep", 1)[1].split("Reverse sweep", 1)[0]
    values = {line.split(" = ")[0].strip(): float(line.split(" = ")[-1])
              for line in forward.splitlines()[1:] if line.strip()}
    assert values == {"x": 3, "y": 2, "z": 1, "h1": 6, "h2": 2, "h": 12, "o": 144}
    assert "h1 = x·y = 3·2 = 6" in forward
    reverse = stdout.split("Reverse sweep", 1)[1].replace(OVERLINE, "")
    assert "y = h1·∂h1/∂y + h2·∂h2/∂y = 48·3 + 144·1 = 288   where ∂h1/∂y = x, ∂h2/∂y = z" in (
        reverse)
    gradient = stdout.split("\nGradient", 1)[1]
    for name in "xyz":
        assert re.search(rf"∂o/∂{name} = \S+ = {DIAMOND_ADJOINTS[name]}\n", gradient), gradient


def test_diamond_latex_and_markdown_show_the_gradient():
    markdown = run_explain("diamond", "--format", "markdown")
    y_row = next(row for row in markdown.splitlines() if row.startswith(f"| y{OVERLINE} |"))
    assert "∂h1/∂y (`x`)" in y_row and "∂h2/∂y (`z`)" in y_row
    rows = markdown.split("### Gradient", 1)[1].strip().splitlines()
    assert [markdown_cells(row) for row in rows[2:]] == [
        ["`x`", "96"], ["`y`", "288"], ["`z`", "288"]]
    latex = run_explain("diamond", "--format", "latex")
    backward = latex.split("\\paragraph{Backward pass}", 1)[1]
    for symbol, node in DIAMOND_LATEX.items():
        bar = f"\\bar{{{symbol}}}" if len(node) == 1 else f"\\overline{{{symbol}}}"
        assert f"${bar}$ & ${DIAMOND_ADJOINTS[node]}$ \\\\" in backward, (node, backward)


def _paths_between(document: dict, source: str) -> set[str]:
    """Nodes on some path from `source` to the output, from grad --json's edges."""
    consumers: dict[str, set[str]] = {}
    inputs: dict[str, set[str]] = {}
    for node in document["nodes"]:
        for edge in node["inputs"]:
            consumers.setdefault(edge["id"], set()).add(node["id"])
            inputs.setdefault(node["id"], set()).add(edge["id"])

    def reach(start: str, step: dict) -> set[str]:
        seen, stack = {start}, [start]
        while stack:
            for other in step.get(stack.pop(), ()):
                if other not in seen:
                    seen.add(other)
                    stack.append(other)
        return seen

    return reach(source, consumers) & reach(document["output"], inputs)


@pytest.mark.parametrize("output_format", FORMATS)
@pytest.mark.parametrize("variable", ["x", "y", "z"])
def test_wrt_limits_the_reverse_sweep_to_paths_from_the_variable(output_format, variable):
    stdout = run_explain("diamond", "--format", output_format, "--wrt", variable)
    lines = reverse_lines(output_format, stdout, DIAMOND_LATEX)
    expected = _paths_between(grad_json("diamond"), variable)
    assert set(lines) == expected
    if variable == "x":
        assert expected == {"o", "h", "h1", "x"}  # z and h2 (and y) are not on a path from x
    for node, line in lines.items():
        assert line.value == DIAMOND_ADJOINTS[node]
    assert lines[variable].value == DIAMOND_ADJOINTS[variable]


def test_wrt_limits_the_text_gradient_too():
    stdout = run_explain("diamond", "--wrt", "x")
    gradient = stdout.split("\nGradient", 1)[1]
    assert "∂o/∂x" in gradient and "∂o/∂y" not in gradient and "∂o/∂z" not in gradient


@pytest.mark.parametrize("output_format", FORMATS)
@pytest.mark.parametrize("name", ["h", "o", "q", "2"])
def test_wrt_of_a_non_variable_is_one_line_and_exit_2(output_format, name):
    result = invoke("explain", DIAMOND, *DIAMOND_POINT, "--format", output_format,
                    "--wrt", name)
    line = one_error_line(result)
    assert name in line and "--wrt" in line
    assert result.stdout == ""


# ---------------------------------------------------------------------------------------------
# Every program: numbers parsed back out agree with themselves and with grad --json


@pytest.mark.parametrize("output_format", FORMATS)
@pytest.mark.parametrize("program", ["logistic", "odd-names"])
def test_reverse_lines_add_up_at_full_precision(program, output_format):
    lines = reverse_lines(output_format, run_explain(program, "--format", output_format,
                                                     "--digits", "17"))
    assert_arithmetic(lines, rel=1e-12)
    document = grad_json(program)
    live = _live(document)
    live_adjoints = sorted(node["adjoint"] for node in document["nodes"]
                           if node["adjoint"] is not None and node["id"] in live)
    assert sorted(line.value for line in lines.values()) == pytest.approx(live_adjoints,
                                                                          rel=1e-15)


@pytest.mark.parametrize("output_format", ["text", "markdown"])
@pytest.mark.parametrize("program", ["logistic", "odd-names"])
def test_reverse_lines_match_grad_json(program, output_format):
    """Node by node: the printed adjoint and every term against grad --json (6 digits)."""
    lines = reverse_lines(output_format, run_explain(program, "--format", output_format))
    assert_arithmetic(lines, rel=2e-5)  # three 6-digit roundings
    document = grad_json(program)
    nodes = {node["id"]: node for node in document["nodes"]}
    expected_terms: dict[str, list] = {}
    for node in document["nodes"]:
        for edge in node["inputs"]:
            if edge["rule"] is not None:
                expected_terms.setdefault(edge["id"], []).append(
                    (node["id"], node["adjoint"], edge["local"]))
    live = _live(document)
    assert set(lines) == {n for n in live if nodes[n]["adjoint"] is not None}
    for node, line in lines.items():
        assert line.value == pytest.approx(nodes[node]["adjoint"], rel=1e-5, abs=1e-12)
        expected = sorted(expected_terms.get(node, []))
        got = line.terms
        assert [c for c, _, _ in got] == [c for c, _, _ in expected], node
        for (_, adjoint, local), (_, want_adjoint, want_local) in zip(got, expected,
                                                                      strict=True):
            assert adjoint == pytest.approx(want_adjoint, rel=1e-5, abs=1e-12)
            assert local == pytest.approx(want_local, rel=1e-5, abs=1e-12)


def _live(document: dict) -> set[str]:
    """Nodes with a path to the output (the output included)."""
    return {node["id"] for node in document["nodes"]
            if node["id"] in _paths_between(document, node["id"])}


def test_logistic_regression_gradient_against_hand_values():
    """σ(0.5) = 0.6224593312; for y = 1 the log-loss gradient is (σ - 1)·(x1, x2, 1)."""
    stdout = run_explain("logistic", "--digits", "10")
    gradient = stdout.split("\nGradient", 1)[1]
    s = 1 / (1 + math.exp(-0.5))
    expected = {"w1": (s - 1) * 1.5, "w2": (s - 1) * 2.5, "b": s - 1, "x1": (s - 1) * -4,
                "x2": (s - 1) * 3}
    for name, value in expected.items():
        match = re.search(rf"∂L/∂{name} = \S+ = (\S+)\n", gradient)
        assert match, gradient
        assert float(match.group(1)) == pytest.approx(value, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# The Explanation model, for random programs


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(statement_programs())
def test_explanation_adjoints_are_sums_of_their_terms_and_match_sympy(case):
    text, output_sym, point = case
    result = api.grad(text, point)
    explanation = explain(result)
    scale = max([1.0] + [abs(n.value) for n in result.nodes]
                + [abs(n.adjoint) for n in result.nodes if n.adjoint is not None])
    steps = {step.node: step for step in explanation.reverse}
    assert len(steps) == len(explanation.reverse), "a node has two reverse steps"
    assert steps[result.output].seed and steps[result.output].adjoint == 1
    for step in explanation.reverse:
        if step.seed:
            continue
        products = [term.consumer_adjoint * term.local for term in step.terms]
        if not all(math.isfinite(p) for p in products):  # a NaN term (atan2(0, 0)) stays NaN
            assert not math.isfinite(step.adjoint), step
            continue
        assert math.isclose(step.adjoint, math.fsum(products), rel_tol=1e-12,
                            abs_tol=1e-12 * math.fsum(abs(p) for p in products)), step
        for term in step.terms:
            assert term.consumer_adjoint == steps[term.consumer].adjoint
    # every edge into a live consumer is one term of its input's step
    edges = Counter((edge.input, node.id) for node in result.nodes for edge in node.inputs
                    if edge.rule is not None and node.id in steps)
    terms = Counter((step.node, term.consumer) for step in explanation.reverse
                    for term in step.terms)
    assert terms == edges
    gradient = dict(explanation.gradient)
    assert {s.name for s in output_sym.free_symbols} <= set(gradient) <= set(VARIABLES)
    substitution = {SYMBOLS[v]: value for v, value in point.items()}
    for name, value in gradient.items():
        want = float(sp.diff(output_sym, SYMBOLS[name]).evalf(subs=substitution))
        if math.isnan(want) and math.isnan(value):
            continue
        assert math.isclose(value, want, rel_tol=1e-9, abs_tol=1e-9 * scale), (name, text)
        if name in steps:
            assert steps[name].adjoint == value
        else:  # only statements that do not reach the output use it
            assert value == 0 and name not in _live(result.to_dict()), (name, text)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(statement_programs(), st.sampled_from(VARIABLES))
def test_explanation_wrt_keeps_exactly_the_nodes_on_paths(case, variable):
    text, _, point = case
    result = api.grad(text, point)
    if variable not in dict(result.gradient):
        return
    document = result.to_dict()
    steps = explain(result, wrt=variable).reverse
    assert {step.node for step in steps} == _paths_between(document, variable)
    full = {step.node: step for step in explain(result).reverse}
    for step in steps:
        assert step == full[step.node]


# ---------------------------------------------------------------------------------------------
# Markdown: well-formed GFM tables


def _gfm_tables(markdown: str) -> list[list[str]]:
    tables, current = [], []
    for line in markdown.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


@pytest.mark.parametrize("program", list(PROGRAMS))
def test_markdown_tables_are_well_formed(program):
    markdown = run_explain(program, "--format", "markdown")
    tables = _gfm_tables(markdown)
    assert len(tables) == 4  # trace, forward, reverse, gradient
    for rows in tables:
        assert len(rows) >= 3
        header = markdown_cells(rows[0])
        separator = markdown_cells(rows[1])
        assert len(separator) == len(header)
        assert all(re.fullmatch(r":?-{3,}:?", cell) for cell in separator), rows[1]
        for row in rows[2:]:
            assert row.startswith("| ") and row.endswith(" |"), row
            assert len(markdown_cells(row)) == len(header), row


@pytest.mark.parametrize("program", [*PROGRAMS, "underscores"])
def test_markdown_renders_as_tables(program):
    """A CommonMark parser with GFM tables (markdown-it-py) sees the same tables, with every
    row's cells and no emphasis that a name's underscores could have started."""
    if program == "underscores":
        result = invoke("explain", "_a*_b + a_b_c*_a", "--_a", "1", "--_b", "2",
                        "--a_b_c", "3", "--format", "markdown")
        assert result.exit_code == 0, result.stderr
        markdown = result.stdout
    else:
        markdown = run_explain(program, "--format", "markdown")
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    tables = re.findall(r"<table>(.*?)</table>", html, re.S)
    assert len(tables) == len(_gfm_tables(markdown)) == 4
    for table, rows in zip(tables, _gfm_tables(markdown), strict=True):
        header_cells = len(markdown_cells(rows[0]))
        html_rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
        assert len(html_rows) == len(rows) - 1
        for html_row in html_rows:
            assert len(re.findall(r"<t[hd][ >]", html_row)) == header_cells
    assert "<em>" not in html and "<strong>" not in html


# ---------------------------------------------------------------------------------------------
# LaTeX: compiles with pdflatex, and a structural check that needs no LaTeX

MATH_ENVIRONMENTS = {"align*", "align", "equation", "equation*", "gather*"}
TEXT_COMMANDS = {"text", "textrm", "textit", "mbox"}


def latex_problems(source: str) -> list[str]:
    """Unbalanced braces, mismatched environments, `_`/`^` outside math, `#` anywhere, `&`
    outside an alignment, non-ASCII characters (pdflatex cannot set them in math)."""
    problems = []
    environments: list[str] = []
    modes = ["text"]  # one entry per open group: the mode inside it
    braces: list[int] = []  # depth of `modes` each `{` pushed onto
    pending_text = False
    i = 0
    while i < len(source):
        char = source[i]
        if char == "\\":
            match = re.match(r"\\([A-Za-z]+)", source[i:])
            if not match:
                i += 2  # a control symbol: \\ \{ \} \_ \# \% \& \$ \, ...
                continue
            command = match.group(1)
            i += len(match.group(0))
            if command in ("begin", "end"):
                name = re.match(r"\{([^}]*)\}", source[i:])
                if not name:
                    problems.append(f"\\{command} without {{name}} at {i}")
                    continue
                i += len(name.group(0))
                env = name.group(1)
                if command == "begin":
                    environments.append(env)
                    modes.append("math" if env in MATH_ENVIRONMENTS else modes[-1])
                elif not environments or environments[-1] != env:
                    problems.append(f"\\end{{{env}}} closes {environments[-1:] or 'nothing'}")
                else:
                    environments.pop()
                    modes.pop()
            elif command in TEXT_COMMANDS:
                pending_text = True
            continue
        if char == "%":
            end = source.find("\n", i)
            i = len(source) if end < 0 else end
            continue
        if char == "{":
            braces.append(len(modes))
            modes.append("text" if pending_text else modes[-1])
            pending_text = False
        elif char == "}":
            if not braces:
                problems.append(f"unbalanced '}}' at {i}")
            else:
                del modes[braces.pop():]
        elif char == "$":
            if modes[-1] == "dollar":
                modes.pop()
            else:
                modes.append("dollar")
        elif char in "_^" and modes[-1] == "text":
            problems.append(f"raw {char!r} outside math at {i}: {source[max(0, i - 20):i + 20]!r}")
        elif char == "#":
            problems.append(f"raw '#' at {i}")
        elif char == "&" and not (environments and environments[-1] in
                                  MATH_ENVIRONMENTS | {"tabular"}):
            problems.append(f"raw '&' outside an alignment at {i}")
        elif ord(char) > 127:
            problems.append(f"non-ASCII {char!r} at {i}: {source[max(0, i - 20):i + 20]!r}")
        i += 1
    if braces:
        problems.append(f"{len(braces)} unclosed '{{'")
    if environments:
        problems.append(f"unclosed environments {environments}")
    if modes != ["text"]:
        problems.append(f"ends in mode {modes}")
    return problems


def test_latex_checker_catches_what_it_should():
    """The structural checker itself, on known-bad and known-good fragments."""
    assert latex_problems(r"\begin{align*} x_{1} &= \text{a\_b} \end{align*} $y^2$") == []
    assert latex_problems("{") and latex_problems("}") and latex_problems("a_b")
    assert latex_problems(r"\begin{align*}x\end{tabular}") and latex_problems("#")
    assert latex_problems(r"$\text{a_b}$") and latex_problems("$θ$") and latex_problems("a & b")


@pytest.mark.parametrize("extra", [(), ("--wrt", "x")], ids=["all", "wrt"])
@pytest.mark.parametrize("program", list(PROGRAMS))
def test_latex_is_structurally_sound(program, extra):
    if extra and program != "diamond":
        extra = ()
    source = run_explain(program, "--format", "latex", *extra)
    assert latex_problems(source) == []
    assert source.count("\\begin{align*}") == 2
    assert source.count("\\begin{tabular}") == 3


@pytest.mark.parametrize(("source", "point", "status"), [
    ("max(x, y)", ("--x", "2", "--y", "2"), "kink"), ("log(x)", ("--x", "-1"), "undefined")])
def test_latex_marks_a_flagged_forward_step_as_text_and_markdown_do(source, point, status):
    """The LaTeX showed `max(2, 2) = 2` with no mark of the kink the other formats name."""
    latex, markdown = (invoke("explain", source, *point, "--format", form).stdout
                       for form in ("latex", "markdown"))
    assert f"({status}) |" in markdown
    marked = [line for line in latex.splitlines() if f"\\text{{({status})}}" in line]
    assert len(marked) == 1 and marked[0].startswith("z_{")
    assert latex_problems(latex) == []


def _pdflatex(fragment: str, tmp_path: Path) -> subprocess.CompletedProcess:
    document = ("\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
                + fragment + "\n\\end{document}\n")
    (tmp_path / "explain.tex").write_text(document, encoding="utf-8")
    return subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           "-no-shell-escape", "explain.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)


def _tex_errors(log: str) -> str:
    """The `!` error lines of a TeX run with the two lines after each."""
    lines = log.splitlines()
    picked = [" | ".join(lines[k:k + 3]) for k, line in enumerate(lines) if line.startswith("!")]
    return "\n".join(picked) or log[-2000:]


def _needs_pdflatex() -> None:
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")


@pytest.mark.parametrize("program", list(PROGRAMS))
def test_latex_compiles_with_pdflatex(program, tmp_path):
    _needs_pdflatex()
    completed = _pdflatex(run_explain(program, "--format", "latex"), tmp_path)
    log = (tmp_path / "explain.log").read_text(encoding="latin-1", errors="replace")
    assert completed.returncode == 0, _tex_errors(completed.stdout)
    assert (tmp_path / "explain.pdf").stat().st_size > 0
    assert "Missing character" not in log


def test_latex_of_accented_names_compiles(tmp_path):
    """The parser accepts identifiers such as `é`; its LaTeX must still compile."""
    result = invoke("explain", "é*2 + tanh(é)", "--é", "0.5", "--format", "latex")
    assert result.exit_code == 0, result.stderr
    if shutil.which("pdflatex"):
        completed = _pdflatex(result.stdout, tmp_path)
        assert completed.returncode == 0, _tex_errors(completed.stdout)
    assert latex_problems(result.stdout) == []


def test_latex_symbols_of_distinct_names_are_distinct():
    """`w1` and `w_1` are two variables; the LaTeX must not print both as w_{1}."""
    result = invoke("explain", "w1*w_1 + w1", "--w1", "2", "--w_1", "3", "--format", "latex")
    assert result.exit_code == 0, result.stderr
    backward = result.stdout.split("\\paragraph{Backward pass}", 1)[1]
    symbols = re.findall(r"^\$(.*?)\$ &", backward, re.M)
    assert len(symbols) == len(set(symbols)), symbols


def test_an_input_taken_twice_has_each_partial_labelled_with_its_argument():
    """u = x*x was explained 'where ∂u/∂x = x, ∂u/∂x = x', the one symbol said to be x while
    the partial is 2x; each term is now its argument's, as grad's table labels the edges."""
    from typer.testing import CliRunner

    from backprop_cli.cli import app

    shown = CliRunner().invoke(app, ["explain", "u = x*x; L = u*y", "--x", "1.5", "--y", "2"],
                               env={"COLUMNS": "200"}).stdout
    assert "x̅ = u̅·∂u/∂x + u̅·∂u/∂x = 2·1.5 + 2·1.5 = 6   where ∂u/∂x = x (argument 1), " \
           "∂u/∂x = x (argument 2)" in shown


def test_explain_wrt_a_variable_without_a_path_says_so():
    """--wrt y where y does not reach the output printed an empty reverse sweep."""
    from typer.testing import CliRunner

    from backprop_cli.cli import app

    args = ["explain", "u = x*y; L = x^2", "--x", "2", "--y", "3", "--wrt", "y"]
    assert "(no path from y to L: its adjoint stays 0)" in CliRunner().invoke(app, args).stdout
    markdown = CliRunner().invoke(app, [*args, "--format", "markdown"]).stdout
    assert "no path to the output | 0 | 0 |" in markdown


def test_a_partial_not_a_number_beside_a_finite_rule_is_explained():
    """`y̅ = z̅4̅·∂z4/∂y = 1·nan = nan   where ∂z4/∂y = 1` read as a contradiction: z4 is log(-2) +
    y, not a number, and an undefined node's derivatives are undefined too (the README's
    status table)."""
    result = runner.invoke(app, ["explain", "log(x) + y", "--x", "-2", "--y", "1"])
    assert result.exit_code == 0, result.stderr
    assert "y̅ = z̅4̅·∂z4/∂y = 1·nan = nan" in result.stdout
    assert ("warning: z4 is not a number, so every partial of it is taken as not a number too "
            "(∂z4/∂y is nan, whatever its rule gives): the adjoints it passes back are nan"
            ) in result.stderr
