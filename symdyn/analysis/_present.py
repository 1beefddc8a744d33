"""The analyses as text, LaTeX and JSON (what the ``invariants``, ``fixed-points`` and
``analyze`` commands print), all from the sympy objects."""

from __future__ import annotations

import sympy as sp

from ..report import latex_expr

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


def invariants_json(system, invs) -> dict:
    """``{"state": [...], "parameters": [...], "invariants": [expr strings]}``."""
    return {**_head(system), "invariants": [sp.sstr(h) for h in invs]}


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
        out.append(f"polynomial first integrals of degree <= {degree} (a basis):")
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
    return _align([f"H_{{{i + 1}}} &= {latex_expr(system, h)}" for i, h in enumerate(invs)])


def check_latex(system, check) -> str:
    lhs = rf"\frac{{d}}{{dt}}\left({latex_expr(system, check.expression)}\right)"
    line = f"{lhs} &= {latex_expr(system, check.derivative)}"
    comment = f"% {check.status} ({check.method}): {check.message}"
    if check.counterexample:
        comment += "\n% counterexample: " + ", ".join(
            f"{k} = {v}" for k, v in check.counterexample.items())
    return comment + "\n" + _align([line])


def _point_latex(system, i: int, p) -> str:
    lines = [f"{latex_expr(system, k)} &= {latex_expr(system, v)}"
             for k, v in p.solution.items()]
    if not lines:
        lines = [r"&\text{every state}"]
    eigs = ", ".join(latex_expr(system, e) for e in p.eigenvalues)
    lines.append(rf"\operatorname{{spec}} J &= \left\{{{eigs}\right\}}")
    return (f"% fixed point {i}: dimension {p.dimension}; {p.classification}\n"
            + _align(lines))


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
