"""`backprop fd` and `grad --check-method` (issue 12): finite differences over step sizes, and
the gradient compared with SymPy, finite differences and forward mode side by side.

Oracles: sympy.diff, differences of x³ written out by hand, the theory of the error curve's
minimum (h ≈ √ε forward, ∛ε central, ε = 2.2e-16), and textbook gradients in NumPy."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import sympy
from cli_checks import one_error_line, strict_json
from typer.testing import CliRunner

from backprop_cli.cli import app
from backprop_cli.step_sizes import step_sizes

runner = CliRunner()
SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "backprop_cli" / "schemas"
                     / "grad.schema.json").read_text())


def test_the_error_curve_of_x_cubed_is_a_v_with_its_minima_where_theory_puts_them() -> None:
    found = step_sizes("x**3", {"x": "1"})
    assert found.derivative == 3.0 == float(sympy.diff(sympy.Symbol("x") ** 3).subs("x", 1))
    assert found.h[0] == pytest.approx(1e-16) and found.h[-1] == 1.0 and len(found.h) == 65
    k = found.h.index(min(found.h, key=lambda h: abs(math.log10(h) + 2)))  # h = 1e-2
    assert found.forward.estimate[k] == pytest.approx((1.01**3 - 1) / 0.01, rel=1e-12)
    assert found.central.estimate[k] == pytest.approx((1.01**3 - 0.99**3) / 0.02, rel=1e-12)
    assert found.central.error[k] == pytest.approx(1e-4, rel=1e-6)  # h² f'''/6 = h²
    forward_best = found.h[found.forward.best]
    central_best = found.h[found.central.best]
    assert 10**-9.5 <= forward_best <= 10**-6.5, forward_best  # √ε ≈ 1.5e-8
    assert 10**-6.5 <= central_best <= 10**-3.5, central_best  # ∛ε ≈ 6e-6
    for scheme in (found.forward, found.central):  # both arms of the V rise by decades
        best = scheme.error[scheme.best]
        assert scheme.error[0] > 1e4 * best and scheme.error[-1] > 1e4 * best


def test_fd_draws_the_curves_and_marks_the_best_h() -> None:
    result = runner.invoke(app, ["fd", "x**3", "--x", "1"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.stderr
    for fragment in ("forward difference", "central difference", "1e-8", "1e-16",
                     "reverse mode  df/dx = 3", "best h = 1e-08"):
        assert fragment in result.stdout, fragment
    inside = [line for line in result.stdout.splitlines() if "│" in line]
    # one x for each scheme's best h: the central curve must not paint over the forward one
    assert sum(line.count("x") for line in inside) == 2, "\n".join(inside)
    document = strict_json(runner.invoke(app, ["fd", "x**3", "--x", "1", "--json"]).stdout)
    assert document["derivative"] == 3.0 and document["forward"]["best_h"] == pytest.approx(1e-8)
    assert len(document["forward"]["error"]) == len(document["h"]) == 65
    rows = runner.invoke(app, ["fd", "x**3", "--x", "1", "--format", "csv"]).stdout.split()
    assert rows[0] == "h,forward,forward_error,central,central_error" and len(rows) == 66


def test_fd_of_one_element_of_an_array() -> None:
    """L = Σ tanh(W x): ∂L/∂W[1,0] = (1 - tanh(z_1)²) x_0."""
    W, x = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.1, 0.2])
    result = runner.invoke(app, ["fd", "L = sum(tanh(W @ x))", "--W", json.dumps(W.tolist()),
                                 "--x", json.dumps(x.tolist()), "--wrt", "W[1,0]", "--json"])
    assert result.exit_code == 0, result.stderr
    document = strict_json(result.stdout)
    expected = (1 - np.tanh((W @ x)[1]) ** 2) * x[0]
    assert document["wrt"] == "W[1,0]" and document["derivative"] == pytest.approx(expected)
    assert document["central"]["best_error"] < 1e-9


@pytest.mark.parametrize(("args", "message"), [
    (["x*y", "--x", "1", "--y", "2"], "give --wrt VAR"),
    (["x*y", "--x", "1", "--y", "2", "--wrt", "q"], "--wrt 'q' is not a variable"),
    (["sum(W)", "--W", "[1, 2]", "--wrt", "W[2]"], "'W' has shape (2,); name one element"),
    (["x**2", "--x", "1", "--smallest", "1", "--largest", "0.1"], "0 < --smallest < --largest"),
])
def test_bad_fd_input_is_one_line(args, message) -> None:
    result = runner.invoke(app, ["fd", *args])
    assert result.exit_code == 2
    assert message in one_error_line(result.stderr)


# ----------------------------------------------------------------------------------------------
# --check-method


def test_check_method_all_puts_three_methods_beside_the_gradient() -> None:
    result = runner.invoke(app, ["grad", "x*y + tanh(x)", "--x", "1", "--y", "2",
                                 "--check-method", "all", "--json"])
    assert result.exit_code == 0, result.stderr
    document = strict_json(result.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    check = document["check"]
    assert check["method"] == "all" and check["status"] == "passed"
    assert [m["method"] for m in check["methods"]] == ["SymPy", "central finite differences",
                                                       "forward mode"]
    x, y = sympy.symbols("x y")
    f = x * y + sympy.tanh(x)
    for name, symbol in (("x", x), ("y", y)):
        truth = float(sympy.diff(f, symbol).subs({x: 1, y: 2}))
        entry = check["entries"][name]
        assert entry["agrees"] is True
        assert entry["symbolic"] == pytest.approx(truth, rel=1e-12)
        assert entry["forward"] == pytest.approx(truth, rel=1e-12)
        assert entry["finite_differences"] == pytest.approx(truth, rel=1e-7)
    table = runner.invoke(app, ["grad", "x*y + tanh(x)", "--x", "1", "--y", "2",
                                "--check-method", "all"], env={"COLUMNS": "160"})
    for fragment in ("SymPy", "finite differences", "forward mode",
                     "check SymPy passed", "check finite differences passed",
                     "check forward mode passed"):
        assert fragment in table.stdout, fragment


@pytest.mark.parametrize("method", ["fd", "forward"])
def test_check_method_over_arrays_against_the_textbook_softmax_gradient(method) -> None:
    """L = dot(softmax(z), y), z = W x: ∂L/∂z = p ⊙ (y - p·y)."""
    W, x, y = np.array([[1, 2], [0.5, -1], [0, 0.3]]), np.array([0.2, 0.4]), np.array([1, 2, 3])
    result = runner.invoke(app, ["grad", "L = dot(softmax(W @ x), y)", "--W",
                                 json.dumps(W.tolist()), "--x", json.dumps(x.tolist()), "--y",
                                 json.dumps(y.tolist()), "--check-method", method, "--json"])
    assert result.exit_code == 0, result.stderr
    document = strict_json(result.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    p = np.exp(W @ x) / np.exp(W @ x).sum()
    dz = p * (y - p @ y)
    key = {"fd": "finite_differences", "forward": "forward"}[method]
    rtol = 1e-6 if method == "fd" else 1e-12
    np.testing.assert_allclose(document["check"]["entries"]["W"][key], np.outer(dz, x),
                               rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(document["check"]["entries"]["x"][key], W.T @ dz, rtol=rtol)


def test_forward_mode_catches_a_wrong_reverse_accumulation(monkeypatch) -> None:
    """Forward mode shares the local derivatives but not the reverse sweep: an adjoint that
    forgets to sum over the broadcast axes fails it."""
    from backprop_cli import tensor_engine

    monkeypatch.setattr(tensor_engine, "unbroadcast", lambda adjoint, shape: np.resize(
        np.asarray(adjoint, dtype=float), shape))
    result = runner.invoke(app, ["grad", "L = sum(W * b)", "--W", "[[1, 2], [3, 4]]", "--b",
                                 "[[1], [2]]", "--check-method", "forward", "--json"])
    assert result.exit_code == 1
    assert strict_json(result.stdout)["check"]["entries"]["b"]["agrees"] is False


def test_a_bad_check_method_is_one_line() -> None:
    result = runner.invoke(app, ["grad", "x*y", "--x", "1", "--y", "2", "--check-method",
                                 "exact"])
    assert result.exit_code == 2
    assert "unknown --check-method 'exact'" in one_error_line(result.stderr)


def test_fd_where_the_derivative_is_not_finite_says_so_instead_of_drawing() -> None:
    result = runner.invoke(app, ["fd", "log(x)", "--x", "0"])
    assert result.exit_code == 0, result.stderr
    assert "no error is finite to draw" in result.stdout
    assert "the reverse-mode derivative is not finite" in result.stderr


def test_fd_takes_a_negative_index_and_refuses_a_malformed_one() -> None:
    document = strict_json(runner.invoke(app, ["fd", "sum(W*W)", "--W", "[1, 2]", "--wrt",
                                               "W[-1]", "--json"]).stdout)
    assert document["wrt"] == "W[1]" and document["derivative"] == 4.0
    bad = runner.invoke(app, ["fd", "sum(W)", "--W", "[1, 2]", "--wrt", "W[a]"])
    assert "whole-number indices" in one_error_line(bad.stderr)


def test_a_misspelt_option_of_another_command_is_named_as_such() -> None:
    result = runner.invoke(app, ["fd", "x**3", "--x", "1", "--stpes", "3"])
    assert one_error_line(result.stderr) == ("error: unknown option --stpes (--steps is an "
                                             "option of backprop train)")


def test_check_method_accepts_sympy_as_the_name_it_shows() -> None:
    result = runner.invoke(app, ["grad", "x*y", "--x", "1", "--y", "2", "--check-method",
                                 "SymPy", "--json"])
    assert strict_json(result.stdout)["check"]["method"] == "SymPy"


def test_a_check_that_compares_nothing_is_skipped_and_quiet() -> None:
    for method in ("fd", "forward"):
        result = runner.invoke(app, ["grad", "sqrt(x)", "--x", "0", "--check-method", method,
                                     "--json"])
        assert strict_json(result.stdout)["check"]["status"] == "skipped", method
        assert "RuntimeWarning" not in result.stderr


def test_fd_names_a_missing_value_and_itself_in_one_line() -> None:
    missing = runner.invoke(app, ["fd", "x*y", "--y", "1", "--wrt", "x"])
    assert "missing value for variable 'x'" in one_error_line(missing.stderr)
    vector = runner.invoke(app, ["fd", "W @ x", "--W", "[[1, 2]]", "--x", "[1, 2]", "--wrt",
                                 "W[0,0]"])
    assert "fd needs a scalar output" in one_error_line(vector.stderr)


def test_fd_labels_its_nulls() -> None:
    """log(x) at 0.5: a central step of h >= 0.5 reaches log of 0 or less."""
    document = strict_json(runner.invoke(app, ["fd", "log(x)", "--x", "0.5", "--json"]).stdout)
    estimates = document["nonfinite"]["central"]["estimate"]
    assert estimates and all(document["central"]["estimate"][int(k)] is None for k in estimates)


def test_a_narrow_plot_is_the_same_whatever_the_string_hashing() -> None:
    """plotext keeps given ticks in a set's order and draws the first of two overlapping
    labels, so a narrow plot's labels changed with PYTHONHASHSEED until the ticks were put
    back in order."""
    import os
    import subprocess
    import sys

    drawn = set()
    for seed in ("1", "2", "3", "4"):
        done = subprocess.run(
            [sys.executable, "-m", "backprop_cli", "fd", "t*x + tanh(t)", "--t", "1", "--x",
             "2", "--wrt", "t"], capture_output=True, text=True, timeout=120,
            env={**os.environ, "PYTHONHASHSEED": seed, "COLUMNS": "20"})
        assert done.returncode == 0, done.stderr
        assert "1e-16" in done.stdout
        drawn.add(done.stdout)
    assert len(drawn) == 1


def test_fd_at_a_kink_says_no_step_size_gives_the_derivative_taken_there() -> None:
    """relu at 0: forward differences give relu's right slope 1, central ones the mean 1/2,
    never the 0 taken by convention; fd printed 'best h = 1e-16, error 1' with no word of the
    kink (a trial). A kink the output does not reach from the variable is not one of fd's."""
    found = step_sizes("relu(x)", {"x": 0.0})
    assert all(v == 1.0 for v in found.forward.estimate)
    assert all(v == 0.5 for v in found.central.estimate)
    assert len(found.warnings) == 1 and "kink" in found.warnings[0]
    assert "not this derivative, at any step size" in found.warnings[0]
    assert step_sizes("relu(y) + x", {"x": 0.0, "y": 0.0}, wrt="x").warnings == ()
    assert step_sizes("relu(x)", {"x": 1.0}).warnings == ()


