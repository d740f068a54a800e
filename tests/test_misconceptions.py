"""Named misconceptions (grading/misconceptions.py): which common backprop mistake gives exactly
a student's wrong number.

Oracles, worked by hand or with SymPy, never with the module's own helpers:
- f = x*y + tanh(x) at (1, 2): df/dx = y + 1 - tanh(1)^2 = 2.41997. Without the tanh path: y = 2;
  without the product path: 1 - tanh(1)^2 = 0.41997; with tanh(1) for its derivative:
  2 + tanh(1) = 2.76159; with the tanh path's local derivative forgotten: 2 + 1 = 3.
- The diamond h1 = x*y; h2 = y*z; h = h1*h2; o = h*h at (3, 2, 1) (adjoints o 1, h 24, h1 48,
  h2 144, y 288). Dropping one path at y: 48*3 = 144 or 144*1 = 144. Every fan-out adjoint
  overwritten (= for +=): h keeps one factor of o = h*h, 12; h1 = 12*h2 = 24, h2 = 12*h1 = 72;
  the reverse sweep applies h2 (later node) before h1, so y keeps h1's 24*x = 72.
- The neuron of samples/neuron.bp: SymPy's derivative of the loss with σ' replaced by σ.
- Early rounding of a = x**2, L = 3*a at x = 1.234: L from a rounded to 2 places is
  3*1.52 = 4.56 (true 4.568268); dL/dx from da/dx rounded, 3*2.47 = 7.41 (true 7.404).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from programs import program_point, statement_programs

from backprop_cli.grading import accepts, evaluate_program
from backprop_cli.grading.misconceptions import CODES, MAX_NODES, diagnose

TANH = "x*y + tanh(x)"
TANH_AT = {"x": 1.0, "y": 2.0}
TANH_DX = 2.0 + 1.0 - math.tanh(1.0) ** 2
DIAMOND = "h1 = x*y; h2 = y*z; h = h1*h2; o = h*h"
DIAMOND_AT = {"x": 3.0, "y": 2.0, "z": 1.0}
NEURON = (Path(__file__).resolve().parent.parent / "samples" / "neuron.bp").read_text()
NEURON_AT = {"w": 0.5, "x": 2.0, "b": -0.5, "t": 1.0}


def diagnosed(text: str, point: dict, quantity: str, node: str, given_number: float,
              decimals: int, seed: float = 1.0, wrt: str | None = None) -> tuple:
    graph, result = evaluate_program(text, point)
    values = [n.value for n in result.nodes]
    adjoints = [(n.adjoint or 0.0) * seed for n in result.nodes]
    rule = lambda c: accepts(c, given_number, decimals, None, None)
    return diagnose(graph, values, adjoints, seed, quantity, node, given_number, rule, wrt)


def codes(found: tuple) -> list[str]:
    return [m.code for m in found]


# ----------------------------------------------------------------------------------------------
# x*y + tanh(x): x fans out into the product and the tanh


def test_dropping_the_tanh_path_is_named_and_overwriting_first() -> None:
    found = diagnosed(TANH, TANH_AT, "gradient", "x", 2.0, 2)
    assert codes(found) == ["fanout_overwritten", "fanout_dropped"]
    assert all(m.would_give == pytest.approx(2.0, rel=1e-12) for m in found)
    dropped = found[1].message
    assert dropped.startswith("the path through tanh(x) was dropped at x:")
    assert "(x feeds x*y and tanh(x))" in dropped
    assert "overwritten" in found[0].message and "summed" in found[0].message


def test_dropping_the_product_path_leaves_the_tanh_derivative_alone() -> None:
    found = diagnosed(TANH, TANH_AT, "gradient", "x", 0.42, 2)
    assert codes(found) == ["fanout_dropped"]
    assert found[0].would_give == pytest.approx(1 - math.tanh(1.0) ** 2, rel=1e-12)
    assert "the path through x*y was dropped at x" in found[0].message


def test_tanh_value_for_its_derivative() -> None:
    found = diagnosed(TANH, TANH_AT, "gradient", "x", 2.76, 2)
    assert codes(found) == ["value_for_derivative"]
    assert found[0].would_give == pytest.approx(2 + math.tanh(1.0), rel=1e-12)
    assert found[0].message.startswith(
        "you used tanh(x) = 0.7616, the tanh itself, where its derivative 1 - tanh(x)² = 0.42")
    assert found[0].message.endswith(" = 0.42 belongs")


def test_a_forgotten_local_derivative_is_a_missing_chain_factor() -> None:
    found = diagnosed(TANH, TANH_AT, "gradient", "x", 3.0, 2)
    assert codes(found) == ["missing_chain_factor"]
    assert found[0].would_give == pytest.approx(3.0, rel=1e-12)


def test_the_opposite_sign_is_a_sign_flip() -> None:
    found = diagnosed(TANH, TANH_AT, "gradient", "x", -2.42, 2)
    assert codes(found) == ["sign_flip"]
    assert found[0].would_give == pytest.approx(-TANH_DX, rel=1e-12)


@pytest.mark.parametrize("given_number, decimals", [(TANH_DX, 15), (2.42, 2), (2.4, 1)])
def test_a_right_answer_gets_no_misconception(given_number: float, decimals: int) -> None:
    assert diagnosed(TANH, TANH_AT, "gradient", "x", given_number, decimals) == ()


def test_a_number_no_mistake_gives_gets_none() -> None:
    assert diagnosed(TANH, TANH_AT, "gradient", "x", 1.7, 2) == ()


# ----------------------------------------------------------------------------------------------
# The sigmoid neuron


def neuron_oracle() -> tuple[float, float]:
    """dL/dw with σ(z) used for σ'(z), and σ(z) itself, from SymPy."""
    w, x, b, t, a = sp.symbols("w x b t a", real=True)
    sigma = 1 / (1 + sp.exp(-(w * x + b)))
    subs = {w: 0.5, x: 2, b: -0.5, t: 1}
    true = sp.diff((sigma - t) ** 2, w).subs(subs)
    mistaken = (sp.diff((a - t) ** 2, a) * sigma * x).subs(a, sigma).subs(subs)
    assert float(true) == pytest.approx(-0.354894, abs=1e-6)
    return float(mistaken), float(sigma.subs(subs))


