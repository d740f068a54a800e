"""The Typer app: options → library call → renderer → exit code. No math, no formatting here.

Variables arrive as free-form options (`--x 1`, `--x=1`, `--θ1 0.5`), so each command accepts
unknown options and reads them from the context. Heavy modules (rich, the engine, SymPy) are
imported inside the commands, so `--help` and a plain `grad` start quickly.
"""

from __future__ import annotations

import gc
import os
import sys
from enum import Enum

import typer

from . import __version__
from .errors import BackpropError, ExitCode, InputError
from .parse import is_number

MAX_EXPLAINED_NODES = 2_000
MAX_DRAWN_NODES = 2_000
VARIABLE_OPTIONS = {"allow_extra_args": True, "ignore_unknown_options": True,
                    "help_option_names": ["-h", "--help"]}


class Format(str, Enum):
    table = "table"
    json = "json"


app = typer.Typer(
    name="backprop",
    help="See, check and understand a gradient: forward values, local derivatives, "
         "adjoints and the gradient of an expression or a small program.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"backprop {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """See, check and understand a gradient."""


FILE_OPTION = typer.Option(None, "--file", metavar="PATH",
                           help="Read the program from PATH ('-' for standard input).")
AT_OPTION = typer.Option([], "--at", metavar="NAME=VALUE,...",
                         help="Variable values, e.g. --at x=1,y=2.")
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document.")
DIGITS_OPTION = typer.Option(6, "--digits", min=1, max=17, help="Significant digits.")


GRAD_HELP = (
    "Differentiate EXPR at a point given as --NAME VALUE options.\n\n"
    "EXPR is an expression such as 'x*y + tanh(x)', or a program of statements separated by "
    "';' or newlines: 'z = w*x + b; a = sigmoid(z); L = (a - t)**2'. Variables: --x 1 --y 2, "
    "--x=1, --x -2.5, --at x=1,y=2; a value may be a constant expression such as pi/4.\n\n"
    "Prints the forward value of every node, the local derivative on every edge, the "
    "accumulated adjoint of every node and the gradient. Exit codes: 0 success, 1 --check "
    "disagreement or --strict with a flagged node, 2 bad input."
)


@app.command(context_settings=VARIABLE_OPTIONS, help=GRAD_HELP,
             options_metavar="EXPR [--NAME VALUE ...] [OPTIONS]")
def grad(
    ctx: typer.Context,
    file: str = FILE_OPTION,
    at: list[str] = AT_OPTION,
    output_format: Format = typer.Option(Format.table, "--format", help="Output format."),
    json_output: bool = typer.Option(False, "--json", help="Shorthand for --format json."),
    digits: int = typer.Option(6, "--digits", min=1, max=17,
                               help="Significant digits in tables."),
    check: bool = typer.Option(False, "--check",
                               help="Compare the gradient with SymPy's symbolic derivative."),
    check_timeout: float = typer.Option(10.0, "--check-timeout", min=0.1, max=3600.0,
                                        metavar="SECONDS",
                                        help="Time limit for --check."),
    strict: bool = typer.Option(False, "--strict",
                                help="Exit 1 if any node is flagged (kink, domain error, "
                                     "overflow)."),
    exact: bool = typer.Option(False, "--exact",
                               help="Also compute every value and adjoint exactly with SymPy "
                                    "(1/3 stays 1/3, tanh(1) stays tanh(1))."),
    precision: int = typer.Option(15, "--precision", min=1, max=1000, metavar="N",
                                  help="Significant digits of the exact values' decimals."),
) -> None:
    """Differentiate an expression or program at a point (see GRAD_HELP)."""
    as_json = json_output or output_format is Format.json
    with _reporting(as_json):
        from . import api

        _require_finite("--check-timeout", check_timeout)
        expr, point = _expression_and_point(ctx.args, at, ctx.info_name)
        source = _read_source(expr, file)
        _refuse_option_typos(point, used=None)
        result = api.grad(source, point, check=check, check_timeout=check_timeout,
                          exact=exact, precision=precision)
        _refuse_option_typos(point, used={name for name, _ in result.gradient})
        if as_json:
            from .render import json_format

            _write(json_format.render(result))
        else:
            from .render import table

            _console().print(table.render(result, digits))
            if result.warnings:
                _console(stderr=True).print(table.render_warnings(result), end="")
        failed = result.check is not None and result.check.status == "failed"
        if failed or (strict and result.flagged):
            raise typer.Exit(ExitCode.CHECK_FAILED)


CHECK_HELP = (
    "Check homework answers: derivative formulas, numbers, or a whole backprop table.\n\n"
    "Formulas: backprop check 'x^2*sin(x)' --wrt x --answer '2x sin(x) + x^2 cos(x)' "
    "(repeat --wrt/--answer for several partials). Numbers: backprop check PROGRAM --at "
    "x=1,y=2 --expect 'd/dx=2.42' --expect 'h1.adjoint=48' --expect 'h.value=12'. A table: "
    "--table answers.csv (columns node,value,adjoint). A class: --batch answers.jsonl.\n\n"
    "Exit codes: 0 all correct, 1 something incorrect or undetermined, 2 bad input."
)


@app.command(context_settings=VARIABLE_OPTIONS, help=CHECK_HELP,
             options_metavar="[EXPR] [--NAME VALUE ...] [OPTIONS]")
def check(
    ctx: typer.Context,
    file: str = FILE_OPTION,
    wrt: list[str] = typer.Option([], "--wrt", metavar="VAR",
                                  help="Variable of the derivative answered by the next --answer."),
    answer: list[str] = typer.Option([], "--answer", metavar="FORMULA",
                                     help="A student's formula for d(EXPR)/d(VAR)."),
    expect: list[str] = typer.Option([], "--expect", metavar="CLAIM",
                                     help="A claimed number: d/dx=2.42, h1.adjoint=48, "
                                          "h.value=12."),
    table_file: str = typer.Option(None, "--table", metavar="FILE",
                                   help="A student's backprop table (CSV or JSON with node, "
                                        "value, adjoint)."),
    batch: str = typer.Option(None, "--batch", metavar="FILE.jsonl",
                              help="Grade one problem per line; one result per line."),
    at: list[str] = AT_OPTION,
    rtol: float = typer.Option(None, "--rtol", min=0.0,
                               help="Relative tolerance for numbers (default: rounding to the "
                                    "decimals given)."),
    atol: float = typer.Option(None, "--atol", min=0.0, help="Absolute tolerance for numbers."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, max=3600.0, metavar="SECONDS",
                                  help="Time limit per problem."),
    output_format: Format = typer.Option(Format.table, "--format", help="Output format."),
    json_output: bool = typer.Option(False, "--json", help="Shorthand for --format json."),
    digits: int = typer.Option(6, "--digits", min=1, max=17, help="Significant digits shown."),
    exact: bool = typer.Option(False, "--exact",
                               help="Show the true values of claims in exact form (SymPy)."),
    precision: int = typer.Option(15, "--precision", min=1, max=1000, metavar="N",
                                  help="Significant digits of the exact values' decimals."),
) -> None:
    """Check homework answers (see CHECK_HELP)."""
    as_json = json_output or output_format is Format.json
    with _reporting(as_json):
        from . import grading

        _require_finite("--timeout", timeout)
        for name, value in (("--rtol", rtol), ("--atol", atol)):
            if value is not None:
                _require_finite(name, value)
        expr, point = _expression_and_point(ctx.args, at, ctx.info_name)
        if batch is not None:
            if expr is not None or file is not None or wrt or answer or expect or table_file:
                raise InputError("--batch takes its problems from the file; give no EXPR, "
                                 "--wrt, --answer, --expect or --table with it")
            _run_batch(batch, timeout, as_json, digits)
            return
        source = _read_source(expr, file)
        if answer and not wrt:
            raise InputError("--answer needs --wrt VAR (the variable of the derivative)")
        if len(wrt) != len(answer):
            raise InputError(f"{len(wrt)} --wrt but {len(answer)} --answer: give one --wrt "
                             "before each --answer")
        rows = ()
        if table_file is not None:
            rows = tuple(grading.read_table(_read_text(table_file), table_file))
        job = grading.Job(source, tuple(zip(wrt, answer, strict=True)), tuple(point.items()),
                          tuple(expect), rows, rtol, atol, symbolic_seconds=0.4 * timeout,
                          exact=exact, precision=precision)
        report = _grade_bounded(job, timeout)
        if as_json:
            from .render import json_format

            _write(json_format.dumps(report.to_dict()))
        else:
            from .render import report as report_view

            _console().print(report_view.render(report, digits))
        if report.verdict != grading.CORRECT:
            raise typer.Exit(ExitCode.CHECK_FAILED)


def _grade_bounded(job, timeout: float):
    from .bounded import run_bounded
    from .grading import UNDETERMINED, Item, Report, grade

    _warm_sympy()
    outcome = run_bounded(grade, (job,), timeout)
    if outcome.ok:
        return outcome.value
    if outcome.code == "timeout":
        label = job.expr if len(job.expr) <= 60 else job.expr[:57] + "..."
        return Report((Item("problem", label, UNDETERMINED,
                            reason=f"checking {outcome.reason}"),))
    raise BackpropError(outcome.reason or "checking failed", code=outcome.code)


def _warm_sympy() -> None:
    """Load SymPy and the parts of it a check touches once here, before forking, so that
    checker processes do not each pay for the imports and first-use setup."""
    from .grading import check_derivative

    check_derivative("x**2*sin(x)", "x", "2x sin(x) + x^2 cos(x)")


def _run_batch(path: str, timeout: float, as_json: bool, digits: int) -> None:
    from .bounded import run_many
    from .grading import CORRECT, grade_line

    lines = [(number, line) for number, line in enumerate(_read_text(path).splitlines(), 1)
             if line.strip()]
    if not lines:
        raise InputError(f"{path} has no problems (one JSON object per line)")
    _warm_sympy()
    workers = max(1, min(len(lines), os.cpu_count() or 1))
    outcomes = run_many(grade_line, [(line, number, timeout) for number, line in lines], timeout,
                        workers)
    rows = []
    with _progress(len(lines)) as advance:
        for (number, line), outcome in zip(lines, outcomes, strict=True):
            row = outcome.value if outcome.ok else _error_row(line, number, outcome)
            rows.append(row)
            if as_json:
                _write(_json_line(row))
            advance()
    if not as_json:
        from .render import report as report_view

        _console().print(report_view.render_batch(rows, digits))
    if any(row["verdict"] != CORRECT for row in rows):
        raise typer.Exit(ExitCode.CHECK_FAILED)


def _error_row(line: str, number: int, outcome) -> dict:
    import json

    try:
        item_id = json.loads(line).get("id", number)
    except (json.JSONDecodeError, AttributeError):
        item_id = number
    if item_id is None:
        item_id = number
    return {"id": item_id, "verdict": "error",
            "error": {"code": outcome.code or "error", "message": outcome.reason or "failed"}}


def _json_line(row: dict) -> str:
    from .render import json_format

    return json_format.dumps(row)


class _progress:
    """A progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.progress = None

    def __enter__(self):
        if not sys.stderr.isatty():
            return lambda: None
        from rich.console import Console
        from rich.progress import Progress

        self.progress = Progress(console=Console(stderr=True), transient=True)
        self.progress.start()
        task = self.progress.add_task("grading", total=self.total)
        return lambda: self.progress.advance(task)

    def __exit__(self, *exc) -> bool:
        if self.progress is not None:
            self.progress.stop()
        return False


def _read_text(path: str) -> str:
    return _read_source(None, path)


class ExplainFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    latex = "latex"


@app.command(context_settings=VARIABLE_OPTIONS,
             help="Explain the chain rule step by step: the evaluation trace, the forward sweep "
                  "with numbers, every adjoint written out as a sum over its consumers, and the "
                  "gradient. --format markdown or latex gives text to paste into notes.",
             options_metavar="EXPR [--NAME VALUE ...] [OPTIONS]")
def explain(
    ctx: typer.Context,
    file: str = FILE_OPTION,
    at: list[str] = AT_OPTION,
    output_format: ExplainFormat = typer.Option(ExplainFormat.text, "--format",
                                                help="Output format."),
    wrt: str = typer.Option(None, "--wrt", metavar="VAR",
                            help="Show only the reverse-sweep steps on paths to VAR."),
    digits: int = DIGITS_OPTION,
) -> None:
    """Explain the chain rule step by step."""
    with _reporting(False):
        from . import api
        from .explain import explain as build_explanation

        source, point = _source_and_point(ctx, file, at)
        result = api.grad(source, point)
        _refuse_option_typos(point, used={name for name, _ in result.gradient})
        if len(result.nodes) > MAX_EXPLAINED_NODES:
            raise InputError(f"explain writes out every step for programs of up to "
                             f"{MAX_EXPLAINED_NODES:,} nodes (this one has "
                             f"{len(result.nodes):,}); use grad --json for large programs")
        explanation = build_explanation(result, wrt, digits)
        if output_format is ExplainFormat.text:
            from .render import explain_text

            _console().print(explain_text.render(explanation, digits))
        elif output_format is ExplainFormat.markdown:
            from .render import explain_markdown

            _write(explain_markdown.render(explanation, digits).rstrip("\n"))
        else:
            from .render import explain_latex

            _write(explain_latex.render(explanation, digits).rstrip("\n"))
        if result.warnings:
            from .render import table

            _console(stderr=True).print(table.render_warnings(result), end="")


class GraphFormat(str, Enum):
    ascii = "ascii"
    dot = "dot"
    mermaid = "mermaid"
    svg = "svg"
    png = "png"


@app.command(name="graph", context_settings=VARIABLE_OPTIONS,
             help="Draw the computation graph: each node with its op (and, given a point, its "
                  "value and adjoint), each edge with its local derivative. ascii draws in the "
                  "terminal; dot and mermaid print text for Graphviz and Mermaid; svg and png "
                  "run Graphviz.",
             options_metavar="EXPR [--NAME VALUE ...] [OPTIONS]")
def graph_command(
    ctx: typer.Context,
    file: str = FILE_OPTION,
    at: list[str] = typer.Option([], "--at", metavar="NAME=VALUE,...",
                                 help="Variable values, e.g. --at x=1,y=2 (optional)."),
    output_format: GraphFormat = typer.Option(GraphFormat.ascii, "--format",
                                              help="Output format."),
    output: str = typer.Option(None, "--output", "-o", metavar="FILE",
                               help="Write to FILE instead of standard output."),
    digits: int = DIGITS_OPTION,
) -> None:
    """Draw the computation graph."""
    with _reporting(False):
        from . import api

        source, point = _source_and_point(ctx, file, at)
        result = api.grad(source, point) if point else api.structure(source)
        _refuse_option_typos(point, used={name for name, _ in result.gradient})
        _print_warnings(result.warnings)
        if output_format is GraphFormat.ascii:
            from .render import graph_ascii

            if len(result.nodes) > MAX_DRAWN_NODES:
                raise InputError(f"the terminal drawing is for graphs of up to "
                                 f"{MAX_DRAWN_NODES:,} nodes (this one has "
                                 f"{len(result.nodes):,}); use --format dot or mermaid")
            if output is None:
                _console().print(graph_ascii.render(result, digits))
                return
            from rich.console import Console

            with open(output, "w", encoding="utf-8") as handle:
                Console(file=handle, width=100, color_system=None).print(
                    graph_ascii.render(result, digits))
            return
        if output_format is GraphFormat.mermaid:
            from .render import graph_mermaid

            _emit(graph_mermaid.render(result, digits).encode(), output)
            return
        from .render import graph_dot

        text = graph_dot.render(result, digits)
        if output_format is GraphFormat.dot:
            _emit(text.encode(), output)
            return
        image = graph_dot.to_image(text, output_format.value)
        if output is None and output_format is GraphFormat.png and sys.stdout.isatty():
            raise InputError("a PNG is binary: give -o FILE (or pipe the output to a file)")
        _emit(image, output)


def _emit(data: bytes, output: str | None) -> None:
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        return
    try:
        with open(output, "wb") as handle:
            handle.write(data)
    except OSError as error:
        raise InputError(f"cannot write {output}: {error.strerror}") from None


def _source_and_point(ctx: typer.Context, file: str | None, at: list[str]):
    expr, point = _expression_and_point(ctx.args, at, ctx.info_name)
    source = _read_source(expr, file)
    _refuse_option_typos(point, used=None)
    return source, point


def _show(document: dict | None, renderable, as_json: bool,
          warnings: tuple[str, ...] = ()) -> None:
    if as_json:
        from .render import json_format

        _write(json_format.dumps(document))
        return
    _console().print(renderable)
    _print_warnings(warnings)


def _print_warnings(warnings) -> None:
    """Warnings go to standard error, one line each."""
    if warnings:
        from rich.text import Text

        text = Text()
        for line in warnings:
            text.append("warning: ", style="bold yellow").append(line + "\n")
        _console(stderr=True).print(text, end="")


def _show_matrix(result, point: dict, json_output: bool, digits: int) -> None:
    """A Hessian or Jacobian: option typos refused, then the matrix and its warnings."""
    from .render import modes_view

    _refuse_option_typos(point, used=set(result.columns))
    _show(result.to_dict(), modes_view.render_matrix(result, digits), json_output,
          result.warnings + _unused(point, result.columns))


def _unused(point: dict, used: set[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"variable {name!r} was given a value but is not used; it is ignored"
                 for name in point if name not in used)


@app.command(name="forward", context_settings=VARIABLE_OPTIONS,
             help="Forward-mode differentiation: every node's value and tangent d node / d VAR "
                  "in evaluation order, the derivative, and what forward and reverse mode cost "
                  "on this program. --direction x=1,y=0.5 gives a directional derivative (JVP).",
             options_metavar="EXPR [--NAME VALUE ...] [OPTIONS]")
def forward_command(
    ctx: typer.Context,
    file: str = FILE_OPTION,
    at: list[str] = AT_OPTION,
    wrt: str = typer.Option(None, "--wrt", metavar="VAR", help="The variable to differentiate "
                                                                "by (optional for one variable)."),
    direction: str = typer.Option(None, "--direction", metavar="NAME=VALUE,...",
                                  help="A direction for a directional derivative."),
    json_output: bool = JSON_OPTION,
    digits: int = DIGITS_OPTION,
) -> None:
    """Forward-mode differentiation."""
    with _reporting(json_output):
        from .api import value_of

        source, point = _source_and_point(ctx, file, at)
        vector = None
        if direction is not None:
            if wrt is not None:
                raise InputError("give --wrt or --direction, not both")
            vector = {}
            for item in _split_top_level(direction):
                name, equals, value = item.partition("=")
                if not equals or not name.strip():
                    raise InputError(f"--direction expects NAME=VALUE pairs, got {item!r}")
                vector[name.strip()] = value_of(name.strip(), value.strip())
        result = _forward_mode(source, point, wrt, vector)
        from .render import modes_view

        used = {name for name, _ in result.at}
        _refuse_option_typos(point, used=used)
        _show(result.to_dict(), modes_view.render_forward(result, digits), json_output,
              result.warnings + _unused(point, used))


@app.command(context_settings=VARIABLE_OPTIONS,
             help="The Hessian matrix of second derivatives, computed on the engine by "
                  "reverse-over-reverse differentiation (exact, no finite differences).",
             options_metavar="EXPR [--NAME VALUE ...] [OPTIONS]")
def hessian(
    ctx: typer.Context,
    file: str = FILE_OPTION,
    at: list[str] = AT_OPTION,
    json_output: bool = JSON_OPTION,
    digits: int = DIGITS_OPTION,
) -> None:
    """The Hessian matrix."""
    with _reporting(json_output):

        source, point = _source_and_point(ctx, file, at)
        _show_matrix(_hessian(source, point), point, json_output, digits)


@app.command(context_settings=VARIABLE_OPTIONS,
             help="The Jacobian of several outputs (--output a,b: statement names; default the "
                  "last statement), one reverse sweep per output.",
             options_metavar="EXPR [--NAME VALUE ...] [OPTIONS]")
def jacobian(
    ctx: typer.Context,
    file: str = FILE_OPTION,
    at: list[str] = AT_OPTION,
    output: str = typer.Option(None, "--output", metavar="A,B,...",
                               help="The outputs (statement names)."),
    json_output: bool = JSON_OPTION,
    digits: int = DIGITS_OPTION,
) -> None:
    """The Jacobian matrix."""
    with _reporting(json_output):

        source, point = _source_and_point(ctx, file, at)
        outputs = [name.strip() for name in output.split(",") if name.strip()] if output else None
        _show_matrix(_jacobian(source, point, outputs), point, json_output, digits)


class SweepFormat(str, Enum):
    plot = "plot"
    json = "json"
    csv = "csv"


@app.command(name="sweep", context_settings=VARIABLE_OPTIONS,
             help="The output and its derivative over a range of one variable (--x -3:3), "
                  "drawn in the terminal, or as JSON or CSV. Undefined points are gaps.",
             options_metavar="EXPR --VAR START:STOP [--NAME VALUE ...] [OPTIONS]")
def sweep_command(
    ctx: typer.Context,
    file: str = FILE_OPTION,
    at: list[str] = AT_OPTION,
    points: int = typer.Option(200, "--points", min=2, help="Number of points."),
    output_format: SweepFormat = typer.Option(SweepFormat.plot, "--format",
                                              help="Output format."),
    json_output: bool = typer.Option(False, "--json", help="Shorthand for --format json."),
) -> None:
    """Sweep one variable over a range."""
    as_json = json_output or output_format is SweepFormat.json
    with _reporting(as_json):

        source, point = _source_and_point(ctx, file, at)
        ranges = {name: value for name, value in point.items() if ":" in value}
        if len(ranges) != 1:
            raise InputError("give exactly one variable a range START:STOP, e.g. --x -3:3 "
                             f"(got {len(ranges)})")
        variable, text = next(iter(ranges.items()))
        start, stop = _range(variable, text)
        fixed = {name: value for name, value in point.items() if name != variable}
        result = _sweep(source, fixed, variable, start, stop, points)
        if as_json:
            from .render import json_format

            _write(json_format.dumps(result.to_dict()))
        elif output_format is SweepFormat.csv:
            from .render import modes_view

            _write(modes_view.render_csv(result))
        else:
            from .render import plot

            console = _console()
            _write(plot.render(result, min(console.width, 100), 24,
                               color=console.is_terminal and not os.environ.get("NO_COLOR")))


def _forward_mode(*args):
    from .forward_mode import forward_mode

    return forward_mode(*args)


def _hessian(*args):
    from .matrices import hessian

    return hessian(*args)


def _jacobian(*args):
    from .matrices import jacobian

    return jacobian(*args)


def _sweep(*args):
    from .sweep import sweep

    return sweep(*args)


def _range(variable: str, text: str) -> tuple[float, float]:
    from .api import value_of

    low, _, high = text.partition(":")
    if not low.strip() or not high.strip():
        raise InputError(f"--{variable} {text!r}: a range is START:STOP, e.g. -3:3")
    return value_of(variable, low), value_of(variable, high)


class _reporting:
    """Turn BackpropError (and anything unexpected) into one line on stderr and exit 2."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if error is None or isinstance(error, (typer.Exit, SystemExit, KeyboardInterrupt,
                                               OSError)):
            return False  # output failures (a closed pipe, a full disk) are handled in main
        if not isinstance(error, BackpropError):
            if isinstance(error, (RecursionError, MemoryError)):
                error = BackpropError("input is too large or too deeply nested")
            else:
                error = BackpropError(f"internal error ({type(error).__name__}: {error}); "
                                      "please report it", code="internal_error")
        fail(error, self.as_json)
        return False


