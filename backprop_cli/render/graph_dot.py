"""Result → Graphviz DOT text (and SVG or PNG through Graphviz's `dot`, when installed)."""

from __future__ import annotations

import shutil
import subprocess

from ..errors import BackpropError
from ..result import Edge, NodeResult, Result
from .table import fmt


def quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as \\n."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'


def label_lines(node: NodeResult, digits: int) -> list[str]:
    """A node's label: definition, op, and with a point its value and adjoint."""
    lines = [node.id if not node.inputs else f"{node.id} = {node.expr}",
             node.op if node.inputs else ("input" if node.op == "var" else "constant")]
    if node.value is not None:
        lines.append(f"value {fmt(node.value, digits)}")
    if node.adjoint is not None:
        lines.append(f"adjoint {fmt(node.adjoint, digits)}")
    if node.status not in ("ok", "propagated"):
        lines.append(node.status)
    return lines


def edge_label(result: Result, edge: Edge, digits: int) -> str | None:
    """The local derivative's value with a point, its rule without; None for constants."""
    if edge.rule is None:
        return None
    return fmt(edge.local, digits) if result.value is not None else edge.rule


def render(result: Result, digits: int = 6) -> str:
    """One DOT node per graph node and one DOT edge per input edge (input → consumer)."""
    index = {node.id: f"n{i}" for i, node in enumerate(result.nodes)}
    lines = ["digraph backprop {", "  rankdir=LR;",
             '  node [shape=box, style="rounded", fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for node in result.nodes:
        attributes = f"label={quote(chr(10).join(label_lines(node, digits)))}"
        if node.id == result.output:
            attributes += ", penwidth=2"
        lines.append(f"  {index[node.id]} [{attributes}];")
    for node in result.nodes:
        for edge in node.inputs:
            label = edge_label(result, edge, digits)
            attributes = f" [label={quote(label)}]" if label is not None else " [style=dashed]"
            lines.append(f"  {index[edge.input]} -> {index[node.id]}{attributes};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_image(dot_text: str, image_format: str) -> bytes:
    """Run Graphviz's dot; a missing Graphviz is a clear error naming what to install."""
    executable = shutil.which("dot")
    if executable is None:
        raise BackpropError(
            f"--format {image_format} needs Graphviz's 'dot' program, which is not installed "
            "(install the graphviz package, e.g. apt install graphviz or brew install "
            "graphviz), or use --format dot", code="missing_tool")
    try:
        completed = subprocess.run([executable, f"-T{image_format}"], input=dot_text.encode(),
                                   capture_output=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        raise BackpropError("Graphviz's dot took longer than 60 s", code="missing_tool"
                            ) from None
    if completed.returncode != 0:
        message = completed.stderr.decode(errors="replace").strip().splitlines()
        raise BackpropError(f"Graphviz's dot failed: {message[0] if message else 'no message'}",
                            code="internal_error")
    return completed.stdout


def show(result: Result, view) -> str:
    return render(result, view.digits)


def show_svg(result: Result, view) -> bytes:
    return to_image(render(result, view.digits), "svg")


def show_png(result: Result, view) -> bytes:
    """PNG through Graphviz; a binary image is not written to a terminal."""
    from ..errors import InputError

    if view.output is None and view.terminal.out_is_tty:
        raise InputError("a PNG is binary: give -o FILE (or pipe the output to a file)")
    return to_image(render(result, view.digits), "png")
