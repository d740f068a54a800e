"""The engine on worked examples with published numbers, graph structure and determinism."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import sympy as sp

from backprop_cli import grad

RTOL_SYMPY = 1e-9


def gradient_of(result) -> dict[str, float]:
    return dict(result.gradient)


def sympy_gradient(expression, symbols, at: dict[str, float]) -> dict[str, float]:
    subs = {s: sp.Float(at[s.name], 40) for s in symbols}
    return {s.name: float(sp.N(sp.diff(expression, s), 30, subs=subs)) for s in symbols}


def sympy_value(expression, symbols, at: dict[str, float]) -> float:
    subs = {s: sp.Float(at[s.name], 40) for s in symbols}
    return float(sp.N(expression, 30, subs=subs))


# ----------------------------------------------------------------------------------------------
# Published worked examples


def test_x_times_y_plus_tanh_x():
    # value 2 + tanh(1); d/dx = y + 1 - tanh(1)**2; d/dy = x
    result = grad("x*y + tanh(x)", {"x": 1, "y": 2})
    assert result.value == pytest.approx(2.761594155955765, rel=1e-12)
    gradient = gradient_of(result)
    assert gradient["x"] == pytest.approx(2.419974341614026, rel=1e-12)
    assert gradient["y"] == pytest.approx(1.0, rel=1e-12)
    assert [name for name, _ in result.gradient] == ["x", "y"]


def test_diamond_adjoints():
    result = grad("h1 = x*y; h2 = y*z; h = h1*h2; o = h*h", {"x": 3, "y": 2, "z": 1})
    assert result.output == "o"
    assert result.value == pytest.approx(144.0, rel=1e-12)
    expected = {"o": 1, "h": 24, "h1": 48, "h2": 144, "x": 96, "y": 288, "z": 288}
    for node_id, adjoint in expected.items():
        assert result.node(node_id).adjoint == pytest.approx(adjoint, rel=1e-12), node_id
    assert gradient_of(result) == pytest.approx({"x": 96, "y": 288, "z": 288}, rel=1e-12)
    assert [name for name, _ in result.gradient] == ["x", "y", "z"]


def test_logistic_regression():
    program = ("z = w1*x1 + w2*x2 + b; yhat = sigmoid(z); "
               "L = -y*log(yhat) - (1 - y)*log(1 - yhat)")
    at = {"x1": 1.5, "x2": 2.5, "w1": -4, "w2": 3, "b": -1, "y": 1}
    result = grad(program, at)
    assert result.node("yhat").value == pytest.approx(0.6225, abs=5e-5)
    assert result.value == pytest.approx(0.4741, abs=5e-5)
    gradient = gradient_of(result)
    assert gradient["w1"] == pytest.approx(-0.5663, abs=5e-5)
    assert gradient["w2"] == pytest.approx(-0.9439, abs=5e-5)
    assert gradient["b"] == pytest.approx(-0.3775, abs=5e-5)
    # and to full precision against SymPy, for every input
    symbols = sp.symbols("x1 x2 w1 w2 b y", real=True)
    x1, x2, w1, w2, b, y = symbols
    yhat = 1 / (1 + sp.exp(-(w1 * x1 + w2 * x2 + b)))
    loss = -y * sp.log(yhat) - (1 - y) * sp.log(1 - yhat)
    assert result.value == pytest.approx(sympy_value(loss, symbols, at), rel=RTOL_SYMPY)
    assert gradient == pytest.approx(sympy_gradient(loss, symbols, at), rel=RTOL_SYMPY)


# ----------------------------------------------------------------------------------------------
# Graph structure


def test_x_times_x_is_two_x():
    result = grad("x*x", {"x": 3})
    assert result.gradient == (("x", 6.0),)
    assert [n.id for n in result.nodes if n.op == "var"] == ["x"]
    assert result.node("x").fanout == 2


def test_product_partials_at_zero_are_the_other_factors():
    result = grad("x*y*z", {"x": 0, "y": 3, "z": 0})
    assert gradient_of(result) == {"x": 0.0, "y": 0.0, "z": 0.0}
    result = grad("x*y", {"x": 0, "y": 3})
    assert gradient_of(result) == {"x": 3.0, "y": 0.0}
    assert all(n.status == "ok" for n in result.nodes)


def test_shared_subexpression_is_one_node():
    result = grad("sin(x)*y + sin(x)", {"x": 0.5, "y": 2})
    sines = [n for n in result.nodes if n.op == "sin"]
    assert len(sines) == 1
    assert sines[0].fanout == 2
    assert [n.id for n in result.nodes if n.op == "var"] == ["x", "y"]
    assert result.node("x").fanout == 1
    assert gradient_of(result)["x"] == pytest.approx(math.cos(0.5) * 3, rel=1e-12)


@pytest.mark.parametrize(("text", "op", "expected"), [
    ("x - y", "sub", {"x": 1.0, "y": -1.0}),
    ("x / y", "div", {"x": 0.5, "y": -0.75}),
    ("-x", "neg", {"x": -1.0}),
])
def test_sub_div_neg_are_kept(text, op, expected):
    result = grad(text, {"x": 3, "y": 2} if "y" in text else {"x": 3})
    assert result.node(result.output).op == op
    assert {n.op for n in result.nodes} == {"var", op}
    assert gradient_of(result) == pytest.approx(expected, rel=1e-15)


def test_structure_kept_in_a_larger_expression():
    result = grad("-(x - y)/(x - 2*y)", {"x": 3, "y": 1})
    ops = [n.op for n in result.nodes if n.op not in ("var", "const")]
    assert sorted(ops) == ["div", "mul", "neg", "sub", "sub"]
    assert all(n.value != -1.0 for n in result.nodes if n.op == "const")
    x, y = sp.symbols("x y", real=True)
    expression = -(x - y) / (x - 2 * y)
    expected = sympy_gradient(expression, (x, y), {"x": 3, "y": 1})
    assert gradient_of(result) == pytest.approx(expected, rel=RTOL_SYMPY)


def test_statement_names_are_node_ids():
    result = grad("h = x*y\nact = tanh(h)\nout = act + h", {"x": 0.5, "y": 2})
    assert result.output == "out"
    assert result.node("h").op == "mul"
    assert result.node("act").op == "tanh"
    assert result.node("out").op == "add"
    for node_id in ("h", "act", "out"):
        assert result.node(node_id).named
    h = 1.0
    assert result.node("h").adjoint == pytest.approx(1 + (1 - math.tanh(h) ** 2), rel=1e-12)


@pytest.mark.parametrize(("text", "at", "user_nodes"), [
    ("z3 = x*y; z3 + sin(x)", {"x": 1, "y": 2}, {"z3": "mul"}),
    ("x*y + z4", {"x": 1, "y": 2, "z4": 3}, {"z4": "var"}),
    ("z1 = x + 1; z2 = sin(z1)*x; z3 = z2 + exp(x)*x; z3*z1 + cos(x)", {"x": 0.3},
     {"z1": "add", "z2": "mul", "z3": "add"}),
    ("z5 = x*x*x*x; zz5 = z5 + 1; zz5*(x + 1)*(x + 2)", {"x": 0.3}, {"z5": "mul", "zz5": "add"}),
])
def test_generated_ids_never_collide_with_user_names(text, at, user_nodes):
    result = grad(text, at)
    ids = [n.id for n in result.nodes]
    assert len(ids) == len(set(ids)), ids
    for node_id, op in user_nodes.items():
        assert [n.op for n in result.nodes if n.id == node_id] == [op]


def test_generated_ids_collision_gives_right_gradient():
    result = grad("z3 = x*y; z3 + sin(x)", {"x": 1, "y": 2})
    assert gradient_of(result) == pytest.approx({"x": 2 + math.cos(1), "y": 1}, rel=1e-12)


# ----------------------------------------------------------------------------------------------
# Size, purity and determinism


def test_long_chain_is_iterative_and_right():
    # a_i = c*a_(i-1) + d*sin(x), a_0 = x  =>  a_n = c**n*x + d*sin(x)*(1 - c**n)/(1 - c)
    n, c, d, x = 100_000, 0.9999, 0.0001, 0.5
    lines = ["a0 = x"] + [f"a{i} = a{i - 1}*{c} + {d}*sin(x)" for i in range(1, n + 1)]
    result = grad("\n".join(lines), {"x": x})
    assert result.output == f"a{n}"
    geometric = (1 - c**n) / (1 - c)
    assert result.value == pytest.approx(c**n * x + d * math.sin(x) * geometric, rel=1e-9)
    assert gradient_of(result)["x"] == pytest.approx(c**n + d * math.cos(x) * geometric,
                                                     rel=1e-9)
    assert result.node("a1").adjoint == pytest.approx(c ** (n - 1), rel=1e-9)


PROGRAM = ("h1 = x*y; h2 = y*z; h = h1*h2; o = h*h + log(x) + max(x, y, z) + erf(z) - y/z"
           " + sqrt(0*x)")
POINT = {"x": 3, "y": 2, "z": 1, "unused": 4}


def test_same_input_gives_byte_identical_json():
    first = json.dumps(grad(PROGRAM, POINT).to_dict())
    second = json.dumps(grad(PROGRAM, POINT).to_dict())
    assert first == second


def test_json_is_identical_across_processes_and_hash_seeds():
    script = ("import json, sys; from backprop_cli import grad; "
              f"sys.stdout.write(json.dumps(grad({PROGRAM!r}, {POINT!r}).to_dict()))")
    outputs = []
    for seed in ("0", "4242"):
        environment = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=environment, check=True, timeout=120)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0] == json.dumps(grad(PROGRAM, POINT).to_dict())


def test_adjoints_do_not_accumulate_across_calls():
    text = "h = x*y; o = h*h + x"
    first = grad(text, {"x": 3, "y": 2})
    grad(text, {"x": -1, "y": 5})
    second = grad(text, {"x": 3, "y": 2})
    # o = x**2*y**2 + x: d/dx = 2*x*y**2 + 1 = 25, d/dy = 2*x**2*y = 36
    assert gradient_of(first) == {"x": 25.0, "y": 36.0}
    assert gradient_of(second) == {"x": 25.0, "y": 36.0}
    assert first.nodes == second.nodes


# ----------------------------------------------------------------------------------------------
# Warnings


def test_dead_statement_has_zero_adjoint_and_a_warning():
    result = grad("d = y*3\nout = x*2", {"x": 1, "y": 2})
    assert result.node("d").adjoint == 0.0
    assert gradient_of(result) == {"x": 2.0, "y": 0.0}
    assert any("'d'" in warning for warning in result.warnings), result.warnings


def test_many_dead_statements_are_one_warning_naming_the_first_few():
    """Each dead statement was a warning of its own: a 10^5-node program had 3,412 lines of
    them. Past five, they are one warning with their count and the first five names."""
    dead = "".join(f"d{k} = y*{k}\n" for k in range(1, 9))
    result = grad(dead + "out = x*2", {"x": 1, "y": 2})
    assert gradient_of(result) == {"x": 2.0, "y": 0.0}
    assert result.warnings == ("8 statements do not affect the output 'out': 'd1', 'd2', "
                               "'d3', 'd4', 'd5' and 3 more",)
    few = grad("d1 = y*3\nd2 = y*4\nout = x*2", {"x": 1, "y": 2})
    assert few.warnings == ("statement 'd1' does not affect the output 'out'",
                            "statement 'd2' does not affect the output 'out'")


def test_unused_given_variable_warns():
    result = grad("x*2", {"x": 1, "w": 3})
    assert result.gradient == (("x", 2.0),)
    assert any("'w'" in warning for warning in result.warnings), result.warnings


# ----------------------------------------------------------------------------------------------
# Names and constants


@pytest.mark.parametrize("name", ["e", "E"])
def test_e_is_eulers_number_unless_defined(name):
    result = grad(f"{name}*x", {"x": 2})
    assert result.value == pytest.approx(2 * math.e, rel=1e-15)
    assert result.gradient == (("x", pytest.approx(math.e, rel=1e-15)),)
    assert any("Euler" in warning for warning in result.warnings)


def test_e_power():
    result = grad("E**x + e^x", {"x": 1.5})
    assert result.value == pytest.approx(2 * math.exp(1.5), rel=1e-14)
    assert gradient_of(result)["x"] == pytest.approx(2 * math.exp(1.5), rel=1e-14)


def test_user_defined_e_is_used():
    result = grad("e = y - t; l = e**2", {"y": 3, "t": 1})
    assert result.value == 4.0
    assert gradient_of(result) == {"y": 4.0, "t": -4.0}
    assert result.node("e").op == "sub"
    assert not any("Euler" in warning for warning in result.warnings)


def test_given_e_is_a_variable():
    result = grad("e*x", {"e": 2, "x": 3})
    assert result.value == 6.0
    assert gradient_of(result) == {"e": 3.0, "x": 2.0}


def test_greek_and_sympy_names_as_variables():
    at = {"beta": 1.5, "gamma": 2.0, "S": 3.0, "lambda": 4.0, "λ": 5.0, "θ1": 6.0}
    result = grad("beta*gamma + S*lambda + λ*θ1 + sin(θ1)", at)
    assert result.value == pytest.approx(1.5 * 2 + 3 * 4 + 5 * 6 + math.sin(6), rel=1e-15)
    expected = {"beta": 2.0, "gamma": 1.5, "S": 4.0, "lambda": 3.0, "λ": 6.0,
                "θ1": 5.0 + math.cos(6)}
    assert gradient_of(result) == pytest.approx(expected, rel=1e-15)


def test_sympy_function_name_as_statement_name():
    result = grad("gamma = x*2; beta = gamma + 1; S = beta*x", {"x": 3})
    assert result.node("gamma").op == "mul"
    assert result.value == 21.0
    assert result.gradient == (("x", 13.0),)


@pytest.mark.parametrize(("text", "expected"), [
    ("pi/4", sp.pi / 4),
    ("1/3", sp.Rational(1, 3)),
    ("sqrt(2)", sp.sqrt(2)),
    ("E", sp.E),
    ("-2.5", sp.Rational(-5, 2)),
    ("2*pi - 1", 2 * sp.pi - 1),
])
def test_values_as_constant_expressions(text, expected):
    result = grad("sin(x)", {"x": text})
    number = float(sp.N(expected, 30))
    assert dict(result.at)["x"] == pytest.approx(number, rel=1e-15)
    assert result.value == pytest.approx(float(sp.N(sp.sin(expected), 30)), rel=1e-14,
                                         abs=1e-15)
    assert result.gradient == (("x", pytest.approx(float(sp.N(sp.cos(expected), 30)),
                                                   rel=1e-14, abs=1e-15)),)
