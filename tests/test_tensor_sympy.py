"""SymPy over arrays (issue 11): `--check` on the program written out element by element when
it is small (finite differences otherwise, saying which), and `--exact` element by element.

Oracles: derivatives written out by hand here in SymPy, central differences of NumPy formulas
(from test_tensors), and the published figures of the 51-point network."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import sympy
from cli_checks import one_error_line, strict_json
from test_tensors import NETWORK_FILES, OPS, central_differences
from typer.testing import CliRunner

from backprop_cli.api import grad
from backprop_cli.cli import app
from backprop_cli.graph import build_graph
from backprop_cli.parse import parse_program
from backprop_cli.tensor_exact import symbolic_gradient

runner = CliRunner()
SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "backprop_cli" / "schemas"
                     / "grad.schema.json").read_text())

W = [[0.1, 0.2, -0.3], [0.5, -0.6, 0.7]]
X = [1.0, 2.0, -1.5]
B = [0.25, -0.5]


def _softmax_classifier_gradient() -> dict[str, np.ndarray]:
    """d/dW and d/db of -log softmax(W x + b)[1], written out by hand."""
    w = sympy.Matrix(2, 3, lambda i, j: sympy.Symbol(f"w{i}{j}"))
    b = sympy.Matrix(2, 1, lambda i, _: sympy.Symbol(f"b{i}"))
    z = w * sympy.Matrix(X) + b
    loss = -sympy.log(sympy.exp(z[1]) / (sympy.exp(z[0]) + sympy.exp(z[1])))
    at = {w[i, j]: W[i][j] for i in range(2) for j in range(3)} | {b[i]: B[i] for i in range(2)}
    return {"W": np.array([[float(sympy.diff(loss, w[i, j]).subs(at)) for j in range(3)]
                           for i in range(2)]),
            "b": np.array([float(sympy.diff(loss, b[i]).subs(at)) for i in range(2)])}


def _classifier(*options: str, env: dict | None = None):
    return runner.invoke(app, ["grad", "L = cross_entropy(W @ x + b, 1)", "--W", json.dumps(W),
                               "--x", json.dumps(X), "--b", json.dumps(B), *options], env=env)


def test_check_on_a_small_program_uses_sympy_and_says_so() -> None:
    result = _classifier("--check", "--json")
    assert result.exit_code == 0, result.stderr
    document = strict_json(result.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    check = document["check"]
    assert check["status"] == "passed" and check["method"] == "SymPy"
    expected = _softmax_classifier_gradient()
    for name in ("W", "b"):
        assert check["entries"][name]["agrees"] is True
        np.testing.assert_allclose(check["entries"][name]["symbolic"], expected[name],
                                   rtol=1e-12)
    table = _classifier("--check", env={"COLUMNS": "120"})
    assert "check passed: gradient compared with SymPy" in table.stdout


def test_the_sympy_oracle_agrees_with_finite_differences_on_every_tensor_op() -> None:
    """The oracle itself, op by op, against central differences of NumPy formulas."""
    rng = np.random.default_rng(11)
    values = {"A": rng.normal(size=(2, 3)), "B": rng.normal(size=(2, 3)),
              "v": rng.normal(size=2), "u": rng.normal(size=3)}
    for program, formula in OPS.items():
        graph = build_graph(parse_program(f"L = {program}", given=frozenset(values)))
        names = [graph.ids[i] for i in graph.variables]
        found = symbolic_gradient(graph, values, names)
        slopes = central_differences(formula, values)
        for name in names:
            np.testing.assert_allclose(found[name], slopes[name], rtol=1e-6, atol=1e-8,
                                       err_msg=program)


def test_check_fails_a_wrong_vector_jacobian_product_against_sympy(monkeypatch) -> None:
    from dataclasses import replace

    from backprop_cli import tensor_ops

    wrong = replace(tensor_ops.TENSOR_OPS["softmax"],
                    vjp=lambda g, args, out: (g * out * (1 - out),))
    monkeypatch.setitem(tensor_ops.TENSOR_OPS, "softmax", wrong)
    result = runner.invoke(app, ["grad", "L = dot(softmax(u), [1, 2, 3])", "--u",
                                 "[0.5, -1, 2]", "--check", "--json"])
    assert result.exit_code == 1
    check = strict_json(result.stdout)["check"]
    assert check["method"] == "SymPy" and check["status"] == "failed"
    assert check["entries"]["u"]["agrees"] is False


def test_check_falls_back_to_finite_differences_and_says_why() -> None:
    large = runner.invoke(app, ["grad", *NETWORK_FILES, "--check", "--json"])
    check = strict_json(large.stdout)["check"]
    assert check["method"] == "central finite differences"
    assert check["reason"] == "SymPy was not used: the program has too many elements to " \
                              "write out"
    slow = grad("L = cross_entropy(W @ x + b, 1)", {"W": json.dumps(W), "x": json.dumps(X),
                                                    "b": json.dumps(B)},
                check=True, check_timeout=1e-4)
    assert slow.check.method == "central finite differences"
    assert slow.check.reason.startswith("SymPy was not used: timed out")
    assert slow.check.status == "passed"


def test_check_at_a_kink_does_not_fail_and_a_nonfinite_output_is_skipped() -> None:
    kink = grad("L = sum(relu(x) * [1, 2])", {"x": "[0, 1]"}, check=True)
    assert kink.check.method == "SymPy" and kink.check.status == "skipped"
    assert kink.check.entries[0][2] is None
    pole = runner.invoke(app, ["grad", "L = sum(log(x))", "--x", "[0, 1]", "--check", "--json"])
    document = strict_json(pole.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert document["check"]["status"] == "skipped"


# ----------------------------------------------------------------------------------------------
# --exact


def test_exact_gives_every_value_and_adjoint_element_by_element() -> None:
    """L = c·Σ tanh(W x): ∂L/∂W[i, j] = c (1 - tanh(z_i)²) x_j, with c = 1/3 kept exact."""
    result = runner.invoke(app, ["grad", "L = sum(tanh(W @ x)) * c", "--W",
                                 "[[1, 2], [3, 0.5]]", "--x", "[1, 2]", "--c", "1/3",
                                 "--exact", "--json"])
    assert result.exit_code == 0, result.stderr
    document = strict_json(result.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert "exact" in document, document["warnings"]
    exact = document["exact"]
    c = sympy.Rational(1, 3)
    z = [sympy.Integer(5), sympy.Integer(4)]  # W @ x
    x = [1, 2]
    for i in range(2):
        for j in range(2):
            expected = c * (1 - sympy.tanh(z[i]) ** 2) * x[j]
            entry = exact["gradient"]["W"][i][j]
            assert sympy.simplify(sympy.sympify(entry["exact"]) - expected) == 0
            assert float(entry["decimal"]) == pytest.approx(float(expected), rel=1e-14)
    assert sympy.simplify(sympy.sympify(exact["gradient"]["c"]["exact"])
                          - sympy.tanh(4) - sympy.tanh(5)) == 0
    assert exact["value"]["decimal"].startswith("0.66641283466722")
    nodes = {node["id"]: node for node in document["nodes"]}
    assert [e["exact"] for e in nodes["W"]["exact"]["value"][1]] == ["3", "1/2"]
    table = runner.invoke(app, ["grad", "L = sum(tanh(W @ x)) * c", "--W",
                                "[[1, 2], [3, 0.5]]", "--x", "[1, 2]", "--c", "1/3", "--exact"],
                          env={"COLUMNS": "160"})
    assert "tanh(4) + tanh(5) = 1.99923850400166" in table.stdout


def test_exact_is_refused_for_large_arrays_in_one_line() -> None:
    result = runner.invoke(app, ["grad", *NETWORK_FILES, "--exact"])
    assert result.exit_code == 2
    assert "up to 500 elements" in one_error_line(result.stderr)


def test_conventions_hold_in_the_sympy_check_and_in_exact_mode() -> None:
    """Tied maxima share the adjoint (1/3 each, not SymPy's Heaviside 1/2), the norm's
    gradient at 0 is 0, and an undefined value has an undefined exact gradient."""
    tied = grad("max(x)", {"x": "[1, 1, 1]"}, check=True, exact=True)
    assert tied.check.status != "failed"
    assert [n.to_dict()["exact"] for n in tied.exact.adjoints[0].flat] == ["1/3"] * 3
    norm = grad("norm(x)", {"x": "[0, 0]"}, exact=True)
    assert [n.to_dict()["exact"] for n in norm.exact.adjoints[0].flat] == ["0", "0"]
    undefined = grad("sum(log(x))", {"x": "[-1, 2]"}, exact=True)
    assert [n.to_dict()["exact"] for n in undefined.exact.adjoints[0].flat] == ["nan", "1/2"]
