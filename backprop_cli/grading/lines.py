"""A batch file's lines → ids and Jobs: strict JSON, bounded in length and depth, every field
checked the way the `check` options are, numbers kept as written so that ids are echoed
exactly."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

from ..errors import InputError, one_line, shortened
from .files import answered, table_row
from .jobs import Job

MAX_LINE_CHARS = 1_000_000
MAX_LINE_DEPTH = 32
FIELDS = ("id", "expr", "wrt", "answer", "at", "expect", "table", "upstream", "rtol", "atol",
          "timeout")
TOLERANCE_FIELDS = ("rtol", "atol", "timeout")
RTOL_BELOW = 1.0
TIMEOUT_RANGE = (0.1, 3600.0)
_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonNumber:
    """A JSON number as it was written (`1e999`, a 5,000-digit integer, `-0`), so that an id
    is echoed exactly and no number is converted before its field is checked."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"JsonNumber({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


class _NotStrict(Exception):
    pass


class _Duplicate(Exception):
    pass


def bad_line(message: str) -> InputError:
    return InputError(message, code="bad_line")


def bad_field(message: str) -> InputError:
    return InputError(message, code="bad_field")


def shown(value: object, limit: int = 40) -> str:
    """A short, one-line, JSON-looking quotation of a student's value for a message."""
    if isinstance(value, JsonNumber):
        text = value.text
    elif isinstance(value, (str, bool, type(None), float)):
        text = json.dumps(value[:limit] if isinstance(value, str) else value, ensure_ascii=False)
    elif isinstance(value, int):
        text = str(value) if abs(value) < 10**40 else "a very large integer"
    elif isinstance(value, dict):
        text = "an object"
    else:
        text = "a list" if isinstance(value, list) else type(value).__name__
    text = one_line(text)
    return shortened(text, limit)


def split_lines(text: str) -> list[tuple[int, str]]:
    """The non-blank lines of a JSONL text and their numbers. Lines end at \\n only (a \\r
    before it is dropped): U+2028, U+2029 and U+0085 may appear inside JSON strings."""
    lines = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if line.strip(" \t\r"):
            lines.append((number, line))
    return lines


def _refuse_constant(name: str):
    raise _NotStrict(name)


def _unique(pairs: list[tuple[str, object]]) -> dict:
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Duplicate(key)
            seen.add(key)
    return record


def read_record(line: str) -> dict:
    """One line as a JSON object, or a `bad_line` InputError: too long, not strict JSON (NaN
    and Infinity are not JSON), a key twice in an object, nested too deeply, not an object."""
    if len(line) > MAX_LINE_CHARS:
        raise bad_line(f"the line is {len(line):,} characters long; a batch line may have at "
                       f"most {MAX_LINE_CHARS:,}")
    try:
        record = json.loads(line, parse_int=JsonNumber, parse_float=JsonNumber,
                            parse_constant=_refuse_constant, object_pairs_hook=_unique)
    except _NotStrict as error:
        raise bad_line(f"not strict JSON: {error.args[0]} is not a JSON number (write the "
                       "value as a string, or leave the field out)") from None
    except _Duplicate as error:
        raise bad_line(f"the key {shown(error.args[0])} appears twice in one object") from None
    except RecursionError:
        raise bad_line(f"the line is nested more than {MAX_LINE_DEPTH} levels deep") from None
    except json.JSONDecodeError as error:
        raise bad_line(f"not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(record, dict):
        raise bad_line("the line must be a JSON object such as {\"id\": \"alice-1\", \"expr\": "
                       f"\"x^2\", \"wrt\": \"x\", \"answer\": \"2x\"}}, not {shown(record)}")
    _check_structure(record)
    return record


def _check_structure(record: dict) -> None:
    """Depth within MAX_LINE_DEPTH and no unpaired surrogate (`"\\ud800"` is valid JSON but no
    text: it could not be printed), without recursion."""
    stack: list[tuple[object, int]] = [(record, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise bad_line("a string holds an unpaired surrogate escape (such as \\ud800), "
                               "which is not a character")
        elif isinstance(value, (dict, list)):
            if depth > MAX_LINE_DEPTH:
                raise bad_line(f"the line is nested more than {MAX_LINE_DEPTH} levels deep")
            if isinstance(value, dict):
                stack.extend((key, depth) for key in value)
                stack.extend((item, depth + 1) for item in value.values())
            else:
                stack.extend((item, depth + 1) for item in value)


def tolerance_problem(name: str, value: float) -> str | None:
    """What is wrong with a value of rtol, atol or timeout, the same for `check`'s options and
    for batch lines; None when it is fine."""
    if not math.isfinite(value):
        return "must be a finite number"
    if name == "rtol" and not 0 <= value < RTOL_BELOW:
        return f"must be at least 0 and below {RTOL_BELOW:g}"
    if name == "atol" and value < 0:
        return "must be at least 0"
    low, high = TIMEOUT_RANGE
    if name == "timeout" and not low <= value <= high:
        return f"must be from {low:g} to {high:g} (seconds)"
    return None


def _number(value: object) -> float | None:
    """A JSON number's float value (a huge one is inf); None for anything else."""
    if isinstance(value, JsonNumber):
        return float(value.text)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            return math.inf
    return None


def _strings(record: Mapping, name: str) -> list[str]:
    value = record.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise bad_field(f"\"{name}\" must be a string or a list of strings, not {shown(value)}")


def _field_hint(key: str) -> str:
    import difflib

    close = difflib.get_close_matches(key, FIELDS, n=1, cutoff=0.6)
    return f" (did you mean \"{close[0]}\"?)" if close else ""


def read_problem(record: Mapping, *, timeout: float = 5.0, rtol: float | None = None,
                 atol: float | None = None, line_tolerances: bool = True,
                 from_assignment: bool = False) -> tuple[Job, float]:
    """A batch line's Job and its time limit. `timeout`, `rtol` and `atol` are the batch's
    (the command line's); a line's own replace them unless `line_tolerances` is False, when a
    line that sets any of them is refused (code `tolerance_forbidden`). A field that is
    unknown, of the wrong type or out of range is a `bad_field` InputError; `null` is the same
    as leaving a field out. A line `from_assignment` may answer nothing (every question is
    then unanswered)."""
    for key in record:
        if key not in FIELDS:
            raise bad_field(f"unknown field {shown(key)}{_field_hint(key)}; the fields are "
                            f"{', '.join(FIELDS)}")
    carried = [key for key in TOLERANCE_FIELDS if record.get(key) is not None]
    if carried and not line_tolerances:
        raise InputError(f"this batch is graded with --no-line-tolerances, so a line may not "
                         f"set {', '.join(carried)}", code="tolerance_forbidden")
    settings = {"rtol": rtol, "atol": atol, "timeout": timeout}
    for key in carried:
        value = _number(record[key])
        if value is None:
            raise bad_field(f"\"{key}\" must be a number, not {shown(record[key])}")
        problem = tolerance_problem(key, value)
        if problem:
            raise bad_field(f"\"{key}\" {problem}, not {shown(record[key])}")
        settings[key] = value
    expr = record.get("expr")
    if not isinstance(expr, str) or not expr.strip():
        raise bad_field("the line has no \"expr\" (the expression or program, a string)"
                        + ("; a hand-in of an assignment's answers is graded with "
                           "--assignment FILE" if "id" in record else "")
                        if expr is None else f"\"expr\" must be a non-empty string, not "
                        f"{shown(expr)}")
    wrt, answer = _strings(record, "wrt"), _strings(record, "answer")
    if len(wrt) != len(answer):
        raise bad_field(f"{len(wrt)} \"wrt\" but {len(answer)} \"answer\"; give one \"wrt\" "
                        "per answer")
    expect, formulas = [], []
    for text in _strings(record, "expect"):
        formula = formula_answer(text)
        if formula is None:
            expect.append(text)
        else:
            formulas.append(formula)
    wrt += [name for name, _ in formulas]
    answer += [text for _, text in formulas]
    at = record.get("at")
    at = {} if at is None else at
    if not isinstance(at, dict):
        raise bad_field(f"\"at\" must be an object such as {{\"x\": 1}}, not {shown(at)}")
    point: list[tuple[str, str | float]] = []
    for name, value in at.items():
        _check_variable(name)
        if isinstance(value, str):
            point.append((name, value))
            continue
        number = _number(value)
        if number is None or not math.isfinite(number):
            kind = "a finite number" if number is not None else "a number"
            raise bad_field(f"the value of {shown(name)} in \"at\" must be {kind} or a "
                            f"constant expression such as \"1/3\", not {shown(value)}")
        point.append((name, number))
    table = record.get("table")
    table = [] if table is None else table
    if not isinstance(table, list) or not all(isinstance(row, dict) for row in table):
        raise bad_field("\"table\" must be a list of objects with node, value and adjoint, not "
                        f"{shown(table)}")
    try:
        rows = tuple(answered(table_row(row, f"\"table\" row {n}")
                              for n, row in enumerate(table, 1)))
    except InputError as error:
        raise bad_field(error.message) from None
    if not (wrt or expect or rows) and not (from_assignment and not table):
        if table:
            raise bad_field("the \"table\" has no numbers to check: give each row a \"value\" "
                            "and/or an \"adjoint\"")
        raise bad_field("nothing to check: give \"wrt\" and \"answer\", \"expect\" claims or "
                        "\"table\" rows")
    upstream = record.get("upstream")
    seed = 1.0 if upstream is None else _number(upstream)
    if seed is None or not math.isfinite(seed) or seed == 0:
        raise bad_field(f"\"upstream\" (the upstream gradient) must be a finite number other "
                        f"than 0, not {shown(upstream)}")
    job = Job(expr, tuple(zip(wrt, answer, strict=True)), tuple(point), tuple(expect), rows,
              settings["rtol"], settings["atol"], symbolic_seconds=0.4 * settings["timeout"],
              seed=seed, each_claim_alone=True, from_assignment=from_assignment)
    return job, settings["timeout"]


def formula_answer(text: str) -> tuple[str, str] | None:
    """`formula d/dw = x*(1 - a)` (a worksheet's hand-in line for a formula) as (w, the
    formula); None for any other claim."""
    if not text.lstrip().lower().startswith("formula"):
        return None
    left, equals, formula = text.partition("=")
    wrt = left.split("/d", 1)[1].strip() if "/d" in left else ""
    if not equals or not wrt or not formula.strip():
        raise bad_field(f"cannot read {shown(text)}; write \"formula d/dw = YOUR FORMULA\"")
    return wrt, formula.strip()


def _check_variable(name: str) -> None:
    """A name in "at" obeys the rules of a variable in the program (as --at NAME=VALUE does)."""
    from ..errors import ParseError
    from ..parse import check_name

    if not name.isidentifier():
        raise bad_field(f"{shown(name)} in \"at\" is not a variable name")
    try:
        check_name(name)
    except ParseError as error:
        raise bad_field(f"{shown(name)} in \"at\": {error.message}") from None


def job_from_record(record: object, symbolic_seconds: float = 2.0) -> tuple[object, Job]:
    """A batch record's id and Job (fields as in a batch line; see `read_problem`)."""
    if not isinstance(record, dict):
        raise bad_line("each line must be a JSON object")
    job, _ = read_problem(record, timeout=symbolic_seconds / 0.4)
    return record.get("id"), job
