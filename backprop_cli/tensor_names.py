"""The names of the tensor ops and how programs call them, without NumPy: the parser and the
scalar path read these, and only a program that uses one imports tensor_ops (and NumPy)."""

from __future__ import annotations

# op name → (the function name in programs, the argument counts it takes)
TENSOR_CALLS: dict[str, tuple[str, tuple[int, ...]]] = {
    "matmul": ("matmul", (2,)),
    "dot": ("dot", (2,)),
    "outer": ("outer", (2,)),
    "transpose": ("transpose", (1,)),
    "sum": ("sum", (1, 2)),
    "mean": ("mean", (1, 2)),
    "reduce_max": ("max", (1,)),
    "reduce_min": ("min", (1,)),
    "norm": ("norm", (1,)),
    "softmax": ("softmax", (1, 2)),
    "log_softmax": ("log_softmax", (1, 2)),
    "logsumexp": ("logsumexp", (1, 2)),
    "index": ("[]", (2, 3)),  # written v[i], A[i, j]; never called by name
    "mse": ("mse", (2,)),
    "bce": ("bce", (2,)),
    "cross_entropy": ("cross_entropy", (2,)),
}
TENSOR_OP_NAMES = frozenset(TENSOR_CALLS)
CALLED_NAMES = frozenset(called for called, _ in TENSOR_CALLS.values())
_BY_CALL = {(called, count): op_name for op_name, (called, arities) in TENSOR_CALLS.items()
            for count in arities}


def tensor_call(name: str, count: int) -> str | None:
    """The tensor op a call of `name` with `count` arguments means, if any: `max(v)` with one
    argument is a reduction; with two or more it stays the elementwise max."""
    return _BY_CALL.get((name, count))


_ARITIES: dict[str, tuple[int, ...]] = {}
for _called, _arities in TENSOR_CALLS.values():
    _ARITIES[_called] = _ARITIES.get(_called, ()) + _arities


def tensor_arities(name: str) -> tuple[int, ...]:
    """The argument counts a tensor op called `name` takes (none if there is no such op)."""
    return _ARITIES.get(name, ())


def is_array(value: object) -> bool:
    """A NumPy array, recognised without importing NumPy (the scalar path never does)."""
    return type(value).__name__ == "ndarray"


def is_array_text(text: object) -> bool:
    """A value written as an array literal (`[1, 2]`)."""
    return isinstance(text, str) and text.lstrip().startswith("[")
