"""Result → a Mermaid flowchart."""

from __future__ import annotations

from ..result import Result
from .table import fmt


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
        parts = [node.id if not node.inputs else f"{node.id} = {node.expr}",
                 node.op if node.inputs else ("input" if node.op == "var" else "constant")]
        if node.value is not None:
            parts.append(f"value {fmt(node.value, digits)}")
        if node.adjoint is not None:
            parts.append(f"adjoint {fmt(node.adjoint, digits)}")
        if node.status not in ("ok", "propagated"):
            parts.append(node.status)
        lines.append(f"    {index[node.id]}[{quote(chr(10).join(parts))}]")
    for node in result.nodes:
        for edge in node.inputs:
            if edge.rule is None:
                lines.append(f"    {index[edge.input]} -.-> {index[node.id]}")
                continue
            label = fmt(edge.local, digits) if result.value is not None else edge.rule
            lines.append(f"    {index[edge.input]} -->|{quote(label)}| {index[node.id]}")
    return "\n".join(lines) + "\n"
