"""`backprop check`: grades homework answers, tables and batch files."""

from __future__ import annotations

from ..errors import ExitCode, InputError
from .arguments import read_text, require_finite
from .base import AT, DIGITS, FILE, Command, Option, Request

HELP = (
    "Check homework answers: derivative formulas, numbers, or a whole backprop table.\n\n"
    "Formulas: backprop check 'x^2*sin(x)' --wrt x --answer '2x sin(x) + x^2 cos(x)' "
    "(repeat --wrt/--answer for several partials). Numbers: backprop check PROGRAM --at "
    "x=1,y=2 --expect 'd/dx=2.42' --expect 'h1.adjoint=48' --expect 'h.value=12'. A table: "
    "--table answers.csv (columns node,value,adjoint). A class: --batch answers.jsonl.\n\n"
    "Exit codes: 0 all correct, 1 something incorrect or undetermined (or an error row), "
    "2 bad input, 3 a batch could not grade every line, 130 interrupted (Ctrl-C)."
)


def call(request: Request):
    from .. import grading
    from ..grading.lines import tolerance_problem

    options = request.options
    require_finite("--timeout", options["timeout"])
    for name in ("rtol", "atol"):
        if options[name] is not None:
            problem = tolerance_problem(name, options[name])
            if problem:
                raise InputError(f"--{name} {problem}, not {options[name]:g}")
    wrt, answer, expect = options["wrt"], options["answer"], options["expect"]
    _refuse_unused(options)
    assignment = _assignment(options)
    rubric = _rubric(options)
    if rubric is not None and rubric.nodes and assignment is not None:
        from ..teacher.assignment import program_graph

        rubric.check_nodes(program_graph(assignment).ids, options["rubric"])
    if options["autograder"] is not None:
        from ..teacher.autograde import autograde

        if request.expression is not None or request.file is not None or options["batch"]:
            raise InputError("--autograder reads the submission from the grader's folders; "
                             "give no EXPR, --file or --batch with it")
        return autograde(options["autograder"], assignment, rubric, options["autograder_root"],
                         options["timeout"])
    gradebooks = []
    if options["gradebook"]:
        from ..teacher.classroom import parse_gradebooks

        if options["batch"] is None:
            raise InputError("--gradebook writes a class's scores: use it with --batch")
        gradebooks = parse_gradebooks(options["gradebook"])
    if options["batch"] is not None:
        if request.expression is not None or request.file is not None or wrt or answer \
                or expect or options["table"]:
            raise InputError("--batch takes its problems from the file; give no EXPR, "
                             "--wrt, --answer, --expect or --table with it")
        from .. import budget

        path = options["batch"]
        batch = grading.batch_of(read_text(path), path, options["timeout"],
                                 rtol=options["rtol"], atol=options["atol"],
                                 line_tolerances=not options["no_line_tolerances"],
                                 decimals=options["decimals"], assignment=assignment)
        batch.deadline = budget.for_batch(len(batch))
        if rubric is not None or gradebooks or assignment is not None:
            from ..teacher.classroom import Classroom
            from ..teacher.rubric import DEFAULT

            roster = options["roster"]
            classroom = Classroom(rubric or DEFAULT, assignment, gradebooks,
                                  read_text(roster) if roster is not None else None,
                                  assignment.title if assignment else "Backpropagation",
                                  shown=rubric is not None or bool(gradebooks))
            batch.scored, batch.finished = classroom, classroom.finish
            batch.classroom = classroom
        return batch
    if options["no_line_tolerances"]:
        raise InputError("--no-line-tolerances is for --batch (it refuses lines that set "
                         "their own rtol, atol or timeout)")
    if options["student"] is not None:
        if assignment is None:
            raise InputError("--student needs --assignment FILE (the student's problem is "
                             "made from the assignment)")
        if request.expression is not None or request.file is not None or request.point:
            raise InputError("with --assignment and --student, the problem comes from the "
                             "assignment; give no EXPR, --file or values")
        from ..teacher.assignment import complete

        problem = complete({"id": options["student"]}, assignment)
        source, point = problem["expr"], problem["at"]
        seed, decimals = problem.get("upstream", 1.0), options["decimals"]
        if decimals is None:
            decimals = assignment.decimals
    elif assignment is not None:
        raise InputError("--assignment grades a --batch, or one --student's answers")
    else:
        source, point = request.source(), request.point
        seed, decimals = 1.0, options["decimals"]
        _refuse_option_typos(request, source)
    from ..grading.lines import formula_answer

    formulas = [f for f in map(formula_answer, expect) if f is not None]
    if formulas:  # a worksheet's hand-in line `formula d/dw = ...`
        expect = [text for text in expect if formula_answer(text) is None]
        wrt, answer = [*wrt, *(w for w, _ in formulas)], [*answer, *(a for _, a in formulas)]
    if answer and not wrt:
        raise InputError("--answer needs --wrt VAR (the variable of the derivative)")
    if len(wrt) != len(answer):
        raise InputError(f"{len(wrt)} --wrt but {len(answer)} --answer: give one --wrt "
                         "before each --answer")
    rows = ()
    if options["table"] is not None:
        rows = tuple(grading.read_table(read_text(options["table"]), options["table"]))
    job = grading.Job(source, tuple(zip(wrt, answer, strict=True)), tuple(point.items()),
                      tuple(expect), rows, options["rtol"], options["atol"],
                      decimals=decimals, symbolic_seconds=0.4 * options["timeout"],
                      exact=options["exact"], precision=options["precision"], seed=seed,
                      data=tuple(sorted(request.data)),
                      from_assignment=options["student"] is not None)
    if job.answers or job.exact:  # SymPy's work, in a checker process with its own limits
        report = grading.grade_bounded(job, options["timeout"])
    else:
        report = grading.grade_in_process(job, options["timeout"])
    from dataclasses import replace

    if answer:
        from ..parse import divided_then_multiplied

        report = replace(report, warnings=report.warnings + tuple(
            f"--answer {text!r}: {warning}" for text in answer
            for warning in divided_then_multiplied(text)))
    if rubric is None and assignment is None:
        return report

    from ..teacher.rubric import DEFAULT, score, with_unanswered

    questions = assignment.variant(options["student"]).questions if assignment else None
    scored = score(report.to_dict()["items"], rubric or DEFAULT, questions, options["student"])
    return replace(with_unanswered(report, scored),
                   score=scored if rubric is not None else None)


