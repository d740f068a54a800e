"""Text → checked expression trees, safely.

Nothing here evaluates user text, and Python's own parser never sees it. A tokenizer accepts only
numbers, names, the arithmetic operators, parentheses, commas, `=` and statement separators;
everything else (strings, attributes, brackets, lambdas, comparisons, ...) is refused with a
message that names it. An operator-precedence parser, iterative so that no input can exhaust
the stack, turns the tokens of each statement into plain tuples:

    ("const", value, text) | ("var", name) | ("ref", name) | ("call", op_name, (args...))
    | ("neg", arg) | ("add"|"sub"|"mul"|"div"|"pow", left, right)
"""

from __future__ import annotations

import keyword
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter

from . import ops
from .errors import LimitError, ParseError
from .printing import format_tree
from .shapes import Plan, ShapedStatement, parse_shaped, steps_of
from .tensor_names import CALLED_NAMES, tensor_arities, tensor_call

MAX_PROGRAM_CHARS = 4_000_000
MAX_STATEMENT_CHARS = 10_000
MAX_STATEMENT_TOKENS = 2_000
MAX_STATEMENTS = 200_000
MAX_NESTING = 100

CONSTANTS = {"pi": math.pi, "e": math.e, "E": math.e}

_TOKEN = re.compile(
    r"""
    (?P<ws>[^\S\n]+)
   |(?P<nl>\n)
   |(?P<comment>\#[^\n]*)
   |(?P<semi>;)
   |(?P<num>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
   |(?P<sup>⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)
   |(?P<name>[^\W\d¹²³⁰⁴⁵⁶⁷⁸⁹][^\W¹²³⁰⁴⁵⁶⁷⁸⁹]*)
   |(?P<cmp>==|!=|<=|>=|<|>)
   |(?P<op>\*\*|[-+*/^(),=@\[\]])
   |(?P<other>.)
    """,
    re.VERBOSE,
)

_OPERATOR_ALIASES = {"−": "-", "×": "*", "·": "*", "⋅": "*", "∗": "*", "÷": "/"}
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
# Greek capitals and a few small letters that are drawn exactly like Latin ones.
_CONFUSABLE_GREEK = set("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧοϲϳ")
_ALLOWED_SCRIPTS = ("LATIN", "GREEK")
# Names are made of ordinary (cased) letters. Latin and Greek also hold phonetic, modifier and
# numeral signs (Unicode categories Lo, Lm, Nl) that read as punctuation or digits: ǃ is a
# click, not '!'; ǀ is not '|'; ʔ is not '?'. They are refused, and so are the cased letters
# below, drawn like a digit or a mark.
_LETTER_CATEGORIES = ("Lu", "Ll", "Lt")
_DRAWN_LIKE = {**dict.fromkeys("Ƨƨ", "the digit 2"), **dict.fromkeys("ȜȝƷꜪꜫ", "the digit 3"),
               **dict.fromkeys("Ꜭꜭ", "the digit 4"), **dict.fromkeys("Ƽƽ", "the digit 5"),
               **dict.fromkeys("Ƅƅ", "the digit 6"), **dict.fromkeys("Ɂɂ", "'?'"),
               **dict.fromkeys("Ꞌꞌ", "an apostrophe")}
# Letters that pass as another letter in most fonts: two names that differ only by these
# (ν1 and v1, ɑ and a) would look like one variable while being two.
_SKELETON = str.maketrans("αɑıινορκτυχωγϲ", "aaiivopktuxwyc")

_FORBIDDEN_CHARS = {
    "'": "string literals are not allowed",
    '"': "string literals are not allowed",
    "{": "braces (sets, dicts) are not allowed",
    "}": "braces (sets, dicts) are not allowed",
    "\\": "backslashes are not allowed",
}



@dataclass(frozen=True)
class Statement:
    """One `name = expr` line, or a bare expression (`target` is None)."""

    target: str | None
    tree: tuple
    line: int

    def lowering(self) -> tuple[Plan, tuple]:
        """The tree's plan for the graph builder, and the leaves of its slots (none: every
        leaf is in the steps). The plan has its steps alone: a statement met once is
        replayed step by step, and compiling its registers would cost more than it saves."""
        return Plan(steps_of(self.tree), (), (), 0), ()

    def text(self) -> str:
        """The statement as the parser read it."""
        tree = format_tree(self.tree)
        return tree if self.target is None else f"{self.target} = {tree}"


