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
NOT_COMPARED = ("not compared where the derivative is not finite, or at a kink where the "
                "engine follows the documented convention")
NOT_FINITE = ("the output is not a finite number at this point (see the flagged nodes); there "
              "is nothing to compare")


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
        return replace(result, check=GradientCheck("skipped", NOT_FINITE))
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
    status = verdict_of(verdicts)
    reason = NOT_COMPARED if None in verdicts else None
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
            exact[name] = real_number(derivative.xreplace(exact_point).evalf(30))
        except (ZeroDivisionError, ValueError, TypeError, ArithmeticError):
            exact[name] = None  # the symbolic derivative is undefined at the point
        try:
            function = sympy.lambdify([symbols[n] for n in names], derivative, "mpmath")
            with _float64():
                in_float[name] = real_number(function(*[point[n] for n in names]))
        except Exception:  # the float evaluation is only a second opinion
            in_float[name] = None
    return exact, in_float


def _float64():
    import mpmath

    return mpmath.workprec(53)


def real_number(value) -> float | None:
    try:
        number = complex(value)
    except (TypeError, ValueError):
        return None
    if abs(number.imag) > 1e-12 * max(1.0, abs(number.real)) or not math.isfinite(number.real):
        return None
    return number.real


# SymPy's expansion is used when (elements over all nodes) × (gradient elements) is at most
# this: about 2 s for a 5×5 softmax layer; past it, central finite differences.
MAX_SYMBOLIC_WORK = 5_000


def array_gradient_check(graph: Graph, point: dict, result, timeout: float,
                         fallback: bool = True):
    """An ArrayCheck of a program over arrays: SymPy's derivative of the program written out
    element by element when that is small, central finite differences otherwise (or when
    SymPy does not finish in time); the reason says which and why. Without `fallback`, a
    SymPy check that cannot be made is skipped instead."""
    import numpy as np

    from .result import SYMPY
    from .tensor_engine import finite_difference_check
    from .tensor_exact import symbolic_gradient
    from .tensor_result import SYMBOLIC_RTOL, ArrayCheck

    names = [name for name, _ in result.gradient]
    elements = sum(int(np.size(node.value)) for node in result.nodes)
    work = elements * sum(int(np.size(value)) for _, value in result.gradient)
    why = "the program has too many elements to write out" if work > MAX_SYMBOLIC_WORK \
        else None
    if why is None:
        outcome = run_bounded(symbolic_gradient, (graph, point, names), timeout)
        why = None if outcome.ok else outcome.reason
    if why is not None:
        if not fallback:
            return ArrayCheck("skipped", why, SYMPY, ())
        return _finite_differences(finite_difference_check(graph, point, result), why)
    at_kink = any(node.status == "kink" for node in result.nodes) or _tied(result)
    entries = []
    for name, engine in result.gradient:
        truth = outcome.value[name]
        engine = np.asarray(engine, dtype=float)
        scale = max(1.0, float(np.max(np.abs(truth), initial=0.0, where=np.isfinite(truth))))
        compared = np.isfinite(engine)
        close = np.abs(engine - truth) <= SYMBOLIC_RTOL * np.abs(truth) + 1e-10 * scale
        wrong = int(np.sum(compared & ~close))
        entries.append((name, truth, None if (wrong and at_kink) or not np.any(compared)
                        else wrong == 0))
    verdicts = [agrees for *_, agrees in entries]
    return ArrayCheck(verdict_of(verdicts), NOT_COMPARED if None in verdicts else None, SYMPY,
                      tuple(entries))


def verdict_of(verdicts: list) -> str:
    """failed if any entry disagrees, passed if some agree, skipped if none was compared."""
    if False in verdicts:
        return "failed"
    return "passed" if True in verdicts else "skipped"


def _tied(result) -> bool:
    """Whether a max or min reduction is attained more than once: its derivative there is a
    convention (ties share), which SymPy's Max does not follow."""
    import numpy as np

    for node in result.nodes:
        if node.op in ("reduce_max", "reduce_min") and node.inputs:
            values = np.asarray(result.node(node.inputs[0].input).value, dtype=float)
            if np.sum(values == node.value) > 1:
                return True
    return False


def _finite_differences(check, why: str):
    from dataclasses import replace as with_reason

    reason = f"SymPy was not used: {why}"
    return with_reason(check, reason=reason + (f"; {check.reason}" if check.reason else ""))


CHECK_METHODS = ("symbolic", "fd", "forward", "all")


def compared(graph: Graph, point: dict, result, method: str, timeout: float,
             alone: bool = True):
    """The check of `method` for a Result or a TensorResult: SymPy (symbolic), central finite
    differences (fd), forward mode (forward), or all three side by side (all). Alone, a
    SymPy check too large for an array program falls back to finite differences."""
    method = {"sympy": "symbolic", "finite-differences": "fd"}.get(method.lower(), method.lower())
    if method not in CHECK_METHODS:
        from .errors import InputError

        raise InputError(f"unknown --check-method {method!r}; choose one of "
                         f"{', '.join(CHECK_METHODS)}")
    if method == "all":
        from .result import AllChecks

        return AllChecks(tuple(compared(graph, point, result, one, timeout, alone=False)
                               for one in CHECK_METHODS[:3]))
    tensors = getattr(result, "tensors", False)
    if method == "symbolic" and not tensors:
        return symbolic_gradient_check(graph, result, timeout).check
    from .result import FINITE_DIFFERENCES, FORWARD_MODE, SYMPY
    from .tensor_engine import finite_difference_check, forward_mode_check
    from .tensor_result import ArrayCheck

    name = {"symbolic": SYMPY, "fd": FINITE_DIFFERENCES, "forward": FORWARD_MODE}[method]
    if not math.isfinite(result.value):
        return ArrayCheck("skipped", NOT_FINITE, name, ())
    if method == "symbolic":
        return array_gradient_check(graph, point, result, timeout, fallback=alone)
    check = (finite_difference_check if method == "fd" else forward_mode_check)(
        graph, point, result)
    if not check.entries:
        return ArrayCheck("skipped", "the program has no variables", name, ())
    return check
