"""Comparing a derivative answer with the truth at random points inside both domains."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from ..gradient import evaluate
from ..graph import Graph
from ..result import Result
from .problem import Problem
from .proofs import exact_sides

MIN_POINTS = 20
MAX_TRIES = 600
POINT_RTOL = 1e-8
POINT_ATOL = 1e-10
BAD_STATUS = frozenset(("undefined", "infinite", "overflow", "propagated", "nondifferentiable",
                         "kink"))


def sample_points(variables: Sequence[str], centres: Sequence[float], seed: int):
    """Random points at several scales, and around the constants the problem mentions (so
    that abs(x - 20) is also tried beyond 20)."""
    rng = random.Random(seed)
    scales = (1.0, 3.0, 0.3, 10.0, 100.0, 0.001, 1e4)
    for attempt in range(MAX_TRIES):
        scale = scales[attempt % len(scales)]
        point = {}
        for name in variables:
            centre = rng.choice(centres) if centres and attempt % 3 == 2 else 0.0
            value = centre + rng.uniform(-scale, scale)
            # Three significant digits: readable counterexamples at every scale.
            point[name] = float(f"{value:.3g}") or 0.5
        yield point


def centres(*graphs: Graph) -> list[float]:
    found = set()
    for graph in graphs:
        for value in graph.constants:
            if value is not None and math.isfinite(value) and 1.0 < abs(value) < 1e12:
                found.update((value, -value, 1.0 / value, -1.0 / value))
    return sorted(found)


def compare_at_points(problem: Problem, variables: list[str], seed: int
                       ) -> tuple[int, dict | None]:
    agreed = 0
    for point in sample_points(variables, centres(problem.expr, problem.answer), seed):
        truth, node_values = trusted_derivative(problem, point)
        if truth is None:
            continue
        given = trusted_value(problem.answer, {**point, **node_values})
        if given is None:
            continue
        if not math.isclose(truth, given, rel_tol=POINT_RTOL, abs_tol=POINT_ATOL):
            exact = exact_sides(problem, point)
            if exact is not None:
                truth, given = exact
                if math.isclose(truth, given, rel_tol=1e-12, abs_tol=1e-15):
                    continue  # float64 rounding, not a wrong answer: the point proves nothing
            at = {name: point[name] for name in variables}
            return agreed, {"at": at, "expected": truth, "given": given}
        agreed += 1
        if agreed >= MIN_POINTS + 10:
            break
    return agreed, None


def trusted(result: Result) -> bool:
    return all(node.status not in BAD_STATUS for node in result.nodes)


def trusted_derivative(problem: Problem, point: Mapping[str, float]
                        ) -> tuple[float | None, dict[str, float]]:
    """The true derivative at the point (None if the program is not smooth and finite there),
    and the values of the program's statements, which the answer may use."""
    graph = problem.expr
    result = evaluate(graph, {name: point[name] for name in graph.variable_names})
    if not trusted(result):
        return None, {}
    values = {node.id: node.value for node in result.nodes if node.id in problem.statements}
    if problem.wrt in problem.statements:
        value = result.node(problem.wrt).adjoint
    else:
        value = dict(result.gradient).get(problem.wrt, 0.0)
    return (value if value is not None and math.isfinite(value) else None), values


def trusted_value(graph: Graph, point: Mapping[str, float]) -> float | None:
    if any(name not in point for name in graph.variable_names):
        return None
    result = evaluate(graph, {name: point[name] for name in graph.variable_names})
    if not trusted(result) or not math.isfinite(result.value):
        return None
    return result.value
