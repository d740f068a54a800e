"""Sweep → a terminal plot (plotext) of the function and its derivative; gaps where undefined."""

from __future__ import annotations

import math
import re

from ..sweep import Sweep


def render(result: Sweep, width: int, height: int, color: bool) -> str:
    """The plot as text, sized for the terminal."""
    import plotext as plt

    figure(plt, width, height, color)
    xs, value, derivative = _thinned(result, width * 4)
    label = result.output
    # Without colour the two curves need different markers to be told apart.
    derivative_marker = "braille" if color else "•"
    for name, ys, marker in ((label, value, "braille"),
                             (f"d{label}/d{result.variable}", derivative, derivative_marker)):
        first = True
        for xs_part, ys_part in _segments(xs, ys):
            plt.plot(xs_part, ys_part, marker=marker, label=name if first else None,
                     color=None if color else "default")
            first = False
    plt.xlim(result.start, result.stop)
    readable_ticks(plt, "x", result.start, result.stop)
    finite = [v for ys in (value, derivative) for v in ys if math.isfinite(v)]
    if finite:
        readable_ticks(plt, "y", min(finite), max(finite))
    program = result.expression.replace(chr(10), "; ")
    title = program if "\n" in result.expression or program.startswith(f"{label} = ") else \
        f"{label} = {program}"
    if len(title) > width - 4:
        title = title[:width - 5] + "…"
    if not any(v == v and abs(v) != float("inf") for v in value):
        title += "   (undefined over the whole range)"
    plt.title(title)
    plt.xlabel(result.variable)
    try:
        text = plt.build()
    except (OverflowError, ValueError, ZeroDivisionError):
        # plotext scales by the span of the numbers: spans near float64's limits (values
        # near 1e308) overflow inside it.
        from ..errors import InputError

        raise InputError("the numbers of this sweep are too close to the limits of float64 "
                         "for the terminal plot to scale; use --format csv or --format json, "
                         "or another range") from None
    finally:
        plt.clear_figure()
    return text if color else strip_ansi(text)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def figure(plt, width: int, height: int, color: bool) -> None:
    """A new plotext figure of the terminal's size, in colour or plain."""
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear" if not color else "default")
    if not color:
        plt.clear_color()


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def decade_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick positions at powers of ten from below `low` to above `high` (at most six),
    labelled 1e-8 (plotext's own labels of a log axis are long decimals)."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    step = max(1, -(-(last - first) // 5))
    exponents = list(range(first, last + 1, step))
    return [10.0**k for k in exponents], [f"1e{k}" if k else "1" for k in exponents]


def readable_ticks(plt, axis: str, low: float, high: float) -> None:
    """Round ticks with short labels (1.5e65, 2e-30) on an axis whose numbers are very large
    or very small: plotext writes every digit of such a number (a label of 66 digits squeezed
    the plot into a dozen columns, and a wider one left the canvas blank)."""
    largest = max(abs(low), abs(high))
    if not 0 < high - low < math.inf or 1e-5 <= high - low and largest < 1e6:
        return
    ticks = round_ticks(low, high)
    if ticks is not None:
        (plt.xticks if axis == "x" else plt.yticks)(*ticks)


def round_ticks(low: float, high: float, most: int = 5) -> tuple[list[float], list[str]] | None:
    """Ticks at multiples of 1, 2 or 5 times a power of ten from `low` to `high` (at most
    `most` + 1), each labelled with the digits that tell it from its neighbours; None where
    float64 cannot space them."""
    try:
        wanted = (high - low) / most
        power = 10.0 ** math.floor(math.log10(wanted))
        step = next(m * power for m in (1, 2, 5, 10) if m * power >= wanted)
        # a tick on the range's end stays although low / step rounds a hair beyond it
        first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    except (OverflowError, ValueError, ZeroDivisionError):
        return None
    if not 0 < last - first + 1 <= most + 1:
        return None
    positions = [k * step for k in range(first, last + 1)]
    largest = max(abs(positions[0]), abs(positions[-1]))
    if step < largest * 1e-13:  # as fine as float64's spacing: the labels would not be round
        return None
    labels = [_short(position, step, largest) for position in positions]
    if len(set(labels)) < len(labels):  # a step below float64's spacing of these numbers
        return None
    return positions, labels


def _short(number: float, step: float, largest: float) -> str:
    """`number` with as many significant digits as a tick `step` apart needs, exponent
    written 1e65 rather than 1e+65; one notation for all ticks up to `largest`."""
    if number == 0:
        return "0"
    digits = math.floor(math.log10(abs(number))) - math.floor(math.log10(step)) + 1
    if 1e-4 <= step and largest < 1e6:
        return f"{number:.{max(0, -math.floor(math.log10(step)))}f}"
    mantissa, _, exponent = f"{number:.{min(max(digits, 1), 17)}g}".partition("e")
    return mantissa + (f"e{int(exponent)}" if exponent else "")


def built(plt, color: bool, instead: str) -> str:
    """The plotext figure as text (without colour codes unless `color`), or `instead` when
    its numbers are too extreme for plotext to scale; the figure is cleared either way."""
    _ticks_in_order(plt)
    try:
        text = plt.build()
    except (OverflowError, ValueError, ZeroDivisionError, TypeError):
        text = instead
    finally:
        plt.clear_figure()
    return text if color else strip_ansi(text)


def _ticks_in_order(plt) -> None:
    """The ticks given to plotext, back in ascending order. plotext keeps them in the order of
    a set (it drops duplicates through one), and where two labels would overlap it draws the
    one it meets first: the labels of a narrow plot changed from run to run with Python's
    string hashing."""
    core = getattr(plt, "_core", None)
    monitor = getattr(getattr(getattr(core, "_figure", None), "_active", None), "monitor", None)
    for axis in ("x", "y"):
        ticks, labels = (getattr(monitor, f"{axis}ticks", None),
                         getattr(monitor, f"{axis}labels", None))
        if not isinstance(ticks, list) or not isinstance(labels, list):
            continue
        for side, (positions, texts) in enumerate(zip(ticks, labels, strict=False)):
            if positions and texts and len(positions) == len(texts):
                pairs = sorted(zip(positions, texts, strict=True))
                ticks[side] = [position for position, _ in pairs]
                labels[side] = [text for _, text in pairs]


def _thinned(result: Sweep, columns: int) -> tuple[list, list, list]:
    """At most a few points per character column: the terminal cannot show more, and plotext
    would spend seconds on a million points. Every undefined point still makes a gap."""
    import numpy as np

    count = result.points
    if count <= columns:
        return result.x.tolist(), result.value.tolist(), result.derivative.tolist()
    keep = np.unique(np.concatenate([np.linspace(0, count - 1, columns).astype(int),
                                     np.flatnonzero(~np.isfinite(result.value))[:columns]]))
    return (result.x_at(indices=keep).tolist(), result.value[keep].tolist(),
            result.derivative[keep].tolist())


def _segments(xs: list[float], ys: list[float]):
    """Runs of finite points: an undefined point is a gap in the curve, not a crash."""
    run_x: list[float] = []
    run_y: list[float] = []
    for x, y in zip(xs, ys, strict=True):
        if math.isfinite(y):
            run_x.append(x)
            run_y.append(y)
        elif run_x:
            yield run_x, run_y
            run_x, run_y = [], []
    if run_x:
        yield run_x, run_y


def show(result: Sweep, view) -> str:
    """The plot sized for the terminal (at most 100 columns), in colour where it can be."""
    console = view.terminal.console()
    return render(result, min(console.width, 100), 24,
                  color=console.is_terminal and not console.no_color)
