"""Forward mode: every node's tangent d node / d direction, pushed through the same local
partials the reverse pass uses, in evaluation order."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .engine import CONST, compile_tape, dependents, run_tangents, undefined_where_nan
from .errors import InputError, not_a_variable
from .gradient import evaluate
from .graph import Graph, build_graph
from .parse import Program, format_program, parse_program
from .result import SCHEMA_VERSION, nonfinite_labels, number


@dataclass(frozen=True)
class ForwardMode:
    """Every node's value and tangent d node / d direction, and the cost comparison."""

    expression: str
    at: tuple[tuple[str, float], ...]
    direction: tuple[tuple[str, float], ...]
    wrt: str | None
    output: str
    value: float
    derivative: float
    nodes: tuple[tuple[str, str, float, float], ...]  # id, formula, value, tangent
    operations: int
    inputs: int
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        from .tensor_names import is_array

        if any(is_array(v) for _, _, v, _ in self.nodes):
            return self._arrays_dict()
        document = {"schema": SCHEMA_VERSION, "ok": True, "expression": self.expression,
                    "warnings": list(self.warnings),
                    "at": {k: number(v) for k, v in self.at},
                    "wrt": self.wrt, "direction": {k: number(v) for k, v in self.direction},
                    "output": self.output, "value": number(self.value),
                    "tangents": {node_id: number(t) for node_id, _, _, t in self.nodes},
                    "derivative": number(self.derivative),
                    "cost": {"operations": self.operations, "inputs": self.inputs,
                             "forward_mode_sweeps": self.inputs, "reverse_mode_sweeps": 1}}
        labels = nonfinite_labels(value=self.value, derivative=self.derivative,
                                  tangents={node_id: t for node_id, _, _, t in self.nodes})
        if labels:
            document["nonfinite"] = labels
        return document


    def _arrays_dict(self) -> dict:
        """Over arrays: nested lists, and each node's shape."""
        from .tensor_result import array_json, nonfinite_label

        document = {"schema": SCHEMA_VERSION, "ok": True, "expression": self.expression,
                    "warnings": list(self.warnings),
                    "at": {k: array_json(v) for k, v in self.at},
                    "wrt": self.wrt, "direction": {k: array_json(v) for k, v in self.direction},
                    "output": self.output, "value": array_json(self.value),
                    "tangents": {node_id: array_json(t) for node_id, _, _, t in self.nodes},
                    "shapes": {node_id: list(getattr(v, "shape", ()))
                               for node_id, _, v, _ in self.nodes},
                    "derivative": array_json(self.derivative),
                    "cost": {"operations": self.operations, "inputs": self.inputs,
                             "forward_mode_sweeps": self.inputs, "reverse_mode_sweeps": 1}}
        labels = {node_id: found for node_id, _, _, t in self.nodes
                  if (found := nonfinite_label(t)) is not None}
        if labels:
            document["nonfinite"] = {"tangents": labels}
        return document


