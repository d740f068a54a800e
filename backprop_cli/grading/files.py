"""A student's table from CSV or JSON text."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from ..errors import InputError, shortened
from .claims import NUMBER, comma_hint, decimals
from .tables import TableRow


def read_table(text: str, name: str) -> list[TableRow]:
    """Rows from CSV (header: node,value,adjoint) or JSON (a list of such objects); a table
    without a single number is refused."""
    stripped = text.lstrip()
    if stripped.startswith("[") or stripped.startswith("{"):
        rows = _table_from_json(text, name)
    else:
        rows = _table_from_csv(text, name)
    rows = answered(rows)
    if not rows:
        raise InputError(f"{name}: the table has no numbers to check; write one row per node "
                         "with its value and/or adjoint (node,value,adjoint)")
    return rows


def answered(rows) -> list[TableRow]:
    """The rows with a number: a row left blank is not answered, as a node without a row is
    not (it is reported among the nodes not graded)."""
    return [row for row in rows if row.value is not None or row.adjoint is not None]


def _cell(raw, what: str, where: str) -> tuple[float | None, int]:
    if raw is None:
        return None, 0
    if isinstance(raw, (bool, list, dict)):  # JSON's true, [..], {..}: shown as written
        import json

        raise InputError(f"{where}: {what} {shortened(json.dumps(raw), 40)} is not a number")
    text = str(raw).strip()
    if not text:
        return None, 0
    if not re.fullmatch(NUMBER, text):
        raise InputError(f"{where}: {what} {_quoted(text)} is not a number{comma_hint(text)}")
    number = float(text)
    if not math.isfinite(number):
        raise InputError(f"{where}: {what} {_quoted(text)} is too large for a float64 number")
    return number, decimals(text)


def _quoted(text: str) -> str:
    return repr(shortened(text, 40))


def table_row(record: Mapping, where: str) -> TableRow:
    node = str(record.get("node", "")).strip()
    if not node:
        raise InputError(f"{where}: the row has no node name")
    value, value_decimals = _cell(record.get("value"), "value", where)
    adjoint, adjoint_decimals = _cell(record.get("adjoint"), "adjoint", where)
    return TableRow(node, value, adjoint, value_decimals, adjoint_decimals)


def _table_from_csv(text: str, name: str) -> list[TableRow]:
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text))
    try:
        fields = [f.strip().lower() for f in (reader.fieldnames or [])]
        if "node" not in fields or not ({"value", "adjoint"} & set(fields)):
            semicolons = "; separate the columns with commas" if len(fields) == 1 and re.search(
                r"[;\t]", fields[0]) else ""
            raise InputError(f"{name}: the CSV needs a header with node and value and/or "
                             f"adjoint columns (found: {', '.join(fields) or 'nothing'})"
                             f"{semicolons}")
        reader.fieldnames = fields
        return [table_row(_whole_row(record, len(fields), f"{name} line {reader.line_num}"),
                          f"{name} line {reader.line_num}") for record in reader]
    except csv.Error as error:
        reason = str(error)
        if "field limit" in reason:
            reason = f"a field is longer than {csv.field_size_limit():,} characters"
        raise InputError(f"{name} line {reader.line_num + 1}: not a readable CSV row ({reason})"
                         ) from None


def _whole_row(record: dict, columns: int, where: str) -> dict:
    """A CSV row with no more cells than the header (the reader puts the rest under None):
    cut, `a,0,62,-0,76` was graded as value 0 and adjoint 62."""
    extra = record.get(None)
    if extra is None:
        return record
    cells = [cell for key, cell in record.items() if key is not None and key != "node"]
    cells += extra
    comma = "; write decimals with a point (0.62, not 0,62)" if all(
        re.fullmatch(r"\s*-?\d+\s*", cell or "") for cell in cells) else ""
    raise InputError(f"{where}: {columns + len(extra)} cells, the header has {columns}{comma}")


def _table_from_json(text: str, name: str) -> list[TableRow]:
    import json

    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{name}: not valid JSON ({error.msg} at line {error.lineno})") from None
    if isinstance(data, dict):
        data = data.get("rows", data.get("nodes"))
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputError(f"{name}: expected a list of objects with node, value, adjoint")
    return [table_row(record, f"{name} row {number + 1}") for number, record in enumerate(data)]
