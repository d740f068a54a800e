"""Expression trees → text in the input syntax (explicit `*` and `**`), iteratively.

Trees are the parser's tuples, also produced by the symbolic trace of the op table:

    ("const", value, text) | ("var", name) | ("ref", name) | ("neg", arg)
    | ("add"|"sub"|"mul"|"div"|"pow", left, right) | ("call", op_name, (args...))

The op table's internal ops print as people read them: `where(c, a, b)` as `(a if c else b)`,
a comparison as `x > 0` inside a condition and as the Iverson bracket `[x > 0]` elsewhere.
"""

from __future__ import annotations

import math

PRECEDENCE = {"add": 1, "sub": 1, "mul": 2, "div": 2, "matmul": 2, "neg": 3, "pow": 4}
_SYMBOL = {"add": " + ", "sub": " - ", "mul": "*", "div": "/", "matmul": " @ ", "pow": "**"}
COMPARISONS = {"gt": " > ", "ge": " >= ", "eq": " == "}
_REDUCTIONS = {"reduce_max": "max", "reduce_min": "min"}
_ATOM = 5


def call_name(op_name: str) -> str:
    """The name a call is written with: `logb` is `log(a, b)`, `beta#2` is `beta`."""
    return "log" if op_name == "logb" else op_name.partition("#")[0]


def expand(tree: tuple, parts_of) -> str:
    """Print a tree without recursion: `parts_of(node)` gives a node's pieces, strings and
    child trees in order, and the children are expanded the same way."""
    out: list[str] = []
    stack: list = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            out.append(node)
        else:
            stack.extend(reversed(parts_of(node)))
    return "".join(out)


def format_tree(tree: tuple) -> str:
    """The tree as explicit text; parentheses wherever the grouping differs from reading left
    to right. (The loop is `expand` with leaves and operators inlined: whole programs of 10^5
    nodes are printed this way.)"""
    out: list[str] = []
    append = out.append
    stack: list = [tree]
    push = stack.extend
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            append(node)
            continue
        kind = node[0]
        if kind == "var" or kind == "ref":
            append(node[1])
        elif kind == "const":
            append(node[2])
        elif kind == "call":
            push(reversed(_call_parts(node)))
        elif kind == "neg":
            push(reversed(["-", *_grouped(node[1], 3, strict=True)]))
        else:
            precedence = PRECEDENCE[kind]
            left_strict = kind == "pow"
            push(reversed([*_grouped(node[1], precedence, left_strict), _SYMBOL[kind],
                           *_grouped(node[2], precedence, not left_strict, right=True)]))
    return "".join(out)


def _call_parts(node: tuple) -> list:
    name, args = node[1], node[2]
    if name == "id":
        return [args[0]]
    if name in COMPARISONS:
        return ["[", *condition_parts(node), "]"]
    if name == "where":
        return ["(", args[1], " if ", *condition_parts(args[0]), " else ", args[2], ")"]
    if name == "share":
        return ["(1/ties if ", args[0], " == ", args[1], " else 0)"]
    if name == "index":
        parts = [*_grouped(args[0], _ATOM, False), "["]
        for k, arg in enumerate(args[1:]):
            parts += [", "] if k else []
            parts.append(arg)
        return [*parts, "]"]
    if name in _REDUCTIONS:
        name = _REDUCTIONS[name]
    parts: list = [call_name(name) + "("]
    for k, arg in enumerate(args):
        if k:
            parts.append(", ")
        parts.append(arg)
    parts.append(")")
    return parts


def condition_parts(tree: tuple) -> list:
    """A comparison, or a product of comparisons, as a condition: `x > 0 and y >= 0`."""
    if tree[0] == "call" and tree[1] in COMPARISONS:
        left, right = tree[2]
        return [*_grouped(left, 1, False), COMPARISONS[tree[1]], *_grouped(right, 1, False)]
    if tree[0] == "mul" and all(_is_condition(child) for child in tree[1:]):
        return [*condition_parts(tree[1]), " and ", *condition_parts(tree[2])]
    return ["(", tree, ") != 0"]


def _is_condition(tree: tuple) -> bool:
    return (tree[0] == "call" and tree[1] in COMPARISONS) or (
        tree[0] == "mul" and all(_is_condition(child) for child in tree[1:]))


def _grouped(child: tuple, precedence: int, strict: bool, right: bool = False) -> list:
    """The child, in parentheses when it binds less tightly than its parent requires. A
    negative number is parenthesized as a right operand (`x*(-0.5)`, `x**(-1)`) and as a
    power's base (`(-2)**x`)."""
    if child[0] == "const" and child[2].startswith("-"):
        child_precedence = 0 if right and precedence > 0 else 3
    else:
        child_precedence = PRECEDENCE.get(child[0], _ATOM)
    if child_precedence < precedence or (strict and child_precedence == precedence):
        return ["(", child, ")"]
    return [child]


def substitute(tree: tuple, leaves: dict[str, tuple]) -> tuple:
    """The tree with each ("var", name) in `leaves` replaced; iterative, for deep trees."""
    out: list = []
    stack: list = [(tree, False)]
    while stack:
        node, done = stack.pop()
        kind = node[0]
        if kind in ("var", "ref"):
            out.append(leaves.get(node[1], node))
        elif kind == "const":
            out.append(node)
        elif not done:
            stack.append((node, True))
            children = node[2] if kind == "call" else node[1:]
            stack.extend((child, False) for child in reversed(children))
        else:
            children = node[2] if kind == "call" else node[1:]
            args = out[len(out) - len(children):]
            del out[len(out) - len(children):]
            out.append(("call", node[1], tuple(args)) if kind == "call" else (kind, *args))
    return out[0]


def format_number(value: float | None, digits: int) -> str:
    """A number to `digits` significant digits; inf and nan spelled out, -0 shown as 0."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value + 0.0:.{digits}g}"


def told_apart(first: float, second: float, digits: int) -> tuple[str, str]:
    """Two numbers that differ, each to `digits` significant digits or to as many more as it
    takes to show them different (0.00806679 and 0.00806679 are 0.008066793 and 0.008066794)."""
    for shown in range(digits, 18):
        texts = format_number(first, shown), format_number(second, shown)
        if texts[0] != texts[1]:
            return texts
    return texts


def number_in_formula(value: float | None, digits: int) -> str:
    """A number as a factor of a product: negative ones in parentheses, `1·(-0.5)`."""
    text = format_number(value, digits)
    return f"({text})" if text.startswith("-") else text
