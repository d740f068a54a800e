"""Behaviour at the edges, op by op: SymPy's functions outside the table, kinks, domain errors,
poles, overflow and NaN propagation. The oracles are SymPy at 30 digits, central differences,
IEEE 754 and PyTorch's documented conventions. (tests/test_ops.py covers every entry of the
table generically.)"""

from __future__ import annotations

import json
import math
import threading

import pytest
import sympy as sp
from op_oracles import ATOL_FD, ATOL_SYMPY, EPS, RTOL_FD, RTOL_SYMPY, close

from backprop_cli import grad
from backprop_cli.ops import OPS, lookup


def at_point(expression, symbols, point) -> float:
    subs = {s: sp.Float(v, 40) for s, v in zip(symbols, point, strict=True)}
    value = sp.N(expression, 30, subs=subs)
    number = complex(value)
    assert number.imag == 0, f"oracle is not real at {point}: {value}"
    return number.real


def assert_all_real(result) -> None:
    """No complex number anywhere: every number is a float (or None where there is none)."""
    assert type(result.value) is float
    for _, value in result.gradient:
        assert type(value) is float
    for node in result.nodes:
        assert type(node.value) is float, node
        assert node.adjoint is None or type(node.adjoint) is float, node
        for edge in node.inputs:
            assert edge.local is None or type(edge.local) is float, node
    json.dumps(result.to_dict(), allow_nan=False)


def descendants(result, node_id: str) -> set[str]:
    found = {node_id}
    for node in result.nodes:  # nodes are in topological order
        if any(edge.input in found for edge in node.inputs):
            found.add(node.id)
    return found - {node_id}


def the_node(result, status: str):
    matching = [n for n in result.nodes if n.status == status]
    assert len(matching) == 1, [(n.id, n.op, n.status) for n in result.nodes]
    return matching[0]


# ----------------------------------------------------------------------------------------------
# Functions the table lacks, from SymPy's own derivative


FALLBACKS = [
    ("gamma", sp.gamma, 1.7),
    ("loggamma", sp.loggamma, 1.7),
    ("digamma", sp.digamma, 1.7),
    ("sec", sp.sec, 0.7),
    ("csc", sp.csc, 0.7),
    ("cot", sp.cot, 0.7),
    ("acot", sp.acot, 0.7),
    ("asec", sp.asec, 1.7),
    ("sech", sp.sech, 0.7),
    ("acoth", sp.acoth, 1.7),
    ("Ei", sp.Ei, 0.7),
    ("fresnels", sp.fresnels, 0.7),
]


@pytest.mark.parametrize(("name", "function", "x"), FALLBACKS, ids=[f[0] for f in FALLBACKS])
def test_sympy_fallback_function(name, function, x):
    assert name not in OPS
    assert lookup(name) is not None
    symbol = sp.Symbol("x", real=True)
    expression = function(symbol)
    result = grad(f"{name}(x)", {"x": x})
    assert result.node(result.output).op == name
    assert close(result.value, at_point(expression, (symbol,), (x,)), RTOL_SYMPY, ATOL_SYMPY)
    expected = at_point(sp.diff(expression, symbol), (symbol,), (x,))
    assert close(dict(result.gradient)["x"], expected, RTOL_SYMPY, ATOL_SYMPY)
    difference = (grad(f"{name}(x)", {"x": x + EPS}).value
                  - grad(f"{name}(x)", {"x": x - EPS}).value) / (2 * EPS)
    assert close(dict(result.gradient)["x"], difference, RTOL_FD, ATOL_FD)
    assert_all_real(result)


def test_sympy_fallbacks_in_a_composite_expression():
    x, y = sp.symbols("x y", real=True)
    expression = sp.gamma(x * y) + sp.erf(x - y) * sp.sec(y) + sp.loggamma(x + 2) * sp.acot(y)
    values = (0.7, 1.3)
    result = grad("gamma(x*y) + erf(x - y)*sec(y) + loggamma(x + 2)*acot(y)",
                  {"x": values[0], "y": values[1]})
    assert close(result.value, at_point(expression, (x, y), values), RTOL_SYMPY, ATOL_SYMPY)
    gradient = dict(result.gradient)
    for symbol in (x, y):
        expected = at_point(sp.diff(expression, symbol), (x, y), values)
        assert close(gradient[symbol.name], expected, RTOL_SYMPY, ATOL_SYMPY)


