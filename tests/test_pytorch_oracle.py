"""PyTorch as an independent oracle, where it is installed: for every op PyTorch also has, the
value and the gradient at the op's test points and at its documented kinks (PyTorch's
conventions are the ones the README promises). Skipped without torch; CI does not install it,
so this runs where a developer has it (`pip install torch`)."""

from __future__ import annotations

import math

import pytest

from backprop_cli.backends import FLOAT
from backprop_cli.engine import node_partials
from backprop_cli.ops import OPS

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _scalar_argument(function):
    """Ops whose second argument PyTorch takes as a plain number (no gradient for it)."""
    return lambda x, a: function(x, a.item())


TORCH = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": torch.pow, "neg": lambda a: -a,
    "logb": lambda a, b: torch.log(a) / torch.log(b),
    **{name: getattr(torch, name) for name in (
        "exp", "log", "log1p", "expm1", "sqrt", "abs", "sin", "cos", "tan", "asin", "acos",
        "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "erf", "erfc", "sigmoid",
        "relu", "atan2", "hypot", "logaddexp")},
    "softplus": F.softplus, "selu": F.selu, "gelu": F.gelu, "silu": F.silu, "mish": F.mish,
    "softsign": F.softsign, "hardtanh": F.hardtanh, "relu6": F.relu6,
    "hardsigmoid": F.hardsigmoid,
    "leaky_relu": _scalar_argument(F.leaky_relu), "elu": _scalar_argument(F.elu),
    "celu": _scalar_argument(F.celu),
    "clip": lambda x, lo, hi: torch.clamp(x, min=lo, max=hi),
    "max": torch.maximum, "min": torch.minimum,
}
SCALAR_ARGUMENTS = {"leaky_relu", "elu", "celu"}  # PyTorch differentiates the first only

CASES = [(name, args) for name in sorted(TORCH) for args in
         (*OPS[name].points, *(args for args, _ in OPS[name].conventions))
         if not (OPS[name].is_variadic and len(args) != 2)]


# PyTorch's hardsigmoid_backward multiplies by 1/6 rounded to float32, even in float64.
RTOL = {"hardsigmoid": 1e-7}


def same(a: float, b: float, rtol: float = 1e-10) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-15)


@pytest.mark.parametrize(("name", "args"), CASES, ids=[f"{n}{a}" for n, a in CASES])
def test_value_and_gradient_agree_with_pytorch(name, args):
    op = OPS[name]
    forward, partials = FLOAT.bound(op)
    value = forward(*args)
    ours = node_partials(op.calling_convention, partials, list(args), value)
    tensors = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in args]
    out = TORCH[name](*tensors)
    out.backward()
    assert same(value, out.item()), (name, args, value, out.item())
    count = 1 if name in SCALAR_ARGUMENTS else len(args)
    for k in range(count):
        theirs = tensors[k].grad.item() if tensors[k].grad is not None else 0.0
        assert same(ours[k], theirs, RTOL.get(name, 1e-10)), (name, args, k, ours[k], theirs)


@pytest.mark.parametrize("p", [0.0, 1e-13, 0.3, 1 - 1e-13, 1.0])
@pytest.mark.parametrize("y", [0.0, 1.0, 0.25])
def test_bce_is_pytorch_s_binary_cross_entropy_to_its_clamps(p, y):
    import json

    from backprop_cli.api import grad

    probability = torch.tensor([p, 0.5], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([y, 1.0], dtype=torch.float64, requires_grad=True)
    loss = F.binary_cross_entropy(probability, target)
    loss.backward()
    result = grad("L = bce(p, y)", {"p": json.dumps([p, 0.5]), "y": json.dumps([y, 1.0])})
    assert result.value == pytest.approx(loss.item(), rel=1e-14)
    assert list(dict(result.gradient)["p"]) == pytest.approx(probability.grad.tolist(),
                                                             rel=1e-12)
    if 0 < p < 1:  # at 0 and 1 the README's documented difference: ours is the clamped loss's
        assert list(dict(result.gradient)["y"]) == pytest.approx(target.grad.tolist(),
                                                                 rel=1e-12)
