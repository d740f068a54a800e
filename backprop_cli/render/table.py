"""Result → rich tables: forward pass, local derivatives, backward pass, gradient."""

from __future__ import annotations

import re

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..printing import format_number, number_in_formula
from ..result import NodeResult, Result
from .fast_table import TitledTable

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_POWER = re.compile(r"\*\*(?:(\d+)|\((-\d+)\))(?![\d.eE])")
MAX_TABLE_NODES = 400
HEADER_LINES = 6
_FLAG_STYLE = {"kink": "yellow", "propagated": "dim red"}


fmt = format_number


def shown(value, digits: int) -> str:
    """A number, or an array by its shape (and its elements when there are at most 4)."""
    if value is None or isinstance(value, (int, float)):
        return fmt(value, digits)
    from ..tensor_ops import shape_text
    from .tensor_table import array_text

    return shape_text(value) + (f" {array_text(value, digits)}" if value.size <= 4 else "")


def pretty(formula: str) -> str:
    """Textbook notation for the terminal: x**2 → x², a*b → a·b."""
    formula = _POWER.sub(lambda m: (m.group(1) or m.group(2)).translate(_SUPERSCRIPT), formula)
    return formula.replace("**", "^").replace("*", "·")


def bar(node_id: str) -> str:
    """The adjoint's textbook name, the id overlined: x̅ for x, y̅h̅a̅t̅ for yhat."""
    return "".join(char + "\u0305" for char in node_id)


factor = number_in_formula


def render(result: Result, digits: int = 6) -> Group:
    """The header and the four tables as one rich renderable (warnings go to standard error).

    Above MAX_TABLE_NODES nodes the per-node tables are left out: nobody reads them in a
    terminal, and laying them out would take longer than the computation."""
    parts = [_header(result, digits)]
    if len(result.nodes) <= MAX_TABLE_NODES:
        parts += [_forward(result, digits), _locals(result, digits), _backward(result, digits)]
    else:
        parts.append(Text(f"\n{len(result.nodes):,} nodes: the forward, local-derivative and "
                          f"backward tables are shown up to {MAX_TABLE_NODES} nodes; use --json "
                          "for all of them.\n", style="yellow"))
    parts.append(_gradient(result, digits))
    return Group(*parts)


def program_header(result) -> Text:
    """The program's first statements under a bold label, as the tables' header starts."""
    text = Text()
    lines = (result.parsed or result.expression.strip()).split("\n")
    shown = lines[:HEADER_LINES]
    if len(lines) > HEADER_LINES:
        shown.append(f"... ({len(lines):,} statements in all)")
    label = "expression  " if len(lines) == 1 else "program     "
    for k, line in enumerate(shown):
        text.append(label if k == 0 else " " * 12, style="bold").append(line + "\n")
    return text


def _header(result: Result, digits: int) -> Text:
    text = program_header(result)
    point = ", ".join(f"{name}={fmt(value, digits)}" for name, value in result.at)
    text.append("at          ", style="bold").append((point or "(no variables)") + "\n")
    text.append("output      ", style="bold").append(
        f"{result.output} = {fmt(result.value, digits)}")
    return text


def titled_table(title: str, *columns: tuple[str, str]) -> TitledTable:
    """A titled SIMPLE_HEAD table (drawn by fast_table, as rich's Table draws it)."""
    return TitledTable(title, columns)


def cells(*values) -> list:
    """Table cells with every string as rich Text: shown as written, never read as markup."""
    return [Text(value) if isinstance(value, str) else value for value in values]


def _status_text(node: NodeResult) -> Text:
    if node.status == "ok":
        return Text("")
    return Text(node.status, style=_FLAG_STYLE.get(node.status, "bold red"))


def _forward(result: Result, digits: int) -> Table:
    flagged = any(n.status != "ok" for n in result.nodes)
    exact = result.exact
    columns = [("node", "left"), ("op", "left"), ("formula", "left"), ("value", "right")]
    if exact is not None:
        columns.append(("exact", "left"))
    if flagged:
        columns.append(("status", "left"))
    table = titled_table("Forward pass", *columns)
    for i, node in enumerate(result.nodes):
        row = [node.id, node.op, pretty(node.expr) if node.inputs else "", fmt(node.value, digits)]
        if exact is not None:
            row.append(exact_text(exact.values[i]))
        if flagged:
            row.append(_status_text(node))
        table.add_row(*cells(*row))
    return table


def exact_text(number) -> str:
    """'1/3 = 0.333333333333333', or just the decimal when the exact form is that number."""
    if number is None:
        return ""
    if number.exact == number.decimal or number.exact.lstrip("-").isdigit():
        return pretty(number.exact)
    return f"{pretty(number.exact)} = {number.decimal}"


