"""Forward-mode tables and matrices (Jacobian, Hessian) → rich renderables; sweeps → CSV."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..forward_mode import ForwardMode
from ..matrices import Matrix
from ..sweep import Sweep
from .table import MAX_TABLE_NODES, cells, fmt, pretty, titled_table
from .table import shown as number_or_array


def render_forward(result: ForwardMode, digits: int = 6) -> Group:
    """Every node's value and tangent in evaluation order, then the derivative and the cost."""
    if result.wrt is not None:
        tangent_name = f"d·/d{result.wrt}"
        title = f"d{result.output}/d{result.wrt}"
    else:
        direction = ", ".join(f"{k}={number_or_array(v, digits)}" for k, v in result.direction)
        tangent_name = "tangent"
        title = f"directional derivative of {result.output} along ({direction})"
    table = titled_table("Forward mode", ("node", "left"), ("formula", "left"),
                         ("value", "right"), (tangent_name, "right"))
    shown = result.nodes if len(result.nodes) <= MAX_TABLE_NODES else ()
    for node_id, formula, value, tangent in shown:
        table.add_row(*cells(node_id, pretty(formula) if formula != node_id else "",
                             number_or_array(value, digits), number_or_array(tangent, digits)))
    if not shown:
        table = Text(f"{len(result.nodes):,} nodes: the table is shown up to {MAX_TABLE_NODES} "
                     "nodes; use --json for every tangent.", style="yellow")
    summary = Text()
    summary.append(f"{title} = {number_or_array(result.derivative, digits)}\n", style="bold")
    n = result.inputs
    summary.append(
        f"Cost on this program ({result.operations} operation"
        f"{'s' if result.operations != 1 else ''}, {n} input"
        f"{'s' if n != 1 else ''}): forward mode needs {n} sweep{'s' if n != 1 else ''} "
        f"(about {n * result.operations} operation{'s' if n * result.operations != 1 else ''}) "
        f"for the whole gradient; reverse mode "
        f"needs 1 forward and 1 reverse sweep (about {2 * result.operations} operations).",
        style="dim")
    return Group(table, summary)


def render_matrix(result: Matrix, digits: int = 6, width: int | None = None) -> Group:
    """A Jacobian (rows: outputs) or Hessian (rows and columns: variables). A matrix wider than
    `width` is shown as several tables of whole columns, each with the row labels, as a wide
    data frame is printed: rich would otherwise cut every cell and label to `0.083…`."""
    title = "Jacobian" if result.kind == "jacobian" else "Hessian"
    at = Text("at " + ", ".join(f"{k}={fmt(v, digits)}" for k, v in result.at))
    if (result.kind == "jacobian" and len(result.columns) > max(len(result.rows), 5)
            and any("[" in column for column in result.columns)):
        # wide over array elements: a row per variable element, a column per output element
        title, corner = "Jacobian (transposed: a row per variable element)", "variable \\ output"
        headers = [f"∂{name}" for name in result.rows]
        labels = [f"∂/∂{column}" for column in result.columns]
        rows = [[fmt(row[k], digits) for row in result.values]
                for k in range(len(result.columns))]
    else:
        corner = "output \\ variable" if result.kind == "jacobian" else ""
        headers = [f"∂/∂{column}" if result.kind == "jacobian" else column
                   for column in result.columns]
        labels = list(result.rows)
        rows = [[fmt(v, digits) for v in row] for row in result.values]
    parts = _column_groups(corner, labels, headers, rows, width)
    tables: list = []
    for first, last in parts:
        if len(parts) > 1:  # a line of its own: a narrow table's title would wrap
            tables.append(Text(f"{title}, columns {first + 1}–{last} of {len(headers)}",
                               style="bold"))
        table = Table(title=title if len(parts) == 1 else None, title_justify="left",
                      title_style="bold", header_style="bold")
        table.add_column(Text(corner), justify="left")
        for header in headers[first:last]:
            table.add_column(Text(header), justify="right")
        for label, row in zip(labels, rows, strict=True):
            table.add_row(*cells(label, *row[first:last]))
        tables.append(table)
    return Group(at, *tables)


def _column_groups(corner: str, labels: list[str], headers: list[str], rows: list[list[str]],
                   width: int | None) -> list[tuple[int, int]]:
    """Runs of whole columns (first, end) that fit `width` beside the row labels: a column of
    a heavy-edged table takes its widest cell, two spaces of padding and a rule."""
    from rich.cells import cell_len

    def wide(texts) -> int:
        return max(map(cell_len, texts), default=0) + 3

    if width is None or not headers:
        return [(0, len(headers))]
    room = width - 1 - wide([corner, *labels])
    groups, first, used = [], 0, 0
    for k, header in enumerate(headers):
        need = wide([header, *(row[k] for row in rows)])
        if used + need > room and k > first:
            groups.append((first, k))
            first, used = k, 0
        used += need
    groups.append((first, len(headers)))
    return groups


def csv_header(variable: str) -> str:
    """The swept variable's column, then the output's value and derivative: `value` and
    `derivative`, or `output_value` and `output_derivative` when the variable has one of those
    names (a CSV reader keys columns by name)."""
    columns = ("value", "derivative")
    if variable in columns:
        columns = tuple(f"output_{column}" for column in columns)
    return ",".join((variable, *columns))


def csv_lines(result: Sweep):
    """The header, then blocks of x,value,derivative rows; undefined points are empty cells.
    orjson writes each block's numbers in one C loop (its floats as the JSON output writes
    them, a non-finite one as null), row after row, x,value,derivative,x,value,...; every
    third comma then becomes the end of a row, found by NumPy rather than by a Python loop
    or a search for text."""
    import numpy as np
    import orjson

    from ..budget import reserve
    from .json_format import TEXT_PER_FLOAT

    yield csv_header(result.variable)
    for xs, values, derivatives in result.columns():
        flat = np.column_stack((xs, values, derivatives)).ravel()
        reserve(TEXT_PER_FLOAT * len(flat))
        text = bytearray(orjson.dumps(flat, option=orjson.OPT_SERIALIZE_NUMPY))
        codes = np.frombuffer(text, dtype=np.uint8)
        codes[np.flatnonzero(codes == ord(","))[2::3]] = ord("\n")
        del codes  # the text's buffer is free again
        text = text[1:-1]
        if not (np.isfinite(values).all() and np.isfinite(derivatives).all()):
            text = text.replace(b"null", b"")
        yield text.decode()


def render_csv(result: Sweep) -> str:
    """x,value,derivative rows; undefined points are empty cells."""
    return "\n".join(csv_lines(result))


def show_forward(result: ForwardMode, view) -> Group:
    return render_forward(result, view.digits)


def show_matrix(result: Matrix, view) -> Group:
    return render_matrix(result, view.digits, view.terminal.console().width)


def show_csv(result: Sweep, view) -> None:
    """The CSV written a block of rows at a time, so a long sweep never exists as one text."""
    with view.stream() as out:
        for block in csv_lines(result):
            out.write(block + "\n")
