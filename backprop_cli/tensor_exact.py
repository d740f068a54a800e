"""Programs over arrays written out element by element in SymPy.

Two uses: the independent oracle of `--check` on small arrays (SymPy's derivative of the output
written out as one expression in every element of every variable), and `--exact` (every value
and adjoint as an exact number). Elementwise ops run the op table on the SymPy backend; the
tensor ops are written here from their textbook definitions (softmax is exp(v) / Σ exp(v), with
no shift for overflow), so the oracle shares none of tensor_ops.py's code. SymPy work on user
input is unbounded, so callers run these functions in a bounded process.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import sympy

from .backends import exact_backend
from .backends.exact import undefined
from .engine import CONST, VAR
from .graph import Graph
from .ops import op_named
from .parse import ArrayLiteral

# Elements over every node of the program that `--exact` takes: SymPy's numbers grow with the
# program (the 51-point network's 928 elements take about 25 s).
MAX_EXPANDED_ELEMENTS = 500


def exact_number(value: float):
    """A float as the decimal it prints as (0.1 → 1/10), or SymPy's nan and infinities."""
    if math.isnan(value):
        return sympy.nan
    if math.isinf(value):
        return sympy.oo if value > 0 else -sympy.oo
    return sympy.Rational(repr(float(value)))


def _objects(value) -> np.ndarray:
    """An object array of SymPy values (a single value as a 0-d array)."""
    if isinstance(value, np.ndarray):
        return value if value.dtype == object else value.astype(object)
    array = np.empty((), dtype=object)
    array[()] = value
    return array


def _map(function: Callable, *arrays) -> np.ndarray:
    return _objects(np.frompyfunc(function, len(arrays), 1)(*arrays))


def _total(array: np.ndarray, axis: int | None = None, keepdims: bool = False) -> np.ndarray:
    if axis is None:
        total = _objects(sympy.Add(*array.flat))
        return total.reshape((1,) * array.ndim) if keepdims else total
    return _objects(np.sum(array, axis=axis, keepdims=keepdims))


def _axis(args: tuple, default: int | None) -> int | None:
    return int(args[0][()]) if args else default


def _softmax(a, *axis):
    if a.ndim == 0:
        return _objects(sympy.Integer(1))
    e = _map(sympy.exp, a)
    return _objects(e / _total(e, _axis(axis, -1), keepdims=True))


def _log_softmax(a, *axis):
    if a.ndim == 0:
        return _objects(sympy.Integer(0))
    k = _axis(axis, -1)
    return _objects(a - _map(sympy.log, _total(_map(sympy.exp, a), k, keepdims=True)))


def _logsumexp(a, *axis):
    return _map(sympy.log, _total(_map(sympy.exp, a), _axis(axis, None)))


def _mean(a, *axis):
    k = _axis(axis, None)
    return _objects(_total(a, k) / sympy.Integer(a.size if k is None else a.shape[k]))


def _index(a, *positions):
    return _objects(a[tuple(int(p[()]) for p in positions)])


def _mse(yhat, y):
    d = yhat - y
    return _mean(_objects(d * d))


def _bce(p, y):
    return _mean(_objects(-(y * _map(sympy.log, p) + (1 - y) * _map(sympy.log, 1 - p))))


def _cross_entropy(logits, k):
    log_p = _log_softmax(logits)
    rows = log_p.reshape(-1, log_p.shape[-1])
    classes = [int(c) for c in np.asarray(k, dtype=object).reshape(-1)]
    return _objects(-sympy.Add(*[rows[r, c] for r, c in enumerate(classes)])
                    / sympy.Integer(len(classes)))


