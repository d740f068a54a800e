"""Formulas and node ids as LaTeX math, for the explain and graph renderers."""

from __future__ import annotations

import math
import re

from ..parse import is_number
from ..printing import expand

_GREEK = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\epsilon",
    "ζ": r"\zeta", "η": r"\eta", "θ": r"\theta", "ι": r"\iota", "κ": r"\kappa",
    "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu", "ξ": r"\xi", "π": r"\pi", "ρ": r"\rho",
    "σ": r"\sigma", "τ": r"\tau", "υ": r"\upsilon", "φ": r"\phi", "χ": r"\chi", "ψ": r"\psi",
    "ω": r"\omega", "ς": r"\varsigma", "Γ": r"\Gamma", "Δ": r"\Delta", "Θ": r"\Theta",
    "Λ": r"\Lambda", "Ξ": r"\Xi", "Π": r"\Pi", "Σ": r"\Sigma", "Φ": r"\Phi", "Ψ": r"\Psi",
    "Ω": r"\Omega",
}
_NAMED_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota",
                "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi",
                "chi", "psi", "omega"}
_KNOWN_FUNCTIONS = {"sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "log", "ln", "max",
                    "min", "arcsin", "arccos", "arctan", "cot", "sec", "csc"}
_FUNCTION_NAMES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan"}
_PRECEDENCE = {"add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 3, "pow": 4}
_SPLIT = re.compile(r"^([^\W\d_]+)(\d+)$")


def escape_text(text: str) -> str:
    """Plain text safe inside LaTeX (for \\text{...} and table cells), in ASCII: Greek letters
    become inline math and accented letters accent commands."""
    replacements = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
                    "#": r"\#", "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}"}
    out = []
    for char in text:
        if char in _GREEK:
            out.append(f"${_GREEK[char]}$")
        elif char.isascii():
            out.append(replacements.get(char, char))
        else:
            out.append(_accented(char))
    return "".join(out)


def latex_id(node_id: str) -> str:
    """x → x, z3 → z_{3}, w_1 → w_{1}, θ1 → \\theta_{1}, yhat → \\mathit{yhat}."""
    if is_number(node_id):
        return number(float(node_id))
    match = _SPLIT.match(node_id)
    base, index = (match.group(1), match.group(2)) if match else (node_id, "")
    if base in _NAMED_GREEK:
        base = "\\" + base
    elif len(base) == 1 and base in _GREEK:
        base = _GREEK[base]
    elif any(char in _GREEK or not char.isascii() for char in base):
        # Mixed names: each Greek letter as its own group ({\Delta}x), accents in \text.
        parts = [_mixed_part(char) for char in base]
        base = "".join(parts) if len(base) == 1 else r"\mathit{" + "".join(parts) + "}"
    elif len(base) > 1:
        base = r"\mathit{" + escape_text(base) + "}"
    else:
        base = escape_text(base)
    return f"{base}_{{{index}}}" if index else base


def _mixed_part(char: str) -> str:
    if char in _GREEK:
        return "{" + _GREEK[char] + "}"
    if char.isascii():
        return escape_text(char)
    greek = _greek_accented(char)
    return "{" + greek + "}" if greek is not None else r"\text{" + _accented(char) + "}"


# Text accents by combining mark; \k (ogonek) and the letters marked T1 below exist only in
# the T1 font encoding, which the fragment's first line then asks for.
_ACCENTS = {"\u0300": "`", "\u0301": "'", "\u0302": "^", "\u0303": "~", "\u0304": "=",
            "\u0306": "u", "\u0307": ".", "\u0308": '"', "\u030a": "r", "\u030b": "H",
            "\u030c": "v", "\u0323": "d", "\u0327": "c", "\u0328": "k", "\u0331": "b"}
# Math accents for Greek letters (ά → \\acute{\\alpha}).
_MATH_ACCENTS = {"\u0300": "grave", "\u0301": "acute", "\u0304": "bar", "\u0306": "breve",
                 "\u0308": "ddot", "\u0342": "tilde"}


