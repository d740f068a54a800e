"""`backprop hessian`: second derivatives by reverse over reverse."""

from __future__ import annotations

from .base import AT, DIGITS, FILE, Command, Option, Request, name_list, table_chosen
from .forward import unused

HELP = ("The Hessian matrix of second derivatives, computed on the engine by reverse-over-"
        "reverse differentiation (exact, no finite differences). --wrt x,y gives the rows "
        "and columns of those variables only. Over arrays, by every variable element (W[0,1]), "
        "from central differences of the reverse-mode gradient.")


def call(request: Request):
    from ..matrices import MAX_TABLE_ENTRIES, array_program_hessian, hessian

    limit = MAX_TABLE_ENTRIES if table_chosen(request) else None
    wrt = name_list(request.options["wrt"], "--wrt")
    over_arrays = array_program_hessian(request.source(), request.point, wrt, limit,
                                        request.data)
    if over_arrays is not None:
        return over_arrays
    return hessian(request.source(), request.point, wrt, max_entries=limit)


def variables(result) -> set[str]:
    """The variables of the rows (an array's element rows are `W[0,1]`)."""
    return {name.partition("[")[0] for name, _ in result.at}


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
    warnings=lambda result, request: result.warnings + unused(request,
                                                              variables(result)),
    used=variables,
)
