"""Named misconceptions: for a wrong number, what the common backprop mistakes would have
given, computed from the graph itself, and the ones that match the student's number."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..graph import Graph

CODES = {
    "fanout_dropped": "a fan-out path was dropped",
    "fanout_overwritten": "a fan-out adjoint was overwritten instead of summed",
    "value_for_derivative": "the value was used where the derivative belongs",
    "sign_flip": "the sign is flipped",
    "missing_chain_factor": "a chain-rule factor is missing",
    "wrong_seed": "the backward pass started from the wrong seed (upstream gradient)",
    "early_rounding": "intermediate numbers were rounded too early",
}


@dataclass(frozen=True)
class Misconception:
    """A mistake that gives exactly the student's number: its code, one sentence that names
    the nodes involved, and the number the mistake gives."""

    code: str
    message: str
    would_give: float


def diagnose(graph: Graph, values: Sequence[float], adjoints: Sequence[float], seed: float,
             quantity: str, node: str, given: float, accepts: Callable[[float], bool],
             wrt: str | None = None) -> tuple[Misconception, ...]:
    """The misconceptions whose number the grader accepts as the student's `given` (and that
    differ from the true number). `quantity` is "value", "adjoint", "gradient" (node = a
    variable) or "local" (the derivative of `node` with respect to its input `wrt`)."""
    raise NotImplementedError
