"""The analyses as text, LaTeX and JSON (what the ``invariants``, ``fixed-points`` and
``analyze`` commands print), all from the sympy objects."""

from __future__ import annotations

import sympy as sp

from .._typeset import Sentence, _Latex, align_rows
from .._typeset import sentence as _sentence
from ..report import _function_names, document_title, latex_document, latex_expr

__all__ = [
    "json_number",
    "invariants_json",
    "check_json",
    "fixed_points_json",
    "reduction_json",
    "analysis_json",
    "invariants_text",
    "check_text",
    "fixed_points_text",
    "reduction_text",
    "analysis_text",
    "invariants_latex",
    "check_latex",
    "fixed_points_latex",
    "reduction_latex",
    "analysis_latex",
    "invariants_document",
    "fixed_points_document",
    "analysis_document",
]


# -- JSON -------------------------------------------------------------------------------------


def json_number(v):
    """An exact number as JSON: an int, else the exact expression as a string (``"1/2"``);
    a float stays a float."""
    v = sp.sympify(v)
    if v.is_Integer:
        return int(v)
    if v.is_Float:
        return float(v)
    return sp.sstr(v)


def _head(system) -> dict:
    return {"state": [str(s) for s in system.state],
            "parameters": [str(p) for p in system.parameters]}


def _counts(invs) -> dict:
    basis = getattr(invs, "basis", tuple(invs))
    rank = getattr(invs, "rank", None)
    return {"basis_size": len(basis), "independent": rank}


def _how_many(invs) -> str:
    """``"5 laws, 3 functionally independent"`` (or only the first half for a plain tuple)."""
    c = _counts(invs)
    n = c["basis_size"]
    out = f"{n} law{'s' * (n != 1)}"
    if c["independent"] is not None:
        out += f", {c['independent']} functionally independent"
    return out


def invariants_json(system, invs) -> dict:
    """``{"state": [...], "parameters": [...], "invariants": [expr strings],
    "basis_size": n, "independent": k}`` (``k`` functionally independent laws)."""
    return {**_head(system), "invariants": [sp.sstr(h) for h in invs], **_counts(invs)}


def check_json(check) -> dict:
    """``{"holds": bool, "counterexample": {name: value} or null}``."""
    cx = check.counterexample
    return {"holds": bool(check.holds),
            "counterexample": None if cx is None else {
                k: (v if isinstance(v, str) else json_number(v)) for k, v in cx.items()}}


def _point_json(p) -> dict:
    return {"solution": {str(k): sp.sstr(v) for k, v in p.solution.items()},
            "dimension": int(p.dimension),
            "eigenvalues": [sp.sstr(e) for e in p.eigenvalues],
            "stability": p.classification}


def fixed_points_json(system, fps) -> dict:
    """``{"state", "parameters", "fixed_points": [{"solution": {name: expr}, "dimension",
    "eigenvalues": [expr], "stability"}]}``."""
    return {**_head(system), "fixed_points": [_point_json(p) for p in fps]}


def reduction_json(red) -> dict | None:
    if red is None:
        return None
    return {"state": [str(s) for s in red.state],
            "rhs": [sp.sstr(e) for e in red.rhs],
            "back": {str(k): sp.sstr(v) for k, v in red.back.items()},
            "constants": {str(k): sp.sstr(v) for k, v in red.constants.items()}}


def analysis_json(an) -> dict:
    """Everything: ``state``, ``parameters``, ``invariants`` (null if not polynomial),
    ``fixed_points`` and ``reduction`` (null when none applies)."""
    system = an.system
    return {**_head(system),
            "invariants": None if an.invariants is None else
            [sp.sstr(h) for h in an.invariants],
            "fixed_points": [_point_json(p) for p in an.fixed_points],
            "reduction": reduction_json(an.reduction)}


# -- text -------------------------------------------------------------------------------------


def _title(system) -> list[str]:
    return [system.title,
            f"state: {', '.join(map(str, system.state))}",
            f"parameters: {', '.join(map(str, system.parameters)) or '(none)'}"]


