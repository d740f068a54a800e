"""The fused forward loop (fused.py) against the engine's own loops, bit for bit.

The engine's loops are checked against SymPy and finite differences elsewhere; `grad` now runs
the fused loop, so every oracle test of `grad` checks it too. Here each op, at its test points
and at the edges of float64 (zeros of both signs, infinities, overflow, subnormals), and whole
random programs give the same bits both ways, and wherever the fused loop steps aside (None),
the engine's numbers show why: a NaN value or partial.
"""

from __future__ import annotations

import itertools
import math
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from programs import points, programs

from backprop_cli import fused, grad
from backprop_cli.backends.source import SOURCE, Untraceable, written
from backprop_cli.engine import compile_tape, liveness, run_forward, run_reverse
from backprop_cli.gradient import leaf_values
from backprop_cli.graph import build_graph
from backprop_cli.ops import OPS
from backprop_cli.parse import parse_program

EDGES = (0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 5e-324, -1e-300, 1e300, -1e300, 710.0, -745.5,
         math.inf, -math.inf)
FEW_EDGES = (0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e-300, 1e300, math.inf, -math.inf)
ONE_OR_TWO = sorted(name for name, entry in OPS.items() if entry.calling_convention in (1, 2))


def exactly(value):
    """A number as its type and its bits (NaN, -0.0 and 0.0 told apart), tuples element-wise."""
    if isinstance(value, tuple | list):
        return tuple(exactly(v) for v in value)
    if isinstance(value, float):
        return "float", struct.pack("<d", value)
    return type(value).__name__, value


def both_ways(ops, inputs, leaves: list, output: int):
    """(fused values, adjoints, partials, or None), (the engine's values, adjoints, partials)."""
    live = liveness(inputs, output)
    tape = compile_tape(ops, inputs, output, live=live)
    values = run_forward(tape, list(leaves))
    adjoints, partials = run_reverse(tape, values, output)
    passes = fused.plan(ops, inputs, live)
    assert passes is not None
    return fused.run(passes, list(leaves), output), (values, adjoints, partials)


def assert_same_or_stepped_aside(found, engine, what) -> None:
    if found is None:
        values, _, partials = engine
        assert any(v != v for v in values) or any(
            d != d for local in partials for d in local), (what, "stepped aside without a NaN")
        return
    assert exactly(found) == exactly(engine), what


def test_every_table_op_of_one_or_two_inputs_is_written_down():
    # A rule that needs values would still be right (it is called instead), only slower:
    # today none does.
    for name in ONE_OR_TWO:
        entry = OPS[name]
        try:
            written(entry, ("a", "b")[:entry.calling_convention], "t")
        except Untraceable as error:
            pytest.fail(f"{name}: {error}")


@pytest.mark.parametrize("name", ONE_OR_TWO)
def test_each_op_gives_the_engines_bits(name):
    entry = OPS[name]
    arity = entry.calling_convention
    edges = EDGES if arity == 1 else FEW_EDGES
    grid = [p for p in entry.points] + list(itertools.product(edges, repeat=arity))
    ops = ("var",) * arity + (name,)
    inputs = ((),) * arity + (tuple(range(arity)),)
    for point in grid:
        found, engine = both_ways(ops, inputs, [*point, 0.0], arity)
        assert_same_or_stepped_aside(found, engine, (name, point))


def test_an_input_used_twice_and_a_dead_node():
    # x*x sends both partials to one node; tanh(y) does not reach the output.
    ops = ("var", "var", "mul", "tanh", "sigmoid")
    inputs = ((), (), (0, 0), (1,), (2,))
    found, engine = both_ways(ops, inputs, [0.7, -1.3, 0.0, 0.0, 0.0], 4)
    assert exactly(found) == exactly(engine)
    assert found[1][1] == 0.0 and found[2][3] != ()  # the dead node has partials, no adjoint


