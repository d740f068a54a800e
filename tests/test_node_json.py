"""The grad document's node list as the column writer (render/node_json.py) and the slice
writer (render/json_format.py) make it, against orjson over the JSON contract's dicts
(result.node_entry of each NodeResult)."""

from __future__ import annotations

import dataclasses
import json
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_cli import api
from backprop_cli.render import json_format, node_json
from backprop_cli.render.node_json import nodes_json
from backprop_cli.result import _node_dict

UNARY = ("tanh", "abs", "relu", "log", "sqrt", "exp", "sigmoid", "sin", "neg")
BINARY = ("+", "-", "*", "/", "**")
NAMES = ("x", "y", "θ", "pi")


def contract(nodes, start: int, stop: int) -> str:
    """The oracle: orjson over result.node_entry of each NodeResult."""
    return orjson.dumps([_node_dict(node) for node in nodes[start:stop]]).decode()


@st.composite
def programs(draw) -> str:
    lines = []
    known = list(NAMES)
    for k in range(draw(st.integers(1, 12))):
        a, b = draw(st.sampled_from(known)), draw(st.sampled_from(known + ["2", "0", "-1.5"]))
        kind = draw(st.integers(0, 3))
        if kind == 0:
            expression = f"{a} {draw(st.sampled_from(BINARY))} {b}"
        elif kind == 1:
            function = draw(st.sampled_from(UNARY))
            expression = f"-{a}" if function == "neg" else f"{function}({a})"
        elif kind == 2:
            expression = f"max({a}, {b}, {a})"
        else:
            expression = f"{b} * {b}"
        lines.append(f"s{k} = {expression}")
        known.append(f"s{k}")
    return "\n".join(lines)


POINTS = st.fixed_dictionaries({
    "x": st.sampled_from([0.0, 1.0, -2.0, 0.5, 1e200]),
    "y": st.sampled_from([0.0, 3.0, -1.0, 1e308]),
    "θ": st.sampled_from([0.25, -0.75]),
})


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), POINTS, st.data())
def test_columns_give_the_contracts_text(text, point, data):
    result = api.grad(text, point)
    nodes = result.nodes
    start = data.draw(st.integers(0, len(nodes) - 1))
    stop = data.draw(st.integers(start, len(nodes)))
    expected = contract(nodes, start, stop)
    assert orjson.dumps(nodes.entries(start, stop)).decode() == expected
    assert nodes_json(nodes, start, stop) == expected
    with mock.patch.object(node_json, "_FEW", 1):  # every group in columns, however small
        assert nodes_json(nodes, start, stop) == expected


def test_a_name_json_escapes_is_written_by_orjson():
    result = api.grad("a = x*y; b = tanh(a) + a", {"x": 1.0, "y": 2.0})
    graph = result.nodes.graph
    quoted = dataclasses.replace(graph, ids=tuple(f'{i}"\\\n' for i in graph.ids))
    nodes = type(result.nodes)(quoted, result.nodes.values, result.nodes.adjoints,
                               result.nodes.partials, result.nodes.statuses,
                               result.nodes.finite)
    text = nodes_json(nodes, 0, len(nodes))
    assert text == contract(nodes, 0, len(nodes))
    assert json.loads(text)[0]["id"] == 'x"\\\n'


@pytest.mark.parametrize("odd", [
    "u = abs(h700 - h700) + h699",  # a kink: that node's entry has its status and message
    "u = log(w - 2) + h699",  # NaN: no node is plain, every entry comes from node_entry
])
def test_a_large_document_written_in_slices_is_the_whole_documents_text(odd):
    steps = [f"h{k} = tanh(h{k - 1}*w + x) + abs(h{k - 1} - x)" for k in range(1, 1500)]
    steps.insert(700, odd)
    text = "h0 = x*w\n" + "\n".join(steps) + "\nout = h1499 + u"
    result = api.grad(text, {"x": 0.5, "w": 0.75})
    assert len(result.nodes) > 2 * json_format.SLICE
    whole = orjson.dumps(dataclasses.replace(result, nodes=tuple(result.nodes)).to_dict())
    assert json_format.render(result) == whole.decode()


def test_node_table_reads_as_a_tuple_of_node_results():
    result = api.grad("a = x*y; b = a + x", {"x": 1.0, "y": 2.0})
    nodes = result.nodes
    as_tuple = tuple(nodes)
    assert nodes == as_tuple and len(nodes) == len(as_tuple)
    assert nodes[-1] == as_tuple[-1] and nodes[1:3] == as_tuple[1:3]
    assert [node.id for node in nodes] == ["x", "y", "a", "b"]
    assert nodes[2].fanout == 1 and nodes[0].fanout == 2
    assert result.node("a").inputs[0].rule == "y"


def test_a_large_document_cut_short_leaves_nothing_on_the_output(monkeypatch):
    import contextlib
    import io
    from types import SimpleNamespace

    steps = [f"h{k} = tanh(h{k - 1}*w + x)" for k in range(1, 2500)]
    result = api.grad("h0 = x*w\n" + "\n".join(steps), {"x": 0.5, "w": 0.75})
    assert json_format._sliced(result)
    written = io.StringIO()

    @contextlib.contextmanager
    def stream():
        yield written

    view = SimpleNamespace(output=None, stream=stream)
    complete = list(json_format._pieces(result))

    def pieces(_):
        yield from complete[:len(complete) // 2]
        raise MemoryError  # as a budget running out halfway through the document

    monkeypatch.setattr(json_format, "_pieces", pieces)
    with pytest.raises(MemoryError):
        json_format.show(result, view)
    assert written.getvalue() == ""
    monkeypatch.setattr(json_format, "_pieces", lambda _: iter(complete))
    json_format.show(result, view)
    assert written.getvalue() == "".join(complete) + "\n"
