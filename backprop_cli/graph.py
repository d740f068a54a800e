"""Checked expression trees → an immutable DAG of nodes, built without recursion.

Shared subexpressions become one node (a variable used twice is one node with two consumers).
The user's structure is kept: sub, div and neg stay as written. Statement names are node ids;
other op nodes are called `z<k>`, k being the node's 1-based position in evaluation order, and
never collide with a user's name; constants are named by their literal text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import compress, repeat
from operator import is_not, not_

from .engine import CONST, VAR, liveness
from .errors import LimitError
from .ops import OPS
from .parse import Program, parse_program
from .rules import formula_template
from .shapes import OP, SLOT, Plan
from .tensor_names import TENSOR_OP_NAMES

MAX_NODES = 500_000
# Each call of a SymPy function outside the op table may take up to a second (fallback.py).
MAX_FALLBACK_NODES = 20
PREFIX_CHARS_PER_NODE = 24  # how much of a long program `nodes_beyond` reads per node allowed


@dataclass(frozen=True)
class Graph:
    """Nodes in topological order (inputs first); every list is indexed by node number."""

    ids: tuple[str, ...]
    ops: tuple[str, ...]
    inputs: tuple[tuple[int, ...], ...]
    constants: tuple[float | None, ...]
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

    def live(self, output: int | None = None) -> Sequence[bool]:
        """Which nodes the output (or another node) depends on, itself included."""
        if output is None or output == self.output:
            return self._live
        return liveness(self.inputs, output)

    @cached_property
    def consumers(self) -> tuple[tuple[int, ...], ...]:
        """Per node, the nodes that take it as an input (each once), in evaluation order."""
        found: list[list[int]] = [[] for _ in self.ids]
        for i, ins in enumerate(self.inputs):
            for j in dict.fromkeys(ins):
                found[j].append(i)
        return tuple(map(tuple, found))

    @cached_property
    def _live(self) -> tuple[bool, ...]:
        return tuple(liveness(self.inputs, self.output))

    @cached_property
    def constant_nodes(self) -> frozenset[int]:
        """The nodes that are constants (found by a C-level scan)."""
        return frozenset(compress(range(len(self.ids)), map(is_not, self.constants,
                                                             repeat(None))))

    @cached_property
    def patterns(self) -> tuple[tuple | None, ...]:
        """Per node, its constant inputs: (value, text) for each constant input and None for
        any other; None for a node without constant inputs (nearly every node, found by
        C-level scans)."""
        ids, constants, inputs = self.ids, self.constants, self.inputs
        leaves = self.constant_nodes
        patterns: list[tuple | None] = [None] * len(ids)
        if leaves:
            for i in compress(range(len(ids)), map(not_, map(leaves.isdisjoint, inputs))):
                patterns[i] = tuple((constants[k], ids[k]) if k in leaves else None
                                    for k in inputs[i])
        return tuple(patterns)

    def formula(self, i: int) -> str:
        """Node i's formula: its op over its inputs' ids (a leaf's is its id)."""
        ins = self.inputs[i]
        if not ins:
            return self.ids[i]
        ids = self.ids
        return self.formula_format(self.ops[i], self.patterns[i], len(ins))(
            *[ids[j] for j in ins])

    def formula_format(self, op: str, pattern: tuple | None, arity: int) -> Callable[..., str]:
        """The formula of a node with this op, these constant inputs (patterns) and this many
        inputs, as a function of its inputs' ids (kept with the graph: a program may have a
        pattern for every constant it writes)."""
        key = (op, pattern, arity)
        found = self._formats.get(key)
        if found is None:
            found = self._formats[key] = formula_template(op, pattern or (None,) * arity).format
        return found

    @cached_property
    def _formats(self) -> dict[tuple, Callable[..., str]]:
        return {}

    @cached_property
    def formulas(self) -> tuple[str, ...]:
        """Every node's formula, made when first read: `grad --json` never reads them all
        (its writer formats them a column at a time)."""
        return tuple(map(self.formula, range(len(self.ids))))

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
        self.leaves: dict[tuple, int] = {}  # leaf tree → node; ("ref", name) once assigned

    def add(self, key: tuple, op: str, inputs: tuple[int, ...], node_id: str | None,
            constant: float | None = None, fresh: bool = False) -> int:
        if not fresh:
            found = self.index.get(key)
            if found is not None:
                return found
        position = len(self.ids)
        if position >= MAX_NODES:
            self._too_many()
        if node_id is None:
            node_id = f"z{position + 1}"
            if node_id in self.reserved:
                node_id = self._generated_id(position + 1)
            self.named.append(False)
        else:
            self.named.append(op != VAR and op != CONST)
        self.ids.append(node_id)
        self.ops.append(op)
        self.inputs.append(inputs)
        self.constants.append(constant)
        varying = self.varying
        varying.append(op == VAR or any(map(varying.__getitem__, inputs)))
        self.index.setdefault(key, position)
        if op == VAR:
            self.variables.append(position)
        return position

    def _generated_id(self, number: int) -> str:
        prefix = "z"
        while f"{prefix}{number}" in self.reserved:
            prefix += "z"
        return f"{prefix}{number}"

    def lower_all(self, statements) -> int:
        """Add the statements in order; returns the node of the last one's result. A
        statement whose leaves all have their nodes (nearly every one of a long program) is
        added here, as `lower` would, without its steps for leaves met the first time."""
        find = self.leaves.get
        node = 0
        for statement in statements:
            target = statement.target
            plan, slots = statement.lowering()
            last = plan.last
            if target is not None and last is not None:
                registers = list(map(find, slots))
                if plan.constants:
                    registers += map(find, plan.constants)
                if None not in registers:
                    self._run(plan.body, registers)
                    args = _arguments(last, registers)
                    node = self.add((last[0], args), last[0], args, target, fresh=True)
                    self.leaves[("ref", target)] = node
                    continue
            node = self.lower(plan, slots, target)
        return node

    def lower(self, plan: Plan, slots: tuple, target: str | None) -> int:
        """Add one statement from its plan, `slots` holding the leaves of its slots; returns
        the node number of its result."""
        leaves = self.leaves.get
        registers = [*map(leaves, slots), *map(leaves, plan.constants)]
        last = plan.last
        if last is None:
            node = self._replay(plan.steps, slots, target)
        else:
            body = plan.body if target is not None else plan.ops
            if None in registers:
                # A variable or constant met for the first time gets its node where the
                # statement reads it, between the ops before and after it (as _replay does).
                done = 0
                for before, register in plan.leaves:
                    if registers[register] is None:
                        self._run(body[done:before], registers)
                        done = max(done, before)
                        tree = slots[register] if register < plan.slots else \
                            plan.constants[register - plan.slots]
                        found = leaves(tree)
                        registers[register] = found if found is not None else self._leaf(tree)
                body = body[done:]
            node = self._run(body, registers)
            if target is not None:
                args = _arguments(last, registers)
                node = self.add((last[0], args), last[0], args, target, fresh=True)
        if target is not None:
            self.leaves[("ref", target)] = node
        return node

    def _run(self, plan_ops: tuple, registers: list) -> int | None:
        """A plan's ops over the registers; the last one's node. A new node is made here as
        `add` makes a generated one, written out: a call of `add` per node cost a third of
        this loop's time at 10^5 nodes."""
        index = self.index.get
        ids, ops, inputs, constants = self.ids, self.ops, self.inputs, self.constants
        named, varying = self.named, self.varying
        reserved = self.reserved
        node = None
        for op, a, b, many in plan_ops:
            if many is not None:
                args = many(registers)
            elif b is None:
                args = (registers[a],)
            else:
                args = (registers[a], registers[b])
            key = (op, args)
            node = index(key)
            if node is None:
                node = len(ids)
                if node >= MAX_NODES:
                    self._too_many()
                node_id = f"z{node + 1}"
                ids.append(node_id if node_id not in reserved else self._generated_id(node + 1))
                ops.append(op)
                inputs.append(args)
                constants.append(None)
                named.append(False)
                varying.append(varying[args[0]] or (len(args) > 1 and varying[args[1]]) or (
                    len(args) > 2 and any(varying[j] for j in args[2:])))
                self.index[key] = node
            registers.append(node)
        return node

    def _replay(self, steps: tuple, slots: tuple, target: str | None) -> int:
        """The statement's steps in order, meeting each leaf where it is read: a variable or
        constant seen for the first time gets its node there."""
        leaves = self.leaves
        index = self.index
        results: list[int] = []
        last = len(steps) - 1
        for position, step in enumerate(steps):
            kind = step[0]
            if kind != OP:
                tree = slots[step[1]] if kind == SLOT else step[1]
                node = leaves.get(tree)
                results.append(node if node is not None else self._leaf(tree))
                continue
            op, count = step[1], step[2]
            args = tuple(results[len(results) - count:])
            del results[len(results) - count:]
            key = (op, args)
            if position != last or target is None:
                found = index.get(key)
                results.append(found if found is not None else self.add(key, op, args, None))
            else:
                results.append(self.add(key, op, args, target, fresh=True))
        node = results[0]
        if target is not None and steps[last][0] != OP:  # `a = b`: a node of its own
            node = self.add(("id", node), "id", (node,), target, fresh=True)
        return node

    @staticmethod
    def _too_many() -> None:
        raise LimitError(f"the program has more than {MAX_NODES:,} nodes; that is the limit "
                         "for one run")

    def _leaf(self, tree: tuple) -> int:
        if tree[0] == "var":
            node = self.add((VAR, tree[1]), VAR, (), tree[1])
        elif tree[0] == "const":
            node = self.add((CONST, tree[2]), CONST, (), tree[2], constant=tree[1])
        else:
            raise KeyError(f"{tree[1]!r} is used before it is assigned")
        self.leaves[tree] = node
        return node


def _arguments(step: tuple, registers: list) -> tuple[int, ...]:
    """The input nodes of a plan's op step (shapes.Plan), read from the registers."""
    _, a, b, many = step
    if many is not None:
        return many(registers)
    return (registers[a],) if b is None else (registers[a], registers[b])


def build_graph(program: Program) -> Graph:
    """Lower a checked program into a Graph; the last statement is the output."""
    reserved = set(program.defined_names) | program.names
    builder = _Builder(reserved)
    output = builder.lower_all(program.statements)
    calls = fallback_nodes(builder.ops)
    if calls > MAX_FALLBACK_NODES:
        raise LimitError(f"the program calls SymPy's functions outside the op table (such as "
                         f"gamma or erfinv) {calls:,} times; at most {MAX_FALLBACK_NODES} calls "
                         "per program, as each may take up to a second to evaluate")
    return Graph(
        ids=tuple(builder.ids),
        ops=tuple(builder.ops),
        inputs=tuple(builder.inputs),
        constants=tuple(builder.constants),
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
