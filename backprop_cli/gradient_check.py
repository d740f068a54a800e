"""Verification against SymPy: the engine's gradient next to the symbolic derivative.

SymPy work on user input can take unbounded time (or memory), so it runs in a bounded child
process (see bounded.py); on an expression too large to check quickly the check is skipped with
a reason, never hung on.
"""

from __future__ import annotations

import math
from dataclasses import replace

from .bounded import run_bounded
from .graph import Graph
from .result import GradientCheck, Result
from .status import NOT_A_NUMBER
from .sympy_forms import to_sympy

MAX_EXPANDED_SIZE = 5_000
RTOL = 1e-9
ATOL = 1e-12


def expanded_size(graph: Graph, limit: int) -> int:
    """Size of the output written out as a tree (a DAG can be exponentially larger); capped."""
    size = [1] * len(graph.ids)
    for i, ins in enumerate(graph.inputs):
        if ins:
            size[i] = min(limit + 1, 1 + sum(size[j] for j in ins))
    return size[graph.output]


def symbolic_gradient_check(graph: Graph, result: Result, timeout: float) -> Result:
    """Return `result` with a `check` comparing each gradient entry with SymPy's derivative."""
    live = graph.live()
    if any(live[i] and n.status in NOT_A_NUMBER for i, n in enumerate(result.nodes)):
        return replace(result, check=GradientCheck(
            "skipped", "the output is not a finite number at this point (see the flagged "
            "nodes); there is nothing to compare"))
    size = expanded_size(graph, MAX_EXPANDED_SIZE)
    if size > MAX_EXPANDED_SIZE:
        return replace(result, check=GradientCheck(
            "skipped", f"expression too large to check symbolically (more than "
            f"{MAX_EXPANDED_SIZE:,} nodes when written out as a tree)"))
    outcome = run_bounded(_symbolic_gradient, (graph, dict(result.at)), timeout)
    if not outcome.ok:
        return replace(result, check=GradientCheck("skipped", f"symbolic check {outcome.reason}"))
    exact, in_float = outcome.value
    at_kink = any(live[i] and n.status == "kink" for i, n in enumerate(result.nodes))
    entries = []
    for name, engine_value in result.gradient:
        expected = exact.get(name)
        agrees = _agrees(engine_value, expected, at_kink)
        if agrees is False and _close(engine_value, in_float.get(name)):
            # The engine matches SymPy's own formula evaluated in float64: the gap to the
            # exact value is the conditioning of float64 arithmetic, not a wrong derivative.
            agrees = True
        entries.append((name, expected, agrees))
    verdicts = [agrees for _, _, agrees in entries]
    if False in verdicts:
        status = "failed"
    elif True in verdicts:
        status = "passed"
    else:
        status = "skipped"
    reason = None
    if None in verdicts:
        reason = ("not compared where the derivative is not finite, or at a kink where the "
                  "engine follows the documented convention")
    if not entries:
        reason = "the program has no variables"
    return replace(result, check=GradientCheck(status, reason, tuple(entries)))


def _agrees(engine_value: float, expected: float | None, at_kink: bool) -> bool | None:
    if not math.isfinite(engine_value):
        return None  # a non-finite derivative is flagged on its node; SymPy's limit may differ
    if expected is None:
        return None if not math.isfinite(engine_value) or at_kink else False
    if _close(engine_value, expected):
        return True
    return None if at_kink else False


def _close(engine_value: float, expected: float | None) -> bool:
    return expected is not None and math.isclose(engine_value, expected, rel_tol=RTOL,
                                                  abs_tol=ATOL)


def _symbolic_gradient(graph: Graph, point: dict[str, float]) -> tuple[dict, dict]:
    """SymPy's derivative by each variable at the point: exactly (the float inputs taken as
    exact rationals, then evaluated to 30 digits) and in float64 (its formula lambdified)."""
    import sympy

    exprs = to_sympy(graph)
    output = exprs[graph.output]
    symbols = {graph.ids[i]: exprs[i] for i in graph.variables}
    names = list(symbols)
    exact_point = {symbols[name]: sympy.Rational(point[name]) for name in names}
    exact, in_float = {}, {}
    for name, symbol in symbols.items():
        derivative = sympy.diff(output, symbol)
        try:
            exact[name] = _real_number(derivative.xreplace(exact_point).evalf(30))
        except (ZeroDivisionError, ValueError, TypeError, ArithmeticError):
            exact[name] = None  # the symbolic derivative is undefined at the point
        try:
            function = sympy.lambdify([symbols[n] for n in names], derivative, "mpmath")
            with _float64():
                in_float[name] = _real_number(function(*[point[n] for n in names]))
        except Exception:  # the float evaluation is only a second opinion
            in_float[name] = None
    return exact, in_float


def _float64():
    import mpmath

    return mpmath.workprec(53)


def _real_number(value) -> float | None:
    try:
        number = complex(value)
    except (TypeError, ValueError):
        return None
    if abs(number.imag) > 1e-12 * max(1.0, abs(number.real)) or not math.isfinite(number.real):
        return None
    return number.real
