"""Explanation → rich text for the terminal."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from ..explain import Explanation, ReverseStep
from ..printing import format_tree
from ..printing import number_in_formula as number_text
from .table import bar, fmt, pretty


def render(explanation: Explanation, digits: int = 6) -> Group:
    """Trace, forward sweep, reverse sweep and gradient, one line per step."""
    return Group(*(Text(part) if isinstance(part, str) else part
                   for part in _parts(explanation, digits)))


def _parts(explanation: Explanation, digits: int) -> list[Text | str]:
    """The headings and sections: rich Texts where styled, plain text where not."""
    parts: list[Text | str] = [_heading("Evaluation trace (Wengert list)")]
    formulas = [pretty(format_tree(step.formula)) for step in explanation.forward]
    trace = [f"  {node_id}  (input)\n" for node_id, kind in explanation.inputs
             if kind == "variable"]
    trace += [f"  {step.node} = {formula}\n"
              for step, formula in zip(explanation.forward, formulas, strict=True)]
    parts.append("".join(trace))

    parts.append(_heading("Forward sweep"))
    forward = [f"  {name} = {fmt(value, digits)}\n" for name, value in explanation.at]
    offset = sum(map(len, forward))
    flagged = []  # (start, end) of each status shown in yellow
    for step, formula in zip(explanation.forward, formulas, strict=True):
        line = (f"  {step.node} = {formula} = {pretty(format_tree(step.substituted))} = "
                f"{fmt(step.value, digits)}")
        if step.status not in ("ok", "propagated"):
            status = f"   [{step.status}]"
            flagged.append((offset + len(line), offset + len(line) + len(status)))
            line += status
        line += "\n"
        forward.append(line)
        offset += len(line)
    if flagged:
        forward_text = Text("".join(forward))
        for start, end in flagged:
            forward_text.stylize("yellow", start, end)
        parts.append(forward_text)
    else:
        parts.append("".join(forward))

    title = "Reverse sweep" + (f" (paths to {explanation.wrt})" if explanation.wrt else "")
    parts.append(_heading(title))
    parts.append("".join(f"  {reverse_line(step, explanation.output, digits)}\n"
                         for step in explanation.reverse))

    parts.append(_heading("Gradient"))
    parts.append("".join(
        f"  ∂{explanation.output}/∂{name} = {bar(name)} = {fmt(value, digits)}\n"
        for name, value in explanation.gradient))
    return parts


def reverse_line(step: ReverseStep, output: str, digits: int) -> str:
    """x̅ = z̅3̅·∂z3/∂x + z̅4̅·∂z4/∂x = 1·2 + 1·0.419974 = 2.41997"""
    if step.seed:
        return f"{bar(step.node)} = ∂{output}/∂{output} = 1"
    if not step.terms:
        return f"{bar(step.node)} = 0  (no path to {output})"
    symbols = " + ".join(f"{bar(t.consumer)}·∂{t.consumer}/∂{step.node}" for t in step.terms)
    numbers = " + ".join(f"{number_text(t.consumer_adjoint, digits)}·"
                         f"{number_text(t.local, digits)}" for t in step.terms)
    rules = ", ".join(f"∂{t.consumer}/∂{step.node} = {_rule(t.rule)}" for t in step.terms)
    return (f"{bar(step.node)} = {symbols} = {numbers} = {fmt(step.adjoint, digits)}"
            f"   where {rules}")


def _heading(title: str) -> Text:
    return Text(title, style="bold")


def _rule(tree: tuple | None) -> str:
    return pretty(format_tree(tree)) if tree is not None else ""


def show(explanation: Explanation, view) -> Group:
    if not isinstance(explanation, Explanation):  # over arrays: the matrix form
        from .explain_arrays import text

        return text(explanation, view.digits)
    from .fast_text import FastText

    return Group(*map(FastText, _parts(explanation, view.digits)))
