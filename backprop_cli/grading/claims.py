"""Are these numbers right? Claims such as `d/dx=2.42`, graded with homework rounding."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..errors import InputError, did_you_mean, shortened
from ..result import Result
from .report import CORRECT, INCORRECT, UNDETERMINED, Item

NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_CLAIM = re.compile(
    rf"^\s*(?:[d∂](?P<of>\w+)?/[d∂](?P<var>[^\s=]+)"
    rf"|(?P<node>[^\s.=]+)\.(?P<kind>adjoint|value|grad))"
    rf"\s*=\s*(?:(?P<number>{NUMBER})|(?P<array>\[[-+0-9.eE,\s\[\]]*\]))\s*$"
)


QUANTITIES = ("value", "adjoint")


@dataclass(frozen=True)
class Claim:
    """`d/dx=2.42`, `h1.adjoint=48`, `h.value=12`, or `da/dz=0.42` (the local derivative of a
    node with respect to one of its inputs), with the decimals the number was given to."""

    text: str
    kind: str  # "gradient" | "adjoint" | "value" | "local"
    target: str
    given: float
    decimals: int
    of: str | None = None  # the numerator of d<of>/d<target>, when one is written


def parse_claim(text: str) -> Claim:
    """Read one claim (a typographic minus − read as -); a malformed claim is an InputError
    that shows the accepted forms."""
    match = _CLAIM.match(text.replace("\u2212", "-"))
    if not match:
        if is_blank(text):
            raise InputError(f"claim {_quoted(text)} has no number after its '='")
        quantity = re.match(r"\s*([^\s.=]+)\.(\w+)\s*=", text)
        if quantity and quantity[2] not in ("adjoint", "value", "grad"):
            raise InputError(f"cannot read claim {_quoted(text)}: {quantity[2]!r} is not a "
                             f"quantity; write {quantity[1]}.value=... or "
                             f"{quantity[1]}.adjoint=...{did_you_mean(quantity[2], QUANTITIES)}")
        comma = comma_hint(text.rpartition("=")[2]) if "=" in text else ""
        raise InputError(f"cannot read claim {_quoted(text)}{comma}; write d/dx=2.42, "
                         "h1.adjoint=48, h.value=12 or da/dz=0.42")
    if match["of"] is not None and (match["of"].isdigit() or match["var"][-1:].isdigit()
                                    and match["of"][:1].isdigit()):
        raise InputError(f"claim {_quoted(text)}: a second derivative is not a claim of a "
                         "backprop table; backprop hessian gives second derivatives")
    if match["array"] is not None:
        return _array_claim(text, match)
    number_text = match["number"]
    given = float(number_text)
    if not math.isfinite(given):
        raise InputError(f"claim {_quoted(text)}: the number is too large for a float64 number")
    if match["var"] is not None:
        return Claim(text.strip(), "gradient", match["var"], given, decimals(number_text),
                     of=match["of"])
    kind = "adjoint" if match["kind"] in ("adjoint", "grad") else "value"
    return Claim(text.strip(), kind, match["node"], given, decimals(number_text))


def is_blank(text: str) -> bool:
    """A claim left as a worksheet prints it, `dL/dx=`: a question not answered."""
    return re.fullmatch(r"\s*[^=\s]+\s*=\s*", text) is not None


def _array_claim(text: str, match) -> Claim:
    """`W1.adjoint=[[0.3008], [0.3357]]`: an array graded element by element, each number at
    the places it was written with."""
    from ..values import array_value

    numbers = re.findall(NUMBER, match["array"])
    try:
        given = array_value("the claimed array", match["array"])
    except InputError as error:
        raise InputError(f"claim {_quoted(text)}: "
                         + error.message.replace("value for 'the claimed array'",
                                                 "the claimed array")) from None
    places = tuple(decimals(number) for number in numbers)
    kind = "gradient" if match["var"] is not None else (
        "adjoint" if match["kind"] in ("adjoint", "grad") else "value")
    target = match["var"] if match["var"] is not None else match["node"]
    return Claim(text.strip(), kind, target, given, places,
                 of=match["of"] if match["var"] is not None else None)


def resolved(claim: Claim, result: Result) -> Claim:
    """`da/dz` is a local derivative when `a` is a node other than the output (a claim about
    the output, or about a name the program does not have, stays d output / dz); `dL/da`
    about an intermediate node `a` is its adjoint."""
    if claim.kind != "gradient":
        return claim
    names = {node.id for node in result.nodes}
    if claim.of is not None and claim.of != result.output and claim.of in names:
        return Claim(claim.text, "local", claim.target, claim.given, claim.decimals, of=claim.of)
    if claim.of is not None and claim.of not in names:
        # dA/dw for the statement a: a typo of a statement, not the output's gradient (read as
        # dL/dw it would clash with the student's own answer to that question)
        statements = [node.id for node in result.nodes if node.named]
        close = [name for name in statements if name.lower() == claim.of.lower()]
        if close and close[0] != result.output:
            raise InputError(f"claim {claim.text!r}: the program has no statement "
                             f"{claim.of!r}; did you mean {close[0]!r}?")
    if claim.target in names and claim.target not in dict(result.gradient):
        return Claim(claim.text, "adjoint", claim.target, claim.given, claim.decimals)
    return claim


def not_graded(text: str, error: InputError) -> Item:
    """A claim that could not be graded, as a wrong answer saying why."""
    reason = error.message.removeprefix(f"claim {text.strip()!r}: ")
    return Item("claim", text.strip(), INCORRECT, reason=f"not graded: {reason}")


def _read_as(claim: Claim, result: Result) -> str | None:
    """Where the statements are named and `dq/dw` names none of them, how it was read: as the
    gradient, `dJ/dw` being common for a loss the program calls L (and `q` maybe a typo)."""
    if claim.kind != "gradient" or claim.of is None or claim.of == result.output:
        return None
    named = [node.id for node in result.nodes if node.named]
    if result.output not in named or claim.of in {node.id for node in result.nodes}:
        return None
    return (f"read as d{result.output}/d{claim.target}: the program has no statement "
            f"{claim.of!r} (statements: {', '.join(named)})")


def true_number(claim: Claim, result: Result) -> float:
    """The true number a claim is about; an InputError when it names what the program does
    not have."""
    if claim.kind == "gradient":
        gradient = dict(result.gradient)
        if claim.target not in gradient:
            raise InputError(f"claim {claim.text!r}: {claim.target!r} is not a variable of "
                             f"the program (variables: {', '.join(gradient) or 'none'})"
                             f"{did_you_mean(claim.target, gradient)}")
        return gradient[claim.target]
    nodes = {node.id: node for node in result.nodes}
    if claim.kind == "local":
        local = statement_local(result, claim.of, claim.target)
        if local is None:
            inputs = ", ".join(statement_inputs(result, claim.of))
            raise InputError(f"claim {claim.text!r}: {claim.target!r} is not an input of "
                             f"{claim.of!r} (its inputs: {inputs or 'none'}); a local "
                             "derivative is taken with respect to a name its statement uses")
        return local
    if claim.target not in nodes:
        seen = [node.id for node in result.nodes if node.named or node.op == "var"]
        # the generated ids (z3) where they are what a reader of grad's table would name
        others = [node.id for node in result.nodes
                  if not (node.named or node.op == "var" or node.op == "const")] if (
            re.fullmatch(r"z+[0-9]+", claim.target)
            or not any(node.named for node in result.nodes)) else []
        unnamed = f"; the other nodes, as grad shows them: {', '.join(others[:12])}" + (
            ", ..." if len(others) > 12 else "") if others else ""
        raise InputError(f"claim {claim.text!r}: no node {claim.target!r} (names: "
                         f"{', '.join(seen[:12])}{unnamed})"
                         f"{did_you_mean(claim.target, seen + others)}")
    node = nodes[claim.target]
    true = node.adjoint if claim.kind == "adjoint" else node.value
    return 0.0 if true is None else true  # a constant has no adjoint: nothing flows into it


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


def comma_hint(number: str) -> str:
    """` (use a decimal point: 2.42)` for a number written with a decimal comma, else ''. A
    comma before three digits may be a thousands separator, which is not offered."""
    written = re.fullmatch(r"\s*([-+]?\d+),(\d+)\s*", number)
    return f" (use a decimal point: {written[1]}.{written[2]})" \
        if written and len(written[2]) != 3 else ""


def as_written(given: float, written: int) -> int:
    """The places a number is graded at by its own writing (no --decimals): its decimals,
    except that a whole number of one digit, 0 to 9 (`0e9` too), is read as n.0. At the
    nearest whole number `2` would accept 1.5 to 2.5, a quarter either way, and take 2 for
    2.41997 (the tanh path of x*y + tanh(x) left out) as right."""
    return 1 if written <= 0 and abs(given) < 10 else written


def places(given: float, decimals: int) -> int:
    """The decimal places a number is graded at: those written, but never coarser than its
    leading digit."""
    leading = math.floor(math.log10(abs(given))) if given else 0
    return max(decimals, -leading)


def right_to_fewer_places(true: float, given: float, written: int, asked: int | None,
                          rtol: float | None, atol: float | None) -> bool:
    """A number of at least one decimal place, right at the places it was written to, fewer
    than the places asked (2.4 for 2.41997 at 2 decimal places): a number too short, not a
    mistake in the work. Never under a tolerance, nor for a whole number (0 or 2 near the
    truth is no rounding of the work)."""
    return (asked is not None and rtol is None and atol is None and written >= 1
            and places(given, written) < places(given, asked)
            and accepts(true, given, written, None, None))


def why_not(true: float, given: float, decimals: int, rtol: float | None,
            atol: float | None) -> str:
    """Why a number was not accepted: what the true value rounds to at the places graded
    ("2.41997 rounds to 2.42 at 2 decimal places, not 2.41"), or the tolerance it is outside."""
    if rtol is not None or atol is not None:
        return (f"the true value {true:.6g} is outside the tolerance (rtol {rtol or 0:g}, atol "
                f"{atol or 0:g}) around {given:g}")
    graded = places(given, decimals)
    nearest = round(true, graded) + 0.0  # + 0.0: -0.35 rounds to 0, not to -0
    digits = max(graded, 0)
    rounded, shown = f"{nearest:.{digits}f}", f"{given + 0.0:.{digits}f}"
    # the true value to a digit more than the places graded (1.23456781, not 1.23457, rounds
    # to 1.2345678 at 7 places)
    significant = len(rounded.replace("-", "").replace(".", "").lstrip("0"))
    return (f"{true:.{min(17, max(6, significant + 1))}g} rounds to {rounded} at "
            f"{unit(graded)}, not {shown}")


def unit(graded: int) -> str:
    """What a number is graded to at `graded` places: "2 decimal places", "the nearest
    1,000"."""
    if graded >= 0:
        return f"{graded} decimal place{'s' if graded != 1 else ''}"
    return f"the nearest {10 ** -graded:,}"


