"""`backprop train` (issue 12): gradient-descent steps on scalar and tensor programs.

Oracles: the published figures of the 51-point network (12.017 before one step of lr 0.002,
12.010 after), its loss and gradient written out by hand in NumPy, the logistic-regression
exercise's step computed by hand, and the textbook update rules written out here."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from cli_checks import one_error_line, strict_json
from test_tensors import NETWORK_FILES, START, X, Y, network_loss
from typer.testing import CliRunner

from backprop_cli.cli import app
from backprop_cli.training import optimizer, train

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "backprop_cli" / "schemas"
                     / "train.schema.json").read_text())


def _train(*args: str):
    result = runner.invoke(app, ["train", *args, "--json"])
    document = strict_json(result.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    return result, document


def network_gradient(W1, b1, W2, b2) -> dict:
    """The 1-2-1 network's summed log loss differentiated by hand: with p = σ(W2 a1 + b2),
    ∂L/∂(pre-activation of p) = p - y, and a1 = σ(W1 x + b1) gives a1(1 - a1)."""
    W1, b1, W2 = (np.asarray(v, dtype=float) for v in (W1, b1, W2))
    a1 = 1 / (1 + np.exp(-(W1 * X + b1)))
    p = 1 / (1 + np.exp(-(W2 @ a1 + b2)))
    dz2 = p - Y
    dz1 = (W2.T * dz2) * a1 * (1 - a1)
    return {"W1": (dz1 * X).sum(axis=1, keepdims=True), "b1": dz1.sum(axis=1, keepdims=True),
            "W2": (dz2 @ a1.T), "b2": float(dz2.sum())}


def test_one_sgd_step_on_the_51_point_network_is_the_published_one() -> None:
    result, document = _train(*NETWORK_FILES, "--lr", "0.002", "--steps", "1")
    assert result.exit_code == 0, result.stderr
    before, after = document["history"]
    assert round(before, 3) == 12.017 and round(after, 3) == 12.010
    assert float(f"{after:.7g}") == 12.00988
    grad = strict_json(runner.invoke(app, ["grad", *NETWORK_FILES, "--json"]).stdout)["gradient"]
    for row in document["first_step"]:
        np.testing.assert_allclose(row["update"], -0.002 * np.asarray(grad[row["name"]]),
                                   rtol=1e-12)
        np.testing.assert_allclose(row["new"], np.asarray(row["old"]) + np.asarray(row["update"]),
                                   rtol=1e-15)
        np.testing.assert_allclose(row["gradient"], network_gradient(**START)[row["name"]],
                                   rtol=1e-10)
    new = {row["name"]: row["new"] for row in document["first_step"]}
    assert network_loss(**new) == pytest.approx(after, rel=1e-12)
    table = runner.invoke(app, ["train", *NETWORK_FILES, "--lr", "0.002", "--steps", "1"],
                          env={"COLUMNS": "160"})
    for fragment in ("One step", "12.017 before, 12.0099 after 1 step", "W1[1,0]", "-8.3499",
                     "0.335687", "-0.000671373", "θ ← θ - η·g"):
        assert fragment in table.stdout, fragment


def test_adam_for_500_steps_brings_the_network_below_half() -> None:
    """The documented run: adam, lr 0.1, 500 steps; against Adam written out here over the
    hand-derived gradient."""
    result, document = _train(*NETWORK_FILES, "--optimizer", "adam", "--lr", "0.1", "--steps",
                              "500")
    assert result.exit_code == 0, result.stderr
    assert document["history"][-1] < 0.5 and len(document["history"]) == 501
    theta = {k: np.asarray(v, dtype=float) for k, v in START.items()}
    m = {k: np.zeros_like(v) for k, v in theta.items()}
    v = {k: np.zeros_like(x) for k, x in theta.items()}
    for t in range(1, 501):
        g = network_gradient(**theta)
        for k in theta:
            m[k] = 0.9 * m[k] + 0.1 * g[k]
            v[k] = 0.999 * v[k] + 0.001 * g[k] ** 2
            theta[k] = theta[k] - 0.1 * (m[k] / (1 - 0.9**t)) / (
                np.sqrt(v[k] / (1 - 0.999**t)) + 1e-8)
    for name, value in document["parameters"].items():
        np.testing.assert_allclose(value, theta[name], rtol=1e-7)
    assert network_loss(**document["parameters"]) == pytest.approx(document["history"][-1],
                                                                    rel=1e-12)


def test_the_logistic_regression_step_matches_a_hand_computation() -> None:
    """yhat = σ(w1 x1 + w2 x2 + b) = σ(0.5), L = -log yhat; ∂L/∂z = yhat - 1, so one step of
    lr 0.1 moves w1 by -0.1 (yhat - 1) x1, w2 by -0.1 (yhat - 1) x2 and b by -0.1 (yhat - 1)."""
    at = "x1=1.5,x2=2.5,w1=-4,w2=3,b=-1,y=1"
    result, document = _train("--file", str(SAMPLES / "logistic_regression.bp"), "--at", at,
                              "--params", "w1,w2,b", "--lr", "0.1")
    assert result.exit_code == 0, result.stderr
    yhat = 1 / (1 + math.exp(-0.5))
    dz = yhat - 1
    expected = {"w1": (-4, dz * 1.5), "w2": (3, dz * 2.5), "b": (-1, dz)}
    rows = {row["name"]: row for row in document["first_step"]}
    assert list(rows) == ["w1", "w2", "b"]
    for name, (old, gradient) in expected.items():
        assert rows[name]["old"] == old
        assert rows[name]["gradient"] == pytest.approx(gradient, rel=1e-14)
        assert rows[name]["update"] == pytest.approx(-0.1 * gradient, rel=1e-14)
        assert rows[name]["new"] == pytest.approx(old - 0.1 * gradient, rel=1e-14)
    z = sum(rows[n]["new"] * x for n, x in (("w1", 1.5), ("w2", 2.5))) + rows["b"]["new"]
    assert document["history"] == pytest.approx([-math.log(yhat),
                                                 -math.log(1 / (1 + math.exp(-z)))], rel=1e-14)
    assert round(document["history"][0], 4) == 0.4741  # the exercise's published loss
    assert document["parameters"]["w1"] == pytest.approx(-4 - 0.1 * dz * 1.5, rel=1e-14)


def test_momentum_follows_the_textbook_rule() -> None:
    """L = (w - 3)²: g = 2(w - 3); v ← 0.9 v + g, w ← w - 0.1 v, written out."""
    found = train("L = (w - 3)**2", {"w": "0"}, chosen=optimizer("momentum", 0.1), steps=4)
    w, velocity, losses = 0.0, 0.0, []
    for _ in range(4):
        losses.append((w - 3) ** 2)
        velocity = 0.9 * velocity + 2 * (w - 3)
        w -= 0.1 * velocity
    losses.append((w - 3) ** 2)
    assert found.history == pytest.approx(losses, rel=1e-14)
    assert dict(found.parameters)["w"] == pytest.approx(w, rel=1e-14)


def test_adams_first_step_is_the_learning_rate_against_the_gradients_sign() -> None:
    """m̂ = g and v̂ = g² at t = 1, so the first update is -η g/(|g| + ε)."""
    found = train("L = sum((W - T)**2)", {"W": "[[1, -2], [0.5, 4]]", "T": "[[0, 0], [0, 0]]"},
                  params=["W"], chosen=optimizer("adam", 0.01), steps=1)
    gradient = 2 * np.array([[1, -2], [0.5, 4]])
    np.testing.assert_allclose(found.first[0].update,
                               -0.01 * gradient / (np.abs(gradient) + 1e-8), rtol=1e-15)


def test_save_writes_values_that_grad_continues_from(tmp_path) -> None:
    saved = tmp_path / "after.json"
    result, document = _train(*NETWORK_FILES, "--lr", "0.002", "--steps", "3", "--save",
                              str(saved))
    assert result.exit_code == 0, result.stderr
    values = json.loads(saved.read_text())
    assert set(values) == {"W1", "b1", "W2", "b2"}
    continued = runner.invoke(app, ["grad", "--file", str(SAMPLES / "network_51.bp"), "--data",
                                    str(SAMPLES / "points_51.csv"), "--values", str(saved),
                                    "--json"])
    assert continued.exit_code == 0, continued.stderr
    again = strict_json(continued.stdout)
    assert again["value"] == pytest.approx(document["history"][-1], rel=1e-15)
    for name, gradient in document["gradient"].items():
        np.testing.assert_allclose(again["gradient"][name], gradient, rtol=1e-12)


def test_a_step_that_breaks_the_loss_stops_the_run_and_keeps_the_history() -> None:
    """L = log(w)² + w from w = 1 with lr 2: w becomes -1 and log(-1) is undefined."""
    result, document = _train("L = log(w)**2 + w", "--w", "1", "--lr", "2", "--steps", "5")
    assert result.exit_code == 1
    assert document["history"] == [1.0, None]
    assert document["nonfinite"] == {"history": {"1": "nan"}, "gradient": {}}
    assert document["stopped"].startswith("step 2: the loss after step 1 is not finite "
                                          "(statement 'L' (at log(w))")
    assert document["parameters"] == {"w": 1.0} and document["parameters_step"] == 0
    assert document["steps_taken"] == 1
    assert result.stderr.startswith("warning: stopped at step 2")


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("start", ["1", "[1, 2]"])
def test_a_step_beyond_float64_stops_with_our_warning_and_no_numpy_warning(name, start
                                                                          ) -> None:
    """lr 1e308 makes the update overflow; NumPy's own RuntimeWarning reached stderr."""
    import warnings

    text = "L = (w - 3)**2" if start == "1" else "L = sum((w - 3)**2)"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(text, {"w": start}, chosen=optimizer(name, lr=1e308), steps=3)
    assert [str(w.message) for w in caught] == []
    assert result.stopped.startswith("step 1: the update made 'w' not finite")


