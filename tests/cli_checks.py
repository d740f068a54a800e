"""Checks shared by the command-line tests: strict JSON and the one-line error rule."""

from __future__ import annotations

import json


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
