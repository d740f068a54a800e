"""`backprop generate`: a variant of a problem for every student, with worksheets, an answer
key and a batch file for `check`."""

from __future__ import annotations

from dataclasses import replace

from ..errors import InputError
from .base import AT, FILE, Command, Option, Request, name_list

HELP = (
    "Make a variant of a problem for every student: backprop generate --file net.bp --range "
    "w=-2:2 --range x=0.5:3 --t 1 --students alice,bob --salt hw3 --out hw3/. Each student's "
    "numbers come from their id and the salt, so `check --assignment hw3/assignment.json` "
    "makes their key again from the id alone. Writes worksheets (Markdown and LaTeX), "
    "key.json and batch.jsonl (what `check --batch` grades)."
)


def call(request: Request):
    from ..api import value_of
    from ..commands.arguments import read_text, refuse_option_typos
    from ..graph import build_graph
    from ..parse import parse_program
    from ..teacher.assignment import DEFAULT_ASK, Assignment, parse_range
    from ..teacher.generate import generate, students_from

    options = request.options
    given = frozenset(request.point) | {text.partition("=")[0].strip()
                                        for text in options["range"]}
    parsed = parse_program(request.source(), given=given)
    program = build_graph(parsed)
    refuse_option_typos(request.point, request.named, "generate",
                        used=set(program.variable_names))
    if options["ask"] is not None and not name_list(options["ask"]):
        raise InputError("--ask names nothing; ask for some of values, adjoints, locals, "
                         "gradient, formula")
    ranges = tuple(parse_range(text) for text in options["range"])
    # values first: an array is refused for what it is before --salt is asked for
    fixed = tuple((name, value_of(name, value)) for name, value in request.point.items())
    if not options["salt"]:
        raise InputError("give --salt TEXT (the assignment's name, e.g. hw3-2026): the same "
                         "student gets a different problem in each assignment")
    ask = tuple(name_list(options["ask"]) or DEFAULT_ASK)
    assignment = Assignment(request.source(), ranges, fixed, options["salt"], ask,
                            options["upstream"], options["decimals"],
                            options["title"] or "Backpropagation by hand")
    roster = options["roster"]
    students = students_from(name_list(options["students"]),
                             read_text(roster) if roster is not None else None, roster or "",
                             options["count"])
    generated = generate(assignment, students)
    if options["out"] is not None:
        from ..render.assignment_files import write

        generated = write(generated, options["out"])
    # on standard error in every format: the key's JSON is the assignment's, without warnings
    cautions = tuple(f"warning: {caution}" for caution in parsed.cautions)
    return replace(generated, notes=cautions + generated.notes)


SPEC = Command(
    name="generate", help=HELP,
    usage="[EXPR] --range NAME=LOW:HIGH ... --salt TEXT (--students A,B | --roster FILE | "
          "--count N) [--out DIR] [OPTIONS]",
    options=(
        FILE,
        Option("range", ("--range",), list[str], [],
               "A parameter drawn per student, e.g. w=-2:2 (one decimal; -2.00:2.00 draws two).",
               metavar="NAME=LOW:HIGH"),
        AT,
        Option("salt", ("--salt",), str, None,
               "The assignment's name; with a student's id it decides their numbers.",
               metavar="TEXT"),
        Option("students", ("--students",), str, None, "Student ids, comma-separated.",
               metavar="A,B,..."),
        Option("roster", ("--roster",), str, None,
               "A roster: CSV with an id column (a Canvas export works), or one id per line.",
               metavar="FILE"),
        Option("count", ("--count",), int, None,
               "N students called student-1 ... student-N, numbers padded to N's width.",
               metavar="N"),
        Option("ask", ("--ask",), str, None,
               "What is asked: values, adjoints, locals, gradient, formula (default "
               "values,adjoints).", metavar="LIST"),
        Option("upstream", ("--upstream",), float, 1.0,
               "The upstream gradient dL/d(output) the backward pass starts from."),
        Option("decimals", ("--decimals",), int, 2, "The rounding rule: N decimal places.",
               metavar="N", min=0, max=8),
        Option("title", ("--title",), str, None, "The worksheets' title.", metavar="TEXT"),
        Option("out", ("--out", "-o"), str, None,
               "Write assignment.json, key.json, batch.jsonl and worksheets/ into DIR.",
               metavar="DIR"),
    ),
    call=call,
    renderers={"table": "backprop_cli.render.teacher_view:show_generated",
               "json": "backprop_cli.render.json_format:show"},
    default_format="table",
    notes=lambda result, request: result.notes,
)
