"""Frozen results of a program over arrays (scalars, vectors, matrices): every node's value,
adjoint and shape; `to_dict()` is the JSON contract (nested lists, a shape on every node,
non-finite elements as null with their positions labelled)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .errors import SCHEMA_VERSION
from .result import CHECK_KEYS, FORWARD_MODE, FORWARD_RTOL, SYMPY


class TensorEdge(NamedTuple):
    """One input edge: the elementwise local derivative (None for a tensor op, whose local
    Jacobian is not diagonal) and the rule as people write it (`W̄1 += z̄1 · xᵀ`)."""

    input: str
    local: object  # an array or a float, or None
    rule: str | None


class TensorNode(NamedTuple):
    id: str
    op: str
    expr: str
    value: object  # float or ndarray
    adjoint: object  # float or ndarray, None when the node does not vary
    inputs: tuple[TensorEdge, ...]
    status: str
    message: str | None
    named: bool

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.value))


@dataclass(frozen=True)
class LocalJacobian:
    """∂node/∂input as a matrix: a row per element of the node, a column per element of the
    input (elements in row order)."""

    node: str
    input: str
    matrix: object  # ndarray (rows, columns)

    def to_dict(self) -> dict:
        return {"node": self.node, "input": self.input, "shape": list(self.matrix.shape),
                "matrix": array_json(self.matrix)}


@dataclass(frozen=True)
class JacobianProduct:
    """A variable's gradient as the sum over its paths of the products of local Jacobians."""

    variable: str
    paths: tuple[tuple[str, ...], ...]
    value: object

    def to_dict(self) -> dict:
        return {"variable": self.variable, "paths": [list(p) for p in self.paths],
                "value": array_json(self.value)}


@dataclass(frozen=True)
class ArrayCheck:
    """The gradient compared with another method, per variable: SymPy's derivative of the
    program written out element by element, central finite differences (gradcheck's step
    1e-6 and tolerances atol 1e-5, rtol 1e-3), or forward mode (a pass per element)."""

    status: str  # passed | failed | skipped
    reason: str | None
    method: str  # one of result.CHECK_KEYS
    entries: tuple[tuple[str, object, bool | None], ...]  # name, the other method's, agrees

    @property
    def symbolic(self) -> bool:
        return self.method == SYMPY

    @property
    def tolerance(self) -> str:
        if self.symbolic:
            return (f"its derivative of the program written out element by element, rtol "
                    f"{SYMBOLIC_RTOL:g}")
        if self.method == FORWARD_MODE:
            return (f"a forward pass per element, rtol {FORWARD_RTOL:g}; it shares the local "
                    "derivatives, so it checks how the reverse sweep adds them up")
        return "step 1e-6, atol 1e-5, rtol 1e-3, as torch.autograd.gradcheck"

    def to_dict(self) -> dict:
        key = CHECK_KEYS[self.method]
        return {"status": self.status, "reason": self.reason, "method": self.method,
                "entries": {name: {key: array_json(reference), "agrees": agrees}
                            for name, reference, agrees in self.entries}}


@dataclass(frozen=True)
class TensorExact:
    """With --exact: every node's value and adjoint (None where the node does not vary) as
    object arrays of exact.ExactNumber, one per element."""

    values: tuple
    adjoints: tuple
    precision: int


def exact_json(array) -> object:
    """An array of ExactNumbers as nested lists of {exact, decimal}, a single one as itself."""
    if array is None:
        return None
    if not isinstance(array, np.ndarray):
        return array.to_dict()
    if array.ndim == 0:
        return array[()].to_dict()
    return [exact_json(row) for row in array]


SYMBOLIC_RTOL = 1e-7


