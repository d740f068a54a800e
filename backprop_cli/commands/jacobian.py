"""`backprop jacobian`: several outputs, one reverse sweep each."""

from __future__ import annotations

from .base import AT, DIGITS, FILE, Command, Option, Request, name_list, table_chosen
from .forward import unused

HELP = ("The Jacobian of several outputs (--output a,b: statement names; default the last "
        "statement), one reverse sweep per output.")


def call(request: Request):
    from ..matrices import MAX_TABLE_ENTRIES, jacobian

    return jacobian(request.source(), request.point, name_list(request.options["output"]),
                    max_entries=MAX_TABLE_ENTRIES if table_chosen(request) else None)


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
    warnings=lambda result, request: result.warnings + unused(request.point, result.columns),
    used=lambda result: set(result.columns),
)