@settings(max_examples=80, deadline=None)
@given(programs(), points)
def test_random_programs_give_the_engines_bits(program, point):
    text, _ = program
    graph = build_graph(parse_program(text))
    leaves = leaf_values(graph, {k: v for k, v in point.items() if k in graph.ids})
    live = liveness(graph.inputs, graph.output)
    if fused.plan(graph.ops, graph.inputs, live) is None:
        return  # an op of three or more inputs: the engine's loops run
    found, engine = both_ways(graph.ops, graph.inputs, leaves, graph.output)
    assert_same_or_stepped_aside(found, engine, text)


@settings(max_examples=40, deadline=None)
@given(st.floats(allow_nan=False), st.floats(allow_nan=False), st.floats(allow_nan=False))
def test_the_benchmark_program_gives_the_engines_bits(x, y, w):
    graph = _benchmark_graph()
    leaves = leaf_values(graph, {"x": x, "y": y, "w": w})
    found, engine = both_ways(graph.ops, graph.inputs, leaves, graph.output)
    assert_same_or_stepped_aside(found, engine, (x, y, w))


def _benchmark_graph():
    if not hasattr(_benchmark_graph, "graph"):
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
        try:
            import bench
        finally:
            sys.path.pop(0)
        _benchmark_graph.graph = build_graph(parse_program(bench.program_text(60)))
    return _benchmark_graph.graph


def test_sympys_functions_and_ops_of_more_inputs_are_left_to_the_engine():
    # A SymPy function's call may take up to its time limit: a NaN must not cost it twice.
    for text in ("gamma(x) + beta(x, y)*x", "max(x, y, x*y)"):
        graph = build_graph(parse_program(text))
        assert fused.plan(graph.ops, graph.inputs, graph.live()) is None, text


def test_the_loop_stops_at_the_first_nan_before_its_partials():
    # The engine never computes partials where a value is NaN (undefined_where_nan).
    passes = fused.plan(("var", "log", "exp"), ((), (0,), (1,)), [True, True, True])
    values, partials = [-1.0, 0.0, 0.0], [()] * 3
    assert passes.forward(passes.kinds, passes.firsts, passes.seconds, values, partials) is False
    assert math.isnan(values[1]) and partials == [(), (), ()]
    assert fused.run(passes, [-1.0, 0.0, 0.0], 2) is None


def test_grad_falls_back_to_the_engine_where_the_fused_loop_steps_aside():
    # log(-1) is NaN: the engine's loops give the node its status.
    result = grad("log(x) + x*y", {"x": -1, "y": 2})
    assert math.isnan(result.value)
    assert {node.op: node.status for node in result.nodes}["log"] == "undefined"
    # max of three inputs has no plan; a named copy and a power run fused.
    assert grad("max(x, y, x*y)", {"x": 1.5, "y": 2}).value == 3.0
    assert dict(grad("b = a**2\nc = b", {"a": 3}).gradient) == {"a": 6.0}


def test_a_replaced_op_entry_is_written_down_again(monkeypatch):
    import dataclasses

    first = grad("tanh(x)", {"x": 1.0})
    wrong = dataclasses.replace(OPS["tanh"], bind=lambda B: (B.tanh, lambda a, out: 0.5))
    monkeypatch.setitem(OPS, "tanh", wrong)
    assert dict(grad("tanh(x)", {"x": 1.0}).gradient) == {"x": 0.5}
    assert dict(first.gradient)["x"] == pytest.approx(1 - math.tanh(1.0) ** 2, rel=1e-15)


def test_a_stand_in_refuses_to_be_compared_or_branched_on():
    from backprop_cli.backends.source import Code, Writer

    value = Code(Writer("t"), "a")
    for needs_a_value in (lambda: bool(value), lambda: value == 0, lambda: value < 1,
                          lambda: float(value), lambda: abs(value)):
        with pytest.raises(Untraceable):
            needs_a_value()
    assert SOURCE.number(1) == 1.0 and SOURCE.exp(0.0) == 1.0  # constants are computed
