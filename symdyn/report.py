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


def latex_document(*blocks: str, title: str | Sentence = "symdyn") -> str:
    """A complete LaTeX document around the given blocks; it compiles with ``pdflatex``
    (packages of Debian's texlive-latex-base, texlive-latex-recommended and lmodern)."""
    body = "\n\n".join(blocks)
    return (
        "\\documentclass{article}\n"
        "\\usepackage[T1]{fontenc}\n\\usepackage{lmodern}\n"
        "\\usepackage{amsmath,amssymb}\n"
        "\\usepackage[margin=2cm]{geometry}\n"
        "\\allowdisplaybreaks\n\\setlength{\\emergencystretch}{3em}\n"
        f"\\title{{{Sentence.of(title).latex(displays=False)}}}\n\\author{{}}\n\\date{{}}\n"
        "\\begin{document}\n\\maketitle\n"
        f"{body}\n\\end{{document}}\n"
    )


def text_system(system) -> str:
    """The system as plain text: title, names, matrix form and (small systems) components."""
    printer = _Str(_function_names(system, latex=False))
    out = [system.title, f"state: {', '.join(map(str, _names(system.matrix.state)))}"]
    params = _names(system.matrix.parameters)
    out.append(f"parameters: {', '.join(map(str, params)) if params else '(none)'}")
    out.append("matrix form:")
    for m, e in zip(system.matrix.state, system.matrix.rhs):
        out.append(f"  d{m}/dt = {printer.doprint(e)}")
    if system.size <= COMPONENT_LIMIT:
        out.append("component form:")
        for s, e in zip(system.state, system.rhs):
            out.append(f"  d{s}/dt = {printer.doprint(e)}")
    else:
        out.append(f"component form: {system.size} equations (not shown; use --format json)")
    return "\n".join(out)


def _names(symbols):
    return [f"{m} ({m.rows}x{m.cols})" if isinstance(m, sp.MatrixSymbol) else m for m in symbols]


def json_system(system, form: str = "component") -> dict:
    """``{"state": [...], "parameters": [...], "rhs": [...]}``; the strings parse back with
    ``sympy.parse_expr(s, local_dict={n: sympy.Symbol(n) for n in state + parameters})``
    (a local dictionary is needed: ``beta`` is otherwise sympy's beta function)."""
    if form == "matrix":
        m = system.matrix
        return {
            "state": [str(s) for s in m.state],
            "shapes": {str(s): list(s.shape) for s in (*m.state, *m.parameters)
                       if isinstance(s, sp.MatrixSymbol)},
            "parameters": [str(p) for p in m.parameters],
            "rhs": [str(e) for e in m.rhs],
        }
    return {
        "state": [str(s) for s in system.state],
        "parameters": [str(p) for p in system.parameters],
        "rhs": [sp.sstr(e) for e in system.rhs],
    }
