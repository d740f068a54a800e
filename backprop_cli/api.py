"""The library entry point: `grad(text, at)` returns the Result the CLI renders."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from itertools import compress

from .budget import above_mapped
from .engine import CONST
from .errors import BackpropError, InputError, LimitError
from .gradient import evaluate, float_point
from .graph import Graph, build_graph
from .ops import ARRAYS_ONLY_IN_GRAD
from .parse import (
    TOO_SMALL,
    Program,
    Statement,
    format_program,
    parse_constant,
    parse_program,
    underflows,
)
from .result import Result

DEFAULT_CHECK_TIMEOUT = 10.0
UNUSED_LISTED = 5  # dead statements warned about one by one; more are one warning


def grad(
    text: str,
    at: Mapping[str, float | str] | None = None,
    *,
    check: bool = False,
    check_timeout: float = DEFAULT_CHECK_TIMEOUT,
    exact: bool = False,
    precision: int = 15,
    data: frozenset[str] = frozenset(),
    arrays: bool = True,
    jacobians: bool = False,
    check_method: str = "symbolic",
) -> Result:
    """Differentiate the program `text` at the point `at` (values may be constant expressions
    or arrays); the names in `data` are a data set's columns, held fixed (no gradient).
    `arrays=False` refuses arrays (for callers that read a scalar Result). `check_method`
    chooses what `check` compares with: symbolic (SymPy), fd, forward, or all."""
    at = dict(at or {})
    point = {name: value_of(name, value, arrays=arrays) for name, value in at.items()}
    program = parse_program(text, given=frozenset(at))
    graph = build_graph(program)
    if over_arrays(graph, point):
        if not arrays:
            raise InputError(ARRAYS_ONLY_IN_GRAD)
        return _grad_arrays(graph, program, point, check=check, exact=exact, data=data,
                            jacobians=jacobians, timeout=check_timeout, texts=at,
                            precision=precision, check_method=check_method)
    if jacobians:
        raise InputError("--jacobians shows the local Jacobian matrices of a program over "
                         "arrays; for a scalar program every local Jacobian is the number in "
                         "the local-derivative table")
    if exact:
        _exact_fits(graph)
    result = evaluate(graph, point, warnings=program_warnings(graph, program, point))
    result = replace(result, parsed=format_program(program))
    if exact:
        result = _with_exact(graph, result, at, precision, check_timeout)
    if check:
        from .gradient_check import compared

        result = replace(result, check=compared(graph, point, result, check_method,
                                                check_timeout))
    return result


def over_arrays(graph: Graph, point: Mapping) -> bool:
    """Whether the program runs over arrays: an array value or literal, or a tensor op."""
    from .tensor_names import TENSOR_OP_NAMES

    if not any(not isinstance(v, float) for v in point.values()) and not any(
            not isinstance(c, float) and c is not None for c in graph.constants) and \
            TENSOR_OP_NAMES.isdisjoint(graph.ops):
        return False  # the scalar path's quick answer, without importing NumPy
    from .tensor_engine import is_tensor_program

    return is_tensor_program(graph, point)


def _grad_arrays(graph: Graph, program: Program, point: Mapping, *, check: bool,
                 exact: bool, data: frozenset[str], jacobians: bool = False,
                 timeout: float = DEFAULT_CHECK_TIMEOUT, texts: Mapping | None = None,
                 precision: int = 15, check_method: str = "symbolic"):
    from .tensor_engine import evaluate_tensors

    # a data set's extra columns are not worth a warning each
    used = {name: value for name, value in point.items() if name not in data
            or name in graph.variable_names}
    result = evaluate_tensors(graph, point, warnings=program_warnings(graph, program, used),
                              data=data)
    if check:
        from .gradient_check import compared

        result = replace(result, check=compared(graph, dict(point), result, check_method,
                                                timeout))
    if exact:
        result = _with_exact_arrays(graph, result, point, texts, precision, timeout)
    if jacobians:
        from .tensor_engine import jacobian_products, local_jacobians

        found = local_jacobians(graph, point, result)
        result = replace(result, jacobians=found,
                         products=jacobian_products(graph, result, found))
    return replace(result, parsed=format_program(program))


def _with_exact_arrays(graph: Graph, result, point: Mapping, texts: Mapping | None,
                       precision: int, timeout: float):
    """Exact values and adjoints of a program over arrays, element by element, by SymPy in a
    bounded process; a scalar given as text (`1/3`) stays exact."""
    import numpy as np

    from .tensor_exact import MAX_EXPANDED_ELEMENTS, exact_tensors
    from .tensor_result import TensorExact

    elements = sum(int(np.size(node.value)) for node in result.nodes)
    if elements > MAX_EXPANDED_ELEMENTS:
        raise LimitError(f"--exact works element by element on programs over arrays of up to "
                         f"{MAX_EXPANDED_ELEMENTS:,} elements over all nodes (this one has "
                         f"{elements:,}); leave out --exact, or use smaller arrays")
    texts = texts or {}
    exact_point = {name: texts[name] if isinstance(texts.get(name), str) and
                   isinstance(value, float) else value for name, value in point.items()}
    varying = [node.adjoint is not None for node in result.nodes]
    return _bounded_exact(result, exact_tensors, (graph, exact_point, varying, precision),
                          timeout, lambda found: TensorExact(*found))


def _exact_fits(graph: Graph) -> None:
    from .exact import MAX_EXACT_NODES

    if len(graph) > MAX_EXACT_NODES:
        raise LimitError(f"--exact computes with SymPy numbers for programs of up to "
                         f"{MAX_EXACT_NODES:,} nodes (this one has {len(graph):,}); leave out "
                         "--exact, or use a smaller program")


def _with_exact(graph: Graph, result: Result, at: Mapping, precision: int,
                timeout: float) -> Result:
    """Attach exact values and adjoints, computed by SymPy in a bounded process."""
    from .exact import evaluate_exact

    return _bounded_exact(result, evaluate_exact, (graph, dict(at), precision), timeout,
                          lambda found: found)


def _bounded_exact(result, function, args: tuple, timeout: float, attach):
    """`result` with `attach(function(*args))` as its exact numbers, computed in a bounded
    process with exact mode's memory cap; if SymPy cannot finish, a warning says so."""
    from .bounded import run_bounded
    from .exact import EXACT_MEMORY_BYTES

    outcome = run_bounded(function, args, timeout, memory=above_mapped(EXACT_MEMORY_BYTES))
    if not outcome.ok:
        return replace(result, warnings=result.warnings + (
            f"exact mode: SymPy {outcome.reason}; the float64 values are shown",))
    return replace(result, exact=attach(outcome.value))


