"""A practice session in the terminal, one plain line at a time (so it runs in a pipe too):
the problem, a prompt per hidden number, the reply to each answer, and the score. With
`--json` the run's record goes to standard output, and the conversation to standard error when
that is a terminal."""

from __future__ import annotations

import io
import shlex
from typing import TextIO

from ..budget import waiting
from ..printing import format_number, number_in_formula
from ..teacher.practice import Problem, Reply, Session, Step
from .table import bar, pretty
from .worksheet import asked, program_lines, rounding_rule


def interactive(problem: Problem, view) -> None:
    """Practice with the conversation on standard output."""
    _converse(Session(problem), view.terminal, view.terminal.out)


def recorded(problem: Problem, view) -> str:
    """Practice with the record as JSON on standard output; the conversation goes to standard
    error when that is a terminal (a person is watching), else nowhere (a script)."""
    import os

    from .json_format import dumps

    session = Session(problem)
    terminal = view.terminal
    if terminal.err_is_tty:
        _converse(session, terminal, terminal.err)
    else:
        with open(os.devnull, "w", encoding="utf-8") as nowhere:
            _converse(session, terminal, nowhere)
    return dumps(session.to_dict())


def _converse(session: Session, terminal, out: TextIO) -> None:
    problem = session.problem

    def say(text: str = "", end: str = "\n") -> None:
        out.write(text + end)
        out.flush()

    if isinstance(terminal.stdin, io.TextIOWrapper):  # undecodable bytes: a line to refuse
        terminal.stdin.reconfigure(errors="replace")
    for line in _introduction(problem):
        say(line)
    total = len(session.records)
    while session.step is not None:
        step = session.step
        say(f"[{session.position + 1}/{total}] {asked(step.question)} = ", end="")
        with waiting():
            try:
                line = terminal.stdin.readline()
            except OSError:  # standard input closed (`<&-`): as at its end
                line = ""
        if not line:  # end of input: the rest stays unanswered
            say()
            break
        if not terminal.stdin_is_tty:
            say(line.rstrip("\r\n"))  # echoed, so a transcript reads as a conversation
        reply = session.respond(line)
        for text in _reply(reply, step, problem):
            say(f"  {text}")
        if reply.kind == "quit":
            break
    for line in _summary(session):
        say(line)


def _introduction(problem: Problem) -> list[str]:
    assignment, variant = problem.assignment, problem.variant
    lines = ["Practice: work each number out by hand, then type it.", ""]
    lines += [f"    {line}" for line in program_lines(assignment)]
    lines += ["", "At: " + ", ".join(f"{name} = {value:g}" for name, value in variant.at),
              rounding_rule(assignment),
              f"{problem.tries} {'try' if problem.tries == 1 else 'tries'} each; ? for a hint, "
              "skip to see the answer and go on, quit to stop."]
    lines += [f"Note: {kink}" for kink in problem.kinks]
    if problem.drawn:
        salt = "" if assignment.salt == "practice" or problem.from_file else \
            f" --salt {shlex.quote(assignment.salt)}"
        lines.append(f"(These numbers again: the same command with --student "
                     f"{shlex.quote(variant.student)}{salt})")
    return [*lines, ""]


def _reply(reply: Reply, step: Step, problem: Problem) -> list[str]:
    if reply.kind == "correct":
        return ["✓ right"]
    if reply.kind == "hint":
        return [f"hint: {_hint(step, problem)}"]
    if reply.kind == "unreadable":
        return [reply.reason or ""]
    if reply.kind == "quit":
        return []
    if reply.kind == "skipped":
        return [f"the answer: {_worked(step, problem)}"]
    why = f"not right: {reply.reason}" if reply.reason else "not right"
    if reply.kind == "incorrect":
        left = f"{reply.tries_left} {'try' if reply.tries_left == 1 else 'tries'} left"
        return [f"✗ {why}; {left} (? for a hint)"]
    lines = [f"✗ {why}"]
    if reply.misconception:
        lines.append(f"({reply.misconception['message']})")
    return [*lines, f"the answer: {_worked(step, problem)}"]


def _hint(step: Step, problem: Problem) -> str:
    q = step.question
    if q.quantity == "value":
        return f"{q.node} = {pretty(step.formula)}: put in the numbers you found before"
    if q.quantity == "local":
        return (f"differentiate {q.of} = {pretty(step.formula)} with respect to {q.node}, "
                "the other names held fixed")
    if q.quantity == "formula":
        return (f"write {problem.output} in the variables alone (put each step into the "
                f"next), then differentiate it with respect to {q.node}")
    if step.seed is not None:
        return "the backward pass starts at the output, with the upstream gradient"
    paths = " + ".join(f"{bar(t.consumer)}·∂{t.consumer}/∂{q.node}" for t in step.terms)
    lead = f"{q.question.replace('d', '∂', 1).replace('/d', '/∂', 1)} is {bar(q.node)}; " \
        if q.quantity == "gradient" else ""
    return (f"{lead}{bar(q.node)} = {paths}: for each step that uses {q.node}, its adjoint "
            f"times its derivative with respect to {q.node}, added up")


def _worked(step: Step, problem: Problem) -> str:
    q = step.question
    if isinstance(q.answer, str):
        return f"∂{problem.output}/∂{q.node} = {pretty(q.answer)}"
    rounded = _by_hand(q.answer, problem.assignment.decimals)
    exact = format_number(q.answer, 6)
    if q.quantity == "value":
        return f"{q.node} = {pretty(step.formula)} = {pretty(step.substituted)} = {exact} ≈ " \
               f"{rounded}"
    if q.quantity == "local":
        rule = f"{pretty(step.rule)} = " if step.rule and step.rule != exact else ""
        return f"∂{q.of}/∂{q.node} = {rule}{exact} ≈ {rounded}"
    if step.seed is not None:
        return f"{bar(q.node)} = the upstream gradient = {exact}"
    symbols = " + ".join(f"{bar(t.consumer)}·∂{t.consumer}/∂{q.node}" for t in step.terms)
    numbers = " + ".join(f"{number_in_formula(t.consumer_adjoint, 6)}·"
                         f"{number_in_formula(t.local, 6)}"
                         for t in step.terms)
    return f"{bar(q.node)} = {symbols} = {numbers} = {exact} ≈ {rounded}"


def _summary(session: Session) -> list[str]:
    review = [r.question.question for r in session.records
              if r.outcome not in ("first_try", "correct")]
    lines = ["", f"score: {session.score} / {len(session.records)} (first try: "
             f"{session.first_try})"]
    if review:
        shown = ", ".join(review[:8]) + (", ..." if len(review) > 8 else "")
        lines.append(f"to review: {shown}")
    return lines


def _by_hand(value: float, decimals: int) -> str:
    """The number rounded as a student rounds the digits they see, a half away from zero
    (0.125 to 0.13): a format string rounds the float's binary value half to even (0.12). The
    grader accepts either."""
    from decimal import ROUND_HALF_UP, Decimal

    return str(Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals),
                                             rounding=ROUND_HALF_UP))
