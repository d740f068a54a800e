"""`backprop forward`: forward mode, tangents and directional derivatives."""

from __future__ import annotations

from ..errors import InputError
from .arguments import split_top_level
from .base import AT, DIGITS, FILE, Command, Option, Request

HELP = ("Forward-mode differentiation: every node's value and tangent d node / d VAR in "
        "evaluation order, the derivative, and what forward and reverse mode cost on this "
        "program. --direction x=1,y=0.5 gives a directional derivative (JVP).")


def call(request: Request):
    from ..api import value_of
    from ..forward_mode import forward_mode, forward_mode_arrays

    wrt, direction = request.options["wrt"], request.options["direction"]
    vector = None
    if direction is not None:
        if wrt is not None:
            raise InputError("give --wrt or --direction, not both")
        vector = {}
        if not split_top_level(direction):
            raise InputError("--direction is empty: give NAME=VALUE pairs, e.g. "
                             "--direction x=1,y=0.5")
        for item in split_top_level(direction):
            name, equals, value = item.partition("=")
            if not equals or not name.strip():
                raise InputError(f"--direction expects NAME=VALUE pairs, got {item!r}")
            if "=" in value:  # `x=1 y=2`, `x=1;y=2`: pairs not separated by commas
                raise InputError(f"--direction {item.strip()!r}: separate the NAME=VALUE pairs "
                                 "with commas, e.g. --direction x=1,y=0.5")
            if name.strip() in vector:
                raise InputError(f"--direction gives {name.strip()!r} twice; give it once")
            try:
                vector[name.strip()] = value_of(name.strip(), value.strip(), arrays=True)
            except InputError as error:  # said of --direction, not of the point's value
                raise InputError(f"--direction {item.strip()}: the direction's "
                                 f"{error.message}") from None
    over_arrays = forward_mode_arrays(request.source(), request.point, wrt, vector,
                                      request.data)
    if over_arrays is not None:
        return over_arrays
    return forward_mode(request.source(), request.point, wrt, vector)


def unused(request: Request, used: set[str] | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """A warning for each variable given a value that the result does not use (a data set's
    columns are the data's, as in `grad`)."""
    return tuple(f"variable {name!r} was given a value but is not used; it is ignored"
                 for name in request.point if name not in used and name not in request.data)


SPEC = Command(
    name="forward", help=HELP, usage="EXPR [--NAME VALUE ...] [OPTIONS]",
    options=(FILE, AT,
             Option("wrt", ("--wrt",), str, None,
                    "The variable to differentiate by (optional for one variable).",
                    metavar="VAR"),
             Option("direction", ("--direction",), str, None,
                    "A direction for a directional derivative.", metavar="NAME=VALUE,..."),
             DIGITS),
    call=call,
    renderers={"table": "backprop_cli.render.modes_view:show_forward",
               "json": "backprop_cli.render.json_format:show"},
    default_format="table",
    warnings=lambda result, request: result.warnings + unused(
        request, {name for name, _ in result.at}),
    used=lambda result: {name for name, _ in result.at},
)