def inside_statement(node) -> bool:
    """A node inside a statement: generated for part of its expression (w*x in z = w*x + b),
    neither a name the student sees nor a leaf."""
    return not node.named and node.op not in ("var", "const")


def statement_local(result: Result, of: str, wrt: str) -> float | None:
    """The local derivative of a statement's node with respect to a name its expression uses,
    the other names held fixed (dz/dw = x for z = w*x + b): the chain rule over the nodes
    generated inside the statement only. None when the statement does not use the name."""
    position = {node.id: i for i, node in enumerate(result.nodes)}
    if wrt not in position:
        return None
    inputs = [[position[edge.input] for edge in node.inputs] for node in result.nodes]
    partials = [[edge.local for edge in node.inputs] for node in result.nodes]
    inside = [inside_statement(node) for node in result.nodes]
    return local_within(inputs, partials, inside, position[of], position[wrt])


def local_within(inputs: Sequence[Sequence[int]], partials: Sequence[Sequence[float | None]],
                 inside: Sequence[bool], of: int, wrt: int) -> float | None:
    """d of / d wrt by the chain rule over the nodes `inside` of's statement only (nodes are
    numbered in topological order); None when no such path reaches wrt."""
    weight = {of: 1.0}
    total, found = 0.0, False
    pending = [of]
    while pending:
        pending.sort()
        i = pending.pop()
        w = weight.pop(i)
        for j, local in zip(inputs[i], partials[i], strict=True):
            local = math.nan if local is None else local
            if j == wrt:
                total, found = total + w * local, True
            elif inside[j]:
                if j not in weight:
                    pending.append(j)
                    weight[j] = 0.0
                weight[j] += w * local
    return total if found else None


