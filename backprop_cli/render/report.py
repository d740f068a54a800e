"""Grading reports → rich tables: one row per answer, claim or table row, with ✓/✗/?.

Students' text (answers, claims, ids, messages that quote them) is shown literally: as rich
Text, never as markup, with control characters escaped."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..errors import one_line
from ..grading import CORRECT, INCORRECT, JsonNumber, Report
from ..grading.report import DIFFERS
from ..printing import told_apart
from .table import fmt, pretty

MAX_ID_CHARS = 100  # of an id in the summary table (the JSON rows carry it whole)

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
            numbers = told_apart(item.expected, item.given, digits) \
                if item.verdict == INCORRECT and None not in (item.expected, item.given) \
                else (_shown(item, "expected", digits), _shown(item, "given", digits))
            table.add_row(mark(item.verdict), literal(item.label), *numbers,
                          literal(_note(item, digits)))
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
            table.add_row(mark(item.verdict), literal(item.label),
                          fmt(value.get("given"), digits), fmt(value.get("expected"), digits),
                          fmt(adjoint.get("given"), digits), fmt(adjoint.get("expected"), digits),
                          literal(item.reason or ""))
        parts.append(table)
    style = {CORRECT: "bold green", INCORRECT: "bold red"}.get(report.verdict, "bold yellow")
    left, total = report.table_numbers or (0, 0)
    incomplete = f" ({left} of the table's {total} numbers not answered)" if left else ""
    parts.append(Text(f"verdict: {report.verdict}{incomplete}", style=style))
    if report.score is not None:
        parts.append(render_score(report.score.to_dict()))
    return Group(*parts)


def _shown(item, key: str, digits: int) -> str:
    """A claim's number, or the array an array claim holds in its details."""
    array = item.details.get(key) if getattr(item, key) is None else None
    if isinstance(array, list):
        from .tensor_table import array_text

        return array_text(array, digits)
    return fmt(getattr(item, key), digits)


def render_score(score: dict) -> Table | Text:
    """A rubric's score: the total, then each mark that lost points and why (the total alone
    where none lost any)."""
    title = f"Score: {score['points']:g} / {score['max_points']:g}"
    if not score["penalties"] and all(mark["points"] >= mark["max_points"]
                                      for mark in score["marks"]):
        return Text(title, style="bold")
    table = Table(title=title, title_justify="left", title_style="bold", box=None,
                  pad_edge=False, header_style="bold")
    for name, justify in (("question", "left"), ("points", "right"), ("feedback", "left")):
        table.add_column(name, justify=justify, overflow="fold")
    for mark in score["marks"]:
        if mark["points"] < mark["max_points"]:
            table.add_row(literal(mark["question"]),
                          f"{mark['points']:g}/{mark['max_points']:g}",
                          literal(mark["feedback"]))
    for penalty in score["penalties"]:
        table.add_row("penalty", f"-{penalty['points']:g}", literal(penalty["reason"]))
    return table


def literal(text: str) -> Text:
    """A student's text for a table cell: never markup, control characters escaped."""
    return Text(one_line(text))


