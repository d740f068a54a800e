"""Checked expression trees → an immutable DAG of nodes, built without recursion.

Shared subexpressions become one node (a variable used twice is one node with two consumers).
The user's structure is kept: sub, div and neg stay as written. Statement names are node ids;
other op nodes are called `z<k>`, k being the node's 1-based position in evaluation order, and
never collide with a user's name; constants are named by their literal text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .engine import CONST, VAR, liveness
from .errors import LimitError
from .ops import OPS
from .parse import Program, parse_program
from .rules import formula_template
from .tensor_names import TENSOR_OP_NAMES

_LEAVES = frozenset(("var", "ref", "const"))
MAX_NODES = 500_000
# Each call of a SymPy function outside the op table may take up to a second (fallback.py).
MAX_FALLBACK_NODES = 20
PREFIX_CHARS_PER_NODE = 24  # how much of a long program `nodes_beyond` reads per node allowed
_DONE = ("done",)


@dataclass(frozen=True)
class Graph:
    """Nodes in topological order (inputs first); every list is indexed by node number."""

    ids: tuple[str, ...]
    ops: tuple[str, ...]
    inputs: tuple[tuple[int, ...], ...]
    constants: tuple[float | None, ...]
    formulas: tuple[str, ...]
    patterns: tuple[tuple | None, ...]  # per node: its constant inputs, None if it has none
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

    def live(self, output: int | None = None) -> list[bool]:
        """Which nodes the output (or another node) depends on, itself included."""
        return liveness(self.inputs, self.output if output is None else output)

    def constant_inputs(self, i: int) -> tuple:
        """Per input of node i: (value, text) of a constant input, None for the others."""
        return self.patterns[i] or (None,) * len(self.inputs[i])


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
    calls = fallback_nodes(builder.ops)
    if calls > MAX_FALLBACK_NODES:
        raise LimitError(f"the program calls SymPy's functions outside the op table (such as "
                         f"gamma or erfinv) {calls:,} times; at most {MAX_FALLBACK_NODES} calls "
                         "per program, as each may take up to a second to evaluate")
    formulas, patterns = _describe(builder)
    return Graph(
        ids=tuple(builder.ids),
        ops=tuple(builder.ops),
        inputs=tuple(builder.inputs),
        constants=tuple(builder.constants),
        formulas=formulas,
        patterns=patterns,
        named=tuple(builder.named),
        varying=tuple(builder.varying),
        variables=tuple(builder.variables),
        output=output,
        source=program.source,
    )


def nodes_beyond(text: str, limit: int, given: frozenset[str] = frozenset()) -> int | None:
    """A quick refusal for commands with a small node limit: the node count of the program's
    first statements (at most PREFIX_CHARS_PER_NODE × limit characters) when that alone is
    over `limit`, a lower bound of the whole program's; otherwise None. A prefix's graph is a
    part of the program's, so this never refuses a program within the limit."""
    prefix = text
    if len(text) > PREFIX_CHARS_PER_NODE * limit:
        head = text[:PREFIX_CHARS_PER_NODE * limit]
        prefix = head[:max(head.rfind("\n"), head.rfind(";"), 0)]
    if not prefix.strip():
        return None
    try:
        count = len(build_graph(parse_program(prefix, given)))
    except Exception:  # noqa: BLE001 - the full parse reports any error with its context
        return None
    return count if count > limit else None


def fallback_nodes(ops: Sequence[str]) -> int:
    """How many nodes call a SymPy function outside the op table (evaluated with mpmath)."""
    return sum(1 for op in ops if op not in OPS and op != VAR and op != CONST
               and op not in TENSOR_OP_NAMES)


def work_size(ops: Sequence[str], fallback_cost: int) -> int:
    """The size of a graph for a work estimate: a node calling a SymPy function counts as
    `fallback_cost` nodes (mpmath in Python against a table op's arithmetic)."""
    return len(ops) + (fallback_cost - 1) * fallback_nodes(ops)


def _describe(builder: _Builder) -> tuple[tuple[str, ...], tuple[tuple | None, ...]]:
    """Every node's formula (its op over its input ids) and its constant inputs."""
    ids, ops, inputs, constants = builder.ids, builder.ops, builder.inputs, builder.constants
    formulas: list[str] = []
    patterns: list[tuple | None] = []
    templates: dict[tuple, str] = {}
    for i, op in enumerate(ops):
        ins = inputs[i]
        if not ins:
            formulas.append(ids[i])
            patterns.append(None)
            continue
        pattern = None
        for j in ins:
            if constants[j] is not None:
                pattern = tuple((constants[k], ids[k]) if constants[k] is not None else None
                                for k in ins)
                break
        key = (op, len(ins)) if pattern is None else (op, pattern)
        template = templates.get(key)
        if template is None:
            template = templates[key] = formula_template(op, pattern or (None,) * len(ins))
        formulas.append(template.format(*[ids[j] for j in ins]))
        patterns.append(pattern)
    return tuple(formulas), tuple(patterns)
