"""The evaluation loop over arrays: forward values with NumPy's broadcasting, and the reverse
sweep as vector-Jacobian products.

An elementwise op (every op of the table, ops.py) runs on the array backend; its partials are
elementwise, so its input's adjoint is the output's adjoint times the partial, summed over the
axes the input was broadcast along. A tensor op (tensor_ops.py) gives its inputs' adjoints
itself. The loop is iterative and the same input gives the same output.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import pairwise

import numpy as np

from .engine import CONST, VAR, liveness
from .errors import InputError
from .graph import Graph
from .ops import op_named
from .parse import ArrayLiteral
from .result import FINITE_DIFFERENCES
from .tensor_ops import TENSOR_OPS, bar, shape_text
from .tensor_result import (
    ArrayCheck,
    JacobianProduct,
    LocalJacobian,
    TensorEdge,
    TensorNode,
    TensorResult,
)


def is_tensor_program(graph: Graph, point: Mapping[str, object]) -> bool:
    """Whether the program needs the array loop: an array value or literal, or an op that is
    not elementwise."""
    return (any(isinstance(v, np.ndarray) and v.ndim > 0 for v in point.values())
            or any(isinstance(c, ArrayLiteral) for c in graph.constants)
            or any(op in TENSOR_OPS for op in graph.ops))


def unbroadcast(adjoint, shape: tuple[int, ...]):
    """The adjoint of an input broadcast to the adjoint's shape, summed back to its own."""
    adjoint = np.asarray(adjoint, dtype=float)
    if adjoint.shape == shape:
        return adjoint
    # a contribution that does not span every broadcast axis (a loss's target) spans them now
    adjoint = np.broadcast_to(adjoint, np.broadcast_shapes(adjoint.shape, shape))
    extra = adjoint.ndim - len(shape)
    if extra > 0:
        adjoint = adjoint.sum(axis=tuple(range(extra)))
    axes = tuple(k for k, n in enumerate(shape) if n == 1 and adjoint.shape[k] != 1)
    if axes:
        adjoint = adjoint.sum(axis=axes, keepdims=True)
    return adjoint.reshape(shape)


def _statement_of(graph: Graph, i: int) -> str:
    """The statement a node belongs to (the next named node: a statement's own nodes come
    just before it)."""
    for k in range(i, len(graph.ids)):
        if graph.named[k]:
            return graph.ids[k]
    return graph.ids[graph.output]


def _leaves(graph: Graph, point: Mapping[str, object]) -> list:
    from .gradient import missing_values

    values: list = [None] * len(graph.ids)
    for i, constant in enumerate(graph.constants):
        if constant is not None:
            values[i] = constant.array() if isinstance(constant, ArrayLiteral) else \
                np.float64(constant)
    missing = [graph.ids[i] for i in graph.variables if graph.ids[i] not in point]
    if missing:
        raise missing_values(missing, point, graph.variable_names)
    for i in graph.variables:
        value = point[graph.ids[i]]
        values[i] = value if isinstance(value, np.ndarray) else np.float64(value)
    return values


def _shape_error(graph: Graph, i: int, args: list, failure: Exception) -> InputError:
    shapes = " and ".join(shape_text(a) for a in args)
    statement = _statement_of(graph, i)
    formula = graph.formulas[i]
    detail = failure.message if isinstance(failure, InputError) else f"shapes {shapes} do " \
        "not broadcast together"
    if not graph.named[graph.ids.index(statement)]:  # the program's bare last expression
        return InputError(f"at {formula}: {detail}")
    where = f"statement {statement!r}" + ("" if statement == graph.ids[i] else
                                          f" (at {formula})")
    return InputError(f"{where}: {detail}")


def forward_pass(graph: Graph, point: Mapping[str, object]) -> tuple[list, dict]:
    """Every node's value over arrays (a shape error names its statement), and the ops bound
    to the array backend on the way (the backward pass reuses them)."""
    from .backends import array_backend

    backend = array_backend()
    values = _leaves(graph, point)
    bound: dict[str, tuple] = {}
    with np.errstate(all="ignore"):
        for i, op in enumerate(graph.ops):
            if op == VAR or op == CONST:
                continue
            args = [values[j] for j in graph.inputs[i]]
            try:
                values[i] = _forward(op, args, bound, backend)
            except (InputError, ValueError, IndexError) as failure:
                raise _shape_error(graph, i, args, failure) from None
    return values, bound


def evaluate_tensors(graph: Graph, point: Mapping[str, object], seed: float = 1.0,
                     warnings: tuple[str, ...] = (), data: frozenset[str] = frozenset()
                     ) -> TensorResult:
    """Forward values, adjoints and every edge's rule of a program over arrays; the output
    must be a scalar (a loss). The variables in `data` are held fixed: no adjoint, no
    gradient entry."""
    values, bound = forward_pass(graph, point)
    with np.errstate(all="ignore"):
        output = scalar_output(graph, values, "grad")
        varying = _varying(graph, data | integer_variables(graph))
        adjoints, locals_ = _reverse(graph, values, seed, bound, varying)
    finite = [not varying[i] or adjoints[i] is None or bool(np.isfinite(adjoints[i]).all())
              for i in range(len(graph.ids))]
    nodes = tuple(_node(graph, i, values, adjoints, locals_, varying, finite)
                  for i in range(len(graph.ids)))
    flags = [*mismatched_losses(graph, values),
             *(f"{n.id} = {n.expr}: {n.message}" for n in nodes if n.message is not None)]
    return TensorResult(
        expression=graph.source,
        at=tuple((graph.ids[i], values[i]) for i in graph.variables),
        output=graph.ids[graph.output],
        value=float(output),
        gradient=tuple((graph.ids[i], plain(adjoints[i]) if adjoints[i] is not None
                        else plain(np.zeros_like(values[i]))) for i in graph.variables
                       if varying[i]),
        nodes=nodes,
        warnings=tuple(warnings) + tuple(flags),
    )


def mismatched_losses(graph: Graph, values: list) -> list[str]:
    """A warning for each mse or bce of two arrays of different shapes: they broadcast, so a
    (3, 1) prediction against a (3,) target compares every prediction with every target (9
    pairs, not 3), as NumPy and PyTorch broadcast (PyTorch warns of it too)."""
    warnings = []
    for i, op in enumerate(graph.ops):
        tensor = TENSOR_OPS.get(op)
        if tensor is None or not tensor.compares:
            continue
        shapes = [np.shape(values[j]) for j in graph.inputs[i]]
        sizes = [int(np.prod(shape)) for shape in shapes]
        # (1, 3) against (3,) pairs one to one; (3, 1) against (3,) makes 9 pairs
        if min(sizes) > 1 and int(np.prod(np.broadcast_shapes(*shapes))) > max(sizes):
            a, b = (shape_text(values[j]) for j in graph.inputs[i])
            both = shape_text(np.empty(np.broadcast_shapes(*shapes)))
            warnings.append(f"{graph.ids[i]} = {graph.formulas[i]}: shapes {a} and {b} "
                            f"broadcast to {both}, pairing every element of one with every "
                            "element of the other; give both the same shape")
    return warnings


