r"""Typesetting mathematics: sympy's LaTeX printer with the paper's names, sentences that
carry their formulas as sympy objects (:class:`Sentence`), and displays broken to the page
width. The layer below :mod:`symdyn.report` and :mod:`symdyn.verify`; it knows no system."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

import sympy as sp
from sympy.printing.latex import LatexPrinter

from .errors import SpecError

__all__ = [
    "latex_math",
    "latex_display",
    "align_rows",
    "Math",
    "Sentence",
    "sentence",
    "ddt",
    "dot",
    "equalities",
    "tex_escape",
]

_SIGMA = re.compile(r"^Sigma_([A-Z]+)_(\d+)_(\d+)$")
_COMPONENT = re.compile(r"^([A-Za-z]+)(\d*)_(\d+)(?:_(\d+))?$")


#: A break point between the terms of a sum (removed before the LaTeX is written).
_BREAK = "\x00"


class _Latex(LatexPrinter):
    """sympy's LaTeX printer with the paper's names: activations by name, components of a
    matrix as ``A^{(1)}_{i,j}``, a coefficient written before a long fraction, and a break
    point before every term of a sum (used by :func:`_lines`)."""

    def __init__(self, names: dict | None = None, prose: bool = False):
        super().__init__({"long_frac_ratio": 2})
        self._names = names or {}
        self._prose = prose  # formulas of sentences: as a person writes them

    def _print_Float(self, expr):
        if self._prose:  # measured numbers: at most 6 digits, 10^{-7}
            from mpmath.libmp import prec_to_dps

            digits = min(6, prec_to_dps(expr._prec))
            return _number(float(expr), f".{digits}g").latex
        return super()._print_Float(expr)

    def _as_ordered_terms(self, expr, order=None):
        terms = super()._as_ordered_terms(expr, order="grevlex" if self._prose else order)
        if self._prose:  # a positive term first: c_1 - a_2 \lambda, not - a_2 \lambda + c_1
            lead = next((i for i, t in enumerate(terms) if not t.could_extract_minus_sign()
                         and not self._print(t).startswith("-")), 0)
            terms = [terms[lead], *terms[:lead], *terms[lead + 1:]]
        return terms

    def _print_Add(self, expr, order=None):  # sympy's, with a break point before each sign
        tex = ""
        for i, term in enumerate(self._as_ordered_terms(expr, order=order)):
            if i and term.could_extract_minus_sign():
                tex += _BREAK + " - "
                term = -term
            term_tex = self._print(term)
            if self._needs_add_brackets(term):
                term_tex = self._add_parens(term_tex)
            if i and tex.endswith(" - "):
                tex += term_tex
            elif i and term_tex.startswith("-"):  # a matrix term with a negative coefficient
                tex += _BREAK + " - " + term_tex[1:].lstrip()
            else:
                tex += (_BREAK + " + " if i else "") + term_tex
        return tex

    def _print_ElementwiseApplyFunction(self, e):
        name = self._names.get(e.function)
        if name is None:
            return super()._print_ElementwiseApplyFunction(e)
        return rf"{name}\left[{self._print(e.expr)}\right]"

    def _print_Symbol(self, e, style="plain"):
        sigma = _SIGMA.match(e.name)
        if sigma:  # a component of a moment matrix: Sigma_II_1_2
            which, i, j = sigma.groups()
            return rf"\Sigma^{{({which})}}_{{{i},{j}}}"
        m = _COMPONENT.match(e.name)
        if not m or e.name.startswith(("I_", "T_")):
            return super()._print_Symbol(e)
        base, layer, i, j = m.groups()
        if not layer:
            return super()._print_Symbol(e)
        index = f"{i},{j}" if j else i
        return rf"{base}^{{({layer})}}_{{{index}}}"


def _clean(tex: str) -> str:
    return tex.replace(_BREAK, "")


# -- mathematics in sentences, and displays broken to the page width --------------------------


@dataclass(frozen=True)
class Math:
    """A formula given as LaTeX (built from sympy objects, e.g. with :func:`latex_math`)
    with its plain-text form, for what sympy has no object for (``d/dt``, ``f'``)."""

    latex: str
    text: str

    def __str__(self) -> str:
        return self.text


def _number(x, spec: str = "") -> Math:
    r"""A Python number in math mode: ``1e-07`` as ``10^{-7}``, ``2.5e-3`` as
    ``2.5 \cdot 10^{-3}``."""
    text = format(x, spec) if spec else (f"{x:g}" if isinstance(x, float) else str(x))
    m = re.fullmatch(r"(-?[\d.]+)e([+-]\d+)", text)
    if not m:
        return Math(text, text)
    mant, exp = m.group(1), int(m.group(2))
    power = f"10^{{{exp}}}"
    return Math(power if mant in ("1", "1.0") else rf"{mant} \cdot {power}", text)


def latex_math(obj, names: dict | None = None) -> str:
    r"""LaTeX of a sympy object (or a Python number, or :class:`Math`) as the paper prints
    it: ``lamda`` as ``\lambda``, ``a1`` as ``a_{1}``, ``Sigma_II`` as ``\Sigma_{II}``."""
    if isinstance(obj, Math):
        return obj.latex
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return _number(obj).latex
    return _clean(_Latex(names, prose=True).doprint(obj))


def _text(obj) -> str:
    if isinstance(obj, (Math, str)):
        return str(obj)
    if isinstance(obj, (int, float)):
        return _number(obj).text
    if isinstance(obj, sp.core.relational.Relational):
        op = {"==": "=", "!=": "!="}.get(obj.rel_op, obj.rel_op)
        return f"{sp.sstr(obj.lhs)} {op} {sp.sstr(obj.rhs)}"
    return sp.sstr(obj)


def dot(x, rhs=None) -> Math:
    """The time derivative of the symbol ``x`` as a dot (``\\dot{a}_{1}``), or the equation
    ``dx/dt = rhs``."""
    tex, text = _lhs(latex_math(x), "dot", False), f"d{_text(x)}/dt"
    if rhs is not None:
        tex, text = f"{tex} = {latex_math(rhs)}", f"{text} = {_text(rhs)}"
    return Math(tex, text)


def equalities(*objs) -> Math:
    """``a = b = c`` for any number of objects."""
    return Math(" = ".join(latex_math(o) for o in objs), " = ".join(_text(o) for o in objs))


def ddt(expr, rhs=None) -> Math:
    """``d/dt (expr)``, or the equation ``d/dt (expr) = rhs``."""
    tex = rf"\frac{{d}}{{dt}}\left({latex_math(expr)}\right)"
    text = f"d/dt ({_text(expr)})"
    if rhs is not None:
        tex, text = f"{tex} = {latex_math(rhs)}", f"{text} = {_text(rhs)}"
    return Math(tex, text)


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}"}