TEXTBOOK: dict[str, Callable] = {
    "matmul": lambda a, b: _objects(np.matmul(a, b)),
    "dot": lambda a, b: _total(_objects(a * b)),
    "outer": lambda a, b: _objects(np.multiply.outer(a, b)),
    "transpose": lambda a: _objects(a.T),
    "sum": lambda a, *axis: _total(a, _axis(axis, None)),
    "mean": _mean,
    "reduce_max": lambda a: _objects(sympy.Max(*a.flat)),
    "reduce_min": lambda a: _objects(sympy.Min(*a.flat)),
    "norm": lambda a: _objects(sympy.sqrt(sympy.Add(*[x**2 for x in a.flat]))),
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "logsumexp": _logsumexp,
    "index": _index,
    "mse": _mse,
    "bce": _bce,
    "cross_entropy": _cross_entropy,
}


def _apply(op: str, args: list, backend) -> np.ndarray:
    textbook = TEXTBOOK.get(op)
    if textbook is not None:
        return textbook(*args)
    return _map(lambda *xs: backend.call(op, *xs), *args)


def _leaves(graph: Graph, point: Mapping[str, object], backend, floats: bool,
            symbol: tuple | None) -> list:
    """Constants as written, variables as exact numbers (or, with `floats`, DIGITS-digit SymPy
    Floats), and one element of one variable as a symbol, where `symbol` is (name, index,
    symbol)."""
    number = _float if floats else exact_number
    values: list = [None] * len(graph.ids)
    for i, constant in enumerate(graph.constants):
        if isinstance(constant, ArrayLiteral):
            values[i] = _map(number, constant.array())
        elif constant is not None:
            values[i] = _objects(backend.constant(constant, graph.ids[i]))
    for i in graph.variables:
        name = graph.ids[i]
        value = point[name]
        if isinstance(value, str):
            from .exact import exact_point

            values[i] = _objects(exact_point({name: value})[name])
        else:
            values[i] = _map(number, np.asarray(value, dtype=float))
        if symbol is not None and symbol[0] == name:
            values[i][symbol[1]] = symbol[2]
    return values


def expand(graph: Graph, point: Mapping[str, object], floats: bool = False,
           symbol: tuple | None = None) -> list:
    """Every node's value as an object array of SymPy expressions."""
    backend = exact_backend()
    values = _leaves(graph, point, backend, floats, symbol)
    for i, op in enumerate(graph.ops):
        if op != VAR and op != CONST:
            values[i] = _apply(op, [values[j] for j in graph.inputs[i]], backend)
    return values


DIGITS = 40  # working precision of the oracle's numbers; results are compared to 30 digits


def _real(value) -> float | None:
    from .gradient_check import real_number

    try:
        return real_number(sympy.sympify(value).evalf(30))
    except (ZeroDivisionError, ValueError, TypeError, ArithmeticError):
        return None


def symbolic_gradient(graph: Graph, point: Mapping[str, object], names: list[str]
                      ) -> dict[str, np.ndarray]:
    """SymPy's derivative of the output by every element of each named variable, at the point
    (the float inputs read as the decimals they print as); NaN where it is not a finite real
    number. Each element in turn is a symbol and every other number a 40-digit SymPy Float, so
    the expression SymPy differentiates is the output as a function of that element alone."""
    precise = {name: np.asarray(value, dtype=float) for name, value in point.items()}
    gradient = {}
    for name in names:
        found = np.full(precise[name].shape, np.nan)
        for index in np.ndindex(found.shape):
            symbol = sympy.Symbol("t", real=True)
            values = expand(graph, precise, floats=True, symbol=(name, index, symbol))
            derivative = sympy.diff(values[graph.output][()], symbol)
            number = _real(derivative.xreplace({symbol: _float(precise[name][index])}))
            found[index] = np.nan if number is None else number
        gradient[name] = found
    return gradient


def _float(value: float):
    return sympy.Float(exact_number(float(value)), DIGITS)


