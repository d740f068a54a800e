"""`backprop sweep`: the output and its derivative over a range of one variable."""

from __future__ import annotations

from ..errors import InputError
from .arguments import value_range
from .base import AT, FILE, Command, Option, Request

HELP = ("The output and its derivative over a range of one variable (--x -3:3), drawn in the "
        "terminal, or as JSON or CSV. Undefined points are gaps.")


def call(request: Request):
    from ..sweep import sweep

    ranges = {name: value for name, value in request.point.items()
              if isinstance(value, str) and ":" in value}
    if len(ranges) > 1:
        raise InputError("give exactly one variable a range START:STOP, not "
                         f"{len(ranges)} ({', '.join(ranges)})")
    if not ranges:
        given = ", ".join(f"--{name} {value}" for name, value in request.point.items())
        raise InputError("give the variable to sweep a range START:STOP, e.g. --x -3:3 "
                         f"({f'none of {given} is one' if given else 'no values were given'})")
    variable, text = next(iter(ranges.items()))
    start, stop = value_range(variable, text)
    fixed = {name: value for name, value in request.point.items() if name != variable}
    return sweep(request.source(), fixed, variable, start, stop, request.options["points"])


SPEC = Command(
    name="sweep", help=HELP, usage="EXPR --VAR START:STOP [--NAME VALUE ...] [OPTIONS]",
    options=(FILE, AT, Option("points", ("--points",), int, 200, "Number of points.", min=2,
                              max=10_000_000),
             Option("output_file", ("--output", "-o"), str, None,
                    "Write to FILE instead of standard output.", metavar="FILE")),
    call=call,
    renderers={"plot": "backprop_cli.render.plot:show",
               "json": "backprop_cli.render.json_format:show_sweep",
               "csv": "backprop_cli.render.modes_view:show_csv"},
    default_format="plot",
    warnings=lambda result, request: result.warnings,
    used=lambda result: {result.variable, *(name for name, _ in result.fixed)},
)