def fail(error: BackpropError, as_json: bool) -> None:
    """Report an error: one line on stderr (and a JSON document on stdout), then exit 2."""
    if as_json:
        from .render import json_format

        _write(json_format.render_error(error))
    print(f"error: {error.message}", file=sys.stderr)
    raise typer.Exit(ExitCode.BAD_INPUT)


def _read_source(expr: str | None, file: str | None) -> str:
    if file is not None and file.startswith("--"):
        raise InputError(f"--file needs a PATH (got the option {file})")
    if expr is not None and file is not None:
        raise InputError("give either EXPR or --file, not both")
    if file is None:
        if expr is None:
            raise InputError("no expression: give EXPR (e.g. 'x*y + tanh(x)') or --file PATH")
        return expr
    from .parse import MAX_PROGRAM_CHARS

    try:
        if file == "-":
            data = sys.stdin.buffer.read(4 * MAX_PROGRAM_CHARS + 1)
            name = "standard input"
        else:
            with open(file, "rb") as handle:
                data = handle.read(4 * MAX_PROGRAM_CHARS + 1)
            name = file
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"file not found: {file}") from None
    except IsADirectoryError:
        raise InputError(f"{file} is a directory, not a program file") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{name} is not UTF-8 text (byte {error.start + 1} cannot be read)"
                         ) from None
    except OSError as error:
        raise InputError(f"cannot read {file}: {error.strerror}") from None
    return text.removeprefix("\ufeff")  # a byte-order mark some editors write first


