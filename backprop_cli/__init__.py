"""backprop-cli: see, check and understand a gradient, node by node."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "grad"]


def grad(*args, **kwargs):
    """Differentiate a program at a point; see `backprop_cli.api.grad`."""
    from .api import grad as _grad

    return _grad(*args, **kwargs)
