"""Frozen results that every renderer and check reads; `to_dict()` is the JSON contract."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

from .errors import SCHEMA_VERSION


class Edge(NamedTuple):
    """One input edge of a node: d(node)/d(input) at the point, and its symbolic rule."""

    input: str
    local: float | None
    rule: str | None


class NodeResult(NamedTuple):
    """One node: forward value, accumulated adjoint, and its input edges."""

    id: str
    op: str
    expr: str
    value: float
    adjoint: float | None
    inputs: tuple[Edge, ...]
    status: str
    message: str | None
    named: bool
    fanout: int


# The methods a gradient is compared with: the name in `method`, the key of its numbers in
# JSON entries, the column header, and what agreement means.
SYMPY = "SymPy"
FINITE_DIFFERENCES = "central finite differences"
FORWARD_MODE = "forward mode"
CHECK_KEYS = {SYMPY: "symbolic", FINITE_DIFFERENCES: "finite_differences", FORWARD_MODE: "forward"}
CHECK_LABELS = {SYMPY: "SymPy", FINITE_DIFFERENCES: "finite differences",
                FORWARD_MODE: "forward mode"}
FORWARD_RTOL = 1e-9


@dataclass(frozen=True)
class GradientCheck:
    """SymPy's symbolic derivative of the whole expression, compared with the engine."""

    status: str  # "passed" | "failed" | "skipped"
    reason: str | None = None
    entries: tuple[tuple[str, float | None, bool | None], ...] = ()
    method: str = SYMPY

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "reason": self.reason,
            "method": self.method,
            "entries": {name: {"symbolic": number(value), "agrees": agrees}
                        for name, value, agrees in self.entries},
        }


@dataclass(frozen=True)
class AllChecks:
    """The gradient compared with SymPy, finite differences and forward mode at once."""

    checks: tuple  # GradientCheck or tensor_result.ArrayCheck, one per method
    method: str = "all"

    @property
    def status(self) -> str:
        statuses = [check.status for check in self.checks]
        if "failed" in statuses:
            return "failed"
        return "skipped" if all(s == "skipped" for s in statuses) else "passed"

    @property
    def reason(self) -> str | None:
        reasons = [f"{CHECK_LABELS[c.method]}: {c.reason}" for c in self.checks if c.reason]
        return "; ".join(reasons) or None

    @property
    def entries(self) -> tuple[tuple[str, None, bool | None], ...]:
        """Per variable: whether every method that compared it agrees."""
        verdicts: dict[str, list] = {}
        for check in self.checks:
            for name, _, agrees in check.entries:
                verdicts.setdefault(name, []).append(agrees)
        return tuple((name, None, False if False in found else (True if True in found
                                                                  else None))
                     for name, found in verdicts.items())

    def to_dict(self) -> dict:
        methods = [check.to_dict() for check in self.checks]
        entries: dict[str, dict] = {}
        for document in methods:
            for name, entry in document["entries"].items():
                entries.setdefault(name, {}).update(
                    {k: v for k, v in entry.items() if k != "agrees"})
        for name, _, agrees in self.entries:
            entries.setdefault(name, {})["agrees"] = agrees
        return {"status": self.status, "reason": self.reason, "method": self.method,
                "entries": entries, "methods": methods}


