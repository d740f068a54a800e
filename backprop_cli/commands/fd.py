"""`backprop fd`: finite differences over step sizes against the reverse-mode derivative."""

from __future__ import annotations

from .base import AT, DIGITS, FILE, Command, Option, Request

HELP = ("Forward and central finite differences of the output by one variable (or one element "
        "of an array, --wrt 'W[0,1]') over step sizes h from 1e-16 to 1, each with its error "
        "against the reverse-mode derivative: the V-shaped error curve of truncation against "
        "rounding, on log-log axes, with the best h marked.")


def call(request: Request):
    from ..step_sizes import step_sizes

    options = request.options
    return step_sizes(request.source(), request.point, options["wrt"], options["smallest"],
                      options["largest"], options["per_decade"], request.data)


SPEC = Command(
    name="fd", help=HELP, usage="EXPR --wrt VAR [--NAME VALUE ...] [OPTIONS]",
    options=(
        FILE, AT,
        Option("wrt", ("--wrt",), str, None,
               "The variable, or an element of an array such as W[0,1] (optional for one "
               "scalar variable).", metavar="VAR"),
        Option("smallest", ("--smallest",), float, 1e-16, "The smallest step h.",
               metavar="H"),
        Option("largest", ("--largest",), float, 1.0, "The largest step h.", metavar="H"),
        Option("per_decade", ("--per-decade",), int, 4, "Step sizes per factor of 10.",
               min=1, max=100),
        DIGITS),
    call=call,
    renderers={"plot": "backprop_cli.render.fd_view:show",
               "table": "backprop_cli.render.fd_view:show_table",
               "json": "backprop_cli.render.json_format:show",
               "csv": "backprop_cli.render.fd_view:show_csv"},
    default_format="plot",
    warnings=lambda result, request: result.warnings,
    used=lambda result: {name for name, _ in result.at},
)