def test_neuron_sigma_for_its_derivative_reaches_the_weight() -> None:
    mistaken, sigma = neuron_oracle()
    found = diagnosed(NEURON, NEURON_AT, "gradient", "w", round(mistaken, 3), 3)
    assert codes(found) == ["value_for_derivative"]
    assert found[0].would_give == pytest.approx(mistaken, rel=1e-12)
    assert found[0].message.startswith(f"you used a = {sigma:.4g}, the sigmoid itself, where "
                                       "its derivative a·(1 - a) = ")


def test_neuron_local_derivative_written_as_the_value() -> None:
    _, sigma = neuron_oracle()
    found = diagnosed(NEURON, NEURON_AT, "local", "a", 0.62, 2, wrt="z")
    assert codes(found) == ["value_for_derivative"]
    assert found[0].would_give == pytest.approx(sigma, rel=1e-12)
    local_true = sigma * (1 - sigma)
    assert codes(diagnosed(NEURON, NEURON_AT, "local", "a", -round(local_true, 3), 3,
                           wrt="z")) == ["sign_flip"]
    assert diagnosed(NEURON, NEURON_AT, "local", "a", round(local_true, 3), 3, wrt="z") == ()


def test_local_needs_a_direct_input() -> None:
    with pytest.raises(ValueError, match="not an input"):
        diagnosed(NEURON, NEURON_AT, "local", "a", 1.0, 2, wrt="w")
    with pytest.raises(ValueError, match="no node"):
        diagnosed(NEURON, NEURON_AT, "adjoint", "nowhere", 1.0, 2)
    with pytest.raises(ValueError, match="unknown quantity"):
        diagnosed(NEURON, NEURON_AT, "slope", "a", 1.0, 2)


# ----------------------------------------------------------------------------------------------
# Seeds


def test_a_student_who_seeded_with_one_instead_of_the_given_half() -> None:
    found = diagnosed(TANH, TANH_AT, "gradient", "x", 2.42, 2, seed=0.5)
    assert codes(found) == ["wrong_seed"]
    assert found[0].would_give == pytest.approx(TANH_DX, rel=1e-12)
    assert "0.5" in found[0].message
    assert diagnosed(TANH, TANH_AT, "gradient", "x", 1.21, 2, seed=0.5) == ()


def test_a_student_who_seeded_with_the_output_value() -> None:
    output = 2 + math.tanh(1.0)
    found = diagnosed(TANH, TANH_AT, "gradient", "x", round(TANH_DX * output, 3), 3)
    assert codes(found) == ["wrong_seed"]
    assert found[0].would_give == pytest.approx(TANH_DX * output, rel=1e-12)
    assert "value" in found[0].message