_LETTERS = {"ß": r"\ss{}", "æ": r"\ae{}", "Æ": r"\AE{}", "ø": r"\o{}", "Ø": r"\O{}",
            "œ": r"\oe{}", "Œ": r"\OE{}", "ł": r"\l{}", "Ł": r"\L{}",
            # T1 only:
            "đ": r"\dj{}", "Đ": r"\DJ{}", "ð": r"\dh{}", "Ð": r"\DH{}", "þ": r"\th{}",
            "Þ": r"\TH{}", "ŋ": r"\ng{}", "Ŋ": r"\NG{}"}
T1_ONLY = re.compile(r"\\(?:k|dj|DJ|dh|DH|th|TH|ng|NG)(?![A-Za-z])")


def needs_t1(latex: str) -> bool:
    """Whether LaTeX text uses letters or accents that only the T1 font encoding has."""
    return T1_ONLY.search(latex) is not None


def _accented(text: str) -> str:
    """Accented Latin letters as plain-ASCII LaTeX accent commands: é → \\'{e}. A letter
    pdflatex has no command for (ɐ, a Greek letter with breathings, a mark without a text
    accent) is written [U+0250]: it compiles, and two different names never look the same."""
    import unicodedata

    out = []
    for char in text:
        if char.isascii():
            out.append(escape_text(char))
            continue
        if char in _LETTERS:
            out.append(_LETTERS[char])
            continue
        base, *marks = unicodedata.normalize("NFD", char)
        if not base.isascii() or not all(mark in _ACCENTS for mark in marks):
            out.append(f"[U+{ord(char):04X}]")
            continue
        letter = escape_text(base)
        for mark in marks:
            letter = "\\" + _ACCENTS[mark] + "{" + letter + "}"
        out.append(letter)
    return "".join(out)


def _greek_accented(char: str) -> str | None:
    """A Greek letter with math accents (ά → \\acute{\\alpha}), or None if it has others."""
    import unicodedata

    base, *marks = unicodedata.normalize("NFD", char)
    if base not in _GREEK or not marks or not all(mark in _MATH_ACCENTS for mark in marks):
        return None
    letter = _GREEK[base]
    for mark in marks:
        letter = "\\" + _MATH_ACCENTS[mark] + "{" + letter + "}"
    return letter


def bar(node_id: str) -> str:
    """The adjoint of a node: \\bar{x}, \\overline{z_{3}}."""
    inner = latex_id(node_id)
    return rf"\bar{{{inner}}}" if len(node_id) == 1 else rf"\overline{{{inner}}}"


def number(value: float | None, digits: int = 6) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return r"\mathrm{NaN}"
    if math.isinf(value):
        return r"\infty" if value > 0 else r"-\infty"
    text = f"{value + 0.0:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
    return text


def tree_to_latex(tree: tuple) -> str:
    """An expression tree (a parsed program's or a traced rule's) as LaTeX math."""
    return expand(tree, _parts)


def _parts(node: tuple) -> list:
    kind = node[0]
    if kind in ("var", "ref"):
        return [latex_id(node[1])]
    if kind == "const":
        return [_constant(node[2]) if isinstance(node[1], float) else
                matrix(node[1].array(), 12)]
    if kind == "matmul":
        return [*_grouped(node[1], 2), r" \, ", *_grouped(node[2], 3)]
    if kind == "call":
        return _call(node)
    if kind == "neg":
        return ["-", *_grouped(node[1], 3)]
    if kind == "div":
        return [r"\frac{", node[1], "}{", node[2], "}"]
    if kind == "pow":
        return [*_grouped(node[1], 5), "^{", node[2], "}"]
    symbol = {"add": " + ", "sub": " - ", "mul": r" \cdot "}[kind]
    right_strict = kind != "add" and kind != "mul"
    return [*_grouped(node[1], _PRECEDENCE[kind]), symbol,
            *_grouped(node[2], _PRECEDENCE[kind] + right_strict)]


