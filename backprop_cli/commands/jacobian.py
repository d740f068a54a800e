"""`backprop jacobian`: several outputs, one reverse sweep each."""

from __future__ import annotations

from .base import AT, DIGITS, FILE, Command, Option, Request, name_list, table_chosen
from .forward import unused

HELP = ("The Jacobian of several outputs (--output a,b: statement names; default the last "
        "statement), one reverse sweep per output. For a program over arrays, the full matrix "
        "of an array output (softmax(W @ x)) by every variable element (W[0,1]).")


def call(request: Request):
    from ..matrices import MAX_TABLE_ENTRIES, jacobian

    limit = MAX_TABLE_ENTRIES if table_chosen(request) else None
    outputs = name_list(request.options["output"], "--output")
    return jacobian(request.source(), request.point, outputs, max_entries=limit,
                    data=request.data)


def _variables(result) -> list[str]:
    """The variables the program was evaluated at (an array's elements are `W[0,1]`),
    columns or not: cross_entropy's class k has no column but is used."""
    return list(dict.fromkeys(name.partition("[")[0] for name, _ in result.at))


SPEC = Command(
    name="jacobian", help=HELP, usage="EXPR [--NAME VALUE ...] [OPTIONS]",
    options=(FILE, AT,
             Option("output", ("--output",), str, None, "The outputs (statement names).",
                    metavar="A,B,..."),
             DIGITS),
    call=call,
    renderers={"table": "backprop_cli.render.modes_view:show_matrix",
               "json": "backprop_cli.render.json_format:show"},
    default_format="table",
    warnings=lambda result, request: result.warnings + unused(request,
                                                              _variables(result)),
    used=lambda result: set(_variables(result)),
)