def _refuse_option_typos(request: Request, source: str) -> None:
    """`--decimal 2` for --decimals names no variable of the program: refused as grad refuses
    it, before it is graded without the rule it was meant to set. A program that does not
    parse is left to the grading, which says why."""
    from ..errors import BackpropError
    from ..graph import build_graph
    from ..parse import parse_program
    from .arguments import refuse_option_typos

    if not request.named:
        return
    try:
        graph = build_graph(parse_program(source, given=frozenset(request.point)))
    except BackpropError:
        return
    refuse_option_typos(request.point, request.named, "check",
                        used=set(graph.variable_names))


def _refuse_unused(options) -> None:
    """Options that would be silently ignored in this combination are refused instead."""
    given = [name for name in ("rtol", "atol") if options[name] is not None]
    if options["decimals"] is not None and given:
        raise InputError(f"--decimals and --{given[0]} both set how close a number must be: "
                         f"give one (--decimals N rounds to N places; --{given[0]} is a "
                         "tolerance)")
    if options["student"] is not None and options["batch"] is not None:
        raise InputError("--student grades one student; a --batch names its students by id")
    if options["autograder_root"] is not None and options["autograder"] is None:
        raise InputError("--autograder-root is for --autograder gradescope|prairielearn")
    if options["roster"] is not None and not any(
            spec.strip().lower().startswith("canvas") for spec in options["gradebook"]):
        raise InputError("--roster gives the Canvas gradebook its names: use it with "
                         "--gradebook canvas=FILE.csv")


def _assignment(options):
    if options["assignment"] is None:
        return None
    from ..teacher.assignment import load

    return load(read_text(options["assignment"]), options["assignment"])


def _rubric(options):
    if options["rubric"] is None:
        return None
    from ..teacher.rubric import load_rubric

    return load_rubric(read_text(options["rubric"]), options["rubric"])


