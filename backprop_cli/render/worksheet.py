"""A student's worksheet, in Markdown and as a LaTeX document: the program, their numbers, the
rounding rule, and a blank for every answer, with the lines to hand in."""

from __future__ import annotations

from ..teacher.assignment import Assignment, Question, Variant
from .latex_math import bar, escape_text, latex_id, needs_t1

SECTIONS = (("value", "Forward pass: the value of each step"),
            ("local", "Local derivatives: each step with respect to the names it uses"),
            ("adjoint", "Backward pass: the adjoint of each node"),
            ("gradient", "Gradient"),
            ("formula", "Formulas"))
BLANK = "________"


def _point(variant: Variant) -> str:
    return ", ".join(f"{name} = {value:g}" for name, value in variant.at)


def program_lines(assignment: Assignment) -> list[str]:
    """The program one statement per line, without comments (they may hold the key)."""
    lines = []
    for line in assignment.program.splitlines():
        code = line.split("#", 1)[0]
        lines += [part.strip() for part in code.split(";") if part.strip()]
    return lines


def rounding_rule(assignment: Assignment) -> str:
    rule = f"Give every number to {assignment.decimals} decimal places."
    if assignment.upstream != 1.0 and {"adjoints", "gradient"} & set(assignment.ask):
        rule += (f" The upstream gradient of the output is {assignment.upstream:g}: start the "
                 f"backward pass from it, not from 1 (every adjoint and gradient entry "
                 f"includes it).")
    return rule


def asked(question: Question) -> str:
    if question.quantity == "value":
        return f"value of {question.node}"
    if question.quantity == "adjoint":
        return f"adjoint of {question.node}"
    if question.quantity == "local":
        return f"∂{question.of}/∂{question.node}"
    if question.quantity == "gradient":
        return question.question.replace("d", "∂", 1).replace("/d", "/∂", 1)
    return f"∂/∂{question.node} of the output, as a formula"


def markdown(assignment: Assignment, variant: Variant) -> str:
    """The worksheet in Markdown."""
    lines = [f"# {assignment.title}", "", f"Student: **{variant.student}**", "",
             "Program:", "", "```", *program_lines(assignment), "```", "",
             f"At: {_point(variant)}", "", rounding_rule(assignment), ""]
    for quantity, heading in SECTIONS:
        questions = [q for q in variant.questions if q.quantity == quantity]
        if not questions:
            continue
        lines += [f"## {heading}", "", "| asked | answer |", "| --- | --- |"]
        lines += [f"| {asked(q)} | {BLANK} |" for q in questions]
        lines.append("")
    lines += ["## Hand in", "", "One line per answer (a text file, or the `expect` list of a "
              "batch line):", "", "```"]
    lines += [f"{q.question}=" for q in variant.questions]
    lines += ["```", ""]
    return "\n".join(lines)


def _math(question: Question) -> str:
    if question.quantity == "value":
        return f"${latex_id(question.node)}$"
    if question.quantity == "adjoint":
        return f"${bar(question.node)}$"
    if question.quantity == "local":
        return (f"$\\partial {latex_id(question.of)} / \\partial "
                f"{latex_id(question.node)}$")
    output = question.question.split("/")[0][1:] or "\\mathrm{out}"
    if question.quantity == "gradient":
        return f"$\\partial {latex_id(output)} / \\partial {latex_id(question.node)}$"
    return f"$\\partial / \\partial {latex_id(question.node)}$ of the output (formula)"


def latex(assignment: Assignment, variant: Variant) -> str:
    """The worksheet as a complete LaTeX document (pdflatex)."""
    body = [f"\\section*{{{escape_text(assignment.title)}}}",
            f"Student: \\textbf{{{escape_text(variant.student)}}}\\par\\medskip",
            "Program:\\par"]
    body += [f"\\texttt{{{escape_text(line)}}}\\\\" for line in program_lines(assignment)]
    body += [f"\\medskip At: {escape_text(_point(variant))}\\par",
             f"{escape_text(rounding_rule(assignment))}\\par"]
    for quantity, heading in SECTIONS:
        questions = [q for q in variant.questions if q.quantity == quantity]
        if not questions:
            continue
        width = "8cm" if quantity == "formula" else "3cm"
        body += [f"\\subsection*{{{escape_text(heading)}}}",
                 "\\begin{tabular}{ll}"]
        body += [f"{_math(q)} & \\rule{{{width}}}{{0.4pt}} \\\\[6pt]" for q in questions]
        body.append("\\end{tabular}")
    body += ["\\subsection*{Hand in}",
             "One line per answer (a text file, or the expect list of a batch line):\\par",
             *(f"\\texttt{{{escape_text(q.question)}=}}\\\\" for q in variant.questions)]
    text = "\n".join(body)
    packages = ["\\usepackage{amsmath}"]
    if needs_t1(text):
        packages.insert(0, "\\usepackage[T1]{fontenc}")
    return "\n".join(["\\documentclass[11pt]{article}", *packages,
                      "\\usepackage[margin=2.5cm]{geometry}", "\\begin{document}", text,
                      "\\end{document}", ""])
