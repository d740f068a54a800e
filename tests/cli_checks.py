"""Checks shared by the command-line tests: strict JSON and the one-line error rule."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path


def strict_json(text: str) -> dict:
    """Parse RFC 8259 JSON: NaN and Infinity literals are errors."""
    def refuse(literal: str):
        raise AssertionError(f"non-standard JSON literal {literal}")

    return json.loads(text, parse_constant=refuse)


def one_error_line(stderr: str) -> str:
    """Every user-facing error is exactly one line on stderr, starting 'error: ', no traceback."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr
    return lines[0]


def backprop_command() -> str:
    """The installed console script (beside this interpreter, else on PATH)."""
    beside_python = Path(sys.executable).with_name("backprop")
    found = str(beside_python) if beside_python.exists() else shutil.which("backprop")
    assert found, "the backprop console script is not installed"
    return found