def test_steps_below_the_spacing_of_floats_at_x_are_said_to_give_nothing() -> None:
    """At x = 1e300 every step left x + h equal to x, so every difference was 0 and "best
    h = 1e-16, error 1" was reported without a word; at 1e6 the steps up to 5.6e-11 do (the
    spacing there, math.ulp, is 1.16e-10)."""
    assert 1e300 + 1.0 == 1e300 and math.ulp(1e300) > 1e284
    found = step_sizes("x", {"x": "1e300"})
    assert all(estimate == 0 for estimate in found.forward.estimate)
    assert any(w.startswith("every step is below the spacing of float64 numbers at x = 1e+300")
               for w in found.warnings)
    found = step_sizes("x**2", {"x": "1e6"})
    lost = max(h for h in found.h if 1e6 + h == 1e6)
    assert f"steps up to {lost:.3g} are below the spacing of float64 numbers at x = 1e+06 " \
           f"({math.ulp(1e6):.3g})" in " ".join(found.warnings)
    assert not any("spacing" in w for w in step_sizes("x**2", {"x": "1"}).warnings)


def test_the_table_gives_the_reverse_mode_derivative_to_the_digits_asked() -> None:
    """Its title printed 22026.465794806718 whatever --digits said."""
    result = runner.invoke(app, ["fd", "exp(x)", "--x", "10", "--format", "table", "--digits",
                                 "4"])
    assert f"(reverse mode: {math.exp(10):.4g})" in result.stdout
    assert "22026.465794806718" not in result.stdout


def test_fd_over_arrays_warns_of_a_kink_on_the_elements_path() -> None:
    """relu(v)*w at v[0] = 0: forward differences give 2 (the right side's slope, w[0]) and
    central ones 1, where reverse mode takes relu'(0) = 0; the array program gave 'best h =
    1e-16, error 0' (where v[0] + h rounds back) and no warning. v[1] is at no kink."""
    found = step_sizes("sum(relu(v)*w)", {"v": "[0, 1]", "w": "[2, 3]"}, "v[0]")
    k = found.h.index(min(found.h, key=lambda h: abs(math.log10(h) + 4)))
    assert found.forward.estimate[k] == pytest.approx(2.0) and found.derivative == 0.0
    assert any(w.startswith("z2 = relu(v): kink in 1 of 2 elements") and
               w.endswith("not this derivative, at any step size") for w in found.warnings)
    other = step_sizes("sum(relu(v)*w)", {"v": "[0, 1]", "w": "[2, 3]"}, "v[1]")
    assert not any("kink" in w for w in other.warnings)