def invariants_text(system, invs, degree: int) -> str:
    out = _title(system)
    if not invs:
        out.append(f"no polynomial first integral of degree <= {degree}")
    else:
        basis = getattr(invs, "basis", tuple(invs))
        subset = "functionally independent laws" if len(invs) < len(basis) else "a basis"
        regions = " on every relu activation region" if getattr(invs, "regions", False) else ""
        out.append(f"polynomial first integrals of degree <= {degree}{regions} ({subset}; "
                   f"{_how_many(invs)}):")
        out += [f"  H{i + 1} = {sp.sstr(h)}" for i, h in enumerate(invs)]
    return "\n".join(out)


def check_text(check) -> str:
    head = {"proved": "holds", "refuted": "does NOT hold", "unknown": "undecided"}[check.status]
    out = [f"H = {sp.sstr(check.expression)}: {head} ({check.method})", check.message]
    if check.counterexample:
        point = ", ".join(f"{k} = {v}" for k, v in check.counterexample.items()
                          if k not in ("dH/dt", "entry"))
        where = f" {check.counterexample['entry']}" if "entry" in check.counterexample else ""
        out.append(f"counterexample: dH/dt{where} = {check.counterexample['dH/dt']} at "
                   f"{point}")
    if check.status != "proved":
        out.append(f"dH/dt = {sp.sstr(check.derivative)}")
    return "\n".join(out)


def _point_text(i: int, p) -> list[str]:
    at = [] if p.exact else [
        "   at: " + ", ".join(f"{k} = {sp.sstr(v)}" for k, v in p.solution.items())]
    return [f"{i}. {p.description}", *at,
            f"   eigenvalues: {', '.join(sp.sstr(e) for e in p.eigenvalues) or '(none)'}",
            f"   stability: {p.classification}",
            f"   check: {p.verification}"]


def fixed_points_text(system, fps) -> str:
    out = _title(system)
    out.append(f"assumptions: {fps.assumptions}")
    out.append(f"fixed points: {fps.status} ({fps.message})")
    for i, p in enumerate(fps, 1):
        out += _point_text(i, p)
    return "\n".join(out)


def reduction_text(red) -> str:
    out = [f"reduction: {red.message}"]
    out += [f"  {k} = {sp.sstr(h)}" for k, h in red.constants.items()]
    out += [f"  {x} = {sp.sstr(e)}" for x, e in red.back.items()]
    out += [f"  d{x}/dt = {sp.sstr(e)}" for x, e in red.equations.items()]
    return "\n".join(out)


def analysis_text(an, degree: int) -> str:
    system = an.system
    out = [invariants_text(system, an.invariants, degree) if an.invariants is not None
           else "\n".join(_title(system))]
    fps = an.fixed_points
    out.append(f"assumptions: {fps.assumptions}\nfixed points: {fps.status} ({fps.message})")
    out += ["\n".join(_point_text(i, p)) for i, p in enumerate(fps, 1)]
    if an.reduction is not None:
        out.append(reduction_text(an.reduction))
    out += [f"note: {n}" for n in an.notes]
    return "\n".join(out)


# -- LaTeX ------------------------------------------------------------------------------------


def _align(lines: list[str]) -> str:
    return "\\begin{align}\n" + " \\\\\n".join(lines) + "\n\\end{align}"


def invariants_latex(system, invs) -> str:
    if not invs:
        return "% no polynomial first integral"
    return _align([f"H_{{{i + 1}}} &= {latex_expr(system, h)}"
                   for i, h in enumerate(invs)]) + f"\n{_how_many(invs)}."


def check_latex(system, check) -> str:
    lhs = rf"\frac{{d}}{{dt}}\left({latex_expr(system, check.expression)}\right)"
    line = f"{lhs} &= {latex_expr(system, check.derivative)}"
    comment = f"% {check.status} ({check.method}): {check.message}"
    if check.counterexample:
        comment += "\n% counterexample: " + ", ".join(
            f"{k} = {v}" for k, v in check.counterexample.items())
    return comment + "\n" + _align([line])


