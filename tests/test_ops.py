"""Every op of the table, generated from its entry, against independent oracles.

The oracles are the entry's textbook `definition` read by SymPy (values and `sympy.diff`) and
central finite differences of the float64 forward. Each op is checked at its test points on
every backend (float64, NumPy, exact SymPy, the symbolic trace), through every mode (grad,
forward, Hessian, sweep, exact, explain, LaTeX), and at its documented kink conventions. Adding
an op to the table adds it to every test here; nothing in this file names an op.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from op_oracles import (
    ATOL_FD,
    ATOL_SYMPY,
    RTOL_FD,
    RTOL_SYMPY,
    arguments,
    at_point,
    central_difference,
    close,
    definition,
    oracle_partials,
    oracle_value,
    user_ops,
)

from backprop_cli import grad
from backprop_cli.backends import FLOAT, array_backend, exact_backend
from backprop_cli.backends.trace import Rules, Tape, Traced, partials_of
from backprop_cli.engine import node_partials
from backprop_cli.exact import evaluate_exact
from backprop_cli.explain import explain
from backprop_cli.forward_mode import forward_mode
from backprop_cli.graph import build_graph
from backprop_cli.matrices import hessian
from backprop_cli.ops import OPS, Domain
from backprop_cli.parse import parse_program
from backprop_cli.printing import format_tree
from backprop_cli.render import explain_latex, explain_markdown, explain_text
from backprop_cli.sweep import sweep

ALL = sorted(OPS)
USER = user_ops()
POINTS = [(name, point) for name in ALL for point in OPS[name].points]
USER_POINTS = [(name, point) for name, point in POINTS if not OPS[name].internal]
CONVENTIONS = [(name, args, partials) for name in ALL
               for args, partials in OPS[name].conventions]
USER_CONVENTIONS = [case for case in CONVENTIONS if not OPS[case[0]].internal]


def ids(cases) -> list[str]:
    return [f"{case[0]}{case[1]}" for case in cases]


def float_op(name: str, args: tuple[float, ...]) -> tuple[float, tuple[float, ...]]:
    """Value and partials of an op on the float64 backend."""
    op = OPS[name]
    forward, partials = FLOAT.bound(op)
    out = forward(*args)
    return out, node_partials(op.calling_convention, partials, list(args), out)


def backend_op(backend, name: str, args: list) -> tuple:
    op = OPS[name]
    forward, partials = backend.bound(op)
    out = forward(*args)
    return out, node_partials(op.calling_convention, partials, args, out)


def variables(count: int) -> list[str]:
    return [f"x{k}" for k in range(count)]


def program(name: str, count: int) -> str:
    """A program whose output is one application of the op to x0, x1, ..."""
    a = variables(count)
    infix = {"add": "x0 + x1", "sub": "x0 - x1", "mul": "x0*x1", "div": "x0/x1",
             "pow": "x0**x1", "neg": "-x0", "id": "b = x0"}
    if name in infix:
        return infix[name]
    return f"{OPS[name].called_as or name}({', '.join(a)})"


def inside(domain: Domain, value: float) -> bool:
    return value in domain


# ----------------------------------------------------------------------------------------------
# The entries themselves


@pytest.mark.parametrize("name", ALL)
def test_entry_is_complete(name):
    op = OPS[name]
    assert op.name == name and op.doc.strip() and op.definition.strip()
    assert op.points, "an op needs at least one test point"
    for point in op.points:
        count = len(point)
        assert count == op.arity if not op.is_variadic else count >= op.min_args
        domains = op.domains if len(op.domains) == count else (op.domains[0],) * count
        for value, domain in zip(point, domains, strict=True):
            assert math.isfinite(value) and inside(domain, value), (point, domain)
        if op.edges is not None:
            assert all(abs(e) > 1e-3 for e in op.edges(*point)), "test point at a kink"
        assert op.kink_note(*point) is None
    if op.conventions:
        assert op.convention, "documented values at kinks need a convention text"
        assert op.edges is not None or op.kink is not None
    for args, _ in op.conventions:
        assert op.kink_note(*args) is not None, ("a convention point is not a kink", args)


@pytest.mark.parametrize("name", ALL)
def test_definition_is_a_sympy_formula_of_the_parameters(name):
    op = OPS[name]
    count = len(op.points[0])
    expression = definition(op, list(arguments(op, count)))
    assert isinstance(expression, sp.Expr)
    assert expression.free_symbols <= set(arguments(op, count))


# ----------------------------------------------------------------------------------------------
# float64 against SymPy and finite differences


@pytest.mark.parametrize(("name", "point"), POINTS, ids=ids(POINTS))
def test_forward_matches_the_definition(name, point):
    value, _ = float_op(name, point)
    assert close(value, oracle_value(OPS[name], point), RTOL_SYMPY, ATOL_SYMPY)


@pytest.mark.parametrize(("name", "point"), POINTS, ids=ids(POINTS))
def test_partials_match_sympy_diff_of_the_definition(name, point):
    _, partials = float_op(name, point)
    expected = oracle_partials(OPS[name], point)
    assert len(partials) == len(expected)
    for k, (got, want) in enumerate(zip(partials, expected, strict=True)):
        assert close(got, want, RTOL_SYMPY, ATOL_SYMPY), (name, point, k, got, want)


@pytest.mark.parametrize(("name", "point"), POINTS, ids=ids(POINTS))
def test_partials_match_central_differences(name, point):
    op = OPS[name]
    if op.piecewise_constant:
        pytest.skip("a step: its derivative is 0 by definition where it exists")
    forward = FLOAT.bound(op)[0]
    _, partials = float_op(name, point)
    for k, got in enumerate(partials):
        expected = central_difference(forward, point, k)
        assert close(got, expected, RTOL_FD, ATOL_FD), (name, point, k, got, expected)


# ----------------------------------------------------------------------------------------------
# Every backend computes what float64 computes


def grid(name: str) -> list[tuple[float, ...]]:
    """Test points, scaled and mirrored copies inside the domain, the convention points, and
    large magnitudes where the domain allows them."""
    op = OPS[name]
    found = []
    for point in op.points:
        domains = op.domains if len(op.domains) == len(point) else (op.domains[0],) * len(point)
        for scale in (1.0, 0.5, 2.0, -1.0, 8.0, -8.0, 40.0):
            candidate = tuple(v * scale for v in point)
            if all(inside(d, v) or d.low == -math.inf for v, d in zip(candidate, domains,
                                                                      strict=True)):
                found.append(candidate)
    found += [args for args, _ in op.conventions]
    return found


def same(a: float, b: float) -> bool:
    """Equal to 1e-12 relative, or both the same non-finite kind."""
    if math.isnan(b) or math.isnan(a):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(b) or math.isinf(a):
        return a == b
    return close(a, b, 1e-12, 1e-300)


@pytest.mark.parametrize("name", ALL)
def test_the_array_backend_equals_float64(name):
    backend = array_backend()
    with np.errstate(all="ignore"):
        for args in grid(name):
            out, partials = float_op(name, args)
            vector_out, vector_partials = backend_op(
                backend, name, [np.array([v, v]) for v in args])
            assert same(float(np.broadcast_to(vector_out, (2,))[1]), out), (name, args)
            for k, (got, want) in enumerate(zip(vector_partials, partials, strict=True)):
                assert same(float(np.broadcast_to(got, (2,))[1]), want), (name, args, k)


@pytest.mark.parametrize("name", ALL)
def test_the_exact_backend_equals_float64(name):
    backend = exact_backend()
    for args in grid(name):
        out, partials = float_op(name, args)
        exact_args = [sp.Rational(repr(v)) for v in args]
        exact_out, exact_partials = backend_op(backend, name, exact_args)
        assert _exact_close(exact_out, out), (name, args, exact_out, out)
        for k, (got, want) in enumerate(zip(exact_partials, partials, strict=True)):
            assert _exact_close(got, want), (name, args, k, got, want)


def _exact_close(exact, value: float) -> bool:
    number = complex(sp.N(exact, 30)) if not exact.has(sp.zoo, sp.nan) else complex("nan")
    if math.isnan(value):
        return math.isnan(number.real) or number.imag != 0
    if math.isinf(value):
        return exact in (sp.oo, -sp.oo, sp.zoo) or abs(number.real) > 1e300
    return number.imag == 0 and close(number.real, value, 1e-12, 1e-300)


@pytest.mark.parametrize(("name", "point"), POINTS, ids=ids(POINTS))
def test_rules_trace_and_their_graph_computes_the_partials(name, point):
    """The partials traced into a graph (what the Hessian differentiates) give the float64
    partials, and traced into trees they print."""
    op = OPS[name]
    rules = Rules()
    stand_ins = [Traced(rules, ("var", f"v{k}")) for k in range(len(point))]
    for tree in partials_of(rules, op, stand_ins, rules.apply(name, tuple(stand_ins))):
        assert format_tree(tree.handle).strip()
    tape = Tape(["var"] * len(point), [()] * len(point), list(point))
    args = [tape.node(k) for k in range(len(point))]
    out = tape.apply(name, tuple(args))
    _, partials = float_op(name, point)
    for k, traced in enumerate(partials_of(tape, op, args, out)):
        assert same(tape.values[traced.handle], partials[k]), (name, k)


# ----------------------------------------------------------------------------------------------
# Through every mode, as a one-op program


@pytest.mark.parametrize(("name", "point"), USER_POINTS, ids=ids(USER_POINTS))
def test_grad_of_the_op_matches_the_definition(name, point):
    op = OPS[name]
    result = grad(program(name, len(point)), dict(zip(variables(len(point)), point, strict=True)))
    output = result.node(result.output)
    assert output.op == name and output.status == "ok"
    assert close(result.value, oracle_value(op, point), RTOL_SYMPY, ATOL_SYMPY)
    gradient = dict(result.gradient)
    for k, want in enumerate(oracle_partials(op, point)):
        assert close(gradient[f"x{k}"], want, RTOL_SYMPY, ATOL_SYMPY)
    assert all(type(node.value) is float for node in result.nodes)


@pytest.mark.parametrize(("name", "point"), USER_POINTS, ids=ids(USER_POINTS))
def test_forward_mode_of_the_op_matches_the_definition(name, point):
    names = variables(len(point))
    direction = {n: 1.0 + 0.5 * k for k, n in enumerate(names)}
    result = forward_mode(program(name, len(point)), dict(zip(names, point, strict=True)),
                          direction=direction)
    partials = oracle_partials(OPS[name], point)
    expected = sum(d * direction[n] for d, n in zip(partials, names, strict=True))
    assert close(result.derivative, expected, 1e-9, 1e-12)


@pytest.mark.parametrize(("name", "point"), USER_POINTS, ids=ids(USER_POINTS))
def test_hessian_of_the_op_matches_sympy(name, point):
    op = OPS[name]
    symbols = arguments(op, len(point))
    matrix = sp.hessian(definition(op, list(symbols)), symbols)
    values = dict(zip(symbols, point, strict=True))
    result = hessian(program(name, len(point)), dict(zip(variables(len(point)), point,
                                                         strict=True)))
    for i, row in enumerate(result.values):
        for j, got in enumerate(row):
            want = at_point(matrix[i, j], values)
            assert close(got, want, 1e-8, 1e-10), (name, i, j, got, want)


@pytest.mark.parametrize(("name", "point"), USER_POINTS, ids=ids(USER_POINTS))
def test_sweep_of_the_op_matches_the_scalar_engine(name, point):
    names = variables(len(point))
    text = program(name, len(point))
    for k, swept in enumerate(names):
        fixed = {n: v for n, v in zip(names, point, strict=True) if n != swept}
        half = 0.05 * max(abs(point[k]), 0.2)
        result = sweep(text, fixed, swept, point[k] - half, point[k] + half, 7)
        for x, value, derivative in zip(result.x, result.value, result.derivative,
                                        strict=True):
            scalar = grad(text, {**fixed, swept: float(x)})
            assert same(float(value), scalar.value), (name, swept, x)
            assert same(float(derivative), dict(scalar.gradient)[swept]), (name, swept, x)


@pytest.mark.parametrize(("name", "point"), USER_POINTS, ids=ids(USER_POINTS))
def test_exact_mode_of_the_op_matches_the_definition(name, point):
    op = OPS[name]
    names = variables(len(point))
    graph = build_graph(parse_program(program(name, len(point)), given=frozenset(names)))
    exact = evaluate_exact(graph, dict(zip(names, point, strict=True)), 20)
    assert close(float(exact.values[graph.output].decimal), oracle_value(op, point), 1e-15)
    partials = oracle_partials(op, point)
    for k, i in enumerate(graph.variables):
        assert close(float(exact.adjoints[i].decimal), partials[k], 1e-15, 1e-18), (name, k)


@pytest.mark.parametrize("name", USER)
def test_explain_shows_the_op_in_text_markdown_and_latex(name):
    point = OPS[name].points[0]
    names = variables(len(point))
    result = grad(program(name, len(point)), dict(zip(names, point, strict=True)))
    explanation = explain(result)
    text = "".join(str(part) for part in explain_text.render(explanation).renderables)
    markdown = explain_markdown.render(explanation)
    latex = explain_latex.render(explanation)
    shown = OPS[name].called_as or name
    if name not in ("add", "sub", "mul", "div", "pow", "neg", "id"):
        assert shown in text and shown in markdown
    assert "\\begin{align*}" in latex and "\\text{?}" not in latex
    assert len(explanation.reverse) >= 1 + len(point)


# ----------------------------------------------------------------------------------------------
# Kink conventions, the same in every mode


@pytest.mark.parametrize(("name", "args", "partials"), CONVENTIONS, ids=ids(CONVENTIONS))
def test_documented_convention_on_every_backend(name, args, partials):
    _, got = float_op(name, args)
    assert all(same(g, w) for g, w in zip(got, partials, strict=True)), (got, partials)
    with np.errstate(all="ignore"):
        _, vector = backend_op(array_backend(), name, [np.float64(v) for v in args])
    assert all(same(float(g), w) for g, w in zip(vector, partials, strict=True))
    _, exact = backend_op(exact_backend(), name, [sp.Rational(repr(v)) for v in args])
    assert all(_exact_close(g, w) for g, w in zip(exact, partials, strict=True)), exact


@pytest.mark.parametrize(("name", "args", "partials"), USER_CONVENTIONS,
                         ids=ids(USER_CONVENTIONS))
def test_documented_convention_in_grad_forward_sweep_and_exact_mode(name, args, partials):
    names = variables(len(args))
    text = program(name, len(args))
    at = dict(zip(names, args, strict=True))
    result = grad(text, at)
    assert result.node(result.output).status == "kink"
    gradient = dict(result.gradient)
    for k, n in enumerate(names):
        assert same(gradient[n], partials[k]), (n, gradient, partials)
        tangent = forward_mode(text, at, wrt=n).derivative
        assert same(tangent, partials[k]), (n, tangent)
        exact = evaluate_exact(build_graph(parse_program(text, given=frozenset(names))), at, 20)
        decimal = exact.adjoints[k].decimal
        assert same(float(decimal), partials[k]), (n, decimal)
    swept = sweep(text, {n: v for n, v in at.items() if n != "x0"}, "x0", args[0] - 1,
                  args[0] + 1, 3)
    assert same(float(swept.derivative[1]), partials[0])


@pytest.mark.parametrize(("name", "args", "partials"), USER_CONVENTIONS,
                         ids=ids(USER_CONVENTIONS))
def test_hessian_at_a_convention_point_is_symmetric_and_flagged(name, args, partials):
    """Second derivatives at a kink: the kink is reported, and the matrix is symmetric, NaN
    entries included (a one-sided fold would show as an asymmetry)."""
    result = hessian(program(name, len(args)), dict(zip(variables(len(args)), args,
                                                        strict=True)))
    assert result.warnings, "the kink is reported"
    n = len(result.values)
    for i in range(n):
        for j in range(n):
            assert same(result.values[i][j], result.values[j][i]), (name, args, result.values)


def test_latex_of_every_op_is_well_formed_and_compiles(tmp_path):
    """One document with every op's explanation in LaTeX, at a test point and at its kinks:
    structurally sound, and accepted by pdflatex where it is installed."""
    import shutil

    from test_explain import _pdflatex, _tex_errors, latex_problems

    fragments = []
    for name in USER:
        op = OPS[name]
        for point in (op.points[0], *[args for args, _ in op.conventions]):
            names = variables(len(point))
            result = grad(program(name, len(point)), dict(zip(names, point, strict=True)))
            fragment = explain_latex.render(explain(result))
            assert latex_problems(fragment) == [], (name, point)
            fragments.append(fragment)
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    completed = _pdflatex("\n".join(fragments), tmp_path)
    assert completed.returncode == 0, _tex_errors(completed.stdout)
