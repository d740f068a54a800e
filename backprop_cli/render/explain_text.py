"""Explanation → rich text for the terminal."""

from __future__ import annotations

import re

from rich.cells import cell_len, get_character_cell_size
from rich.console import Group
from rich.segment import Segment
from rich.text import Text

from ..explain import Explanation, ReverseStep
from ..printing import format_tree
from ..printing import number_in_formula as number_text
from .fast_text import FastText, Measured, line_width, plain, word_width
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
                         for step in explanation.reverse)
                 or f"  (no path from {explanation.wrt} to {explanation.output}: its adjoint "
                    "stays 0)\n")

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
    rules = ", ".join(f"∂{t.consumer}/∂{step.node} = {_rule(t.rule)}{t.argument(step.terms)}"
                      for t in step.terms)
    return (f"{bar(step.node)} = {symbols} = {numbers} = {fmt(step.adjoint, digits)}"
            f"   where {rules}")


def _heading(title: str) -> Text:
    return Text(title, style="bold")


def _rule(tree: tuple | None) -> str:
    return pretty(format_tree(tree)) if tree is not None else ""


def show(explanation: Explanation, view) -> Group | Steps:
    if not isinstance(explanation, Explanation):  # over arrays: the matrix form
        from .explain_arrays import text

        return Steps(text(explanation, view.digits))
    return Group(*map(Steps, _parts(explanation, view.digits)))


class Steps:
    """Lines of steps for the terminal: a line too long for the width goes on under itself,
    indented (`hanging`), rather than from the left edge; a styled line (a flagged status in
    yellow) keeps its styles. Text with a tab or a control code is drawn by rich."""

    def __init__(self, text: Text | str) -> None:
        self.text = text

    def __rich_console__(self, console, options):
        width = options.max_width
        text = self.text
        styled = isinstance(text, Text)
        whole = text.plain if styled else text
        if not plain(whole) or styled and text.style:
            yield from FastText(text).__rich_console__(console, options)
            return
        start = 0
        for line in whole.split("\n"):
            end = start + len(line)
            shown = text[start:end] if styled and any(
                span.start < end and span.end > start for span in text.spans) else None
            start = end + 1
            # rich trims the spaces a too long line ends in: such a line is left to it
            pieces = None if line[-1:].isspace() else hanging(line, width)
            if pieces is not None and shown is not None:
                pieces = _styled(pieces, line, shown)
            if pieces is None:
                yield from FastText(line if shown is None else shown).__rich_console__(
                    console, options)
            elif shown is not None:
                yield from pieces
            else:
                for piece in pieces:
                    yield Measured(piece)
                    yield Segment.line()


def _styled(pieces: list[str], line: str, shown: Text) -> list[Text] | None:
    """The pieces of a styled line as rich Texts with the line's styles: each piece, past its
    indent, is the next stretch of the line."""
    found = []
    at = 0
    for piece in pieces:
        content = piece.lstrip(" ")
        at = line.find(content, at)
        if at < 0:
            return None
        found.append(Text(piece[:len(piece) - len(content)]) + shown[at:at + len(content)])
        at += len(content)
    return found


_WHERE = "   where "
_RULE = re.compile(", (?=∂)")  # between two rules; a rule's own ", " (max(x, y)) is kept
_SPACE = re.compile("(?<=[^ ]) (?=[^ ])")


def hanging(line: str, width: int) -> list[str] | None:
    """A step's line in lines of at most `width` cells: as it is where it fits; else cut
    between words, each further line indented four more than the step, and a reverse step's
    rules (`where ∂a/∂b = ..., ...`) on lines of their own, cut between rules where they can
    be; a word wider than a line is folded. None where a character is wider than its line
    (rich then wraps the line as it would any text)."""
    if line_width(line) <= width:
        return [line]
    measure = word_width(line) or cell_len
    lead = len(line) - len(line.lstrip(" "))
    head, where, rules = line.partition(_WHERE)
    lines = _pack([[word] for word in _words(head[lead:])], width, " " * lead,
                  " " * (lead + 4), measure)
    if lines is not None and where:
        found = _RULE.split(rules)
        units = [_words(rule + ("," if k < len(found) - 1 else ""))
                 for k, rule in enumerate(found)]
        more = _pack(units, width, " " * (lead + 4) + "where ", " " * (lead + 10), measure)
        lines = None if more is None else lines + more
    return lines


def _words(text: str) -> list[str]:
    """The words of `text`, split at single spaces (`x  (input)` stays one word)."""
    return _SPACE.split(text)


def _pack(units: list[list[str]], width: int, first: str, further: str, measure
          ) -> list[str] | None:
    """Units of words into lines of at most `width` cells, the first line starting with
    `first` and the others with `further` (spaces and ASCII): a unit goes whole on the line,
    or whole on the next one, or else word by word, a word wider than a line folded. None
    where a character does not fit. A line's width is the sum of its words' (`measure`) and
    its spaces."""
    lines: list[str] = []
    current, used, empty = first, len(first), True
    for unit in units:
        sizes = list(map(measure, unit))
        size = sum(sizes) + len(unit) - 1
        if used + (not empty) + size > width and not empty and len(further) + size <= width:
            lines.append(current)
            current, used, empty = further, len(further), True
        if used + (not empty) + size <= width:
            current += ("" if empty else " ") + " ".join(unit)
            used, empty = used + (not empty) + size, False
            continue
        for word, size in zip(unit, sizes, strict=True):
            if used + (not empty) + size > width and not empty:
                lines.append(current)
                current, used, empty = further, len(further), True
            if used + size > width:  # wider than a line: folded, a mark kept with its letter
                chunks = _fold(word, width - used, width - len(further))
                if chunks is None:
                    return None
                for chunk in chunks[:-1]:
                    lines.append(current + chunk)
                    current, used = further, len(further)
                word, size = chunks[-1], cell_len(chunks[-1])
            current += ("" if empty else " ") + word
            used, empty = used + (not empty) + size, False
    lines.append(current)
    return lines


def _fold(word: str, room: int, rest: int) -> list[str] | None:
    """`word` in pieces of at most `room` cells, then `rest` cells each; None where a
    character is wider than its line."""
    chunks, chunk, used, limit = [], "", 0, room
    for character in word:
        size = get_character_cell_size(character)
        if size and used + size > limit and chunk:
            chunks.append(chunk)
            chunk, used, limit = "", 0, rest
        if used + size > limit:
            return None
        chunk, used = chunk + character, used + size
    chunks.append(chunk)
    chunks = [chunk.strip(" ") if k else chunk.rstrip(" ") for k, chunk in enumerate(chunks)]
    return [chunk for chunk in chunks[:-1] if chunk] + chunks[-1:]
