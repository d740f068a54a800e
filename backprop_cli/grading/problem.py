"""A derivative question: the program, the answer, the variable, the statement names."""

from __future__ import annotations

from dataclasses import dataclass

from ..graph import Graph


@dataclass(frozen=True)
class Problem:
    """A derivative question: the program, the answer, the variable, the statement names."""

    expr: Graph
    answer: Graph
    wrt: str
    statements: frozenset[str]
