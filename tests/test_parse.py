"""The parser on its own: text → checked trees, and every way text can be refused.

Trees are checked two ways: by their shape, printed fully parenthesised by the helper below, and
by their value, computed by a tiny evaluator and compared with the same formula written in
Python (the oracle), so a precedence mistake cannot hide behind a matching snapshot.
"""

from __future__ import annotations

import math
import time
import unicodedata

import pytest

from backprop_cli.api import grad
from backprop_cli.errors import BackpropError, LimitError, ParseError
from backprop_cli.parse import parse_constant, parse_program

FUNCTIONS = {"sin": math.sin, "cos": math.cos, "tanh": math.tanh, "exp": math.exp,
             "log": math.log, "sqrt": math.sqrt}
BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


def single(text: str, given=()) -> tuple:
    """The tree of a one-statement program."""
    program = parse_program(text, given=set(given))
    assert len(program.statements) == 1
    assert program.statements[0].target is None
    return program.statements[0].tree


def shape(tree: tuple) -> str:
    """A tree printed with every operation in parentheses: (2**(-x))."""
    kind = tree[0]
    if kind in ("var", "ref"):
        return tree[1]
    if kind == "const":
        return tree[2]
    if kind == "call":
        return f"{tree[1]}({', '.join(shape(a) for a in tree[2])})"
    if kind == "neg":
        return f"(-{shape(tree[1])})"
    return f"({shape(tree[1])}{BINARY[kind]}{shape(tree[2])})"


def leaves(tree: tuple) -> set[tuple[str, str]]:
    """(kind, name) of every leaf: ('var', 'x'), ('ref', 'e'), ('const', 'pi')."""
    kind = tree[0]
    if kind in ("var", "ref"):
        return {(kind, tree[1])}
    if kind == "const":
        return {(kind, tree[2])}
    children = tree[2] if kind == "call" else tree[1:]
    return set().union(*(leaves(child) for child in children))


def value(tree: tuple, env: dict[str, float], defined: dict[str, float] | None = None) -> float:
    """Evaluate a tree of the documented tuple grammar."""
    kind = tree[0]
    if kind == "const":
        return tree[1]
    if kind == "var":
        return env[tree[1]]
    if kind == "ref":
        return (defined or {})[tree[1]]
    if kind == "call":
        return FUNCTIONS[tree[1]](*(value(a, env, defined) for a in tree[2]))
    if kind == "neg":
        return -value(tree[1], env, defined)
    left, right = value(tree[1], env, defined), value(tree[2], env, defined)
    if kind == "add":
        return left + right
    if kind == "sub":
        return left - right
    if kind == "mul":
        return left * right
    if kind == "div":
        return left / right
    assert kind == "pow", tree
    return left**right


def run(text: str, env: dict[str, float], given=None) -> float:
    """Evaluate a whole program; the last statement is the output."""
    program = parse_program(text, given=set(env if given is None else given))
    defined: dict[str, float] = {}
    result = math.nan
    for statement in program.statements:
        result = value(statement.tree, env, defined)
        if statement.target is not None:
            defined[statement.target] = result
    return result


def refuse(text: str, error: type[BackpropError] = ParseError, given=()) -> str:
    """Parse `text`, expect `error`, and return its message."""
    with pytest.raises(error) as caught:
        parse_program(text, given=set(given))
    message = str(caught.value)
    assert message and "\n" not in message
    return message


X, Y = 0.7, 1.3


# ---------------------------------------------------------------------------------------------
# Precedence and associativity


@pytest.mark.parametrize(
    ("text", "expected_shape", "oracle"),
    [
        ("-x**2", "(-(x**2))", lambda x, y: -(x**2)),
        ("2**-x", "(2**(-x))", lambda x, y: 2 ** (-x)),
        ("2^3^x", "(2**(3**x))", lambda x, y: 2 ** (3**x)),
        ("2**3**x", "(2**(3**x))", lambda x, y: 2 ** (3**x)),
        ("(2^3)^x", "((2**3)**x)", lambda x, y: (2**3) ** x),
        ("x^2", "(x**2)", lambda x, y: x**2),
        ("x**-y**2", "(x**(-(y**2)))", lambda x, y: x ** (-(y**2))),
        ("1 - x - y", "((1-x)-y)", lambda x, y: (1 - x) - y),
        ("x / y / 2", "((x/y)/2)", lambda x, y: (x / y) / 2),
        ("x + y*2", "(x+(y*2))", lambda x, y: x + y * 2),
        ("(x + y)*2", "((x+y)*2)", lambda x, y: (x + y) * 2),
        ("x*y**2", "(x*(y**2))", lambda x, y: x * y**2),
        ("-x + y", "((-x)+y)", lambda x, y: -x + y),
    ],
)
def test_precedence_follows_python_and_mathematics(text, expected_shape, oracle):
    tree = single(text)
    assert shape(tree) == expected_shape
    assert value(tree, {"x": X, "y": Y}) == pytest.approx(oracle(X, Y), rel=1e-15)


