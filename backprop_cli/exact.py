"""Exact mode: forward values, local partials and adjoints as SymPy numbers.

`--x 1/3` stays 1/3 and `tanh(1)` stays `tanh(1)`; each number is also given as a decimal with
the requested significant digits (mpmath through `evalf`). The kink conventions are the float
engine's: abs'(0) = 0, relu'(0) = 0, ties split equally. SymPy arithmetic on user input can grow
without bound, so callers run this in a bounded process (see bounded.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .graph import CONST, VAR, Graph, build_graph, op_of
from .parse import Program, Statement, parse_constant

MAX_EXACT_TEXT = 200


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
    from .checks import to_sympy

    exact = {}
    for name, text in point_texts.items():
        if isinstance(text, (int, float)):
            text = repr(text)
        tree = parse_constant(str(text))
        graph = build_graph(Program((Statement(None, tree, 1),), str(text)))
        exact[name] = to_sympy(graph)[graph.output]
    return exact


def evaluate_exact(graph: Graph, point_texts: Mapping[str, str | float], precision: int,
                   kinks: Mapping[int, tuple[float, ...]]) -> ExactValues:
    """Exact values and adjoints; `kinks` maps node numbers at a kink to the float engine's
    local partials there, which are the documented conventions (0, 1/2, ...)."""
    import sympy

    from .checks import _sympy_constant

    point = exact_point(point_texts)
    values: list = [None] * len(graph.ids)
    locals_: list = [()] * len(graph.ids)
    for i, op_name in enumerate(graph.ops):
        if op_name == VAR:
            values[i] = point[graph.ids[i]]
        elif op_name == CONST:
            values[i] = _sympy_constant(graph.ids[i])
        else:
            op = op_of(op_name)
            args = [values[j] for j in graph.inputs[i]]
            values[i] = _evaluated(op.sympy(*args))
            locals_[i] = (tuple(sympy.nsimplify(d, rational=True) for d in kinks[i])
                          if i in kinks else _exact_partials(op, args))
    adjoints: list = [sympy.Integer(0)] * len(graph.ids)
    adjoints[graph.output] = sympy.Integer(1)
    live = graph.live()
    for i in range(len(graph.ids) - 1, -1, -1):
        if not live[i] or not graph.inputs[i]:
            continue
        for j, d in zip(graph.inputs[i], locals_[i], strict=True):
            if graph.varying[j]:
                adjoints[j] = adjoints[j] + adjoints[i] * d
    return ExactValues(
        tuple(_number(v, precision) for v in values),
        tuple(_number(a, precision) if graph.varying[i] else None
              for i, a in enumerate(adjoints)),
        precision,
    )


def _evaluated(expression):
    return expression.doit() if hasattr(expression, "doit") else expression


def _exact_partials(op, args: list) -> tuple:
    import sympy

    symbols = sympy.symbols(f"a0:{len(args)}", real=True)
    form = op.sympy(*symbols)
    substitution = dict(zip(symbols, args, strict=True))
    return tuple(_evaluated(sympy.diff(form, s).xreplace(substitution)) for s in symbols)


def _number(value, precision: int) -> ExactNumber:
    import sympy

    value = sympy.sympify(value)
    text = str(value)
    if len(text) > MAX_EXACT_TEXT:
        text = text[:MAX_EXACT_TEXT - 3] + "..."
    decimal = value.evalf(precision)
    if decimal.is_real is False or decimal.has(sympy.I):
        decimal_text = "nan"
    elif decimal in (sympy.oo, sympy.zoo):
        decimal_text = "inf"
    elif decimal == -sympy.oo:
        decimal_text = "-inf"
    else:
        decimal_text = str(decimal) if decimal.is_Number else "nan"
    return ExactNumber(text, decimal_text)