def _condition(p) -> Sentence:
    """What the stability of a fixed point depends on, as a sentence with its formulas
    (``" Stable where ..."``), or nothing."""
    cond = p.condition_sentence
    if not cond:
        return Sentence.of(f" {p.condition[:1].upper()}{p.condition[1:]}." if p.condition
                           else "")
    out = cond + "."
    first = out.parts[0]
    if isinstance(first, str):  # a capital letter: the condition is a sentence of its own
        out.parts[0] = first[:1].upper() + first[1:]
    return " " + out


def _point_latex(system, i: int, p) -> str:
    lines = [f"{latex_expr(system, k)} &= {latex_expr(system, v)}"
             for k, v in p.solution.items()]
    if not lines:
        lines = [r"&\text{every state}"]
    eigs = ", ".join(latex_expr(system, e) for e in p.eigenvalues)
    lines.append(rf"\operatorname{{spec}} J &= \left\{{{eigs}\right\}}")
    out = f"% fixed point {i}: dimension {p.dimension}; {p.classification}\n" + _align(lines)
    if p.condition_sentence:  # the condition the text gives, its formulas typeset
        said = (p.stability + ": " + p.condition_sentence + ".").latex(displays=False)
        out += f"\nTransverse stability of fixed point {i}: {said}"
    return out


def fixed_points_latex(system, fps) -> str:
    head = f"% fixed points: {fps.status}; {fps.assumptions}"
    return "\n".join([head, *(_point_latex(system, i, p) for i, p in enumerate(fps, 1))])


def reduction_latex(system, red) -> str:
    lines = [f"{latex_expr(system, k)} &= {latex_expr(system, h)}"
             for k, h in red.constants.items()]
    lines += [f"{latex_expr(system, x)} &= {latex_expr(system, e)}"
              for x, e in red.back.items()]
    lines += [rf"\frac{{d}}{{dt}} {latex_expr(system, x)} &= {latex_expr(system, e)}"
              for x, e in red.equations.items()]
    return f"% reduction: {red.message}\n" + _align(lines)


def analysis_latex(an) -> str:
    system = an.system
    parts = []
    if an.invariants is not None:
        parts.append("% invariants\n" + invariants_latex(system, an.invariants))
    parts.append(fixed_points_latex(system, an.fixed_points))
    if an.reduction is not None:
        parts.append(reduction_latex(system, an.reduction))
    parts += [f"% note: {n}" for n in an.notes]
    return "\n".join(parts)


# -- standalone documents (``--format latex --standalone``) -----------------------------------
#
# Sections whose sentences and equations are printed from the sympy objects (never from the
# plain-text messages, which are program text): numbered, labelled, broken to the page width.


def _printer(system):
    return _Latex(_function_names(system, latex=True), prose=True)


def _label(system, what: str) -> str:
    sizes = "-".join(str(n) for n in system.network.sizes)
    return f"{what}:{sizes}-{system.rule.name}"


def _clean(tex: str) -> str:
    return tex.replace("\x00", "")


def _invariants_section(system, invs, degree) -> str:
    if not invs:
        return "\\section*{First integrals}\n" + _sentence(
            "No polynomial first integral of degree at most {d}.", d=degree).latex()
    pr = _printer(system)
    rows = [(f"H_{{{i}}}", pr.doprint(h), str(i)) for i, h in enumerate(invs, 1)]
    basis = getattr(invs, "basis", tuple(invs))
    which = "A functionally independent subset" if len(invs) < len(basis) else "A basis"
    return ("\\section*{First integrals}\n"
            + _sentence(f"{which} of the polynomial first integrals of degree at most {{d}} "
                        f"({_how_many(invs)}):", d=degree).latex()
            + "\n\\begin{align}\n" + align_rows(rows, _label(system, "eq:H")) + "\n\\end{align}")