@dataclass(frozen=True)
class Program:
    """A checked program: statements in order; the last one is the output."""

    statements: tuple[Statement | ShapedStatement, ...]
    source: str
    names: frozenset[str] = frozenset()

    @cached_property
    def defined_names(self) -> frozenset[str]:
        return frozenset(map(attrgetter("target"), self.statements)) - {None}

    @cached_property
    def cautions(self) -> tuple[str, ...]:
        """Warnings about how the text reads that every command gives: `1/2x`, and a
        function's name that is a value or a statement here, so `exp(x)` multiplies."""
        shadowed = [
            f"{name!r} is a value or a statement of this program, so {name}(...) multiplies "
            f"by it ({name}·(...)) rather than calling the function {name}; rename it to "
            "call the function"
            for name in sorted(self._shadowing())]
        return tuple(divided_then_multiplied(self.source)) + tuple(shadowed)

    def _shadowing(self) -> set[str]:
        """The program's own names that are functions' names and are written before "(". Only
        names that could be functions are searched for: the variables (few), and statements
        named as the op table's functions; SymPy is asked only about a variable so written."""
        variables = self.names - self.defined_names
        named = self.defined_names & ops.table_function_names() | (
            self.defined_names & CALLED_NAMES)
        found = set()
        for name in (variables | named):
            if len(name) > 1 and _written_before_a_parenthesis(name, self.source) and (
                    name in named or name in CALLED_NAMES
                    or ops.lookup(name, missing_ok=True) is not None):
                found.add(name)
        return found


def _written_before_a_parenthesis(name: str, source: str) -> bool:
    """`exp(` in the code (not in a comment), the name whole: after a number (2exp(y)) but not
    inside a longer name (myexp(y))."""
    # The pattern starts with the name itself, so the search skips ahead to it.
    for match in re.finditer(rf"{re.escape(name)}[ \t]*\(", source):
        line_start = source.rfind("\n", 0, match.start()) + 1
        if "#" in source[line_start:match.start()]:
            continue
        j = match.start() - 1
        while j >= line_start and (source[j].isdigit() or source[j] == "."):
            j -= 1
        if j < line_start or not (source[j].isalpha() or source[j] == "_"):
            return True
    return False


# `/ 2x`, `/2 (x + 1)`, `/2e-3x`: a number after `/` that multiplies what follows it without `*`
_EXPONENT = r"(?:[eE][-+]?\d+)?"
_DIVIDED_THEN_MULTIPLIED = re.compile(
    rf"/[ \t]*(\d+\.?\d*{_EXPONENT}|\.\d+{_EXPONENT})(?![\d.]|[eE][-+]?\d)[ \t]*"
    r"([^\W\d]\w*(?:[ \t]*\()?|\()")


def divided_then_multiplied(source: str) -> list[str]:
    """A warning for the first `1/2x` of the text: it is (1/2)·x, as `*` would make it,
    where a student may mean 1/(2x)."""
    if not _DIVIDED_THEN_MULTIPLIED.search(source):  # one scan for a long program
        return []
    for line in source.splitlines():
        found = _DIVIDED_THEN_MULTIPLIED.search(line.split("#", 1)[0])
        if found:
            number, factor = found[1], found[2].replace(" ", "").replace("(", "(...)")
            written = found[0] + ("...)" if found[0].endswith("(") else "")
            return [f"'{written}' divides by {number} only, then multiplies by {factor}: "
                    "implicit multiplication binds as * does, left to right; to divide by "
                    f"both write /({number}*{factor})"]
    return []


def parse_program(text: str, given: frozenset[str] | set[str] = frozenset()) -> Program:
    """Parse an expression or program; `given` are the names the user gives values to."""
    check_size(text)
    given = frozenset(given)
    shaped = parse_shaped(text, given, _shape_parser, _fast_tokenize, MAX_STATEMENT_TOKENS)
    if shaped is not None:
        return Program(shaped[0], text, shaped[1])
    tokens = _fast_tokenize(text)
    if tokens is not None:
        try:
            parsed, names = _parse_statements(_split_statements(tokens), text, given)
            return Program(parsed, text, names)  # plain ASCII: no look-alikes possible
        except (ParseError, LimitError):
            pass  # parse again below, with exact positions for the message
    try:
        parsed, names = _parse_statements(_split_statements(_tokenize(text)), text, given)
        program = Program(parsed, text, names)
        _check_skeletons(program.names | program.defined_names | given)
        return program
    except ParseError as error:
        if "\n" not in text and error.message.startswith("line 1: "):
            error.message = error.message[len("line 1: "):]
        raise


def _shape_parser(text: str, given: frozenset[str]) -> _ExpressionParser:
    return _ExpressionParser(text, given, frozenset())


TOO_SMALL = ("is below the smallest float64 number (about 5e-324), so it would be 0; write 0 "
             "if 0 is meant")