@dataclass(frozen=True)
class TensorResult:
    """Everything `grad` computed for a program over arrays at one point."""

    expression: str
    at: tuple[tuple[str, object], ...]
    output: str
    value: object
    gradient: tuple[tuple[str, object], ...]
    nodes: tuple[TensorNode, ...]
    warnings: tuple[str, ...] = ()
    parsed: str | None = None
    exact: TensorExact | None = None
    check: ArrayCheck | None = None
    jacobians: tuple[LocalJacobian, ...] | None = None  # with --jacobians
    products: tuple[JacobianProduct, ...] = ()
    tensors: bool = field(default=True, repr=False)

    @property
    def flagged(self) -> tuple[TensorNode, ...]:
        return tuple(node for node in self.nodes if node.status != "ok")

    def node(self, node_id: str) -> TensorNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def to_dict(self) -> dict:
        document = {
            "schema": SCHEMA_VERSION,
            "ok": True,
            "expression": self.expression,
            "parsed": self.parsed,
            "at": {name: array_json(value) for name, value in self.at},
            "shapes": {name: list(np.shape(value)) for name, value in self.at},
            "output": self.output,
            "value": array_json(self.value),
            "gradient": {name: array_json(value) for name, value in self.gradient},
            "nodes": [_node_dict(node) for node in self.nodes],
            "warnings": list(self.warnings),
        }
        if self.check is not None:
            document["check"] = self.check.to_dict()
        if self.exact is not None:
            self._add_exact(document)
        if self.jacobians is not None:
            document["jacobians"] = [j.to_dict() for j in self.jacobians]
            document["jacobian_products"] = [p.to_dict() for p in self.products]
        gradient = {name: found for name, value in self.gradient
                    if (found := nonfinite_label(value)) is not None}
        if gradient or nonfinite_label(self.value) is not None:
            document["nonfinite"] = {"value": nonfinite_label(self.value), "gradient": gradient}
        return document

    def _add_exact(self, document: dict) -> None:
        exact = self.exact
        for entry, value, adjoint in zip(document["nodes"], exact.values, exact.adjoints,
                                         strict=True):
            entry["exact"] = {"value": exact_json(value), "adjoint": exact_json(adjoint)}
        position = {node.id: i for i, node in enumerate(self.nodes)}
        document["exact"] = {
            "precision": exact.precision,
            "value": exact_json(exact.values[position[self.output]]),
            "gradient": {name: exact_json(exact.adjoints[position[name]])
                         for name, _ in self.gradient},
        }


def _node_dict(node: TensorNode) -> dict:
    entry = {"id": node.id, "op": node.op, "expr": node.expr, "shape": list(node.shape),
             "value": array_json(node.value),
             "adjoint": None if node.adjoint is None else array_json(node.adjoint),
             "status": node.status, "inputs": [_edge_dict(e) for e in node.inputs]}
    if node.message:
        entry["message"] = node.message
    value, adjoint = nonfinite_label(node.value), nonfinite_label(node.adjoint)
    if value is not None or adjoint is not None:
        entry["nonfinite"] = {"value": value, "adjoint": adjoint}
    return entry


def _edge_dict(edge: TensorEdge) -> dict:
    entry = {"id": edge.input, "local": None if edge.local is None else array_json(edge.local),
             "rule": edge.rule}
    found = nonfinite_label(edge.local)
    if found is not None:
        entry["nonfinite"] = found
    return entry


def array_json(value) -> object:
    """A number or nested lists of numbers; a non-finite element is null (its label is in the
    `nonfinite` beside it)."""
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        number = float(array)
        return number if math.isfinite(number) else None
    listed = array.tolist()
    if np.all(np.isfinite(array)):
        return listed
    return _nulled(listed)


def _nulled(listed: list) -> list:
    return [_nulled(x) if isinstance(x, list) else (x if math.isfinite(x) else None)
            for x in listed]


MAX_LABELLED = 100


def nonfinite_label(value) -> object:
    """None when every element is finite; for a number its label (nan, inf, -inf); for an
    array the count of non-finite elements and the first MAX_LABELLED with their indices."""
    if value is None:
        return None
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        number = float(array)
        return None if math.isfinite(number) else _label(number)
    bad = np.argwhere(~np.isfinite(array))
    if len(bad) == 0:
        return None
    return {"count": int(len(bad)),
            "elements": [{"index": [int(k) for k in index], "label": _label(array[tuple(index)])}
                         for index in bad[:MAX_LABELLED]]}


def _label(number: float) -> str:
    if math.isnan(number):
        return "nan"
    return "inf" if number > 0 else "-inf"
