"""The backends the op table is written against.

| backend | values are | used by |
| --- | --- | --- |
| `FLOAT` | float64 scalars, IEEE-safe | grad, check, claims, tables, forward mode |
| `array_backend()` | NumPy arrays (broadcasting) | sweeps |
| `exact_backend()` | SymPy numbers or expressions | exact mode, --check, proofs |
| `trace.Rules` | expression trees | rule text, LaTeX, explain |
| `trace.Tape` | nodes of a new graph, with values | Hessians (reverse over reverse) |

The float backend is built at import (it needs only `math`); the others import NumPy or SymPy
when first asked for, so a plain `grad` never loads either.
"""

from __future__ import annotations

from functools import cache

from .base import PRIMITIVES, Backend
from .floats import FloatBackend

FLOAT = FloatBackend()

__all__ = ["FLOAT", "PRIMITIVES", "Backend", "array_backend", "exact_backend"]


@cache
def array_backend() -> Backend:
    """The NumPy backend (imports NumPy; in the console script, also tunes malloc for arrays,
    budget.tune_for_arrays)."""
    from ..budget import tune_for_arrays
    from .arrays import ArrayBackend

    tune_for_arrays()
    return ArrayBackend()


@cache
def exact_backend(evaluate: bool = True) -> Backend:
    """The SymPy backend: exact numbers (`evaluate`), or expressions built without evaluating
    powers, so that `9**9**9**9` stays a tree (imports SymPy)."""
    from .exact import ExactBackend

    return ExactBackend(evaluate)
