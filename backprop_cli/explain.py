"""The chain rule step by step, derived from the same Result that `grad` prints.

An Explanation is the evaluation trace (Wengert list), the forward sweep with numbers
substituted, the reverse sweep with every adjoint written as a sum over the node's consumers,
and the gradient. Renderers (render/explain_*.py) only lay it out, so the steps can never
disagree with the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError
from .printing import format_number, substitute
from .result import NodeResult, Result
from .rules import formula_tree, rule_tree


@dataclass(frozen=True)
class ForwardStep:
    """`node = formula = formula with numbers = value`; both formulas are expression trees."""

    node: str
    op: str
    formula: tuple
    substituted: tuple
    value: float | None
    status: str


@dataclass(frozen=True)
class Term:
    """One path into an adjoint: consumer's adjoint × ∂consumer/∂node (the rule as a tree)."""

    consumer: str
    rule: tuple | None
    consumer_adjoint: float | None
    local: float | None
    position: int = 1  # which of the consumer's arguments the node is, counted from 1

    def argument(self, terms: tuple[Term, ...], form: str = " (argument {})") -> str:
        """`form` with the argument's number where the consumer takes the node more than
        once (u = x*x has two partials written ∂u/∂x), as grad's table labels its edges;
        else ''."""
        repeated = sum(1 for term in terms if term.consumer == self.consumer) > 1
        return form.format(self.position) if repeated else ""


@dataclass(frozen=True)
class ReverseStep:
    """`nodē = Σ consumer̄ · ∂consumer/∂node`, or the seed 1 for the output."""

    node: str
    terms: tuple[Term, ...]
    adjoint: float | None
    seed: bool


@dataclass(frozen=True)
class Explanation:
    """Everything explain shows, in order."""

    expression: str
    at: tuple[tuple[str, float], ...]
    output: str
    value: float | None
    inputs: tuple[tuple[str, str], ...]  # (id, "variable" | "constant")
    forward: tuple[ForwardStep, ...]
    reverse: tuple[ReverseStep, ...]
    gradient: tuple[tuple[str, float], ...]
    wrt: str | None
    warnings: tuple[str, ...]


def explain(result: Result, wrt: str | None = None, digits: int = 6) -> Explanation:
    """Build the explanation of a Result; `wrt` limits the reverse sweep to paths to it."""
    nodes = result.nodes
    variables = [name for name, _ in result.gradient]
    if not variables:
        raise InputError("the program has no variables: there is no chain rule to write out "
                         "(backprop grad shows its value)")
    if wrt is not None and wrt not in variables:
        raise InputError(f"--wrt {wrt!r} is not a variable of the program "
                         f"(variables: {', '.join(variables) or 'none'})")
    by_id = {node.id: node for node in nodes}
    forward = tuple(_forward_step(node, by_id, digits) for node in nodes if node.inputs)
    relevant = _on_paths(nodes, wrt, result.output) if wrt is not None else None
    reverse = tuple(_reverse_steps(nodes, by_id, result.output, relevant))
    gradient = tuple((name, value) for name, value in result.gradient
                     if wrt is None or name == wrt)
    inputs = tuple((node.id, "variable" if node.op == "var" else "constant")
                   for node in nodes if not node.inputs)
    return Explanation(result.parsed or result.expression.strip(), result.at, result.output,
                       result.value, inputs, forward, reverse, gradient, wrt,
                       (*result.warnings, *_undefined_partials(reverse, by_id)))


def _undefined_partials(reverse: tuple[ReverseStep, ...], by_id: dict[str, NodeResult]
                        ) -> tuple[str, ...]:
    """A note where a partial is not a number because its node's value is not (the sweep
    writes `1·nan` beside a rule of 1): an undefined node passes nan to all its inputs."""
    for step in reverse:
        for term in step.terms:
            consumer = by_id[term.consumer]
            if _is_nan(term.local) and _is_nan(consumer.value):
                return (f"{term.consumer} is not a number, so every partial of it is taken as "
                        f"not a number too (∂{term.consumer}/∂{step.node} is nan, whatever its "
                        "rule gives): the adjoints it passes back are nan",)
    return ()


def _is_nan(value) -> bool:
    return isinstance(value, float) and value != value


def constants_of(node: NodeResult, by_id: dict[str, NodeResult]) -> tuple:
    """Which of a node's inputs are constants, with their values (the formulas print them)."""
    return tuple((by_id[e.input].value, e.input) if by_id[e.input].op == "const" else None
                 for e in node.inputs)


def _forward_step(node: NodeResult, by_id: dict[str, NodeResult], digits: int) -> ForwardStep:
    ids = [edge.input for edge in node.inputs]
    formula = formula_tree(node.op, ids, constants_of(node, by_id))
    numbers = {node_id: ("const", by_id[node_id].value,
                         format_number(by_id[node_id].value, digits)) for node_id in ids}
    return ForwardStep(node.id, node.op, formula, substitute(formula, numbers), node.value,
                       node.status)


def _reverse_steps(nodes: tuple[NodeResult, ...], by_id: dict[str, NodeResult], output: str,
                   relevant: set[str] | None):
    consumers: dict[str, list[Term]] = {}
    for node in nodes:
        ids = [edge.input for edge in node.inputs]
        pattern = constants_of(node, by_id)
        for k, edge in enumerate(node.inputs):
            if edge.rule is not None:
                consumers.setdefault(edge.input, []).append(
                    Term(node.id, rule_tree(node.op, k, ids, pattern), node.adjoint,
                         edge.local, k + 1))
    live = _ancestors(nodes, output)
    for node in reversed(nodes):
        if node.adjoint is None or node.id not in live:
            continue
        if relevant is not None and node.id not in relevant:
            continue
        terms = tuple(term for term in consumers.get(node.id, []) if term.consumer in live)
        yield ReverseStep(node.id, terms, node.adjoint, node.id == output)


def _ancestors(nodes: tuple[NodeResult, ...], output: str) -> set[str]:
    by_id = {node.id: node for node in nodes}
    seen = {output}
    stack = [output]
    while stack:
        for edge in by_id[stack.pop()].inputs:
            if edge.input not in seen:
                seen.add(edge.input)
                stack.append(edge.input)
    return seen


def _on_paths(nodes: tuple[NodeResult, ...], source: str, output: str) -> set[str]:
    """Nodes on some path from `source` to the output (both included)."""
    downstream = {source}
    for node in nodes:  # topological order: inputs come first
        if any(edge.input in downstream for edge in node.inputs):
            downstream.add(node.id)
    return downstream & _ancestors(nodes, output)
