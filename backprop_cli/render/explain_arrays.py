"""ArrayExplanation → text: the sweeps in matrix form, one line per step, arrays with their
shapes (summarised when large); Markdown gives the same lines in a code block, LaTeX an align*
block per sweep with the arrays as matrices."""

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
    from .latex_math import bar, latex_id, matrix, needs_t1, rule_to_latex

    def shape(value, note: str = "") -> str:
        return r" && \text{" + shape_text(value) + note + "}"

    ids = frozenset([name for name, _ in explanation.at]
                    + [step.node for step in explanation.forward])
    forward = [f"{latex_id(name)} &= {matrix(value, digits)}{shape(value)}"
               for name, value in explanation.at]
    forward += [f"{latex_id(step.node)} &= {_formula(step.formula, ids, rule_to_latex)} = "
                f"{matrix(step.value, digits)}{shape(step.value)}" for step in explanation.forward]
    reverse = []
    for step in explanation.reverse:
        text, notes = step.formula, []
        for note in _NOTES:
            if note in text:
                text = text.replace(f" ({note})", "")
                notes.append(note)
        formula = rule_to_latex(text)
        value = matrix(step.value, digits)
        reverse.append(f"{bar(step.node.replace(chr(0x305), ''))} &= {formula}"
                       + ("" if formula.endswith("= 1") else f" = {value}")
                       + shape(step.value, "".join(f", {note}" for note in notes)))
    gradient = [rf"\frac{{\partial {latex_id(explanation.output)}}}{{\partial {latex_id(name)}}}"
                f" &= {matrix(value, digits)}{shape(value)}"
                for name, value in explanation.gradient]
    body = []
    for title, rows in (("Forward sweep", forward),
                        ("Reverse sweep (vector-Jacobian products)", reverse),
                        ("Gradient", gradient)):
        body += [f"\\paragraph{{{title}}}", "\\begin{align*}", " \\\\\n".join(rows) or "&",
                 "\\end{align*}"]
    text = "\n".join(body) + "\n"
    needs = "\\usepackage{amsmath}"
    if needs_t1(text):
        needs += " and \\usepackage[T1]{fontenc}"
    return f"% backprop explain: needs {needs}\n" + text


_NOTES = ("spread over the reduced elements", "summed over the broadcast axes")


def _formula(formula: str, ids: frozenset[str], fallback) -> str:
    """A forward step's formula from its parse tree (W_{1} \\, x), or token by token."""
    from ..errors import BackpropError
    from ..parse import parse_program
    from .latex_math import tree_to_latex

    try:
        return tree_to_latex(parse_program(f"t = {formula}", given=ids).statements[0].tree)
    except BackpropError:
        return fallback(formula)