@pytest.mark.parametrize(
    ("text", "oracle"),
    [
        ("-2**2", -4.0),
        ("2**-1", 0.5),
        ("-x*y", -X * Y),
        ("x - -y", X + Y),
        ("+x", X),
        ("2*-3", -6.0),
        ("2^-2^2", 2 ** (-(2**2))),
        ("sin(x)**2 + cos(x)^2", 1.0),
    ],
)
def test_values_match_python(text, oracle):
    assert value(single(text), {"x": X, "y": Y}) == pytest.approx(oracle, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "number"),
    [("1e3", 1000.0), (".5", 0.5), ("2.", 2.0), ("2.5E-1", 0.25), ("007", 7.0)],
)
def test_number_literals(text, number):
    assert value(single(text), {}) == number


def test_number_too_large_for_float64_is_refused():
    assert "too large" in refuse("x * 1e999")


# ---------------------------------------------------------------------------------------------
# Conveniences: implicit multiplication, superscripts, Greek names


@pytest.mark.parametrize(
    ("text", "expected_shape", "oracle"),
    [
        ("2x", "(2*x)", lambda x, y: 2 * x),
        ("2 sin(x)", "(2*sin(x))", lambda x, y: 2 * math.sin(x)),
        ("3(x + 1)", "(3*(x+1))", lambda x, y: 3 * (x + 1)),
        ("x y", "(x*y)", lambda x, y: x * y),
        ("2x y", "((2*x)*y)", lambda x, y: 2 * x * y),
        ("(x + 1)(y - 1)", "((x+1)*(y-1))", lambda x, y: (x + 1) * (y - 1)),
        ("x²", "(x**2)", lambda x, y: x**2),
        ("x³ + y", "((x**3)+y)", lambda x, y: x**3 + y),
        ("2x²", "(2*(x**2))", lambda x, y: 2 * x**2),
        ("x²y", "((x**2)*y)", lambda x, y: x**2 * y),
        ("x/2y", "((x/2)*y)", lambda x, y: x / 2 * y),
    ],
)
def test_implicit_multiplication_and_superscripts(text, expected_shape, oracle):
    tree = single(text)
    assert shape(tree) == expected_shape
    assert value(tree, {"x": X, "y": Y}) == pytest.approx(oracle(X, Y), rel=1e-15)


def test_digits_after_letters_are_part_of_the_name():
    assert single("x2") == ("var", "x2")
    assert leaves(single("w1*x1 + b")) == {("var", "w1"), ("var", "x1"), ("var", "b")}


def test_two_numbers_in_a_row_are_refused():
    assert "two numbers" in refuse("2 3")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("θ1 + θ2", {"θ1", "θ2"}),
        ("α*x + β", {"α", "x", "β"}),
        ("σ²", {"σ"}),
        ("lambda * x", {"lambda", "x"}),
        ("λ**2 + μ", {"λ", "μ"}),
    ],
)
def test_greek_letters_and_lambda_are_variable_names(text, names):
    assert leaves(single(text)) - {("const", "2")} == {("var", n) for n in names}


def test_lambda_is_a_variable_when_given():
    assert single("lambda*x", given={"lambda", "x"}) == ("mul", ("var", "lambda"), ("var", "x"))


# ---------------------------------------------------------------------------------------------
# Names: the user's names win over constants and built-in functions


def test_statement_named_e_is_the_users_e_not_eulers_number():
    program = parse_program("e = y - t; l = e**2")
    assert [s.target for s in program.statements] == ["e", "l"]
    assert leaves(program.statements[1].tree) == {("ref", "e"), ("const", "2")}
    assert run("e = y - t; l = e**2", {"y": 3.0, "t": 1.0}) == 4.0


def test_e_and_pi_are_constants_unless_given():
    assert value(single("e"), {}) == math.e
    assert value(single("E"), {}) == math.e
    assert value(single("pi/4"), {}) == math.pi / 4
    assert single("e*2", given={"e"}) == ("mul", ("var", "e"), ("const", 2.0, "2"))
    assert leaves(single("pi + E", given={"pi", "E"})) == {("var", "pi"), ("var", "E")}


