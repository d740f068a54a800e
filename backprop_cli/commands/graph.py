"""`backprop graph`: the computation graph, drawn."""

from __future__ import annotations

from .base import DIGITS, FILE, Command, Option, Request

HELP = ("Draw the computation graph: each node with its op (and, given a point, its value and "
        "adjoint), each edge with its local derivative. ascii draws in the terminal; dot and "
        "mermaid print text for Graphviz and Mermaid; svg and png run Graphviz.")


def call(request: Request):
    from .. import api

    source = request.source()
    chosen = request.options.get("output_format")
    if getattr(chosen, "value", chosen) in (None, "ascii"):
        from ..graph import nodes_beyond
        from ..render.graph_ascii import MAX_DRAWN_NODES, too_large

        at_least = nodes_beyond(source, MAX_DRAWN_NODES, frozenset(request.point))
        if at_least is not None:
            raise too_large(f"at least {at_least:,}")
    return api.grad(source, request.point, data=request.data) if request.point else \
        api.structure(source)


SPEC = Command(
    name="graph", help=HELP, usage="EXPR [--NAME VALUE ...] [OPTIONS]",
    options=(FILE,
             Option("at", ("--at",), list[str], [],
                    "Variable values, e.g. --at x=1,y=2 (optional).", metavar="NAME=VALUE,..."),
             Option("output_file", ("--output", "-o"), str, None,
                    "Write to FILE instead of standard output.", metavar="FILE"),
             DIGITS),
    call=call,
    renderers={"ascii": "backprop_cli.render.graph_ascii:show",
               "dot": "backprop_cli.render.graph_dot:show",
               "mermaid": "backprop_cli.render.graph_mermaid:show",
               "svg": "backprop_cli.render.graph_dot:show_svg",
               "png": "backprop_cli.render.graph_dot:show_png"},
    default_format="ascii",
    warnings=lambda result, request: result.warnings,
    used=lambda result: {name for name, _ in result.gradient},
)