def forward_mode_arrays(text: str, at: Mapping, wrt: str | None,
                        direction: Mapping[str, object] | None,
                        data: frozenset[str] = frozenset()) -> ForwardMode | None:
    """Forward mode of a program over arrays (None for a scalar program): the tangent of
    every node along a direction of each variable's shape (`--wrt` a scalar variable is the
    direction 1 on it). A data set's columns are not inputs one differentiates by."""
    from .api import over_arrays, value_of

    point = {name: value_of(name, value, arrays=True) for name, value in at.items()}
    program = parse_program(text, given=frozenset(point))
    graph = build_graph(program)
    from .tensor_names import is_array

    if not over_arrays(graph, point) and not any(
            is_array(v) for v in (direction or {}).values()):
        return None
    import numpy as np

    from .tensor_engine import plain, refuse_whole_numbers, tangents, value_flags

    variables = graph.variable_names
    refuse_whole_numbers(graph, [wrt] if direction is None else direction,
                         "--wrt {name!r}" if direction is None else "--direction {name}=...")
    if direction is None and wrt is not None and "[" in wrt:  # one element: W1[0,1]
        from .step_sizes import element_target
        from .tensor_engine import whole_number_variables

        name, index = element_target(wrt, variables, point, data,
                                     whole_number_variables(graph))
        one_hot = np.zeros(np.shape(point[name]))
        one_hot[index] = 1.0
        direction = {name: one_hot}
    if direction is None:
        if wrt is not None and wrt in data:
            raise not_a_variable(wrt, [v for v in variables if v not in data], data)
        if wrt is None or wrt not in variables:
            raise InputError("give --direction NAME=VALUE,... (a direction of each variable's "
                             "shape, e.g. --direction \"W=[[1, 0]],x=[0, 1]\"), or --wrt a "
                             "scalar variable or one element (--wrt 'W[0,1]')")
        if np.ndim(point[wrt]) != 0:
            first = ",".join("0" for _ in np.shape(point[wrt]))
            raise InputError(f"--wrt {wrt!r}: {wrt!r} is an array; forward mode pushes one "
                             f"direction: give --direction \"{wrt}=[...]\" of its shape, or "
                             f"one element, --wrt '{wrt}[{first}]' (grad gives every "
                             "element's derivative at once)")
        direction = {wrt: 1.0}
    unknown = [name for name in direction if name not in variables]
    if unknown:
        raise InputError(f"direction names {unknown[0]!r}, which is not a variable of the "
                         "program")
    values, tangent = tangents(graph, point, direction)
    nodes = tuple((graph.ids[i], graph.formulas[i], plain(values[i]),
                   plain(tangent[i] if tangent[i] is not None else np.zeros(np.shape(values[i]))))
                  for i in range(len(graph.ids)) if graph.ops[i] != CONST)
    output = graph.output
    return ForwardMode(format_program(program), tuple((graph.ids[i], plain(values[i]))
                       for i in graph.variables),
                       tuple((k, plain(np.asarray(v, dtype=float)))
                             for k, v in direction.items()), wrt,
                       graph.ids[output], plain(values[output]),
                       plain(tangent[output] if tangent[output] is not None
                              else np.zeros(np.shape(values[output]))),
                       nodes, len(graph) - len(graph.variables),
                       sum(int(np.size(values[i])) for i in graph.variables
                           if graph.ids[i] not in data),
                       (*program.cautions, *value_flags(graph, values)))


def program_and_point(text: str, at: Mapping, arrays: bool = False
                      ) -> tuple[Program, Graph, dict[str, float]]:
    """The parsed program, its graph, and the point with every value read as a number (or an
    array, where `arrays`)."""
    from .api import value_of

    point = {name: value_of(name, value, arrays=arrays) for name, value in at.items()}
    program = parse_program(text, given=frozenset(point))
    return program, build_graph(program), point


def forward_mode(text: str, at: Mapping, wrt: str | None = None,
                 direction: Mapping[str, float] | None = None) -> ForwardMode:
    """d output / d wrt (or the directional derivative along `direction`) by forward mode."""
    program, graph, point = program_and_point(text, at)
    variables = graph.variable_names
    if direction is None:
        if wrt is None:
            if len(variables) != 1:
                raise InputError("give --wrt VAR (or --direction x=1,y=0.5); the program has "
                                 f"{len(variables)} variables")
            wrt = variables[0]
        if wrt not in variables:
            raise InputError(f"--wrt {wrt!r} is not a variable of the program "
                             f"(variables: {', '.join(variables) or 'none'})")
        direction = {wrt: 1.0}
    unknown = [name for name in direction if name not in variables]
    if unknown:
        raise InputError(f"direction names {unknown[0]!r}, which is not a variable of the "
                         "program")
    result = evaluate(graph, point)
    values = [node.value for node in result.nodes]
    tape = compile_tape(graph.ops, graph.inputs, graph.output)
    position = {graph.ids[i]: i for i in graph.variables}
    seeds = {position[name]: float(d) for name, d in direction.items()}
    tangent, _ = run_tangents(undefined_where_nan(tape, values), values, seeds,
                              dependents(graph.inputs, seeds))
    # Where a value is undefined, so is its tangent.
    tangent = [t if v == v else math.nan for t, v in zip(tangent, values, strict=True)]
    nodes = tuple((graph.ids[i], graph.formulas[i], values[i], tangent[i])
                  for i in range(len(graph.ids)) if graph.ops[i] != CONST)
    return ForwardMode(format_program(program), tuple((graph.ids[i], values[i])
                       for i in graph.variables),
                       tuple((k, float(v)) for k, v in direction.items()), wrt,
                       graph.ids[graph.output], values[graph.output], tangent[graph.output],
                       nodes, len(tape), len(variables), (*program.cautions, *result.warnings))