@pytest.mark.parametrize("names", [("beta", "gamma"), ("E", "S")])
def test_names_of_sympy_things_are_variables_when_given(names):
    a, b = names
    tree = single(f"{a} + {b}", given=set(names))
    assert tree == ("add", ("var", a), ("var", b))
    assert run(f"{a} + {b}", {a: 2.0, b: 5.0}) == 7.0


def test_a_given_name_followed_by_parenthesis_multiplies():
    assert single("gamma(x + 1)", given={"gamma", "x"}) == (
        "mul", ("var", "gamma"), ("add", ("var", "x"), ("const", 1.0, "1")))


def test_a_statement_may_be_named_like_a_function():
    program = parse_program("exp = x + 1; out = exp*2")
    assert leaves(program.statements[1].tree) == {("ref", "exp"), ("const", "2")}
    assert run("exp = x + 1; out = exp*2", {"x": 1.0}) == 4.0


def test_function_name_without_call_is_explained():
    # A table function used bare is refused at once; a SymPy function name (gamma, beta) is a
    # variable, as the issue asks, and a missing value for it says it is also a function.
    message = refuse("tanh + 1")
    assert "'tanh'" in message and "function" in message
    from backprop_cli import grad

    with pytest.raises(BackpropError) as caught:
        grad("gamma + 1")
    assert "'gamma'" in caught.value.message and "function" in caught.value.message
    assert grad("gamma + 1", {"gamma": 2}).value == 3.0


# ---------------------------------------------------------------------------------------------
# Programs: statements, separators and comments


def test_newlines_semicolons_and_comments():
    text = ("a = x  # the input\n"
            "# a whole-line comment\n"
            "\n"
            "b = a*2; c = b + y\n"
            "c - 1  # the output\n")
    program = parse_program(text)
    assert [s.target for s in program.statements] == ["a", "b", "c", None]
    assert [s.line for s in program.statements] == [1, 4, 4, 5]
    assert run(text, {"x": X, "y": Y}) == pytest.approx(2 * X + Y - 1, rel=1e-15)


def test_trailing_and_doubled_separators_are_harmless():
    program = parse_program("a = x;; b = a*2;\n\n")
    assert [s.target for s in program.statements] == ["a", "b"]


def test_hash_inside_an_expression_starts_a_comment():
    assert single("x + y # + z") == ("add", ("var", "x"), ("var", "y"))


def test_named_steps_of_a_neuron():
    text = "z = w*x + b\na = sigmoid(z)\nL = (a - t)**2"
    program = parse_program(text)
    assert [s.target for s in program.statements] == ["z", "a", "L"]
    assert program.statements[1].tree == ("call", "sigmoid", (("ref", "z"),))
    assert leaves(program.statements[2].tree) == {("ref", "a"), ("var", "t"), ("const", "2")}


# ---------------------------------------------------------------------------------------------
# Errors for people


def test_used_before_assigned():
    message = refuse("a = b*2\nb = x")
    assert "'b'" in message and "before it is assigned" in message


def test_self_reference_is_used_before_assigned():
    assert "before it is assigned" in refuse("x = x + 1")


def test_assigned_twice():
    message = refuse("a = x\na = y")
    assert "'a'" in message and "assigned twice" in message


def test_bare_expression_must_be_last():
    message = refuse("x + 1; a = x")
    assert "only the last statement" in message


def test_nothing_after_equals():
    assert "nothing after" in refuse("a = ; b = 1")


def test_unknown_function():
    message = refuse("foo(x)")
    assert "unknown function 'foo'" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("sin(x, y)", "not 2"),
        ("sum(x, 0, 1)", "takes 1 or 2 arguments, not 3"),
        ("dot(x)", "takes 2 arguments, not 1"),
        ("log(x, 2, 3)", "not 3"),
        ("sin()", "at least one argument"),
    ],
)
def test_wrong_arity(text, fragment):
    message = refuse(text)
    assert text.split("(")[0] in message and fragment in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("(x + 1", "not closed"),
        ("sin(x", "not closed"),
        ("a = (x; b = 1", "not closed"),
        ("x + 1)", "no matching"),
        ("x +", "ends with '+'"),
        ("* x", "needs a number"),
    ],
)
def test_unbalanced_or_incomplete(text, fragment):
    assert fragment in refuse(text)


