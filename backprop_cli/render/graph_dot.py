"""Result → Graphviz DOT text (and SVG or PNG through Graphviz's `dot`, when installed)."""

from __future__ import annotations

import shutil
import signal
import subprocess

from ..errors import BackpropError, LimitError
from ..result import Edge, NodeResult, Result
from .table import fmt, shown

# Graphviz's layout grows faster than the graph (500 nodes with labelled edges can take
# minutes and gigabytes), so `dot` runs with caps of its own.
GRAPHVIZ_SECONDS = 30
GRAPHVIZ_MEMORY_BYTES = 1024**3


def quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as \\n."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'


def label_lines(node: NodeResult, digits: int) -> list[str]:
    """A node's label: definition, op, and with a point its value and adjoint."""
    lines = [node.id if not node.inputs else f"{node.id} = {node.expr}",
             node.op if node.inputs else ("input" if node.op == "var" else "constant")]
    if node.value is not None:
        lines.append(f"value {shown(node.value, digits)}")
    if node.adjoint is not None:
        lines.append(f"adjoint {shown(node.adjoint, digits)}")
    if node.status not in ("ok", "propagated"):
        lines.append(node.status)
    return lines


def edge_label(result: Result, edge: Edge, digits: int) -> str | None:
    """The local derivative's value with a point, its rule without; None for constants."""
    if edge.rule is None:
        return None
    if getattr(result, "tensors", False):
        return edge.rule
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


def to_image(dot_text: str, image_format: str, nodes: int) -> bytes:
    """Run Graphviz's dot; a missing Graphviz is a clear error naming what to install."""
    executable = shutil.which("dot")
    if executable is None:
        raise BackpropError(
            f"--format {image_format} needs Graphviz's 'dot' program, which is not installed "
            "(install the graphviz package, e.g. apt install graphviz or brew install "
            "graphviz), or use --format dot", code="missing_tool")
    try:
        completed = subprocess.run([executable, f"-T{image_format}"], input=dot_text.encode(),
                                   capture_output=True, timeout=GRAPHVIZ_SECONDS, check=False,
                                   preexec_fn=_graphviz_caps)
    except subprocess.TimeoutExpired:
        raise _over_cap(f"time cap of {GRAPHVIZ_SECONDS} s", nodes) from None
    if completed.returncode != 0:
        message = completed.stderr.decode(errors="replace").strip().splitlines()
        if completed.returncode == -signal.SIGXCPU:
            raise _over_cap(f"time cap of {GRAPHVIZ_SECONDS} s", nodes)
        if completed.returncode < 0 or any("memory" in line.lower() for line in message):
            raise _over_cap(f"memory cap of {GRAPHVIZ_MEMORY_BYTES / 1024**2:,.0f} MiB", nodes)
        raise BackpropError(f"Graphviz's dot failed: {message[0] if message else 'no message'}",
                            code="internal_error")
    return completed.stdout


def _over_cap(cap: str, nodes: int) -> LimitError:
    return LimitError(f"Graphviz's dot stopped at its {cap} while laying out {nodes:,} nodes; "
                      "draw a smaller program, or use --format dot and run Graphviz yourself")


def _graphviz_caps() -> None:
    """In the child, before exec: the memory cap, and a CPU cap as a second line of defence
    behind the timeout."""
    import resource

    for kind, cap in ((resource.RLIMIT_AS, GRAPHVIZ_MEMORY_BYTES),
                      (resource.RLIMIT_CPU, int(GRAPHVIZ_SECONDS) + 5)):
        _, hard = resource.getrlimit(kind)  # a lower limit already set stays
        cap = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
        resource.setrlimit(kind, (cap, cap))


def show(result: Result, view) -> str:
    return render(result, view.digits)


def show_svg(result: Result, view) -> bytes:
    return to_image(render(result, view.digits), "svg", len(result.nodes))


def show_png(result: Result, view) -> bytes:
    """PNG through Graphviz; a binary image is not written to a terminal."""
    from ..errors import InputError

    if view.output is None and view.terminal.out_is_tty:
        raise InputError("a PNG is binary: give -o FILE (or pipe the output to a file)")
    return to_image(render(result, view.digits), "png", len(result.nodes))
