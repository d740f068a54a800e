"""The gradient of a program at a point, packaged as a Result: the engine's passes in float64,
every node's status, and the rule on every edge."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain

from . import fused
from .backends import FLOAT, Backend
from .engine import CONST, VAR, compile_tape, run_forward, run_reverse, undefined_where_nan
from .errors import InputError, MissingValues
from .graph import Graph
from .ops import ARRAYS_ONLY_IN_GRAD, op_named
from .result import Edge, NodeResult, Result, node_entry
from .rules import rule_templates
from .status import classify, needs_a_look
from .tensor_names import TENSOR_OP_NAMES, is_array


def leaf_values(graph: Graph, point: Mapping[str, object], backend: Backend = FLOAT) -> list:
    """A value list with the constants and variables filled in (op nodes still empty)."""
    constants = graph.constants
    if backend is FLOAT:
        values: list = [0.0] * len(graph.ids)
        for i in graph.constant_nodes:
            if not isinstance(constants[i], float):
                raise InputError(ARRAYS_ONLY_IN_GRAD)
            values[i] = constants[i]
    else:
        values = [None] * len(graph.ids)
        for i in graph.constant_nodes:
            values[i] = backend.constant(constants[i], graph.ids[i])
    ids = graph.ids
    missing = [ids[i] for i in graph.variables if ids[i] not in point]
    if missing:
        raise missing_values(missing, point, graph.variable_names)
    for i in graph.variables:
        value = point[ids[i]]
        if backend is FLOAT and is_array(value):
            raise InputError(ARRAYS_ONLY_IN_GRAD)
        values[i] = value
    return values


def missing_values(names: Sequence[str], point: Mapping[str, object],
                   variables: Iterable[str]) -> MissingValues:
    """The error for the variables `names` that have no value in `point` (all of them, in one
    message) and how to give them. A name given a value that the program does not use, and
    that looks like a missing one, is pointed out (W1 for w1, x and y for xy)."""
    used = set(variables)
    stray = [name for name in point if name not in used]
    hint = next(filter(None, (_given_instead(name, stray) for name in names)), "")
    if not hint and len(names) == 1:
        hint = _written_otherwise(names[0])
    return MissingValues(tuple(names), hint)


def _written_otherwise(name: str) -> str:
    """`σ`: σ(x) multiplies; `gamma`: also a SymPy function."""
    from .fallback import sympy_arities
    from .ops import WRITTEN_OTHERWISE

    if len(name) == 1 and name in WRITTEN_OTHERWISE:  # σ(x): a letter then "(" multiplies
        return (f"; {name}(x) is read as {name}·(x): for the function write "
                f"{WRITTEN_OTHERWISE[name]}")
    if name in ("π", "Π"):  # a Greek letter is a name like any other: the constant is pi
        return "; for the constant π write pi"
    if sympy_arities(name):
        return f"; {name} is also a SymPy function: call it as {name}(...) to use that"
    return ""


def _given_instead(name: str, given: Iterable[str]) -> str:
    """` (a value was given for W1: names are case-sensitive)` where a name given a value
    looks like `name`."""
    import difflib

    others = [other for other in given if other != name]
    same = [other for other in others if other.lower() == name.lower()]
    if same:
        return f" (a value was given for {same[0]}: names are case-sensitive)"
    factors = _product_of(name, frozenset(others))
    if factors:
        return f" (for the product write {'*'.join(factors)}: a name is one variable)"
    close = difflib.get_close_matches(name, others, n=1, cutoff=0.8)
    return f" (a value was given for {close[0]}: is it a misspelling of {name}?)" if close \
        else ""


def _product_of(name: str, given: frozenset[str]) -> list[str] | None:
    """`xy` as [x, y] where x and y were given values: a product written without `*` (the
    fewest factors; names of up to 40 characters)."""
    if len(name) > 40:
        return None
    split: list[list[str] | None] = [[]] + [None] * len(name)  # split[i]: name[:i] in factors
    for end in range(1, len(name) + 1):
        for start in range(end):
            before = split[start]
            if before is not None and name[start:end] in given and (
                    split[end] is None or len(before) + 1 < len(split[end])):
                split[end] = [*before, name[start:end]]
    found = split[-1]
    return found if found is not None and len(found) > 1 else None


def float_point(graph: Graph, point: Mapping[str, float]) -> list[float]:
    """Forward values of every node in float64."""
    values = leaf_values(graph, {k: float(v) for k, v in point.items()})
    return run_forward(compile_tape(graph.ops, graph.inputs, graph.output), values)


def evaluate(graph: Graph, point: Mapping[str, float], warnings: tuple[str, ...] = (),
             seed: float = 1.0) -> Result:
    """Run the forward and reverse passes in float64 and package everything as a Result;
    `seed` is the upstream gradient the backward pass starts from (dL/d output)."""
    point = {k: float(v) for k, v in point.items()}
    live = graph.live()
    passes = fused.plan(graph.ops, graph.inputs, live)
    done = None if passes is None else fused.run(passes, leaf_values(graph, point), graph.output,
                                                 seed)
    if done is None:  # an op of more inputs, a failed node or a NaN: the engine's own loops
        tape = compile_tape(graph.ops, graph.inputs, graph.output, live=live)
        values = run_forward(tape, leaf_values(graph, point))
        adjoints, partials = run_reverse(undefined_where_nan(tape, values), values,
                                         graph.output, seed=seed)
    else:
        values, adjoints, partials = done
    finite = all_finite(values, adjoints, partials)
    statuses, flags = node_statuses(graph, values, adjoints, partials, finite)
    return Result(
        expression=graph.source,
        at=tuple((graph.ids[i], values[i]) for i in graph.variables),
        output=graph.ids[graph.output],
        value=values[graph.output],
        gradient=tuple((graph.ids[i], adjoints[i]) for i in graph.variables),
        nodes=NodeTable(graph, values, adjoints, partials, statuses, finite),
        warnings=tuple(warnings) + tuple(flags),
    )


class NodeTable(Sequence):
    """Every node of a float64 evaluation, kept as the engine's flat lists: NodeResults are
    made when one is read, and the JSON entries are made from the lists directly (at 10^5
    nodes, NodeResults with their edges cost more than the forward and reverse passes)."""

    def __init__(self, graph: Graph, values: list[float], adjoints: list[float],
                 partials: list[tuple], statuses: dict[int, tuple[str, str | None]],
                 finite: bool = False) -> None:
        self.graph, self.values, self.adjoints = graph, values, adjoints
        self.partials, self.statuses, self.finite = partials, statuses, finite
        self._rules: dict[tuple, tuple] = {}
        self._fanout: list[int] | None = None
        self._nodes: tuple[NodeResult, ...] | None = None

    def __len__(self) -> int:
        return len(self.graph.ids)

    def __getitem__(self, index):
        return self.nodes()[index]

    def __iter__(self) -> Iterator[NodeResult]:
        return iter(self.nodes())

    def nodes(self) -> tuple[NodeResult, ...]:
        """Every node as a NodeResult, made on the first read and kept: renderers that read
        nodes (tables, explain) read each several times."""
        if self._nodes is None:
            self._nodes = tuple(map(self._node, range(len(self))))
        return self._nodes

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (NodeTable, tuple)):
            return self.nodes() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.nodes())

    def __repr__(self) -> str:
        return repr(self.nodes())

    def entries(self, start: int = 0, stop: int | None = None) -> list[dict]:
        """The JSON entries of nodes start..stop (result.node_entry), without NodeResults.
        Where every number is finite, a node without a status of its own has the plain
        entry, written here directly (a call of node_entry per node costs a third more)."""
        graph = self.graph
        ids, ops, formula, inputs, varying = (graph.ids, graph.ops, graph.formula,
                                              graph.inputs, graph.varying)
        values, adjoints, partials = self.values, self.adjoints, self.partials
        statuses, plain = self.statuses, self.finite
        rules_of, edges_of = self._rules_of, self._edges
        found: list[dict] = []
        append = found.append
        for i in range(start, len(ids) if stop is None else stop):
            ins = inputs[i]
            if not plain or i in statuses:
                status, message = statuses.get(i, ("ok", None))
                append(node_entry(ids[i], ops[i], formula(i), values[i],
                                  adjoints[i] if varying[i] else None,
                                  edges_of(i) if ins else (), status, message))
                continue
            edges = []
            if ins:
                rules = rules_of(i)
                local = partials[i]
                names = [ids[j] for j in ins]
                for k, j in enumerate(ins):
                    if varying[j]:
                        rule = rules[k]
                        edges.append({"id": names[k], "local": local[k],
                                      "rule": rule if rule.__class__ is str else
                                      _rule_from(rule, names)})
                    else:
                        edges.append({"id": names[k], "local": None, "rule": None})
            append({"id": ids[i], "op": ops[i], "expr": formula(i), "shape": [],
                    "value": values[i], "adjoint": adjoints[i] if varying[i] else None,
                    "status": "ok", "inputs": edges})
        return found

    def _node(self, i: int) -> NodeResult:
        graph = self.graph
        if self._fanout is None:
            fanout = [0] * len(graph.ids)
            for ins in graph.inputs:
                for j in ins:
                    fanout[j] += 1
            self._fanout = fanout
        edges = tuple(Edge(*edge) for edge in self._edges(i)) if graph.inputs[i] else ()
        status, message = self.statuses.get(i, ("ok", None))
        return NodeResult(graph.ids[i], graph.ops[i], graph.formulas[i], self.values[i],
                          self.adjoints[i] if graph.varying[i] else None, edges, status,
                          message, graph.named[i], self._fanout[i])

    def _rules_of(self, i: int) -> tuple:
        graph = self.graph
        return self.rule_makers(graph.ops[i], graph.patterns[i], len(graph.inputs[i]))

    def rule_makers(self, op: str, pattern: tuple | None, arity: int) -> tuple:
        """Per input of a node with this op and these constant inputs, how its rule is made
        from the input ids: the text itself, an input's position (the rule is that input's
        id), or [format template]; None for a constant input."""
        key = (op, arity) if pattern is None else (op, pattern)
        rules = self._rules.get(key)
        if rules is None:
            rules = self._rules[key] = _rule_makers(op, pattern, arity)
        return rules

    def _edges(self, i: int) -> list[tuple]:
        """(input id, local partial, rule) per input; None, None where the input is
        constant."""
        graph = self.graph
        ids, varying, ins = graph.ids, graph.varying, graph.inputs[i]
        rules = self._rules_of(i)
        local = self.partials[i]
        names = [ids[j] for j in ins]
        return [(names[k], local[k], rules[k] if rules[k].__class__ is str else
                 _rule_from(rules[k], names)) if varying[j] else (names[k], None, None)
                for k, j in enumerate(ins)]


def _rule_makers(op: str, pattern: tuple | None, arity: int) -> tuple:
    """Per input, its rule as made from the input ids: the text itself where it names none,
    the input's position where it is one input's id, else its format template (a list)."""
    makers = []
    for template in rule_templates(op, pattern or (None,) * arity):
        if template is None:  # a constant input's: never made
            makers.append(None)
            continue
        plain = template.replace("{{", "").replace("}}", "")
        if "{" not in plain:
            makers.append(template.format())
        elif template.startswith("{") and template.endswith("}") and \
                template[1:-1].isdigit():
            makers.append(int(template[1:-1]))
        else:
            makers.append([template])
    return tuple(makers)


def _rule_from(maker: int | list, names) -> str:
    """A rule from _rule_makers, made from the input ids."""
    return names[maker] if maker.__class__ is int else maker[0].format(*names)


def all_finite(values: list[float], adjoints: list[float], partials: list[tuple]) -> bool:
    """Whether every value, adjoint and partial is finite, and every adjoint × partial (the
    sums of their magnitudes bound them all; a sum that overflows only says no)."""
    total = sum(values)
    bound = sum(map(abs, adjoints)) * sum(map(abs, chain.from_iterable(partials)))
    return total - total == 0 and bound - bound == 0


def node_statuses(graph: Graph, values: list[float], adjoints: list[float],
                  partials: list[tuple], finite: bool | None = None
                  ) -> tuple[dict[int, tuple[str, str | None]], list[str]]:
    """The status of every node that is not plainly ok, and the warnings of flagged nodes.
    Where every number is finite (all_finite), only the nodes of ops with kinks need a
    look."""
    statuses = _Statuses(graph, values, adjoints)
    found: dict[int, tuple[str, str | None]] = {}
    ops = graph.ops
    if finite is None:
        finite = all_finite(values, adjoints, partials)
    if finite:
        looked = {op for op in set(ops) if op != VAR and op != CONST
                  and needs_a_look(op_named(op))}
        if looked:
            for i, op in enumerate(ops):
                if op in looked:
                    status = statuses.classify(i, partials[i])
                    if status != ("ok", None):
                        found[i] = status
        return found, statuses.flags
    for i, ins in enumerate(graph.inputs):
        if ins:
            status = statuses.of(i, partials[i])
            if status != ("ok", None):
                found[i] = status
        elif values[i] - values[i] != 0:
            found[i] = ("propagated", None)
    return found, statuses.flags


def node_flags(graph: Graph, values: list[float], adjoints: list[float],
               partials: list[tuple]) -> list[str]:
    """The warnings of flagged nodes alone (no edges, no rule text)."""
    return node_statuses(graph, values, adjoints, partials)[1]


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
            self.flags.append(f"{graph.ids[i]} = {graph.formula(i)}: {message}")
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

