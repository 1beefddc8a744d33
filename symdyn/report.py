"""Report: the system as text, LaTeX and JSON, all printed from the sympy objects."""

from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter

from ._typeset import (
    Math,
    Sentence,
    _clean,
    _Latex,
    _lhs,
    align_rows,
    ddt,
    dot,
    equalities,
    latex_display,
    latex_math,
    sentence,
)
from .errors import SpecError

__all__ = [
    "latex_system",
    "latex_document",
    "text_system",
    "json_system",
    "latex_expr",
    "linear_str",
    "latex_math",
    "latex_display",
    "Math",
    "Sentence",
    "sentence",
    "ddt",
    "dot",
    "equalities",
]

#: Above this many state components, ``form="both"`` leaves out the component form.
COMPONENT_LIMIT = 12
#: Above this many state components the component form is not written as JSON: its size
#: grows like a high power of the width (about n^5 characters for n-n-n; 3.7 MB at
#: 10-10-10, 200 equations), so such systems are written in matrix form.
JSON_COMPONENT_LIMIT = 1000

_LATEX_FUNCTIONS = {
    "linear": r"\operatorname{id}",
    "tanh": r"\tanh",
    "logistic": r"\sigma",
    "relu": r"\operatorname{relu}",
    "softplus": r"\operatorname{softplus}",
}


def _function_names(system, latex: bool) -> dict:
    """Lambda -> display name of every activation (and derivative) in the system."""
    acts = [*system.network.activations, system.rule.channel_activation]
    names = {}
    for a in acts:
        name = _LATEX_FUNCTIONS.get(a.name) if latex else a.name
        if name is None:  # a user activation: no short name to show
            continue
        names[a.function] = name
        names[a.derivative] = name + "'"
    return names


class _Str(StrPrinter):
    def __init__(self, names: dict):
        super().__init__()
        self._names = names

    def _print_ElementwiseApplyFunction(self, e):
        name = self._names.get(e.function, self._print(e.function))
        return f"{name}.({self._print(e.expr)})"

    def _print_HadamardProduct(self, e):
        return " o ".join(self.parenthesize(a, 60) for a in e.args)


def latex_expr(system, expr) -> str:
    """One expression of ``system`` in LaTeX, with its activations by name."""
    return _clean(_Latex(_function_names(system, latex=True)).doprint(expr))


def _label_prefix(system) -> str:
    sizes = "-".join(str(n) for n in system.network.sizes)
    return f"eq:{sizes}-{system.rule.name}"


def latex_system(system, *, form: str = "both", derivative: str = "dot",
                 update: bool = False, label: str | None = None) -> str:
    """The system as an amsmath ``align`` block (see :meth:`LearningSystem.latex`): every
    equation numbered and labelled ``<label>:<state name>`` (default label
    ``eq:<architecture>-<rule>``, with ``-update`` for the update rule)."""
    if form not in ("both", "matrix", "component"):
        raise SpecError(f"form must be 'both', 'matrix' or 'component', got {form!r}")
    if derivative not in ("dot", "frac"):
        raise SpecError(f"derivative must be 'dot' or 'frac', got {derivative!r}")
    if label is None:
        label = _label_prefix(system) + ("-update" if update else "")
    printer = _Latex(_function_names(system, latex=True))

    def block(symbols, exprs):
        return align_rows([(_lhs(_clean(printer.doprint(s)), derivative, update),
                            printer.doprint(e), str(s)) for s, e in zip(symbols, exprs)],
                          label)

    groups = []
    if form in ("both", "matrix"):
        m = system.matrix
        groups.append(block(m.state, m.update if update else m.rhs))
    if form == "component" or (form == "both" and system.size <= COMPONENT_LIMIT):
        system.check_component_size()
        groups.append(block(system.state, system.update if update else system.rhs))
    body = "\n\\intertext{in components:}\n".join(groups)
    return "\\begin{align}\n" + body + "\n\\end{align}"