def id_json(value: object) -> str:
    """A batch id as JSON text, its numbers exactly as they were written."""
    from .json_format import dumps

    if isinstance(value, JsonNumber):
        return value.text
    if isinstance(value, list):
        return "[" + ",".join(id_json(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{dumps(key)}:{id_json(item)}"
                              for key, item in value.items()) + "}"
    return dumps(value)


def row_json(row: dict) -> str:
    """A batch row as one JSON line: strict JSON, the id as given (serialised first as a null,
    which is then replaced by the id's own text)."""
    from .json_format import dumps, line_safe

    rest = dumps({"id": None, **{key: value for key, value in row.items() if key != "id"}})
    rest = rest[len('{"id":null'):]
    return line_safe('{"id":' + id_json(row["id"]) + rest)


def id_text(value: object) -> str:
    """A batch id for the summary table: a string as it is, anything else as its JSON text;
    one line, and cut at MAX_ID_CHARS."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value[:MAX_ID_CHARS + 1]
    elif isinstance(value, JsonNumber):
        text = value.text[:MAX_ID_CHARS + 1]
    else:
        text = id_json(value)
    text = one_line(text)
    return text if len(text) <= MAX_ID_CHARS else text[:MAX_ID_CHARS - 3] + "..."


def _note(item, digits: int) -> str:
    exact = item.details.get("exact")
    if exact is not None:  # written as grad --exact writes it (cosh(1/3)⁻² + 2)
        return f"exact: {pretty(exact['exact'])} = {exact['decimal']}"
    example = item.counterexample
    if example is not None:
        at = ", ".join(f"{name} = {fmt(value, digits)}" for name, value in example["at"].items())
        why = f"; {item.reason}" if item.reason and item.reason != DIFFERS else ""
        expected, given = told_apart(example["expected"], example["given"], digits)
        return f"at {at}: the derivative is {expected}, your answer gives {given}{why}"
    return item.reason or ""


def render_batch(rows: list[dict], digits: int = 6, total: int | None = None) -> Group:
    """The summary of a batch: one line per item and the totals (of `total` lines, when the
    run was interrupted before all were graded)."""
    table = Table(title="Batch", title_justify="left", title_style="bold", box=None,
                  pad_edge=False, header_style="bold")
    scored = any("score" in row for row in rows)
    columns = [("", "center"), ("line", "right"), ("id", "left"), ("verdict", "left"),
               *([("score", "right")] if scored else []), ("detail", "left")]
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")
    counts: dict[str, int] = {}
    for row in rows:
        verdict = row["verdict"]
        counts[verdict] = counts.get(verdict, 0) + 1
        score = row.get("score")
        # an error row's 0 is not a mark: the gradebooks decide what it counts for
        points = [] if not score else ["—"] if verdict == "error" else \
            [f"{score['points']:g}/{score['max_points']:g}"]
        table.add_row(mark(verdict), str(row["line"]), Text(id_text(row.get("id"))),
                      Text(verdict), *points, literal(_batch_detail(row, digits)))
    totals = ", ".join(f"{counts[v]} {v}" for v in (CORRECT, INCORRECT, "undetermined", "error")
                       if v in counts)
    graded = f"{len(rows)} lines" if total is None else \
        f"{len(rows)} of {total} lines graded before the interruption"
    return Group(table, Text(f"{graded}: {totals or 'none'}", style="bold"))


def _batch_detail(row: dict, digits: int) -> str:
    if "error" in row:
        return f"{row['error']['code']}: {row['error']['message']}"
    if "score" in row:
        return row["score"]["comments"]
    wrong = [item for item in row.get("items", []) if item["verdict"] != CORRECT]
    if not wrong:
        missing = row.get("missing", [])
        return (f"not answered: {', '.join(missing[:4])}{', ...' if len(missing) > 4 else ''}"
                if missing else "")
    # the root cause first (a table row or a hand-in line): what follows may only carry it
    first = next((item for item in wrong if _is_root_cause(item)), wrong[0])
    if first.get("root_cause"):  # a hand-in line
        return (f"{first['label']}: root cause (later numbers follow from it), true "
                f"{fmt(first['expected'], digits)}")
    if _is_root_cause(first):
        quantity = "value" if first.get("value", {}).get("root_cause") else "adjoint"
        mark = first[quantity]
        return (f"{first['label']}.{quantity}: root cause (later numbers follow from it), true "
                f"{fmt(mark['expected'], digits)}, given {fmt(mark['given'], digits)}")
    if first.get("counterexample"):
        example = first["counterexample"]
        at = ", ".join(f"{k} = {fmt(v, digits)}" for k, v in example["at"].items())
        expected, given = told_apart(example["expected"], example["given"], digits)
        return f"{first['label']}: at {at} true {expected}, given {given}"
    named = first.get("misconception")
    if first.get("expected") is not None:
        mistake = f"{named['message']}; " if named else ""
        return f"{first['label']}: {mistake}true value {fmt(first['expected'], digits)}"
    return f"{first['label']}: {first.get('reason') or first['verdict']}"


def _is_root_cause(item: dict) -> bool:
    return bool(item.get("root_cause")) or any(
        isinstance(item.get(quantity), dict) and item[quantity].get("root_cause")
        for quantity in ("value", "adjoint"))


def show(result, view) -> Group:
    """A report's tables; a batch's summary, after its rows (with a progress bar on a
    terminal)."""
    if isinstance(result, Report):
        return render(result, view.digits)
    from ..grading import Batch

    if isinstance(result, Batch):
        try:
            for _ in _with_progress(result, view):
                pass
        except KeyboardInterrupt:  # show what was graded before Ctrl-C
            view.terminal.print(render_batch(result.rows, view.digits, len(result)))
            raise
        return render_batch(result.rows, view.digits)
    return Group(render(result.report, view.digits), render_score(result.score.to_dict()),
                 Text(f"wrote {result.results}"))  # teacher.autograde's Autograded


def show_json(result, view) -> str | None:
    """A report's JSON document; a batch's rows, one JSON line each as it is graded."""
    from .json_format import dumps

    if isinstance(result, Report):
        return dumps(result.to_dict())
    from ..grading import Batch

    if isinstance(result, Batch):
        for row in _with_progress(result, view):
            view.terminal.write(row_json(row))
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