def _constant(text: str) -> str:
    named = {"pi": r"\pi", "e": "e", "E": "e", "nan": r"\mathrm{NaN}", "inf": r"\infty",
             "-inf": r"-\infty", "-pi": r"-\pi"}
    if text in named:
        return named[text]
    return number(float(text), 12) if is_number(text) else r"\text{" + escape_text(text) + "}"


_COMPARISON = {"gt": " > ", "ge": r" \geq ", "eq": " = "}


def _condition(node: tuple) -> list:
    if node[0] == "call" and node[1] in _COMPARISON:
        left, right = node[2]
        return [*_grouped(left, 0), _COMPARISON[node[1]], *_grouped(right, 0)]
    if node[0] == "mul":
        return [*_condition(node[1]), r" \text{ and } ", *_condition(node[2])]
    return [r"\left(", node, r"\right) \neq 0"]


def _call(node: tuple) -> list:
    name = node[1].partition("#")[0]
    args = node[2]
    if name == "id":
        return [args[0]]
    if name in _COMPARISON:
        return [r"\left[", *_condition(node), r"\right]"]
    if name == "where":
        return [r"\left(", args[1], r" \text{ if } ", *_condition(args[0]), r" \text{ else } ",
                args[2], r"\right)"]
    if name == "share":
        return [r"\left(\frac{1}{\mathrm{ties}} \text{ if } ", args[0], " = ", args[1],
                r" \text{ else } 0\right)"]
    if name == "sqrt":
        return [r"\sqrt{", args[0], "}"]
    if name == "abs":
        return [r"\left|", args[0], r"\right|"]
    if name == "transpose":
        return [*_grouped(args[0], 5), r"^{\top}"]
    if name == "index":
        return [*_grouped(args[0], 5), r"\left[", *_joined(args[1:]), r"\right]"]
    if name in ("reduce_max", "reduce_min"):
        return ["\\" + name[-3:] + r"\left(", args[0], r"\right)"]
    if name == "logb":
        return [r"\log_{", args[1], r"}\left(", args[0], r"\right)"]
    name = _FUNCTION_NAMES.get(name, name)
    head = "\\" + name if name in _KNOWN_FUNCTIONS else r"\operatorname{" + escape_text(name) + "}"
    parts: list = [head + r"\left("]
    for k, arg in enumerate(args):
        if k:
            parts.append(", ")
        parts.append(arg)
    parts.append(r"\right)")
    return parts


def _joined(args) -> list:
    parts: list = []
    for k, arg in enumerate(args):
        if k:
            parts.append(", ")
        parts.append(arg)
    return parts


def matrix(value, digits: int = 6, summary: int = 12) -> str:
    """A number, a vector as a transposed row, a matrix as a bmatrix; an axis longer than
    seven, or any axis longer than six of an array past `summary` elements, shows its first
    and last three with dots between (bmatrix takes at most ten columns)."""
    import numpy as np

    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return number(float(array), digits)
    big = array.size > summary

    def cut(items: list, dots: str) -> list:
        return items[:3] + [dots] + items[-3:] if len(items) > 7 or (big and len(items) > 6) \
            else items

    if array.ndim == 1:
        row = cut([number(float(v), digits) for v in array], r"\cdots")
        return r"\begin{bmatrix} " + " & ".join(row) + r" \end{bmatrix}^{\top}"
    rows = [" & ".join(cut([number(float(v), digits) for v in row], r"\cdots"))
            for row in array]
    dots = " & ".join(cut([r"\vdots"] * array.shape[1], r"\ddots"))
    return r"\begin{bmatrix} " + r" \\ ".join(cut(rows, dots)) + r" \end{bmatrix}"


