"""The Typer app: one command per spec in commands/, all run the same way by `execute`.

No math and no formatting here: a command's library call and its renderers are its spec's.
Heavy modules (rich, the engine, SymPy, NumPy) are imported when a command needs them, so
`--help` and a plain `grad` start quickly.
"""

from __future__ import annotations

import gc
import importlib
import inspect
import os
import sys
from enum import Enum
from typing import Any

import typer

from . import __version__
from .commands import COMMANDS, all_options
from .commands.base import Command, Option, Request, View
from .errors import (
    BackpropError,
    BudgetError,
    ExitCode,
    InputError,
    MissingValues,
    UsageError,
    as_error,
    exit_code,
)
from .terminal import Terminal, prepare_standard_streams

VARIABLE_OPTIONS = {"allow_extra_args": True, "ignore_unknown_options": True,
                    "help_option_names": ["-h", "--help"]}

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


# ----------------------------------------------------------------------------------------------
# Commands from their specs


def _formats(command: Command) -> type[Enum]:
    return Enum(f"{command.name.capitalize()}Format", {name: name for name in command.renderers},
                type=str)


def _parameter(option: Option, command: Command) -> inspect.Parameter:
    kind, default = option.kind, option.default
    if option.name == "output_format":
        kind = _formats(command)
        default = kind(option.default)
    extra = {key: value for key, value in (("metavar", option.metavar), ("min", option.min),
                                           ("max", option.max)) if value is not None}
    info = typer.Option(default, *option.flags, help=option.help, **extra)
    return inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=info,
                             annotation=kind)


class _ExpressionCommand(typer.core.TyperCommand):
    """A command whose arguments may start with '-' ('-x*y', '-h*x', a value -2): such a
    token is an argument, never a cluster of short options. Only a declared short option
    given alone ('-h', '-o') is one, and the value of a declared option stays its value."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        import click

        params = [p for p in self.get_params(ctx) if isinstance(p, click.Option)]
        names = {name for p in params for name in (*p.opts, *p.secondary_opts)}
        takes_value = {name for p in params if not p.is_flag for name in p.opts}
        shielded: dict[str, str] = {}
        given: list[str] = []
        for k, token in enumerate(args):
            if token == "--":
                given.extend(args[k:])
                break
            if (token[:1] == "-" and token[:2] != "--" and len(token) > 1
                    and token not in names and (not given or given[-1] not in takes_value)):
                key = f"\0{len(shielded)}"  # argv can never hold a NUL: no clash
                shielded[key] = token
                token = key
            given.append(token)
        rest = super().parse_args(ctx, given)
        ctx.args = [shielded.get(arg, arg) for arg in ctx.args]
        return [shielded.get(arg, arg) for arg in rest]


def _register(command: Command) -> None:
    """A Typer command whose parameters are the spec's declared options."""
    def run(ctx: typer.Context, **values: Any) -> None:
        execute(command, ctx, values)

    parameters = [_parameter(option, command) for option in all_options(command)]
    run.__signature__ = inspect.Signature(
        [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                           annotation=typer.Context), *parameters])
    run.__annotations__ = {"ctx": typer.Context,
                           **{p.name: p.annotation for p in parameters}}
    run.__doc__ = command.help
    app.command(name=command.name, help=command.help, context_settings=VARIABLE_OPTIONS,
                options_metavar=command.usage, cls=_ExpressionCommand)(run)


for _command in COMMANDS:
    _register(_command)


# ----------------------------------------------------------------------------------------------
# Running a command


# What the console script's command made, held until the process ends (see _end_process).
_kept: list | None = None


class OutputCut(Exception):
    """The reader of standard output went away (`| head`): what was written is incomplete."""


def execute(command: Command, ctx: typer.Context, values: dict[str, Any]) -> None:
    """Read the input, call the library, render, and leave with the exit code; all within the
    run's budget of time and memory."""
    terminal = ctx.obj if isinstance(ctx.obj, Terminal) else Terminal()
    chosen = values.get("output_format") or command.default_format
    output_format = "json" if values.get("json_output") else getattr(chosen, "value", chosen)
    from .budget import BudgetExceeded, enforced, from_options, reraise_ctrl_c

    error: BackpropError | None = None
    failed = False
    budget = None
    try:
        budget = from_options(values.get("time_limit"), values.get("memory_limit"))
        with enforced(budget):
            failed = _run(command, ctx, values, terminal, output_format)
            reraise_ctrl_c()
    except KeyboardInterrupt:  # Ctrl-C: what was printed stays; one line, no traceback
        _interrupted(terminal)
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except BrokenPipeError:
        raise OutputCut from None  # past click, which would make it a silent exit 1
    except (typer.Exit, SystemExit, OSError):
        raise  # output failures (a closed pipe, a full disk) are handled in main
    except (BudgetExceeded, MemoryError) as caught:
        error = BudgetError(budget.time_message() if isinstance(caught, BudgetExceeded)
                            else budget.memory_message())
        report(error, terminal, output_format == "json")
    except Exception as caught:  # every failure ends as one line, never a traceback
        error = as_error(caught)
        report(error, terminal, output_format == "json")
    raise typer.Exit(exit_code(error, failed))


