"""`backprop hessian`: second derivatives by reverse over reverse."""

from __future__ import annotations

from .base import AT, DIGITS, FILE, Command, Option, Request, name_list, table_chosen
from .forward import unused

HELP = ("The Hessian matrix of second derivatives, computed on the engine by reverse-over-"
        "reverse differentiation (exact, no finite differences). --wrt x,y gives the rows "
        "and columns of those variables only.")


def call(request: Request):
    from ..matrices import MAX_TABLE_ENTRIES, hessian

    return hessian(request.source(), request.point, name_list(request.options["wrt"]),
                   max_entries=MAX_TABLE_ENTRIES if table_chosen(request) else None)


def variables(result) -> set[str]:
    return {name for name, _ in result.at}


SPEC = Command(
    name="hessian", help=HELP, usage="EXPR [--NAME VALUE ...] [OPTIONS]",
    options=(FILE, AT,
             Option("wrt", ("--wrt",), str, None,
                    "Only these variables' second derivatives (default: all).",
                    metavar="A,B,..."),
             DIGITS),
    call=call,
    renderers={"table": "backprop_cli.render.modes_view:show_matrix",
               "json": "backprop_cli.render.json_format:show"},
    default_format="table",
    warnings=lambda result, request: result.warnings + unused(request.point,
                                                              variables(result)),
    used=variables,
)
