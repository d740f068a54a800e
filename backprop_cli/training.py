"""Gradient descent on a program's parameters: at each step the loss and its gradient from the
array engine (scalar programs run on it too), then the textbook update of the chosen optimiser.
A step whose loss or update is not finite ends the run, keeping what came before it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError, did_you_mean
from .result import SCHEMA_VERSION

OPTIMIZERS = ("sgd", "momentum", "adam")
DEFAULT_LR = {"sgd": 0.01, "momentum": 0.01, "adam": 0.001}
MAX_STEPS = 1_000_000

# The update rules as the README and the one-step table write them (θ a parameter, g its
# gradient, η the learning rate, t the step from 1).
RULES = {
    "sgd": "θ ← θ - η·g",
    "momentum": "v ← μ·v + g;  θ ← θ - η·v  (v starts at 0; PyTorch's SGD with momentum)",
    "adam": "m ← β1·m + (1-β1)·g;  v ← β2·v + (1-β2)·g²;  m̂ = m/(1-β1^t);  v̂ = v/(1-β2^t);  "
            "θ ← θ - η·m̂/(√v̂ + ε)  (m, v start at 0)",
}


@dataclass(frozen=True)
class Optimizer:
    """An optimiser and its settings."""

    name: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    @property
    def rule(self) -> str:
        return RULES[self.name]

    def settings(self) -> dict:
        if self.name == "sgd":
            return {"lr": self.lr}
        if self.name == "momentum":
            return {"lr": self.lr, "momentum": self.momentum}
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


def ignored_settings(name: str, **settings: float | None) -> tuple[str, ...]:
    """Warnings for settings given that the optimiser `name` does not use."""
    uses = {"sgd": (), "momentum": ("momentum",), "adam": ("beta1", "beta2", "eps")}
    return tuple(f"--{key} applies to --optimizer "
                 f"{'momentum' if key == 'momentum' else 'adam'}; {name} ignores it"
                 for key, value in settings.items()
                 if value is not None and key not in uses.get(name, ()))


def optimizer(name: str = "sgd", lr: float | None = None, **settings: float) -> Optimizer:
    """An Optimizer with its settings checked (one clear message for a bad one)."""
    if name not in OPTIMIZERS:
        raise InputError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    chosen = Optimizer(name, DEFAULT_LR[name] if lr is None else lr,
                       **{k: v for k, v in settings.items() if v is not None})
    if not (math.isfinite(chosen.lr) and chosen.lr > 0):
        raise InputError(f"--lr must be a positive number, not {chosen.lr:g}")
    if not 0 <= chosen.momentum < 1:
        raise InputError(f"--momentum must be in [0, 1), not {chosen.momentum:g}")
    for what, value in (("--beta1", chosen.beta1), ("--beta2", chosen.beta2)):
        if not 0 <= value < 1:
            raise InputError(f"{what} must be in [0, 1), not {value:g}")
    if not (math.isfinite(chosen.eps) and chosen.eps > 0):
        raise InputError(f"--eps must be a positive number, not {chosen.eps:g}")
    return chosen


class _Updater:
    """The optimiser's state (momentum buffers, Adam's moments) and its update per step."""

    def __init__(self, chosen: Optimizer) -> None:
        self.chosen = chosen
        self.first: dict[str, object] = {}
        self.second: dict[str, object] = {}

    def update(self, name: str, gradient, step: int):
        """The change to a parameter at step `step` (from 1) for its gradient."""
        o = self.chosen
        g = np.asarray(gradient, dtype=float)
        if o.name == "sgd":
            return -o.lr * g
        if o.name == "momentum":
            velocity = o.momentum * self.first.get(name, 0.0) + g
            self.first[name] = velocity
            return -o.lr * velocity
        m = o.beta1 * self.first.get(name, 0.0) + (1 - o.beta1) * g
        v = o.beta2 * self.second.get(name, 0.0) + (1 - o.beta2) * g * g
        self.first[name], self.second[name] = m, v
        m_hat = m / (1 - o.beta1**step)
        v_hat = v / (1 - o.beta2**step)
        return -o.lr * m_hat / (np.sqrt(v_hat) + o.eps)


@dataclass(frozen=True)
class StepRow:
    """One parameter in one step: its value before, gradient, change and value after."""

    name: str
    old: object
    gradient: object
    update: object
    new: object


@dataclass(frozen=True)
class Training:
    """A run of gradient descent: the loss after each number of steps, the first step in
    full, and where the run ended."""

    expression: str
    output: str
    params: tuple[str, ...]
    optimizer: Optimizer
    steps: int  # asked for
    steps_taken: int  # updates applied
    history: tuple[float, ...]  # the loss before each step taken, and after the last
    first: tuple[StepRow, ...]  # the first step, parameter by parameter
    parameters: tuple[tuple[str, object], ...]  # the final values (the last finite ones)
    parameters_step: int  # the steps after which they stand
    gradient: tuple[tuple[str, object], ...]  # the gradient at the final values
    fixed: tuple[tuple[str, object], ...]  # the other variables, not data (for --save)
    data: tuple[str, ...]  # the data set's columns
    stopped: str | None = None  # why the run ended before `steps`
    warnings: tuple[str, ...] = ()
    tensors: bool = field(default=False, repr=False)

    def values_file(self) -> dict:
        """The final values in --values format: every variable that is not data (finite: the
        last parameters with a finite loss)."""
        from .tensor_result import array_json

        return {name: array_json(value) for name, value in (*self.parameters, *self.fixed)}

    def to_dict(self) -> dict:
        from .tensor_result import array_json, nonfinite_label

        document = {
            "schema": SCHEMA_VERSION, "ok": True, "expression": self.expression,
            "output": self.output, "params": list(self.params),
            "optimizer": {"name": self.optimizer.name, **self.optimizer.settings(),
                          "rule": self.optimizer.rule},
            "steps": self.steps, "steps_taken": self.steps_taken,
            "history": [array_json(loss) for loss in self.history],
            "first_step": [{"name": row.name, "old": array_json(row.old),
                            "gradient": array_json(row.gradient),
                            "update": array_json(row.update), "new": array_json(row.new)}
                           for row in self.first],
            "parameters": {name: array_json(value) for name, value in self.parameters},
            "parameters_step": self.parameters_step,
            "gradient": {name: array_json(value) for name, value in self.gradient},
            "stopped": self.stopped, "warnings": list(self.warnings),
        }
        history = {str(k): nonfinite_label(v) for k, v in enumerate(self.history)
                   if not math.isfinite(v)}
        gradient = {name: found for name, value in self.gradient
                    if (found := nonfinite_label(value)) is not None}
        if history or gradient:
            document["nonfinite"] = {"history": history, "gradient": gradient}
        return document


def train(text: str, at: Mapping[str, object], params: list[str] | None = None,
          chosen: Optimizer | None = None, steps: int = 1, data: frozenset[str] = frozenset(),
          on_step: Callable[[int], None] | None = None,
          deadline: float | None = None) -> Training:
    """Run `steps` steps of gradient descent on `params` (default: every variable not bound by
    the data set `data`) from the point `at`; at the time.monotonic() `deadline`, stop and
    keep the steps taken."""
    from .api import value_of
    from .graph import build_graph
    from .parse import format_program, parse_program
    from .tensor_engine import integer_variables, loss_and_gradient, mismatched_losses, plain

    chosen = chosen or Optimizer()
    if not 1 <= steps <= MAX_STEPS:
        raise InputError(f"--steps must be between 1 and {MAX_STEPS:,}")
    point = {name: value_of(name, value, arrays=True) for name, value in at.items()}
    program = parse_program(text, given=frozenset(point))
    graph = build_graph(program)
    variables = graph.variable_names
    missing = [name for name in variables if name not in point]
    if missing:
        from .gradient import missing_values

        raise missing_values(missing, point, variables)
    chosen_by_default = params is None
    params = _chosen_params(params, variables, data, integer_variables(graph))
    updater = _Updater(chosen)
    history: list[float] = []
    first: tuple[StepRow, ...] = ()
    stopped = None
    taken = 0
    loss, gradient, values = loss_and_gradient(graph, point, params)
    mismatched = tuple(mismatched_losses(graph, values))
    last = (dict(point), gradient, 0)
    for step in range(1, steps + 1):
        history.append(loss)
        if deadline is not None and step > 1 and time.monotonic() >= deadline:
            stopped = (f"step {step}: the run's time budget ran out after {taken:,} of "
                       f"{steps:,} steps; the parameters shown are those after step {taken:,} "
                       "(allow more with --time-limit SECONDS)")
            break
        if not math.isfinite(loss):
            stopped = _not_finite(f"step {step}: the loss after step {step - 1}" if step > 1
                                  else "step 1: the loss at the starting values", graph, values,
                                  last[2])
            break
        with np.errstate(all="ignore"):  # a step out of float64's range is reported below
            changes = {name: updater.update(name, gradient[name], step) for name in params}
            moved = {name: np.asarray(point[name], dtype=float) + changes[name]
                     for name in params}
        broken = [name for name in params if not np.all(np.isfinite(moved[name]))]
        if broken:
            stopped = (f"step {step}: the update made {broken[0]!r} not finite (its gradient "
                       f"{_finiteness(gradient[broken[0]])}); the parameters shown are those "
                       "before it")
            break
        if step == 1:
            first = tuple(StepRow(name, plain(point[name]), plain(gradient[name]),
                                  plain(changes[name]), plain(moved[name])) for name in params)
        point.update({name: plain(value) for name, value in moved.items()})
        taken = step
        loss, gradient, values = loss_and_gradient(graph, point, params)
        if math.isfinite(loss):
            last = (dict(point), gradient, step)
        if on_step is not None:
            on_step(step)
    else:
        history.append(loss)
        if not math.isfinite(loss):
            stopped = _not_finite(f"the loss after step {steps}", graph, values, last[2])
    final, final_gradient, final_step = last
    return Training(
        expression=format_program(program), output=graph.ids[graph.output],
        params=tuple(params), optimizer=chosen, steps=steps, steps_taken=taken,
        history=tuple(history),
        first=first, parameters=tuple((name, plain(final[name])) for name in params),
        parameters_step=final_step,
        gradient=tuple((name, final_gradient[name]) for name in params),
        fixed=tuple((name, plain(point[name])) for name in variables
                    if name not in params and name not in data),
        data=tuple(name for name in variables if name in data), stopped=stopped,
        warnings=program.cautions + mismatched
        + tuple(f"variable {name!r} was given a value but is not used; it is ignored"
                for name in at if name not in variables and name not in data)
        + ((f"no --params: every variable is trained ({', '.join(params)}), inputs and "
            "targets too; name the parameters with --params, or give the data with --data",)
           if chosen_by_default and len(params) > 1 and not data else ()),
        tensors=any(np.ndim(v) for v in point.values()))


def _chosen_params(params: list[str] | None, variables: tuple[str, ...], data: frozenset[str],
                   integers: frozenset[str]) -> list[str]:
    if params is None:
        chosen = [name for name in variables if name not in data and name not in integers]
        if not chosen and not variables:
            raise InputError("the program has no variables to train: its loss is a constant")
        if not chosen:
            raise InputError("the program has no variables to train (every one is data); "
                             "name them with --params")
        return chosen
    if not params:
        raise InputError("--params names no variable; give NAME,NAME (or leave it out to "
                         "train every variable that is not data)")
    for name in params:
        if name not in variables:
            raise InputError(f"--params: {name!r} is not a variable of the program "
                             f"(variables: {', '.join(variables) or 'none'})"
                             f"{did_you_mean(name, variables)}")
        if name in data:
            raise InputError(f"--params: {name!r} is a column of --data; data is not trained")
        if name in integers:
            raise InputError(f"--params: {name!r} is a whole-number argument (a class, an axis "
                             "or an index) and has no gradient")
    if len(set(params)) != len(params):
        raise InputError("--params names a variable twice")
    return list(params)


def _not_finite(what: str, graph, values: list, last: int) -> str:
    from .tensor_engine import first_nonfinite

    return (f"{what} is not finite ({first_nonfinite(graph, values) or graph.ids[graph.output]});"
            f" the parameters shown are those after step {last}, the last with a finite loss")


def _finiteness(gradient) -> str:
    array = np.asarray(gradient, dtype=float)
    if np.all(np.isfinite(array)):
        return "is finite: the step is too large for float64"
    return "is not finite" + ("" if array.ndim == 0 else
                              f" at {[int(k) for k in np.argwhere(~np.isfinite(array))[0]]}")