def _expression_and_point(args: list[str], at: list[str], command: str | None = None
                          ) -> tuple[str | None, dict[str, str]]:
    """The expression (the one bare argument) and the variable values from `--name VALUE`,
    `--name=VALUE` and `--at a=1,b=2`, in any order."""
    point: dict[str, str] = {}
    expr = None

    def put(name: str, value: str) -> None:
        if not name or not name.isidentifier():
            raise InputError(f"--{name}: not an option of this command nor a variable "
                             f"name{option_hint(name)}")
        check_name(name)
        if name in point:
            raise InputError(f"variable {name!r} is given twice")
        point[name] = value

    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--") or token == "--":
            if token == "--":
                i += 1
                continue
            if expr is not None:
                raise InputError(
                    f"unexpected argument {token!r}: give one expression (quote it) and "
                    "variables as --name VALUE"
                )
            expr = token
            i += 1
            continue
        name, equals, value = token[2:].partition("=")
        if not equals:
            following = args[i + 1] if i + 1 < len(args) else None
            if following is None or (following.startswith("--") and len(following) > 2
                                     and not is_number(following)):
                elsewhere = [c for c, options in _COMMAND_OPTIONS.items()
                             if f"--{name}" in options]
                if command is not None and elsewhere:
                    raise InputError(f"--{name} is not an option of backprop {command} (it is "
                                     f"one of backprop {', '.join(elsewhere)})")
                raise InputError(f"--{name} needs a value (variables are given as --{name} "
                                 f"VALUE){option_hint(name)}")
            value = following
            i += 1
        put(name, value)
        i += 1
    for group in at:
        for item in _split_top_level(group):
            name, equals, value = item.partition("=")
            if not equals or not name.strip():
                raise InputError(f"--at expects NAME=VALUE pairs, got {item!r}")
            put(name.strip(), value.strip())
    return expr, point


