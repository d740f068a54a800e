"""A graph as SymPy expressions: the op table's forward on the SymPy backend, over real
symbols. Used where SymPy is the oracle (--check) or the prover (formula answers)."""

from __future__ import annotations

from .backends import exact_backend
from .engine import compile_tape, run_forward
from .gradient import leaf_values
from .graph import Graph


def to_sympy(graph: Graph) -> list:
    """SymPy expressions for every node (variables are real symbols): the op table's forward
    on the SymPy backend, with powers left unevaluated so `9**9**9**9` stays a tree."""
    backend = exact_backend(evaluate=False)
    symbols = {graph.ids[i]: backend.symbol(graph.ids[i]) for i in graph.variables}
    values = leaf_values(graph, symbols, backend)
    return run_forward(compile_tape(graph.ops, graph.inputs, graph.output, backend), values)