@pytest.mark.parametrize("text", ["2*sin(x", "exp(sin(x)", "exp (x", "(x + 1", "2*(x + 1",
                                  "tanh(x) + log((x)"])
def test_an_open_parenthesis_is_named_at_its_own_column(text):
    """The column is that of the '(' left open (the last one whose ')' never comes), not of
    the function's name before it."""
    open_at = []
    for k, char in enumerate(text):
        if char == "(":
            open_at.append(k)
        elif char == ")":
            open_at.pop()
    assert f"column {open_at[-1] + 1} is not closed" in refuse(text)


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "# only a comment", ";;", " ; \n # c"])
def test_empty_input(text):
    assert "empty" in refuse(text)


def test_errors_in_programs_name_the_line():
    assert "line 3" in refuse("a = x\nb = a\nc = foo(b)")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("x.real", "attribute"),
        ("x[y]", "an index is a whole number"),
        ("'a'", "string"),
        ('"a"', "string"),
        ("{x}", "braces"),
        ("lambda: 1", "lambda"),
        ("[x for x in y]", "'for' is a Python keyword"),
        ("x < y", "comparisons"),
        ("x == y", "comparisons"),
        ("x if y else 1", "keyword"),
        ("log(x, base=2)", "keyword arguments"),
        ("(x, y)", "tuples"),
        ("__import__(x)", "'__'"),
        ("x % 2", "not an allowed operator"),
        ("x\\\n+1", "backslash"),
    ],
)
def test_python_constructs_are_refused_by_name(text, fragment):
    assert fragment in refuse(text)


# ---------------------------------------------------------------------------------------------
# Look-alike and invisible characters


@pytest.mark.parametrize(
    "char",
    [
        "\uff58",  # FULLWIDTH LATIN SMALL LETTER X
        "\u0445",  # CYRILLIC SMALL LETTER HA, drawn like x
        "\u0391",  # GREEK CAPITAL LETTER ALPHA, drawn like A
        "\u039f",  # GREEK CAPITAL LETTER OMICRON, drawn like O
        "\u0430",  # CYRILLIC SMALL LETTER A
    ],
)
def test_look_alike_letters_are_refused_naming_the_character(char):
    for text in (f"{char} + 1", f"x*{char}", f"a{char}b + 1"):
        message = refuse(text, given={"x"})
        assert "look-alike" in message
        assert unicodedata.name(char) in message



@pytest.mark.parametrize(("text", "letter"), [("2\u02e3", "x"), ("e\u207f", "n")])
def test_a_superscript_letter_points_to_a_power(text, letter):
    """2ˣ was told "type 'x' instead", which gives 2x, a product, where 2 to the x was
    meant."""
    message = refuse(text, given={"x", "n"})
    assert f"write a power as ^{letter} or **{letter} (2{text[-1]} is 2^{letter}), or type " \
           f"{letter!r} for the letter itself" in message


def test_look_alike_digit_is_refused():
    message = refuse("x + \u0661")  # ARABIC-INDIC DIGIT ONE
    assert unicodedata.name("\u0661") in message


@pytest.mark.parametrize("char", ["\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad"])
def test_invisible_characters_are_refused(char):
    message = refuse(f"x{char}y + 1")
    assert "invisible" in message and f"U+{ord(char):04X}" in message


def test_unicode_operators_are_accepted():
    assert shape(single("x × y − 2 ÷ x · y")) == "((x*y)-((2/x)*y))"


# ---------------------------------------------------------------------------------------------
# Limits: clear errors, quickly


def test_statement_over_ten_thousand_characters():
    text = "x + " * 2_500 + "x"
    assert len(text) > 10_000
    message = refuse(text, LimitError)
    assert "10,000" in message


def test_statement_at_the_character_limit_is_fine_in_a_program():
    statements = [f"a{i} = x*{i}" for i in range(2_000)]
    program = parse_program("\n".join(statements))
    assert len(program.statements) == 2_000


def test_statement_with_too_many_tokens():
    text = "x+" * 1_500 + "x"
    assert len(text) < 10_000
    assert "tokens" in refuse(text, LimitError)


@pytest.mark.parametrize("opening", ["(", "sin("])
def test_nesting_over_one_hundred(opening):
    depth = 101
    text = opening * depth + "x" + ")" * depth
    assert "nest" in refuse(text, LimitError)


def test_nesting_of_one_hundred_is_allowed():
    text = "(" * 100 + "x" + ")" * 100
    assert single(text) == ("var", "x")