def integer_variables(graph: Graph) -> frozenset[str]:
    """Variables given as a tensor op's whole-number argument (a class, an axis, an index):
    they have no derivative, so they are held fixed."""
    return frozenset(whole_number_variables(graph))


def whole_number_variables(graph: Graph) -> dict[str, str]:
    """The integer variables, each with the name of an op that takes it."""
    found: dict[str, str] = {}
    for i, op in enumerate(graph.ops):
        tensor = TENSOR_OPS.get(op)
        if tensor is not None:
            for k, j in enumerate(graph.inputs[i]):
                if k in tensor.integer_args and graph.ops[j] == VAR:
                    found.setdefault(graph.ids[j], tensor.called)
    return found


def refuse_whole_numbers(graph: Graph, names, asked: str) -> None:
    """Refuse differentiating by an integer variable (`asked` says how it was asked for:
    "--wrt 'k'"): cross_entropy's class k has no derivative, and moving it off a whole number
    is an error of the op's, not an answer."""
    whole = whole_number_variables(graph)
    for name in names:
        if name in whole:
            raise InputError(f"{asked.format(name=name)}: {no_derivative(name, whole[name])}")


def no_derivative(name: str, op: str) -> str:
    return (f"{name!r} is a whole number that {op} takes (a class, an axis or an index); it "
            "has no derivative")


def _varying(graph: Graph, data: frozenset[str]) -> list[bool]:
    varying = [False] * len(graph.ids)
    for i, op in enumerate(graph.ops):
        varying[i] = (graph.ids[i] not in data) if op == VAR else any(
            varying[j] for j in graph.inputs[i])
    return varying


def _forward(op: str, args: list, bound: dict, backend):
    tensor = TENSOR_OPS.get(op)
    if tensor is not None:
        return np.asarray(tensor.forward(*args), dtype=float)
    entry = bound.get(op)
    if entry is None:
        table_op = op_named(op)
        entry = bound[op] = (table_op.calling_convention, *backend.bound(table_op))
    code, forward, _ = entry
    if code == 1:
        return np.asarray(forward(args[0]), dtype=float)
    if code == 2:
        if op not in ("add", "sub", "mul", "div", "pow", "matmul"):
            np.broadcast_shapes(np.shape(args[0]), np.shape(args[1]))
        return np.asarray(forward(args[0], args[1]), dtype=float)
    np.broadcast_shapes(*(np.shape(a) for a in args))
    return np.asarray(forward(*args), dtype=float)


def _reverse(graph: Graph, values: list, seed: float, bound: dict, varying: list[bool]
             ) -> tuple[list, list]:
    adjoints: list = [None] * len(values)
    locals_: list = [None] * len(values)
    adjoints[graph.output] = np.asarray(seed, dtype=float)
    live = liveness(graph.inputs, graph.output)
    for i in range(len(values) - 1, -1, -1):
        op = graph.ops[i]
        if op == VAR or op == CONST or not live[i]:
            continue
        ins = graph.inputs[i]
        args = [values[j] for j in ins]
        g = adjoints[i]
        tensor = TENSOR_OPS.get(op)
        if tensor is not None:
            if g is not None and np.any(np.isnan(values[i])):
                # an undefined output element that reaches the output has no derivative,
                # whatever the op's rule gives: sum(log(v)) at v = [1, -1] is NaN, and so is
                # its whole gradient, as in the scalar engine (and as sum(log(v)) + w was)
                g = np.where(np.isnan(values[i]) & (g != 0), np.nan, g)
            # a loss of two broadcast arrays gives each the broadcast shape: summed back
            contributions = tuple(
                None if c is None else unbroadcast(c, np.shape(a))
                for c, a in zip(tensor.vjp(g, args, values[i]) if g is not None
                                else (None,) * len(ins), args, strict=True))
        else:
            local = local_partials(bound, op, args, values[i])
            local = tuple(np.where(np.isnan(values[i]), np.nan, d) if np.any(
                np.isnan(values[i])) else np.asarray(d, dtype=float) for d in local)
            locals_[i] = local
            contributions = tuple(None if g is None else unbroadcast(g * d, np.shape(a))
                                  for d, a in zip(local, args, strict=True))
        for j, contribution in zip(ins, contributions, strict=True):
            if contribution is None or not varying[j]:
                continue
            contribution = np.asarray(contribution, dtype=float)
            adjoints[j] = contribution if adjoints[j] is None else adjoints[j] + contribution
    return adjoints, locals_


def _node(graph: Graph, i: int, values: list, adjoints: list, locals_: list,
          varying: list[bool], finite: list[bool]) -> TensorNode:
    from .rules import rule_templates

    op, ins = graph.ops[i], graph.inputs[i]
    names = [graph.ids[j] for j in ins]
    edges: tuple[TensorEdge, ...] = ()
    if ins:
        tensor = TENSOR_OPS.get(op)
        if tensor is not None:
            texts = tensor.rules(graph.ids[i], names)
            edges = tuple(TensorEdge(names[k], None, texts[k] if varying[j] else None)
                          for k, j in enumerate(ins))
        else:
            pattern = tuple(None if c is None or isinstance(c[0], ArrayLiteral) else c
                            for c in graph.constant_inputs(i))
            rules = rule_templates(op, pattern)
            local = locals_[i]
            edges = tuple(
                TensorEdge(names[k], plain(local[k]) if local is not None else None,
                           _elementwise_rule(graph, i, k, rules[k].format(*names), values))
                if varying[j] and rules[k] is not None
                else TensorEdge(names[k], None, None) for k, j in enumerate(ins))
    value = values[i]
    adjoint = adjoints[i] if varying[i] else None
    if adjoint is None and varying[i]:
        adjoint = np.zeros_like(value)
    status, message = _produced(graph, i, values, adjoints, locals_, finite)
    if status == "ok" and ins:
        status, message = kink_status(graph, i, values)
    return TensorNode(graph.ids[i], op, graph.formulas[i], plain(value),
                      None if adjoint is None else plain(adjoint), edges, status, message,
                      graph.named[i])


