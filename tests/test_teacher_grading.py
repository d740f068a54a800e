"""Grading additions for the teacher's loop: local-derivative claims (`dz/dw`, the statement's
own derivative with the other names held fixed), `dL/da` as an adjoint, an upstream gradient
other than 1, and error-carried-forward that a trivial 0 or 1 cannot game.

Oracles: the neuron of samples/neuron.bp (z = w*x + b; a = sigmoid(z); L = (a - t)**2) at
w = 0.5, x = 2, b = -0.5, t = 1, by hand: z = 0.5, a = σ(0.5) = 0.622459, σ'(0.5) = a(1 - a)
= 0.235004, dL/da = 2(a - t) = -0.755081, dL/dz = -0.177447, dL/dw = x·dL/dz = -0.354894.
Statement-local derivatives by SymPy: d(w*x + b)/dw = x, d(sigmoid(z))/dz = σ(z)(1 - σ(z)).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import sympy as sp

from backprop_cli.errors import InputError
from backprop_cli.grading import CORRECT, INCORRECT, Job, TableRow, grade

NEURON = (Path(__file__).parent.parent / "samples" / "neuron.bp").read_text()
AT = (("w", 0.5), ("x", 2.0), ("b", -0.5), ("t", 1.0))
SIGMA = 1 / (1 + math.exp(-0.5))
DL_DA = 2 * (SIGMA - 1)
DL_DZ = DL_DA * SIGMA * (1 - SIGMA)


def verdicts(*claims: str, seed: float = 1.0, expr: str = NEURON) -> list[str]:
    report = grade(Job(expr, at=AT, claims=claims, seed=seed))
    return [item.verdict for item in report.items]


def test_local_derivative_of_a_statement_holds_the_other_names_fixed():
    w, x, b, z = sp.symbols("w x b z", real=True)
    dz_dw = float(sp.diff(w * x + b, w).subs({w: 0.5, x: 2, b: -0.5}))
    da_dz = float(sp.diff(1 / (1 + sp.exp(-z)), z).subs(z, 0.5))
    assert verdicts(f"dz/dw={dz_dw:.3f}", f"da/dz={da_dz:.4f}", "dz/db=1.0") == [CORRECT] * 3
    assert verdicts(f"da/dz={SIGMA:.4f}") == [INCORRECT]


def test_local_derivative_of_a_name_the_statement_does_not_use_is_refused():
    with pytest.raises(InputError, match=r"'t' is not an input of 'z' \(its inputs: w, x, b\)"):
        grade(Job(NEURON, at=AT, claims=("dz/dt=1",)))


def test_d_output_by_an_intermediate_node_is_its_adjoint():
    assert verdicts(f"dL/da={DL_DA:.4f}", f"d/dz={DL_DZ:.4f}") == [CORRECT, CORRECT]


def test_an_upstream_gradient_scales_every_adjoint():
    claims = (f"L.adjoint={0.5:.2f}", f"a.adjoint={0.5 * DL_DA:.4f}",
              f"d/dw={0.5 * 2 * DL_DZ:.4f}")
    assert verdicts(*claims, seed=0.5) == [CORRECT] * 3
    assert verdicts(*claims) == [INCORRECT] * 3


def test_a_table_with_an_upstream_gradient_carries_the_students_numbers_forward():
    wrong_dz = -0.1  # true 0.5 * DL_DZ = -0.0887
    rows = (TableRow("z", None, wrong_dz, 0, 4), TableRow("w", None, wrong_dz * 2, 0, 4))
    report = grade(Job(NEURON, at=AT, table=rows, seed=0.5))
    marks = {item.label: item.details["adjoint"] for item in report.items}
    assert marks["z"].get("root_cause") and marks["w"].get("consistent")
    assert math.isclose(marks["w"]["expected"], 0.5 * 2 * DL_DZ)


def test_a_carried_forward_zero_earns_no_credit_and_says_why():
    rows = (TableRow("z", None, 0.0, 0, 2), TableRow("w", None, 0.0, 0, 2),
            TableRow("b", None, 0.0, 0, 2))
    report = grade(Job(NEURON, at=AT, table=rows))
    marks = {item.label: item for item in report.items}
    for node in ("w", "b"):
        adjoint = marks[node].details["adjoint"]
        assert adjoint["consistent"] and adjoint["trivial"]
        assert "no carried-forward credit" in marks[node].reason
    assert marks["z"].details["adjoint"]["root_cause"]


def test_a_carried_forward_ordinary_number_is_not_called_trivial():
    rows = (TableRow("z", None, -0.235, 0, 3), TableRow("w", None, -0.47, 0, 2),
            TableRow("x", None, -0.1175, 0, 4))
    report = grade(Job(NEURON, at=AT, table=rows))
    for item in report.items[:2]:  # w and x, in evaluation order
        assert item.details["adjoint"].get("consistent")
        assert not item.details["adjoint"].get("trivial")
