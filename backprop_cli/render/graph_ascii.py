"""Result → the graph drawn in the terminal as a tree from the output back to the inputs.

A node used by several consumers is drawn in full once, at its first use in depth-first order;
later uses point back to it ("↑ see above"), so every fan-out edge is shown and no subgraph is
repeated."""

from __future__ import annotations

from rich.text import Text
from rich.tree import Tree

from ..result import Edge, NodeResult, Result
from .table import bar, fmt, pretty, shown


def render(result: Result, digits: int = 6) -> Tree:
    by_id = {node.id: node for node in result.nodes}
    output = by_id[result.output]
    root = Tree(_label(output, digits))
    drawn = {output.id}
    # Depth-first, one edge at a time, so "see above" always points to a line already drawn.
    stack = [(root, iter(enumerate(output.inputs, 1)), output)]
    while stack:
        branch, edges, node = stack[-1]
        position, edge = next(edges, (0, None))
        if edge is None:
            stack.pop()
            continue
        child = by_id[edge.input]
        text = _edge_label(node, edge, digits, position)
        if child.id in drawn:
            text.append(f"{child.id}  ↑ see above", style="dim")
            branch.add(text)
            continue
        drawn.add(child.id)
        text.append_text(_label(child, digits))
        sub = branch.add(text)
        if child.inputs:
            stack.append((sub, iter(enumerate(child.inputs, 1)), child))
    return root


def _label(node: NodeResult, digits: int) -> Text:
    text = Text(node.id, style="bold")
    if node.inputs:
        text.append(f" = {pretty(node.expr)}")
        text.append(f"  [{node.op}]", style="dim")
    elif node.op == "const":
        text.append("  [const]", style="dim")
    else:
        text.append("  [input]", style="dim")
    if node.value is not None:
        text.append(f"  value {shown(node.value, digits)}", style="cyan")
    if node.adjoint is not None:
        text.append(f"  {bar(node.id)} {shown(node.adjoint, digits)}", style="magenta")
    if node.status not in ("ok", "propagated"):
        text.append(f"  {node.status}", style="yellow")
    return text


def _edge_label(node: NodeResult, edge: Edge, digits: int, position: int) -> Text:
    if edge.rule is None:
        return Text("")
    if " += " in edge.rule:  # a tensor op's rule: the vector-Jacobian product itself
        return Text(f"({pretty(edge.rule)}) ", style="green")
    # u = x*x takes x twice: each edge is one argument's partial, as grad's table labels it
    argument = f", argument {position}" if sum(
        1 for other in node.inputs if other.input == edge.input) > 1 else ""
    label = f"∂{node.id}/∂{edge.input} = {pretty(edge.rule)}"
    if edge.local is not None or node.value is not None:
        label += f" = {fmt(edge.local, digits)}"
    return Text(f"({label}{argument}) ", style="green")


MAX_DRAWN_NODES = 2_000


def too_large(count: str):
    """The error for a graph too large to draw in the terminal (`count`: its node count)."""
    from ..errors import InputError

    return InputError(f"the terminal drawing is for graphs of up to {MAX_DRAWN_NODES:,} nodes "
                      f"(this one has {count}); use --format dot or mermaid")


def show(result: Result, view) -> Tree:
    """The terminal drawing, for graphs small enough to read."""
    if len(result.nodes) > MAX_DRAWN_NODES:
        raise too_large(f"{len(result.nodes):,}")
    return render(result, view.digits)