def test_the_history_as_csv_and_a_long_run_as_a_curve() -> None:
    result = runner.invoke(app, ["train", "L = (w - 3)**2", "--w", "0", "--lr", "0.1",
                                 "--steps", "3", "--format", "csv"])
    assert result.stdout.splitlines() == ["step,loss", "0,9.0", "1,5.76", "2,3.6864",
                                          "3,2.359296"]
    curve = runner.invoke(app, ["train", "L = (w - 3)**2", "--w", "0", "--lr", "0.1",
                                "--steps", "40"], env={"COLUMNS": "100"})
    assert curve.exit_code == 0, curve.stderr
    for fragment in ("L during training (sgd, lr 0.1)", "step", "Parameters after 40 steps",
                     "L = 9 before"):
        assert fragment in curve.stdout, fragment


@pytest.mark.parametrize(("args", "message"), [
    (["L = (w*x - y)**2", "--w", "0", "--x", "1", "--y", "2", "--params", "w,q"],
     "--params: 'q' is not a variable of the program (variables: w, x, y)"),
    ([*NETWORK_FILES, "--params", "W1,x"], "--params: 'x' is a column of --data"),
    (["L = (w - 1)**2", "--w", "0", "--lr", "-1"], "--lr must be a positive number, not -1"),
    (["L = (w - 1)**2", "--w", "0", "--optimizer", "rmsprop"], "unknown optimizer 'rmsprop'"),
    (["L = W @ x", "--W", "[[1, 2]]", "--x", "[1, 2]"], "training needs a scalar output"),
    (["L = (w - 1)**2", "--w", "0", "--beta1", "1"], "--beta1 must be in [0, 1), not 1"),
])
def test_bad_training_input_is_one_line(args, message) -> None:
    result = runner.invoke(app, ["train", *args])
    assert result.exit_code == 2
    assert message in one_error_line(result.stderr)


