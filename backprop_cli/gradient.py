"""The gradient of a program at a point, packaged as a Result: the engine's passes in float64,
every node's status, and the rule on every edge."""

from __future__ import annotations

from collections.abc import Mapping

from .backends import FLOAT, Backend
from .engine import compile_tape, run_forward, run_reverse, undefined_where_nan
from .errors import InputError
from .graph import Graph
from .ops import ARRAYS_ONLY_IN_GRAD, op_named
from .result import Edge, NodeResult, Result
from .rules import rule_templates
from .status import classify, needs_a_look
from .tensor_names import TENSOR_OP_NAMES, is_array


def leaf_values(graph: Graph, point: Mapping[str, object], backend: Backend = FLOAT) -> list:
    """A value list with the constants and variables filled in (op nodes still empty)."""
    if backend is FLOAT:
        values: list = [0.0] * len(graph.ids)
        for i, constant in enumerate(graph.constants):
            if constant is not None:
                if not isinstance(constant, float):
                    raise InputError(ARRAYS_ONLY_IN_GRAD)
                values[i] = constant
    else:
        values = [None] * len(graph.ids)
        for i, constant in enumerate(graph.constants):
            if constant is not None:
                values[i] = backend.constant(constant, graph.ids[i])
    ids = graph.ids
    missing = [ids[i] for i in graph.variables if ids[i] not in point]
    if missing:
        raise InputError(missing_message(*missing))
    for i in graph.variables:
        value = point[ids[i]]
        if backend is FLOAT and is_array(value):
            raise InputError(ARRAYS_ONLY_IN_GRAD)
        values[i] = value
    return values


def missing_message(*names: str) -> str:
    """Which variables have no value (all of them, in one message) and how to give them."""
    from .fallback import sympy_arities
    from .ops import WRITTEN_OTHERWISE

    if len(names) > 1:
        listed = ", ".join(repr(name) for name in names)
        given = " ".join(f"--{name} VALUE" for name in names[:3])
        return (f"missing values for variables {listed}: give them as {given}"
                f"{' ...' if len(names) > 3 else ''} or --at {names[0]}=VALUE,...")
    (name,) = names
    also = ""
    if len(name) == 1 and name in WRITTEN_OTHERWISE:  # σ(x): a letter then "(" multiplies
        also = (f"; {name}(x) is read as {name}·(x): for the function write "
                f"{WRITTEN_OTHERWISE[name]}")
    elif sympy_arities(name):
        also = f"; {name} is also a SymPy function: call it as {name}(...) to use that"
    return (f"missing value for variable {name!r}: give it as --{name} VALUE or --at "
            f"{name}=VALUE{also}")


def float_point(graph: Graph, point: Mapping[str, float]) -> list[float]:
    """Forward values of every node in float64."""
    values = leaf_values(graph, {k: float(v) for k, v in point.items()})
    return run_forward(compile_tape(graph.ops, graph.inputs, graph.output), values)


def evaluate(graph: Graph, point: Mapping[str, float], warnings: tuple[str, ...] = (),
             seed: float = 1.0) -> Result:
    """Run the forward and reverse passes in float64 and package everything as a Result;
    `seed` is the upstream gradient the backward pass starts from (dL/d output)."""
    tape = compile_tape(graph.ops, graph.inputs, graph.output)
    values = run_forward(tape, leaf_values(graph, {k: float(v) for k, v in point.items()}))
    adjoints, partials = run_reverse(undefined_where_nan(tape, values), values, graph.output,
                                     seed=seed)
    nodes, flags = node_results(graph, values, adjoints, partials)
    return Result(
        expression=graph.source,
        at=tuple((graph.ids[i], values[i]) for i in graph.variables),
        output=graph.ids[graph.output],
        value=values[graph.output],
        gradient=tuple((graph.ids[i], adjoints[i]) for i in graph.variables),
        nodes=nodes,
        warnings=tuple(warnings) + tuple(flags),
    )