def _run(command: Command, ctx: typer.Context, values: dict[str, Any], terminal: Terminal,
         output_format: str) -> bool | ExitCode:
    """The command itself; whether its outcome is a failure (exit code 1)."""
    from .commands.arguments import (
        expression_and_point,
        program_file_text,
        refuse_option_typos,
        replaced_arrays,
        values_from_files,
    )

    expression, point, named = expression_and_point(ctx.args, values.get("at") or [],
                                                    command.name)
    refuse_option_typos(point, named, command.name, used=None,
                        text=lambda: expression if expression is not None
                        else program_file_text(values.get("file")))
    from_files, data = values_from_files(values)
    request = Request(expression, values.get("file"), {**from_files, **point}, values, terminal,
                      command.name, named, data - frozenset(point))
    try:
        result = command.call(request)
    except MissingValues as missing:
        raise _taken_by_an_option(missing, command) from None
    if _kept is not None:
        _kept.append(result)
    used = command.used(result) if command.used is not None else None
    if used is not None:
        refuse_option_typos(point, named, command.name, used=used)
    # a value the program does not use replaces nothing: it is warned of as unused
    replaced = replaced_arrays(from_files, data, {name: value for name, value in point.items()
                                                  if used is None or name in used}) \
        if from_files else []
    to_file = values.get("output_file")  # `-o -` is standard output, as `--file -` reads it
    view = View(output_format, values.get("digits") or 6, terminal,
                None if to_file == "-" else to_file, bool(values.get("full")))
    _emit(_renderer(command, output_format)(result, view), view)
    if output_format != "json":
        _print_warnings(command.warnings(result, request), terminal)
    for note in [*(f"warning: {w}" for w in replaced), *command.notes(result, request)]:
        terminal.error(note)
    return command.failed(result, request)


def _taken_by_an_option(missing: MissingValues, command: Command) -> InputError:
    """A variable named as one of the command's own options (train's `lr`) cannot be given
    as --NAME VALUE: that sets the option. Say so, and how to give it."""
    from .commands import option_flags

    flags = option_flags(command)
    clash = next((name for name in missing.names if f"--{name}" in flags), None)
    if clash is None:
        return missing
    return InputError(f"missing value for variable {clash!r}: --{clash} is an option of backprop "
                      f"{command.name}, so a variable of that name is given as --at "
                      f"{clash}=VALUE")


def _renderer(command: Command, output_format: str):
    module, _, function = command.renderers[output_format].partition(":")
    return getattr(importlib.import_module(module), function)


def _emit(output, view: View) -> None:
    """A renderer's output on standard output or in the --output file: text, bytes (an
    image) or a rich renderable. None means the renderer wrote as it went."""
    if output is None:
        return
    terminal = view.terminal
    if view.output is None:
        if isinstance(output, bytes):
            terminal.write_bytes(output)
        elif isinstance(output, str):
            terminal.write(output.removesuffix("\n"))
        else:
            terminal.print(output)
        return
    from .output_file import writing

    with writing(view.output, binary=isinstance(output, bytes)) as handle:
        if isinstance(output, (bytes, str)):
            handle.write(output)
        else:
            from rich.console import Console

            terminal.print(output, Console(file=handle, width=100, color_system=None,
                                           markup=False, emoji=False))


def _print_warnings(warnings, terminal: Terminal) -> None:
    """Warnings go to standard error, one line each."""
    if warnings:
        from rich.text import Text

        from .errors import one_line

        text = Text()
        for line in warnings:
            text.append("warning: ", style="bold yellow").append(one_line(line) + "\n")
        terminal.console(stderr=True).print(text, end="", soft_wrap=True)


def report(error: BackpropError, terminal: Terminal, as_json: bool) -> None:
    """One line on standard error (and the JSON error document on standard output)."""
    from .errors import error_document

    if as_json:
        from .render.json_format import dumps

        terminal.write(dumps(error_document(error)))
    terminal.error(f"error: {error.message}")


# ----------------------------------------------------------------------------------------------
# The console script


_told_interrupted = False


