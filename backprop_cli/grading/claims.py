"""Are these numbers right? Claims such as `d/dx=2.42`, graded with homework rounding."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InputError
from ..result import Result
from .report import CORRECT, INCORRECT, UNDETERMINED, Item

NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_CLAIM = re.compile(
    rf"^\s*(?:d(?:\w+)?/d(?P<var>[^\s=]+)|(?P<node>[^\s.=]+)\.(?P<kind>adjoint|value|grad))"
    rf"\s*=\s*(?P<number>{NUMBER})\s*$"
)


@dataclass(frozen=True)
class Claim:
    """`d/dx=2.42`, `h1.adjoint=48` or `h.value=12`, with the decimals the number was given to."""

    text: str
    kind: str  # "gradient" | "adjoint" | "value"
    target: str
    given: float
    decimals: int


def parse_claim(text: str) -> Claim:
    """Read one claim; a malformed claim is an InputError that shows the accepted forms."""
    match = _CLAIM.match(text)
    if not match:
        raise InputError(f"cannot read claim {text!r}; write d/dx=2.42, h1.adjoint=48 or "
                         "h.value=12")
    number_text = match["number"]
    if match["var"] is not None:
        kind, target = "gradient", match["var"]
    else:
        kind = "adjoint" if match["kind"] in ("adjoint", "grad") else "value"
        target = match["node"]
    given = float(number_text)
    if not math.isfinite(given):
        raise InputError(f"claim {text.strip()!r}: {number_text} is beyond the range of "
                         "float64 numbers")
    return Claim(text.strip(), kind, target, given, decimals(number_text))


def decimals(number_text: str) -> int:
    mantissa, _, exponent = number_text.lower().partition("e")
    fraction = mantissa.partition(".")[2]
    return len(fraction) - (int(exponent) if exponent else 0)


def accepts(true: float, given: float, decimals: int, rtol: float | None, atol: float | None
            ) -> bool:
    """Homework rounding: the true value rounds to the given one at its decimals, unless a
    tolerance is set explicitly."""
    if not math.isfinite(true):
        return False
    if rtol is not None or atol is not None:
        return math.isclose(true, given, rel_tol=rtol or 0.0, abs_tol=atol or 0.0)
    try:
        rounding = 0.5 * 10.0 ** (-decimals)
    except OverflowError:  # given to a power of ten beyond float64 ("0e400")
        rounding = math.inf
    return abs(true - given) <= rounding * (1 + 1e-9) + 1e-12 * abs(given)


def check_claims(result: Result, claims: Sequence[Claim], rtol: float | None = None,
                 atol: float | None = None) -> list[Item]:
    """One Item per claim about a computed Result."""
    gradient = dict(result.gradient)
    nodes = {node.id: node for node in result.nodes}
    items = []
    for claim in claims:
        if claim.kind == "gradient":
            if claim.target not in gradient:
                raise InputError(f"claim {claim.text!r}: {claim.target!r} is not a variable of "
                                 f"the program (variables: {', '.join(gradient) or 'none'})")
            true = gradient[claim.target]
        else:
            if claim.target not in nodes:
                raise InputError(f"claim {claim.text!r}: no node {claim.target!r} (nodes: "
                                 f"{', '.join(list(nodes)[:12])})")
            node = nodes[claim.target]
            true = node.adjoint if claim.kind == "adjoint" else node.value
            if true is None:
                true = 0.0  # a constant has no adjoint: nothing flows into it
        if not math.isfinite(true):
            items.append(Item("claim", claim.text, UNDETERMINED, given=claim.given,
                              reason="the true value is not a finite number at this point"))
            continue
        verdict = CORRECT if accepts(true, claim.given, claim.decimals, rtol, atol) else INCORRECT
        items.append(Item("claim", claim.text, verdict, expected=true, given=claim.given))
    return items
