"""Explanation → LaTeX: an align* block of both sweeps and tabulars of the three tables.

The output is a fragment to paste into a document that loads amsmath (and the T1 font
encoding, when a name has a letter only T1 has: its first line says so)."""

from __future__ import annotations

from ..explain import Explanation
from .latex_math import bar, escape_text, latex_id, needs_t1, number, tree_to_latex


def render(explanation: Explanation, digits: int = 6) -> str:
    """The fragment; every formula is printed from a tree, so it is valid LaTeX."""
    lines = ["\\paragraph{Forward sweep}", "\\begin{align*}"]
    rows = [f"{latex_id(name)} &= {number(value, digits)}" for name, value in explanation.at]
    for step in explanation.forward:
        flag = f" \\quad \\text{{({step.status})}}" if step.status not in ("ok", "propagated") \
            else ""  # as explain's text and Markdown mark a kink or an undefined value
        rows.append(f"{latex_id(step.node)} &= {tree_to_latex(step.formula)} = "
                    f"{tree_to_latex(step.substituted)} = {number(step.value, digits)}{flag}")
    lines.append(" \\\\\n".join(rows) if rows else "&")
    lines += ["\\end{align*}", "\\paragraph{Reverse sweep}", "\\begin{align*}"]
    rows = []
    for step in explanation.reverse:
        if step.seed:
            rows.append(f"{bar(step.node)} &= 1")
            continue
        if not step.terms:
            rows.append(f"{bar(step.node)} &= 0")
            continue
        symbols = " + ".join(f"{bar(t.consumer)} \\frac{{\\partial {latex_id(t.consumer)}}}"
                             f"{{\\partial {latex_id(step.node)}}}" for t in step.terms)
        numbers = " + ".join(f"{_factor(t.consumer_adjoint, digits)} \\cdot "
                             f"{_factor(t.local, digits)}" for t in step.terms)
        rows.append(f"{bar(step.node)} &= {symbols} = {numbers} = {number(step.adjoint, digits)}")
    lines.append(" \\\\\n".join(rows) if rows else "&")
    lines.append("\\end{align*}")
    lines += _tables(explanation, digits)
    body = "\n".join(lines) + "\n"
    needs = "\\usepackage{amsmath}"
    if needs_t1(body):  # letters such as ą, đ, þ, ŋ
        needs += " and \\usepackage[T1]{fontenc}"
    return f"% backprop explain: needs {needs}\n" + body


def _factor(value: float | None, digits: int) -> str:
    text = number(value, digits)
    return f"\\left({text}\\right)" if text.startswith("-") else text


def _tables(explanation: Explanation, digits: int) -> list[str]:
    lines = ["\\paragraph{Forward pass}", "\\begin{tabular}{lll}",
             "node & formula & value \\\\ \\hline"]
    for name, value in explanation.at:
        lines.append(f"${latex_id(name)}$ & input & ${number(value, digits)}$ \\\\")
    for step in explanation.forward:
        lines.append(f"${latex_id(step.node)}$ & ${tree_to_latex(step.formula)}$ & "
                     f"${number(step.value, digits)}$ \\\\")
    lines += ["\\end{tabular}", "", "\\paragraph{Local derivatives}", "\\begin{tabular}{lll}",
              "edge & rule & value \\\\ \\hline"]
    for step in explanation.reverse:
        for term in step.terms:
            rule = tree_to_latex(term.rule) if term.rule else "\\text{" + escape_text("-") + "}"
            argument = term.argument(step.terms)
            lines.append(f"${latex_id(term.consumer)} \\leftarrow {latex_id(step.node)}$"
                         f"{escape_text(argument)} & "
                         f"$\\frac{{\\partial {latex_id(term.consumer)}}}"
                         f"{{\\partial {latex_id(step.node)}}} = {rule}$ & "
                         f"${number(term.local, digits)}$ \\\\")
    lines += ["\\end{tabular}", "", "\\paragraph{Backward pass}", "\\begin{tabular}{ll}",
              "adjoint & value \\\\ \\hline"]
    for step in explanation.reverse:
        lines.append(f"${bar(step.node)}$ & ${number(step.adjoint, digits)}$ \\\\")
    lines.append("\\end{tabular}")
    return lines


def show(explanation: Explanation, view) -> str:
    if not isinstance(explanation, Explanation):  # over arrays: the matrix form
        from .explain_arrays import latex

        return latex(explanation, view.digits)
    return render(explanation, view.digits)
