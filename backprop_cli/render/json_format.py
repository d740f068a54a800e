"""Result → one strict RFC 8259 JSON document (no NaN or Infinity literals)."""

from __future__ import annotations

import json

from ..result import Result


def dumps(document: dict) -> str:
    """Serialise; `allow_nan=False` turns any stray non-finite number into a loud bug."""
    return json.dumps(document, ensure_ascii=False, allow_nan=False)


def render(result: Result) -> str:
    """The `grad --json` document."""
    return dumps(result.to_dict())


def show(result, view) -> str:
    """Any result's JSON document (each result type's `to_dict` is its contract)."""
    return dumps(result.to_dict())