def _interrupted(terminal: Terminal) -> None:
    """The one line a ctrl-C ends a command with."""
    global _told_interrupted
    from .budget import end_on_interrupt

    end_on_interrupt()
    if not _told_interrupted:
        _told_interrupted = True
        terminal.error("error: interrupted")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: usage errors become one line on stderr and exit code 2."""
    import click

    # One command builds millions of small acyclic objects for a large program; the cyclic
    # collector would only rescan them (about a fifth of the run). Reference counting still
    # frees them, except in the console script, whose process ends without (_end_process).
    global _kept, _told_interrupted
    gc.disable()
    _told_interrupted = False
    if argv is None:  # the console script: this process runs one command and ends
        from .budget import own_the_process

        own_the_process()
        _kept = []
    args = sys.argv[1:] if argv is None else argv
    prepare_standard_streams()
    terminal = Terminal()
    try:
        code = app(args=args, prog_name="backprop", standalone_mode=False, obj=terminal)
        sys.stdout.flush()
    except click.exceptions.UsageError as error:
        code = _usage_error(error, args, terminal)
    except click.exceptions.Abort as abort:
        interrupted = isinstance(abort.__context__, KeyboardInterrupt)
        code = ExitCode.INTERRUPTED if interrupted else ExitCode.BAD_INPUT
    except KeyboardInterrupt:
        code = ExitCode.INTERRUPTED
    except (BrokenPipeError, OutputCut, OSError) as error:
        code = _output_failed(error, terminal)
    if code == ExitCode.INTERRUPTED:  # typer ends a ctrl-C outside the command with 130 alone
        _interrupted(terminal)
    if argv is None:
        _end_process(code or 0, terminal)
    sys.exit(code or 0)


def _output_failed(error: Exception, terminal: Terminal) -> int:
    """One line for output that could not be written (a closed pipe, a full disk)."""
    _silence_stdout()
    if isinstance(error, (BrokenPipeError, OutputCut)):
        terminal.error("error: cannot write the output: the reader closed the pipe, so the "
                       "output is incomplete")
    else:
        terminal.error(f"error: cannot write the output: "
                       f"{getattr(error, 'strerror', None) or error}")
    return ExitCode.BAD_INPUT


def _end_process(code: int, terminal: Terminal) -> None:
    """End the console script's process without freeing its objects one by one: for a large
    program that is millions of objects (a tenth of the run), and the memory goes back to
    the system at once anyway. Before that, the atexit handlers run (through the atexit
    module's own runner, the one Python's exit calls) and the standard streams are flushed,
    output that cannot be written being reported as during the run. No command leaves a
    thread running for an exit to wait for."""
    import atexit

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as error:
        code = _output_failed(error, terminal)
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        code = code or ExitCode.BAD_INPUT
    os._exit(code)


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so the flush at exit cannot fail again (when even
    that cannot be done, the exit code still tells)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


def _sentences(text: str) -> list[str]:
    import re

    return [part for part in re.split(r"(?<=[.?!])\s+", " ".join(text.split())) if part]


def _wants_json(args: list[str]) -> bool:
    for k, arg in enumerate(args):
        if arg in ("--json", "--format=json") or (
                arg == "--format" and k + 1 < len(args) and args[k + 1] == "json"):
            return True
    return False


def _usage_error(error, args: list[str], terminal: Terminal) -> int:
    """One line on stderr for a click usage error (and the JSON error document if asked)."""
    sentences = list(dict.fromkeys(_sentences(error.format_message())))
    if any(part.startswith("Did you mean") for part in sentences):  # typer's and click's
        sentences = [part for part in sentences if not part.startswith("(Did you mean")]
    message = " ".join(sentences)
    if not message:  # no arguments at all: the help was printed
        terminal.error("error: give a command, e.g. backprop grad 'x*y + tanh(x)' --x 1 --y 2")
        return ExitCode.BAD_INPUT
    path = error.ctx.command_path if error.ctx is not None else "backprop"
    if path == "backprop" and args and args[0] in {spec.name for spec in COMMANDS}:
        path = f"backprop {args[0]}"  # an option's missing value is said in the app's context
    commands = {spec.name for spec in COMMANDS}
    command_at = next((k for k, arg in enumerate(args) if arg in commands), None)
    option = getattr(error, "option_name", None)
    option_at = next((k for k, arg in enumerate(args) if arg.partition("=")[0] == option), None)
    if path == "backprop" and command_at is not None and option_at is not None and \
            option != "--version" and command_at > option_at:
        message = (f"{option} comes before the command: options go after it, as in "
                   f"'backprop {args[command_at]} ... {option}'")
    usage = UsageError(f"{message} (see '{path} --help')")
    report(usage, terminal, _wants_json(args))
    return exit_code(usage)