# ----------------------------------------------------------------------------------------------
# Kinks: PyTorch's documented conventions, and the node is flagged


def test_abs_at_zero():
    result = grad("abs(x)", {"x": 0})
    assert result.gradient == (("x", 0.0),)
    assert the_node(result, "kink").op == "abs"


def test_abs_away_from_zero_is_not_a_kink():
    result = grad("abs(x)", {"x": -0.5})
    assert result.gradient == (("x", -1.0),)
    assert all(n.status == "ok" for n in result.nodes)


def test_relu_at_zero():
    result = grad("relu(x)", {"x": 0})
    assert result.value == 0.0
    assert result.gradient == (("x", 0.0),)
    assert the_node(result, "kink").op == "relu"


@pytest.mark.parametrize("name", ["max", "min"])
def test_two_way_tie_splits_half_half(name):
    result = grad(f"{name}(x, y)", {"x": 1.5, "y": 1.5})
    assert result.value == 1.5
    assert dict(result.gradient) == {"x": 0.5, "y": 0.5}
    assert the_node(result, "kink").op == name


@pytest.mark.parametrize("name", ["max", "min"])
def test_three_way_tie_splits_in_thirds(name):
    result = grad(f"{name}(x, y, z)", {"x": -2.0, "y": -2.0, "z": -2.0})
    gradient = dict(result.gradient)
    for variable in "xyz":
        assert gradient[variable] == pytest.approx(1 / 3, rel=1e-15)
    assert the_node(result, "kink").op == name


@pytest.mark.parametrize(("name", "at"), [("max", {"x": 2.0, "y": 2.0, "z": 1.0}),
                                          ("min", {"x": 1.0, "y": 1.0, "z": 2.0})])
def test_tie_between_two_of_three(name, at):
    result = grad(f"{name}(x, y, z)", at)
    assert dict(result.gradient) == {"x": 0.5, "y": 0.5, "z": 0.0}
    assert the_node(result, "kink").op == name


def test_zero_to_the_zero_is_one_with_zero_derivatives():
    result = grad("x**y", {"x": 0, "y": 0})
    assert result.value == 1.0
    gradient = dict(result.gradient)
    assert gradient["x"] == 0.0
    # PyTorch's pow_backward_exponent: where base == 0 and exponent >= 0 the gradient is 0.
    assert gradient["y"] == 0.0
    assert the_node(result, "kink").op == "pow"


def test_zero_to_the_constant_zero():
    result = grad("x**0", {"x": 0})
    assert result.value == 1.0
    assert result.gradient == (("x", 0.0),)
    assert the_node(result, "kink").op == "pow"


def test_sqrt_at_zero_has_infinite_derivative():
    result = grad("sqrt(x)", {"x": 0})
    assert result.value == 0.0
    assert result.gradient == (("x", math.inf),)
    assert the_node(result, "kink").op == "sqrt"
    json.dumps(result.to_dict(), allow_nan=False)


# ----------------------------------------------------------------------------------------------
# Domain errors, poles and overflow: flagged on the node that produced them


DOMAIN_ERRORS = [
    ("log(x)", {"x": -1}, "log", ("log", "-1")),
    ("log(-1) + x", {"x": 1}, "log", ("log", "-1")),
    ("sqrt(x)", {"x": -1}, "sqrt", ("sqrt", "-1")),
    ("sqrt(-1) + x", {"x": 1}, "sqrt", ("sqrt", "-1")),
    ("x/y", {"x": 0, "y": 0}, "div", ("0/0",)),
    ("0/0 + x", {"x": 1}, "div", ("0/0",)),
    ("asin(x)", {"x": 2}, "asin", ("asin", "2")),
    ("asin(2) + x", {"x": 1}, "asin", ("asin", "2")),
    ("acosh(x)", {"x": 0.5}, "acosh", ("acosh", "0.5")),
    ("acosh(0.5) + x", {"x": 1}, "acosh", ("acosh", "0.5")),
    ("x**(1/3)", {"x": -8}, "pow", ("-8",)),
    ("(-8)**(1/3) + x", {"x": 1}, "pow", ("-8",)),
]


@pytest.mark.parametrize(("text", "at", "op", "words"), DOMAIN_ERRORS,
                         ids=[case[0] for case in DOMAIN_ERRORS])
