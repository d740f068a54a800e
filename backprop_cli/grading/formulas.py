"""Is this formula the derivative? Random points first (a counterexample decides), then
SymPy's proof."""

from __future__ import annotations

from ..errors import InputError, ParseError, did_you_mean, shortened
from ..graph import build_graph
from ..parse import parse_program
from .problem import Problem
from .proofs import TIMED_OUT, symbolic_equal
from .report import CORRECT, DIFFERS, INCORRECT, UNDETERMINED, Item
from .sampling import MIN_POINTS, compare_at_points


def check_derivative(expr: str, wrt: str, answer: str, *, symbolic_seconds: float = 2.0,
                     seed: int = 0, which: str = "the answer") -> Item:
    """Verdict on `answer` as d(expr)/d(wrt): at random points first, then symbolically.

    `wrt` may be a variable or a statement of the program (then the derivative is that node's
    adjoint), and the answer may use the program's statement names (h1, z, ...). An answer
    that cannot be read is a ParseError naming it (`which`, e.g. "answer 2")."""
    label = f"d/d{wrt} = {answer}"
    check_variable_name(wrt)
    program = parse_program(expr, given=frozenset({wrt}))
    statements = program.defined_names
    if wrt in statements:
        program = parse_program(expr)
    expr_graph = build_graph(program)
    if wrt not in statements and wrt not in expr_graph.variable_names:
        raise InputError(unknown_wrt(wrt, sorted(expr_graph.variable_names), sorted(statements)))
    names = set(expr_graph.variable_names) | ({wrt} - statements)
    try:
        answer_graph = build_graph(parse_program(answer, given=frozenset(names | statements)))
    except ParseError as error:
        raise ParseError(f"{which} to d/d{wrt}, {shortened(answer, 40)!r}: {error.message}"
                         ) from None
    problem = Problem(expr_graph, answer_graph, wrt, statements)
    # The numbers first: a wrong answer shows at a random point in milliseconds, where SymPy's
    # simplify would spend tens of them before failing to prove it; SymPy's time goes to the
    # answers the numbers call right (a proof) or cannot decide.
    variables = sorted(names | (set(answer_graph.variable_names) - statements))
    agreed, counterexample = compare_at_points(problem, variables, seed)
    if counterexample is not None:
        foreign = [name for name in answer_graph.variable_names
                   if name not in names and name not in statements]
        return Item("derivative", label, INCORRECT, expected=counterexample["expected"],
                    given=counterexample["given"], counterexample=counterexample,
                    reason=foreign_name(foreign[0], sorted(names), sorted(statements))
                    if foreign else DIFFERS)
    proof = None if wrt in statements else symbolic_equal(problem, symbolic_seconds)
    if proof is True:
        return Item("derivative", label, CORRECT, reason="SymPy: the difference simplifies to 0")
    if agreed >= MIN_POINTS:
        return Item("derivative", label, CORRECT,
                    reason=f"agrees with the true derivative at {agreed} random points")
    symbolic = {None: "the derivative is taken at a program node, so SymPy was not asked",
                False: "SymPy found no proof",
                TIMED_OUT: f"SymPy did not finish in {symbolic_seconds:g} s"}[proof]
    return Item("derivative", label, UNDETERMINED,
                reason=f"{symbolic}, and only {agreed} points inside the domain of both sides "
                       "were found")


def foreign_name(name: str, variables: list[str], statements: list[str]) -> str:
    """Why an answer with a name the problem does not have (X for x, yx for y*x) is wrong,
    beside the point where it differs."""
    known = variables + statements
    product = _as_product(name, set(known))
    hint = f": {name!r} is one name; write {'*'.join(product)} for a product" if product \
        else did_you_mean(name, known)
    listed = f"variables: {', '.join(variables) or 'none'}"
    if statements:
        listed += f"; statements: {', '.join(statements)}"
    return f"your answer uses {name!r}, which the problem does not have ({listed}){hint}"


def _as_product(name: str, known: set[str]) -> list[str] | None:
    """`name` cut into two or more of the `known` names (yx into y, x), or None."""
    found: dict[int, list[str]] = {0: []}
    for end in range(1, len(name) + 1):
        for start in range(end):
            if start in found and name[start:end] in known:
                found[end] = [*found[start], name[start:end]]
                break
    parts = found.get(len(name))
    return parts if parts is not None and len(parts) > 1 else None


def unknown_wrt(wrt: str, variables: list[str], statements: list[str]) -> str:
    """Why a derivative by `wrt` cannot be graded: the program has no such name."""
    import difflib

    known = variables + statements
    close = difflib.get_close_matches(wrt, known, n=1, cutoff=0.6) or [
        name for name in known if name.lower() == wrt.lower()][:1]
    hint = f"; did you mean {close[0]}?" if close else ""
    listed = f"variables: {', '.join(variables) or 'none'}"
    if statements:
        listed += f"; statements: {', '.join(statements)}"
    return (f"cannot take d/d{wrt}: the program has no variable or statement {wrt!r} "
            f"({listed}{hint})")


def check_variable_name(name: str) -> None:
    if not name.isidentifier():
        raise InputError(f"--wrt {name!r} is not a variable name")