def statement_inputs(result: Result, of: str) -> list[str]:
    """The names a statement's expression uses (its inputs, looking through generated
    nodes)."""
    nodes = {node.id: node for node in result.nodes}
    names: dict[str, None] = {}
    pending, seen = [of], {of}
    while pending:
        for edge in nodes[pending.pop()].inputs:
            if edge.input in seen:
                continue
            seen.add(edge.input)
            if inside_statement(nodes[edge.input]):
                pending.append(edge.input)
            elif nodes[edge.input].op != "const":
                names[edge.input] = None
    order = {node.id: i for i, node in enumerate(result.nodes)}
    return sorted(names, key=order.get)


def check_claims(result: Result, claims: Sequence[Claim], rtol: float | None = None,
                 atol: float | None = None, decimals: int | None = None,
                 each_alone: bool = False) -> list[Item]:
    """One Item per claim about a computed Result; `decimals` grades every number at that many
    decimal places instead of the places it was written with. A claim about what the program
    lacks is an error, or with `each_alone` an incorrect item saying why."""
    items = []
    for claim in claims:
        try:
            item = _claim_item(resolved(claim, result), result, rtol, atol, decimals)
        except InputError as error:
            if not each_alone:
                raise
            items.append(not_graded(claim.text, error))
            continue
        note = _read_as(claim, result)
        if note is not None:
            item = replace(item, reason=f"{note}; {item.reason}" if item.reason else note)
        items.append(item)
    return items


