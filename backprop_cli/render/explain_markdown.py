"""Explanation → Markdown: tables of the trace, the forward sweep and the reverse sweep."""

from __future__ import annotations

from ..explain import Explanation
from ..printing import format_tree
from ..printing import number_in_formula as number_text
from .table import fmt


def _code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def _bar(node_id: str) -> str:
    return "".join(char + "\u0305" for char in node_id)


def render(explanation: Explanation, digits: int = 6) -> str:
    """GitHub-flavoured Markdown with one table per sweep."""
    at = ", ".join(f"{name} = {fmt(value, digits)}" for name, value in explanation.at)
    lines = ["## Backpropagation of " + _code(explanation.expression.replace("\n", "; ")), "",
             f"At {at or 'no variables'}; output {_code(explanation.output)} = "
             f"{fmt(explanation.value, digits)}.", "",
             "### Evaluation trace", "", "| node | definition |", "| --- | --- |"]
    for node_id, kind in explanation.inputs:
        if kind == "variable":
            lines.append(f"| {_code(node_id)} | input |")
    for step in explanation.forward:
        lines.append(f"| {_code(step.node)} | {_code(format_tree(step.formula))} |")
    lines += ["", "### Forward sweep", "", "| node | formula | with numbers | value |",
              "| --- | --- | --- | ---: |"]
    for name, value in explanation.at:
        lines.append(f"| {_code(name)} | input | | {fmt(value, digits)} |")
    for step in explanation.forward:
        flag = f" ({step.status})" if step.status not in ("ok", "propagated") else ""
        lines.append(f"| {_code(step.node)} | {_code(format_tree(step.formula))} | "
                     f"{_code(format_tree(step.substituted))} | {fmt(step.value, digits)}{flag} |")
    title = "### Reverse sweep" + (f" (paths to {_code(explanation.wrt)})"
                                   if explanation.wrt else "")
    lines += ["", title, "", "| adjoint | chain rule | with numbers | value |",
              "| --- | --- | --- | ---: |"]
    for step in explanation.reverse:
        if step.seed:
            rule, numbers = f"∂{step.node}/∂{step.node}", "1"
        elif not step.terms:
            rule, numbers = "no path to the output", "0"
        else:
            rule = " + ".join(f"{_bar(t.consumer)}·∂{t.consumer}/∂{step.node} "
                              f"({_code(format_tree(t.rule) if t.rule else '')}"
                              f"{t.argument(step.terms, ', argument {}')})"
                              for t in step.terms)
            numbers = " + ".join(f"{number_text(t.consumer_adjoint, digits)}·"
                                 f"{number_text(t.local, digits)}" for t in step.terms)
        lines.append(f"| {_bar(step.node)} | {rule} | {numbers} | {fmt(step.adjoint, digits)} |")
    if not explanation.reverse:
        lines.append(f"| {_bar(explanation.wrt or '')} | no path to the output | 0 | 0 |")
    lines += ["", "### Gradient", "", "| variable | derivative |", "| --- | ---: |"]
    for name, value in explanation.gradient:
        lines.append(f"| {_code(name)} | {fmt(value, digits)} |")
    return "\n".join(lines) + "\n"


def show(explanation: Explanation, view) -> str:
    if not isinstance(explanation, Explanation):  # over arrays: the matrix form
        from .explain_arrays import markdown

        return markdown(explanation, view.digits)
    return render(explanation, view.digits)