def tex_escape(text: str) -> str:
    """Prose (never mathematics) as LaTeX text."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


def _xreplace(obj, mapping: dict):
    if isinstance(obj, list):
        return [_xreplace(o, mapping) for o in obj]
    return obj.xreplace(mapping) if isinstance(obj, sp.Basic) else obj


class Sentence:
    """Prose with formulas: ``sentence("{H} is conserved for {cond}", H=a1**2 - a2**2,
    cond=beta > 0)``. The prose is text; every ``{name}`` is a sympy object (or a number,
    or :class:`Math`) printed by sympy's LaTeX printer in math mode, or by ``sstr`` in the
    plain-text form (``str(sentence)``). A plain string is prose without formulas."""

    def __init__(self, template: str = "", /, **math):
        self.parts: list = []  # str (prose) or (object, format spec)
        for prose, field, spec, _conversion in string.Formatter().parse(template):
            if prose:
                self.parts.append(prose)
            if field is None:
                continue
            if field not in math:
                raise SpecError(f"sentence {template!r}: no formula given for {{{field}}}")
            self.parts.append((math[field], spec or ""))

    def __add__(self, other) -> Sentence:
        """The two sentences (or a sentence and prose) one after the other."""
        out = type(self)()
        out.parts = [*self.parts, *Sentence.of(other).parts]
        return out

    def __radd__(self, other) -> Sentence:
        return Sentence.of(other) + self

    def xreplace(self, mapping: dict) -> Sentence:
        """The same sentence with ``mapping`` applied to every formula (sympy ``xreplace``)."""
        out = type(self)()
        out.parts = [p if isinstance(p, str) else (_xreplace(p[0], mapping), p[1])
                     for p in self.parts]
        return out

    @classmethod
    def of(cls, value) -> Sentence:
        """``value`` if it is a sentence, else the prose ``str(value)``."""
        if isinstance(value, Sentence):
            return value
        out = cls()
        out.parts = [str(value)] if value else []
        return out

    def __str__(self) -> str:
        def text(obj, spec):
            items = obj if isinstance(obj, list) else [obj]
            return ", ".join(format(o, spec) if spec else _text(o) for o in items)

        return "".join(p if isinstance(p, str) else text(*p) for p in self.parts)

    def __repr__(self) -> str:
        return f"Sentence({str(self)!r})"

    def __eq__(self, other) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __bool__(self) -> bool:
        return bool(self.parts)

    @property
    def prose(self) -> list[str]:
        """The prose parts (for checks that no formula hides in the text)."""
        return [p for p in self.parts if isinstance(p, str)]

    def latex(self, displays: bool = True) -> str:
        """The sentence as LaTeX: escaped prose, formulas in math mode (a list: each
        formula on its own, separated by commas). With ``displays``, a formula too long for
        a line of text is set as an unnumbered display (not in titles)."""
        out = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(tex_escape(p))
                continue
            obj, spec = p
            items = obj if isinstance(obj, list) else [obj]
            tex = [latex_math(_number(o, spec) if spec else o) for o in items]
            if displays and len(tex) == 1 and _width(tex[0]) > INLINE_WIDTH:
                out.append(f"\n\\[\n{tex[0]}\n\\]\n")
            else:
                out.append(", ".join(f"${x}$" for x in tex))
        return "".join(out)


def sentence(template: str = "", /, **math) -> Sentence:
    """See :class:`Sentence`."""
    return Sentence(template, **math)


#: Width of a display line, in the units of :func:`_width` (about one letter).
LINE_WIDTH = 72
#: Formulas of sentences wider than this are displayed (a line of text holds ~100).
INLINE_WIDTH = 28
_COMMAND_WIDTH = {"left": 0, "right": 0, "bigl": 0, "bigr": 0, "frac": 0, "operatorname": 0,
                  "tfrac": 0, "mathrm": 0, "text": 0, "quad": 2, "qquad": 4, "cdot": 1.5,
                  "tanh": 3.5, "sigma": 1, "dot": 0, "Delta": 1.2, "sum": 2}
_TOKEN = re.compile(r"\\left(?:\\[{}|]|.)|\\right(?:\\[{}|]|.)|\\[A-Za-z]+|\\.|.", re.S)


def _width(tex: str) -> float:
    """Rough printed width of ``tex`` (letters count 1, scripts 0.7, operators 2.2)."""
    total, script, depth_script = 0.0, [], 0
    for tok in _TOKEN.findall(_clean(tex)):
        scale = 0.7 if depth_script else 1.0
        if tok in ("^", "_"):
            script.append("pending")
            continue
        if tok == "{":
            if script and script[-1] == "pending":
                script[-1] = "open"
                depth_script += 1
            else:
                script.append("brace")
            continue
        if tok == "}":
            if script and script.pop() == "open":
                depth_script -= 1
            continue
        if script and script[-1] == "pending":  # a one-token script: x^2
            script.pop()
            scale = 0.7
        if tok.startswith(("\\left", "\\right")) or tok == " ":
            w = 0.6 if tok.startswith(("\\left", "\\right")) else 0.0
        elif tok.startswith("\\") and tok[1:].isalpha():
            w = _COMMAND_WIDTH.get(tok[1:], 1.2)
        elif tok in "+-=<>":
            w = 2.2
        else:
            w = 1.0
        total += w * scale
    return total


def _tree(tex: str):
    """``tex`` as nested lists: a ``\\left``..``\\right`` group is ``["L", open, [..],
    close]``, a brace group ``["B", [..]]``; other tokens are strings."""
    stack: list[list] = [[]]
    for tok in _TOKEN.findall(tex):
        if tok.startswith("\\left"):
            stack.append(["L", tok[5:]])
            stack.append([])
        elif tok.startswith("\\right") and len(stack) > 2 and stack[-2][0] == "L":
            inner = stack.pop()
            node = stack.pop()
            node += [inner, tok[6:]]
            stack[-1].append(node)
        elif tok == "{":
            stack.append(["B"])
            stack.append([])
        elif tok == "}" and len(stack) > 2 and stack[-2][0] == "B":
            inner = stack.pop()
            node = stack.pop()
            node.append(inner)
            stack[-1].append(node)
        else:
            stack[-1].append(tok)
    while len(stack) > 1:  # unbalanced input: give it back as it came
        inner = stack.pop()
        node = stack.pop()
        stack[-1] += [node[0] == "L" and "\\left" + node[1] or "{", *inner]
    return stack[0]


def _flatten(nodes, breakable: bool) -> str:
    out = []
    for n in nodes:
        if isinstance(n, str):
            out.append(n if breakable or n != _BREAK else "")
        elif n[0] == "B":
            out.append("{" + _flatten(n[1], False) + "}")
        else:
            _, open_, inner, close = n
            body = _flatten(inner, breakable)
            if breakable and _BREAK in body and _width(body) > LINE_WIDTH / 3:
                # a long bracket may be broken across lines: fixed-size delimiters
                out.append(rf"\bigl{open_}{body}\bigr{close}")
            else:
                out.append(rf"\left{open_}{_clean(body)}\right{close}")
    return "".join(out)


def _lines(tex: str, first: float = 0.0, width: float = LINE_WIDTH) -> list[str]:
    """``tex`` (printed with break points) cut into lines that fit ``width``; the first
    line has ``first`` less room (its left-hand side)."""
    tree = _tree(tex)
    if _width(tex) + first <= width:  # fits: nothing to break
        return [_flatten(tree, False)]
    segments = _flatten(tree, True).split(_BREAK)
    lines, room = [segments[0]], width - first
    for seg in segments[1:]:
        if _width(lines[-1] + seg) > room:
            lines.append(seg.lstrip())
            room = width - 2
        else:
            lines[-1] += seg
    return lines


def _relation(obj, names):
    """(lhs, relation, rhs) LaTeX of an equation or inequality, else None."""
    if isinstance(obj, sp.core.relational.Relational):
        printer = _Latex(names, prose=True)
        rel = _clean(printer.doprint(obj.func(sp.Symbol("x"), sp.Symbol("y")))).split()[1]
        return _clean(printer.doprint(obj.lhs)), rel, printer.doprint(obj.rhs)
    return None


def latex_display(obj, label: str = "", names: dict | None = None) -> str:
    """A numbered display of ``obj`` (a sympy equation or expression, or :class:`Math`),
    labelled ``label`` for ``\\ref``, broken into lines when it is wider than the page."""
    tag = rf"\label{{{label}}}" if label else ""
    parts = _relation(obj, names)
    if parts is None:
        tex = obj.latex if isinstance(obj, Math) else _Latex(names, prose=True).doprint(obj)
        lines = _lines(tex)
        if len(lines) == 1:
            return f"\\begin{{equation}}{tag}\n{lines[0]}\n\\end{{equation}}"
        return ("\\begin{equation}" + tag + "\n\\begin{split}\n&" +
                " \\\\\n&\\quad ".join(lines) + "\n\\end{split}\n\\end{equation}")
    lhs, rel, rhs = parts
    lines = _lines(rhs, first=_width(lhs) + 3)
    if len(lines) == 1:
        return f"\\begin{{equation}}{tag}\n{lhs} {rel} {lines[0]}\n\\end{{equation}}"
    return ("\\begin{equation}" + tag + "\n\\begin{split}\n" + f"{lhs} &{rel} " +
            " \\\\\n&\\quad ".join(lines) + "\n\\end{split}\n\\end{equation}")


def _lhs(symbol_latex: str, derivative: str, update: bool) -> str:
    if update:
        return rf"\Delta {symbol_latex}"
    if derivative == "frac":
        return rf"\frac{{d}}{{dt}} {symbol_latex}"
    m = re.match(r"^(\\[A-Za-z]+|[A-Za-z])(.*)$", symbol_latex)
    return rf"\dot{{{m.group(1)}}}{m.group(2)}" if m else rf"\dot{{{symbol_latex}}}"


def align_rows(rows, label: str = "") -> str:
    """An amsmath ``align`` of ``(lhs LaTeX, rhs printed with break points, label)`` rows:
    one number per equation, labelled for ``\\ref``, long right-hand sides broken into
    continuation lines."""
    out = []
    for lhs, rhs, name in rows:
        lines = _lines(rhs, first=_width(lhs) + 3)
        tag = rf" \label{{{label}:{name}}}" if label and name else ""
        first = f"{lhs} &= {lines[0]}{tag}"
        out.append(" \\\\\n".join([first, *(rf"&\quad {x} \nonumber" for x in lines[1:])]))
    return " \\\\\n".join(out)