def kink_status(graph: Graph, i: int, values: list) -> tuple[str, str | None]:
    """An op node evaluated at a kink in some elements: flagged, with its convention."""
    op, args = graph.ops[i], [values[j] for j in graph.inputs[i]]
    if op not in TENSOR_OPS:
        return _kinks(op, args)
    if TENSOR_OPS[op].kink is not None:
        note = TENSOR_OPS[op].kink(args, values[i])
        if note is not None:
            return "kink", f"kink: {note}"
    return "ok", None


def value_flags(graph: Graph, values: list) -> list[str]:
    """grad's warnings that the forward values alone decide (for the modes that run no
    reverse pass): each node that makes a value not finite from finite inputs, each node at a
    kink, and losses over arrays that broadcast."""
    unknown, clear = [None] * len(values), [True] * len(values)
    flags = mismatched_losses(graph, values)
    with np.errstate(all="ignore"):
        for i, ins in enumerate(graph.inputs):
            if not ins:
                continue
            status, message = _produced(graph, i, values, unknown, unknown, clear)
            if status == "ok":
                status, message = kink_status(graph, i, values)
            if message is not None:
                flags.append(f"{graph.ids[i]} = {graph.formulas[i]}: {message}")
    return flags


def _elementwise_rule(graph: Graph, i: int, k: int, rule: str, values: list) -> str:
    """`x̄ += z̄ ⊙ (rule)`, summed over the broadcast axes when the input is smaller."""
    node, source = graph.ids[i], graph.ids[graph.inputs[i][k]]
    scalar_in = np.ndim(values[graph.inputs[i][k]]) == 0
    product = "·" if scalar_in or np.ndim(values[i]) == 0 else "⊙"
    rule = f"({rule})" if rule.startswith("-") else rule
    text = f"{bar(source)} += {bar(node)} {product} {rule}" if rule != "1" else \
        f"{bar(source)} += {bar(node)}"
    if np.shape(values[graph.inputs[i][k]]) != np.shape(values[i]):
        text = f"{bar(source)} += Σ {bar(node)} {product} {rule}" if rule != "1" else \
            f"{bar(source)} += Σ {bar(node)}"
        text += " (summed over the broadcast axes)"
    return text


def _kinks(op: str, args: list) -> tuple[str, str | None]:
    """An elementwise op evaluated at a kink in some elements: flagged, with the convention
    its derivative follows there."""
    at_kink = kink_mask(op, args)
    if at_kink is None or not np.any(at_kink):
        return "ok", None
    if not at_kink.ndim:  # one number (abs(v[1])): as the scalar engine says it
        return "kink", f"kink: {op_named(op).convention}"
    count = int(np.sum(at_kink))
    first = [int(k) for k in np.argwhere(at_kink)[0]]
    return "kink", (f"kink in {count} of {at_kink.size} elements (first at {first}): "
                    f"{op_named(op).convention}")


def kink_mask(op: str, args: list) -> np.ndarray | None:
    """Which elements of an elementwise op sit at a kink (None for an op without one)."""
    table_op = op_named(op)
    if table_op.edges is None or table_op.convention is None:
        return None
    try:
        edges = [np.asarray(e, dtype=float) for e in table_op.edges(*args)]
    except (TypeError, ValueError, ArithmeticError):
        return None
    at_kink = np.zeros(np.broadcast_shapes(*(e.shape for e in edges)), dtype=bool)
    for edge in edges:
        at_kink |= edge == 0  # in place: a 0-d array stays an array, which takes assignment
    if np.any(at_kink) and table_op.kink is not None:
        # an op with its own test (pow: an edge at base 0, a kink only for exponents in [0, 1))
        # decides each element on its edge, as the scalar engine decides a node
        spread = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in args))
        for index in map(tuple, np.argwhere(at_kink)):
            at_kink[index] = table_op.kink(*(float(a[index]) for a in spread)) is not None
    return at_kink


def plain(value):
    """A 0-d array as a float, arrays as they are."""
    array = np.asarray(value, dtype=float)
    return float(array) if array.ndim == 0 else array


def _produced(graph: Graph, i: int, values: list, adjoints: list, locals_: list,
              finite: list[bool]) -> tuple[str, str | None]:
    """A node's status as in the scalar engine (status.py): the node whose finite inputs give
    a non-finite value, or a non-finite derivative, is flagged, with the op and the input of
    its first such element; nodes downstream of it, and upstream of it on the backward pass,
    are `propagated`. `finite` says, per node, that its adjoint is finite (or that it has
    none): a derivative is looked at only where it made an input's adjoint not finite."""
    from .status import not_finite

    op, ins = graph.ops[i], graph.inputs[i]
    value = np.asarray(values[i], dtype=float)
    args = [np.asarray(values[j], dtype=float) for j in ins]
    bad = ~np.isfinite(value)
    if np.any(bad):
        if op in TENSOR_OPS:
            if not all(np.all(np.isfinite(a)) for a in args):
                return "propagated", None
            first = tuple(int(k) for k in np.argwhere(bad)[0]) if value.ndim else ()
            # finite inputs: NaN is undefined; infinity a pole of a loss's log, else overflow
            status = "undefined" if np.isnan(value[first]) else (
                "infinite" if op == "bce" else "overflow")
            what = "not a number" if status == "undefined" else "infinite"
            return status, (f"{graph.formulas[i]} is {what} at finite inputs"
                            f"{_where(bad, first)} [{status}]")
        spread = np.broadcast_arrays(*args, value) if args else [value]
        produced = bad & np.logical_and.reduce([np.isfinite(a) for a in spread[:-1]]) \
            if args else bad
        if not np.any(produced):
            return "propagated", None
        first = tuple(int(k) for k in np.argwhere(produced)[0]) if value.ndim else ()
        status, message = not_finite(op_named(op), float(value[first]),
                                     [float(a[first]) for a in spread[:-1]])
        return status, message.replace(f" [{status}]", _where(produced, first) + f" [{status}]")
    local = locals_[i]
    g = adjoints[i]
    suspects = [k for k, j in enumerate(ins) if not finite[j]]
    if suspects and local is None and op in TENSOR_OPS and g is not None and finite[i]:
        found = _passed_not_finite(graph, i, values, g, None)
        if found is not None and found[0] in suspects:
            k, passed = found
            if not np.any(np.isnan(passed)):  # finite numbers whose product is too large
                return "overflow", (f"the adjoint passed to {graph.ids[ins[k]]} overflows "
                                    "float64 [overflow]")
            return "nondifferentiable", (f"its backward rule gives {graph.ids[ins[k]]} a "
                                         "non-finite adjoint here [nondifferentiable]")
    if suspects and local is not None:
        for k in suspects:
            j = ins[k]
            derivative = np.asarray(local[k], dtype=float)
            if np.all(np.isfinite(derivative)):
                continue
            spread = np.broadcast_arrays(*args, derivative)
            undefined = ~np.isfinite(derivative) & np.logical_and.reduce(
                [np.isfinite(a) for a in spread[:-1]])
            if np.any(undefined):
                first = tuple(int(n) for n in np.argwhere(undefined)[0]) \
                    if derivative.ndim else ()
                kind = "nan" if np.isnan(derivative[first]) else "infinite"
                return "nondifferentiable", (
                    f"derivative with respect to {graph.ids[j]} is {kind} here"
                    f"{_where(undefined, first)} [nondifferentiable]")
        if g is not None and finite[i]:
            for k in suspects:
                j = ins[k]
                with np.errstate(all="ignore"):
                    passed = np.asarray(g * np.asarray(local[k], dtype=float), dtype=float)
                if not np.all(np.isfinite(passed)):
                    over = ~np.isfinite(passed)
                    first = tuple(int(n) for n in np.argwhere(over)[0]) if over.ndim else ()
                    return "overflow", (f"the adjoint passed to {graph.ids[j]} overflows "
                                        f"float64{_where(over, first)} [overflow]")
    adjoint = adjoints[i]
    if not finite[i] and ins:  # a variable's own value is what its status is about
        # the adjoint comes from the consumers', where it is flagged, unless their finite
        # contributions overflow in the sum (or in a tensor op's backward rule)
        if any(_flagged_backward(graph, c, values, adjoints, locals_) for c in graph.consumers[i]):
            return "propagated", None
        bad = ~np.isfinite(np.asarray(adjoint, dtype=float))
        first = tuple(int(k) for k in np.argwhere(bad)[0]) if bad.ndim else ()
        return "overflow", f"its adjoint overflows float64{_where(bad, first)} [overflow]"
    return "ok", None


