"""The commands, each a small spec (base.Command): its options, its library call, its
renderers per format. cli.py turns each into a Typer command and runs them all one way."""

from __future__ import annotations

from .base import DATA, JSON, MEMORY_LIMIT, TIME_LIMIT, VALUES, Command, Option
from .check import SPEC as CHECK
from .explain import SPEC as EXPLAIN
from .fd import SPEC as FD
from .forward import SPEC as FORWARD
from .generate import SPEC as GENERATE
from .grad import SPEC as GRAD
from .graph import SPEC as GRAPH
from .hessian import SPEC as HESSIAN
from .jacobian import SPEC as JACOBIAN
from .practice import SPEC as PRACTICE
from .sweep import SPEC as SWEEP
from .train import SPEC as TRAIN

COMMANDS: tuple[Command, ...] = (GRAD, CHECK, EXPLAIN, GRAPH, FORWARD, HESSIAN, JACOBIAN, SWEEP,
                                 FD, TRAIN, GENERATE, PRACTICE)


def format_option(command: Command) -> Option:
    return Option("output_format", ("--format",), str, command.default_format,
                  f"Output format: {', '.join(command.renderers)}.")


def all_options(command: Command) -> tuple[Option, ...]:
    """The command's own options, --values and --data beside --at, --format (and --json)
    from its renderers, and the run's budget."""
    extra = [VALUES, DATA] if any(option.name == "at" for option in command.options) else []
    if len(command.renderers) > 1:
        extra.append(format_option(command))
    if "json" in command.renderers:
        extra.append(JSON)
    return (*command.options, *extra, TIME_LIMIT, MEMORY_LIMIT)


def option_flags(command: Command) -> tuple[str, ...]:
    return tuple(flag for option in all_options(command) for flag in option.flags
                 if flag.startswith("--"))
