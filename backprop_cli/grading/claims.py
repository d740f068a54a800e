"""Are these numbers right? Claims such as `d/dx=2.42`, graded with homework rounding."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InputError, shortened
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
        raise InputError(f"cannot read claim {_quoted(text)}; write d/dx=2.42, h1.adjoint=48 or "
                         "h.value=12")
    number_text = match["number"]
    given = float(number_text)
    if not math.isfinite(given):
        raise InputError(f"claim {_quoted(text)}: the number is too large for a float64 number")
    if match["var"] is not None:
        kind, target = "gradient", match["var"]
    else:
        kind = "adjoint" if match["kind"] in ("adjoint", "grad") else "value"
        target = match["node"]
    return Claim(text.strip(), kind, target, given, decimals(number_text))


def _quoted(text: str) -> str:
    return repr(shortened(text, 60))


def decimals(number_text: str) -> int:
    """The decimal places a number was written to (negative for `5e3`). An exponent too long
    to be meaningful is clamped, never converted in full."""
    mantissa, _, exponent = number_text.lower().partition("e")
    fraction = mantissa.partition(".")[2]
    if len(exponent.lstrip("+-")) > 6:
        exponent = "-999999" if exponent.startswith("-") else "999999"
    return len(fraction) - (int(exponent) if exponent else 0)


def accepts(true: float, given: float, decimals: int, rtol: float | None, atol: float | None
            ) -> bool:
    """Homework rounding: the true value rounds to the given one at its decimals, unless a
    tolerance is set explicitly."""
    if not (math.isfinite(true) and math.isfinite(given)):
        return False
    if rtol is not None or atol is not None:
        return math.isclose(true, given, rel_tol=rtol or 0.0, abs_tol=atol or 0.0)
    # A written exponent may make the unit coarse (5e3: thousands) but never coarser than the
    # number's own leading digit: `0e999` would otherwise accept anything.
    half_unit = 0.5 * 10.0 ** -places(given, decimals)
    return abs(true - given) <= half_unit * (1 + 1e-9) + 1e-12 * abs(given)


def places(given: float, decimals: int) -> int:
    """The decimal places a number is graded at: those written, but never coarser than its
    leading digit."""
    leading = math.floor(math.log10(abs(given))) if given else 0
    return max(decimals, -leading)


def why_not(true: float, given: float, decimals: int, rtol: float | None,
            atol: float | None) -> str:
    """Why a number was not accepted: what the true value rounds to at the places graded
    ("2.41997 rounds to 2.42 at 2 decimal places, not 2.41"), or the tolerance it is outside."""
    if rtol is not None or atol is not None:
        return (f"the true value {true:.6g} is outside the tolerance (rtol {rtol or 0:g}, atol "
                f"{atol or 0:g}) around {given:g}")
    graded = places(given, decimals)
    if graded >= 0:
        rounded, shown = f"{true:.{graded}f}", f"{given:.{graded}f}"
        unit = f"{graded} decimal place{'s' if graded != 1 else ''}"
    else:
        rounded, shown = f"{round(true, graded):.0f}", f"{given:.0f}"
        unit = f"the nearest {10 ** -graded:,}"
    return f"{true:.6g} rounds to {rounded} at {unit}, not {shown}"


def check_claims(result: Result, claims: Sequence[Claim], rtol: float | None = None,
                 atol: float | None = None, decimals: int | None = None) -> list[Item]:
    """One Item per claim about a computed Result; `decimals` grades every number at that many
    decimal places instead of the places it was written with."""
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
        places_given = claim.decimals if decimals is None else decimals
        if accepts(true, claim.given, places_given, rtol, atol):
            items.append(Item("claim", claim.text, CORRECT, expected=true, given=claim.given))
        else:
            items.append(Item("claim", claim.text, INCORRECT, expected=true, given=claim.given,
                              reason=why_not(true, claim.given, places_given, rtol, atol)))
    return items