def _require_finite(option: str, value: float) -> None:
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{option} must be a finite number, not {value}")


def _refuse_option_typos(point: dict[str, str], used: set[str] | None) -> None:
    """A value for a name that looks like a misspelt option is refused when the value is not a
    number (before running) or the program does not use the name (after running)."""
    for name, value in point.items():
        hint = option_hint(name)
        if not hint:
            continue
        if (used is None and not is_number(value)) or (used is not None and name not in used):
            raise InputError(f"unknown option --{name}{hint}")


def check_name(name: str) -> None:
    """Variable names given as options obey the same look-alike rules as the program."""
    from .errors import ParseError
    from .parse import check_name as check_program_name

    try:
        check_program_name(name)
    except ParseError as error:
        raise InputError(f"variable --{name}: {error.message}") from None


def option_hint(name: str) -> str:
    """' (did you mean --json?)' when an unknown option looks like a typo of a real one."""
    import difflib

    options = [option.lstrip("-") for command in _COMMAND_OPTIONS.values() for option in command]
    if name in options:
        return ""  # the name of a real option, given as a variable through --at
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.75)
    return f" (did you mean --{close[0]}?)" if close else ""


_COMMAND_OPTIONS = {
    "grad": ("--file", "--at", "--format", "--json", "--digits", "--check", "--check-timeout",
             "--strict", "--exact", "--precision"),
    "explain": ("--file", "--at", "--format", "--wrt", "--digits"),
    "forward": ("--file", "--at", "--wrt", "--direction", "--json", "--digits"),
    "hessian": ("--file", "--at", "--json", "--digits"),
    "jacobian": ("--file", "--at", "--output", "--json", "--digits"),
    "sweep": ("--file", "--at", "--points", "--format", "--json"),
    "graph": ("--file", "--at", "--format", "--output", "--digits"),
    "check": ("--file", "--wrt", "--answer", "--expect", "--table", "--batch", "--at", "--rtol",
              "--atol", "--timeout", "--format", "--json", "--digits", "--exact", "--precision"),
}


