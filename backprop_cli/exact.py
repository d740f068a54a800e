"""Exact mode: forward values, local partials and adjoints as SymPy numbers.

`--x 1/3` stays 1/3 and `tanh(1)` stays `tanh(1)`; each number is also given as a decimal with
the requested significant digits (mpmath through `evalf`). The values come from the same engine
and op table as the float64 ones, on the exact backend, so the kink conventions are the same:
abs'(0) = 0, relu'(0) = 0, ties split equally. SymPy arithmetic on user input can grow without
bound, so callers run this in a bounded process (see bounded.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .backends import exact_backend
from .engine import compile_tape, run_forward, run_reverse, undefined_where_nan
from .gradient import leaf_values
from .graph import Graph, build_graph
from .parse import Program, Statement, parse_constant

MAX_EXACT_TEXT = 200
# About 1.3 KB and 65 µs per node with small numbers; exact rationals grow with the program
# (x = 1/3 through a chain of products), so the SymPy process also has its own caps.
MAX_EXACT_NODES = 50_000
EXACT_MEMORY_BYTES = 1024**3


@dataclass(frozen=True)
class ExactNumber:
    """One number in exact form, with its decimal expansion."""

    exact: str
    decimal: str

    def to_dict(self) -> dict:
        return {"exact": self.exact, "decimal": self.decimal}


@dataclass(frozen=True)
class ExactValues:
    """Exact value and adjoint of every node (adjoint None for constants), by node id."""

    values: tuple[ExactNumber, ...]
    adjoints: tuple[ExactNumber | None, ...]
    precision: int


def exact_point(point_texts: Mapping[str, str | float]) -> dict:
    """Variable values as exact SymPy numbers: '1/3' → 1/3, '0.1' → 1/10, 'pi/4' → pi/4."""
    backend = exact_backend()
    exact = {}
    for name, text in point_texts.items():
        if isinstance(text, (int, float)):
            text = repr(text)
        tree = parse_constant(str(text))
        graph = build_graph(Program((Statement(None, tree, 1),), str(text)))
        values = leaf_values(graph, {}, backend)
        run_forward(compile_tape(graph.ops, graph.inputs, graph.output, backend), values)
        exact[name] = values[graph.output]
    return exact


def evaluate_exact(graph: Graph, point_texts: Mapping[str, str | float],
                   precision: int) -> ExactValues:
    """Exact values and adjoints, by the engine on the exact backend: the op table's own
    rules, kink conventions included, on SymPy numbers."""
    import sympy

    backend = exact_backend()
    values = leaf_values(graph, exact_point(point_texts), backend)
    tape = compile_tape(graph.ops, graph.inputs, graph.output, backend)
    run_forward(tape, values)
    adjoints, _ = run_reverse(undefined_where_nan(tape, values, backend), values, graph.output,
                              seed=sympy.Integer(1), zero=sympy.Integer(0), keep_partials=False)
    return ExactValues(
        tuple(exact_form(v, precision) for v in values),
        tuple(exact_form(a, precision) if graph.varying[i] else None
              for i, a in enumerate(adjoints)),
        precision,
    )


def exact_form(value, precision: int) -> ExactNumber:
    import sympy

    value = sympy.sympify(value)
    text = str(value)
    if len(text) > MAX_EXACT_TEXT:
        text = text[:MAX_EXACT_TEXT - 3] + "..."
    try:
        decimal = value.evalf(precision)
    except (ValueError, ArithmeticError, TypeError):  # mpmath: outside the domain (erfinv(2))
        decimal = sympy.nan
    if decimal == sympy.oo:
        decimal_text = "inf"
    elif decimal == -sympy.oo:
        decimal_text = "-inf"
    elif decimal.is_real is False or decimal.has(sympy.I):
        decimal_text = "nan"
    else:
        decimal_text = str(decimal) if decimal.is_Number else "nan"
    return ExactNumber(text, decimal_text)
