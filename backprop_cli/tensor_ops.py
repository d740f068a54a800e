"""The tensor ops: those that are not elementwise (products of arrays, reductions, softmax,
indexing, losses). Each entry holds its forward on NumPy arrays, its vector-Jacobian product
(the adjoint of every input from the adjoint of the output), its formula as written, and the
VJP rule as people write it (`W̄ += z̄ · xᵀ`).

Every elementwise op stays in the op table (ops.py): on arrays it broadcasts as NumPy does,
and the engine sums its adjoint over the broadcast axes. Integer arguments (an axis, a class,
an index) are constants of the program and have no adjoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import InputError


@dataclass(frozen=True)
class TensorOp:
    """One tensor op: how it is called, computed and differentiated."""

    name: str
    called: str  # the function name in programs (`max` for reduce_max)
    arities: tuple[int, ...]  # allowed argument counts
    forward: Callable  # forward(*args) -> out
    vjp: Callable  # vjp(g, args, out) -> per input: its adjoint contribution, or None
    formula: Callable[[list[str]], str]  # input ids -> the formula as written
    rules: Callable[[str, list[str]], tuple]  # (out, input ids) -> per input: "x̄ += ..."
    doc: str
    integer_args: tuple[int, ...] = ()  # positions that are integer constants (axis, class)
    kink: Callable | None = None  # kink(args, out) -> the convention applied here, or None
    compares: bool = False  # a loss: its two arguments are paired element by element


TENSOR_OPS: dict[str, TensorOp] = {}


def _register(entry: TensorOp) -> None:
    TENSOR_OPS[entry.name] = entry


def bar(name: str) -> str:
    """The adjoint's textbook name, the id overlined."""
    return "".join(char + "\u0305" for char in name)


def _integer(value, what: str) -> int:
    number = float(value)
    if number != int(number):
        raise InputError(f"{what} must be a whole number, not {number:g}")
    return int(number)


def _axis(value, array: np.ndarray) -> int:
    axis = _integer(value, "an axis")
    if not -array.ndim <= axis < max(array.ndim, 1):
        raise InputError(f"axis {axis} does not exist for shape {shape_text(array)}")
    return axis


def shape_text(value) -> str:
    """A shape as people write it: (2, 51), (3,), or scalar."""
    shape = np.shape(value)
    if not shape:
        return "scalar"
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


# ----------------------------------------------------------------------------------------------
# Products


