"""Each node's status: ok, kink, or why its value or a partial is not a finite number.

Statuses sit on the node that produced the problem (`undefined`, `infinite`, `overflow`,
`nondifferentiable`, `kink`); nodes downstream of it are `propagated`. The wording comes from
the op table: its kink conventions and its explanations of domain errors.
"""

from __future__ import annotations

import math

from .ops import Op

NOT_A_NUMBER = ("undefined", "infinite", "overflow", "propagated")


def classify(op: Op, value: float, args: list[float], locals_: tuple, inputs: list[str],
             varying: list[bool], adjoint: float | None) -> tuple[str, str | None]:
    """The status of a node with this op, value, input values and local partials (only those
    on `varying` inputs are differentiated), and its message."""
    if not math.isfinite(value):
        return not_finite(op, value, args)
    if op.kink is not None or op.edges is not None:
        note = op.kink_note(*args)
        if note is not None:
            return "kink", f"kink: {note}"
    for k, (local, name) in enumerate(zip(locals_, inputs, strict=True)):
        if not varying[k] or math.isfinite(local):
            continue
        if not all(math.isfinite(a) for a in args):
            return "propagated", None
        if k in op.unknown_partials:
            function = op.name.partition("#")[0]  # zeta#2: SymPy's zeta with two arguments
            reason = (f"SymPy's derivative of {function} with respect to {name} uses functions "
                      "this tool cannot evaluate" if k in op.unevaluable_partials else
                      f"SymPy knows no derivative of {function} with respect to {name}")
        elif math.isinf(local) and _overflows_around(op, args, k):
            return "overflow", (f"derivative with respect to {name} is finite but beyond "
                                "float64 here [overflow]")
        else:
            kind = "nan" if math.isnan(local) else "infinite"
            reason = f"derivative with respect to {name} is {kind} here"
        return "nondifferentiable", f"{reason} [nondifferentiable]"
    if adjoint is not None and math.isfinite(adjoint):
        for k, (local, name) in enumerate(zip(locals_, inputs, strict=True)):
            if varying[k] and not math.isfinite(adjoint * local):
                return "overflow", (f"the adjoint passed to {name} ({adjoint:.6g} × "
                                    f"{local:.6g}) overflows float64 [overflow]")
    return "ok", None


def _overflows_around(op: Op, args: list[float], k: int) -> bool:
    """Whether an infinite partial by input k stays infinite a hair either side of the input:
    an overflow over an interval (1/x at x = 1e-310), not the isolated point where a
    derivative has no finite value (sqrt at 0, asin at 1), which is finite beside it."""
    from .backends import FLOAT
    from .engine import FAILED, node_partials

    forward, partials = FLOAT.bound(op)
    for side in (1.0, -1.0):
        moved = list(args)
        moved[k] = moved[k] * (1.0 + side * 1e-9) if moved[k] else side * 1e-300
        try:
            out = forward(*moved)
        except FAILED:
            return False
        if not math.isinf(node_partials(op.calling_convention, partials, moved, out)[k]):
            return False
    return True


def not_finite(op: Op, value: float, args: list[float]) -> tuple[str, str | None]:
    """The status and message of a node whose value is not finite: propagated from a
    non-finite input, or produced here (the op words why)."""
    if not all(math.isfinite(a) for a in args):
        return "propagated", None
    inputs = ", ".join(f"{a:.6g}" for a in args)
    name = op.name.partition("#")[0]
    if op.explain is not None:
        status, message = op.explain(*args)
    elif math.isnan(value):
        status, message = "undefined", f"{name} is undefined at input {inputs}"
    elif all(abs(a) < 100 for a in args):
        status, message = "infinite", f"{name} has a pole at input {inputs}"
    else:
        status, message = "overflow", f"{name} overflows float64 at input {inputs}"
    # The value itself decides NaN against infinity; the op only words the reason.
    if math.isnan(value) and status != "undefined":
        status = "undefined"
    elif math.isinf(value) and status == "undefined":
        status = "infinite"
    return status, f"{message} [{status}]"


def needs_a_look(op: Op) -> bool:
    """Whether nodes of this op must be classified even when every number is finite."""
    return op.kink is not None or (op.edges is not None and op.convention is not None)
