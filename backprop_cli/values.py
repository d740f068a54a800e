"""Values of variables that are arrays: a literal on the command line (`--W "[[1, 2], [3, 4]]"`),
a JSON file of named values (`--values F.json`) and a CSV data set whose columns are vectors
(`--data F.csv`)."""

from __future__ import annotations

import csv
import io
import json
import math
import re

from .errors import InputError, shortened

MAX_RANK = 2


def array_value(name: str, value):
    """A nested list of numbers (rows) as a float64 array of rank 1 or 2, or an error naming
    the variable."""
    import numpy as np

    if isinstance(value, str):
        try:
            value = json.loads(value.replace("\u2212", "-"), parse_constant=_no_constant,
                               parse_float=lambda text: _float_of(f"value for {name!r}", text))
        except (json.JSONDecodeError, ValueError):
            raise InputError(f"value for {name!r} is not an array of numbers such as [1, 2] or "
                             f"[[1, 2], [3, 4]]: {shortened(value, 40)!r}") from None
    _check_nested(name, value)
    array = np.array(value, dtype=float)
    if not np.all(np.isfinite(array)):
        raise InputError(f"value for {name!r} holds a number that is not finite")
    return array


def _no_constant(text: str):
    raise ValueError(text)


def _float_of(where: str, text: str) -> float:
    """A JSON number as a float, refused where it underflows to 0 (1e-400)."""
    from .parse import TOO_SMALL, underflows

    number = float(text)
    if underflows(text, number):
        raise InputError(f"{where}: {text} {TOO_SMALL}")
    return number


def _numbers(count: int) -> str:
    return f"{count} number" if count == 1 else f"{count} numbers"


def _check_nested(name: str, value) -> None:
    if not isinstance(value, list) or not value:
        raise InputError(f"value for {name!r} must be a number or a non-empty list of numbers "
                         "(or of rows of numbers)")
    if all(isinstance(row, list) for row in value):
        if any(isinstance(cell, list) for row in value for cell in row):
            raise InputError(f"value for {name!r} has more than {MAX_RANK} dimensions; "
                             "values are scalars, vectors or matrices")
        widths = {len(row) for row in value}
        if 0 in widths:
            raise InputError(f"{name!r} has an empty row")
        if len(widths) != 1:
            first = len(value[0])
            k, other = next((k, len(row)) for k, row in enumerate(value, 1) if len(row) != first)
            raise InputError(f"the rows of {name!r} have different lengths: row 1 has "
                             f"{_numbers(first)}, row {k} has {_numbers(other)}")
        cells = [cell for row in value for cell in row]
    elif any(isinstance(row, list) for row in value):
        raise InputError(f"value for {name!r} mixes numbers and rows")
    else:
        cells = value
    for cell in cells:
        if isinstance(cell, bool) or not isinstance(cell, (int, float)):
            raise InputError(f"value for {name!r} holds {shortened(json.dumps(cell), 20)}, "
                             "which is not a number")


def load_values(text: str, source: str) -> dict:
    """`--values F.json`: an object of name → number or nested list of numbers."""
    def unique(pairs: list) -> dict:
        names = [name for name, _ in pairs]
        twice = [name for k, name in enumerate(names) if name in names[:k]]
        if twice:  # json keeps the last silently; batch lines refuse the same
            raise InputError(f"{source}: {twice[0]!r} is given twice")
        return dict(pairs)

    try:
        document = json.loads(text, parse_constant=_no_constant, object_pairs_hook=unique,
                              parse_float=lambda number: _float_of(source, number))
    except json.JSONDecodeError as error:
        raise InputError(f"{source} is not a JSON object of values ({error.msg} at line "
                         f"{error.lineno}, column {error.colno})") from None
    except ValueError as error:
        raise InputError(f"{source}: {error} is not a number (values must be finite)") from None
    if not isinstance(document, dict):
        raise InputError(f"{source} must hold one JSON object: name → number or array")
    values = {}
    for name, value in document.items():
        _check_variable_name(name, source)
        if isinstance(value, bool) or not isinstance(value, (int, float, list)):
            raise InputError(f"{source}: {name!r} must be a number or an array of numbers")
        if isinstance(value, list):
            values[name] = array_value(name, value)
        elif not math.isfinite(float(value)):
            raise InputError(f"{source}: {name!r} is not a finite number")
        else:
            values[name] = float(value)
    return values


def load_data(text: str, source: str) -> dict:
    """`--data F.csv`: each column a vector named by its header; a cell that is not a number
    names its row and column."""
    import numpy as np

    from .parse import TOO_SMALL, underflows

    rows = [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]
    if len(rows) < 2:
        raise InputError(f"{source} needs a header row of names and at least one row of "
                         "numbers")
    header = [cell.strip() for cell in rows[0]]
    if len(header) == 1 and re.search(r"[;\t]", header[0]):
        raise InputError(f"{source}: the header row {shortened(header[0], 40)!r} is one column; "
                         "separate the columns with commas")
    twice = [name for k, name in enumerate(header) if name in header[:k]]
    if any(not name for name in header) or twice:
        named = f" ({twice[0]!r} is given twice)" if twice else ""
        raise InputError(f"{source}: every column needs its own name in the header row{named}")
    for name in header:
        _check_variable_name(name, source)
    columns: list[list[float]] = [[] for _ in header]
    for line, row in enumerate(rows[1:], 2):
        if len(row) != len(header):
            raise InputError(f"{source} line {line}: {len(row)} cells, the header has "
                             f"{len(header)}")
        for k, cell in enumerate(row):
            try:  # no digit separators: Python reads 1_000, a spreadsheet does not
                number = math.nan if "_" in cell else float(cell.strip().replace("\u2212", "-"))
            except ValueError:
                number = math.nan
            if not math.isfinite(number) or underflows(cell.strip(), number):
                why = "has a digit separator '_'" if "_" in cell else (
                    TOO_SMALL if math.isfinite(number) else "is not a finite number")
                raise InputError(f"{source} line {line}, column {header[k]!r}: "
                                 f"{shortened(cell, 20)!r} {why}")
            columns[k].append(number)
    return {name: np.array(column) for name, column in zip(header, columns, strict=True)}


def _check_variable_name(name: str, source: str) -> None:
    """A name from a file follows the rules of a name in a program."""
    from .errors import BackpropError
    from .parse import check_name

    try:
        check_name(name)
    except BackpropError as error:
        raise InputError(f"{source}: {shortened(name, 30)!r} cannot be a variable "
                         f"({error.message})") from None