# The vector-Jacobian rules as `grad` prints them (`W̅1̅ += z̅3̅ · xᵀ`), token by token.
_RULE_TOKEN = re.compile(
    r"(?P<phrase>\((?:spread over the reduced elements|summed over the broadcast axes|no path to "
    r"the output|ties share it)\)|at the (?:max|min)imum)"
    r"|∂(?P<of>\w+)/∂(?P<by>\w+)"
    r"|(?P<bar>(?:\w\u0305)+)(?P<bt>ᵀ?)"
    r"|(?P<word>\b(?:if|else)\b)"
    r"|(?P<sum>Σ(?=\s))"
    r"|(?P<name>(?!ᵀ)[^\W\d](?:(?!ᵀ)\w)*)(?P<t>ᵀ?)"
    r"|(?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"|(?P<power>\*\*)"
    r"|(?P<other>\S)"
    r"|(?P<space>\s+)")
_RULE_KINDS = ("phrase", "of", "bar", "word", "sum", "name", "number", "power", "other", "space")
_RULE_SYMBOLS = {"·": r" \cdot ", "⊙": r" \odot ", "*": r" \cdot ", "ᵀ": r"^{\top}",
                 "(": r"\left(", ")": r"\right)", "+": " + ", "-": " - ", "=": " = ",
                 "/": " / ", ",": ", ", "[": "[", "]": "]"}


def rule_to_latex(text: str) -> str:
    """A rule or adjoint formula of the matrix-form sweeps as LaTeX math: overlined ids as
    \\overline, ᵀ as ^{\\top}, ⊙ as \\odot, powers as superscripts, the notes as text."""
    out: list[str] = []
    tokens = list(_RULE_TOKEN.finditer(text))
    k = 0
    while k < len(tokens):
        match = tokens[k]
        kind = next(group for group in _RULE_KINDS if match[group] is not None)
        k += 1
        if kind == "phrase":
            out.append(r"\quad\text{" + escape_text(match.group()) + "}")
        elif kind == "of":
            out.append(rf"\frac{{\partial {latex_id(match['of'])}}}"
                       rf"{{\partial {latex_id(match['by'])}}}")
        elif kind == "sum":
            out.append(r"\sum ")
        elif kind == "bar":
            out.append(bar(match["bar"].replace("\u0305", "")) + (r"^{\top}" if match["bt"]
                                                                   else ""))
        elif kind == "word":
            out.append(r"\text{ " + match.group() + " }")
        elif kind == "name":
            called = k < len(tokens) and tokens[k].group() == "("
            name = _FUNCTION_NAMES.get(match["name"], match["name"])
            if called:
                out.append("\\" + name if name in _KNOWN_FUNCTIONS else
                           r"\operatorname{" + escape_text(name) + "}")
            else:
                out.append(latex_id(match["name"]) + (r"^{\top}" if match["t"] else ""))
        elif kind == "number":
            out.append(match.group())
        elif kind == "power":
            exponent, k = _exponent(tokens, k)
            out.append("^{" + rule_to_latex(exponent) + "}")
        elif kind == "other":
            char = match.group()
            out.append(_RULE_SYMBOLS.get(char, escape_text(char)))
    return "".join(out).replace("  ", " ").strip()


def _exponent(tokens: list, k: int) -> tuple[str, int]:
    """The text of a power's exponent (a number, a name, or a parenthesized group)."""
    if k < len(tokens) and tokens[k].group() == "(":
        depth, start = 0, k
        while k < len(tokens):
            depth += {"(": 1, ")": -1}.get(tokens[k].group(), 0)
            k += 1
            if depth == 0:
                break
        return "".join(t.group() for t in tokens[start + 1:k - 1]), k
    if k < len(tokens) and tokens[k].group() == "-":
        return "-" + tokens[k + 1].group(), k + 2
    return (tokens[k].group(), k + 1) if k < len(tokens) else ("", k)


def _grouped(child: tuple, precedence: int) -> list:
    kind = child[0]
    child_precedence = _PRECEDENCE.get(kind, 6)
    if kind == "const" and child[2].startswith("-"):
        child_precedence = 0  # a negative number inside a formula is always parenthesized
    if kind == "div" and precedence < 5:
        child_precedence = 6  # a fraction is already a group, except as a power's base
    if child_precedence < precedence:
        return [r"\left(", child, r"\right)"]
    return [child]
