"""The chain rule over arrays, in matrix form: the forward sweep with each step's shape and
value, and the reverse sweep with every adjoint written as the sum of the vector-Jacobian
products of its consumers (`a̅1̅ = W2ᵀ · z̅8̅`), derived from the same TensorResult that `grad`
prints."""

from __future__ import annotations

from dataclasses import dataclass

from .tensor_ops import bar
from .tensor_result import TensorResult


@dataclass(frozen=True)
class ArrayStep:
    node: str
    formula: str  # the forward formula, or the adjoint's sum of vector-Jacobian products
    value: object


@dataclass(frozen=True)
class ArrayExplanation:
    expression: str
    at: tuple[tuple[str, object], ...]
    output: str
    forward: tuple[ArrayStep, ...]
    reverse: tuple[ArrayStep, ...]
    gradient: tuple[tuple[str, object], ...]
    warnings: tuple[str, ...]


def explain_arrays(result: TensorResult, wrt: str | None = None) -> ArrayExplanation:
    """The sweeps in matrix form; with `wrt`, the reverse sweep on the paths to it only."""
    from .errors import InputError

    variables = [name for name, _ in result.gradient]
    if wrt is not None and wrt not in variables:
        raise InputError(f"--wrt {wrt!r} is not a variable of the program (variables: "
                         f"{', '.join(variables) or 'none'})")
    values = {node.id: node.value for node in result.nodes}
    forward = tuple(ArrayStep(node.id, _forward_formula(node, values), node.value)
                    for node in result.nodes if node.inputs)
    terms: dict[str, list[str]] = {}
    for node in result.nodes:
        for edge in node.inputs:
            if edge.rule is not None:
                terms.setdefault(edge.input, []).append(edge.rule.partition(" += ")[2])
    relevant = _on_paths(result, wrt) if wrt is not None else None
    reverse = []
    for node in reversed(result.nodes):
        if node.adjoint is None or (relevant is not None and node.id not in relevant):
            continue
        if node.id == result.output:
            formula = f"∂{result.output}/∂{result.output} = 1"
        else:
            formula = " + ".join(terms.get(node.id, [])) or "0 (no path to the output)"
        reverse.append(ArrayStep(bar(node.id), formula, node.adjoint))
    gradient = tuple((name, value) for name, value in result.gradient
                     if wrt is None or name == wrt)
    return ArrayExplanation(result.parsed or result.expression, result.at, result.output,
                            forward, tuple(reverse), gradient, result.warnings)


def _forward_formula(node, values: dict) -> str:
    """The node's formula, a product of two arrays written v ⊙ w: `v·v` read as the dot
    product beside the reverse sweep's `W̅ = z̅ · xᵀ` (a matrix product) and `⊙`."""
    import numpy as np

    if node.op != "mul" or len(node.inputs) != 2:
        return node.expr
    if all(np.ndim(values.get(edge.input, 0.0)) for edge in node.inputs):
        return " ⊙ ".join(edge.input for edge in node.inputs)
    return node.expr


def _on_paths(result: TensorResult, source: str) -> set[str]:
    downstream = {source}
    for node in result.nodes:
        if any(edge.input in downstream for edge in node.inputs):
            downstream.add(node.id)
    return downstream
