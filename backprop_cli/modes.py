"""Forward mode, Jacobians and Hessians, all on the same graph and engine.

Forward mode pushes tangents through the local partials in evaluation order. A Jacobian is one
reverse sweep per output. A Hessian is reverse-over-reverse: the reverse sweep is itself written
as a program (each adjoint a sum of consumer adjoint × local rule, the rules being the op table's
own formulas), and that program is differentiated by the engine once per variable. Nothing here
uses finite differences or SymPy's derivatives.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from .engine import compile_tape, evaluate, tangents, undefined_where_nan
from .errors import BackpropError, InputError
from .graph import CONST, VAR, Graph, build_graph
from .parse import Program, Statement, format_program, parse_program
from .result import SCHEMA_VERSION, Result, number


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
        return {"schema": SCHEMA_VERSION, "ok": True, "expression": self.expression,
                "warnings": list(self.warnings),
                "at": {k: number(v) for k, v in self.at},
                "wrt": self.wrt, "direction": {k: number(v) for k, v in self.direction},
                "output": self.output, "value": number(self.value),
                "tangents": {node_id: number(t) for node_id, _, _, t in self.nodes},
                "derivative": number(self.derivative),
                "cost": {"operations": self.operations, "inputs": self.inputs,
                         "forward_mode_sweeps": self.inputs, "reverse_mode_sweeps": 1}}


def _program_and_point(text: str, at: Mapping) -> tuple[Program, Graph, dict[str, float]]:
    from .api import value_of

    point = {name: value_of(name, value) for name, value in at.items()}
    program = parse_program(text, given=frozenset(point))
    return program, build_graph(program), point


def forward_mode(text: str, at: Mapping, wrt: str | None = None,
                 direction: Mapping[str, float] | None = None) -> ForwardMode:
    """d output / d wrt (or the directional derivative along `direction`) by forward mode."""
    program, graph, point = _program_and_point(text, at)
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
    tape = compile_tape(graph)
    position = {graph.ids[i]: i for i in graph.variables}
    tangent, _ = tangents(graph, undefined_where_nan(tape, values), values,
                          {position[name]: float(d) for name, d in direction.items()})
    nodes = tuple((graph.ids[i], graph.formulas[i], values[i], tangent[i])
                  for i in range(len(graph.ids)) if graph.ops[i] != CONST)
    return ForwardMode(format_program(program), tuple((graph.ids[i], values[i])
                       for i in graph.variables),
                       tuple((k, float(v)) for k, v in direction.items()), wrt,
                       graph.ids[graph.output], values[graph.output], tangent[graph.output],
                       nodes, len(tape), len(variables), result.warnings)


@dataclass(frozen=True)
class Matrix:
    """A Jacobian or Hessian: rows by `rows`, columns by `columns`."""

    kind: str  # "jacobian" | "hessian"
    expression: str
    at: tuple[tuple[str, float], ...]
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        matrix = [[number(v) for v in row] for row in self.values]
        document = {"schema": SCHEMA_VERSION, "ok": True, "expression": self.expression,
                    "at": {k: number(v) for k, v in self.at}, "variables": list(self.columns)}
        if self.kind == "jacobian":
            document.update(outputs=list(self.rows), jacobian=matrix)
        else:
            document.update(hessian=matrix)
        document["warnings"] = list(self.warnings)
        return document


_FINAL_TUPLE = re.compile(r"[;\n]\s*\(?\s*([^\W\d]\w*(?:\s*,\s*[^\W\d]\w*)+)\s*\)?\s*$")


def jacobian(text: str, at: Mapping, outputs: list[str] | None = None) -> Matrix:
    """One reverse sweep per output. Outputs are `outputs`, else a final tuple of statement
    names (`...; a, b`), else the last statement."""
    match = _FINAL_TUPLE.search(text)
    if match is not None:
        if outputs is None:
            outputs = [name.strip() for name in match.group(1).split(",")]
        text = text[:match.start()]
    program, graph, point = _program_and_point(text, at)
    names = outputs or [graph.ids[graph.output]]
    position = {node_id: i for i, node_id in enumerate(graph.ids)}
    rows = []
    warnings: list[str] = []
    for name in names:
        if name not in position:
            raise InputError(f"output {name!r} is not a node of the program "
                             f"(statements: {', '.join(sorted(program.defined_names))})")
        result = evaluate(replace(graph, output=position[name]), point)
        rows.append(tuple(value for _, value in result.gradient))
        warnings.extend(w for w in result.warnings if w not in warnings)
    return Matrix("jacobian", format_program(program), tuple((graph.ids[i], point[graph.ids[i]])
                  for i in graph.variables), tuple(names), graph.variable_names, tuple(rows),
                  tuple(warnings))


def hessian(text: str, at: Mapping) -> Matrix:
    """Second derivatives by reverse-over-reverse on the engine."""
    program, graph, point = _program_and_point(text, at)
    if len(graph) > MAX_HESSIAN_NODES:
        raise InputError(f"hessian works on programs of up to {MAX_HESSIAN_NODES:,} nodes "
                         f"(this one has {len(graph):,}): it differentiates the reverse sweep "
                         "once per variable")
    result = evaluate(graph, point)
    live = graph.live()
    if any(live[i] and node.status in ("undefined", "infinite", "overflow", "propagated")
           for i, node in enumerate(result.nodes)):
        n = len(graph.variables)
        nan_rows = tuple((math.nan,) * n for _ in range(n))
        return Matrix("hessian", format_program(program), result.at, graph.variable_names,
                      graph.variable_names, nan_rows, result.warnings)
    adjoint_program, gradient_names = gradient_program(graph, result)
    rows = []
    for name in gradient_names:
        statements = adjoint_program.statements + (Statement(None, ("ref", name), 0),)
        second = build_graph(Program(statements, ""))
        second_result = evaluate(second, point)
        row = dict(second_result.gradient)
        rows.append(tuple(row.get(v, 0.0) for v in graph.variable_names))
    return Matrix("hessian", format_program(program), result.at, graph.variable_names,
                  graph.variable_names, tuple(rows), result.warnings)


def gradient_program(graph: Graph, result: Result) -> tuple[Program, list[str]]:
    """The reverse sweep written as a program over the original nodes.

    Statement names are chosen outside the language (`∂z3`), so they cannot collide with the
    user's. A rule the language cannot express (relu's step, max's selector) is constant
    almost everywhere and enters as its value at the point."""
    live = graph.live()
    statements: list[Statement] = []
    for i, op in enumerate(graph.ops):
        if op in (VAR, CONST):
            continue
        args = tuple(_leaf(graph, j) for j in graph.inputs[i])
        tree = (op, *args) if op in ("add", "sub", "mul", "div", "pow", "neg") else (
            ("call", op, args) if op != "id" else args[0])
        statements.append(Statement(graph.ids[i], tree, 0))
    adjoint_terms: dict[int, list[tuple]] = {}
    for i in range(len(graph.ids) - 1, -1, -1):
        if not live[i] or not graph.inputs[i]:
            continue
        upstream = ("const", 1.0, "1") if i == graph.output else _adjoint_ref(graph, i,
                                                                                  adjoint_terms)
        if upstream is None:
            continue
        node = result.nodes[i]
        for j, edge in zip(graph.inputs[i], node.inputs, strict=True):
            if not graph.varying[j]:
                continue
            adjoint_terms.setdefault(j, []).append(("mul", upstream, _rule_tree(graph, edge)))
    names = []
    for i in range(len(graph.ids) - 1, -1, -1):
        if i in adjoint_terms:
            terms = adjoint_terms[i]
            tree = terms[0]
            for term in terms[1:]:
                tree = ("add", tree, term)
            statements.append(Statement(_adjoint_name(graph, i), tree, 0))
    for i in graph.variables:
        if i not in adjoint_terms:
            statements.append(Statement(_adjoint_name(graph, i), ("const", 0.0, "0"), 0))
        names.append(_adjoint_name(graph, i))
    # Forward statements come first, then adjoints from the output back: each after its inputs.
    return Program(tuple(statements), ""), names


def _adjoint_name(graph: Graph, i: int) -> str:
    return "∂" + graph.ids[i]


def _adjoint_ref(graph: Graph, i: int, terms: dict) -> tuple | None:
    return ("ref", _adjoint_name(graph, i)) if i in terms else None


def _leaf(graph: Graph, j: int) -> tuple:
    op = graph.ops[j]
    if op == VAR:
        return ("var", graph.ids[j])
    if op == CONST:
        return ("const", graph.constants[j], graph.ids[j])
    return ("ref", graph.ids[j])


def _rule_tree(graph: Graph, edge) -> tuple:
    ids = set(graph.ids)
    try:
        rule = parse_program(edge.rule, given=frozenset(ids)).statements[0].tree
    except BackpropError:
        return ("const", edge.local if edge.local is not None else math.nan, repr(edge.local))
    return _refs(rule, graph)


def _refs(tree: tuple, graph: Graph) -> tuple:
    """Names in a rule are the original nodes: variables stay variables, the rest are refs."""
    variables = set(graph.variable_names)
    constants = {graph.ids[j]: j for j in range(len(graph.ids)) if graph.ops[j] == CONST}
    out: list = []
    stack: list = [(tree, False)]
    while stack:
        node, done = stack.pop()
        kind = node[0]
        if kind in ("var", "ref"):
            name = node[1]
            if name in constants:
                out.append(_leaf(graph, constants[name]))
            else:
                out.append(("var", name) if name in variables else ("ref", name))
        elif kind == "const":
            out.append(node)
        elif not done:
            stack.append((node, True))
            children = node[2] if kind == "call" else node[1:]
            stack.extend((child, False) for child in reversed(children))
        else:
            children = node[2] if kind == "call" else node[1:]
            args = out[len(out) - len(children):]
            del out[len(out) - len(children):]
            out.append(("call", node[1], tuple(args)) if kind == "call" else (kind, *args))
    return out[0]


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

    def to_dict(self) -> dict:
        def column(array) -> list:
            return [float(v) if math.isfinite(v) else None for v in array.tolist()]

        return {"schema": SCHEMA_VERSION, "ok": True, "expression": self.expression,
                "variable": self.variable, "at": {k: number(v) for k, v in self.fixed},
                "output": self.output, "x": column(self.x), "value": column(self.value),
                "derivative": column(self.derivative)}


MAX_SWEEP_POINTS = 10_000_000
MAX_HESSIAN_NODES = 5_000


def sweep(text: str, at: Mapping, variable: str, start: float, stop: float,
          points: int) -> Sweep:
    """Evaluate value and derivative at `points` evenly spaced values of `variable`, over
    NumPy arrays (vectorised forward and reverse passes)."""
    import numpy as np

    from .engine import vector_pass

    if not 2 <= points <= MAX_SWEEP_POINTS:
        raise InputError(f"--points must be between 2 and {MAX_SWEEP_POINTS:,}")
    if not (math.isfinite(start) and math.isfinite(stop) and math.isfinite(stop - start)) \
            or start >= stop:
        raise InputError(f"the range of {variable} must go from a smaller to a larger finite "
                         f"number (got {start:g}:{stop:g})")
    program, graph, point = _program_and_point(text, {**at, variable: start})
    if variable not in graph.variable_names:
        raise InputError(f"{variable!r} is not a variable of the program "
                         f"(variables: {', '.join(graph.variable_names) or 'none'})")
    with np.errstate(all="ignore"):
        xs = np.linspace(start, stop, points)
    arrays = {name: (xs if name == variable else point[name]) for name in graph.variable_names}
    value, derivative = vector_pass(graph, arrays, variable)
    fixed = tuple((name, point[name]) for name in graph.variable_names if name != variable)
    return Sweep(format_program(program), variable, fixed, xs, value, derivative,
                 graph.ids[graph.output])
