"""Formulas and derivative rules of graph nodes, printed from traced op entries.

A node's formula is its op applied to its input ids (`x*y`); the rule on an edge is the op's
partial with respect to that input, traced on stand-ins for the inputs and printed as a tree
(`1/cosh(x)**2`, `2*x` for `x**2`). Constant inputs enter the trace as the numbers they are, so
`x**2` gives `2*x` and `atan2(-0.066, x)` gives a rule with `(-0.066)` parenthesized. The trees
are traced once per op, number of inputs and constant inputs, and reused as templates.
"""

from __future__ import annotations

from functools import cache

from .ops import op_named
from .printing import format_tree, substitute

Constants = tuple  # per input: (value, text) of a constant input, or None


def _placeholder(k: int) -> str:
    return "{" + str(k) + "}"


def _inputs(trace, constants: Constants) -> list:
    """Traced stand-ins: the number itself for a constant input, `{k}` for the others."""
    from .backends.trace import Traced

    return [Traced(trace, ("const", c[0], c[1])) if c is not None
            else Traced(trace, ("var", _placeholder(k))) for k, c in enumerate(constants)]


@cache
def formula_tree_template(op_name: str, constants: Constants) -> tuple:
    """The op applied to its inputs as written (no folding), with placeholders `{k}` for the
    non-constant inputs."""
    leaves = tuple(("const", c[0], c[1]) if c is not None else ("var", _placeholder(k))
                   for k, c in enumerate(constants))
    if op_name in ("add", "sub", "mul", "div", "pow", "matmul"):
        return (op_name, *leaves)
    if op_name == "neg":
        return ("neg", leaves[0])
    if op_name == "id":
        return leaves[0]
    return ("call", op_name, leaves)


@cache
def formula_template(op_name: str, constants: Constants) -> str:
    return format_tree(formula_tree_template(op_name, constants))


@cache
def rule_tree_templates(op_name: str, constants: Constants) -> tuple[tuple | None, ...]:
    """Per input, the traced partial (None for constant inputs: nothing to differentiate)."""
    from .backends.trace import Rules, partials_of

    trace = Rules()
    args = _inputs(trace, constants)
    out = trace.apply(op_name, tuple(args))
    partials = partials_of(trace, op_named(op_name), args, out)
    return tuple(None if c is not None else p.handle for c, p in zip(constants, partials,
                                                                      strict=True))


@cache
def rule_templates(op_name: str, constants: Constants) -> tuple[str | None, ...]:
    return tuple(None if tree is None else format_tree(tree)
                 for tree in rule_tree_templates(op_name, constants))


def _leaves(ids: list[str]) -> dict[str, tuple]:
    return {_placeholder(k): ("var", node_id) for k, node_id in enumerate(ids)}


def formula_tree(op_name: str, ids: list[str], constants: Constants) -> tuple:
    """The node's formula as a tree over its input ids."""
    return substitute(formula_tree_template(op_name, constants), _leaves(ids))


def rule_tree(op_name: str, k: int, ids: list[str], constants: Constants) -> tuple | None:
    """The rule d node / d input k as a tree over the input ids."""
    tree = rule_tree_templates(op_name, constants)[k]
    return None if tree is None else substitute(tree, _leaves(ids))
