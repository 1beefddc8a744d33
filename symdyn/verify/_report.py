"""The reports of verify results: the plain-text table written one row at a time as results
become known, JSON (one document or one object per result), and the LaTeX report. Results
are duck-typed (:class:`symdyn.verify.ProofResult`), so this module sits below
:mod:`symdyn.verify`, which re-exports its public functions."""

from __future__ import annotations

from collections.abc import Sequence

from .._typeset import latex_display, latex_math, tex_escape

__all__ = ["TableWriter", "result_json", "results_json", "results_table", "latex_report"]


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


_COLUMNS = ("result", "symbolic", "numeric", "checks", "time", "status")


def _cells(r) -> tuple[str, ...]:
    passed, total = r.checks
    return (r.name, r.symbolic, f"{r.passed}/{r.cases}" if r.cases else "n/a",
            f"{passed}/{total}" if total else "-", f"{r.seconds:.1f}s", r.status)


class TableWriter:
    """The plain-text table, one row at a time: :meth:`header` (column widths from the
    names of the results to come), :meth:`row` per result as it is known, :meth:`summary`."""

    def __init__(self, names: Sequence[str]):
        self.widths = [max([len(_COLUMNS[0]), *map(len, names)]), 8, 9, 7, 7, 7]

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
    """One result as JSON: ``{name, title, claim, symbolic, numeric: {cases, passed},
    checks: {passed, total}, status, seconds, details[, error]}``."""
    passed, total = r.checks
    return {"name": r.name, "title": str(r.title), "claim": str(r.claim), "symbolic": r.symbolic,
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


def latex_report(results: Sequence) -> str:
    """One LaTeX document: the evidence table, then per result its claim, hypotheses and
    steps. Every formula comes from sympy objects (see :func:`sentence`); each result is a
    section labelled ``res:<name>``, each displayed formula an equation labelled
    ``eq:<name>:<step number>``."""
    from ..report import latex_document

    rows = []
    # the section number written out, not \ref'd: the table comes before the sections, so a
    # \ref would read "??" until a second pdflatex pass
    for number, r in enumerate(results, 1):
        _, symbolic, _, checks, _, status = _cells(r)
        numeric = f"${r.passed}/{r.cases}$" if r.cases else "n/a"
        rows.append(rf"{number} & \texttt{{{tex_escape(r.name)}}} & {symbolic} & "
                    rf"{numeric} & {checks} & {r.seconds:.1f}\,s & {status} \\")
    table = ("\\section*{Evidence}\n\\begin{tabular}{lllllrl}\n\\hline\n"
             "section & result & symbolic & numeric & checks & time & status \\\\\n\\hline\n"
             + "\n".join(rows) + "\n\\hline\n\\end{tabular}\n")
    sections = [table]
    for r in results:
        numeric = f"${r.passed}/{r.cases}$ cases" if r.cases else "none"
        parts = [f"\\section{{{r.title.latex(displays=False)}}}\\label{{res:{r.name}}}",
                 f"\\noindent Result \\texttt{{{tex_escape(r.name)}}}: symbolic {r.symbolic}; "
                 f"numerical evidence {numeric}; status {r.status}.\n"]
        if r.hypotheses:
            parts.append(f"\\paragraph{{Hypotheses.}} {r.hypotheses.latex()}\n")
        parts.append(f"\\paragraph{{Claim.}} {r.claim.latex()}\n")
        if r.steps:
            items = []
            for k, s in enumerate(r.steps, 1):
                tag = _TAGS[s.kind][0 if s.ok else 1]
                if s.check:  # oracles and controls check the machinery, not the claim
                    tag = f"{s.check} {'passed' if s.ok else 'failed'}"
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
                items.append(line)
            parts.append("\\paragraph{Steps.}\n\\begin{enumerate}\n" + "\n".join(items)
                         + "\n\\end{enumerate}")
        if r.error:
            first = tex_escape(r.error.splitlines()[0])
            parts.append(f"\\paragraph{{Error.}} \\texttt{{{first}}}")
        sections.append("\n".join(parts))
    return latex_document(*sections, title="symdyn: verification of the results")
