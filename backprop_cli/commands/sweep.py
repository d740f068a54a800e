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
        raise InputError(_no_range(request))
    variable, text = next(iter(ranges.items()))
    start, stop = value_range(variable, text)
    fixed = {name: value for name, value in request.point.items() if name != variable}
    return sweep(request.source(), fixed, variable, start, stop, request.options["points"])


def _no_range(request: Request) -> str:
    """What to write when no value is a range: a scalar given as a number is the likely
    one to sweep (arrays and data columns are named, never printed)."""
    from ..tensor_names import is_array, is_array_text

    def scalar(value) -> bool:
        return not (is_array(value) or isinstance(value, list)
                    or (isinstance(value, str) and is_array_text(value)))

    if not request.point:
        return "give the variable to sweep a range START:STOP, e.g. --x -3:3 (no values were given)"
    names = [name for name in request.point if name not in request.data]
    for name in names:  # a range written as other languages write one: 1..5, 1...5
        value = request.point[name]
        ends = value.split("..") if isinstance(value, str) and ".." in value else []
        if len(ends) >= 2 and ends[0].strip() and ends[-1].strip("."):
            start, stop = ends[0].strip(), ends[-1].strip(". ")
            return f"--{name} {value}: a range is START:STOP, e.g. --{name} {start}:{stop}"
    scalars = [name for name in names if scalar(request.point[name])]
    shown = ", ".join(f"--{name}" for name in names[:8]) + (", ..." if len(names) > 8 else "")
    given = ("only data columns were given" if not names else
             f"{shown} has a value, not a range" if len(names) == 1 else
             f"{shown} have values, not ranges")
    return (f"give the variable to sweep a range START:STOP, e.g. --{(scalars or ['x'])[-1]} "
            f"-3:3 ({given})")


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
