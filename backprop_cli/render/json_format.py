"""Result → one strict RFC 8259 JSON document (no NaN or Infinity literals)."""

from __future__ import annotations

import re
from dataclasses import replace

from ..budget import reserve
from ..result import Result

# Characters that JSON lets stand raw inside strings but that some readers take as line breaks
# (Python's str.splitlines, JavaScript before ES2019): written as escapes, so one JSON document
# is always one line.
_LINE_BREAKING = re.compile("[\x7f-\x9f\u2028\u2029]")


def dumps(document: dict, size_hint: int = 0) -> str:
    """Serialise with orjson (ten times json.dumps on a large document), compact: no space
    after `:` or `,`. Every non-finite number is null by then, labelled beside it.

    orjson cannot report an allocation that fails (the process dies), so a large document
    first checks that three times its expected size could be mapped (the text, its growth,
    its str): past the memory budget that is a MemoryError, which the CLI reports in one
    line."""
    import orjson

    if size_hint:
        reserve(3 * size_hint)
    return orjson.dumps(document).decode()


def size_hint(result) -> int:
    """The expected length of a result's JSON text: about 300 bytes a node, and 25 an array
    element (values and adjoints)."""
    nodes = getattr(result, "nodes", ())
    elements = sum(getattr(node.value, "size", 1) for node in nodes) if getattr(
        result, "tensors", False) else 0
    return 300 * len(nodes) + 50 * elements


def line_safe(text: str) -> str:
    """JSON text with U+2028, U+2029 and C1 controls (U+0085 ...) escaped. They can only occur
    inside strings, where the escape stands for the same character."""
    return _LINE_BREAKING.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def render(result: Result) -> str:
    """The `grad --json` document."""
    if not _sliced(result):
        return dumps(result.to_dict(), size_hint(result))
    return "".join(_pieces(result))


def show(result, view) -> str | None:
    """Any result's JSON document (each result type's `to_dict` is its contract). A large
    grad document is made a slice of nodes at a time, never held whole: the slices go to an
    unnamed temporary file, copied out once the document is complete, so a run stopped
    halfway (its time or memory budget) leaves no half document before its error document."""
    if not _sliced(result):
        return dumps(result.to_dict(), size_hint(result))
    import shutil
    import tempfile

    try:
        spool = tempfile.TemporaryFile("w+", encoding="utf-8")
    except OSError:  # nowhere to put it: the slices go out as they are made
        spool = None
    with view.stream() as out:
        target = out if spool is None else spool
        for piece in _pieces(result):
            target.write(piece)
        if spool is not None:
            with spool:
                spool.seek(0)
                shutil.copyfileobj(spool, out, 1 << 20)
        if view.output is None:
            out.write("\n")
    return None


SLICE = 4096  # nodes per slice of a large document
# Address space to have free before orjson writes an array: its text, up to 25 characters and
# a comma a float, about twice over while its buffer grows.
TEXT_PER_FLOAT = 64


def _sliced(result) -> bool:
    nodes = getattr(result, "nodes", ())
    return hasattr(nodes, "entries") and len(nodes) > SLICE and result.exact is None


def _pieces(result: Result):
    """The text of `dumps(result.to_dict())`, in pieces: orjson writes a dict's items in
    order, compact, so the document is its items' texts joined, and the node list its
    slices' texts joined."""
    from .node_json import nodes_json

    nodes = result.nodes
    document = replace(result, nodes=()).to_dict()
    yield "{"
    for k, (key, value) in enumerate(document.items()):
        yield f"{',' if k else ''}{dumps(key)}:"
        if key != "nodes":
            yield dumps(value)
            continue
        yield "["
        for start in range(0, len(nodes), SLICE):
            text = nodes_json(nodes, start, min(start + SLICE, len(nodes)))
            yield text[1:-1] if start == 0 else "," + text[1:-1]
        yield "]"
    yield "}"


def show_sweep(sweep, view) -> None:
    """A sweep's document written a slice of points at a time: the same text as `show` gives
    (`dumps` of `to_dict()`), without ever holding the whole document or its lists."""
    import numpy as np
    import orjson

    from ..result import label

    def numbers(array) -> str:
        # orjson writes a float64 array as the document writer writes each float, and a
        # non-finite one as null
        reserve(TEXT_PER_FLOAT * len(array))
        return orjson.dumps(np.asarray(array, dtype=np.float64),
                            option=orjson.OPT_SERIALIZE_NUMPY).decode()[1:-1]

    def labels(array) -> str:
        return ",".join(["null" if (found := label(v)) is None else f'"{found}"'
                          for v in array.tolist()])

    def write_list(out, name: str, index: int, items) -> None:
        out.write(f"{dumps(name)}:[")
        separator = ""
        for columns in sweep.columns():
            out.write(separator + items(columns[index]))
            separator = ","
        out.write("]")

    with view.stream() as out:
        out.write(dumps(sweep.header())[:-1])
        for index, name in enumerate(("x", "value", "derivative")):
            out.write(",")
            write_list(out, name, index, numbers)
        out.write(f",\"warnings\":{dumps(list(sweep.warnings))}")
        flagged = [(index, name) for index, name in ((1, "value"), (2, "derivative"))
                   if not np.isfinite(getattr(sweep, name)).all()]
        for k, (index, name) in enumerate(flagged):
            out.write(',"nonfinite":{' if k == 0 else ",")
            write_list(out, name, index, labels)
        out.write("}}\n" if flagged else "}\n")
