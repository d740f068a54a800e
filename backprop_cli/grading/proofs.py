"""SymPy's word on a derivative answer: a proof that the difference is 0, or the two sides at a
point to 30 digits. Both are time-limited; SymPy runs in this process under SIGALRM."""

from __future__ import annotations

from collections.abc import Mapping

from ..deadline import time_limit
from .problem import Problem

CONFIRM_SECONDS = 1.0
TIMED_OUT = "timed out"


def symbolic_equal(problem: Problem, seconds: float) -> bool | str:
    """True when SymPy proves d(expr)/d(wrt) - answer == 0 within `seconds`; False when it
    finds no proof; TIMED_OUT when it runs out of time."""
    try:
        with time_limit(seconds):
            import sympy

            from ..sympy_forms import to_sympy

            exprs = to_sympy(problem.expr)
            expression = exprs[problem.expr.output]
            answer = to_sympy(problem.answer)[problem.answer.output]
            # Statement names in the answer stand for the program's own expressions.
            ids = problem.expr.ids
            answer = answer.xreplace({sympy.Symbol(name, real=True): exprs[ids.index(name)]
                                      for name in problem.statements})
            difference = sympy.diff(expression, sympy.Symbol(problem.wrt, real=True)) - answer
            return sympy.simplify(difference) == 0
    except TimeoutError:
        return TIMED_OUT
    except (RecursionError, MemoryError, ArithmeticError, TypeError, ValueError,
            AttributeError, NotImplementedError):
        return False


def exact_sides(problem: Problem, point: Mapping[str, float]) -> tuple[float, float] | None:
    """The true derivative and the answer at the point to 30 digits (SymPy, time-limited), to
    tell a wrong answer from float64 rounding; None if SymPy cannot say in time."""
    try:
        with time_limit(CONFIRM_SECONDS):
            import sympy

            from ..sympy_forms import to_sympy

            exprs = to_sympy(problem.expr)
            ids = problem.expr.ids
            answer = to_sympy(problem.answer)[problem.answer.output].xreplace(
                {sympy.Symbol(name, real=True): exprs[ids.index(name)]
                 for name in problem.statements})
            if problem.wrt in problem.statements:
                return None
            derivative = sympy.diff(exprs[problem.expr.output],
                                    sympy.Symbol(problem.wrt, real=True))
            values = {sympy.Symbol(name, real=True): sympy.Rational(repr(value))
                      for name, value in point.items()}
            sides = [complex(e.xreplace(values).evalf(30)) for e in (derivative, answer)]
    except Exception:  # SymPy could not settle it in time: keep the float verdict
        return None
    if any(abs(side.imag) > 1e-12 * max(1.0, abs(side.real)) for side in sides):
        return None
    return sides[0].real, sides[1].real