def value_of(name: str, value, arrays: bool = False):
    """A variable's value: a number, a constant expression such as `pi/4` or `1/3`, or (with
    `arrays`) an array (`[1, 2]`, `[[1, 2], [3, 4]]`, a nested list or a NumPy array)."""
    from .tensor_names import is_array, is_array_text

    if isinstance(value, list) or is_array_text(value) or is_array(value):
        from .values import array_value

        if not arrays:
            raise InputError(f"the value of {name!r} is an array: {ARRAYS_ONLY_IN_GRAD}")

        return array_value(name, value.tolist() if is_array(value) else value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            number = _constant_value(name, text)
        else:
            if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
                raise InputError(f"value for {name!r} must be a finite number, not {text!r}")
            if underflows(text, number):
                raise InputError(f"value for {name!r}: {text} {TOO_SMALL}")
    if not math.isfinite(number):
        raise InputError(f"value for {name!r} is not a finite number ({value!r})")
    return number


def _constant_value(name: str, text: str) -> float:
    if not text:
        raise InputError(f"value for {name!r} is empty")
    cut = re.fullmatch(r"([-+]?(?:\d+\.?\d*|\.\d+))([eE])", text)
    if cut:  # `2e` would read as 2·e, Euler's number: most likely an exponent left out
        raise InputError(f"value for {name!r} is {text!r}, a number with no exponent after "
                         f"its {cut[2]!r}: write {cut[1]}e0 for the number, or {cut[1]}*{cut[2]} "
                         f"for {cut[1]}·{cut[2]} (Euler's number)")
    try:
        tree = parse_constant(text)
    except BackpropError as error:
        hint = " (use a decimal point: 1.5)" if re.fullmatch(r"-?\d+,\d+", text) else ""
        raise InputError(f"value for {name!r} is not a number or constant expression: "
                         f"{error.message}{hint}") from None
    graph = build_graph(Program((Statement(None, tree, 1),), text))
    return float_point(graph, {})[graph.output]


def program_warnings(graph: Graph, program: Program, point: Mapping[str, object]
                     ) -> tuple[str, ...]:
    """What a program at a point is warned of (by `grad`, and by `check`'s grading): a value
    nothing uses, Euler's number written as a variable, `1/2x`, statements that do not reach
    the output."""
    warnings = []
    used = set(graph.variable_names)
    defined = program.defined_names
    for name in point:
        if name not in used:
            where = "is defined by the program" if name in defined else "is not used"
            warnings.append(f"variable {name!r} was given a value but {where}; it is ignored")
    for i in compress(range(len(graph.ids)), map(CONST.__eq__, graph.ops)):
        node_id = graph.ids[i]
        if node_id in ("e", "E"):
            warnings.append(
                f"{node_id!r} is Euler's number 2.71828...; give --{node_id} VALUE to use it "
                "as a variable"
            )
    warnings += program.cautions
    live = graph.live()
    unused = [graph.ids[i] for i in compress(range(len(graph.ids)), graph.named) if not live[i]]
    output = graph.ids[graph.output]
    if len(unused) <= UNUSED_LISTED:
        warnings += [f"statement {name!r} does not affect the output {output!r}"
                     for name in unused]
    else:  # one line, not thousands, for a long program's dead statements
        shown = ", ".join(map(repr, unused[:UNUSED_LISTED]))
        warnings.append(f"{len(unused):,} statements do not affect the output {output!r}: "
                        f"{shown} and {len(unused) - UNUSED_LISTED:,} more")
    return tuple(warnings)


def structure(text: str) -> Result:
    """The program's graph without a point: ops, formulas and symbolic local rules."""
    from .gradient import structure as graph_structure

    program = parse_program(text)
    return replace(graph_structure(build_graph(program)), parsed=format_program(program),
                   warnings=program.cautions)