def test_domain_error_is_undefined_on_its_node(text, at, op, words):
    result = grad(f"u = {text}; v = 2*u + exp(u)", at)
    node = the_node(result, "undefined")
    assert node.op == op
    assert math.isnan(node.value)
    assert node.message
    for word in words:
        assert word in node.message, (word, node.message)
    assert node in result.flagged
    assert any(node.id in warning for warning in result.warnings)
    downstream = descendants(result, node.id)
    assert downstream
    for other in result.nodes:
        if other.id in downstream:
            assert other.status == "propagated", other
    assert_all_real(result)


FALLBACK_DOMAIN_ERRORS = [("acoth", 0.5), ("asec", 0.5), ("loggamma", -1.5)]


@pytest.mark.parametrize(("name", "x"), FALLBACK_DOMAIN_ERRORS,
                         ids=[case[0] for case in FALLBACK_DOMAIN_ERRORS])
def test_sympy_fallback_outside_its_real_domain_is_undefined(name, x):
    # SymPy's value here is complex (not real): the engine must flag it, never return it.
    symbol = sp.Symbol("x", real=True)
    assert complex(sp.N(getattr(sp, name)(symbol), 20, subs={symbol: x})).imag != 0
    result = grad(f"u = {name}(x); v = u + 1", {"x": x})
    node = the_node(result, "undefined")
    assert node.op == name
    assert name in node.message
    assert result.node("v").status == "propagated"
    assert_all_real(result)


POLES = [
    ("1/x", {"x": 0}, "div"),
    ("1/0 + x", {"x": 1}, "div"),
    ("log(x)", {"x": 0}, "log"),
    ("log(0) + x", {"x": 1}, "log"),
]


@pytest.mark.parametrize(("text", "at", "op"), POLES, ids=[case[0] for case in POLES])
def test_pole_is_infinite_on_its_node(text, at, op):
    result = grad(f"u = {text}; v = 2*u + 1", at)
    node = the_node(result, "infinite")
    assert node.op == op
    assert math.isinf(node.value)
    assert node.message
    for other in result.nodes:
        if other.id in descendants(result, node.id):
            assert other.status == "propagated", other
    assert_all_real(result)


@pytest.mark.parametrize(("text", "at"), [("exp(x)", {"x": 1000}), ("exp(1000) + x", {"x": 1})])
def test_exp_overflow_is_flagged(text, at):
    result = grad(text, at)
    node = the_node(result, "overflow")
    assert node.op == "exp"
    assert node.value == math.inf
    assert node.message
    assert not math.isfinite(result.value)
    assert_all_real(result)


def test_tower_of_powers_overflows_without_exact_arithmetic():
    result = grad("9**9**9**9 + x", {"x": 1})
    node = the_node(result, "overflow")
    assert node.op == "pow"
    assert not math.isfinite(result.value)
    for other in result.nodes:
        if other.id in descendants(result, node.id):
            assert other.status == "propagated", other
    assert_all_real(result)


def test_huge_exponent_finishes_and_is_flagged():
    box = {}

    def run():
        box["result"] = grad("x**(9**9**9)", {"x": 2})

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)  # a guard against a hang (exact arithmetic), not a timing assertion
    assert "result" in box, "x**(9**9**9) did not finish"
    result = box["result"]
    assert result.flagged
    assert result.value == math.inf
    assert_all_real(result)


# Wrappers around a node that is undefined (log(x) at x = -1). NaN goes in, so by IEEE 754 (and
# in PyTorch: relu, maximum, minimum, abs all propagate NaN) NaN must come out, flagged as
# propagated rather than turned silently into a finite number.
DOWNSTREAM = ["{} + 1", "2*{}", "exp({})", "tanh({})", "sigmoid({})", "softplus({})", "abs({})",
              "relu({})", "max({}, 1)", "max(1, {})", "min({}, 1)", "min(1, {})", "{}**2"]


@pytest.mark.parametrize("wrapper", DOWNSTREAM)
def test_nan_propagates_through_downstream_nodes(wrapper):
    result = grad("u = log(x); v = " + wrapper.format("u"), {"x": -1})
    assert the_node(result, "undefined").id == "u"
    output = result.node("v")
    assert output.status == "propagated", output
    assert math.isnan(output.value), output
    assert math.isnan(result.value)
