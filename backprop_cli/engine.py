"""Forward values, per-edge local partials and reverse accumulation of adjoints.

The engine is pure and iterative: it reads a Graph and a point and returns a new Result. The hot
loops run over flat lists indexed by node number (a tape), with one function call per node and
no per-node dict lookups.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .errors import InputError
from .graph import CONST, VAR, Graph, op_of
from .ops import UNEVALUABLE_RULE, UNKNOWN_RULE
from .result import Edge, NodeResult, Result

_ARITHMETIC = (ArithmeticError, ValueError, TypeError)


# Arity codes of nodes the output does not depend on: partials are computed, not accumulated.
_DEAD = {1: -1, 2: -2, 0: -3}


def compile_tape(graph: Graph) -> list[tuple]:
    """One entry per op node: (node, arity code, forward, partial, first input, second, all).

    The arity code is 1 or 2 for unary and binary ops and 0 for n-ary ones; nodes that do not
    reach the output get their own code so the backward loop never tests liveness.
    """
    live = graph.live()
    tape = []
    for i, op_name in enumerate(graph.ops):
        if op_name == VAR or op_name == CONST:
            continue
        op = op_of(op_name)
        ins = graph.inputs[i]
        code = 0 if op.is_variadic else op.arity
        if not live[i]:
            code = _DEAD[code]
        first = ins[0]
        second = ins[1] if len(ins) > 1 else -1
        tape.append((i, code, op.forward, op.partial, first, second, ins))
    return tape


def forward(graph: Graph, tape: list[tuple], point: Mapping[str, float]) -> list[float]:
    """Forward values of every node, in float64."""
    values = [0.0] * len(graph.ids)
    for i, constant in enumerate(graph.constants):
        if constant is not None:
            values[i] = constant
    ids = graph.ids
    for i in graph.variables:
        try:
            values[i] = float(point[ids[i]])
        except KeyError:
            raise InputError(_missing_message(ids[i])) from None
    for i, code, fwd, _, a, b, ins in tape:
        try:
            if code == 1:
                values[i] = fwd(values[a])
            elif code == 2:
                values[i] = fwd(values[a], values[b])
            else:
                values[i] = fwd(*[values[j] for j in ins])
        except _ARITHMETIC:
            values[i] = math.nan
    return values


def _missing_message(name: str) -> str:
    from .ops import sympy_arities

    also = (f"; {name} is also a SymPy function: call it as {name}(...) to use that"
            if sympy_arities(name) else "")
    return (f"missing value for variable {name!r}: give it as --{name} VALUE or --at "
            f"{name}=VALUE{also}")


def backward(graph: Graph, tape: list[tuple], values: list[float]
             ) -> tuple[list[float], list[tuple]]:
    """Local partials on every edge and adjoints of every node (d output / d node)."""
    adjoints = [0.0] * len(values)
    adjoints[graph.output] = 1.0
    locals_: list[tuple] = [()] * len(values)
    for i, code, _, partial, a, b, ins in reversed(tape):
        try:
            if code == 1:
                d = partial(values[a], values[i])
                locals_[i] = (d,)
                adjoints[a] += adjoints[i] * d
            elif code == 2:
                locals_[i] = local = partial(values[a], values[b], values[i])
                g = adjoints[i]
                adjoints[a] += g * local[0]
                adjoints[b] += g * local[1]
            else:
                locals_[i] = local = _partials(code, partial, ins, values, i)
                if code == 0:
                    g = adjoints[i]
                    for j, d in zip(ins, local, strict=True):
                        adjoints[j] += g * d
        except _ARITHMETIC:
            _undefined_partials(code, i, ins, adjoints, locals_)
    return adjoints, locals_


def _partials(code: int, partial, ins: tuple[int, ...], values: list[float], i: int) -> tuple:
    if code == -1:
        return (partial(values[ins[0]], values[i]),)
    if code == -2:
        return partial(values[ins[0]], values[ins[1]], values[i])
    return partial(tuple(values[j] for j in ins), values[i])


def _undefined_partials(code: int, i: int, ins: tuple[int, ...], adjoints: list[float],
                        locals_: list[tuple]) -> None:
    """A partial that raised is NaN, and so is every adjoint it feeds (IEEE semantics)."""
    locals_[i] = (math.nan,) * len(ins)
    if code >= 0:
        for j in ins:
            adjoints[j] += adjoints[i] * math.nan


def evaluate(graph: Graph, point: Mapping[str, float], warnings: tuple[str, ...] = ()) -> Result:
    """Run forward and backward passes and package everything as a Result."""
    tape = compile_tape(graph)
    values = forward(graph, tape, point)
    adjoints, locals_ = backward(graph, undefined_where_nan(tape, values), values)
    nodes, flags = _node_results(graph, values, adjoints, locals_)
    return Result(
        expression=graph.source,
        at=tuple((graph.ids[i], values[i]) for i in graph.variables),
        output=graph.ids[graph.output],
        value=values[graph.output],
        gradient=tuple((graph.ids[i], adjoints[i]) for i in graph.variables),
        nodes=nodes,
        warnings=tuple(warnings) + tuple(flags),
    )


def undefined_where_nan(tape: list[tuple], values: list[float]) -> list[tuple]:
    """Where a node's value is undefined (NaN) so is its derivative: a partial such as
    d log(a)/da = 1/a must not report a finite slope at a = -1."""
    if all(v == v for v in values):
        return tape
    return [entry if values[entry[0]] == values[entry[0]]
            else entry[:3] + (_NAN_PARTIALS[entry[1]],) + entry[4:] for entry in tape]


_NAN_PARTIALS = {
    1: lambda a, out: math.nan, -1: lambda a, out: math.nan,
    2: lambda a, b, out: (math.nan, math.nan), -2: lambda a, b, out: (math.nan, math.nan),
    0: lambda args, out: (math.nan,) * len(args), -3: lambda args, out: (math.nan,) * len(args),
}


def _node_results(graph: Graph, values: list[float], adjoints: list[float],
                  locals_: list[tuple]) -> tuple[tuple[NodeResult, ...], list[str]]:
    ids, ops, inputs, varying, named = (graph.ids, graph.ops, graph.inputs, graph.varying,
                                        graph.named)
    formulas = graph.formulas
    fanout = [0] * len(ids)
    for ins in inputs:
        for j in ins:
            fanout[j] += 1
    rule_makers: dict[str, object] = {}
    watched = _watched_ops(graph)
    nodes = []
    flags = []
    for i, node_id in enumerate(ids):
        ins = inputs[i]
        value = values[i]
        status, message = "ok", None
        if ins:
            op_name = ops[i]
            rule = rule_makers.get(op_name)
            if rule is None:
                rule = rule_makers[op_name] = _rule_maker(op_of(op_name), graph.constants)
            local = locals_[i]
            names = [ids[j] for j in ins]
            edges = tuple(Edge(names[k], local[k], rule(k, names, ins)) if varying[j]
                          else Edge(names[k], None, None) for k, j in enumerate(ins))
            g = adjoints[i]
            if value - value != 0 or op_name in watched or any(
                    d - d != 0 or g * d - g * d != 0 for d in local):
                status, message = _status(op_name, value, [values[j] for j in ins], edges,
                                          adjoints[i] if varying[i] else None)
                if message is not None:
                    flags.append(f"{node_id} = {formulas[i]}: {message}")
        else:
            edges = ()
            if value - value != 0:
                status = "propagated"
        nodes.append(NodeResult(node_id, ops[i], formulas[i], value,
                                adjoints[i] if varying[i] else None, edges, status, message,
                                named[i], fanout[i]))
    return tuple(nodes), flags


def _watched_ops(graph: Graph) -> set[str]:
    """Ops whose nodes must be looked at even when every number is finite (kinks)."""
    return {name for name in set(graph.ops) if name not in (VAR, CONST)
            and op_of(name).kink is not None}


def _rule_maker(op, constants: tuple[float | None, ...]):
    """A function (input index, input ids, input nodes) -> the symbolic local partial."""
    if op.rule_reads_constants:
        return lambda k, names, ins: op.render_rule(k, names, [constants[j] for j in ins])
    if op.is_variadic:
        template = op.rules[0]
        return lambda k, names, ins: template.format(names[k], op.name)
    templates = op.rules
    return lambda k, names, ins: templates[k].format(*names)


def _status(op_name: str, value: float, args: list[float], edges: tuple[Edge, ...],
            adjoint: float | None = None) -> tuple[str, str | None]:
    """Classify a node: ok, kink, or the reason its value or a partial is not finite."""
    op = op_of(op_name)
    if not math.isfinite(value):
        if not all(math.isfinite(a) for a in args):
            return "propagated", None
        inputs = ", ".join(f"{a:.6g}" for a in args)
        if op.explain is not None:
            status, message = op.explain(*args)
        elif math.isnan(value):
            status, message = "undefined", f"{op_name} is undefined at input {inputs}"
        elif all(abs(a) < 100 for a in args):
            status, message = "infinite", f"{op_name} has a pole at input {inputs}"
        else:
            status, message = "overflow", f"{op_name} overflows float64 at input {inputs}"
        # The value itself decides NaN against infinity; the op only words the reason.
        if math.isnan(value) and status != "undefined":
            status = "undefined"
        elif math.isinf(value) and status == "undefined":
            status = "infinite"
        return status, f"{message} [{status}]"
    if op.kink is not None:
        note = op.kink(*args)
        if note is not None:
            return "kink", f"kink: {note}"
    for edge in edges:
        if edge.local is not None and not math.isfinite(edge.local):
            if not all(math.isfinite(a) for a in args):
                return "propagated", None
            if edge.rule == UNKNOWN_RULE:
                reason = f"SymPy knows no derivative of {op_name} with respect to {edge.input}"
            elif edge.rule == UNEVALUABLE_RULE:
                reason = (f"SymPy's derivative of {op_name} with respect to {edge.input} cannot "
                          "be evaluated numerically")
            else:
                kind = "nan" if math.isnan(edge.local) else "infinite"
                reason = f"derivative with respect to {edge.input} is {kind} here"
            return "nondifferentiable", f"{reason} [nondifferentiable]"
    if adjoint is not None and math.isfinite(adjoint):
        for edge in edges:
            if edge.local is not None and not math.isfinite(adjoint * edge.local):
                return "overflow", (f"the adjoint passed to {edge.input} ({adjoint:.6g} × "
                                    f"{edge.local:.6g}) overflows float64 [overflow]")
    return "ok", None


def structure(graph: Graph) -> Result:
    """The graph alone, without a point: ops, formulas and symbolic rules, no numbers."""
    ids, inputs, varying = graph.ids, graph.inputs, graph.varying
    fanout = [0] * len(ids)
    for ins in inputs:
        for j in ins:
            fanout[j] += 1
    rule_makers: dict[str, object] = {}
    nodes = []
    for i, node_id in enumerate(ids):
        ins = inputs[i]
        edges: tuple[Edge, ...] = ()
        if ins:
            op_name = graph.ops[i]
            rule = rule_makers.get(op_name)
            if rule is None:
                rule = rule_makers[op_name] = _rule_maker(op_of(op_name), graph.constants)
            names = [ids[j] for j in ins]
            edges = tuple(Edge(names[k], None, rule(k, names, ins) if varying[j] else None)
                          for k, j in enumerate(ins))
        nodes.append(NodeResult(node_id, graph.ops[i], graph.formulas[i], None, None, edges,
                                "ok", None, graph.named[i], fanout[i]))
    return Result(expression=graph.source, at=(), output=ids[graph.output], value=None,
                  gradient=(), nodes=tuple(nodes))


def tangents(graph: Graph, tape: list[tuple], values: list[float],
             seed: Mapping[int, float]) -> tuple[list[float], list[tuple]]:
    """Forward mode: d node / d direction for every node, from the seed tangents of the
    inputs, by the same local partials the reverse pass uses (one sweep per direction)."""
    tangent = [0.0] * len(values)
    for i, t in seed.items():
        tangent[i] = t
    varying = graph.varying
    locals_: list[tuple] = [()] * len(values)
    for i, code, _, partial, a, b, ins in tape:
        try:
            # An input that depends on no variable carries no tangent, whatever its partial
            # (x**2 at x < 0 has d/d(exponent) = NaN, which must not leak in as NaN * 0).
            if code in (1, -1):
                d = partial(values[a], values[i])
                locals_[i] = (d,)
                tangent[i] = d * tangent[a] if varying[a] else 0.0
            elif code in (2, -2):
                locals_[i] = local = partial(values[a], values[b], values[i])
                tangent[i] = ((local[0] * tangent[a] if varying[a] else 0.0)
                              + (local[1] * tangent[b] if varying[b] else 0.0))
            else:
                locals_[i] = local = partial(tuple(values[j] for j in ins), values[i])
                tangent[i] = sum(d * tangent[j] for j, d in zip(ins, local, strict=True)
                                 if varying[j])
        except _ARITHMETIC:
            locals_[i] = (math.nan,) * len(ins)
            tangent[i] = math.nan
    return tangent, locals_


def vector_pass(graph: Graph, point: Mapping, wrt: str, chunk: int = 65_536):
    """Value and d output / d wrt over NumPy arrays of points, in chunks so memory stays at
    (nodes × chunk) floats. Undefined points are NaN (IEEE), never errors."""
    import numpy as np

    from .ops import vector_form

    position = {graph.ids[i]: i for i in graph.variables}
    length = max(np.size(v) for v in point.values())
    live = graph.live()
    steps = [(i, *vector_form(op), graph.inputs[i], op_of(op).is_variadic)
             for i, op in enumerate(graph.ops) if op != VAR and op != CONST and live[i]]
    value_out = np.empty(length)
    derivative_out = np.empty(length)
    with np.errstate(all="ignore"):
        for start in range(0, length, chunk):
            stop = min(start + chunk, length)
            values: list = [None] * len(graph.ids)
            for i, constant in enumerate(graph.constants):
                if constant is not None:
                    values[i] = np.float64(constant)
            for name, i in position.items():
                given = point[name]
                values[i] = given[start:stop] if np.ndim(given) else np.float64(given)
            for i, fwd, _, ins, _ in steps:
                values[i] = fwd(*[values[j] for j in ins])
            adjoints: list = [0.0] * len(graph.ids)
            adjoints[graph.output] = np.ones(stop - start)
            for i, _, partial, ins, variadic in reversed(steps):
                args = [values[j] for j in ins]
                if variadic:
                    local = partial(args, values[i])
                elif len(ins) == 1:
                    local = (partial(args[0], values[i]),)
                else:
                    local = partial(args[0], args[1], values[i])
                g = adjoints[i]
                for j, d in zip(ins, local, strict=True):
                    if graph.varying[j]:
                        adjoints[j] = adjoints[j] + g * d
            value_out[start:stop] = np.broadcast_to(values[graph.output], (stop - start,))
            derivative = adjoints[position[wrt]] if wrt in position else 0.0
            derivative_out[start:stop] = np.broadcast_to(derivative, (stop - start,))
            # Where the value is undefined, so is its derivative.
            derivative_out[start:stop][np.isnan(value_out[start:stop])] = np.nan
    return value_out, derivative_out
