"""StepSizes → the V-shaped error curves on log-log axes (plotext), a table, or CSV."""

from __future__ import annotations

import math

from rich.console import Group
from rich.text import Text

from ..printing import format_number
from ..step_sizes import StepSizes
from .table import cells, titled_table

FLOOR = 1e-20  # an error of exactly 0 is drawn here (a log axis has no 0)


def show(result: StepSizes, view) -> Group:
    console = view.terminal.console()
    color = console.is_terminal and not console.no_color
    plot = Text.from_ansi(curves(result, min(console.width, 100), 24, color))
    return Group(plot, _summary(result, view.digits))


def curves(result: StepSizes, width: int, height: int, color: bool) -> str:
    if not any(math.isfinite(e) for s in (result.forward, result.central) for e in s.error):
        return "(no error is finite to draw: the reverse-mode derivative is not finite here)"
    import plotext as plt

    from .plot import built, decade_ticks, figure

    figure(plt, width, height, color)
    plt.xscale("log")
    plt.yscale("log")
    for scheme, marker in ((result.forward, "braille"), (result.central, "•" if not color
                                                        else "braille")):
        points = [(h, max(e, FLOOR)) for h, e in zip(result.h, scheme.error, strict=True)
                  if math.isfinite(e)]
        if points:
            plt.plot([h for h, _ in points], [e for _, e in points], marker=marker,
                     label=f"{scheme.name} difference", color=None if color else "default")
    for scheme in (result.forward, result.central):  # over both curves: neither hides one
        best = scheme.best
        if best is not None:
            plt.scatter([result.h[best]], [max(scheme.error[best], FLOOR)], marker="x",
                        color=None if color else "default")
    plt.xticks(*decade_ticks(min(result.h), max(result.h)))
    errors = [max(e, FLOOR) for scheme in (result.forward, result.central)
              for e in scheme.error if math.isfinite(e)]
    if errors:
        plt.yticks(*decade_ticks(min(errors), max(errors)))
    plt.title(f"|error| of d{result.output}/d{result.wrt} against reverse mode, by step h")
    plt.xlabel("h")
    return built(plt, color, "(the error curves cannot be drawn at these magnitudes; "
                 "see --format table)")


def _summary(result: StepSizes, digits: int) -> Text:
    text = Text()
    text.append("reverse mode  ", style="bold").append(
        f"d{result.output}/d{result.wrt} = {format_number(result.derivative, digits)}\n")
    for scheme in (result.forward, result.central):
        best = scheme.best
        text.append(f"{scheme.name:<14}", style="bold").append(scheme.formula)
        if best is None:
            text.append(": no finite error\n")
        else:
            text.append(f": best h = {result.h[best]:.3g}, error "
                        f"{format_number(scheme.error[best], 3)}\n")
    return text


def show_table(result: StepSizes, view) -> Group:
    digits = view.digits
    table = titled_table(f"Finite differences of d{result.output}/d{result.wrt} (reverse mode: "
                         f"{format_number(result.derivative, digits)})", ("h", "right"),
                         ("forward", "right"), ("error", "right"), ("central", "right"),
                         ("error", "right"))
    for k, h in enumerate(result.h):
        marks = [f"{format_number(result.forward.error[k], 3)}"
                 + (" ◀ best" if result.forward.best == k else ""),
                 f"{format_number(result.central.error[k], 3)}"
                 + (" ◀ best" if result.central.best == k else "")]
        table.add_row(*cells(f"{h:.3g}", format_number(result.forward.estimate[k], digits),
                             marks[0], format_number(result.central.estimate[k], digits),
                             marks[1]))
    return Group(table, _summary(result, digits))


def show_csv(result: StepSizes, view) -> str:
    """h, forward estimate and error, central estimate and error; a non-finite one empty."""
    def cell(value: float) -> str:
        return repr(value) if math.isfinite(value) else ""

    rows = ["h,forward,forward_error,central,central_error"]
    for k, h in enumerate(result.h):
        rows.append(",".join([repr(h), cell(result.forward.estimate[k]),
                              cell(result.forward.error[k]), cell(result.central.estimate[k]),
                              cell(result.central.error[k])]))
    return "\n".join(rows)
