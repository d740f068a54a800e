"""The teacher's commands in the terminal: the variants `generate` made, and scores."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..teacher.generate import Generated
from .report import literal


def show_generated(generated: Generated, view) -> Group:
    """One row per student (their numbers), then the files written."""
    table = Table(title=f"{len(generated.variants)} variant(s) of "
                        f"{generated.assignment.title!r}",
                  title_justify="left", title_style="bold", box=None, pad_edge=False,
                  header_style="bold")
    table.add_column("student", overflow="fold")
    table.add_column("at", overflow="fold")
    table.add_column("questions", justify="right")
    for variant in generated.variants:
        table.add_row(literal(variant.student),
                      ", ".join(f"{name}={value:g}" for name, value in variant.at),
                      str(len(variant.questions)))
    parts: list = [table]
    if generated.files:
        folder = generated.files[0].rsplit("/", 1)[0]
        parts.append(Text(f"wrote {len(generated.files)} files into {folder}/: "
                          "assignment.json, key.json, batch.jsonl, worksheets/"))
    else:
        parts.append(Text("no files written (give --out DIR for worksheets, key and batch)"))
    return Group(*parts)
