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



def show_sweep(sweep, view) -> None:
    """A sweep's document written a slice of points at a time: the same text as `show` gives
    (json.dumps of `to_dict()`), without ever holding the whole document or its lists."""
    import numpy as np

    from ..result import label

    def numbers(array) -> str:
        if np.isfinite(array).all():
            return repr(array.tolist())[1:-1]  # the float reprs json.dumps writes, in C
        return ", ".join([repr(v) if v == v and abs(v) != float("inf") else "null"
                          for v in array.tolist()])

    def labels(array) -> str:
        return ", ".join(["null" if (found := label(v)) is None else f'"{found}"'
                          for v in array.tolist()])

    def write_list(out, name: str, index: int, items) -> None:
        out.write(f"{dumps(name)}: [")
        separator = ""
        for columns in sweep.columns():
            out.write(separator + items(columns[index]))
            separator = ", "
        out.write("]")

    with view.stream() as out:
        out.write(dumps(sweep.header())[:-1])
        for index, name in enumerate(("x", "value", "derivative")):
            out.write(", ")
            write_list(out, name, index, numbers)
        out.write(f", \"warnings\": {dumps(list(sweep.warnings))}")
        flagged = [(index, name) for index, name in ((1, "value"), (2, "derivative"))
                   if not np.isfinite(getattr(sweep, name)).all()]
        for k, (index, name) in enumerate(flagged):
            out.write(', "nonfinite": {' if k == 0 else ", ")
            write_list(out, name, index, labels)
        out.write("}}\n" if flagged else "}\n")
