"""Checked expression trees → an immutable DAG of nodes, built without recursion.

Shared subexpressions become one node (a variable used twice is one node with two consumers).
The user's structure is kept: sub, div and neg stay as written. Statement names are node ids;
other op nodes are called `z<k>`, k being the node's 1-based position in evaluation order, and
never collide with a user's name; constants are named by their literal text.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ops
from .errors import LimitError
from .parse import Program

VAR = "var"
CONST = "const"
_LEAVES = frozenset(("var", "ref", "const"))
MAX_NODES = 500_000
_DONE = ("done",)


@dataclass(frozen=True)
class Graph:
    """Nodes in topological order (inputs first); every list is indexed by node number."""

    ids: tuple[str, ...]
    ops: tuple[str, ...]
    inputs: tuple[tuple[int, ...], ...]
    constants: tuple[float | None, ...]
    formulas: tuple[str, ...]
    named: tuple[bool, ...]
    varying: tuple[bool, ...]
    variables: tuple[int, ...]
    output: int
    source: str

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(self.ids[i] for i in self.variables)

    def live(self) -> list[bool]:
        """Which nodes the output depends on (the output included)."""
        live = [False] * len(self.ids)
        live[self.output] = True
        inputs = self.inputs
        for i in range(self.output, -1, -1):
            if live[i]:
                for j in inputs[i]:
                    live[j] = True
        return live


class _Builder:
    def __init__(self, reserved: set[str]) -> None:
        self.reserved = reserved
        self.ids: list[str] = []
        self.ops: list[str] = []
        self.inputs: list[tuple[int, ...]] = []
        self.constants: list[float | None] = []
        self.named: list[bool] = []
        self.varying: list[bool] = []
        self.variables: list[int] = []
        self.index: dict[tuple, int] = {}
        self.statements: dict[str, int] = {}

    def add(self, key: tuple, op: str, inputs: tuple[int, ...], node_id: str | None,
            constant: float | None = None, fresh: bool = False) -> int:
        if not fresh and key in self.index:
            return self.index[key]
        position = len(self.ids)
        if position >= MAX_NODES:
            raise LimitError(f"the program has more than {MAX_NODES:,} nodes; that is the "
                             "limit for one run")
        self.ids.append(node_id if node_id is not None else self._generated_id(position + 1))
        self.ops.append(op)
        self.inputs.append(inputs)
        self.constants.append(constant)
        self.named.append(node_id is not None and op not in (VAR, CONST))
        varying = self.varying
        self.varying.append(op == VAR or any(varying[j] for j in inputs))
        self.index.setdefault(key, position)
        if op == VAR:
            self.variables.append(position)
        return position

    def _generated_id(self, number: int) -> str:
        prefix = "z"
        while f"{prefix}{number}" in self.reserved:
            prefix += "z"
        return f"{prefix}{number}"

    def lower(self, tree: tuple, target: str | None) -> int:
        """Add one statement's tree; returns the node number of its result."""
        leaf = self._leaf
        if tree[0] in _LEAVES:
            node = leaf(tree)
            if target is None:
                return node
            return self.add(("id", node), "id", (node,), target, fresh=True)
        index = self.index
        results: list[int] = []
        # Post-order walk with an explicit stack: a node is pushed once to expand its children
        # (leaves are resolved at once) and once, marked done, to create it.
        stack: list = [tree]
        done = _DONE
        while stack:
            node = stack.pop()
            if node is done:
                node = stack.pop()
                children = node[2] if node[0] == "call" else node[1:]
                count = len(children)
                args = tuple(results[-count:])
                del results[-count:]
                op = node[1] if node[0] == "call" else node[0]
                if stack or target is None:
                    key = (op, args)
                    position = index.get(key)
                    results.append(position if position is not None
                                   else self.add(key, op, args, None))
                else:
                    results.append(self.add((op, args), op, args, target, fresh=True))
                continue
            kind = node[0]
            if kind in _LEAVES:
                results.append(leaf(node))
                continue
            stack.append(node)
            stack.append(done)
            children = node[2] if kind == "call" else node[1:]
            stack.extend(children[::-1])
        return results[0]

    def _leaf(self, tree: tuple) -> int:
        kind = tree[0]
        if kind == "ref":
            return self.statements[tree[1]]
        if kind == "var":
            return self.add((VAR, tree[1]), VAR, (), tree[1])
        return self.add((CONST, tree[2]), CONST, (), tree[2], constant=tree[1])


def build_graph(program: Program) -> Graph:
    """Lower a checked program into a Graph; the last statement is the output."""
    reserved = set(program.defined_names) | program.names
    builder = _Builder(reserved)
    output = 0
    for statement in program.statements:
        output = builder.lower(statement.tree, statement.target)
        if statement.target is not None:
            builder.statements[statement.target] = output
    formulas = tuple(_formula(builder, i) for i in range(len(builder.ids)))
    return Graph(
        ids=tuple(builder.ids),
        ops=tuple(builder.ops),
        inputs=tuple(builder.inputs),
        constants=tuple(builder.constants),
        formulas=formulas,
        named=tuple(builder.named),
        varying=tuple(builder.varying),
        variables=tuple(builder.variables),
        output=output,
        source=program.source,
    )


def _formula(builder: _Builder, i: int) -> str:
    op = builder.ops[i]
    if op in (VAR, CONST):
        return builder.ids[i]
    ids = builder.ids
    return op_of(op).render_formula([ids[j] for j in builder.inputs[i]])


def op_of(name: str) -> ops.Op:
    """The Op object behind a graph node's op name."""
    return ops.OPS[name] if name in ops.OPS else ops.lookup(name)