def _flagged_backward(graph: Graph, c: int, values: list, adjoints: list, locals_: list
                      ) -> bool:
    """Whether a consumer's backward step is not finite (and flagged there): its value or
    adjoint, or the adjoints it passes on."""
    g = adjoints[c]
    if g is None:
        return False
    if not np.all(np.isfinite(g)) or not np.all(np.isfinite(values[c])):
        return True
    return _passed_not_finite(graph, c, values, g, locals_[c]) is not None


def _passed_not_finite(graph: Graph, c: int, values: list, g, local
                       ) -> tuple[int, np.ndarray] | None:
    """The first input to which node c passes a non-finite adjoint (its finite adjoint g times
    its derivative, or a tensor op's backward rule), and that adjoint; or None."""
    args = [values[j] for j in graph.inputs[c]]
    with np.errstate(all="ignore"):
        if local is not None:
            passed = [g * np.asarray(d, dtype=float) for d in local]
        else:
            passed = list(TENSOR_OPS[graph.ops[c]].vjp(g, args, values[c]))
    return next(((k, np.asarray(p, dtype=float)) for k, p in enumerate(passed)
                 if p is not None and not np.all(np.isfinite(np.asarray(p, dtype=float)))),
                None)


def _where(mask: np.ndarray, first: tuple) -> str:
    """` (element [1], 1 of 3)` for an array, nothing for a scalar."""
    if not first and mask.ndim == 0:
        return ""
    return f" (element {list(first)}, {int(np.sum(mask))} of {mask.size})"


def _status(value, adjoint) -> tuple[str, str | None]:
    for what, array in (("value", value), ("adjoint", adjoint)):
        if array is None:
            continue
        array = np.asarray(array, dtype=float)
        bad = ~np.isfinite(array)
        if np.any(bad):
            count = int(np.sum(bad))
            first = tuple(int(k) for k in np.argwhere(bad)[0]) if array.ndim else ()
            where = f" (first at {list(first)})" if first else ""
            kind = "undefined" if np.any(np.isnan(array)) else "infinite"
            total = f"{count} of {array.size} elements of the {what}" if array.ndim else \
                f"the {what}"
            return kind, f"{total} not finite{where}"
    return "ok", None


# gradcheck's float64 defaults (torch.autograd.gradcheck)
FD_EPS, FD_ATOL, FD_RTOL = 1e-6, 1e-5, 1e-3
MAX_CHECKED_ELEMENTS = 2_000


def forward_value(graph: Graph, point: Mapping[str, object]) -> float:
    """The output's value alone (no adjoints, no result)."""
    return float(forward_pass(graph, point)[0][graph.output])