def node_results(graph: Graph, values: list[float], adjoints: list[float],
                 partials: list[tuple]) -> tuple[tuple[NodeResult, ...], list[str]]:
    """Every node with its edges, rules and status; the warnings of flagged nodes."""
    ids, ops, inputs, varying, named = (graph.ids, graph.ops, graph.inputs, graph.varying,
                                        graph.named)
    formulas, patterns = graph.formulas, graph.patterns
    fanout = [0] * len(ids)
    for ins in inputs:
        for j in ins:
            fanout[j] += 1
    templates: dict[tuple, tuple] = {}
    watched: dict[str, bool] = {}
    statuses = _Statuses(graph, values, adjoints)
    nodes = []
    append = nodes.append
    for i, node_id in enumerate(ids):
        ins = inputs[i]
        value = values[i]
        status, message = "ok", None
        if ins:
            op_name = ops[i]
            pattern = patterns[i]
            key = (op_name, len(ins)) if pattern is None else (op_name, pattern)
            rules = templates.get(key)
            if rules is None:
                rules = templates[key] = rule_templates(op_name,
                                                        pattern or (None,) * len(ins))
            local = partials[i]
            names = [ids[j] for j in ins]
            edges = tuple(Edge(names[k], local[k], rules[k].format(*names)) if varying[j]
                          else Edge(names[k], None, None) for k, j in enumerate(ins))
            # _Statuses.of's cheap look, inlined: a call per node costs 10% at 10^5 nodes.
            look = watched.get(op_name)
            if look is None:
                look = watched[op_name] = needs_a_look(op_named(op_name))
            g = adjoints[i]
            finite = value - value == 0
            for d in local:
                if d - d != 0 or g * d - g * d != 0:
                    finite = False
            if look or not finite:
                status, message = statuses.classify(i, local)
        else:
            edges = ()
            if value - value != 0:
                status = "propagated"
        append(NodeResult(node_id, ops[i], formulas[i], value,
                          adjoints[i] if varying[i] else None, edges, status, message,
                          named[i], fanout[i]))
    return tuple(nodes), statuses.flags


def node_flags(graph: Graph, values: list[float], adjoints: list[float],
               partials: list[tuple]) -> list[str]:
    """The warnings of flagged nodes alone (no edges, no rule text)."""
    statuses = _Statuses(graph, values, adjoints)
    for i, ins in enumerate(graph.inputs):
        if ins:
            statuses.of(i, partials[i])
    return statuses.flags


class _Statuses:
    """Classifies nodes, looking closely only where a number is not finite or the op has
    kinks; collects one warning per flagged node."""

    def __init__(self, graph: Graph, values: list[float], adjoints: list[float]) -> None:
        self.graph, self.values, self.adjoints = graph, values, adjoints
        self.watched: dict[str, bool] = {}
        self.flags: list[str] = []

    def of(self, i: int, local: tuple) -> tuple[str, str | None]:
        """The node's status; a cheap look first, the full classification where needed."""
        graph, values = self.graph, self.values
        op_name = graph.ops[i]
        look = self.watched.get(op_name)
        if look is None:
            look = self.watched[op_name] = needs_a_look(op_named(op_name))
        value, g = values[i], self.adjoints[i]
        if not (value - value != 0 or look or any(d - d != 0 or g * d - g * d != 0
                                                   for d in local)):
            return "ok", None
        return self.classify(i, local)

    def classify(self, i: int, local: tuple) -> tuple[str, str | None]:
        """The full classification of node i, and its warning if it is flagged."""
        graph, values = self.graph, self.values
        ins = graph.inputs[i]
        status, message = classify(op_named(graph.ops[i]), values[i],
                                   [values[j] for j in ins], local, [graph.ids[j] for j in ins],
                                   [graph.varying[j] for j in ins],
                                   self.adjoints[i] if graph.varying[i] else None)
        if message is not None:
            self.flags.append(f"{graph.ids[i]} = {graph.formulas[i]}: {message}")
        return status, message


def structure(graph: Graph) -> Result:
    """The graph alone, without a point: ops, formulas and symbolic rules, no numbers."""
    ids, inputs, varying = graph.ids, graph.inputs, graph.varying
    fanout = [0] * len(ids)
    for ins in inputs:
        for j in ins:
            fanout[j] += 1
    nodes = []
    for i, node_id in enumerate(ids):
        ins = inputs[i]
        edges: tuple[Edge, ...] = ()
        if ins:
            names = [ids[j] for j in ins]
            if graph.ops[i] in TENSOR_OP_NAMES:  # its rule is the vector-Jacobian product
                from .tensor_ops import TENSOR_OPS

                texts = TENSOR_OPS[graph.ops[i]].rules(node_id, names)
                edges = tuple(Edge(names[k], None, texts[k] if varying[j] else None)
                              for k, j in enumerate(ins))
            else:
                pattern = tuple(c if c is None or isinstance(c[0], float) else None
                                for c in graph.constant_inputs(i))
                rules = rule_templates(graph.ops[i], pattern)
                edges = tuple(Edge(names[k], None, rules[k].format(*names) if varying[j]
                                   else None) for k, j in enumerate(ins))
        nodes.append(NodeResult(node_id, graph.ops[i], graph.formulas[i], None, None, edges,
                                "ok", None, graph.named[i], fanout[i]))
    return Result(expression=graph.source, at=(), output=ids[graph.output], value=None,
                  gradient=(), nodes=tuple(nodes))

