"""`backprop practice`: a problem in the terminal, its hidden numbers asked one at a time and
graded as `check` grades them."""

from __future__ import annotations

from ..errors import InputError
from .base import AT, FILE, Command, Option, Request, name_list

HELP = (
    "Practise backpropagation by hand: backprop practice \"z = w*x + b; a = tanh(z)\" --range "
    "w=-2:2 --x 1.5 --b 0.5 asks for each value and adjoint in turn, grades each answer as "
    "`check` does, names the mistake or gives a hint on a miss (? asks for one), shows the "
    "worked step after --tries misses, and ends with the score. Plain line input: it runs in a "
    "pipe too. --assignment hw3/assignment.json --student ID practises a generated assignment."
)

_PROBLEM_OPTIONS = ("range", "ask", "upstream", "decimals", "salt")


def call(request: Request):
    from ..teacher.practice import problem

    options = request.options
    if options["assignment"] is not None:
        assignment = _from_file(request)
    else:
        assignment = _from_template(request)
    if options["student"] is not None and not assignment.ranges:
        raise InputError("--student picks drawn numbers; give --range NAME=LOW:HIGH (or "
                         "--assignment FILE)")
    return problem(assignment, options["student"], options["tries"],
                   from_file=options["assignment"] is not None)


def _from_file(request: Request):
    from ..teacher.assignment import load
    from .arguments import read_text

    options = request.options
    given = [f"--{name}" for name in _PROBLEM_OPTIONS if options[name] not in (None, [])]
    if request.expression is not None or request.file is not None or request.point or given:
        what = ", ".join(given) or "a program or values"
        raise InputError(f"--assignment gives the problem; leave out {what}")
    path = options["assignment"]
    if path == "-":
        raise InputError("--assignment cannot be standard input: practice reads the answers "
                         "from it")
    return load(read_text(path), path)


def _from_template(request: Request):
    from ..api import value_of
    from ..graph import build_graph
    from ..parse import parse_program
    from ..teacher.assignment import DEFAULT_ASK, Assignment, parse_range
    from .arguments import refuse_option_typos

    options = request.options
    if request.file == "-":
        raise InputError("--file cannot be standard input: practice reads the answers from it; "
                         "give the program as EXPR or a file")
    if options["ask"] is not None and not name_list(options["ask"]):
        raise InputError("--ask names nothing; ask for some of values, adjoints, locals, "
                         "gradient, formula")
    ranges = tuple(parse_range(text) for text in options["range"])
    given = frozenset(request.point) | {r.name for r in ranges}
    program = build_graph(parse_program(request.source(), given=given))
    refuse_option_typos(request.point, request.named, "practice",
                        used=set(program.variable_names))
    fixed = tuple((name, value_of(name, value)) for name, value in request.point.items())
    upstream = 1.0 if options["upstream"] is None else options["upstream"]
    return Assignment(request.source(), ranges, fixed, options["salt"] or "practice",
                      tuple(name_list(options["ask"]) or DEFAULT_ASK), upstream,
                      2 if options["decimals"] is None else options["decimals"], "Practice")


SPEC = Command(
    name="practice", help=HELP,
    usage="[EXPR] [--range NAME=LOW:HIGH ...] [--NAME VALUE ...] [--assignment FILE "
          "--student ID] [OPTIONS]",
    options=(
        FILE,
        Option("range", ("--range",), list[str], [],
               "A parameter drawn afresh each time, e.g. w=-2:2 (without ranges the values "
               "given are the problem).", metavar="NAME=LOW:HIGH"),
        AT,
        Option("assignment", ("--assignment",), str, None,
               "Practise an assignment written by `generate` (with --student, that student's "
               "numbers).", metavar="FILE"),
        Option("student", ("--student",), str, None,
               "The numbers of this id (the same id and salt give the same numbers; without "
               "it, new numbers each time).", metavar="ID"),
        Option("salt", ("--salt",), str, None,
               "With --student, the assignment's name, as in generate (default practice).",
               metavar="TEXT"),
        Option("ask", ("--ask",), str, None,
               "What is asked: values, adjoints, locals, gradient, formula (default "
               "values,adjoints).", metavar="LIST"),
        Option("upstream", ("--upstream",), float, None,
               "The upstream gradient dL/d(output) the backward pass starts from (default 1)."),
        Option("decimals", ("--decimals",), int, None,
               "The rounding rule: N decimal places (default 2).", metavar="N", min=0, max=8),
        Option("tries", ("--tries",), int, 3,
               "Tries per number before the worked step is shown.", metavar="N", min=1,
               max=20),
    ),
    call=call,
    renderers={"table": "backprop_cli.render.practice_view:interactive",
               "json": "backprop_cli.render.practice_view:recorded"},
    default_format="table",
)
