"""Long programs of short statements, parsed once per statement shape.

A program written out step by step repeats a few shapes: `h7 = tanh(h6*x + h1)` and
`h9 = tanh(h8*w + h7)` differ only in their names. One regex scan per statement takes the
names out; what is left, the shape, goes through the parser once and is compiled into
post-order steps, which the graph builder replays with each statement's names (and the tree,
where one is asked for, is rebuilt from them). Anything unusual (non-ASCII text, a name glued
to a number, a name of the user's called like a function, any error) gives None,
and the program is parsed token by token instead, with exact positions in its messages.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass, field
from operator import itemgetter
from typing import NamedTuple

from . import ops
from .errors import LimitError, ParseError
from .printing import format_tree

_SLOT = "\x00"
# A name that is not called (`sin(` stays in the shape) and not glued to a number (`2x`, the
# exponent of `1e5`): possessive, so that `sin` is never cut down to `si`. One group, so that
# re.split gives both the names and the text between them. The first character comes before
# the look behind it: a pattern that starts with a character set lets the regex engine skip
# ahead to the next candidate instead of trying the look-behind at every position.
_NAME = re.compile(r"([A-Za-z_](?<![0-9A-Za-z_.].)[A-Za-z0-9_]*+(?![ \t\r]*\())")
_CALLED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?=[ \t\r]*\()")
_NUMBER_SLOT = "\x03"
# A number as the tokenizer reads it, not part of a name (`log1p`) and not glued to one; one
# that starts with '.' stays in the shape (after an operand the parser refuses it).
_NUMBER = re.compile(r"([0-9](?<![\w.].)[0-9]*+(?:\.[0-9]*+)?+(?:[eE][+-]?[0-9]++)?+(?![\w.]))")
_FIRST_NUMBER = 9_000_000  # the stand-ins of a shape's numbers: 9000000, 9000001, ...
_MARK = re.compile("\x01([0-9]+)\x02")
_REFUSED = frozenset(keyword.kwlist) - {"lambda"}

LEAF, SLOT, OP = 0, 1, 2  # the kinds of steps


@dataclass(frozen=True, slots=True)
class Plan:
    """A statement's steps, also as registers: slot k is register k, the constants follow, then
    each op's result in turn. Once every leaf has its node, the builder runs `ops` over the
    registers; until then it replays `steps`, which meet the leaves in reading order."""

    steps: tuple
    constants: tuple  # the leaf trees of the LEAF steps, in order
    ops: tuple  # (op name, first register, second or None, None) or (op name, None, None,
    # an itemgetter of the registers) for three arguments or more
    slots: int
    leaves: tuple = ()  # (ops before it, register) of every leaf, in reading order
    # The op that makes the statement's result (None where that is a leaf: `a = b`), and the
    # ops before it; made once per shape, read once per statement.
    last: tuple | None = field(init=False)
    body: tuple = field(init=False)

    def __post_init__(self) -> None:
        last = self.ops[-1] if self.ops and self.steps[-1][0] == OP else None
        object.__setattr__(self, "last", last)
        object.__setattr__(self, "body", self.ops[:-1] if last is not None else self.ops)


def plan_of(steps: tuple) -> Plan:
    """The steps as a Plan (see there)."""
    slots = sum(1 for step in steps if step[0] == SLOT)
    constants = tuple(step[1] for step in steps if step[0] == LEAF)
    stack: list[int] = []
    ops = []
    leaves = []
    constant = slots
    result = slots + len(constants)
    for step in steps:
        kind = step[0]
        if kind == SLOT:
            stack.append(step[1])
            leaves.append((len(ops), step[1]))
        elif kind == LEAF:
            stack.append(constant)
            leaves.append((len(ops), constant))
            constant += 1
        else:
            count = step[2]
            registers = stack[len(stack) - count:]
            del stack[len(stack) - count:]
            if count <= 2:
                ops.append((step[1], registers[0], registers[1] if count == 2 else None, None))
            else:
                ops.append((step[1], None, None, itemgetter(*registers)))
            stack.append(result)
            result += 1
    return Plan(steps, constants, tuple(ops), slots, tuple(leaves))


@dataclass(frozen=True, slots=True)
class Shape:
    """A statement with its names taken out: slot k is its k-th name in reading order."""

    steps: tuple  # post-order: (LEAF, tree) | (SLOT, k) | (OP, op name, argument count, call)
    plan: Plan
    text: str  # the statement as printed, "{k}" for slot k
    calls: frozenset[str]  # the names called as functions
    targeted: bool  # slot 0 is the statement's target
    slots: int  # names
    negated: tuple[bool, ...]  # per number, in reading order: whether a '-' is folded in


class ShapedStatement(NamedTuple):
    """A statement read through its shape: the same interface as parse.Statement (a named
    tuple: a frozen dataclass costs four times as much to make, 25,000 times over)."""

    target: str | None
    line: int
    shape: Shape
    names: tuple[str, ...]  # every name slot's name, the target's first
    leaves: tuple[tuple, ...]  # the expression's slots as leaves (var, ref, const), numbers last
    numbers: tuple[str, ...] = ()  # every number slot's text

    @property
    def tree(self) -> tuple:
        return tree_of(self.shape.steps, self.leaves)

    def lowering(self) -> tuple[Plan, tuple]:
        return self.shape.plan, self.leaves

    def text(self) -> str:
        return self.shape.text.format(*self.names, *self.numbers)


def steps_of(tree: tuple, slots: dict[str, int] | None = None) -> tuple:
    """The tree in post-order, children left to right, as steps; a ("var", name) leaf whose
    name is in `slots` becomes that slot."""
    steps: list[tuple] = []
    stack: list = [(tree, False)]
    while stack:
        node, done = stack.pop()
        kind = node[0]
        if kind == "var" or kind == "ref" or kind == "const":
            slot = slots.get(node[1]) if slots and kind == "var" else None
            steps.append((LEAF, node) if slot is None else (SLOT, slot))
            continue
        call = kind == "call"
        children = node[2] if call else node[1:]
        if done:
            steps.append((OP, node[1] if call else kind, len(children), call))
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(children))
    return tuple(steps)


def tree_of(steps: tuple, leaves: tuple) -> tuple:
    """The tree the steps were compiled from, with `leaves` in the slots."""
    out: list = []
    for step in steps:
        kind = step[0]
        if kind == OP:
            _, op, count, call = step
            args = tuple(out[len(out) - count:])
            del out[len(out) - count:]
            out.append(("call", op, args) if call else (op, *args))
        else:
            out.append(step[1] if kind == LEAF else leaves[step[1]])
    return out[0]


def parse_shaped(text: str, given: frozenset[str], parser_of, tokenize, max_tokens: int):
    """(statements, names) of plain ASCII text read shape by shape, or None where the
    token-by-token parse must decide. `parser_of(text, given)` makes the parser, `tokenize`
    is the quick tokenizer (None for anything it does not take)."""
    if not text.isascii() or "__" in text or _SLOT in text or _NUMBER_SLOT in text:
        return None
    commented = "#" in text
    shapes: dict[str, Shape | None] = {}
    # One split of the whole text at its names and one at its numbers give them in order and
    # leave the shapes: each statement's names and numbers are the next ones, as many as its
    # shape has slots of each. Numbers stay in the shapes of a program with array literals or
    # indices, whose numbers the parser reads.
    parts = _NAME.split(text)
    names = tuple(parts[1::2])  # a statement's names are a slice of it
    keys = _SLOT.join(parts[::2])
    numbers: tuple[str, ...] = ()
    indexed = "[" in text
    if not indexed:
        parts = _NUMBER.split(keys)
        numbers = tuple(parts[1::2])
        keys = _NUMBER_SLOT.join(parts[::2])
    del parts
    # Each statement is read as it comes. A name is a variable where it is first read unless
    # it is assigned there or before; one assigned later is refused when its statement comes
    # (it is in leaf_of by then), and the names called as functions are checked against
    # every target at the end.
    leaf_of: dict[str, tuple] = {}
    targets: set[str] = set()
    called: set[str] = set()
    used: set[str] = set()
    statements = []
    constants: dict[tuple[str, bool], tuple] = {}
    ended = False  # a statement without a target was read: it must be the last
    taken = counted = 0
    for line, row in enumerate(keys.split("\n"), 1):
        comment = ""
        if commented:  # no string holds a '#': it always starts a comment
            row, _, comment = row.partition("#")
        for key in row.split(";") if ";" in row else (row,):
            if key.isspace() or not key:
                continue
            shape = shapes.get(key, False)
            if shape is False:
                shape = shapes[key] = _shape(key, parser_of, tokenize, max_tokens)
            if shape is None or ended:
                return None
            end, last_number = taken + shape.slots, counted + len(shape.negated)
            texts = numbers[counted:last_number]
            statement_names = names[taken:end]
            taken, counted = end, last_number
            if shape.calls:
                if not shape.calls.isdisjoint(given):
                    return None  # `a(x + 1)` with a user's `a` is a product
                called.update(shape.calls)
            target = None
            body = statement_names
            if shape.targeted:
                target, body = statement_names[0], statement_names[1:]
                if target in leaf_of or target in _REFUSED:
                    return None  # assigned twice, given and assigned, or a keyword
                targets.add(target)
            else:
                ended = True
            leaves = tuple(map(leaf_of.get, body))
            if None in leaves:
                for name in body:
                    if name not in leaf_of:
                        leaf = leaf_of[name] = _free_leaf(name, targets, given, indexed)
                        if leaf is None:
                            return None
                leaves = tuple(map(leaf_of.get, body))
            if texts:
                numbers_of = []
                for number in zip(texts, shape.negated, strict=True):
                    leaf = constants.get(number)
                    if leaf is None:
                        leaf = constants[number] = _number_leaf(*number)
                        if leaf is None:
                            return None
                    numbers_of.append(leaf)
                leaves += tuple(numbers_of)
            used.update(body)
            if target is not None:
                leaf_of[target] = ("ref", target)
            statements.append(ShapedStatement(target, line, shape, statement_names, leaves,
                                              texts))
        if comment:
            taken += comment.count(_SLOT)
            counted += comment.count(_NUMBER_SLOT)
    if not statements or not called.isdisjoint(targets):
        return None
    return tuple(statements), frozenset(used)


def _number_leaf(text: str, negated: bool) -> tuple | None:
    """The constant leaf the parser makes of a number (with a '-' before it folded in); None
    for one too large for float64, which the parser refuses."""
    from .parse import underflows

    value = float(text)
    if not math.isfinite(value) or underflows(text, value):
        return None  # too large, or too small (1e-400): the parser says which
    return ("const", -value, "-" + text) if negated else ("const", value, text)


def _free_leaf(name: str, targets: set[str], given: frozenset[str], indexed: bool
               ) -> tuple | None:
    """The leaf of a name no statement has assigned yet, as the parser reads it; None where
    the parser refuses it, or where it is a constant in a program with indices (the parser
    refuses to index a constant, which a shape's stand-in would let pass)."""
    from .parse import CONSTANTS

    if name in targets or name in _REFUSED:
        return None
    if name in given:
        return ("var", name)
    if name in CONSTANTS:
        return None if indexed else ("const", CONSTANTS[name], name)
    if name != "lambda" and ops.is_table_function(name):
        return None
    return ("var", name)


def _shape(key: str, parser_of, tokenize, max_tokens: int) -> Shape | None:
    pieces = key.split(_SLOT)
    count = len(pieces) - 1
    named = "".join(f"{piece}_{k}" for k, piece in enumerate(pieces[:-1])) + pieces[-1]
    pieces = named.split(_NUMBER_SLOT)
    stand_ins = [str(_FIRST_NUMBER + j) for j in range(len(pieces) - 1)]
    tokens = tokenize("".join(piece + number for piece, number in zip(
        pieces, [*stand_ins, ""], strict=True)))
    if tokens is None or not tokens or len(tokens) > max_tokens:
        return None
    targeted = len(tokens) > 1 and tokens[0][1] == "_0" and tokens[1][1] == "="
    body = tokens[2:] if targeted else tokens
    placeholders = frozenset(f"_{k}" for k in range(count))
    parser = parser_of(key, placeholders)
    try:
        tree = parser.parse(body, 1) if body else None
    except (ParseError, LimitError):
        return None
    if tree is None or not parser.names <= placeholders:
        return None
    first = 1 if targeted else 0
    # Each stand-in is a constant leaf of the tree, negated where a '-' was folded into it.
    position = {text: j for j, text in enumerate(stand_ins)}
    negated: list[bool | None] = [None] * len(stand_ins)
    variables = []
    for kind, node, *_ in steps_of(tree):
        if kind != LEAF:
            continue
        if node[0] == "var":
            variables.append(node[1])
        elif node[0] == "const" and (j := position.get(node[2].removeprefix("-"))) is not None:
            if negated[j] is not None:
                return None
            negated[j] = node[2].startswith("-")
    if len(variables) != count - first or len(set(variables)) != len(variables) or \
            None in negated:
        return None  # a name the regex left in the shape (`1.5_0`) reads like a stand-in

    def leaf(node: tuple, mark) -> tuple:
        if node[0] == "var":
            return mark(int(node[1][1:]), node)
        j = position.get(node[2].removeprefix("-")) if node[0] == "const" else None
        return node if j is None else mark(count + j, node)

    def slot(k: int, node: tuple) -> tuple:
        return ("var", f"_{k}") if k < count else ("var", f"#{k - count}")

    def printed(k: int, node: tuple) -> tuple:
        mark = f"\x01{k}\x02"
        return ("var", mark) if node[0] == "var" else (
            "const", node[1], "-" + mark if node[2].startswith("-") else mark)

    slots = {f"_{k}": k - first for k in range(first, count)}
    slots.update({f"#{j}": count - first + j for j in range(len(stand_ins))})
    steps = steps_of(_with_leaves(tree, lambda node: leaf(node, slot)), slots)
    text = format_tree(_with_leaves(tree, lambda node: leaf(node, printed)))
    text = _MARK.sub(r"{\1}", text.replace("{", "{{").replace("}", "}}"))
    return Shape(
        steps=steps,
        plan=plan_of(steps),
        text="{0} = " + text if targeted else text,
        calls=frozenset(_CALLED.findall(key)),
        targeted=targeted,
        slots=count,
        negated=tuple(negated),
    )


def _with_leaves(tree: tuple, change) -> tuple:
    """The tree with each leaf replaced by `change(leaf)`."""
    return tree_of(tuple((LEAF, change(step[1])) if step[0] == LEAF else step
                         for step in steps_of(tree)), ())
