"""The float64 forward pass fused with every edge's partials, for `grad`.

The engine's loops call each op's forward and partials as functions: two Python calls per node,
which is most of their time. Here the op table's rules are written down once per set of ops as
Python code (backends/source.py) and inlined into one forward loop that stores each node's value
and partials; the reverse loop then only multiplies and adds. The code is the same operations
on the same floats in the same order as the engine's loops, so the numbers are the same bits
(tests/test_fused.py compares them op by op and on whole programs).

Whatever this loop does not cover is left to the engine: ops of more than two inputs and SymPy's
functions (no plan), and any node whose forward or partials fail or whose value is NaN (the pass
stops and returns None, and the caller runs the engine, which gives such nodes their NaN and
their status). A table op whose rule cannot be written down is called as a function inside the
loop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import compress, count, repeat
from typing import NamedTuple

from .backends import FLOAT
from .backends.source import SourceBackend, Untraceable, written
from .engine import CONST, FAILED, VAR
from .ops import OPS


class Plan(NamedTuple):
    """A graph's nodes for the fused loop: per node its kind (a branch of `forward`; -1, no
    branch, for a leaf) and its inputs (second -1 for one input); then the reverse loop's live
    op nodes, last first, with their inputs."""

    forward: Callable[..., bool]
    kinds: list[int]
    firsts: list[int]
    seconds: list[int]
    back: list[int]
    back_firsts: list[int]
    back_seconds: list[int]


def plan(ops: Sequence[str], inputs: Sequence[tuple[int, ...]], live: Sequence[bool]
         ) -> Plan | None:
    """The fused loop's plan for a graph, or None when an op takes more than two inputs or
    is one of SymPy's functions (each call of which costs far more than the loop saves, up to
    its time limit: a node whose value is NaN must not cost it twice)."""
    counts = Counter(ops)
    for leaf in (VAR, CONST):
        counts.pop(leaf, None)
    names = tuple(name for name, _ in counts.most_common())
    entries = tuple(map(OPS.get, names))
    if any(entry is None or entry.calling_convention == 0 for entry in entries):
        return None
    kinds = list(map({name: k for k, name in enumerate(names)}.get, ops, repeat(-1)))
    firsts = [pair[0] if pair else 0 for pair in inputs]
    seconds = [pair[1] if len(pair) == 2 else -1 for pair in inputs]
    last = len(ops) - 1
    keep = [live[i] and kinds[i] >= 0 for i in range(last, -1, -1)]
    return Plan(_loop(entries), kinds, firsts, seconds, list(compress(range(last, -1, -1), keep)),
                list(compress(reversed(firsts), keep)), list(compress(reversed(seconds), keep)))


def run(plan: Plan, values: list, output: int, seed: float = 1.0
        ) -> tuple[list, list, list] | None:
    """Values, adjoints and partials (as the engine's run_forward and run_reverse give them),
    or None where the engine must run instead: a node failed or a value is NaN. `values`
    holds the leaves."""
    partials: list = [()] * len(values)
    if not plan.forward(plan.kinds, plan.firsts, plan.seconds, values, partials):
        return None
    total = sum(values)  # NaN whenever a value is NaN (or infinities of both signs are)
    if total != total and any(v != v for v in values):
        return None
    adjoints = [0.0] * len(values)
    adjoints[output] = seed
    for i, a, b in zip(plan.back, plan.back_firsts, plan.back_seconds, strict=True):
        g = adjoints[i]
        local = partials[i]
        adjoints[a] += g * local[0]
        if b >= 0:
            adjoints[b] += g * local[1]
    return values, adjoints, partials


@lru_cache(maxsize=64)
def _loop(entries: tuple):
    """The fused forward loop over the ops `entries`, kind k being entries[k] (commonest first,
    so the branches test the commonest ops first)."""
    namespace = SourceBackend.namespace()
    lines = ["def forward(kinds, firsts, seconds, values, partials_at):",
             "    try:",
             "        for i, k, first, second in zip(_count(), kinds, firsts, seconds):",
             "            a = values[first]"]
    for k, entry in enumerate(entries):
        inputs = ("a", "b")[:entry.calling_convention]
        body = [] if len(inputs) == 1 else ["b = values[second]"]
        try:
            before, value, after, partials = written(entry, inputs, "t")
            if before and before[-1].startswith(f"{value} = "):  # the value's own line
                before = [*before[:-1], "out" + before[-1][len(value):]]
            else:
                before = [*before, f"out = {value}"]
            body += [*before, "values[i] = out", "if out != out:", "    return False", *after,
                     f"partials_at[i] = ({', '.join(partials)},)"]
        except Untraceable:
            namespace[f"_f{k}"], namespace[f"_p{k}"] = FLOAT.bound(entry)
            args = ", ".join(inputs)
            body += [f"out = _f{k}({args})", "values[i] = out", "if out != out:",
                     "    return False",
                     f"partials_at[i] = (_p{k}({args}, out),)" if len(inputs) == 1
                     else f"partials_at[i] = _p{k}({args}, out)"]
        lines.append(f"            {'if' if k == 0 else 'elif'} k == {k}:")
        lines += [f"                {line}" for line in body]
    lines += ["    except _FAILED:", "        return False", "    return True"]
    namespace.update(_FAILED=FAILED, _count=count)  # what the engine's loops count as failed
    names = ", ".join(entry.name for entry in entries)
    exec(compile("\n".join(lines), f"<fused loop of {names}>", "exec"), namespace)  # noqa: S102 - code written from the op table
    return namespace["forward"]
