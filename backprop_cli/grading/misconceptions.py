"""Named misconceptions: for a wrong number, what the common backprop mistakes would have
given, computed from the graph itself, and the ones that match the student's number.

A mistake in one node's adjoint reaches the target's adjoint linearly: changing the adjoint
of node v by Δ changes the target's by Δ · dv/d(target), reverse accumulation being linear in
the adjoints. One forward-tangent sweep from the target gives dv/d(target) for every v, so
each mistake site (a dropped path, a value used as a derivative) costs one multiplication; the
mistakes that touch every node (overwriting, early rounding) get a sweep of their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ..engine import (
    compile_tape,
    dependents,
    node_partials,
    run_forward,
    run_reverse,
    run_tangents,
    undefined_where_nan,
)
from ..graph import Graph
from ..rules import rule_templates

CODES = {
    "fanout_dropped": "a fan-out path was dropped",
    "fanout_overwritten": "a fan-out adjoint was overwritten instead of summed",
    "value_for_derivative": "the value was used where the derivative belongs",
    "sign_flip": "the sign is flipped",
    "missing_chain_factor": "a chain-rule factor is missing",
    "wrong_seed": "the backward pass started from the wrong seed (upstream gradient)",
    "early_rounding": "intermediate numbers were rounded too early",
    "too_few_decimals": "the answer was written to fewer decimal places than asked",
}

MAX_NODES = 400
# Most specific first: when one number comes from several mistakes, this is their order.
_ORDER = ("fanout_overwritten", "fanout_dropped", "value_for_derivative",
          "missing_chain_factor", "wrong_seed", "early_rounding", "sign_flip")
# Unary ops whose derivative is a constant: their value in its place is not this mistake.
_LINEAR = frozenset(("neg", "id"))
_SAME = 1e-12

Candidate = tuple[str, str, float]  # code, message, the number the mistake gives


@dataclass(frozen=True)
class Misconception:
    """A mistake that gives exactly the student's number: its code, one sentence that names
    the nodes involved, and the number the mistake gives."""

    code: str
    message: str
    would_give: float


@dataclass(frozen=True)
class _Truth:
    """The true numbers a diagnosis perturbs: the tape, every node's local partials at the
    true values, and per node its live input edges (consumer, position) in the order a
    reverse sweep applies them."""

    graph: Graph
    tape: list[tuple]
    values: Sequence[float]
    adjoints: Sequence[float]
    seed: float
    target: int
    local: list[tuple]
    paths: list[list[tuple[int, int]]]


def diagnose(graph: Graph, values: Sequence[float], adjoints: Sequence[float], seed: float,
             quantity: str, node: str, given: float, accepts: Callable[[float], bool],
             wrt: str | None = None) -> tuple[Misconception, ...]:
    """The misconceptions whose number the grader accepts as the student's `given` (and that
    differ from the true number). `quantity` is "value", "adjoint", "gradient" (node = a
    variable) or "local" (the derivative of `node` with respect to its input `wrt`)."""
    if len(graph) > MAX_NODES or not math.isfinite(given):
        return ()
    truth = _truth(graph, values, adjoints, seed, _index(graph, node))
    positions = _positions(graph, truth.target, wrt) if quantity == "local" else ()
    true = _true(truth, quantity, positions)
    if not math.isfinite(true) or accepts(true):
        return ()
    flip = ("sign_flip", f"the sign is flipped: a minus sign was lost or added on the way to "
                         f"{_label(graph, quantity, truth.target, wrt)}", -true)
    return _matching([*_mistakes(truth, quantity, positions), flip], true, accepts)


def too_few_places(true: float, given: float, written: int, asked: int) -> Misconception:
    """The misconception of a number right at the places it was written to, fewer than the
    places asked (claims.right_to_fewer_places): the simplest account of it, before any
    mistake in the work. The message names no true number (a rubric may hide them)."""
    from .claims import unit

    return Misconception("too_few_decimals", f"{given:.{written}f} is right to {unit(written)}, "
                         f"but {unit(asked)} are asked", round(true, written))


def _true(truth: _Truth, quantity: str, positions: tuple[int, ...]) -> float:
    target = truth.target
    if quantity == "value":
        return truth.values[target]
    if quantity in ("adjoint", "gradient"):
        return truth.adjoints[target]
    if quantity == "local":
        return sum(truth.local[target][k] for k in positions)
    raise ValueError(f"unknown quantity {quantity!r}")


def _mistakes(truth: _Truth, quantity: str, positions: tuple[int, ...]
              ) -> Iterator[Candidate]:
    if quantity == "value":
        return _roundings(truth, "value")
    if quantity == "local":
        return _local_mistakes(truth, positions)
    return _adjoint_mistakes(truth)


def _index(graph: Graph, node: str) -> int:
    try:
        return graph.ids.index(node)
    except ValueError:
        raise ValueError(f"no node {node!r} in the graph") from None


def _positions(graph: Graph, target: int, wrt: str | None) -> tuple[int, ...]:
    positions = tuple(k for k, j in enumerate(graph.inputs[target]) if graph.ids[j] == wrt)
    if not positions:
        raise ValueError(f"{wrt!r} is not an input of {graph.ids[target]!r}")
    return positions


def _label(graph: Graph, quantity: str, target: int, wrt: str | None) -> str:
    name = graph.ids[target]
    if quantity == "local":
        return derivative(name, wrt)
    if quantity == "gradient":
        return derivative(graph.ids[graph.output], name)
    return f"{name}'s {quantity}"


def _truth(graph: Graph, values: Sequence[float], adjoints: Sequence[float], seed: float,
           target: int) -> _Truth:
    tape = undefined_where_nan(compile_tape(graph.ops, graph.inputs, graph.output),
                               list(values))
    _, local = run_reverse(tape, list(values), graph.output)
    paths: list[list[tuple[int, int]]] = [[] for _ in graph.ids]
    for i, code, *_, ins in reversed(tape):
        if code >= 0:
            for k, j in enumerate(ins):
                paths[j].append((i, k))
    return _Truth(graph, tape, values, adjoints, seed, target, local, paths)


def _matching(found: list[Candidate], true: float, accepts: Callable[[float], bool]
              ) -> tuple[Misconception, ...]:
    kept: list[Misconception] = []
    for code, message, number in sorted(found, key=lambda c: _ORDER.index(c[0])):
        if not math.isfinite(number) or _same(number, true) or not accepts(number):
            continue
        if any(m.code == code and _same(m.would_give, number) for m in kept):
            continue
        kept.append(Misconception(code, message, number))
    return tuple(kept)


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_SAME)


# ----------------------------------------------------------------------------------------------
# The mistakes


def _adjoint_mistakes(truth: _Truth) -> Iterator[Candidate]:
    tangent, depends = _tangents(truth)
    yield from _fanout(truth, tangent, depends)
    yield from _overwritten_everywhere(truth, depends)
    yield from _values_for_derivatives(truth, tangent, depends)
    yield from _missing_factors(truth)
    yield from _skipped_factors(truth)
    yield from _seeds(truth, tangent)
    yield from _roundings(truth, "adjoint")


def _local_mistakes(truth: _Truth, positions: tuple[int, ...]) -> Iterator[Candidate]:
    target, graph = truth.target, truth.graph
    if len(graph.inputs[target]) == 1 and graph.ops[target] not in _LINEAR:
        yield ("value_for_derivative", _value_message(graph, target, truth.values[target],
                                                      truth.local[target][0]),
               truth.values[target])
    yield from _roundings(truth, "local", positions)


def _tangents(truth: _Truth) -> tuple[list, list[bool]]:
    """d node/d target for every node (the target taken as a leaf), and which nodes depend on
    the target at all."""
    target = truth.target
    tape = [entry for entry in truth.tape if entry[0] != target]
    depends = dependents(truth.graph.inputs, [target])
    tangent, _ = run_tangents(tape, list(truth.values), {target: 1.0}, depends)
    return tangent, depends


def _contribution(truth: _Truth, consumer: int, position: int) -> float:
    return truth.adjoints[consumer] * truth.local[consumer][position]


def _fanout(truth: _Truth, tangent: list, depends: list[bool]) -> Iterator[Candidate]:
    ids, true = _labels(truth.graph), truth.adjoints[truth.target]
    for v, paths in enumerate(truth.paths):
        if len(paths) < 2 or not depends[v]:
            continue
        parts = [_contribution(truth, c, k) for c, k in paths]
        feeds = _feeds(ids, paths)
        for (c, _), part in zip(paths, parts, strict=True):
            yield ("fanout_dropped",
                   f"{_through(ids, paths, c)} was dropped at {ids[v]}: {ids[v]}'s adjoint "
                   f"must sum every path ({ids[v]} feeds {feeds})",
                   true - part * tangent[v])
        last = paths[-1][0]
        yield ("fanout_overwritten",
               f"{ids[v]}'s adjoint was overwritten (=) instead of summed (+=): it kept only "
               f"{_through(ids, paths, last)}, the last one applied, though {ids[v]} feeds "
               f"{feeds}",
               true - sum(parts[:-1]) * tangent[v])


def derivative(of: str, by: str) -> str:
    """d(of)/d(by), a formula in parentheses: d(w*x)/dw, not dw*x/dw."""
    return f"d{_grouped(of)}/d{_grouped(by)}"


def _grouped(label: str) -> str:
    """A node's label where a name goes: a formula in parentheses ((a - t)'s adjoint)."""
    return label if label.isidentifier() else f"({label})"


def _labels(graph: Graph) -> list[str]:
    """Nodes as a student sees them: their names, and a step the program generated (z3 for
    the w*x inside z = w*x + b) as its formula."""
    return [node_id if graph.named[i] or graph.ops[i] in ("var", "const")
            else graph.formulas[i] for i, node_id in enumerate(graph.ids)]


def _through(ids: Sequence[str], paths: list[tuple[int, int]], consumer: int) -> str:
    twice = sum(1 for c, _ in paths if c == consumer) > 1
    return f"{'one' if twice else 'the'} path through {ids[consumer]}"


def _feeds(ids: Sequence[str], paths: list[tuple[int, int]]) -> str:
    """`h1 and h2`, `z3 twice`: the consumers in the order they were written."""
    counts: dict[str, int] = {}
    for c, _ in reversed(paths):
        counts[ids[c]] = counts.get(ids[c], 0) + 1
    names = [name if n == 1 else f"{name} {'twice' if n == 2 else f'{n} times'}"
             for name, n in counts.items()]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _overwritten_everywhere(truth: _Truth, depends: list[bool]) -> Iterator[Candidate]:
    """The reverse sweep written with `=` instead of `+=` at every node at once (one fan-out
    node overwritten alone is `_fanout`'s)."""
    ids = _labels(truth.graph)
    fanouts = [ids[v] for v, paths in enumerate(truth.paths) if len(paths) > 1 and depends[v]]
    if len(fanouts) < 2:
        return
    adjoints = [0.0] * len(ids)
    adjoints[truth.graph.output] = truth.seed
    for i, code, *_, ins in reversed(truth.tape):
        if code >= 0:
            g = adjoints[i]
            for j, d in zip(ins, truth.local[i], strict=True):
                adjoints[j] = g * d
    yield ("fanout_overwritten",
           f"every fan-out adjoint ({', '.join(fanouts)}) was overwritten (=) instead of "
           "summed (+=): each kept only its last path applied",
           adjoints[truth.target])


def _values_for_derivatives(truth: _Truth, tangent: list, depends: list[bool]
                            ) -> Iterator[Candidate]:
    graph, true = truth.graph, truth.adjoints[truth.target]
    for c, code, *_, ins in truth.tape:
        if code != 1 or graph.ops[c] in _LINEAR or not depends[ins[0]]:
            continue
        value, d = truth.values[c], truth.local[c][0]
        yield ("value_for_derivative", _value_message(graph, c, value, d),
               true + truth.adjoints[c] * (value - d) * tangent[ins[0]])


# Derivatives as students write them from the function's value rather than its input: the
# formula shown (None: the rule's own) and the number from the value.
BY_OUTPUT = {"tanh": ("1 - {0}²", lambda out: 1.0 - out * out),
             "sigmoid": ("{0}·(1 - {0})", lambda out: out * (1.0 - out)),
             "exp": (None, lambda out: out),
             "sqrt": (None, lambda out: 0.5 / out if out else math.inf)}


def _value_message(graph: Graph, c: int, value: float, d: float) -> str:
    labels, ins = _labels(graph), graph.inputs[c]
    name = labels[c] if graph.named[c] else f"{graph.ops[c]}({labels[ins[0]]})"
    if BY_OUTPUT.get(graph.ops[c], (None,))[0] is not None:
        rule = BY_OUTPUT[graph.ops[c]][0].format(name)
    else:
        template = rule_templates(graph.ops[c], graph.patterns[c] or (None,))[0]
        rule = (derivative(name, labels[ins[0]]) if template is None
                else template.format(labels[ins[0]]))
    return (f"you used {name} = {value:.4g}, the {graph.ops[c]} itself, where its derivative "
            f"{rule} = {d:.4g} belongs")


def _missing_factors(truth: _Truth) -> Iterator[Candidate]:
    """One path into the target written as its local derivative alone or as the consumer's
    adjoint alone."""
    ids, target = _labels(truth.graph), truth.target
    true = truth.adjoints[target]
    for c, k in truth.paths[target]:
        g, d = truth.adjoints[c], truth.local[c][k]
        rest = true - g * d
        local = f"the local derivative {derivative(ids[c], ids[target])} = {d:.4g}"
        through = _grouped(ids[c])
        upstream = f"{through}'s adjoint {g:.4g}"
        # the only path, without a factor of -1, is the sign flipped: sign_flip says so
        if not (rest == 0 and g == -1):
            yield ("missing_chain_factor",
                   f"the path through {through} used only {local}, without {upstream}",
                   rest + d)
        if not (rest == 0 and d == -1):
            yield ("missing_chain_factor",
                   f"the path through {through} used only {upstream}, without {local}",
                   rest + g)


def _skipped_factors(truth: _Truth) -> Iterator[Candidate]:
    """On a single chain from the target to the output, one local derivative further up left
    out of the product (σ'(z) in dL/dw = dL/da · σ'(z) · x): the adjoint divided by it. The
    factor next to the target is _missing_factors'."""
    ids, graph = _labels(truth.graph), truth.graph
    true = truth.adjoints[truth.target]
    node = truth.target
    first = True
    while node != graph.output and len(truth.paths[node]) == 1:
        c, k = truth.paths[node][0]
        factor = truth.local[c][k]
        if not first and factor not in (0.0, 1.0, -1.0) and math.isfinite(factor):
            yield ("missing_chain_factor",
                   f"the chain rule's factor {derivative(ids[c], ids[node])} = {factor:.4g} "
                   f"was left out on the way to {_grouped(ids[truth.target])}",
                   true / factor)
        first = False
        node = c


def _seeds(truth: _Truth, tangent: list) -> Iterator[Candidate]:
    output, seed = truth.graph.output, truth.seed
    name, value = truth.graph.ids[output], truth.values[output]
    unit = tangent[output]
    # A start within a few percent of the right one changes the answer no more than rounding
    # does (L = 1.02 for dL/dL = 1): such a number is no evidence of a wrong start.
    if not _near(1.0, seed):
        yield ("wrong_seed",
               f"the backward pass started from 1 instead of the upstream gradient {seed:.4g} "
               f"given for {name}", unit)
    wanted = f"d{name}/d{name} = 1" if seed == 1 else f"the upstream gradient {seed:.4g}"
    if not _near(value, seed):
        yield ("wrong_seed",
               f"the backward pass started from {name}'s value {value:.4g} instead of {wanted}",
               unit * value)


def _near(start: float, seed: float) -> bool:
    return abs(start - seed) <= 0.05 * abs(seed)


# ----------------------------------------------------------------------------------------------
# Early rounding: a forward and a backward sweep rounding every number a student writes down
# (values, local derivatives, adjoints), all but the target's own number.


def _significant(digits: int) -> Callable[[float], float]:
    return lambda v: float(f"{v:.{digits - 1}e}")


_ROUNDINGS = (("1 decimal place", lambda v: round(v, 1)),
              ("2 decimal places", lambda v: round(v, 2)),
              ("2 significant digits", _significant(2)),
              ("3 significant digits", _significant(3)))


def _roundings(truth: _Truth, quantity: str, positions: tuple[int, ...] = ()
               ) -> Iterator[Candidate]:
    true = _true(truth, quantity, positions)
    for mode, rounded in _ROUNDINGS:
        number = _rounded_sweep(truth, quantity, rounded, positions)
        message = (f"intermediate numbers were rounded to {mode} at every step (values, local "
                   "derivatives and adjoints)")
        final = _round(rounded, true)
        # the answer alone rounded (x*y's d/dy = 12345 as 12300) is no early rounding: no
        # number before it was rounded
        for found in (number, _round(rounded, number)):  # the answer at that rounding too
            if not _same(found, final):
                yield "early_rounding", message, found


def _rounded_sweep(truth: _Truth, quantity: str, rounded: Callable[[float], float],
                   positions: tuple[int, ...]) -> float:
    values, target = list(truth.values), truth.target
    for entry in truth.tape:
        i = entry[0]
        run_forward([entry], values)
        if i == target and quantity == "value":
            return values[i]
        values[i] = _round(rounded, values[i])
    if quantity == "value":
        return values[target]
    if quantity == "local":
        return sum(_partials_at(truth.tape, target, values)[k] for k in positions)
    return _rounded_reverse(truth, values, rounded)


def _partials_at(tape: list[tuple], i: int, values: list) -> tuple:
    return _partials_from_inputs(next(e for e in tape if e[0] == i), values)


def _partials_from_inputs(entry: tuple, values: list) -> tuple:
    """A node's partials at its inputs' (rounded) values, its output computed again from
    them: a rule that uses the output (σ' = σ(a)·σ(-a)) must not mix a rounded output with
    an unrounded function of the input."""
    i, code, forward, partials, *_, ins = entry
    args = [values[j] for j in ins]
    scratch = [*args, None]
    run_forward([(len(args), code, forward, partials, 0, 1 if len(args) > 1 else -1,
                  tuple(range(len(args))))], scratch)
    return node_partials(code, partials, args, scratch[-1])


def _rounded_reverse(truth: _Truth, values: list, rounded: Callable[[float], float]) -> float:
    output, target = truth.graph.output, truth.target
    adjoints = [0.0] * len(values)
    adjoints[output] = truth.seed
    for entry in reversed(truth.tape):
        i, code, ins = entry[0], entry[1], entry[6]
        if i == target:
            break
        if code < 0:
            continue
        g = adjoints[i] if i == output else _round(rounded, adjoints[i])
        local = _partials_from_inputs(entry, values)
        for j, d in zip(ins, local, strict=True):
            adjoints[j] += g * _round(rounded, d)
    return adjoints[target]


def _round(rounded: Callable[[float], float], v: float) -> float:
    return rounded(v) if math.isfinite(v) else v