# ----------------------------------------------------------------------------------------------
# The diamond: two fan-out nodes (y into h1 and h2, h twice into o)


def test_diamond_overwriting_everywhere_is_not_dropping_one_path() -> None:
    found = diagnosed(DIAMOND, DIAMOND_AT, "adjoint", "y", 72.0, 0)
    assert codes(found) == ["fanout_overwritten"]
    assert found[0].would_give == pytest.approx(72.0, rel=1e-12)
    assert "(y, h)" in found[0].message


def test_diamond_one_path_dropped_at_y() -> None:
    x, y1, y2, z = sp.symbols("x y1 y2 z", real=True)
    without_h2 = float(sp.diff((x * y1 * y2 * z) ** 2, y1).subs({x: 3, y1: 2, y2: 2, z: 1}))
    assert without_h2 == 144.0
    found = diagnosed(DIAMOND, DIAMOND_AT, "adjoint", "y", without_h2, 0)
    assert codes(found) == ["fanout_overwritten", "fanout_dropped"]
    assert "(y feeds h1 and h2)" in found[1].message


def test_a_path_dropped_upstream_reaches_the_gradient() -> None:
    found = diagnosed(DIAMOND, DIAMOND_AT, "gradient", "x", 48.0, 0)  # half of 96
    assert "fanout_dropped" in codes(found)
    dropped = next(m for m in found if m.code == "fanout_dropped")
    assert dropped.message.startswith("one path through o was dropped at h:")
    assert "(h feeds o twice)" in dropped.message


def test_three_branches_overwritten_is_neither_dropped_path() -> None:
    text = "a = 2*x; b = 3*x; c = sin(x); L = a + b + c"
    found = diagnosed(text, {"x": 1.0}, "gradient", "x", 2.0, 3)
    assert codes(found) == ["fanout_overwritten"]
    assert "(=)" in found[0].message and "a, b and c" in found[0].message
    dropped_sin = diagnosed(text, {"x": 1.0}, "gradient", "x", 5.0, 3)
    assert codes(dropped_sin) == ["fanout_dropped"]


# ----------------------------------------------------------------------------------------------
# Early rounding


def test_rounding_values_too_early_changes_the_third_decimal() -> None:
    hand = 3 * 1.52
    assert f"{3 * 1.234 ** 2:.3f}" == "4.568"
    found = diagnosed("a = x**2; L = 3*a", {"x": 1.234}, "value", "L", 4.56, 3)
    assert codes(found) == ["early_rounding"]
    assert found[0].would_give == pytest.approx(hand, rel=1e-12)
    assert "2 decimal places" in found[0].message


def test_rounding_a_local_derivative_too_early_reaches_the_gradient() -> None:
    hand = 3 * 2.47
    assert f"{6 * 1.234:.3f}" == "7.404"
    found = diagnosed("a = x**2; L = 3*a", {"x": 1.234}, "gradient", "x", 7.41, 3)
    assert codes(found) == ["early_rounding"]
    assert found[0].would_give == pytest.approx(hand, rel=1e-12)


# ----------------------------------------------------------------------------------------------
# Limits


def test_large_graphs_are_not_diagnosed() -> None:
    text = "; ".join(["t0 = x"] + [f"t{k} = sin(t{k - 1})" for k in range(1, MAX_NODES + 1)])
    graph, _ = evaluate_program(text, {"x": 0.5})
    assert len(graph) > MAX_NODES
    assert diagnosed(text, {"x": 0.5}, "gradient", "x", -1.0, 2) == ()


def test_non_finite_numbers_are_never_reported() -> None:
    # Seeding with the output's value 1e300 would give 1e200 * 1e300 = inf.
    graph, result = evaluate_program("1e200*x", {"x": 1e100})
    values = [n.value for n in result.nodes]
    adjoints = [(n.adjoint or 0.0) * 2.0 for n in result.nodes]
    true = adjoints[graph.variables[0]]
    found = diagnose(graph, values, adjoints, 2.0, "gradient", "x", 1.0, lambda c: c != true)
    assert found and all(math.isfinite(m.would_give) for m in found)
    assert "wrong_seed" in codes(found)


# ----------------------------------------------------------------------------------------------
# Properties over random programs


PROPERTY = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def random_case(program):
    text, _, point = program
    point = program_point(text, point)
    assume(point)
    graph, result = evaluate_program(text, point)
    values = [n.value for n in result.nodes]
    adjoints = [n.adjoint or 0.0 for n in result.nodes]
    return graph, values, adjoints