def _locals(result: Result, digits: int) -> Table:
    table = titled_table("Local derivatives", ("edge", "left"), ("rule", "left"),
                         ("value", "right"))
    for node in result.nodes:
        repeated = len({e.input for e in node.inputs}) < len(node.inputs)
        for position, edge in enumerate(node.inputs, 1):
            if edge.rule is None:
                continue
            label = f"{node.id} ← {edge.input}"
            if repeated:
                label += f" (argument {position})"
            table.add_row(*cells(label, f"∂{node.id}/∂{edge.input} = {pretty(edge.rule)}",
                                 fmt(edge.local, digits)))
    return table


def _backward(result: Result, digits: int) -> Table:
    exact = result.exact
    columns = [("node", "left"), ("adjoint", "right"), ("accumulated as", "left")]
    if exact is not None:
        columns.append(("exact", "left"))
    table = titled_table("Backward pass", *columns)
    position = {node.id: i for i, node in enumerate(result.nodes)}
    consumers: dict[str, list[tuple[NodeResult, float | None]]] = {}
    for node in result.nodes:
        for edge in node.inputs:
            if edge.rule is not None:
                consumers.setdefault(edge.input, []).append((node, edge.local))
    for node in reversed(result.nodes):
        if node.adjoint is None:
            continue
        row = [f"{bar(node.id)}", fmt(node.adjoint, digits),
               _accumulation(node, result, consumers.get(node.id, []), digits)]
        if exact is not None:
            row.append(exact_text(exact.adjoints[position[node.id]]))
        table.add_row(*cells(*row))
    return table


def _accumulation(node: NodeResult, result: Result, terms: list, digits: int) -> str:
    if node.id == result.output:
        return f"seed: ∂{result.output}/∂{result.output} = 1"
    if not terms:
        return "does not reach the output"
    symbols = " + ".join(f"{bar(c.id)}·∂{c.id}/∂{node.id}" for c, _ in terms)
    numbers = " + ".join(f"{factor(c.adjoint, digits)}·{factor(local, digits)}"
                         for c, local in terms)
    return f"{symbols} = {numbers}"


def _gradient(result: Result, digits: int) -> Table | Group | Text:
    check = result.check
    columns = [("variable", "left"), (f"∂{result.output}/∂variable", "right")]
    compared = check_columns(check)
    columns += [(label, "right") for label, _ in compared]
    if compared:
        columns.append(("check", "center"))
    exact = result.exact
    if exact is not None:
        columns.append(("exact", "left"))
    position = {node.id: i for i, node in enumerate(result.nodes)}
    table = titled_table("Gradient", *columns)
    if not result.gradient:
        return Text("Gradient: the program has no variables; there is nothing to differentiate.",
                    style="yellow")
    verdicts = {name: agrees for name, _, agrees in check.entries} if check else {}
    for name, value in result.gradient:
        row = [name, fmt(value, digits)]
        if compared:
            row += [fmt(values.get(name), digits) for _, values in compared]
            row.append(check_mark(verdicts.get(name)))
        if exact is not None:
            row.append(exact_text(exact.adjoints[position[name]]))
        table.add_row(*cells(*row))
    if check is None:
        return table
    return Group(table, *check_notes(check))


def check_columns(check) -> list[tuple[str, dict]]:
    """(column header, the method's value by variable) for each method the check compared
    with; none when nothing was compared."""
    from ..result import CHECK_LABELS

    if check is None or not check.entries:
        return []
    checks = check.checks if check.method == "all" else (check,)
    return [(CHECK_LABELS[one.method], {name: value for name, value, _ in one.entries})
            for one in checks if one.entries]


def check_mark(agrees: bool | None) -> Text:
    if agrees:
        return Text("✓", style="green")
    return Text("✗", style="bold red") if agrees is False else Text("n/a", style="dim")


def check_notes(check) -> list[Text]:
    """One line per method: its verdict, what was compared, and why anything was not."""
    from ..result import CHECK_LABELS, GradientCheck

    several = check.method == "all"
    notes = []
    for one in check.checks if several else (check,):
        head = f"check {CHECK_LABELS[one.method]}" if several else "check"
        if one.status == "skipped":
            notes.append(Text(f"{head} skipped: {one.reason}", style="yellow"))
            continue
        verdict = "passed" if one.status == "passed" else "FAILED"
        how = "SymPy's symbolic derivative" if isinstance(one, GradientCheck) else \
            f"{one.method} ({one.tolerance})"
        notes.append(Text(f"{head} {verdict}: gradient compared with {how}"
                          + (f"; {one.reason}" if one.reason else ""),
                          style="green" if one.status == "passed" else "bold red"))
    return notes


def show(result: Result, view) -> Group:
    """The grad tables, at the view's digits (with shapes, for a program over arrays)."""
    if getattr(result, "tensors", False):
        from .tensor_table import render as render_tensors

        return render_tensors(result, view.digits, view.full)
    return render(result, view.digits)