def document_title(system) -> Sentence:
    """The title of a system as a sentence: its options' values as formulas."""
    parts, math = [f"{system.network} trained by {system.rule.name.upper()}"], {}
    for i, (key, value) in enumerate(system.rule.options.items()):
        name = key.replace("_", " ")
        if isinstance(value, sp.Basic):
            parts.append(f"{name} {{v{i}}}")
            math[f"v{i}"] = value
        else:
            parts.append(f"{name} {value}")
    data = system.title.rpartition(", data: ")[2]
    return sentence(", ".join(parts) + f"; data: {data}", **math)


def latex_document(*blocks: str, title: str | Sentence = "symdyn", preamble: str = "") -> str:
    """A complete LaTeX document around the given blocks; it compiles with ``pdflatex``
    (packages of Debian's texlive-latex-base, texlive-latex-recommended and lmodern).
    ``preamble``: more of it (packages, theorem environments), after amsmath."""
    body = "\n\n".join(blocks)
    return (
        "\\documentclass{article}\n"
        "\\usepackage[T1]{fontenc}\n\\usepackage{lmodern}\n"
        "\\usepackage{amsmath,amssymb}\n"
        + preamble +
        "\\usepackage[margin=2cm]{geometry}\n"
        "\\allowdisplaybreaks\n\\setlength{\\emergencystretch}{3em}\n"
        f"\\title{{{Sentence.of(title).latex(displays=False)}}}\n\\author{{}}\n\\date{{}}\n"
        "\\begin{document}\n\\maketitle\n"
        f"{body}\n\\end{{document}}\n"
    )


def text_system(system, update: bool = False, form: str = "both") -> str:
    """The system as plain text: title, names, matrix form and components (``form``:
    ``"both"``, components only for small systems; ``"matrix"``; ``"component"``); with
    ``update``, the per-sample rule instead of the averaged ODE."""
    printer = _Str(_function_names(system, latex=False))
    out = [system.title, f"state: {', '.join(map(str, _names(system.matrix.state)))}"]
    params = _names(system.matrix.parameters)
    out.append(f"parameters: {', '.join(map(str, params)) if params else '(none)'}")
    lhs = "Delta {}" if update else "d{}/dt"
    if update:
        out.append(f"sample: {', '.join(map(str, _names(system.matrix.sample)))}")
    if form != "component":
        out.append("matrix form" + (" of the per-sample update:" if update else ":"))
        for m, e in zip(system.matrix.state,
                        system.matrix.update if update else system.matrix.rhs):
            out.append(f"  {lhs.format(m)} = {printer.doprint(e)}")
    if form == "matrix":
        pass
    elif form == "component" or system.size <= COMPONENT_LIMIT:
        out.append("component form:")
        for s, e in zip(system.state, system.update if update else system.rhs):
            out.append(f"  {lhs.format(s)} = {printer.doprint(e)}")
    else:
        out.append(f"component form: {system.size} equations (not shown; --format json "
                   "writes them" + (f" up to {JSON_COMPONENT_LIMIT}" if system.size >
                                    JSON_COMPONENT_LIMIT else "") + ")")
    return "\n".join(out)


def _names(symbols):
    return [f"{m} ({m.rows}x{m.cols})" if isinstance(m, sp.MatrixSymbol) else m for m in symbols]


