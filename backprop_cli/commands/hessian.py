"""`backprop hessian`: second derivatives by reverse over reverse."""

from __future__ import annotations

from .base import AT, DIGITS, FILE, Command, Request
from .forward import unused

HELP = ("The Hessian matrix of second derivatives, computed on the engine by reverse-over-"
        "reverse differentiation (exact, no finite differences).")


def call(request: Request):
    from ..matrices import hessian

    return hessian(request.source(), request.point)


SPEC = Command(
    name="hessian", help=HELP, usage="EXPR [--NAME VALUE ...] [OPTIONS]",
    options=(FILE, AT, DIGITS),
    call=call,
    renderers={"table": "backprop_cli.render.modes_view:show_matrix",
               "json": "backprop_cli.render.json_format:show"},
    default_format="table",
    warnings=lambda result, request: result.warnings + unused(request.point, result.columns),
    used=lambda result: set(result.columns),
)
