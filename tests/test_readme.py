"""Every README example that shows a command and its output prints exactly that output.

A block in the README that starts with `$ backprop ...` is run as written (in process, through
the Typer app, 80 columns, no colour) and its output compared line by line, trailing spaces
aside. The README cannot drift from what the tool does.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backprop_cli.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```[a-z]*\n\$ (backprop [^\n]*)\n(.*?)```", re.S)
PLAIN = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "NO_COLOR": None, "COLUMNS": "80"}


def examples() -> list[tuple[str, str]]:
    return [(command, output) for command, output in BLOCK.findall(README.read_text("utf-8"))]


def run(command: str) -> str:
    """The command's standard output as the README shows it."""
    result = CliRunner().invoke(app, shlex.split(command)[1:], env=PLAIN)
    assert result.exit_code == 0, (command, result.stderr)
    return "\n".join(line.rstrip() for line in result.stdout.rstrip().split("\n")) + "\n"


def test_the_readme_has_examples():
    assert len(examples()) >= 8


@pytest.mark.parametrize(("command", "output"), examples(), ids=[c for c, _ in examples()])
def test_readme_example_prints_what_the_readme_shows(command, output):
    assert run(command) == output


def test_every_link_within_the_readme_finds_its_heading():
    # GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
    anchors, fenced = set(), False
    for line in README.read_text("utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    links = re.findall(r"\]\(#([^)]+)\)", README.read_text("utf-8"))
    assert len(links) >= 19
    assert sorted(set(links) - anchors) == []