def test_a_diverging_run_names_the_step_the_loss_overflowed_after() -> None:
    """w ← w - 1·2x(wx - y) with x = 2 multiplies the error by -7 each step: it overflows."""
    result, document = _train("L = (w*x - y)**2", "--w", "0", "--x", "2", "--y", "4",
                              "--params", "w", "--lr", "1", "--steps", "1000")
    assert result.exit_code == 1
    k = document["steps_taken"]
    assert document["history"][-1] is None and len(document["history"]) == k + 1
    assert document["stopped"].startswith(f"step {k + 1}: the loss after step {k} is not "
                                          "finite (L = z5**2")
    assert document["parameters_step"] == k - 1
    assert all(h == pytest.approx(16 * 49**s) for s, h in enumerate(document["history"][:5]))


def test_settings_the_optimiser_ignores_and_untargeted_training_are_warned_about() -> None:
    result = runner.invoke(app, ["train", "L = (w*x - y)**2", "--w", "0", "--x", "2", "--y",
                                 "4", "--momentum", "0.5", "--format", "csv"])
    assert result.exit_code == 0
    assert "warning: --momentum applies to --optimizer momentum; sgd ignores it" in result.stderr
    assert "warning: no --params: every variable is trained (w, x, y)" in result.stderr


def test_an_empty_params_list_is_refused_and_a_null_gradient_labelled() -> None:
    empty = runner.invoke(app, ["train", "x**2", "--x", "1", "--params", ","])
    assert "--params names nothing" in one_error_line(empty.stderr)
    result, document = _train("log(x)", "--x", "0")
    assert document["gradient"] == {"x": None}
    assert document["nonfinite"] == {"history": {"0": "-inf"}, "gradient": {"x": "inf"}}


