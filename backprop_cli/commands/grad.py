"""`backprop grad`: the gradient of a program at a point, with every node's numbers."""

from __future__ import annotations

from .arguments import require_finite
from .base import AT, DIGITS, FILE, FULL, Command, Option, Request

HELP = (
    "Differentiate EXPR at a point given as --NAME VALUE options.\n\n"
    "EXPR is an expression such as 'x*y + tanh(x)', or a program of statements separated by "
    "';' or newlines: 'z = w*x + b; a = sigmoid(z); L = (a - t)**2'. Variables: --x 1 --y 2, "
    "--x=1, --x -2.5, --at x=1,y=2; a value may be a constant expression such as pi/4, or an "
    "array: --W \"[[1, 2], [3, 4]]\", --values F.json, --data F.csv.\n\n"
    "Prints the forward value of every node, the local derivative on every edge, the "
    "accumulated adjoint of every node and the gradient. Exit codes: 0 success, 1 --check "
    "disagreement or --strict with a flagged node, 2 bad input."
)


def call(request: Request):
    from ..api import grad

    options = request.options
    require_finite("--check-timeout", options["check_timeout"])
    method = options["check_method"]
    return grad(request.source(), request.point, check=options["check"] or method is not None,
                check_timeout=options["check_timeout"], exact=options["exact"],
                precision=options["precision"], data=request.data,
                jacobians=options["jacobians"], check_method=method or "symbolic")


def failed(result, request: Request) -> bool:
    disagrees = result.check is not None and result.check.status == "failed"
    return disagrees or bool(request.options["strict"] and result.flagged)


SPEC = Command(
    name="grad", help=HELP, usage="EXPR [--NAME VALUE ...] [OPTIONS]",
    options=(
        FILE, AT, DIGITS, FULL,
        Option("check", ("--check",), bool, False,
               "Compare the gradient with SymPy's symbolic derivative."),
        Option("check_method", ("--check-method",), str, None,
               "What --check compares with: symbolic (SymPy, the default), fd (central finite "
               "differences), forward (forward mode) or all; implies --check.",
               metavar="METHOD"),
        Option("check_timeout", ("--check-timeout",), float, 10.0, "Time limit for --check.",
               metavar="SECONDS", min=0.1, max=3600.0),
        Option("jacobians", ("--jacobians",), bool, False,
               "For a program over arrays: print each local Jacobian matrix (small shapes) "
               "and the gradient as their product."),
        Option("strict", ("--strict",), bool, False,
               "Exit 1 if any node is flagged (kink, domain error, overflow)."),
        Option("exact", ("--exact",), bool, False,
               "Also compute every value and adjoint exactly with SymPy (1/3 stays 1/3, "
               "tanh(1) stays tanh(1))."),
        Option("precision", ("--precision",), int, 15,
               "Significant digits of the exact values' decimals.", metavar="N", min=1,
               max=1000),
    ),
    call=call,
    renderers={"table": "backprop_cli.render.table:show",
               "json": "backprop_cli.render.json_format:show"},
    default_format="table",
    failed=failed,
    warnings=lambda result, request: result.warnings,
    used=lambda result: {name for name, _ in result.gradient},
)