def _claim_item(claim: Claim, result: Result, rtol: float | None, atol: float | None,
                decimals: int | None) -> Item:
    """The Item of one claim, resolved (see `resolved`)."""
    if claim.kind == "local" and getattr(result, "tensors", False):
        raise InputError(f"claim {claim.text!r}: local derivatives of a statement are "
                         "claimed in scalar programs; claim the adjoint instead")
    if getattr(result, "tensors", False) and claim.kind in ("gradient", "adjoint"):
        fixed = [n for n in result.nodes if n.id == claim.target and n.op == "var"
                 and n.adjoint is None]
        if fixed:
            raise InputError(f"claim {claim.text!r}: {claim.target!r} is held fixed (a "
                             "--data column, a class, an axis or an index), so it has no "
                             "derivative")
    true = true_number(claim, result)
    about = {"quantity": claim.kind, "target": claim.target}
    if claim.kind == "local":
        about["of"] = claim.of
    if isinstance(claim.decimals, tuple) or not isinstance(true, (int, float)):
        return _array_item(claim, true, about, rtol, atol, decimals)
    if not math.isfinite(true):
        return Item("claim", claim.text, UNDETERMINED, given=claim.given,
                    reason="the true value is not a finite number at this point",
                    details=about)
    places_given = as_written(claim.given, claim.decimals) if decimals is None else decimals
    if accepts(true, claim.given, places_given, rtol, atol):
        return Item("claim", claim.text, CORRECT, expected=true, given=claim.given,
                    details=about)
    if right_to_fewer_places(true, claim.given, claim.decimals, decimals, rtol, atol):
        about["written"] = claim.decimals
    return Item("claim", claim.text, INCORRECT, expected=true, given=claim.given,
                reason=why_not(true, claim.given, places_given, rtol, atol),
                details={**about, "places": places(claim.given, places_given)})


def _array_item(claim: Claim, true, about: dict, rtol: float | None, atol: float | None,
                decimals: int | None) -> Item:
    """An array claim (or a number claimed for an array), graded element by element."""
    import numpy as np

    from ..tensor_ops import shape_text
    from ..tensor_result import array_json

    true = np.asarray(true, dtype=float)
    given = np.asarray(claim.given, dtype=float)
    details = {**about, "expected": array_json(true), "given": array_json(given)}
    if true.shape != given.shape:
        return Item("claim", claim.text, INCORRECT, reason=f"the true {claim.kind} has shape "
                    f"{shape_text(true)}, the claim {shape_text(given)}", details=details)
    if not np.all(np.isfinite(true)):
        return Item("claim", claim.text, UNDETERMINED, reason="the true value is not finite "
                    "everywhere at this point", details=details)
    written = claim.decimals if isinstance(claim.decimals, tuple) else (claim.decimals,)
    for k, index in enumerate(np.ndindex(true.shape)):
        places_given = decimals if decimals is not None else as_written(
            float(given[index]), written[min(k, len(written) - 1)])
        if not accepts(float(true[index]), float(given[index]), places_given, rtol, atol):
            where = f"element {list(index)}: " if index else ""
            return Item("claim", claim.text, INCORRECT, details=details, reason=where + why_not(
                float(true[index]), float(given[index]), places_given, rtol, atol))
    return Item("claim", claim.text, CORRECT, details=details)