def finite_difference_check(graph: Graph, point: Mapping[str, object],
                            result: TensorResult) -> ArrayCheck:
    """Every gradient element against a central difference of the output (gradcheck's step
    and tolerances); past MAX_CHECKED_ELEMENTS elements, an even sample of them."""
    sizes = {name: int(np.size(value)) for name, value in result.gradient}
    total = sum(sizes.values())
    stride = max(1, -(-total // MAX_CHECKED_ELEMENTS))
    entries = []
    counter = 0
    kinks = any(node.status == "kink" for node in result.nodes)
    for name, analytic in result.gradient:
        base = np.array(point[name], dtype=float)
        numeric = np.full(base.shape, np.nan)
        for index in np.ndindex(base.shape):
            counter += 1
            if (counter - 1) % stride:
                continue
            up, down = base.copy(), base.copy()
            up[index] += FD_EPS
            down[index] -= FD_EPS
            numeric[index] = (forward_value(graph, {**point, name: up})
                              - forward_value(graph, {**point, name: down})) / (2 * FD_EPS)
        compared = np.isfinite(numeric) & np.isfinite(np.asarray(analytic, dtype=float))
        agree = np.abs(np.asarray(analytic) - numeric) <= FD_ATOL + FD_RTOL * np.abs(numeric)
        bad = int(np.sum(compared & ~agree))
        if (bad and kinks) or not np.any(compared):
            # a difference across a kink measures neither side's slope; nothing finite to
            # compare is no agreement
            entries.append((name, plain(numeric), None))
            continue
        entries.append((name, plain(numeric), bad == 0))
    notes = [] if stride == 1 else [sampled(total, stride)]
    if any(agrees is None for *_, agrees in entries):
        notes.append("not compared where either derivative is not finite, or where a node is "
                     "at a kink (the derivative there is a convention)")
    from .gradient_check import verdict_of

    return ArrayCheck(verdict_of([agrees for *_, agrees in entries]), "; ".join(notes) or None,
                      FINITE_DIFFERENCES, tuple(entries))


def forward_mode_check(graph: Graph, point: Mapping[str, object], result) -> ArrayCheck:
    """Every gradient element against forward mode: one forward pass seeded with that
    element's unit direction (past MAX_CHECKED_ELEMENTS elements, an even sample of them)."""
    from .result import FORWARD_MODE, FORWARD_RTOL

    total = sum(int(np.size(value)) for _, value in result.gradient)
    stride = max(1, -(-total // MAX_CHECKED_ELEMENTS))
    entries = []
    counter = 0
    for name, analytic in result.gradient:
        shape = np.shape(point[name])
        found = np.full(shape, np.nan)
        for index in np.ndindex(shape):
            counter += 1
            if (counter - 1) % stride:
                continue
            direction = np.zeros(shape)
            direction[index] = 1.0
            _, tangent = tangents(graph, point, {name: direction})
            out = tangent[graph.output]
            found[index] = 0.0 if out is None else float(out)
        analytic = np.asarray(analytic, dtype=float)
        compared = ~np.isnan(found) & np.isfinite(analytic) & np.isfinite(found)
        scale = max(1.0, float(np.max(np.abs(found), initial=0.0, where=compared)))
        with np.errstate(all="ignore"):
            close = np.abs(analytic - found) <= FORWARD_RTOL * np.abs(found) + 1e-12 * scale
        wrong = int(np.sum(compared & ~close))
        entries.append((name, plain(found), None if not np.any(compared) else wrong == 0))
    verdicts = [agrees for *_, agrees in entries]
    notes = [] if stride == 1 else [sampled(total, stride)]
    if None in verdicts:
        notes.append("not compared where either derivative is not finite")
    from .gradient_check import verdict_of

    return ArrayCheck(verdict_of(verdicts), "; ".join(notes) or None, FORWARD_MODE,
                      tuple(entries))


def sampled(total: int, stride: int) -> str:
    """The note of a check that compared an even sample of the gradient's elements."""
    last = 0 if stride % 100 in (11, 12, 13) else stride % 10
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(last, "th")
    return (f"{total:,} gradient elements: every {stride:,}{suffix} was compared (the others "
            "show as nan, null in JSON)")


MAX_JACOBIAN_ENTRIES = 400  # rows × columns of a local Jacobian shown
MAX_PATHS = 16


def local_jacobians(graph: Graph, point: Mapping[str, object], result: TensorResult
                    ) -> tuple[LocalJacobian, ...]:
    """Every edge's local Jacobian ∂node/∂input as a matrix (the elements flattened in row
    order), for the edges small enough to show, computed from the same vector-Jacobian
    products as the backward pass."""
    values, bound = forward_pass(graph, point)
    varying = [node.adjoint is not None for node in result.nodes]
    found = []
    with np.errstate(all="ignore"):
        for i, op in enumerate(graph.ops):
            if op == VAR or op == CONST or not varying[i]:
                continue
            args = [values[j] for j in graph.inputs[i]]
            for k, j in enumerate(graph.inputs[i]):
                if varying[j] and np.size(values[i]) * np.size(values[j]) <= \
                        MAX_JACOBIAN_ENTRIES:
                    found.append(LocalJacobian(graph.ids[i], graph.ids[j],
                                               _local_jacobian(op, args, values[i], k, bound)))
    return tuple(found)


def _local_jacobian(op: str, args: list, out, k: int, bound: dict) -> np.ndarray:
    """∂out/∂args[k] as a matrix: row r is the vector-Jacobian product of the r-th unit
    vector of the output."""
    out = np.asarray(out)
    rows = []
    for r in range(out.size):
        unit = np.zeros(out.size)
        unit[r] = 1.0
        rows.append(np.ravel(_vjp(op, unit.reshape(out.shape), args, out, bound)[k]))
    return np.array(rows, dtype=float).reshape(out.size, np.size(args[k]))


def _vjp(op: str, g, args: list, out, bound: dict) -> tuple:
    tensor = TENSOR_OPS.get(op)
    if tensor is not None:
        return tuple(np.zeros(np.shape(a)) if c is None else unbroadcast(c, np.shape(a))
                     for c, a in zip(tensor.vjp(g, args, out), args, strict=True))
    local = local_partials(bound, op, args, out)
    return tuple(unbroadcast(g * d, np.shape(a)) for d, a in zip(local, args, strict=True))


def local_partials(bound: dict, op: str, args: list, out) -> tuple:
    """An elementwise op's partials by each input, in its calling convention."""
    code, _, partials = bound[op]
    if code == 1:
        return (partials(args[0], out),)
    if code == 2:
        return tuple(partials(args[0], args[1], out))
    return tuple(partials(tuple(args), out))


def jacobian_products(graph: Graph, result: TensorResult,
                      jacobians: tuple[LocalJacobian, ...]) -> tuple[JacobianProduct, ...]:
    """For each variable whose every path to the output has its local Jacobians shown: the
    gradient as the sum over paths of the product of the Jacobians along each (the chain rule
    written with matrices), which equals the backward pass's."""
    by_edge = {(j.node, j.input): j.matrix for j in jacobians}
    consumers: dict[str, list[str]] = {}
    for i, ins in enumerate(graph.inputs):
        for j in ins:
            consumers.setdefault(graph.ids[j], []).append(graph.ids[i])
    live = set(_live_ids(graph))
    products = []
    for name, gradient in result.gradient:
        paths = _paths(name, result.output, consumers, live)
        if not paths or len(paths) > MAX_PATHS or any(
                (b, a) not in by_edge for path in paths for a, b in pairwise(path)):
            continue
        total = None
        for path in paths:
            product = np.eye(1)
            for a, b in reversed(list(pairwise(path))):
                product = product @ by_edge[(b, a)]
            total = product if total is None else total + product
        products.append(JacobianProduct(name, tuple(tuple(p) for p in paths),
                                        total.reshape(np.shape(gradient))))
    return tuple(products)


def _live_ids(graph: Graph) -> list[str]:
    live = liveness(graph.inputs, graph.output)
    return [node_id for node_id, alive in zip(graph.ids, live, strict=True) if alive]


def _paths(source: str, output: str, consumers: dict, live: set) -> list[list[str]]:
    """Every path from `source` to the output (at most MAX_PATHS + 1 are collected)."""
    paths: list[list[str]] = []
    stack = [[source]]
    while stack and len(paths) <= MAX_PATHS:
        path = stack.pop()
        if path[-1] == output:
            paths.append(path)
            continue
        for nxt in dict.fromkeys(consumers.get(path[-1], [])):
            if nxt in live:
                stack.append([*path, nxt])
    return paths


MAX_ARRAY_JACOBIAN_WORK = 5_000_000  # output elements × nodes: one backward pass each
# output elements × the elements of every node, which each backward pass goes over (1,000
# outputs of tanh(W @ x) with W 1000 × 1000 is 2e9: minutes and gigabytes)
MAX_ARRAY_JACOBIAN_ELEMENTS = 50_000_000


def element_labels(name: str, value) -> list[str]:
    """`W[0,1]` for each element of an array in row order; the name alone for a scalar."""
    shape = np.shape(value)
    if not shape:
        return [name]
    return [f"{name}[{','.join(str(k) for k in index)}]" for index in np.ndindex(shape)]


def array_jacobian(graph: Graph, point: Mapping[str, object], output: int,
                   data: frozenset[str] = frozenset()) -> tuple[list[str], list[str], list]:
    """The full Jacobian of a node over arrays with respect to every variable element: a
    backward pass seeded with each unit vector of the output (rows: the output's elements,
    columns: the variables' elements, in row order)."""
    from .errors import LimitError

    values, bound = forward_pass(graph, point)
    with np.errstate(all="ignore"):
        out = np.asarray(values[output])
        if out.size * len(graph.ids) > MAX_ARRAY_JACOBIAN_WORK:
            raise LimitError(f"jacobian: {out.size:,} output elements × {len(graph):,} nodes "
                             f"is too much work (at most {MAX_ARRAY_JACOBIAN_WORK:,})")
        elements = sum(int(np.size(v)) for v in values)
        if out.size * elements > MAX_ARRAY_JACOBIAN_ELEMENTS:
            raise LimitError(f"jacobian: {out.size:,} output elements × {elements:,} elements "
                             f"of the program's nodes is too much work (at most "
                             f"{MAX_ARRAY_JACOBIAN_ELEMENTS:,}); ask for a smaller output, or "
                             "use grad for the gradient of a scalar loss")
        varying = _varying(graph, data | integer_variables(graph))
        variables = [i for i in graph.variables if varying[i]]
        rows = []
        for r in range(out.size):
            seed = np.zeros(out.size)
            seed[r] = 1.0
            adjoints, _ = _reverse(_output_at(graph, output), values, seed.reshape(out.shape),
                                   bound, varying)
            rows.append(tuple(float(v) for i in variables for v in np.ravel(
                adjoints[i] if adjoints[i] is not None else np.zeros(np.shape(values[i])))))
    columns = [label for i in variables for label in element_labels(graph.ids[i], values[i])]
    return element_labels(graph.ids[output], out), columns, rows


def _output_at(graph: Graph, output: int) -> Graph:
    from dataclasses import replace

    return replace(graph, output=output)


MAX_ARRAY_HESSIAN_ENTRIES = 400  # variable elements of a Hessian over arrays
HESSIAN_STEP = 1e-5


def scalar_output(graph: Graph, values: list, command: str):
    """The output's value, which `command` needs to be a scalar (a loss)."""
    output = values[graph.output]
    if np.ndim(output) != 0:
        raise InputError(f"the output {graph.ids[graph.output]!r} has shape "
                         f"{shape_text(output)}; {command} needs a scalar output (a loss): "
                         "reduce it with sum(...) or mean(...)")
    return output


def loss_and_gradient(graph: Graph, point: Mapping[str, object], params: list[str],
                      command: str = "training") -> tuple[float, dict[str, object], list]:
    """The output, its gradient by the named variables only (every other one held fixed), and
    every node's value (so a non-finite loss can be traced to the node that made it)."""
    values, bound = forward_pass(graph, point)
    output = scalar_output(graph, values, command)
    fixed = frozenset(name for name in graph.variable_names if name not in params)
    with np.errstate(all="ignore"):
        adjoints, _ = _reverse(graph, values, 1.0, bound, _varying(graph, fixed))
    position = {graph.ids[i]: i for i in graph.variables}
    gradient = {}
    for name in params:
        adjoint = adjoints[position[name]]
        gradient[name] = plain(adjoint if adjoint is not None else
                                np.zeros_like(values[position[name]]))
    return float(output), gradient, values


def first_nonfinite(graph: Graph, values: list) -> str | None:
    """The first node in evaluation order whose value is not finite, with its statement:
    `statement 'L' (at z5**2): the value not finite`."""
    for i, value in enumerate(values):
        status, message = _status(value, None)
        if status != "ok":
            statement = _statement_of(graph, i)
            where = f"{graph.ids[i]} = {graph.formulas[i]}" if graph.named[i] else \
                f"statement {statement!r} (at {graph.formulas[i]})"
            return f"{where}: {message}"
    return None


def flat_gradient(graph: Graph, point: Mapping[str, object], names: list[str]) -> np.ndarray:
    """The gradient with respect to the named variables, their elements in row order."""
    _, gradient, _ = loss_and_gradient(graph, point, names, "the Hessian")
    return np.concatenate([np.ravel(gradient[name]) for name in names])


def array_hessian(graph: Graph, point: Mapping[str, object], names: list[str],
                  data: frozenset[str] = frozenset()
                  ) -> tuple[list[str], np.ndarray, list[str]]:
    """Second derivatives with respect to every element of the named variables, symmetrised,
    with grad's warnings at the point and a warning for the columns differences cannot give.

    A column is the central difference of the reverse-mode gradient with a step of 1e-5 times
    the element's size (at least 1e-5), taken when the step is free of kinks (see
    _second_differences). Where this element moves a node sitting at a kink at the point,
    each entry is the two sides' value where they agree (0 for abs at 0) and undefined where
    they do not (relu(x)**2 at 0: 0 below, 2 above); otherwise smaller steps are tried, down to
    1e-10 of the element's size."""
    from .errors import LimitError

    labels = [label for name in names for label in element_labels(name, point[name])]
    if len(labels) > MAX_ARRAY_HESSIAN_ENTRIES:
        raise LimitError(f"hessian over arrays works on up to {MAX_ARRAY_HESSIAN_ENTRIES} "
                         f"variable elements (these have {len(labels):,}); choose fewer with "
                         "--wrt")
    centre = flat_gradient(graph, point, names)
    at_point = evaluate_tensors(graph, point, data=data)
    warnings = list(at_point.warnings)
    finite = np.isfinite(centre)
    if not finite.all():
        shown = _few([label for label, ok in zip(labels, finite, strict=True) if not ok])
        warnings.append(f"the gradient by {shown} is not finite at this point, so its rows and "
                        "columns of the Hessian are left undefined (nan)")
    values = [node.value for node in at_point.nodes]
    kinks = kinks_at(graph, values)
    columns: list[np.ndarray] = []
    notes: dict[str, list[tuple[str, str]]] = {}
    for name in names:
        base = np.array(point[name], dtype=float)
        for index in np.ndindex(base.shape):
            scale = max(1.0, abs(float(base[index])))

            def moved(offset: float, index=index, base=base, name=name) -> dict:
                shifted = base.copy()
                shifted[index] += offset
                return {**point, name: shifted}

            def on_kink(moved=moved, scale=scale) -> bool:
                nearby, _ = forward_pass(graph, moved(HESSIAN_STEP * scale))
                return moves_a_kink(graph, kinks, values, nearby)

            if not finite[len(columns)]:  # said once, above: its row and column are nan
                columns.append(np.full(len(labels), np.nan))
                continue
            column, note = _second_differences(
                lambda offset, moved=moved: flat_gradient(graph, moved(offset), names), centre,
                scale, on_kink, labels[len(columns)], len(columns))
            if note is not None:
                notes.setdefault(note[0], []).append((labels[len(columns)], note[1]))
            columns.append(column)
    matrix = np.array(columns).T
    return labels, (matrix + matrix.T) / 2, warnings + _column_notes(notes)


HESSIAN_STEPS = (HESSIAN_STEP, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10)  # times the element's size
# Two steps' central differences agree to 1e-6 (their truncation errors, h²/6 of the third
# derivative, differ by three quarters of the larger one's); the two sides' extrapolated
# one-sided differences at a kink, to 1e-3. Each entry's absolute tolerance is a hundred
# times the rounding of its difference quotient, float64's epsilon times its gradient entry
# over the step: a jump of the gradient above that is seen whatever the gradient's size.
HESSIAN_RTOL, SIDES_RTOL, ROUNDING = 1e-6, 1e-3, 100 * np.finfo(float).eps


def _second_differences(gradient_at, centre: np.ndarray, scale: float, on_kink,
                        label: str, k: int) -> tuple[np.ndarray, tuple[str, str] | None]:
    """Column k of the Hessian, by element `label`, from the gradient moved along it, and a
    note (kind, detail) where differences cannot give all of it.

    A step is free of kinks when two things hold. The central differences with the step and
    with half of it agree: across a jump of the gradient (abs at 0) each is about the jump
    over its step, so halving the step doubles it. And the one-sided differences' gap halves
    with the step, as a smooth gradient's (h times its second derivative) does: at a kink of
    the gradient itself (relu(x)**2 at 0) the gap is the jump of its slope, whatever the
    step. Where the first step is not free of them and the element moves a node sitting at a
    kink (`on_kink()`), no step is: the two sides are compared. Otherwise smaller steps are
    tried, down to 1e-10 of the element's size, which a kink 1e-9 away or a steep change
    leaves behind; entries no step gives are left undefined, with a note."""
    finite = np.isfinite(centre)
    best, spread, agreed = None, math.inf, None
    for level, step in enumerate(HESSIAN_STEPS):
        h = step * scale
        wide, narrow, close = _central(gradient_at, centre, finite, h)
        if close[finite].all():
            return _unhidden(gradient_at, np.where(finite, wide, np.nan), centre, finite, h,
                             scale)
        with np.errstate(all="ignore"):
            disagreement = float(np.max(np.abs(wide - narrow)[finite], initial=0.0))
        if best is None or disagreement < spread:
            best, spread, agreed = wide, disagreement, close
        if level == 0 and on_kink():
            return _two_sides(gradient_at, centre, finite, scale, label, k)
    column = np.where(agreed & finite, best, np.nan)
    if not np.isfinite(best[finite]).all():
        return column, ("edge", f"{2 * HESSIAN_STEP * scale:g}")
    return column, ("steep", f"{HESSIAN_STEPS[-1] * scale:g}")


WIDE_STEP = 1e-2  # times the element's size: where a small step's change is lost in rounding


def _central(gradient_at, centre: np.ndarray, finite: np.ndarray, h: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The central differences over h and h/2, and per entry whether the step is free of
    kinks there (see _second_differences)."""
    with np.errstate(all="ignore"):
        up, down = gradient_at(h), gradient_at(-h)
        near_up, near_down = gradient_at(h / 2), gradient_at(-h / 2)
        wide = (up - down) / (2 * h)
        narrow = (near_up - near_down) / h
        gap = (up - centre) / h - (centre - down) / h
        near_gap = (near_up - centre) / (h / 2) - (centre - near_down) / (h / 2)
        atol = ROUNDING * np.abs(np.where(finite, centre, 0.0)) / h
        jumps = (np.abs(near_gap) > 0.75 * np.abs(gap)) & (
            np.abs(gap) > 2 * atol + SIDES_RTOL * np.abs(wide))
        close = np.isfinite(wide) & ~jumps & (
            np.abs(wide - narrow) <= 2 * atol + HESSIAN_RTOL * np.abs(wide))
    return wide, narrow, close


def _unhidden(gradient_at, column: np.ndarray, centre: np.ndarray, finite: np.ndarray,
              h: float, scale: float) -> tuple[np.ndarray, tuple[str, str] | None]:
    """The column, its entries that read exactly 0 beside a nonzero gradient entry taken
    again over a wide step: sum(v**2) + 1e12*sum(v) changes its gradient by 2h, less than the
    rounding of 1e12 over a step of 1e-5, and read 0 for 2. A wide step's difference has more
    truncation error, which the note says."""
    hidden = finite & (column == 0) & (centre != 0)
    if hidden.any():
        wide = WIDE_STEP * scale
        again, _, close = _central(gradient_at, centre, finite, wide)
        seen = hidden & close & (again != 0)  # the wide step too must be free of kinks
        if seen.any():
            size = float(np.max(np.abs(centre[seen])))
            return np.where(seen, again, column), ("wide", f"{size:.3g}")
    return column, _rounding(column, centre, finite, h)


def _rounding(wide: np.ndarray, centre: np.ndarray, finite: np.ndarray, h: float
              ) -> tuple[str, str] | None:
    """A note where rounding alone, float64's epsilon times each gradient entry that changed
    over the step (one that did not change has none), leaves fewer than 6 digits."""
    moved = (wide != 0) & finite
    error = float(np.max(np.abs(centre[moved]), initial=0.0)) * np.finfo(float).eps / (2 * h)
    size = float(np.max(np.abs(wide[finite]), initial=0.0))
    if size and error > HESSIAN_RTOL * size:
        return "rounding", f"{max(1, round(-math.log10(error / size))):d}"
    return None


def _two_sides(gradient_at, centre: np.ndarray, finite: np.ndarray, scale: float,
               label: str, k: int) -> tuple[np.ndarray, tuple[str, str] | None]:
    """Column k at a kink: each side's derivative of the gradient, from the slopes over
    [h, 2h] and [2h, 3h] on that side extrapolated to the point (exact where the gradient is
    quadratic there: relu(x)**3 at 0 has 0 on both sides), the entry where they agree and
    undefined where they do not."""
    h = HESSIAN_STEP * scale
    size = np.abs(np.where(finite, centre, 0.0))
    with np.errstate(all="ignore"):
        sides = []
        for sign in (-1.0, 1.0):
            g1, g2, g3 = (gradient_at(sign * n * h) for n in (1, 2, 3))
            # slopes over [h, 2h] and [2h, 3h] on this side (signed: below, g1 is nearer)
            sides.append(sign * (2.5 * (g2 - g1) - 1.5 * (g3 - g2)) / h + 0.0)
            size = np.fmax(size, np.fmax(np.abs(g1), np.fmax(np.abs(g2), np.abs(g3))))
        below, above = sides
    atol = 8 * ROUNDING * size / h  # the rounding of four slopes, each entry's own
    if not (np.isfinite(below[finite]).all() and np.isfinite(above[finite]).all()):
        column = np.where(finite & np.isfinite(below) & np.isfinite(above), (below + above) / 2,
                          np.nan)
        return column, ("edge", f"{3 * h:g}")
    close = finite & (np.abs(below - above) <= atol + SIDES_RTOL * np.abs(below + above) / 2)
    column = np.where(close, (below + above) / 2, np.nan)
    if close[finite].all():
        return column, None
    jump = (f"∂²/∂{label}² is {float(below[k]):.6g} below and {float(above[k]):.6g} above"
            if finite[k] and not close[k] else "")
    return column, ("jump", jump)


def kinks_at(graph: Graph, values: list) -> list[tuple[int, np.ndarray | None]]:
    """The nodes at a kink at these values, each with its elements there (None for a tensor
    op, whose kink test gives no elements)."""
    found = []
    for i, ins in enumerate(graph.inputs):
        if ins and kink_status(graph, i, values)[0] == "kink":
            op = graph.ops[i]
            found.append((i, None if op in TENSOR_OPS else
                          kink_mask(op, [values[j] for j in ins])))
    return found


def moves_a_kink(graph: Graph, kinks: list, values: list, nearby: list) -> bool:
    """Whether a node at a kink has an input that moved, in an element at the kink."""
    for i, mask in kinks:
        for j in graph.inputs[i]:
            before, after = np.asarray(values[j], dtype=float), np.asarray(nearby[j], dtype=float)
            if mask is not None and mask.ndim:
                before, after = (np.broadcast_to(a, mask.shape)[mask] for a in (before, after))
            if np.any(before != after):
                return True
    return False


def _column_notes(notes: dict[str, list[tuple[str, str]]]) -> list[str]:
    """One warning per kind of column differences cannot give, naming its elements."""
    found = []
    for kind, columns in notes.items():
        labels = [label for label, _ in columns]
        shown = _few(labels)
        detail = columns[0][1]
        if kind == "jump":
            found.append(f"second derivatives by {shown} jump at this point (a kink)"
                         + (f": {detail}" if detail else "") + ", so they do not exist "
                         "here; the entries that differ are left undefined (nan)")
        elif kind == "edge":
            found.append(f"second derivatives by {shown}: the program is not defined within "
                         f"{detail} of {'it' if len(labels) == 1 else 'each'} (an edge of "
                         "its domain), so differences cannot give them; they are left "
                         "undefined (nan)")
        elif kind == "wide":
            found.append(f"second derivatives by {shown}: the gradient, of size {detail}, "
                         "changes by less than its rounding over the step, so some entries are "
                         f"taken over a step of {WIDE_STEP:g} of the element's size instead "
                         "(less accurate where the curvature changes over it)")
        elif kind == "rounding":
            found.append(f"second derivatives by {shown}: rounding in the gradient, large "
                         f"beside its change over the step, leaves about {detail} significant "
                         f"digit{'' if detail == '1' else 's'}")
        else:
            found.append(f"second derivatives by {shown}: no step down to {detail} gave "
                         "agreeing differences (a kink or a steep change lies that near, or "
                         "rounding in a difference of large terms); the entries no step gave "
                         "are left undefined (nan)")
    return found


def _few(labels: list[str]) -> str:
    """`v[0], v[1], v[2] and 47 more`."""
    return ", ".join(labels[:3]) + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")


MAX_FORWARD_JACOBIAN_ENTRIES = 250_000  # a tensor op's local Jacobian in forward mode


def tangents(graph: Graph, point: Mapping[str, object], direction: Mapping[str, object]
             ) -> tuple[list, list]:
    """Forward mode over arrays: every node's value and tangent along `direction` (a
    direction per variable, of its shape). An elementwise op's tangent is the sum of its
    partials times its inputs' tangents (broadcast as the op is); a tensor op's is its local
    Jacobian, made from its own vector-Jacobian products, times the inputs' tangents."""
    from .errors import LimitError

    values, bound = forward_pass(graph, point)
    position = {graph.ids[i]: i for i in graph.variables}
    tangent: list = [None] * len(values)
    for name, d in direction.items():
        d = np.asarray(d, dtype=float)
        value = values[position[name]]
        if d.shape != np.shape(value):
            raise InputError(f"the direction of {name!r} has shape {shape_text(d)}; {name!r} "
                             f"has shape {shape_text(value)}")
        tangent[position[name]] = d
    with np.errstate(all="ignore"):
        for i, op in enumerate(graph.ops):
            if op == VAR or op == CONST:
                continue
            ins = graph.inputs[i]
            if all(tangent[j] is None for j in ins):
                continue
            args = [values[j] for j in ins]
            out = np.asarray(values[i])
            total = np.zeros(out.shape)
            if op in TENSOR_OPS:
                for k, j in enumerate(ins):
                    if tangent[j] is None:
                        continue
                    size = out.size * np.size(values[j])
                    if size > MAX_FORWARD_JACOBIAN_ENTRIES:
                        raise LimitError(f"forward mode over arrays: the local Jacobian of "
                                         f"{graph.ids[i]} has {size:,} entries (at most "
                                         f"{MAX_FORWARD_JACOBIAN_ENTRIES:,}); use grad")
                    jacobian = _local_jacobian(op, args, out, k, bound)
                    total = total + (jacobian @ np.ravel(tangent[j])).reshape(out.shape)
            else:
                local = local_partials(bound, op, args, out)
                for d, j in zip(local, ins, strict=True):
                    if tangent[j] is not None:
                        total = total + np.asarray(d, dtype=float) * tangent[j]
            tangent[i] = np.where(np.isnan(out), np.nan, total)
    return values, tangent
