"""Finite differences against the reverse-mode derivative over step sizes h: the truncation
error of a large step (about h·f''/2 forward, h²·f'''/6 central) against the rounding error of a
small one (about ε·|f|/h, ε = 2.2e-16), which is why the error curve is a V on log-log axes
with its minimum near h = √ε ≈ 1e-8 forward and ∛ε ≈ 1e-5 central."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .errors import InputError, not_a_variable
from .result import SCHEMA_VERSION

_ELEMENT = re.compile(r"^([^\W\d]\w*)\[(.*)\]$")


@dataclass(frozen=True)
class Scheme:
    """One difference scheme over every h: the estimates, their errors, the best step."""

    name: str  # forward | central
    formula: str
    estimate: tuple[float, ...]
    error: tuple[float, ...]

    @property
    def best(self) -> int | None:
        """The index of the smallest finite error (None if no error is finite)."""
        finite = [(e, k) for k, e in enumerate(self.error) if math.isfinite(e)]
        return min(finite)[1] if finite else None


@dataclass(frozen=True)
class StepSizes:
    expression: str
    wrt: str
    at: tuple[tuple[str, object], ...]
    output: str
    value: float
    derivative: float  # reverse mode's
    h: tuple[float, ...]
    forward: Scheme
    central: Scheme
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        from .result import label, number
        from .tensor_result import array_json

        def scheme(s: Scheme) -> dict:
            best = s.best
            return {"formula": s.formula, "estimate": [number(v) for v in s.estimate],
                    "error": [number(v) for v in s.error],
                    "best_h": None if best is None else self.h[best],
                    "best_error": None if best is None else s.error[best]}

        document = {"schema": SCHEMA_VERSION, "ok": True, "expression": self.expression,
                    "wrt": self.wrt, "at": {name: array_json(v) for name, v in self.at},
                    "output": self.output, "value": number(self.value),
                    "derivative": number(self.derivative), "h": list(self.h),
                    "forward": scheme(self.forward), "central": scheme(self.central),
                    "warnings": list(self.warnings)}
        labels = {name: found for name, s in (("forward", self.forward),
                                              ("central", self.central))
                  if (found := {part: {str(k): label(v) for k, v in enumerate(values)
                                       if not math.isfinite(v)}
                                for part, values in (("estimate", s.estimate),
                                                     ("error", s.error))
                                if not all(map(math.isfinite, values))})}
        for name in ("value", "derivative"):
            if not math.isfinite(getattr(self, name)):
                labels[name] = label(getattr(self, name))
        if labels:
            document["nonfinite"] = labels
        return document


def _array_kinks(graph, point: Mapping[str, object], name: str, index: tuple) -> list[str]:
    """The same for a program over arrays: the nodes at a kink whose elements there move
    with element `index` of `name`."""
    from .tensor_engine import forward_pass, kink_status, kinks_at, moves_a_kink

    values, _ = forward_pass(graph, point)
    found = kinks_at(graph, values)
    if not found:
        return []
    moved = np.array(point[name], dtype=float)
    moved[index] += 1e-6 * max(1.0, abs(float(moved[index])))
    nearby, _ = forward_pass(graph, {**point, name: moved})
    return [f"{graph.ids[i]} = {graph.formulas[i]}: {kink_status(graph, i, values)[1]}; finite "
            "differences there give one-sided slopes (or their mean), not this derivative, at "
            "any step size" for i, mask in found
            if moves_a_kink(graph, [(i, mask)], values, nearby)]


def _kinks(graph, point: Mapping[str, object], name: str, index: tuple = ()) -> list[str]:
    """The nodes of a scalar program at a kink that the output reaches from the variable
    `name`: differences there give one-sided slopes (or their mean), never the derivative
    the convention takes, whatever the step size."""
    from .api import over_arrays
    from .engine import dependents
    from .gradient import evaluate

    if over_arrays(graph, point):
        return _array_kinks(graph, point, name, index)
    result = evaluate(graph, point)
    depends = dependents(graph.inputs, [graph.ids.index(name)])
    live = graph.live()
    return [f"{graph.ids[i]} = {graph.formula(i)}: {node.message}; finite differences there "
            "give one-sided slopes (or their mean), not this derivative, at any step size"
            for i, node in enumerate(result.nodes)
            if node.status == "kink" and depends[i] and live[i]]


def step_sizes(text: str, at: Mapping[str, object], wrt: str | None = None,
               smallest: float = 1e-16, largest: float = 1.0, per_decade: int = 4,
               data: frozenset[str] = frozenset()) -> StepSizes:
    """Forward and central differences of the output by `wrt` (a variable, or one element
    of an array such as `W[0,1]`) at every h = 10^k from `smallest` to `largest`
    (`per_decade` steps a decade), each with its error against the reverse-mode
    derivative."""
    from .api import value_of
    from .graph import build_graph
    from .parse import format_program, parse_program
    from .tensor_engine import forward_value, loss_and_gradient, whole_number_variables

    if not (0 < smallest < largest <= 1e6) or not 1 <= per_decade <= 100:
        raise InputError("the step sizes must satisfy 0 < --smallest < --largest <= 1e6, "
                         "with --per-decade from 1 to 100")
    point = {name: value_of(name, value, arrays=True) for name, value in at.items()}
    program = parse_program(text, given=frozenset(point))
    graph = build_graph(program)
    missing = [n for n in graph.variable_names if n not in point]
    if missing:
        from .gradient import missing_values

        raise missing_values(missing, point, graph.variable_names)
    name, index = element_target(wrt, graph.variable_names, point, data,
                          whole_number_variables(graph))
    value, gradient, _ = loss_and_gradient(graph, point, [name], "fd")
    derivative = float(np.asarray(gradient[name], dtype=float)[index])
    base = np.array(point[name], dtype=float)
    x = float(base[index])
    decades = math.log10(largest) - math.log10(smallest)
    count = int(round(decades * per_decade)) + 1
    hs = tuple(float(h) for h in np.logspace(math.log10(smallest), math.log10(largest), count))

    def at_x(shift: float) -> float:
        moved = base.copy()
        moved[index] = x + shift
        return forward_value(graph, {**point, name: moved if moved.ndim else float(moved)})

    with np.errstate(all="ignore"):
        ahead = [at_x(h) for h in hs]
        behind = [at_x(-h) for h in hs]
        forward = tuple((f - value) / h for f, h in zip(ahead, hs, strict=True))
        central = tuple((f - b) / (2 * h) for f, b, h in zip(ahead, behind, hs, strict=True))
    label = name if not index else f"{name}[{','.join(str(k) for k in index)}]"
    out = graph.ids[graph.output] if graph.named[graph.output] else "f"
    warnings = [*program.cautions, *_kinks(graph, point, name, index)]
    if not math.isfinite(derivative):
        warnings.append(f"the reverse-mode derivative is not finite ({derivative}); the errors "
                        "are not defined")
    warnings += _below_spacing(label, x, hs)
    return StepSizes(
        format_program(program), label,
        tuple((n, point[n]) for n in graph.variable_names if n not in data), out, value,
        derivative, hs,
        Scheme("forward", f"({out}({label} + h) - {out}({label}))/h", forward,
               tuple(abs(v - derivative) for v in forward)),
        Scheme("central", f"({out}({label} + h) - {out}({label} - h))/(2h)", central,
               tuple(abs(v - derivative) for v in central)),
        tuple(warnings))


def _below_spacing(label: str, x: float, hs: tuple[float, ...]) -> list[str]:
    """A warning where steps beyond the grid's first decade are below half the spacing of
    float64 numbers at x: x + h is x there, so their differences are 0 (the grid is absolute,
    and at |x| = 1e6 that is every step below 1.2e-10)."""
    spacing = math.ulp(x)
    lost = [h for h in hs if x + h == x]
    if not lost or (len(lost) < len(hs) and max(lost) < 10 * hs[0]):
        return []  # the grid's first decade, as at |x| near 1: the plot's own lesson
    if len(lost) == len(hs):
        return [f"every step is below the spacing of float64 numbers at {label} = {x:g} "
                f"({spacing:.3g}): {label} + h is {label} itself, so every difference is 0 and "
                "estimates nothing; give --largest beyond the spacing"]
    return [f"steps up to {max(lost):.3g} are below the spacing of float64 numbers at {label} = "
            f"{x:g} ({spacing:.3g}): {label} + h is {label} itself there, so those differences "
            "are 0"]


def element_target(wrt: str | None, variables: tuple[str, ...], point: Mapping,
            data: frozenset[str], whole: Mapping[str, str]) -> tuple[str, tuple[int, ...]]:
    """The variable and element index `--wrt` names (never a data column or one of the
    integer variables `whole`, with the op that takes each)."""
    candidates = [v for v in variables if v not in data and v not in whole]
    if wrt is None:
        if len(candidates) != 1 or np.ndim(point.get(candidates[0], 0.0)) != 0:
            raise InputError("give --wrt VAR (or an element such as --wrt 'W[0,1]'); the "
                             f"program has variables {', '.join(candidates) or 'none'}")
        return candidates[0], ()
    match = _ELEMENT.match(wrt.replace(" ", ""))
    name, index = (match.group(1), match.group(2).split(",")) if match else (wrt, ())
    if not all(re.fullmatch(r"-?\d+", k) for k in index):
        raise InputError(f"--wrt {wrt!r}: an element is named by whole-number indices, such "
                         f"as {name}[0,1] or {name}[-1]")
    index = tuple(int(k) for k in index)
    if name in whole:
        from .tensor_engine import no_derivative

        raise InputError(f"--wrt {wrt!r}: {no_derivative(name, whole[name])}")
    if name not in candidates:
        raise not_a_variable(name, candidates, data)
    shape = np.shape(point[name])
    if len(index) != len(shape) or any(not -n <= k < n for k, n in zip(index, shape,
                                                                        strict=True)):
        from .tensor_ops import shape_text

        raise InputError(f"--wrt {wrt!r}: {name!r} has shape {shape_text(point[name])}; name "
                         f"one element, e.g. {name}[{','.join('0' for _ in shape)}]"
                         if shape else f"--wrt {wrt!r}: {name!r} is a number, not an array")
    return name, tuple(k % n for k, n in zip(index, shape, strict=True))
