"""Result → one strict RFC 8259 JSON document (no NaN or Infinity literals)."""

from __future__ import annotations

import json
import re

from ..result import Result

# Characters that JSON lets stand raw inside strings but that some readers take as line breaks
# (Python's str.splitlines, JavaScript before ES2019): written as escapes, so one JSON document
# is always one line.
_LINE_BREAKING = re.compile("[\x7f-\x9f\u2028\u2029]")


def dumps(document: dict) -> str:
    """Serialise; `allow_nan=False` turns any stray non-finite number into a loud bug."""
    return json.dumps(document, ensure_ascii=False, allow_nan=False)


def line_safe(text: str) -> str:
    """JSON text with U+2028, U+2029 and C1 controls (U+0085 ...) escaped. They can only occur
    inside strings, where the escape stands for the same character."""
    return _LINE_BREAKING.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def render(result: Result) -> str:
    """The `grad --json` document."""
    return dumps(result.to_dict())


def show(result, view) -> str:
    """Any result's JSON document (each result type's `to_dict` is its contract)."""
    return dumps(result.to_dict())