def _assumptions(system, values) -> Sentence:
    from ._common import free_parameters, positive_parameters

    values = {sp.Symbol(k) if isinstance(k, str) else k: v for k, v in (values or {}).items()}
    params = [p for p in free_parameters(system) if p not in values]
    pos = positive_parameters(system)
    nonzero, positive = [p for p in params if p not in pos], [p for p in params if p in pos]
    fixed = [sp.Eq(k, v) for k, v in values.items()]
    parts, math = [], {}
    if fixed:
        parts.append("at {fixed}")
        math["fixed"] = fixed
    if nonzero:
        parts.append("with {nonzero} real and non-zero")
        math["nonzero"] = nonzero
    if positive:
        parts.append("with {positive} positive")
        math["positive"] = positive
    if not parts:
        return _sentence("There are no symbolic parameters.")
    return _sentence("Parameters: " + "; ".join(parts) + ".", **math)


def _fixed_points_section(system, fps, values=None) -> str:
    pr = _printer(system)
    out = ["\\section*{Fixed points}", _assumptions(system, values).latex()]
    if fps.status not in ("solved", "numeric"):
        out.append(_sentence(f"The search ended with status {fps.status}; the list may be "
                             "incomplete.").latex())
    if not len(fps):
        out.append(_sentence("No fixed point was found.").latex())
    for i, p in enumerate(fps, 1):
        what = "an isolated point" if p.dimension == 0 else f"a set of dimension {p.dimension}"
        head = _sentence(f"Fixed point {i} is {what}" + (
            ", found numerically" if not p.exact else "") + f"; transverse stability: "
            f"{p.stability}" + (", with transverse eigenvalues {tr}" if p.transverse else "")
            + ".", tr=list(p.transverse)) + _condition(p)
        rows = [(_clean(pr.doprint(k)), pr.doprint(v), f"{i}:{k}")
                for k, v in p.solution.items()]
        eigs = ",\x00 ".join(pr.doprint(e) for e in p.eigenvalues)  # may break after commas
        rows.append((r"\operatorname{spec} J", rf"\left\{{{eigs}\right\}}", f"{i}:spec"))
        out.append(f"\\paragraph{{Fixed point {i}.}} {head.latex()}\n\\begin{{align}}\n"
                   + align_rows(rows, _label(system, "eq:fp")) + "\n\\end{align}")
    return "\n".join(out)


def _reduction_section(system, red) -> str:
    pr = _printer(system)
    rows = [(_clean(pr.doprint(k)), pr.doprint(h), str(k)) for k, h in red.constants.items()]
    rows += [(_clean(pr.doprint(x)), pr.doprint(e), str(x)) for x, e in red.back.items()]
    rows += [(rf"\dot{{{_clean(pr.doprint(x))}}}" if len(str(x)) == 1 else
              rf"\frac{{d}}{{dt}} {_clean(pr.doprint(x))}", pr.doprint(e), f"d{x}")
             for x, e in red.equations.items()]
    checked = "checked symbolically" if red.verified else "not checked"
    head = _sentence("On the level sets of the first integrals, with constants {K}, the "
                     f"variables {{back}} are eliminated ({checked}):", K=list(red.constants),
                     back=list(red.back))
    return ("\\section*{Reduction}\n" + head.latex() + "\n\\begin{align}\n"
            + align_rows(rows, _label(system, "eq:red")) + "\n\\end{align}")


def _system_section(system) -> str:
    return "\\section*{Learning equations}\n" + system.latex()


def invariants_document(system, invs, degree: int) -> str:
    """A complete LaTeX document: the equations and their polynomial first integrals."""
    return latex_document(_system_section(system), _invariants_section(system, invs, degree),
                          title=document_title(system))


def fixed_points_document(system, fps, values=None) -> str:
    """A complete LaTeX document: the equations and their fixed points with stability."""
    return latex_document(_system_section(system),
                          _fixed_points_section(system, fps, values), title=document_title(system))


def analysis_document(an, degree: int, values=None) -> str:
    """A complete LaTeX document: equations, first integrals, fixed points with stability,
    and the reduction."""
    system = an.system
    parts = [_system_section(system)]
    if an.invariants is not None:
        parts.append(_invariants_section(system, an.invariants, degree))
    parts.append(_fixed_points_section(system, an.fixed_points, values))
    if an.reduction is not None:
        parts.append(_reduction_section(system, an.reduction))
    return latex_document(*parts, title=document_title(system))