def failed(result, request: Request) -> bool | ExitCode:
    from ..grading.report import CORRECT, Report

    if isinstance(result, Report):  # checked first: no batch or teacher module to import
        return result.verdict != CORRECT
    from ..grading import Batch

    if isinstance(result, Batch):
        if result.incomplete:
            return ExitCode.INCOMPLETE
        return not result.all_correct
    return False  # --autograder: the grade is in the results file; the grader ran as it should


def notes(result, request: Request) -> tuple[str, ...]:
    return result.notes() if hasattr(result, "notes") else ()


def warnings(result, request: Request) -> tuple[str, ...]:
    """A report's warnings (a table's ungraded nodes, ...) go to standard error, as every
    command's do, leaving the report alone on standard output."""
    report = getattr(result, "report", result)
    return tuple(getattr(report, "warnings", ()))


SPEC = Command(
    name="check", help=HELP, usage="[EXPR] [--NAME VALUE ...] [OPTIONS]",
    options=(
        FILE,
        Option("wrt", ("--wrt",), list[str], [],
               "Variable of the derivative answered by the next --answer.", metavar="VAR"),
        Option("answer", ("--answer",), list[str], [],
               "A student's formula for d(EXPR)/d(VAR).", metavar="FORMULA"),
        Option("expect", ("--expect",), list[str], [],
               "A claimed number: d/dx=2.42, h1.adjoint=48, h.value=12.", metavar="CLAIM"),
        Option("table", ("--table",), str, None,
               "A student's backprop table (CSV or JSON with node, value, adjoint).",
               metavar="FILE"),
        Option("batch", ("--batch",), str, None,
               "Grade one problem per line; one result per line.", metavar="FILE.jsonl"),
        Option("no_line_tolerances", ("--no-line-tolerances",), bool, False,
               "With --batch: refuse lines that set their own rtol, atol or timeout (an error "
               "row tolerance_forbidden), so students cannot widen their tolerances."),
        AT,
        Option("rtol", ("--rtol",), float, None,
               "Relative tolerance for numbers, below 1 (default: rounding to the decimals "
               "given).", min=0.0),
        Option("atol", ("--atol",), float, None, "Absolute tolerance for numbers.", min=0.0),
        Option("decimals", ("--decimals",), int, None,
               "Grade numbers at N decimal places (the homework's rule), not as written.",
               metavar="N", min=0, max=15),
        Option("timeout", ("--timeout",), float, 5.0, "Time limit per problem.",
               metavar="SECONDS", min=0.1, max=3600.0),  # = grading.lines.TIMEOUT_RANGE
        DIGITS,
        Option("exact", ("--exact",), bool, False,
               "Show the true values of claims in exact form (SymPy)."),
        Option("precision", ("--precision",), int, 15,
               "Significant digits of the exact values' decimals.", metavar="N", min=1,
               max=1000),
        Option("assignment", ("--assignment",), str, None,
               "An assignment from `generate`: each student's problem is made from their id "
               "(batch lines need only id and answers).", metavar="FILE"),
        Option("student", ("--student",), str, None,
               "With --assignment: grade this student's answers to their own problem.",
               metavar="ID"),
        Option("rubric", ("--rubric",), str, None,
               "Score with a rubric (TOML or JSON): points, partial credit, penalties.",
               metavar="FILE"),
        Option("gradebook", ("--gradebook",), list[str], [],
               "With --batch: write scores for a gradebook: canvas=FILE.csv, csv=FILE.csv "
               "(student_id,score,comments), gradescope=DIR or prairielearn=DIR (a "
               "results.json per student).", metavar="KIND=PATH"),
        Option("roster", ("--roster",), str, None,
               "A Canvas gradebook export: names, Canvas ids and sections for canvas=.",
               metavar="FILE"),
        Option("autograder", ("--autograder",), str, None,
               "Run as the grader inside gradescope or prairielearn: read the submission from "
               "their folders, write their results.json.", metavar="SYSTEM"),
        Option("autograder_root", ("--autograder-root",), str, None,
               "The grader's root folder (default /autograder for Gradescope, /grade for "
               "PrairieLearn).", metavar="DIR"),
    ),
    call=call,
    renderers={"table": "backprop_cli.render.report:show",
               "json": "backprop_cli.render.report:show_json"},
    default_format="table",
    failed=failed,
    notes=notes,
    warnings=warnings,
)