def underflows(text: str, number: float) -> bool:
    """Whether a number written with a digit other than 0 before its exponent is 0 in
    float64 (1e-400)."""
    return number == 0 and any(c in "123456789" for c in text.lower().partition("e")[0])


def is_number(text: str) -> bool:
    """Whether Python reads the text as a float (used to tell values from options)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_constant(text: str) -> tuple:
    """Parse a value given on the command line (`1/3`, `pi/4`, `sqrt(2)`, `-2.5`)."""
    program = parse_program(text)
    if len(program.statements) != 1 or program.statements[0].target is not None:
        raise ParseError(f"value {text!r} must be a single expression")
    tree = program.statements[0].tree
    free = _free_names(tree)
    if free:
        if re.fullmatch(r"\s*[-+]?0[xXoObB][0-9a-fA-F_]+\s*", text):
            raise ParseError(f"value {text!r}: write numbers in decimal (0x, 0o and 0b "
                             "prefixes are not read)")
        raise ParseError(f"value {text!r} must be a constant, but it uses {sorted(free)[0]!r}")
    return tree


def check_size(text: str) -> None:
    """Refuse input beyond the size limits (characters, statement length, statements)."""
    if len(text) > MAX_PROGRAM_CHARS:
        raise LimitError(
            f"input is {len(text):,} characters; the limit is {MAX_PROGRAM_CHARS:,} "
            "(split very large programs, or check for a wrong file)"
        )
    # No statement is longer than its line: the statements are split out only where a line is
    # over the limit (a long program has tens of thousands of short lines).
    longest = max(map(len, text.split("\n")))
    if longest > MAX_STATEMENT_CHARS:
        longest = max(map(len, re.split(r"[;\n]", text)))
    if longest > MAX_STATEMENT_CHARS:
        raise LimitError(
            f"a statement is {longest:,} characters long; the limit is {MAX_STATEMENT_CHARS:,} "
            "(write long expressions as several named statements)"
        )
    count = text.count(";") + text.count("\n") + 1
    if count > MAX_STATEMENTS:
        raise LimitError(f"input has {count:,} statements; the limit is {MAX_STATEMENTS:,}")
    if not text.strip():
        raise ParseError("the expression is empty")


_FAST_TOKEN = re.compile(
    r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[A-Za-z_][A-Za-z0-9_]*|\*\*|[^ \t\r]"
)
_FAST_KIND = {
    **dict.fromkeys("0123456789.", "num"),
    **dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_", "name"),
    **dict.fromkeys("+-*/^(),=@[]", "op"),
    "\n": "nl",
    ";": "semi",
}
_REFUSED_WORDS = frozenset(keyword.kwlist) - {"lambda"} | {"."}
_SEPARATED_NUMBER = re.compile(r"(?<![\w.])[0-9][0-9.]*_[0-9]")  # 1_000: refused, with its place


def _fast_tokenize(text: str) -> list[tuple[str, str, int]] | None:
    """Tokens of plain ASCII input without comments, found by one C-level regex scan.

    Positions are not tracked (-1). Returns None when the text needs the careful tokenizer:
    anything unusual, or anything that would be an error (which needs exact positions).
    """
    if not text.isascii() or "#" in text or "__" in text or (
            "_" in text and _SEPARATED_NUMBER.search(text)):
        return None
    words = _FAST_TOKEN.findall(text)
    if not _REFUSED_WORDS.isdisjoint(words):
        return None
    kind_of = _FAST_KIND.get
    tokens = [(kind_of(word[0]), word, -1) for word in words]
    if any(token[0] is None for token in tokens):
        return None
    return tokens


def _check_skeletons(names: frozenset[str]) -> None:
    seen: dict[str, str] = {}
    for name in sorted(names):
        skeleton = name.translate(_SKELETON)
        other = seen.setdefault(skeleton, name)
        if other != name:
            raise ParseError(f"names {other!r} and {name!r} look alike but are different "
                             "variables; rename one of them")


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {column}" if "\n" in text else f"column {column}"


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    """Split into (kind, text, position) tokens; refuse anything outside the grammar."""
    tokens: list[tuple[str, str, int]] = []
    append = tokens.append
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        value = match.group()
        pos = match.start()
        if kind == "ws" or kind == "comment":
            continue
        if kind == "name":
            if value[0] == "_" and value[1:2].isdigit() and tokens and tokens[-1][0] == "num" \
                    and tokens[-1][2] + len(tokens[-1][1]) == pos:  # 1_000, as Python reads it
                raise ParseError(f"digit separator '_' in the number {tokens[-1][1] + value!r} "
                                 f"at {_where(text, tokens[-1][2])}: write "
                                 f"{tokens[-1][1] + value.replace('_', '')}")
            _check_name(value, text, pos)
        elif kind == "sup":
            value = value.translate(_SUPERSCRIPTS)
        elif kind == "other":
            kind, value = _other_char(value, text, pos, tokens)
        elif kind == "cmp":
            raise ParseError(f"comparisons ({value!r}) are not allowed at {_where(text, pos)}")
        append((kind, value, pos))
    return tokens


def check_name(name: str) -> None:
    """Refuse a name (given on the command line) that the program text could not contain."""
    if not name.isidentifier():
        raise ParseError(f"{name!r} is not a name")
    _check_name(name, name, 0)


def _check_name(name: str, text: str, pos: int) -> None:
    if name.startswith("__"):
        raise ParseError(
            f"names starting with '__' are not allowed: {name!r} at {_where(text, pos)}"
        )
    if keyword.iskeyword(name) and name != "lambda":
        raise ParseError(
            f"{name!r} is a Python keyword and not part of the expression language "
            f"(at {_where(text, pos)})"
        )
    if name.isascii():
        return
    for offset, char in enumerate(name):
        if char.isascii() or char in _LETTERS_SEEN:
            continue
        why = _refused_letter(char)
        if why is None:
            _LETTERS_SEEN.add(char)
            continue
        label = unicodedata.name(char, f"U+{ord(char):04X}")
        raise ParseError(f"look-alike character {char!r} ({label}) at "
                         f"{_where(text, pos + offset)}: {why}")


_LETTERS_SEEN: set[str] = set()  # characters already found fit for names


def _refused_letter(char: str) -> str | None:
    """Why a non-ASCII character may not be part of a name, or None if it may."""
    label = unicodedata.name(char, f"U+{ord(char):04X}")
    plain = unicodedata.normalize("NFKC", char)
    if "\u2044" in plain:  # a vulgar fraction: its slash is refused too, and x^1/2 is x/2
        return f"it is a fraction; type ({plain.replace(chr(0x2044), '/')}) instead"
    if unicodedata.decomposition(char).startswith("<super>") and plain.isalpha():
        return (f"a superscript letter; write a power as ^{plain} or **{plain} (2{char} is "
                f"2^{plain}), or type {plain!r} for the letter itself")
    if plain != char:
        return f"it would be read as {plain!r}; type {plain!r} instead"
    if char in _CONFUSABLE_GREEK:
        return ("it looks like a Latin letter; type the Latin letter, or use a Greek letter "
                "that looks distinct")
    category = unicodedata.category(char)
    if label.startswith("MODIFIER LETTER") or (
            label.startswith(_ALLOWED_SCRIPTS) and category not in _LETTER_CATEGORIES):
        kind = "numeral" if category == "Nl" else "phonetic or modifier"
        return (f"a {kind} sign, not a letter, that reads as punctuation or a digit; names "
                "use ordinary letters")
    if not label.startswith(_ALLOWED_SCRIPTS):
        return "names may use Latin and Greek letters only; retype it on a Latin keyboard"
    if char in _DRAWN_LIKE:
        return f"it is drawn like {_DRAWN_LIKE[char]}; use another letter"
    return None


def _other_char(char: str, text: str, pos: int, previous: list) -> tuple[str, str]:
    where = _where(text, pos)
    if char in _OPERATOR_ALIASES:
        return "op", _OPERATOR_ALIASES[char]
    if char == "⁻":
        raise ParseError(f"superscript minus at {where} needs superscript digits after it")
    if char in _FORBIDDEN_CHARS:
        raise ParseError(f"{_FORBIDDEN_CHARS[char]}: {char!r} at {where}")
    if char == ".":
        after = previous[-1][0] if previous else None
        if after in ("name", "op") and (after == "name" or previous[-1][1] == ")"):
            module = previous[-1][1] if after == "name" else None
            member = re.match(r"\s*(\w+)", text[pos + 1:])
            called = member is not None and re.match(r"\s*\(", text[pos + 1 + member.end():])
            written = f"{member[1]}(...)" if called else member[1] if member else ""
            hint = f"; write {written} without {module + '.'!r}" if member and \
                module in ("math", "np", "numpy", "torch", "sympy", "sp", "F") else ""
            raise ParseError(f"attribute access ('.') is not allowed at {where}{hint}")
        raise ParseError(f"'.' is not allowed here ({where})")
    if char == ":":
        if any(kind == "name" and value == "lambda" for kind, value, _ in previous):
            raise ParseError(f"lambda expressions are not allowed (':' at {where})")
        raise ParseError(f"':' is not allowed ({where})")
    category = unicodedata.category(char)
    label = unicodedata.name(char, f"U+{ord(char):04X}")
    if category in ("Cf", "Cc"):
        named = f" ({label})" if unicodedata.name(char, "") else ""
        raise ParseError(f"invisible character U+{ord(char):04X}{named} at {where}; delete it")
    if category == "Nd":
        raise ParseError(f"look-alike digit {char!r} ({label}) at {where}; use 0-9")
    if char.isalpha() or category.startswith("M"):
        raise ParseError(f"character {char!r} ({label}) at {where} cannot start a name")
    meant = {"|": "; for the absolute value write abs(x)",
             "!": "; for the factorial write factorial(x)",
             "√": "; for the square root write sqrt(x)",
             "–": "; for minus type -", "—": "; for minus type -"}.get(char, "")
    raise ParseError(
        f"{char!r} is not an allowed operator at {where} (use + - * / ^ ** and parentheses"
        f"{meant})"
    )


_PRECEDENCE = {"add": 1, "sub": 1, "mul": 2, "div": 2, "matmul": 2, "pow": 4}
_BINARY = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow", "^": "pow",
           "@": "matmul"}
MAX_ARRAY_ELEMENTS = 100_000
_PREFIX_PRECEDENCE = 3


def _split_statements(tokens: list) -> list[tuple[int, list]]:
    """Group tokens into statements; each with its 1-based line number."""
    statements = []
    line = 1
    current: list = []
    start_line = 1
    for token in tokens:
        kind = token[0]
        if kind == "nl" or kind == "semi":
            if current:
                statements.append((start_line, current))
                current = []
            if kind == "nl":
                line += 1
            continue
        if not current:
            start_line = line
        current.append(token)
    if current:
        statements.append((start_line, current))
    return statements


def _statement_targets(statements: list) -> list[str]:
    return [tokens[0][1] for _, tokens in statements
            if len(tokens) > 1 and tokens[0][0] == "name" and tokens[1][1] == "="]


def _parse_statements(statements: list, text: str, given: frozenset[str]) -> tuple:
    targets = frozenset(_statement_targets(statements))
    parser = _ExpressionParser(text, given, targets)
    result = []
    for position, (line, tokens) in enumerate(statements):
        if len(tokens) > MAX_STATEMENT_TOKENS:
            raise LimitError(
                f"line {line}: a statement has more than {MAX_STATEMENT_TOKENS:,} tokens; "
                "write it as several named statements"
            )
        target = None
        if len(tokens) > 1 and tokens[0][0] == "name" and tokens[1][1] == "=":
            target = tokens[0][1]
            if target in parser.assigned:
                raise ParseError(
                    f"line {line}: {target!r} is assigned twice (first on line "
                    f"{parser.assigned[target]}); give each step its own name"
                )
            tokens = tokens[2:]
            if not tokens:
                raise ParseError(f"line {line}: nothing after '{target} ='")
        elif position != len(statements) - 1:
            raise ParseError(
                f"line {line}: only the last statement may be a bare expression; "
                "name this one ('name = ...')"
            )
        tree = parser.parse(tokens, line)
        if target is not None:
            parser.assigned[target] = line
        result.append(Statement(target, tree, line))
    if not result:
        raise ParseError("the expression is empty")
    return tuple(result), frozenset(parser.names)


class _ExpressionParser:
    """Operator-precedence parser (shunting-yard) over checked tokens; no recursion.

    Precedence follows Python and mathematics: `+ -` < `* /` < unary `-` < `**` (right
    associative), so `-x**2` is `-(x**2)` and `2**-x` is `2**(-x)`.
    """

    def __init__(self, text: str, given: frozenset[str], targets: frozenset[str]) -> None:
        self.text = text
        self.given = given
        user_names = given | targets
        self.user_names = user_names
        self.targets = targets
        self.assigned: dict[str, int] = {}
        self.names: set[str] = set()

    def where(self, pos: int) -> str:
        return _where(self.text, pos)

    def parse(self, tokens: list, line: int) -> tuple:
        out: list[tuple] = []
        stack: list[list] = []  # [kind, op, precedence, position, argument count]
        self.depth = 0
        expect_operand = True
        previous_kind = None
        count = len(tokens)
        i = 0
        while i < count:
            kind, value, pos = tokens[i]
            if expect_operand:
                if kind == "num":
                    out.append(self._constant(value, pos))
                    expect_operand = False
                elif kind == "name":
                    following = tokens[i + 1][1] if i + 1 < count else None
                    if following == "(" and self._is_call(value, pos):
                        if i + 2 < count and tokens[i + 2][1] == ")":
                            raise ParseError(f"{value}() needs at least one argument "
                                             f"({self.where(pos)})")
                        self._push(stack, ["call", value, 0, pos, 1, tokens[i + 1][2]])
                        i += 1
                    else:
                        out.append(self._name(value, pos))
                        expect_operand = False
                elif value == "(":
                    self._push(stack, ["paren", None, 0, pos, 0])
                elif value == "[":
                    i = self._literal(tokens, i, out)
                    expect_operand = False
                    previous_kind = "num"
                    continue
                elif value == "-" or value == "+":
                    stack.append(["prefix", "neg" if value == "-" else "pos", _PREFIX_PRECEDENCE,
                                  pos, 1])
                else:
                    raise ParseError(self._unexpected(value, pos))
            elif kind == "num" or kind == "name" or value == "(":
                if kind == "num" and previous_kind == "num":
                    raise ParseError(f"two numbers in a row at {self.where(pos)}; add an operator")
                if kind == "num" and value.startswith("."):
                    raise ParseError(f"{value!r} right after an operand at {self.where(pos)} "
                                     f"is ambiguous; write *0{value} or a full number")
                self._binary("mul", stack, out)
                expect_operand = True
                previous_kind = None
                continue
            elif value == "[":
                i = self._subscript(tokens, i, out)
                previous_kind = None
                continue
            elif kind == "sup":
                self._binary("pow", stack, out)
                out.append(self._constant(value, pos))
            elif value in _BINARY:
                self._binary(_BINARY[value], stack, out)
                expect_operand = True
            elif value == ",":
                self._comma(stack, out, pos)
                expect_operand = True
            elif value == ")":
                self._close(stack, out, pos)
            elif value == "=":
                inside_call = any(entry[0] == "call" for entry in stack)
                raise ParseError(
                    f"keyword arguments are not allowed ('=' at {self.where(pos)})" if inside_call
                    else f"'=' may only follow a name at the start of a statement "
                         f"({self.where(pos)})"
                )
            else:
                raise ParseError(self._unexpected(value, pos))
            previous_kind = kind
            i += 1
        if expect_operand:
            last = tokens[-1]
            raise ParseError(f"the expression ends with {last[1]!r} ({self.where(last[2])}); "
                             "something is missing after it")
        while stack:
            entry = stack.pop()
            if entry[0] == "paren":
                raise ParseError(f"'(' at {self.where(entry[3])} is not closed")
            if entry[0] == "call":  # entry[3] is where the function's name starts
                raise ParseError(f"'(' of {entry[1]}( at {self.where(entry[5])} is not closed")
            _reduce(entry, out)
        return out[0]

    def _literal(self, tokens: list, i: int, out: list) -> int:
        """`[1, 2]` or `[[1, 2], [3, 4]]` (rows): numbers separated by commas only, rank 1
        or 2; returns the position after the closing bracket."""
        start = tokens[i][2]
        rows: list = []
        stack: list[list] = []
        k = i
        sign = ""
        expect_item = True  # after '[' or ',': a number, a sign or a row; else ',' or ']'
        while k < len(tokens):
            kind, value, pos = tokens[k]
            k += 1
            if value == "[" and expect_item and not sign:
                if len(stack) == 2:
                    raise ParseError(f"arrays have at most two dimensions ('[' at "
                                     f"{self.where(pos)})")
                stack.append([])
            elif value == "]" and not sign and (not expect_item or not stack[-1]):
                done = stack.pop()
                if not done:
                    raise ParseError(f"empty brackets at {self.where(pos)}; an array needs "
                                     "numbers")
                expect_item = False
                if not stack:
                    rows = done
                    break
                stack[-1].append(done)
            elif value in ("-", "+") and expect_item and not sign:
                sign = value
            elif kind == "num" and expect_item:
                number = float(sign + value)
                if not math.isfinite(number):
                    raise ParseError(f"number {value[:20]!r} at {self.where(pos)} is too large "
                                     "for float64")
                if underflows(value, number):
                    raise ParseError(f"number {value[:20]!r} at {self.where(pos)} {TOO_SMALL}")
                stack[-1].append(number)
                sign = ""
                expect_item = False
            elif value == "," and not expect_item:
                expect_item = True
            elif value == ")":
                raise ParseError(f"'[' at {self.where(start)} is not closed before ')' at "
                                 f"{self.where(pos)}")
            elif kind == "num" or value in (",", "]", "[", "-", "+"):
                raise ParseError(f"{value!r} at {self.where(pos)} is out of place: an array "
                                 "is numbers separated by commas, as in [1, -2.5] or "
                                 "[[1, 2], [3, 4]]")
            else:
                raise ParseError(f"square brackets hold numbers only, as in [1, -2.5] or "
                                 f"[[1, 2], [3, 4]]; {value!r} at {self.where(pos)} is not "
                                 "one (name the array's values with --NAME VALUE instead)")
        else:
            raise ParseError(f"'[' at {self.where(start)} is not closed")
        out.append(array_constant(rows, self.where(start)))
        return k

    def _subscript(self, tokens: list, i: int, out: list) -> int:
        """`v[i]` or `A[i, j]`: whole-number indices (negative count from the end)."""
        start = tokens[i][2]
        indices: list[tuple] = []
        sign = ""
        expect_index = True
        k = i + 1
        while k < len(tokens):
            kind, value, pos = tokens[k]
            k += 1
            if value == "]" and not expect_index:
                break
            if value == "-" and not sign and expect_index:
                sign = "-"
            elif kind == "num" and re.fullmatch(r"[0-9]+", value) and expect_index:
                indices.append(("const", float(sign + value), sign + value))
                sign = ""
                expect_index = False
            elif value == "," and not expect_index:
                expect_index = True
            else:
                raise ParseError(f"an index is a whole number, and two are separated by a "
                                 f"comma, as in v[0] or A[1, -1]; {value!r} at "
                                 f"{self.where(pos)} is out of place")
        else:
            raise ParseError(f"'[' at {self.where(start)} is not closed")
        if not 1 <= len(indices) <= 2:
            raise ParseError(f"write one index for a vector or two for a matrix "
                             f"({self.where(start)})")
        operand = out.pop()
        if operand[0] == "const" and not isinstance(operand[1], float):
            raise ParseError(f"two arrays in a row at {self.where(start)}: put an operator or "
                             "a comma between them")
        if operand[0] == "const":
            raise ParseError(f"a number cannot be indexed ({self.where(start)})")
        out.append(("call", "index", (operand, *indices)))
        return k

    def _constant(self, text: str, pos: int) -> tuple:
        number = float(text)
        if not math.isfinite(number):
            raise ParseError(f"number {text[:20]!r} at {self.where(pos)} is too large for float64")
        if underflows(text, number):
            raise ParseError(f"number {text[:20]!r} at {self.where(pos)} {TOO_SMALL}")
        return ("const", number, text)

    def _push(self, stack: list, entry: list) -> None:
        stack.append(entry)
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise LimitError(f"parentheses nest deeper than {MAX_NESTING} "
                             f"({self.where(entry[3])})")

    def _is_call(self, name: str, pos: int) -> bool:
        # A one-letter name is never a function, so x(3x + 1) is a product as in handwriting.
        if name in self.user_names or name == "lambda" or len(name) == 1 or name in CONSTANTS:
            return False
        if name in CALLED_NAMES:
            return True
        if ops.lookup(name, missing_ok=True) is None:
            raise ParseError(ops.unknown_function_message(name) + f" ({self.where(pos)})")
        return True

    def _name(self, name: str, pos: int) -> tuple:
        self.names.add(name)
        if name in self.assigned:
            return ("ref", name)
        if name in self.targets:
            if name in self.given:
                raise ParseError(f"{name!r} is given a value and also assigned by a statement; "
                                 f"rename one of them ({self.where(pos)})")
            raise ParseError(f"{name!r} is used before it is assigned ({self.where(pos)})")
        if name in self.user_names:
            return ("var", name)
        if name in CONSTANTS:
            return ("const", CONSTANTS[name], name)
        # Only the op table is consulted here: asking SymPy about every free name would import
        # it (~0.4 s) on every run. A bare SymPy function name is then a missing variable.
        if name != "lambda" and ops.is_table_function(name):
            after = self.text[pos + len(name):].lstrip(" \t")
            power = re.match(r"(\^|\*\*)\s*(\d+(?:\.\d+)?)|([²³⁴⁵⁶⁷⁸⁹]+)", after)
            if power:  # sin^2(x), sin²(x): the power of the function's value
                exponent = "^" + power[2] if power[2] else power[3]
                raise ParseError(f"{name}{exponent}(...) is not read as a power of {name}: "
                                 f"write {name}(x){exponent} ({self.where(pos)})")
            raise ParseError(f"{name!r} is a function: call it as {name}(...), or give "
                             f"--{name} VALUE to use it as a variable ({self.where(pos)})")
        return ("var", name)

    def _unexpected(self, value: str, pos: int) -> str:
        if value == ")":
            return f"')' at {self.where(pos)} has nothing before it"
        if value == ",":
            return f"',' at {self.where(pos)} has nothing before it"
        if value == "=":
            return f"'=' at {self.where(pos)} is not allowed here"
        return f"{value!r} at {self.where(pos)} needs a number, name or '(' before it"

    def _binary(self, op: str, stack: list, out: list) -> None:
        precedence = _PRECEDENCE[op]
        right_associative = op == "pow"
        while stack:
            top = stack[-1]
            if top[0] in ("paren", "call"):
                break
            if top[2] > precedence or (top[2] == precedence and not right_associative):
                _reduce(stack.pop(), out)
            else:
                break
        stack.append(["binary", op, precedence, 0, 2])

    def _comma(self, stack: list, out: list, pos: int) -> None:
        while stack and stack[-1][0] not in ("paren", "call"):
            _reduce(stack.pop(), out)
        if not stack or stack[-1][0] != "call":
            raise ParseError(f"tuples are not allowed (',' outside a function call at "
                             f"{self.where(pos)})")
        stack[-1][4] += 1

    def _close(self, stack: list, out: list, pos: int) -> None:
        while stack and stack[-1][0] not in ("paren", "call"):
            _reduce(stack.pop(), out)
        if not stack:
            raise ParseError(f"')' at {self.where(pos)} has no matching '('")
        entry = stack.pop()
        self.depth -= 1
        if entry[0] == "call":
            count = entry[4]
            args = tuple(out[len(out) - count:])
            del out[len(out) - count:]
            tensor = tensor_call(entry[1], count)
            if tensor is not None:
                out.append(("call", tensor, args))
                return
            arities = tensor_arities(entry[1])
            if arities and ops.lookup(entry[1], missing_ok=True) is None:
                allowed = " or ".join(str(n) for n in arities)
                raise ParseError(f"{entry[1]}() takes {allowed} argument"
                                 f"{'' if arities == (1,) else 's'}, not {count} "
                                 f"({self.where(entry[3])})")
            try:
                op, defaults = ops.resolve(entry[1], count)
            except ParseError as error:
                raise ParseError(f"{error.message} ({self.where(entry[3])})") from None
            out.append(("call", op.name, args + tuple(("const", value, text)
                                                      for value, text in defaults)))


@dataclass(frozen=True)
class ArrayLiteral:
    """The numbers of an array literal, as nested tuples (hashable, so a literal used twice
    is one node)."""

    rows: tuple

    def array(self):
        import numpy as np

        return np.array(self.rows, dtype=float)


def array_constant(rows: list, where: str) -> tuple:
    """The constant tree of an array literal: its value and its text as written."""
    if all(isinstance(row, list) for row in rows):
        widths = {len(row) for row in rows}
        if len(widths) != 1:
            raise ParseError(f"the rows of the array at {where} differ in length "
                             f"({', '.join(str(len(row)) for row in rows)})")
        value = tuple(tuple(row) for row in rows)
        text = "[" + ", ".join("[" + ", ".join(f"{v:g}" for v in row) + "]" for row in rows) + "]"
    elif any(isinstance(row, list) for row in rows):
        raise ParseError(f"the array at {where} mixes numbers and rows")
    else:
        value = tuple(rows)
        text = "[" + ", ".join(f"{v:g}" for v in rows) + "]"
    if len(text) > MAX_STATEMENT_CHARS or sum(
            len(row) if isinstance(row, tuple) else 1 for row in value) > MAX_ARRAY_ELEMENTS:
        raise LimitError(f"the array at {where} is too large to write in the program; give it "
                         "with --values FILE.json or --data FILE.csv")
    return ("const", ArrayLiteral(value), text)


def _reduce(entry: list, out: list) -> None:
    if entry[0] == "prefix":
        operand = out.pop()
        if entry[1] == "pos":
            out.append(operand)
        elif operand[0] == "const" and _is_literal(operand[2]):
            out.append(_negate(operand))
        else:
            out.append(("neg", operand))
        return
    right = out.pop()
    left = out.pop()
    out.append((entry[1], left, right))


def _is_literal(text: str) -> bool:
    """A number as written (not a named constant such as pi), possibly already negated."""
    return text.lstrip("-")[:1] in "0123456789." and text.lstrip("-") != ""


def _negate(constant: tuple) -> tuple:
    text = constant[2]
    return ("const", -constant[1], text[1:] if text.startswith("-") else "-" + text)


def _free_names(tree: tuple) -> set[str]:
    free = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        kind = node[0]
        if kind in ("var", "ref"):
            free.add(node[1])
        elif kind == "call":
            stack.extend(node[2])
        elif kind != "const":
            stack.extend(node[1:])
    return free


def format_program(program: Program) -> str:
    """The program as the parser read it, one statement per line."""
    return "\n".join([statement.text() for statement in program.statements])
