"""The output and its derivative by one variable over a range, on NumPy arrays: the engine's
forward and reverse loops with the array backend, in chunks of points."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .engine import compile_tape, run_forward, run_reverse, undefined_where_nan
from .errors import InputError
from .forward_mode import program_and_point
from .gradient import leaf_values, missing_message
from .graph import Graph
from .parse import format_program
from .result import SCHEMA_VERSION, label, number

MAX_SWEEP_POINTS = 10_000_000
CHUNK = 65_536


@dataclass(frozen=True)
class Sweep:
    """The output and its derivative by one variable over a range (NaN marks a gap)."""

    expression: str
    variable: str
    fixed: tuple[tuple[str, float], ...]
    x: object  # numpy arrays
    value: object
    derivative: object
    output: str

    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        def column(array) -> list:
            return [float(v) if math.isfinite(v) else None for v in array.tolist()]

        document = {"schema": SCHEMA_VERSION, "ok": True, "expression": self.expression,
                    "variable": self.variable, "at": {k: number(v) for k, v in self.fixed},
                    "output": self.output, "x": column(self.x), "value": column(self.value),
                    "derivative": column(self.derivative), "warnings": list(self.warnings)}
        labels = {name: [label(v) for v in array.tolist()]
                  for name, array in (("value", self.value), ("derivative", self.derivative))
                  if not all(math.isfinite(v) for v in array.tolist())}
        if labels:
            document["nonfinite"] = labels
        return document



def sweep(text: str, at: Mapping, variable: str, start: float, stop: float,
          points: int) -> Sweep:
    """Evaluate value and derivative at `points` evenly spaced values of `variable`."""
    import numpy as np

    if not 2 <= points <= MAX_SWEEP_POINTS:
        raise InputError(f"--points must be between 2 and {MAX_SWEEP_POINTS:,}")
    if not (math.isfinite(start) and math.isfinite(stop) and math.isfinite(stop - start)) \
            or start >= stop:
        raise InputError(f"the range of {variable} must go from a smaller to a larger finite "
                         f"number (got {start:g}:{stop:g})")
    program, graph, point = program_and_point(text, {**at, variable: start})
    if variable not in graph.variable_names:
        raise InputError(f"{variable!r} is not a variable of the program "
                         f"(variables: {', '.join(graph.variable_names) or 'none'})")
    missing = [name for name in graph.variable_names if name not in point]
    if missing:
        raise InputError(missing_message(missing[0]))
    with np.errstate(all="ignore"):
        xs = np.linspace(start, stop, points)
    arrays = {name: (xs if name == variable else point[name]) for name in graph.variable_names}
    value, derivative = vector_pass(graph, arrays, variable)
    fixed = tuple((name, point[name]) for name in graph.variable_names if name != variable)
    unused = tuple(f"variable {name!r} was given a value but is not used; it is ignored"
                   for name in point if name not in graph.variable_names)
    return Sweep(format_program(program), variable, fixed, xs, value, derivative,
                 graph.ids[graph.output], unused)


def vector_pass(graph: Graph, point: Mapping, wrt: str, chunk: int = CHUNK):
    """Value and d output / d wrt over NumPy arrays of points, in chunks so memory stays at
    (nodes × chunk) floats. Undefined points are NaN (IEEE), never errors."""
    import numpy as np

    from .backends import array_backend

    backend = array_backend()
    tape = compile_tape(graph.ops, graph.inputs, graph.output, backend)
    position = {graph.ids[i]: i for i in graph.variables}
    length = max(np.size(v) for v in point.values())
    value_out = np.empty(length)
    derivative_out = np.empty(length)
    with np.errstate(all="ignore"):
        for start in range(0, length, chunk):
            stop = min(start + chunk, length)
            part = {name: (np.asarray(given[start:stop], dtype=float) if np.ndim(given)
                           else np.float64(given)) for name, given in point.items()}
            values = run_forward(tape, leaf_values(graph, part, backend))
            adjoints, _ = run_reverse(undefined_where_nan(tape, values, backend), values,
                                      graph.output, keep_partials=False)
            value_out[start:stop] = np.broadcast_to(values[graph.output], (stop - start,))
            derivative = adjoints[position[wrt]] if wrt in position else 0.0
            derivative_out[start:stop] = np.broadcast_to(derivative, (stop - start,))
            # Where the value is undefined, so is its derivative.
            derivative_out[start:stop][np.isnan(value_out[start:stop])] = np.nan
    return value_out, derivative_out
