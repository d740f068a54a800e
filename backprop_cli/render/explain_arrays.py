"""ArrayExplanation → text: the sweeps in matrix form, one line per step, arrays with their
shapes (summarised when large); for Markdown and LaTeX the same lines in a code block."""

from __future__ import annotations

from ..tensor_ops import shape_text
from .table import pretty
from .tensor_table import array_text


def lines(explanation, digits: int) -> list[str]:
    out = ["Forward sweep"]
    for name, value in explanation.at:
        out.append(f"  {name} {shape_text(value)} = {array_text(value, digits)}")
    for step in explanation.forward:
        out.append(f"  {step.node} = {pretty(step.formula)}   {shape_text(step.value)} = "
                   f"{array_text(step.value, digits)}")
    out += ["", "Reverse sweep (vector-Jacobian products)"]
    for step in explanation.reverse:
        out.append(f"  {step.node} = {pretty(step.formula)}   {shape_text(step.value)} = "
                   f"{array_text(step.value, digits)}")
    out += ["", "Gradient"]
    for name, value in explanation.gradient:
        out.append(f"  ∂{explanation.output}/∂{name} {shape_text(value)} = "
                   f"{array_text(value, digits)}")
    return out


def text(explanation, digits: int) -> str:
    return "\n".join(lines(explanation, digits))


def markdown(explanation, digits: int) -> str:
    return "\n".join([f"Program: `{' ; '.join(explanation.expression.splitlines())}`", "",
                      "```text", *lines(explanation, digits), "```"])


def latex(explanation, digits: int) -> str:
    body = "\n".join(lines(explanation, digits))
    return "\n".join(["\\begin{verbatim}", body, "\\end{verbatim}"])
