"""`backprop train`: gradient descent on a program's parameters."""

from __future__ import annotations

from .base import AT, DIGITS, FILE, FULL, Command, Option, Request, name_list, table_chosen

HELP = ("Gradient descent on the parameters of a program whose output is a loss: --steps 1 "
        "shows each parameter's old value, gradient, update and new value, and the loss before "
        "and after; a longer run draws the loss curve and gives the final parameters. "
        "Optimisers: sgd, momentum, adam. --save F.json writes the final values in the "
        "--values format. Exit codes: 0 success, 1 a step made the loss or a parameter not "
        "finite (the run so far is shown), 2 bad input.")


def call(request: Request):
    from ..training import optimizer, train

    options = request.options
    chosen = optimizer(options["optimizer"], options["lr"], momentum=options["momentum"],
                       beta1=options["beta1"], beta2=options["beta2"], eps=options["eps"])
    from .. import budget

    steps = options["steps"]
    params = name_list(options["params"], "--params")
    if options["save"] is not None:
        from ..output_file import folder_checked

        folder_checked(options["save"])  # before the run, which may take minutes
    deadline = budget.cooperative()
    if steps > 1 and request.terminal.err_is_tty:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        with Progress("training", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=request.terminal.console(stderr=True), transient=True) as bar:
            task = bar.add_task("training", total=steps)
            result = train(request.source(), request.point, params, chosen, steps,
                           request.data, on_step=lambda step: bar.update(task, completed=step),
                           deadline=deadline)
    else:
        result = train(request.source(), request.point, params, chosen, steps, request.data,
                       deadline=deadline)
    if options["save"] is not None:
        _save(result, options["save"])
    return result


def _ignored(request: Request) -> tuple[str, ...]:
    from ..training import ignored_settings

    options = request.options
    return ignored_settings(options["optimizer"], **{key: options[key] for key in
                                                     ("momentum", "beta1", "beta2", "eps")})


def _save(result, path: str) -> None:
    import json

    from ..output_file import writing

    text = json.dumps(result.values_file(), allow_nan=False) + "\n"
    with writing(path) as handle:
        handle.write(text)


def _stop_note(result, request: Request) -> tuple[str, ...]:
    """Where the run stopped, on standard error too, for output that goes to a file or a
    script; the table on a terminal already says it, above the warning it would repeat."""
    if not result.stopped or (table_chosen(request) and request.terminal.out_is_tty):
        return ()
    return (f"warning: stopped at {result.stopped}",)


SPEC = Command(
    name="train", help=HELP, usage="EXPR [--NAME VALUE ...] --lr RATE --steps N [OPTIONS]",
    options=(
        FILE, AT,
        Option("params", ("--params",), str, None,
               "The parameters to train (default: every variable not bound by --data).",
               metavar="NAME,..."),
        Option("optimizer", ("--optimizer",), str, "sgd", "sgd, momentum or adam."),
        Option("lr", ("--lr",), float, None,
               "Learning rate (default 0.01 for sgd and momentum, 0.001 for adam).",
               metavar="RATE"),
        Option("steps", ("--steps",), int, 1, "Number of steps.", min=1, max=1_000_000),
        Option("momentum", ("--momentum",), float, None, "momentum's μ (default 0.9).",
               metavar="MU"),
        Option("beta1", ("--beta1",), float, None, "adam's β1 (default 0.9)."),
        Option("beta2", ("--beta2",), float, None, "adam's β2 (default 0.999)."),
        Option("eps", ("--eps",), float, None, "adam's ε (default 1e-8)."),
        Option("save", ("--save",), str, None,
               "Write the final values to FILE.json (the --values format).",
               metavar="FILE.json"),
        DIGITS, FULL),
    call=call,
    renderers={"table": "backprop_cli.render.train_view:show",
               "json": "backprop_cli.render.json_format:show",
               "csv": "backprop_cli.render.train_view:show_csv"},
    default_format="table",
    failed=lambda result, request: result.stopped is not None,
    warnings=lambda result, request: result.warnings + _ignored(request),
    notes=_stop_note,
    used=lambda result: {*result.params, *(name for name, _ in result.fixed), *result.data},
)
