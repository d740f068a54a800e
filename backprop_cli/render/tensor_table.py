"""TensorResult → rich tables with shapes: forward pass, local derivatives (the vector-Jacobian
rules), backward pass and gradient. Small arrays are shown in full, large ones summarised
(`--full` shows every element)."""

from __future__ import annotations

import sys
from itertools import pairwise

import numpy as np
from rich.console import Group
from rich.text import Text

from ..errors import LimitError
from ..printing import format_number
from ..tensor_ops import shape_text
from ..tensor_result import TensorResult
from .table import (
    MAX_TABLE_NODES,
    bar,
    cells,
    check_columns,
    check_mark,
    check_notes,
    exact_text,
    pretty,
    program_header,
    titled_table,
)

SUMMARY_THRESHOLD = 12  # more elements than this are summarised
EDGE_ITEMS = 3


def array_text(value, digits: int, full: bool = False) -> str:
    """A number, or an array in rows (`[[0.3008], [0.3357]]`), summarised with `…` when it
    has more than SUMMARY_THRESHOLD elements unless `full`."""
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return format_number(float(array), digits)
    return np.array2string(
        array, separator=", ", threshold=sys.maxsize if full else SUMMARY_THRESHOLD,
        edgeitems=EDGE_ITEMS, max_line_width=sys.maxsize,
        formatter={"float_kind": lambda v: format_number(float(v), digits)},
    ).replace("...", "…").replace("\n ", " ").replace("\n", " ")


def exact_array_text(array, full: bool = False) -> str:
    """Exact numbers in rows, as array_text lays out floats (`[1/3 = 0.333…, 2]`)."""
    if not isinstance(array, np.ndarray):
        return exact_text(array)
    if array.ndim == 0:
        return exact_text(array[()])
    items = [exact_array_text(row, full) for row in array]
    if not full and array.size > SUMMARY_THRESHOLD and len(items) > 2 * EDGE_ITEMS:
        items = items[:EDGE_ITEMS] + ["…"] + items[-EDGE_ITEMS:]
    return "[" + ", ".join(items) + "]"


# --full lays out every element in a table cell; past this many in one array that takes rich
# minutes (200,000 elements: 23 s), and --json holds every number anyway
MAX_FULL_ELEMENTS = 20_000


def refuse_full(arrays, full: bool) -> None:
    """Refuse --full for an array too large to lay out in a table."""
    if not full:
        return
    largest = max((int(np.size(a)) for a in arrays), default=0)
    if largest > MAX_FULL_ELEMENTS:
        raise LimitError(f"--full lays out arrays of up to {MAX_FULL_ELEMENTS:,} elements in "
                         f"a table (this one has {largest:,}); use --json for every number")


def render(result: TensorResult, digits: int = 6, full: bool = False) -> Group:
    refuse_full([value for node in result.nodes for value in (node.value, node.adjoint)
                 if value is not None], full)
    parts = [_header(result, digits, full)]
    if len(result.nodes) <= MAX_TABLE_NODES:
        parts += [_forward(result, digits, full), _locals(result, digits, full),
                  _backward(result, digits, full)]
    if result.jacobians is not None:
        parts.append(_jacobians(result, digits))
    parts.append(_gradient(result, digits, full))
    return Group(*parts)


def _jacobians(result: TensorResult, digits: int):
    """Each local Jacobian as a matrix, and each gradient as the product along its paths."""
    text = Text("Local Jacobians", style="bold")
    text.append("  (a row per element of the node, a column per element of the input, "
                "elements in row order)\n", style="dim")
    for jacobian in result.jacobians:
        rows, columns = jacobian.matrix.shape
        text.append(f"  ∂{jacobian.node}/∂{jacobian.input}  ({rows}×{columns})\n")
        for row in jacobian.matrix:
            text.append("    [" + ", ".join(format_number(float(v), digits) for v in row)
                        + "]\n")
    edges = sum(1 for node in result.nodes for edge in node.inputs if edge.rule is not None)
    if len(result.jacobians) < edges:
        text.append(f"  {edges - len(result.jacobians)} of {edges} edges have more than 400 "
                    "entries and are not shown; a variable whose path crosses one gets no "
                    "product below\n", style="yellow")
    for product in result.products:
        chains = " + ".join(" · ".join(f"∂{b}/∂{a}" for a, b in reversed(list(
            pairwise(path)))) for path in product.paths)
        text.append(f"  ∂{result.output}/∂{product.variable} = {chains} = "
                    f"{array_text(product.value, digits)}\n")
    return text


def _header(result: TensorResult, digits: int, full: bool) -> Text:
    text = program_header(result)
    for k, (name, value) in enumerate(result.at):
        shape = "" if np.ndim(value) == 0 else f" {shape_text(value)}"
        text.append("at          " if k == 0 else " " * 12, style="bold").append(
            f"{name}{shape} = {array_text(value, digits, full)}\n")
    if not result.at:
        text.append("at          ", style="bold").append("(no variables)\n")
    text.append("output      ", style="bold").append(
        f"{result.output} = {format_number(result.value, digits)}")
    return text