@PROPERTY
@given(statement_programs(most=5), st.integers(0, 1), st.integers(1, 4))
def test_a_right_answer_never_gets_a_misconception(program, which, decimals) -> None:
    graph, values, adjoints = random_case(program)
    quantity = ("value", "adjoint")[which]
    for i, node in enumerate(graph.ids):
        true = (values, adjoints)[which][i]
        if not math.isfinite(true):
            continue
        exact = lambda c, t=true: accepts(c, t, 15, None, None)
        assert diagnose(graph, values, adjoints, 1.0, quantity, node, true, exact) == ()
        written = float(f"{true:.{decimals}f}")
        rounded = lambda c, w=written: accepts(c, w, decimals, None, None)
        assert diagnose(graph, values, adjoints, 1.0, quantity, node, written, rounded) == ()


@PROPERTY
@given(statement_programs(most=5), st.integers(0, 1), st.floats(-3.0, 3.0))
def test_every_misconception_named_matches_and_is_wrong(program, which, offset) -> None:
    graph, values, adjoints = random_case(program)
    quantity = ("value", "adjoint")[which]
    for i, node in enumerate(graph.ids):
        true = (values, adjoints)[which][i]
        if not math.isfinite(true):
            continue
        for given_number in (-true, true + offset, 0.0):
            rule = lambda c, g=given_number: accepts(c, g, 2, None, None)
            for m in diagnose(graph, values, adjoints, 1.0, quantity, node, given_number, rule):
                assert m.code in CODES
                assert math.isfinite(m.would_give) and rule(m.would_give)
                assert not rule(true)


def test_rounding_every_step_of_a_sigmoid_is_early_rounding_and_a_last_digit_slip_is_not() -> None:
    """z = w*x, s = σ(z), L = -log(s) at w = 0.5, x = 1, every number written to 2 places by
    hand: s = 0.62, s̄ = -1/0.62 = -1.61, σ'(z) = s(1 - s) = 0.62·0.38 = 0.24,
    z̄ = -1.61·0.24 = -0.3864 → -0.39 (true -0.3775 → -0.38). -0.37 is a slip in the last
    digit, which no rounding of the steps gives."""
    program, point = "z = w*x; s = sigmoid(z); L = -log(s)", {"w": 0.5, "x": 1.0}
    assert set(codes(diagnosed(program, point, "adjoint", "z", -0.39, 2))) == {"early_rounding"}
    assert diagnosed(program, point, "adjoint", "z", -0.37, 2) == ()


def test_neuron_sigma_prime_left_out_in_the_middle_of_the_chain() -> None:
    """dL/dw = dL/da · σ'(z) · x with σ'(z) left out (-1.5102 for -0.3549) was named nothing:
    only the factor next to w was tried. Oracle: SymPy's product without σ'."""
    w, x, b, t = sp.symbols("w x b t", real=True)
    z = w * x + b
    sigma = 1 / (1 + sp.exp(-z))
    subs = {w: 0.5, x: 2, b: -0.5, t: 1}
    without = float((2 * (sigma - t) * x).subs(subs))
    found = diagnosed(NEURON, NEURON_AT, "gradient", "w", round(without, 4), 4)
    assert codes(found)[:1] == ["missing_chain_factor"]
    assert found[0].would_give == pytest.approx(without, rel=1e-12)
    prime = float((sigma * (1 - sigma)).subs(subs))
    assert found[0].message == (f"the chain rule's factor da/dz = {prime:.4g} was left out on "
                                "the way to w")


def test_the_answer_alone_rounded_is_no_early_rounding() -> None:
    """x*y's d/dy = x = 12345 given as 12300 was 'intermediate numbers were rounded to 3
    significant digits at every step', in a program with no step before the answer."""
    assert "early_rounding" not in codes(diagnosed("x*y", {"x": 12345.0, "y": 1.0},
                                                   "gradient", "y", 12300.0, 0))


def test_a_start_within_a_few_percent_of_the_seed_is_no_wrong_seed() -> None:
    """A number 2% high was named wrong_seed ('started from L's value 1.02 instead of 1')
    where L was 1.02: a start that close moves the answer no more than rounding does."""
    assert "wrong_seed" not in codes(diagnosed("L = x*y", {"x": 1.02, "y": 1.0}, "gradient",
                                               "x", 1.02, 2))
    assert "wrong_seed" in codes(diagnosed("L = x*y", {"x": 3.0, "y": 1.0}, "gradient", "x",
                                           3.0, 1))
