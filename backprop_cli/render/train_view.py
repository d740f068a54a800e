"""Training → the terminal: the one-step table homework asks for, or the loss curve (plotext)
and the final parameters; `--format csv` the loss history."""

from __future__ import annotations

import math

from rich.console import Group
from rich.text import Text

from ..printing import format_number
from ..tensor_ops import shape_text
from ..training import Training
from .table import cells, pretty, titled_table
from .tensor_table import SUMMARY_THRESHOLD, array_text, refuse_full


def show(result: Training, view) -> Group:
    digits, full = view.digits, view.full
    refuse_full([value for _, value in (*result.parameters, *result.gradient)], full)
    parts: list = [_header(result)]
    drawn = sum(1 for loss in result.history if math.isfinite(loss)) >= 3
    if result.first and (result.steps == 1 or not drawn):
        parts.append(_first_step(result, digits, full))
    if result.steps > 1:
        console = view.terminal.console()
        color = console.is_terminal and not console.no_color
        if drawn:
            parts.append(Text.from_ansi(curve(result, min(console.width, 100), 20, color)))
        parts.append(_final(result, digits, full))
    parts.append(_losses(result, digits))
    if result.stopped:
        parts.append(Text(f"stopped at {result.stopped}", style="bold red"))
    return Group(*parts)


def _header(result: Training) -> Text:
    text = Text()
    for k, line in enumerate(result.expression.splitlines()):
        text.append("program     " if k == 0 else " " * 12, style="bold").append(
            pretty(line) + "\n")
    settings = ", ".join(f"{k} {v:g}" for k, v in result.optimizer.settings().items())
    text.append("optimizer   ", style="bold").append(f"{result.optimizer.name} ({settings})\n")
    text.append("update      ", style="bold").append(result.optimizer.rule + "\n")
    text.append("parameters  ", style="bold").append(", ".join(result.params))
    if result.data:
        text.append("\ndata        ", style="bold").append(
            ", ".join(result.data) + " (held fixed)")
    return text


def _first_step(result: Training, digits: int, full: bool):
    columns = ("old", "gradient", "update", "new")
    return _per_parameter("One step", [(row.name, (row.old, row.gradient, row.update, row.new))
                                       for row in result.first], columns, digits, full)


def _final(result: Training, digits: int, full: bool):
    count = result.parameters_step
    rows = [(name, (value, gradient)) for (name, value), (_, gradient)
            in zip(result.parameters, result.gradient, strict=True)]
    return _per_parameter(f"Parameters after {count:,} step{'s' if count != 1 else ''}", rows,
                          ("value", "gradient"), digits, full)


def _per_parameter(title: str, rows: list, columns: tuple[str, ...], digits: int, full: bool):
    """A row per element (`W1[0,1]`) when every parameter is small, else a row per
    parameter with its shape and its arrays (summarised unless `full`)."""
    import numpy as np

    from ..tensor_engine import element_labels

    by_element = all(np.size(values[0]) <= SUMMARY_THRESHOLD for _, values in rows)
    head = [("parameter", "left")] + ([] if by_element else [("shape", "left")])
    table = titled_table(title, *head, *((c, "left") for c in columns))
    for name, values in rows:
        if by_element:
            flat = [np.ravel(v) for v in values]
            for k, label in enumerate(element_labels(name, values[0])):
                table.add_row(*cells(label, *(format_number(float(v[k]), digits)
                                              for v in flat)))
        else:
            table.add_row(*cells(name, shape_text(values[0]),
                                 *(array_text(v, digits, full) for v in values)))
    return table


def _losses(result: Training, digits: int) -> Text:
    history = result.history
    text = Text("loss        ", style="bold")
    text.append(f"{result.output} = {format_number(history[0], digits)} before, "
                f"{format_number(history[-1], digits)} after {len(history) - 1:,} step"
                f"{'s' if len(history) != 2 else ''}")
    return text


def curve(result: Training, width: int, height: int, color: bool) -> str:
    """The loss against the step; on a log scale (log10 drawn, ticks labelled 1e-2) when it
    is positive and spans more than two decades."""
    import plotext as plt

    from .plot import built, decade_ticks, figure, readable_ticks

    shown = [(step, loss) for step, loss in enumerate(result.history) if math.isfinite(loss)]
    steps, losses = [s for s, _ in shown], [v for _, v in shown]
    logarithmic = min(losses) > 0 and max(losses) / min(losses) > 100
    figure(plt, width, height, color)
    if logarithmic:
        low, high = min(losses), max(losses)
        ticks, labels = decade_ticks(low, high)
        plt.yticks([math.log10(t) for t in ticks], labels)
        losses = [math.log10(v) for v in losses]
    elif losses:
        readable_ticks(plt, "y", min(losses), max(losses))
    last = len(result.history) - 1
    plt.xticks(sorted({round(last * k / 4) for k in range(5)}) if last > 4 else
               list(range(last + 1)))
    plt.plot(steps, losses, marker="braille", label=result.output + (" (log scale)"
                                                                      if logarithmic else ""),
             color=None if color else "default")
    plt.title(f"{result.output} during training ({result.optimizer.name}, lr "
              f"{result.optimizer.lr:g})")
    plt.xlabel("step")
    return built(plt, color, "(the loss curve cannot be drawn at these magnitudes; see "
                 "--format csv)")


def show_csv(result: Training, view) -> str:
    """step,loss rows: the loss after each number of steps (a non-finite loss as nan/inf)."""
    rows = ["step,loss"]
    rows += [f"{step},{loss!r}" for step, loss in enumerate(result.history)]
    return "\n".join(rows)