def test_a_run_that_reaches_its_time_budget_keeps_the_steps_it_took(tmp_path):
    """A long run went over the budget and ended with an error, its steps and --save lost
    (found in a new user's trial)."""
    saved = tmp_path / "w.json"
    result, document = _train("L = (w - 3)**2", "--w", "0", "--steps", "1000000", "--lr", "0.1",
                              "--time-limit", "0.5", "--save", str(saved))
    assert result.exit_code == 1
    taken = document["steps_taken"]
    assert 1 <= taken < 1_000_000
    assert document["stopped"].startswith(f"step {taken + 1}: the run's time budget ran out "
                                          f"after {taken:,} of 1,000,000 steps")
    assert len(document["history"]) == taken + 1
    # gradient descent on (w - 3)² at rate 0.1: w_k = 3(1 - 0.8^k)
    w = json.loads(saved.read_text())["w"]
    assert w == pytest.approx(3 * (1 - 0.8 ** taken), abs=1e-9)


class _Screen(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_stop_is_said_once_on_a_terminal_and_on_stderr_for_redirected_output() -> None:
    """The stop showed in the table and again as a warning under it on the same screen."""
    from backprop_cli.cli import app
    from backprop_cli.terminal import Terminal

    args = ["train", "L = log(w)**2 + w", "--w", "1", "--lr", "2", "--steps", "5"]
    screen = Terminal(out=_Screen(), err=_Screen(), color=False, width=200)
    assert CliRunner().invoke(app, args, obj=screen).exit_code == 1
    assert "stopped at step 2" in screen.out.getvalue()
    assert "stopped" not in screen.err.getvalue()
    redirected = Terminal(out=io.StringIO(), err=_Screen(), color=False, width=200)
    CliRunner().invoke(app, args, obj=redirected)
    assert redirected.err.getvalue().lstrip().startswith("warning: stopped at step 2")


def test_a_save_path_in_a_missing_folder_is_refused_before_the_run(monkeypatch, tmp_path):
    """`--save /nonexistent/x.json` was found out after the whole run (29 s of 300,000
    steps), whose results were then not shown."""
    import backprop_cli.training as training

    def must_not_run(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(training, "train", must_not_run)
    path = tmp_path / "missing" / "x.json"
    result = runner.invoke(app, ["train", "L = (w*x - 3)**2", "--w", "0", "--x", "1", "--lr",
                                 "0.1", "--steps", "300000", "--params", "w", "--save",
                                 str(path)])
    assert result.exit_code == 2
    assert one_error_line(result.stderr) == \
        f"error: cannot write {path}: No such file or directory"
    result = runner.invoke(app, ["train", "L = (w*x - 3)**2", "--w", "0", "--x", "1", "--lr",
                                 "0.1", "--steps", "300000", "--params", "w", "--save",
                                 str(tmp_path)])
    assert one_error_line(result.stderr) == f"error: cannot write {tmp_path}: Is a directory"