@dataclass(frozen=True)
class Result:
    """Everything `grad` computed for one program at one point."""

    expression: str
    at: tuple[tuple[str, float], ...]
    output: str
    value: float
    gradient: tuple[tuple[str, float], ...]
    nodes: tuple[NodeResult, ...]
    warnings: tuple[str, ...] = ()
    check: GradientCheck | None = field(default=None)
    parsed: str = ""
    exact: object | None = None  # exact.ExactValues when exact mode was asked for

    @property
    def flagged(self) -> tuple[NodeResult, ...]:
        """Nodes with a status other than ok or propagated (kinks, domain errors, overflow)."""
        return tuple(n for n in self.nodes if n.status not in ("ok", "propagated"))

    def node(self, node_id: str) -> NodeResult:
        for candidate in self.nodes:
            if candidate.id == node_id:
                return candidate
        raise KeyError(node_id)

    def to_dict(self) -> dict:
        """Strict-JSON-ready dict: non-finite numbers become null with a `nonfinite` note."""
        document = {
            "schema": SCHEMA_VERSION,
            "ok": True,
            "expression": self.expression,
            "parsed": self.parsed,
            "at": {name: number(value) for name, value in self.at},
            "shapes": {name: [] for name, _ in self.at},
            "output": self.output,
            "value": number(self.value),
            "gradient": {name: number(value) for name, value in self.gradient},
            "nodes": self.nodes.entries() if hasattr(self.nodes, "entries") else
                     [_node_dict(node) for node in self.nodes],
            "warnings": list(self.warnings),
        }
        if self.check is not None:
            document["check"] = self.check.to_dict()
        if self.exact is not None:
            self._add_exact(document)
        nonfinite = {name: label(v) for name, v in self.gradient if not _finite(v)}
        if not _finite(self.value) or nonfinite:
            document["nonfinite"] = {"value": label(self.value), "gradient": nonfinite}
        return document


    def _add_exact(self, document: dict) -> None:
        exact = self.exact
        for entry, value, adjoint in zip(document["nodes"], exact.values, exact.adjoints,
                                         strict=True):
            entry["exact"] = {"value": value.to_dict(),
                              "adjoint": adjoint.to_dict() if adjoint else None}
        position = {node.id: i for i, node in enumerate(self.nodes)}
        output = position[self.output]
        document["exact"] = {
            "precision": exact.precision,
            "value": exact.values[output].to_dict(),
            "gradient": {name: exact.adjoints[position[name]].to_dict()
                         for name, _ in self.gradient},
        }


def _node_dict(node: NodeResult) -> dict:
    return node_entry(node.id, node.op, node.expr, node.value, node.adjoint, node.inputs,
                      node.status, node.message)


def node_entry(node_id: str, op: str, expr: str, value: float, adjoint: float | None,
               edges, status: str, message: str | None) -> dict:
    """A node's JSON entry; `edges` are (input id, local partial, rule) triples."""
    clean = value - value == 0 and (adjoint is None or adjoint - adjoint == 0)
    entry = {
        "id": node_id,
        "op": op,
        "expr": expr,
        "shape": [],
        "value": value if clean else number(value),
        "adjoint": adjoint if clean else number(adjoint),
        "status": status,
        "inputs": [{"id": name, "local": local, "rule": rule}
                   if local is None or local - local == 0 else
                   {"id": name, "local": None, "rule": rule, "nonfinite": label(local)}
                   for name, local, rule in edges],
    }
    if message:
        entry["message"] = message
    if not clean:
        entry["nonfinite"] = {"value": label(value), "adjoint": label(adjoint)}
    return entry


def _finite(value: float | None) -> bool:
    return value is None or math.isfinite(value)


def number(value: float | None) -> float | None:
    """A JSON-safe number: NaN and infinities become null (RFC 8259 has no literal for them)."""
    if value is None or not math.isfinite(value):
        return None
    return value


def label(value: float | None) -> str | None:
    """The label of a non-finite number ("nan", "inf", "-inf"); None for a finite one."""
    if value is None or math.isfinite(value):
        return None
    if math.isnan(value):
        return "nan"
    return "inf" if value > 0 else "-inf"


def nonfinite_labels(**fields) -> dict:
    """For each field (a number, a {name: number} map, or a matrix as rows) that holds a
    non-finite number, its labels: "nan", "inf" or "-inf" where the JSON has null."""
    labels = {}
    for name, value in fields.items():
        if isinstance(value, dict):
            found = {key: label(v) for key, v in value.items() if not _finite(v)}
        elif isinstance(value, (list, tuple)):
            found = [[label(v) for v in row] for row in value] if any(
                not _finite(v) for row in value for v in row) else None
        else:
            found = label(value)
        if found:
            labels[name] = found
    return labels
