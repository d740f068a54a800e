"""`backprop explain`: the chain rule written out, step by step."""

from __future__ import annotations

from ..errors import InputError
from .base import AT, DIGITS, FILE, Command, Option, Request

MAX_EXPLAINED_NODES = 2_000
HELP = ("Explain the chain rule step by step: the evaluation trace, the forward sweep with "
        "numbers, every adjoint written out as a sum over its consumers, and the gradient. "
        "--format markdown or latex gives text to paste into notes.")


def call(request: Request):
    from ..api import grad
    from ..explain import explain
    from ..graph import nodes_beyond

    source = request.source()
    at_least = nodes_beyond(source, MAX_EXPLAINED_NODES, frozenset(request.point))
    if at_least is not None:
        raise _too_large(f"at least {at_least:,}")
    result = grad(source, request.point, data=request.data)
    if len(result.nodes) > MAX_EXPLAINED_NODES:
        raise _too_large(f"{len(result.nodes):,}")
    if getattr(result, "tensors", False):
        from ..tensor_explain import explain_arrays

        return explain_arrays(result, request.options["wrt"])
    return explain(result, request.options["wrt"], request.options["digits"])


def _too_large(count: str) -> InputError:
    return InputError(f"explain writes out every step for programs of up to "
                      f"{MAX_EXPLAINED_NODES:,} nodes (this one has {count}); use grad --json "
                      "for large programs")


SPEC = Command(
    name="explain", help=HELP, usage="EXPR [--NAME VALUE ...] [OPTIONS]",
    options=(FILE, AT,
             Option("wrt", ("--wrt",), str, None,
                    "Show only the reverse-sweep steps on paths to VAR.", metavar="VAR"),
             DIGITS),
    call=call,
    renderers={"text": "backprop_cli.render.explain_text:show",
               "markdown": "backprop_cli.render.explain_markdown:show",
               "latex": "backprop_cli.render.explain_latex:show"},
    default_format="text",
    warnings=lambda explanation, request: explanation.warnings,
    used=lambda explanation: {name for name, _ in explanation.at},
)