def json_system(system, form: str = "component", update: bool = False) -> dict:
    """``{"form", "state", "parameters", "rhs"}`` (``"update"`` instead of ``"rhs"`` with
    ``update``, plus the ``"sample"`` variables); matrix form also gives ``"shapes"``. The
    component strings are Python syntax, printed in time linear in the expression size,
    and parse back with the whitelist parser, :func:`symdyn.parse_expression`
    (``parse_expression(s, {n: sympy.Symbol(n) for n in state + parameters + sample})``):
    never ``eval`` or ``sympify`` a JSON file from someone else. The component form is
    refused above :data:`JSON_COMPONENT_LIMIT` state components."""
    key = "update" if update else "rhs"
    if form == "matrix":
        m = system.matrix
        out = {
            "form": "matrix",
            "state": [str(s) for s in m.state],
            "shapes": {str(s): [int(d) for d in s.shape] for s in (*m.state, *m.parameters,
                                                        *(m.sample if update else ()))
                       if isinstance(s, sp.MatrixSymbol)},
            "parameters": [str(p) for p in m.parameters],
            key: [str(e) for e in (m.update if update else m.rhs)],
        }
        if update:
            out["sample"] = [str(s) for s in m.sample]
        return out
    if form != "component":
        raise SpecError(f"form must be 'component' or 'matrix', got {form!r}")
    if system.size > JSON_COMPONENT_LIMIT:
        raise SpecError(
            f"the component form of this system has {system.size} equations, more than the "
            f"{JSON_COMPONENT_LIMIT} written as JSON (its size grows like a high power of the "
            "width: about 3.7 MB at 10-10-10, 200 equations, and 32 times that at twice the "
            "width); use the matrix form (--form matrix)")
    out = {
        "form": "component",
        "state": [str(s) for s in system.state],
        "parameters": [str(p) for p in system.parameters],
        key: [linear_str(e) for e in (system.update if update else system.rhs)],
    }
    if update:
        out["sample"] = [str(s) for s in system.sample]
    return out


def linear_str(expr: sp.Expr) -> str:
    """``expr`` in Python syntax, in one pass over the tree (sympy's ``sstr`` sorts the
    terms of every sum, which dominates on large systems). Sums, products, powers,
    numbers, symbols and functions of expressions are printed here; anything else by
    ``sstr``."""
    out: list[str] = []

    def number(x) -> str | None:
        if isinstance(x, sp.Integer):
            return str(int(x))
        if isinstance(x, sp.Rational):
            return f"{x.p}/{x.q}"
        if isinstance(x, sp.Float):
            return repr(float(x))  # the shortest text that float() reads as the same double
        return None

    def visit(x, level: int) -> None:  # level: 0 in a sum, 1 in a product, 2 in a power
        if isinstance(x, sp.Symbol):
            out.append(x.name)
            return
        num = number(x)
        if num is not None:
            out.append(f"({num})" if level and (num[0] == "-" or "/" in num) else num)
        elif isinstance(x, sp.Add):
            out.append("(" if level else "")
            for k, term in enumerate(x.args):
                coeff, rest = term.as_coeff_Mul()
                negative = coeff.is_Number and coeff < 0
                if k:
                    out.append(" - " if negative else " + ")
                elif negative:
                    out.append("-")
                visit(-term if negative else term, 1 if negative else 0)
            out.append(")" if level else "")
        elif isinstance(x, sp.Mul):
            coeff, rest = x.as_coeff_Mul()
            if coeff == -1:
                out.append("(-" if level else "-")
                visit(rest, 1)
                out.append(")" if level else "")
                return
            out.append("(" if level >= 2 else "")
            for k, factor in enumerate(x.args):
                out.append("*" if k else "")
                visit(factor, 1)
            out.append(")" if level >= 2 else "")
        elif isinstance(x, sp.Pow):
            out.append("(" if level >= 2 else "")
            visit(x.base, 2)
            out.append("**")
            visit(x.exp, 2)
            out.append(")" if level >= 2 else "")
        elif (isinstance(x, sp.Function) and x.args
              and all(isinstance(a, sp.Expr) for a in x.args)
              and not isinstance(x, sp.Piecewise)):
            out.append(type(x).__name__ + "(")
            for k, a in enumerate(x.args):
                out.append(", " if k else "")
                visit(a, 0)
            out.append(")")
        else:
            out.append(f"({sp.sstr(x)})")

    visit(sp.sympify(expr, strict=True), 0)  # sympy objects only: never text
    return "".join(out)