def _split_top_level(text: str) -> list[str]:
    """Split `x=1,y=max(1,2)` on commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [part for part in (p.strip() for p in parts) if part]


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, stderr=stderr)


def _write(text: str) -> None:
    sys.stdout.write(text + "\n")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: usage errors become one line on stderr and exit code 2."""
    import click

    # One command builds millions of small acyclic objects for a large program; the cyclic
    # collector would only rescan them (about a fifth of the run). Reference counting still
    # frees everything, and the process ends when the command does.
    gc.disable()
    args = sys.argv[1:] if argv is None else argv
    try:
        code = app(args=args, prog_name="backprop", standalone_mode=False)
        sys.stdout.flush()
    except click.exceptions.UsageError as error:
        code = _usage_error(error, args)
    except click.exceptions.Abort:
        code = ExitCode.BAD_INPUT
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = ExitCode.OK
    except OSError as error:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"error: cannot write the output: {error.strerror or error}", file=sys.stderr)
        code = ExitCode.BAD_INPUT
    sys.exit(code or 0)


def _sentences(text: str) -> list[str]:
    import re

    return [part for part in re.split(r"(?<=[.?!])\s+", " ".join(text.split())) if part]


def _wants_json(args: list[str]) -> bool:
    for k, arg in enumerate(args):
        if arg in ("--json", "--format=json") or (
                arg == "--format" and k + 1 < len(args) and args[k + 1] == "json"):
            return True
    return False


def _usage_error(error, args: list[str]) -> int:
    """One line on stderr for a click usage error (and the JSON error document if asked)."""
    message = " ".join(dict.fromkeys(_sentences(error.format_message())))
    if not message:  # no arguments at all: the help was printed
        print("error: give a command, e.g. backprop grad 'x*y + tanh(x)' --x 1 --y 2",
              file=sys.stderr)
        return ExitCode.BAD_INPUT
    if _wants_json(args):
        from .render import json_format

        _write(json_format.render_error(BackpropError(message, code="usage_error")))
    path = error.ctx.command_path if error.ctx is not None else "backprop"
    print(f"error: {message} (see '{path} --help')", file=sys.stderr)
    return ExitCode.BAD_INPUT