def test_a_megabyte_expression_is_refused_quickly():
    text = "x+" * 500_000 + "x"
    start = time.perf_counter()
    refuse(text, LimitError)
    # A guard against a hang or quadratic work, not a benchmark: the real figure is ~0.02 s.
    assert time.perf_counter() - start < 1.0


def test_a_megabyte_of_nesting_is_refused_quickly():
    start = time.perf_counter()
    refuse("(" * 1_000_000, LimitError)
    assert time.perf_counter() - start < 1.0


# ---------------------------------------------------------------------------------------------
# Constants given on the command line


@pytest.mark.parametrize(
    ("text", "number"),
    [("pi/4", math.pi / 4), ("-2.5", -2.5), ("sqrt(2)", math.sqrt(2)), ("1/3", 1 / 3),
     ("2e-3", 0.002), ("e", math.e), ("-(1 + 2)^2", -9.0)],
)
def test_parse_constant(text, number):
    assert value(parse_constant(text), {}) == pytest.approx(number, rel=1e-15)


def test_parse_constant_refuses_variables():
    with pytest.raises(ParseError, match="constant"):
        parse_constant("x + 1")


def test_parse_constant_refuses_statements():
    with pytest.raises(ParseError, match="single expression"):
        parse_constant("a = 1")


@pytest.mark.parametrize(("text", "suggestion"), [
    ("tanhh(x)", "did you mean tanh?"), ("sigmod(x)", "did you mean sigmoid?"),
    ("tahn(x)", "did you mean tanh?"), ("sigmiod(x)", "did you mean sigmoid?"),
    ("sofmax(x)", "did you mean softmax?"), ("maen(x)", "did you mean mean?"),
    ("Sin(x)", "did you mean sin?"), ("log10(x)", "did you mean log(x, 10)?"),
    ("|x|", "for the absolute value write abs(x)"), ("x!", "for the factorial write factorial(x)"),
    ("σ(x)", "for the function write sigmoid(x)"),
])
def test_a_function_people_write_otherwise_gets_a_did_you_mean(text, suggestion):
    with pytest.raises(BackpropError) as caught:
        grad(text, {"x": 1.0})
    assert suggestion in caught.value.message


def test_several_missing_variables_are_named_in_one_message():
    with pytest.raises(BackpropError) as caught:
        grad("x*y*z + w", {"y": 1.0})
    assert caught.value.message.startswith("missing values for variables 'x', 'z', 'w'")


@pytest.mark.parametrize(("fraction", "value"), [("½", 0.5), ("⅓", 1 / 3), ("¾", 0.75),
                                                 ("⅛", 0.125)])
def test_a_vulgar_fraction_is_refused_with_a_fix_that_parses(fraction, value):
    """`x^½` suggested typing '1⁄2' (with U+2044, itself refused); x^1/2 would be x/2."""
    with pytest.raises(ParseError) as caught:
        parse_program(f"x^{fraction}")
    suggested = caught.value.message.split("type ", 1)[1].removesuffix(" instead")
    assert grad(f"x^{suggested}", {"x": 4.0}).value == pytest.approx(4.0 ** value, rel=1e-15)


@pytest.mark.parametrize(("text", "fix"), [
    ("x – y", "for minus type -"), ("√x", "for the square root write sqrt(x)"),
    ("math.exp(x)", "write exp(...) without 'math.'"),
    ("np.tanh(x)", "write tanh(...) without 'np.'"),
    ("sin^2(x)", "sin^2(...) is not read as a power of sin: write sin(x)^2"),
    ("sin²(x)", "sin²(...) is not read as a power of sin: write sin(x)²"),
    ("math.pi*x", "write pi without 'math.'"),
    ("sin^2.5(x)", "write sin(x)^2.5"),
])
def test_what_students_paste_is_refused_with_the_fix(text, fix):
    """An en dash, √, math.exp, math.pi and sin^2(x) were refused without saying what to
    write."""
    with pytest.raises(ParseError) as caught:
        parse_program(text)
    assert fix in caught.value.message, caught.value.message


@pytest.mark.parametrize(("written", "fixed"), [("sin^2(x)", "sin(x)^2"),
                                                ("sin²(x)", "sin(x)²")])
def test_the_fix_for_a_power_of_a_function_is_its_square(written, fixed):
    assert grad(fixed, {"x": 0.7}).value == pytest.approx(math.sin(0.7) ** 2, rel=1e-15)
