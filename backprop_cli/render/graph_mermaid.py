"""Result → a Mermaid flowchart."""

from __future__ import annotations

from ..result import Result
from .graph_dot import edge_label, label_lines


def quote(text: str) -> str:
    """A Mermaid quoted label: quotes and markup characters as entity codes."""
    entities = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "#": "#35;",
                "|": "#124;", "`": "#96;"}
    escaped = "".join(entities.get(char, char) for char in text)
    return '"' + escaped.replace("\r", "").replace("\n", "<br/>") + '"'


def render(result: Result, digits: int = 6) -> str:
    """`flowchart LR` with one node per graph node and one link per input edge."""
    index = {node.id: f"n{i}" for i, node in enumerate(result.nodes)}
    lines = ["flowchart LR"]
    for node in result.nodes:
        lines.append(f"    {index[node.id]}[{quote(chr(10).join(label_lines(node, digits)))}]")
    for node in result.nodes:
        for edge in node.inputs:
            label = edge_label(result, edge, digits)
            if label is None:
                lines.append(f"    {index[edge.input]} -.-> {index[node.id]}")
                continue
            lines.append(f"    {index[edge.input]} -->|{quote(label)}| {index[node.id]}")
    return "\n".join(lines) + "\n"


def show(result: Result, view) -> str:
    return render(result, view.digits)