def _forward(result: TensorResult, digits: int, full: bool):
    flagged = any(n.status != "ok" for n in result.nodes)
    columns = [("node", "left"), ("op", "left"), ("formula", "left"), ("shape", "left"),
               ("value", "left")]
    exact = result.exact
    if exact is not None:
        columns.append(("exact", "left"))
    if flagged:
        columns.append(("status", "left"))
    table = titled_table("Forward pass", *columns)
    for i, node in enumerate(result.nodes):
        row = [node.id, node.op, pretty(node.expr) if node.inputs else "",
               shape_text(node.value), array_text(node.value, digits, full)]
        if exact is not None:
            row.append(exact_array_text(exact.values[i], full))
        if flagged:
            row.append(Text(node.status if node.status != "ok" else "", style="bold red"))
        table.add_row(*cells(*row))
    return table


def _locals(result: TensorResult, digits: int, full: bool):
    table = titled_table("Local derivatives (vector-Jacobian rules)", ("edge", "left"),
                         ("rule", "left"), ("elementwise ∂", "left"))
    for node in result.nodes:
        for edge in node.inputs:
            if edge.rule is None:
                continue
            local = "" if edge.local is None else array_text(edge.local, digits, full)
            table.add_row(*cells(f"{node.id} ← {edge.input}", pretty(edge.rule), local))
    return table


def _backward(result: TensorResult, digits: int, full: bool):
    exact = result.exact
    columns = [("node", "left"), ("shape", "left"), ("adjoint", "left")]
    if exact is not None:
        columns.append(("exact", "left"))
    table = titled_table("Backward pass", *columns)
    for i in range(len(result.nodes) - 1, -1, -1):
        node = result.nodes[i]
        if node.adjoint is None:
            continue
        row = [bar(node.id), shape_text(node.adjoint), array_text(node.adjoint, digits, full)]
        if exact is not None:
            row.append(exact_array_text(exact.adjoints[i], full))
        table.add_row(*cells(*row))
    return table


def _gradient(result: TensorResult, digits: int, full: bool):
    if not result.gradient:
        return Text("Gradient: the program has no variables to differentiate.", style="yellow")
    check = result.check
    exact = result.exact
    position = {node.id: i for i, node in enumerate(result.nodes)}
    compared = check_columns(check)
    columns = [("variable", "left"), ("shape", "left"), (f"∂{result.output}/∂variable", "left")]
    if exact is not None:
        columns.append(("exact", "left"))
    # several references beside each array leave each a column too narrow for its numbers,
    # which then break mid-number: each shows its largest difference from ours instead
    differences = len(compared) > 1
    short = {"finite differences": "fd", "forward mode": "fwd"}
    columns += [(f"Δ {short.get(label, label)}" if differences else label, "left")
                for label, _ in compared]
    if compared:
        columns.append(("check", "center"))
    table = titled_table("Gradient", *columns)
    verdicts = {name: agrees for name, _, agrees in check.entries} if check else {}
    shown = [array_text(value, digits, full) for _, value in result.gradient]
    if differences:  # broken between numbers, so the column is narrow enough to fit
        shown = [_between_numbers(text) for text in shown]
    for (name, value), text in zip(result.gradient, shown, strict=True):
        row = [name, shape_text(value), text]
        if exact is not None:
            row.append(exact_array_text(exact.adjoints[position[name]], full))
        for _, values in compared:
            reference = values.get(name)
            row.append("" if reference is None else _largest_difference(value, reference)
                       if differences else array_text(reference, digits, full))
        if compared:
            row.append(check_mark(verdicts.get(name)))
        table.add_row(*cells(*row))
    if check is None:
        return table
    legend = [Text(f"Δ: the largest |difference| between ∂{result.output}/∂variable and each "
                   "check's numbers (fd: finite differences; fwd: forward mode)", style="dim")] \
        if differences else []
    return Group(table, *legend, *check_notes(check))


def _largest_difference(ours, reference) -> str:
    """The largest |ours - reference| over the elements both have a number for (a sampled
    reference has none for the elements it skipped)."""
    import numpy as np

    ours, reference = np.asarray(ours, dtype=float), np.asarray(reference, dtype=float)
    both = np.isfinite(ours) & np.isfinite(reference)
    if not np.any(both):
        return "-"
    return f"{float(np.max(np.abs(ours[both] - reference[both]))):.2g}"


def _between_numbers(text: str, width: int = 25) -> str:
    """An array's text in lines of at most `width` characters where it can be, broken after
    a comma (a matrix's row starts a line), never inside a number."""
    lines: list[str] = []
    for row in text.replace("], [", "],\n [").split("\n"):
        line = ""
        for piece in row.split(", "):
            if line and len(line) + 2 + len(piece) > width:
                lines.append(line + ",")
                line = " " + piece
            else:
                line = f"{line}, {piece}" if line else piece
        lines.append(line)
    return "\n".join(lines)
