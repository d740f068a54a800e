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


def render_matrix(result: Matrix, digits: int = 6) -> Group:
    """A Jacobian (rows: outputs) or Hessian (rows and columns: variables)."""
    title = "Jacobian" if result.kind == "jacobian" else "Hessian"
    if (result.kind == "jacobian" and len(result.columns) > max(len(result.rows), 5)
            and any("[" in column for column in result.columns)):
        return _transposed(result, digits)
    table = Table(title=title, title_justify="left", title_style="bold", header_style="bold")
    corner = "output \\ variable" if result.kind == "jacobian" else ""
    table.add_column(Text(corner), justify="left")
    for column in result.columns:
        table.add_column(Text(f"∂/∂{column}" if result.kind == "jacobian" else column),
                         justify="right")
    for name, row in zip(result.rows, result.values, strict=True):
        table.add_row(*cells(name, *[fmt(v, digits) for v in row]))
    at = ", ".join(f"{k}={fmt(v, digits)}" for k, v in result.at)
    return Group(Text(f"at {at}"), table)


def _transposed(result: Matrix, digits: int) -> Group:
    """A wide Jacobian over array elements drawn with a row per variable element and a
    column per output element, so that it fits a terminal."""
    table = Table(title="Jacobian (transposed: a row per variable element)",
                  title_justify="left", title_style="bold", header_style="bold")
    table.add_column(Text("variable \\ output"), justify="left")
    for name in result.rows:
        table.add_column(Text(f"∂{name}"), justify="right")
    for k, column in enumerate(result.columns):
        table.add_row(*cells(f"∂/∂{column}", *[fmt(row[k], digits) for row in result.values]))
    at = ", ".join(f"{k}={fmt(v, digits)}" for k, v in result.at)
    return Group(Text(f"at {at}"), table)


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
    return render_matrix(result, view.digits)


def show_csv(result: Sweep, view) -> None:
    """The CSV written a block of rows at a time, so a long sweep never exists as one text."""
    with view.stream() as out:
        for block in csv_lines(result):
            out.write(block + "\n")