def exact_tensors(graph: Graph, point: Mapping[str, object], varying: list[bool],
                  precision: int) -> tuple[tuple, tuple, int]:
    """Every node's exact value and adjoint (None where the node does not vary), as object
    arrays of exact.ExactNumber. Elementwise ops take their partials from the op table on the
    SymPy backend (the kink conventions of the float engine); a tensor op's vector-Jacobian
    product is SymPy's derivative of its textbook definition."""
    from .exact import exact_form

    backend = exact_backend()
    values = expand(graph, point)
    adjoints: list = [None] * len(values)
    adjoints[graph.output] = _objects(sympy.Integer(1))
    for i in range(len(values) - 1, -1, -1):
        op, ins, g = graph.ops[i], graph.inputs[i], adjoints[i]
        if op == VAR or op == CONST or g is None:
            continue
        args = [values[j] for j in ins]
        for k, j in enumerate(ins):
            if not varying[j]:
                continue
            if op in TEXTBOOK:
                contribution = _textbook_vjp(op, args, k, g, backend)
            else:
                contribution = _elementwise_vjp(op, args, k, g, values[i], backend)
            adjoints[j] = contribution if adjoints[j] is None else _objects(
                adjoints[j] + contribution)

    def numbers(array):
        return None if array is None else _map(lambda v: exact_form(v, precision), array)

    zero = sympy.Integer(0)
    return (tuple(numbers(v) for v in values),
            tuple(numbers(a if a is not None else _map(lambda _: zero, values[i]))
                  if varying[i] else None for i, a in enumerate(adjoints)), precision)


def _elementwise_vjp(op: str, args: list, k: int, g, out, backend) -> np.ndarray:
    from .tensor_engine import local_partials

    table_op = op_named(op)
    bound = {op: (table_op.calling_convention, *backend.bound(table_op))}

    def local(*xs):  # an undefined value has undefined partials, as in the float engine
        return sympy.nan if undefined(xs[-1]) else local_partials(bound, op, xs[:-1], xs[-1])[k]

    return _unbroadcast(_objects(g * _map(local, *args, out)), np.shape(args[k]))


def _unbroadcast(adjoint: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    adjoint = _objects(np.broadcast_to(adjoint, np.broadcast_shapes(adjoint.shape, shape)))
    while adjoint.ndim > len(shape):
        adjoint = _total(adjoint, 0)
    for axis, n in enumerate(shape):
        if n == 1 and adjoint.shape[axis] != 1:
            adjoint = _total(adjoint, axis, keepdims=True)
    return _objects(adjoint.reshape(shape))


def _textbook_vjp(op: str, args: list, k: int, g, backend) -> np.ndarray:
    """Σ_o ḡ[o] ∂out[o]/∂arg[e] for every element e of argument k, by SymPy's derivative of
    the op written out with a symbol for each element of that argument; the documented
    conventions where that derivative has none: tied maxima and minima share the adjoint
    equally, and the norm's gradient at 0 is 0."""
    arg = args[k]
    if op in ("reduce_max", "reduce_min"):
        best = (sympy.Max if op == "reduce_max" else sympy.Min)(*arg.flat)
        chosen = _map(lambda v: sympy.Integer(1) if sympy.simplify(v - best) == 0
                      else sympy.Integer(0), arg)
        return _objects(g[()] * chosen / sympy.Add(*chosen.flat))
    if op == "norm" and all(v == 0 for v in arg.flat):
        return _map(lambda _: sympy.Integer(0), arg)
    symbols = _objects(np.array([sympy.Dummy(real=True) for _ in range(arg.size)],
                                dtype=object).reshape(arg.shape))
    out = _apply(op, [symbols if m == k else a for m, a in enumerate(args)], backend)
    at = dict(zip(symbols.flat, arg.flat, strict=True))
    g = np.broadcast_to(g, out.shape)
    adjoint = np.empty(arg.shape, dtype=object)
    for index in np.ndindex(arg.shape):
        symbol = symbols[index]
        adjoint[index] = sympy.Add(*[go * sympy.diff(o, symbol).xreplace(at)
                                     for o, go in zip(out.flat, g.flat, strict=True) if go != 0])
    return adjoint
