"""The node list of a large `grad --json` document, written column by column.

The text is orjson's for NodeTable.entries, byte for byte (tests/test_node_json.py compares
them), made without a dict per node: a plain node (every number finite, no status of its own)
is a format of its columns, and each column is made by C-level maps over the engine's flat
lists, so Python's loop runs once per node only to sort the nodes by op. Any other node is
written from its entry by orjson, as is each node of a small group (_FEW), and so is the
whole slice where a name or formula of the nodes written in columns holds a character that
JSON escapes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from itertools import repeat
from operator import itemgetter

import orjson

# Nodes of one op and constant inputs below which they are written one by one (leaves are
# always written in columns: theirs are the cheapest).
_FEW = 8
_ESCAPED = re.compile(r'["\\\x00-\x1f]')


def _joined(*columns) -> list[str]:
    """Per row, its pieces joined: columns of strings, and single strings repeated (one
    `"".join` per row, several times quicker than a `str.format`, which parses its template
    on every call)."""
    return list(map("".join, zip(*[repeat(column) if column.__class__ is str else column
                                    for column in columns], strict=False)))


def nodes_json(table, start: int, stop: int) -> str:
    """`orjson.dumps(table.entries(start, stop))` as text."""
    graph = table.graph
    ids, varying = graph.ids, graph.varying
    ops = graph.ops[start:stop]
    if not table.finite or _ESCAPED.search("".join(ids[start:stop])) or _ESCAPED.search(
            "".join(ops)):
        return _dumps(table.entries(start, stop))
    adjoints = table.adjoints[start:stop]
    for k, plain in enumerate(varying[start:stop]):
        if not plain:
            adjoints[k] = None
    own_ids = ids[start:stop]
    values, adjoints = _numbers(table.values[start:stop]), _numbers(adjoints)
    inputs, partials = graph.inputs[start:stop], table.partials[start:stop]
    groups: defaultdict[tuple, list[int]] = defaultdict(list)
    for k, key in enumerate(zip(ops, graph.patterns[start:stop], map(len, inputs),
                                strict=True)):
        groups[key].append(k)
    texts: list[str] = [""] * len(own_ids)
    for (op, pattern, arity), members in groups.items():
        if arity and len(members) < _FEW:  # a constant met a few times: columns cost more
            for k in members:
                texts[k] = _dumps(table.entries(start + k, start + k + 1))[1:-1]
            continue
        names_of = list(map(own_ids.__getitem__, members))
        sources = list(map(inputs.__getitem__, members))
        columns = [list(map(itemgetter(k), sources)) for k in range(arity)]
        names = [list(map(ids.__getitem__, column)) for column in columns]
        # the formulas of a column of nodes, as Graph.formula makes each
        formulas = list(map(graph.formula_format(op, pattern, arity), *names)) if arity \
            else names_of
        if arity and _ESCAPED.search("".join(formulas)):
            return _dumps(table.entries(start, stop))
        pieces: list = ['{"id":"', names_of, f'","op":"{op}","expr":"', formulas,
                        '","shape":[],"value":', list(map(values.__getitem__, members)),
                        ',"adjoint":', list(map(adjoints.__getitem__, members)),
                        ',"status":"ok","inputs":[']
        if arity:
            edges = _edges(table.rule_makers(op, pattern, arity), members, columns, names,
                           partials, varying)
            if edges is None:
                return _dumps(table.entries(start, stop))
            pieces.append(edges[0])
            for column in edges[1:]:
                pieces += [",", column]
        for k, text in zip(members, _joined(*pieces, "]}"), strict=True):
            texts[k] = text
    for i in table.statuses:
        if start <= i < stop:
            texts[i - start] = _dumps(table.entries(i, i + 1))[1:-1]
    return "[" + ",".join(texts) + "]"


def _edges(makers: tuple, members: list[int], columns: list[list[int]],
           names: list[list[str]], partials, varying) -> list[list[str]] | None:
    """Per input position, the edge texts of the members, whose inputs are `columns` with
    ids `names` (None where a text needs escaping)."""
    locals_ = list(map(partials.__getitem__, members))
    edges = []
    for k, maker in enumerate(makers):
        if maker is None or maker.__class__ is str:
            rules = maker or ""
        elif maker.__class__ is int:
            rules = names[maker]
        else:
            rules = list(map(maker[0].format, *names))
        if maker.__class__ is not int and _ESCAPED.search(
                rules if rules.__class__ is str else "".join(rules)):
            return None
        flags = list(map(varying.__getitem__, columns[k]))
        if all(flags):
            edges.append(_joined('{"id":"', names[k], '","local":',
                                 _numbers(list(map(itemgetter(k), locals_))), ',"rule":"',
                                 rules, '"}'))
        elif not any(flags):
            edges.append(_joined('{"id":"', names[k], '","local":null,"rule":null}'))
        else:
            numbers = _numbers(list(map(itemgetter(k), locals_)))
            texts = repeat(rules) if rules.__class__ is str else rules
            edges.append([f'{{"id":"{name}","local":{number},"rule":"{rule}"}}'
                          if flag else f'{{"id":"{name}","local":null,"rule":null}}'
                          for name, number, rule, flag in zip(names[k], numbers, texts,
                                                              flags, strict=False)])
    return edges


def _numbers(values: list) -> list[str]:
    """Each number as orjson writes it (None as null)."""
    return orjson.dumps(values).decode()[1:-1].split(",") if values else []


def _dumps(document) -> str:
    return orjson.dumps(document).decode()
