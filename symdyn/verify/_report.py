"""The reports of verify results: the plain-text table written one row at a time as results
become known, JSON (one document or one object per result), and the LaTeX report. Results
are duck-typed (:class:`symdyn.verify.ProofResult`), so this module sits below
:mod:`symdyn.verify`, which re-exports its public functions."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .._typeset import latex_display, latex_math, tex_escape

__all__ = ["TableWriter", "result_json", "results_json", "results_table", "latex_report",
           "proof_parts", "proof_summary"]


def _jsonable(value):
    import numpy as np
    import sympy as sp

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, sp.Basic):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


_COLUMNS = ("result", "symbolic", "numeric", "checks", "time", "status", "proof")


def proof_parts(steps) -> list[dict]:
    """What the steps of a result establish, part by part of its claim (a step's ``part``;
    ``""``: the claim as a whole), in order: ``{part, kinds, covers, ok, evidence}``, where
    ``kinds`` are the kinds of the symbolic steps of that part (oracles and controls left
    out), ``covers`` the sizes they cover, and ``evidence`` is true for a part backed by
    numerical evidence only."""
    parts: dict[str, dict] = {}
    for s in steps:
        if s.check or s.kind == "note":
            continue
        entry = parts.setdefault(s.part, {"part": s.part, "kinds": [], "covers": [],
                                          "ok": True, "evidence": True})
        if s.kind == "symbolic":
            entry["evidence"] = False
            if s.proof not in entry["kinds"]:
                entry["kinds"].append(s.proof)
            if s.covers and s.covers not in entry["covers"]:
                entry["covers"].append(s.covers)
        entry["ok"] &= bool(s.ok)
    # a part proved symbolically needs no separate "whole claim: evidence" entry
    out = list(parts.values())
    whole = parts.get("")
    if whole is not None and whole["evidence"] and len(out) > 1:
        out.remove(whole)
    return out


def _merged(covers: list[str]) -> list[str]:
    """``depth 2``, ``depth 3``, ``depths 4-6`` -> ``depths 2-6`` (runs of depths merged)."""
    depths, other = set(), []
    for c in covers:
        m = re.fullmatch(r"depths? (\d+)(?:-(\d+))?", c)
        if m:
            depths |= set(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
        else:
            other.append(c)
    runs, out = [], []
    for d in sorted(depths):
        if runs and d == runs[-1][1] + 1:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    out = [f"depth {a}" if a == b else f"depths {a}-{b}" for a, b in runs]
    return out + other


def proof_summary(steps) -> str:
    """One line: per part of the claim, its kinds of proof and the sizes they cover, or
    ``evidence``; e.g. ``fixed points: identity; convergence: evidence``."""
    items = []
    for e in proof_parts(steps):
        what = "evidence" if e["evidence"] else ", ".join(e["kinds"])
        if e["covers"]:
            what += f" ({', '.join(_merged(e['covers']))})"
        if not e["ok"]:
            what += " FAILED"
        items.append(f"{e['part']}: {what}" if e["part"] else what)
    return "; ".join(items) or "-"


def _cells(r) -> tuple[str, ...]:
    passed, total = r.checks
    return (r.name, r.symbolic, f"{r.passed}/{r.cases}" if r.cases else "n/a",
            f"{passed}/{total}" if total else "-", f"{r.seconds:.1f}s", r.status,
            proof_summary(r.steps))


class TableWriter:
    """The plain-text table, one row at a time: :meth:`header` (column widths from the
    names of the results to come), :meth:`row` per result as it is known, :meth:`summary`."""

    def __init__(self, names: Sequence[str]):
        self.widths = [max([len(_COLUMNS[0]), *map(len, names)]), 8, 9, 7, 7, 7, 5]

    def _line(self, cells) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, self.widths)).rstrip()

    def header(self) -> str:
        return self._line(_COLUMNS) + "\n" + "  ".join("-" * w for w in self.widths)

    def row(self, r) -> str:
        return self._line(_cells(r))

    @staticmethod
    def summary(results: Sequence) -> str:
        counts = {k: sum(r.status == k for r in results) for k in ("ok", "failed", "timeout")}
        bad = [r for r in results if r.status != "ok"]
        lines = ["", f"{counts['ok']} of {len(results)} results ok"
                 + "".join(f"; {k}: {', '.join(r.name for r in bad if r.status == k)}"
                           for k in ("failed", "timeout") if counts[k])]
        for r in bad:
            for s in r.steps:
                if not s.ok:
                    extra = f" (counterexample: {_jsonable(s.counterexample)})" \
                        if s.counterexample is not None else ""
                    lines.append(f"  {r.name}: {s.statement}{extra}")
            if r.error:
                lines.append(f"  {r.name}: {r.error.splitlines()[0]}")
        return "\n".join(lines)


def result_json(r) -> dict:
    """One result as JSON: ``{name, title, claim, symbolic, proof, proofs, numeric: {cases,
    passed}, checks: {passed, total}, status, seconds, details[, error]}``; ``proof``: the
    line of the table's proof column, ``proofs``: per part of the claim its kinds of proof
    and the sizes covered, or ``evidence`` (see :func:`proof_parts`)."""
    passed, total = r.checks
    return {"name": r.name, "title": str(r.title), "claim": str(r.claim), "symbolic": r.symbolic,
            "proof": proof_summary(r.steps), "proofs": proof_parts(r.steps),
            "numeric": {"cases": r.cases, "passed": r.passed},
            "checks": {"passed": passed, "total": total}, "status": r.status,
            "seconds": round(r.seconds, 3), "details": r.details,
            **({"error": r.error} if r.error else {})}


def results_json(results: Sequence) -> dict:
    """``{"results": [result_json(r), ...]}``"""
    return {"results": [result_json(r) for r in results]}


def results_table(results: Sequence) -> str:
    """A plain-text table: result, symbolic status, numerical cases, oracles and controls
    passed, time, status; then a summary (ok / failed / timeout) and every failed step."""
    t = TableWriter([r.name for r in results])
    return "\n".join([t.header(), *map(t.row, results), t.summary(results)])


def _shown(display) -> bool:
    return not (isinstance(display, str) and not display) and display is not None


def _display_latex(display) -> str:
    if isinstance(display, str):
        return display
    return latex_math(display)


def _counterexample_latex(cx) -> str:
    if not isinstance(cx, dict):
        return tex_escape(str(_jsonable(cx)))
    import sympy as sp

    items = []
    for k, v in cx.items():
        name = (r"\dot H" if k == "dH/dt" else latex_math(sp.Symbol(k)) if k.isidentifier()
                else rf"\text{{{tex_escape(k)}}}")
        value = (latex_math(v) if isinstance(v, (sp.Basic, int, float))
                 else rf"\text{{{tex_escape(str(_jsonable(v)))}}}")
        items.append(f"{name} = {value}")
    return "$" + r",\ ".join(items) + "$"


_TAGS = {"symbolic": ("proved symbolically", "fails symbolically"),
         "numeric": ("numerical evidence", "numerical evidence fails"),
         "note": ("note", "note")}

#: rows of the evidence table per tabular (each block fits a page)
_TABLE_ROWS = 16

#: amsthm environments of the report: a theorem (every part of its claim proved), a claim
#: (some part rests on numerical evidence, or a step failed), a control (checks the machinery);
#: emergencystretch lets a long inline formula at a line's end loosen the line, not overflow it
_THEOREMS = ("\\usepackage{amsthm}\n\\usepackage{array}\n"
             "\\setlength{\\emergencystretch}{3em}\n"
             "\\theoremstyle{plain}\n\\newtheorem{theorem}{Theorem}[section]\n"
             "\\newtheorem{claim}[theorem]{Claim}\n"
             "\\theoremstyle{remark}\n\\newtheorem{control}[theorem]{Control}\n")


def _step_item(r, k: int, s) -> str:
    tag = _TAGS[s.kind][0 if s.ok else 1]
    if s.check:  # oracles and controls check the machinery, not the claim
        tag = f"{s.check} {'passed' if s.ok else 'failed'}"
    elif s.kind == "symbolic":
        tag += f" ({s.proof}{', ' + s.covers if s.covers else ''})"
    if s.part and not s.check:
        tag += f"; {s.part}"
    tag = tex_escape(tag)
    if s.kind == "numeric":
        tag += f", ${s.passed}/{s.cases}$ cases"
    line = f"\\item \\textit{{{tag}:}} {s.statement.latex()}"
    if _shown(s.latex):
        if isinstance(s.latex, str):  # LaTeX given as such
            line += (f"\n\\begin{{equation}}\\label{{eq:{r.name}:{k}}}\n{s.latex}\n"
                     "\\end{equation}")
        else:
            line += "\n" + latex_display(s.latex, label=f"eq:{r.name}:{k}")
    if not s.ok and s.counterexample is not None:
        line += f"\n\nCounterexample: {_counterexample_latex(s.counterexample)}."
    return line


def _items(r, indexed) -> str:
    return ("\\begin{enumerate}\n" + "\n".join(_step_item(r, k, s) for k, s in indexed)
            + "\n\\end{enumerate}")


def _environment(r) -> str:
    claims = [s for s in r.steps if not s.check and s.kind != "note"]
    if not claims:
        return "control"
    return "theorem" if r.symbolic == "proved" and r.status == "ok" else "claim"


def _result_section(r) -> str:
    """One result: its theorem (or claim, or control) with the assumptions, the proof from
    its symbolic steps and notes, then the numerical evidence and the checks."""
    numeric = f"${r.passed}/{r.cases}$ cases" if r.cases else "none"
    env = _environment(r)
    parts = [f"\\section{{{r.title.latex(displays=False)}}}\\label{{res:{r.name}}}",
             f"\\noindent Result \\texttt{{{tex_escape(r.name)}}}: symbolic {r.symbolic}; "
             f"proof: {tex_escape(proof_summary(r.steps))}; numerical evidence {numeric}; "
             f"status {r.status}.\n"]
    hyp = f"Assume {r.hypotheses.latex()} " if r.hypotheses else ""
    parts.append(f"\\begin{{{env}}}\\label{{thm:{r.name}}}\n{hyp}{r.claim.latex()}\n"
                 f"\\end{{{env}}}")
    indexed = list(enumerate(r.steps, 1))
    proof = [(k, s) for k, s in indexed if not s.check and s.kind in ("symbolic", "note")]
    evidence = [(k, s) for k, s in indexed if not s.check and s.kind == "numeric"]
    checks = [(k, s) for k, s in indexed if s.check]
    if proof and any(s.kind == "symbolic" for _, s in proof):
        evidence_parts = [e["part"] or "the claim" for e in proof_parts(r.steps)
                          if e["evidence"]]
        title, lead = "", ""
        if env != "theorem":
            title = "[Proof of the parts proved]"
            lead = "The steps checked by computer algebra, and notes." + (
                f" Numerical evidence only (below): {tex_escape(', '.join(evidence_parts))}."
                if evidence_parts else "") + "\n"
        parts.append(f"\\begin{{proof}}{title}\n{lead}{_items(r, proof)}\n\\end{{proof}}")
    elif proof:
        parts.append("\\paragraph{Notes.}\n" + _items(r, proof))
    if evidence:
        parts.append("\\paragraph{Numerical evidence.}\n" + _items(r, evidence))
    if checks:
        parts.append("\\paragraph{Oracles and controls.}\n" + _items(r, checks))
    if r.error:
        first = tex_escape(r.error.splitlines()[0])
        parts.append(f"\\paragraph{{Error.}} \\texttt{{{first}}}")
    return "\n".join(parts)


def latex_report(results: Sequence) -> str:
    """One LaTeX document: the evidence table, then per result a section (labelled
    ``res:<name>``) with its claim in an amsthm environment (``theorem`` when every part is
    proved, ``claim`` when a part rests on numerical evidence, ``control`` for a check of
    the machinery; labelled ``thm:<name>``) with its assumptions, a ``proof`` of its
    symbolic steps, then its numerical evidence and checks. Every formula comes from sympy
    objects (see :func:`sentence`); each displayed formula is an equation labelled
    ``eq:<name>:<step number>``. References resolve after two ``pdflatex`` runs."""
    from ..report import latex_document

    rows = []
    # the section number written out, not \ref'd: the table comes before the sections, so a
    # \ref would read "??" until a second pdflatex pass
    for number, r in enumerate(results, 1):
        _, symbolic, _, checks, _, status, proof = _cells(r)
        numeric = f"${r.passed}/{r.cases}$" if r.cases else "n/a"
        rows.append(rf"{number} & \texttt{{{tex_escape(r.name)}}} & {symbolic} & "
                    rf"{numeric} & {checks} & {r.seconds:.1f}\,s & {status} & "
                    rf"{tex_escape(proof)} \\")
    # one tabular per block of rows: a single box taller than the page would overflow it
    head = ("{\\footnotesize\\setlength{\\tabcolsep}{4pt}\\noindent"
            "\\begin{tabular}{lllllrl>{\\raggedright\\arraybackslash}p{4.5cm}}\n\\hline\n"
            "section & result & symbolic & numeric & checks & time & status & proof \\\\\n"
            "\\hline\n")
    blocks = [head + "\n".join(rows[k:k + _TABLE_ROWS]) + "\n\\hline\n\\end{tabular}}\n"
              for k in range(0, len(rows), _TABLE_ROWS)]
    table = "\\section*{Evidence}\n" + "\n\\medskip\n".join(blocks)
    sections = [table, *map(_result_section, results)]
    return latex_document(*sections, title="symdyn: verification of the results",
                          preamble=_THEOREMS)