def _as_matrices(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A vector on the left is a row, on the right a column (NumPy's matmul rule)."""
    return (a if a.ndim == 2 else a[None, :]), (b if b.ndim == 2 else b[:, None])


def _matmul(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim == 0 or b.ndim == 0:
        raise InputError(f"@ needs vectors or matrices, not a scalar (shapes {shape_text(a)} "
                         f"and {shape_text(b)}); use * to scale")
    if a.shape[-1] != b.shape[0]:
        raise InputError(f"@ cannot multiply shapes {shape_text(a)} and {shape_text(b)}: "
                         f"{a.shape[-1]} columns against {b.shape[0]} rows")
    return a @ b


def _matmul_vjp(g, args, out):
    a, b = (np.asarray(x, dtype=float) for x in args)
    a2, b2 = _as_matrices(a, b)
    g2 = np.reshape(g, (a2.shape[0], b2.shape[1]))
    return (g2 @ b2.T).reshape(a.shape), (a2.T @ g2).reshape(b.shape)


_register(TensorOp(
    "matmul", "matmul", (2,), _matmul, _matmul_vjp,
    lambda ids: f"{ids[0]} @ {ids[1]}",
    lambda out, ids: (f"{bar(ids[0])} += {bar(out)} · {ids[1]}ᵀ",
                      f"{bar(ids[1])} += {ids[0]}ᵀ · {bar(out)}"),
    "matrix product: matrix-matrix, matrix-vector, vector-vector (A @ B)"))


def _same_shape(a, b, name: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise InputError(f"{name} needs two arrays of one shape, not {shape_text(a)} and "
                         f"{shape_text(b)}")
    return a, b


def _dot(a, b):
    a, b = _same_shape(a, b, "dot")
    return np.sum(a * b)


_register(TensorOp(
    "dot", "dot", (2,), _dot, lambda g, args, out: (g * np.asarray(args[1], dtype=float),
                                                   g * np.asarray(args[0], dtype=float)),
    lambda ids: f"dot({ids[0]}, {ids[1]})",
    lambda out, ids: (f"{bar(ids[0])} += {bar(out)} · {ids[1]}",
                      f"{bar(ids[1])} += {bar(out)} · {ids[0]}"),
    "dot(a, b): the sum of the elementwise products of two arrays of one shape"))


def _outer(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim > 1 or b.ndim > 1:
        raise InputError(f"outer needs two vectors, not {shape_text(a)} and {shape_text(b)}")
    return np.outer(a, b)


def _outer_vjp(g, args, out):
    a, b = (np.asarray(x, dtype=float) for x in args)
    return (g @ b.reshape(-1)).reshape(a.shape), (g.T @ a.reshape(-1)).reshape(b.shape)


_register(TensorOp(
    "outer", "outer", (2,), _outer, _outer_vjp,
    lambda ids: f"outer({ids[0]}, {ids[1]})",
    lambda out, ids: (f"{bar(ids[0])} += {bar(out)} · {ids[1]}",
                      f"{bar(ids[1])} += {bar(out)}ᵀ · {ids[0]}"),
    "outer(a, b): the matrix a bᵀ of two vectors"))


def _transpose(a):
    a = np.asarray(a, dtype=float)
    return a.T


_register(TensorOp(
    "transpose", "transpose", (1,), _transpose, lambda g, args, out: (np.asarray(g).T,),
    lambda ids: f"transpose({ids[0]})",
    lambda out, ids: (f"{bar(ids[0])} += {bar(out)}ᵀ",),
    "transpose(A): rows and columns swapped (a vector stays as it is)"))


# ----------------------------------------------------------------------------------------------
# Reductions


def _spread(g, array: np.ndarray, axis: int | None) -> np.ndarray:
    """An adjoint of a reduction spread back over the reduced axis."""
    g = np.asarray(g, dtype=float)
    if axis is not None and array.ndim > 0:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, array.shape)


def _reduction(name: str, doc: str, forward: Callable, weights: Callable,
               arities: tuple[int, ...] = (1, 2), kink: Callable | None = None) -> None:
    """A reduction over every element, or over one axis (`sum(A, 0)`); `weights(a, out, axis)`
    is d out / d a elementwise."""

    def run(a, *axis):
        a = np.asarray(a, dtype=float)
        return forward(a, _axis(axis[0], a) if axis else None)

    def vjp(g, args, out):
        a = np.asarray(args[0], dtype=float)
        axis = _axis(args[1], a) if len(args) > 1 else None
        return (_spread(g, a, axis) * weights(a, out, axis),) + ((None,) if axis is not None
                                                                  else ())

    def formula(ids):
        return f"{called}({', '.join(ids)})"

    called = {"reduce_max": "max", "reduce_min": "min"}.get(name, name)
    rule = {"sum": "", "mean": " / n"}.get(name)
    _register(TensorOp(
        name, called, arities, run, vjp, formula,
        lambda out, ids: ((f"{bar(ids[0])} += {bar(out)}{rule} (spread over the reduced "
                           "elements)") if rule is not None else
                          f"{bar(ids[0])} += {bar(out)} at the {called}imum (ties share it)",
                          None)[:len(ids)],
        doc, integer_args=(1,), kink=kink))


def _ties(a, out, axis):
    best = _spread(out, a, axis)
    chosen = (a == best).astype(float)
    count = np.sum(chosen, axis=axis, keepdims=axis is not None) if a.ndim else chosen
    return chosen / count


def _tie(which: str) -> Callable:
    def kink(args, out) -> str | None:
        a = np.asarray(args[0], dtype=float)
        tied = int(np.sum(a == out))
        if tied < 2:
            return None
        return (f"{tied} elements tie for the {which}imum: they share its gradient equally "
                "(PyTorch's convention)")
    return kink


_reduction("sum", "sum(A), sum(A, axis): the sum of the elements (over one axis)",
           lambda a, axis: np.sum(a, axis=axis), lambda a, out, axis: 1.0)
_reduction("mean", "mean(A), mean(A, axis): the mean of the elements (over one axis)",
           lambda a, axis: np.mean(a, axis=axis),
           lambda a, out, axis: 1.0 / (a.size if axis is None else a.shape[axis]))
_reduction("reduce_max", "max(v): the largest element (ties share the gradient)",
           lambda a, axis: np.max(a, axis=axis), _ties, arities=(1,), kink=_tie("max"))
_reduction("reduce_min", "min(v): the smallest element (ties share the gradient)",
           lambda a, axis: np.min(a, axis=axis), _ties, arities=(1,), kink=_tie("min"))


def _norm(a):
    a = np.asarray(a, dtype=float)
    out = np.sqrt(np.sum(np.square(a)))
    if out == 0 or out == np.inf:
        # The squares underflow (1e-200) or overflow (1e200) where the norm itself does not:
        # scaled by the largest magnitude, they cannot. Other inputs keep the plain sum's bits.
        scale = np.max(np.abs(a), initial=0.0)
        if 0 < scale < np.inf:
            out = scale * np.sqrt(np.sum(np.square(a / scale)))
    return out


def _norm_vjp(g, args, out):
    a = np.asarray(args[0], dtype=float)
    return (g * (a / out if out != 0 else np.zeros_like(a)),)


_register(TensorOp(
    "norm", "norm", (1,), _norm, _norm_vjp, lambda ids: f"norm({ids[0]})",
    lambda out, ids: (f"{bar(ids[0])} += {bar(out)} · {ids[0]} / {out}",),
    "norm(A): the Euclidean (Frobenius) norm, sqrt(sum(A**2)); its gradient at 0 is taken "
    "as 0", kink=lambda args, out: "norm at 0: its gradient is taken as 0" if out == 0
    else None))


# ----------------------------------------------------------------------------------------------
# Softmax and friends (over the last axis, or the axis given)


def _last(a, axis) -> int:
    return _axis(axis[0], a) if axis else -1


def _shifted(a, axis: int | None):
    """a less its largest element over the axis (a finite one; 0 where there is none).
    Softmax and log-softmax are computed from these exactly shifted numbers, as PyTorch does:
    taking a rounded logsumexp of large logits back off them (1000 - 1000.31...) loses the
    digits of its rounding, up to 1e-13 of each probability."""
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return a - top, top


def _logsumexp(a, axis: int | None, keepdims: bool = False):
    shifted, top = _shifted(a, axis)
    total = np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True)) + top
    return total if keepdims else (np.squeeze(total, axis=axis) if axis is not None
                                   else total.reshape(()))


def _softmax_over(a, axis: int | None):
    powers = np.exp(_shifted(a, axis)[0])
    return powers / np.sum(powers, axis=axis, keepdims=True)


def _softmax(a, *axis):
    a = np.asarray(a, dtype=float)
    return _softmax_over(a, _last(a, axis) if a.ndim else None)


def _softmax_vjp(g, args, out):
    a = np.asarray(args[0], dtype=float)
    k = _last(a, args[1:]) if a.ndim else None
    return (out * (g - np.sum(g * out, axis=k, keepdims=True)),) + (None,) * (len(args) - 1)


def _log_softmax(a, *axis):
    a = np.asarray(a, dtype=float)
    k = _last(a, axis) if a.ndim else None
    shifted = _shifted(a, k)[0]
    return shifted - np.log(np.sum(np.exp(shifted), axis=k, keepdims=True))


def _log_softmax_vjp(g, args, out):
    a = np.asarray(args[0], dtype=float)
    k = _last(a, args[1:]) if a.ndim else None
    return (g - np.exp(out) * np.sum(g, axis=k, keepdims=True),) + (None,) * (len(args) - 1)


def _logsumexp_op(a, *axis):
    a = np.asarray(a, dtype=float)
    return _logsumexp(a, _axis(axis[0], a) if axis else None)


def _logsumexp_vjp(g, args, out):
    a = np.asarray(args[0], dtype=float)
    axis = _axis(args[1], a) if len(args) > 1 else None
    return (_spread(g, a, axis) * _softmax_over(a, axis),) + (None,) * (len(args) - 1)


_register(TensorOp(
    "softmax", "softmax", (1, 2), _softmax, _softmax_vjp,
    lambda ids: f"softmax({', '.join(ids)})",
    lambda out, ids: (f"{bar(ids[0])} += {out} ⊙ ({bar(out)} - Σ {bar(out)} ⊙ {out})", None),
    "softmax(v), softmax(A, axis): exp(v) / sum(exp(v)), over the last axis by default",
    integer_args=(1,)))
_register(TensorOp(
    "log_softmax", "log_softmax", (1, 2), _log_softmax, _log_softmax_vjp,
    lambda ids: f"log_softmax({', '.join(ids)})",
    lambda out, ids: (f"{bar(ids[0])} += {bar(out)} - softmax({ids[0]}) · Σ {bar(out)}", None),
    "log_softmax(v), log_softmax(A, axis): v - logsumexp(v), over the last axis by default",
    integer_args=(1,)))
_register(TensorOp(
    "logsumexp", "logsumexp", (1, 2), _logsumexp_op, _logsumexp_vjp,
    lambda ids: f"logsumexp({', '.join(ids)})",
    lambda out, ids: (f"{bar(ids[0])} += {bar(out)} · softmax({ids[0]})", None),
    "logsumexp(A), logsumexp(A, axis): log(sum(exp(A))), computed without overflow",
    integer_args=(1,)))


# ----------------------------------------------------------------------------------------------
# Indexing


def _index_of(a: np.ndarray, positions) -> tuple[int, ...]:
    index = tuple(_integer(p, "an index") for p in positions)
    if a.ndim == 0:
        raise InputError("a single number (a scalar) takes no index; index an array, such "
                         "as one given as [1, 2]")
    if len(index) != a.ndim:
        raise InputError(f"an array of shape {shape_text(a)} takes {a.ndim} "
                         f"ind{'ex' if a.ndim == 1 else 'ices'}, not {len(index)}")
    for k, (i, n) in enumerate(zip(index, a.shape, strict=True)):
        if not -n <= i < n:
            raise InputError(f"index {i} is out of range for axis {k} of shape "
                             f"{shape_text(a)}")
    return index


def _index(a, *positions):
    a = np.asarray(a, dtype=float)
    return a[_index_of(a, positions)]


def _index_vjp(g, args, out):
    a = np.asarray(args[0], dtype=float)
    adjoint = np.zeros_like(a)
    adjoint[_index_of(a, args[1:])] = g
    return (adjoint,) + (None,) * (len(args) - 1)


_register(TensorOp(
    "index", "[]", (2, 3), _index, _index_vjp,
    lambda ids: f"{ids[0]}[{', '.join(ids[1:])}]",
    lambda out, ids: (f"{bar(ids[0])}[{', '.join(ids[1:])}] += {bar(out)}",
                      *(None,) * (len(ids) - 1)),
    "v[i], A[i, j]: one element (from 0; negative counts from the end)",
    integer_args=(1, 2)))


# ----------------------------------------------------------------------------------------------
# Losses, with their simplified gradients


def _mse(yhat, y):
    yhat, y = np.asarray(yhat, dtype=float), np.asarray(y, dtype=float)
    return np.mean(np.square(yhat - y))


def _mse_vjp(g, args, out):
    yhat, y = (np.asarray(x, dtype=float) for x in args)
    d = 2.0 * (yhat - y) / np.broadcast(yhat, y).size * g
    return d, -d


_register(TensorOp(
    "mse", "mse", (2,), _mse, _mse_vjp, lambda ids: f"mse({ids[0]}, {ids[1]})",
    lambda out, ids: (f"{bar(ids[0])} += {bar(out)} · 2({ids[0]} - {ids[1]}) / n",
                      f"{bar(ids[1])} += -{bar(out)} · 2({ids[0]} - {ids[1]}) / n"),
    "mse(yhat, y): the mean squared error, mean((yhat - y)**2)", compares=True))


# PyTorch's BCELoss: each log clamped at -100, so a probability of exactly 0 or 1 (a sigmoid
# saturates to 1.0 in float64 beyond z = 37) gives a finite loss, and the gradient's
# denominator p(1 - p) held at least 1e-12 (PyTorch's constant is a float32: 9.99999996e-13).
BCE_LOG_FLOOR, BCE_DENOMINATOR_FLOOR = -100.0, float(np.float32(1e-12))


def _bce_logs(p):
    with np.errstate(divide="ignore"):
        return (np.maximum(np.log(p), BCE_LOG_FLOOR),
                np.maximum(np.log1p(-p), BCE_LOG_FLOOR))


def _bce(p, y):
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    log_p, log_q = _bce_logs(p)
    return np.mean(-(y * log_p + (1.0 - y) * log_q))


def _bce_vjp(g, args, out):
    p, y = (np.asarray(x, dtype=float) for x in args)
    n = np.broadcast(p, y).size
    ones = np.ones(np.broadcast_shapes(p.shape, y.shape))
    log_p, log_q = _bce_logs(p)
    return (g * (p - y) / np.maximum(p * (1.0 - p), BCE_DENOMINATOR_FLOOR) / n,
            g * (log_q - log_p) * ones / n)


def _bce_clamped(args, out) -> str | None:
    p = np.asarray(args[0], dtype=float)
    near = (p >= 0) & (p <= 1) & (p * (1.0 - p) < BCE_DENOMINATOR_FLOOR)
    if not np.any(near):
        return None
    first = tuple(int(k) for k in np.argwhere(near)[0]) if p.ndim else ()
    where = f" (first p[{', '.join(map(str, first))}] = {p[first]:g})" if first else \
        f" (p = {float(p):g})"
    return (f"bce at p within 1e-12 of 0 or 1{where}: each log is clamped at -100 and the "
            "gradient's denominator p(1 - p) at 1e-12, as PyTorch's BCELoss does")


_register(TensorOp(
    "bce", "bce", (2,), _bce, _bce_vjp, lambda ids: f"bce({ids[0]}, {ids[1]})",
    lambda out, ids: (f"{bar(ids[0])} += {bar(out)} · ({ids[0]} - {ids[1]}) / "
                      f"({ids[0]}(1 - {ids[0]})) / n",
                      f"{bar(ids[1])} += {bar(out)} · log((1 - {ids[0]}) / {ids[0]}) / n"),
    "bce(p, y): binary cross-entropy, mean(-(y log p + (1 - y) log(1 - p))), each log "
    "clamped at -100 as PyTorch's BCELoss does", kink=_bce_clamped, compares=True))


def _classes(logits: np.ndarray, k) -> np.ndarray:
    k = np.asarray(k, dtype=float)
    expected = logits.shape[:-1]
    if k.shape != expected:
        raise InputError(f"cross_entropy needs one class per row: logits of shape "
                         f"{shape_text(logits)} take classes of shape "
                         f"{shape_text(np.empty(expected))}, not {shape_text(k)}")
    with np.errstate(invalid="ignore"):
        whole = np.where(np.isfinite(k), k, -1).astype(int)
    bad = (whole != k) | (whole < 0) | (whole >= logits.shape[-1])
    if np.any(bad):
        first = tuple(int(j) for j in np.argwhere(bad)[0])
        which = f"class [{', '.join(map(str, first))}] is {k[first]:g}" if first else \
            f"the class is {float(k):g}"
        raise InputError(f"cross_entropy's classes must be whole numbers from 0 to "
                         f"{logits.shape[-1] - 1} ({which})")
    return whole


def _cross_entropy(logits, k):
    logits = np.asarray(logits, dtype=float)
    if logits.ndim == 0:
        raise InputError("cross_entropy needs a vector of logits (or a matrix, one row each)")
    classes = _classes(logits, k)
    log_p = _log_softmax(logits)
    picked = np.take_along_axis(log_p, classes[..., None], axis=-1)
    return -np.mean(picked)


def _cross_entropy_vjp(g, args, out):
    logits = np.asarray(args[0], dtype=float)
    classes = _classes(logits, args[1])
    p = _softmax(logits)
    np.put_along_axis(p, classes[..., None], np.take_along_axis(p, classes[..., None], -1) - 1,
                      axis=-1)
    rows = 1 if logits.ndim == 1 else logits.shape[0]
    return g * p / rows, None


_register(TensorOp(
    "cross_entropy", "cross_entropy", (2,), _cross_entropy, _cross_entropy_vjp,
    lambda ids: f"cross_entropy({ids[0]}, {ids[1]})",
    lambda out, ids: (f"{bar(ids[0])} += {bar(out)} · (softmax({ids[0]}) - onehot({ids[1]})) "
                      "/ rows", None),
    "cross_entropy(logits, k): -log softmax(logits)[k], the mean over rows for a matrix",
    integer_args=(1,)))


def _consistent() -> None:
    from .tensor_names import TENSOR_CALLS

    assert {name: (op.called, op.arities) for name, op in TENSOR_OPS.items()} == TENSOR_CALLS


_consistent()
