"""Grading reports → rich tables: one row per answer, claim or table row, with ✓/✗/?."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..grading import CORRECT, INCORRECT, Report
from .table import fmt

_MARK = {CORRECT: ("✓", "green"), INCORRECT: ("✗", "bold red"), "undetermined": ("?", "yellow"),
         "error": ("!", "bold red")}


def mark(verdict: str) -> Text:
    symbol, style = _MARK.get(verdict, ("?", "yellow"))
    return Text(symbol, style=style)


def render(report: Report, digits: int = 6) -> Group:
    """Answers and claims in one table, a student's table rows in another, then the verdict."""
    parts = []
    answers = [item for item in report.items if item.kind != "row"]
    rows = [item for item in report.items if item.kind == "row"]
    if answers:
        table = Table(title="Answers", title_justify="left", title_style="bold",
                      box=None, pad_edge=False, show_header=True, header_style="bold")
        for name, justify in (("", "center"), ("answer", "left"), ("true", "right"),
                              ("given", "right"), ("note", "left")):
            table.add_column(name, justify=justify, overflow="fold")
        for item in answers:
            table.add_row(mark(item.verdict), item.label, fmt(item.expected, digits),
                          fmt(item.given, digits), _note(item, digits))
        parts.append(table)
    if rows:
        table = Table(title="Your table", title_justify="left", title_style="bold", box=None,
                      pad_edge=False, header_style="bold")
        for name, justify in (("", "center"), ("node", "left"), ("value", "right"),
                              ("true value", "right"), ("adjoint", "right"),
                              ("true adjoint", "right"), ("note", "left")):
            table.add_column(name, justify=justify, overflow="fold")
        for item in rows:
            value = item.details.get("value", {})
            adjoint = item.details.get("adjoint", {})
            table.add_row(mark(item.verdict), item.label, fmt(value.get("given"), digits),
                          fmt(value.get("expected"), digits), fmt(adjoint.get("given"), digits),
                          fmt(adjoint.get("expected"), digits), item.reason or "")
        parts.append(table)
    style = {CORRECT: "bold green", INCORRECT: "bold red"}.get(report.verdict, "bold yellow")
    parts.append(Text(f"verdict: {report.verdict}", style=style))
    for warning in report.warnings:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    return Group(*parts)


def _note(item, digits: int) -> str:
    exact = item.details.get("exact")
    if exact is not None:
        return f"exact: {exact['exact']} = {exact['decimal']}"
    example = item.counterexample
    if example is not None:
        at = ", ".join(f"{name} = {fmt(value, digits)}" for name, value in example["at"].items())
        return (f"at {at}: the derivative is {fmt(example['expected'], digits)}, "
                f"your answer gives {fmt(example['given'], digits)}")
    return item.reason or ""


def render_batch(rows: list[dict], digits: int = 6) -> Group:
    """The summary of a batch: one line per item and the totals."""
    table = Table(title="Batch", title_justify="left", title_style="bold", box=None,
                  pad_edge=False, header_style="bold")
    for name, justify in (("", "center"), ("id", "left"), ("verdict", "left"),
                          ("detail", "left")):
        table.add_column(name, justify=justify, overflow="fold")
    counts: dict[str, int] = {}
    for row in rows:
        verdict = row["verdict"]
        counts[verdict] = counts.get(verdict, 0) + 1
        table.add_row(mark(verdict), str(row.get("id", "")), verdict, _batch_detail(row, digits))
    totals = ", ".join(f"{counts[v]} {v}" for v in (CORRECT, INCORRECT, "undetermined", "error")
                       if v in counts)
    return Group(table, Text(f"{len(rows)} items: {totals or 'none'}", style="bold"))


def _batch_detail(row: dict, digits: int) -> str:
    if "error" in row:
        return row["error"]["message"]
    wrong = [item for item in row.get("items", []) if item["verdict"] != CORRECT]
    if not wrong:
        return ""
    first = wrong[0]
    if first.get("counterexample"):
        example = first["counterexample"]
        at = ", ".join(f"{k} = {fmt(v, digits)}" for k, v in example["at"].items())
        return f"{first['label']}: at {at} true {fmt(example['expected'], digits)}, " \
               f"given {fmt(example['given'], digits)}"
    if first.get("expected") is not None:
        return f"{first['label']}: true value {fmt(first['expected'], digits)}"
    return f"{first['label']}: {first.get('reason') or first['verdict']}"


def show(result, view) -> Group:
    """A report's tables; a batch's summary, after its rows (with a progress bar on a
    terminal)."""
    from ..grading import Batch

    if isinstance(result, Batch):
        for _ in _with_progress(result, view):
            pass
        return render_batch(result.rows, view.digits)
    return render(result, view.digits)


def show_json(result, view) -> str | None:
    """A report's JSON document; a batch's rows, one JSON line each as it is graded."""
    from ..grading import Batch
    from .json_format import dumps

    if isinstance(result, Batch):
        for row in _with_progress(result, view):
            view.terminal.write(dumps(row))
            view.terminal.out.flush()
        return None
    return dumps(result.to_dict())


def _with_progress(batch, view):
    """The batch's rows, advancing a progress bar on standard error when it is a terminal."""
    if not view.terminal.err_is_tty:
        yield from batch
        return
    from rich.progress import Progress

    with Progress(console=view.terminal.console(stderr=True), transient=True) as progress:
        task = progress.add_task("grading", total=len(batch))
        for row in batch:
            yield row
            progress.advance(task)
