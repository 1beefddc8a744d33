r"""Verification: executable proofs of the papers' results, run and reported.

A proof is a function decorated with :func:`proof` that states a claim and its hypotheses,
then records *steps* on a :class:`ProofContext`:

* ``ctx.symbolic(statement, holds)``: an identity checked by computer algebra;
* ``ctx.numeric(statement, passed, cases)``: numerical evidence over ``cases`` cases;
* ``ctx.sample(statement, strategy, check, n)``: evidence drawn by hypothesis (``n``
  examples, derandomised, so runs are reproducible), with a shrunk counterexample on failure.

Titles, claims, hypotheses and statements are :func:`sentence` objects: prose with formulas
given as sympy objects (``sentence("{H} is conserved", H=a1**2 - a2**2)``), so that the LaTeX
report prints every formula with sympy's printer, in math mode; a step may also show a
numbered display (``latex=``: a sympy equation or expression, or :class:`Math`, LaTeX built
from sympy objects). A plain string is prose.

A result is "proved" symbolically only when it has symbolic steps and all of them hold; its
status is "ok" only when no step failed. Proof files live in the top-level ``proofs/``."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._typeset import Math, Sentence, ddt, latex_display, latex_math, sentence, tex_escape
from .errors import SpecError

__all__ = [
    "proof",
    "Proof",
    "ProofContext",
    "ProofResult",
    "Step",
    "load_proofs",
    "run_proof",
    "run_proofs",
    "results_table",
    "results_json",
    "latex_report",
    "sentence",
    "Sentence",
    "Math",
    "ddt",
]


@dataclass(frozen=True)
class Step:
    """One step of a proof: symbolic (an identity), numeric (evidence) or a note."""

    kind: str  # "symbolic" | "numeric" | "note"
    statement: Sentence
    ok: bool = True
    cases: int = 0
    passed: int = 0
    latex: Any = ""  # a display: sympy object, Math, or LaTeX
    counterexample: Any = None

    def __post_init__(self):
        object.__setattr__(self, "statement", Sentence.of(self.statement))

    def as_dict(self) -> dict:
        out = {"kind": self.kind, "statement": str(self.statement), "ok": self.ok}
        if self.kind == "numeric":
            out.update(cases=self.cases, passed=self.passed)
        if _shown(self.latex):
            out["latex"] = _display_latex(self.latex)
        if self.counterexample is not None:
            out["counterexample"] = _jsonable(self.counterexample)
        return out


@dataclass(frozen=True)
class Proof:
    """A registered proof: its claim and the function that checks it."""

    name: str
    title: Sentence
    claim: Sentence
    hypotheses: Sentence
    check: Callable[[ProofContext], None]
    source: str = ""

    def __post_init__(self):
        for name in ("title", "claim", "hypotheses"):
            object.__setattr__(self, name, Sentence.of(getattr(self, name)))


class ProofContext:
    """What a proof records its steps on. ``quick`` asks for fewer numerical cases."""

    def __init__(self, *, quick: bool = False, seed: int = 0):
        self.quick = quick
        self.seed = seed
        self.steps: list[Step] = []

    def cases(self, quick: int, full: int) -> int:
        """How many numerical cases to draw in this profile."""
        return quick if self.quick else full

    def symbolic(self, statement: str | Sentence, holds: bool, *, latex: Any = "",
                 counterexample: Any = None) -> bool:
        """Record an identity checked by computer algebra."""
        self.steps.append(Step("symbolic", statement, bool(holds), latex=latex,
                               counterexample=counterexample))
        return bool(holds)

    def numeric(self, statement: str | Sentence, passed: int, cases: int, *, latex: Any = "",
                counterexample: Any = None) -> bool:
        """Record numerical evidence: ``passed`` of ``cases`` cases satisfied the check."""
        ok = cases > 0 and passed == cases
        self.steps.append(Step("numeric", statement, ok, cases=int(cases), passed=int(passed),
                               latex=latex, counterexample=counterexample))
        return ok

    def note(self, statement: str | Sentence, *, latex: Any = "") -> None:
        """Record a remark (a finding, a special case stated precisely)."""
        self.steps.append(Step("note", statement, latex=latex))

    def sample(self, statement: str | Sentence, strategy, check: Callable[[Any], bool], n: int, *,
               latex: Any = "") -> bool:
        """Evidence over ``n`` examples drawn by hypothesis from ``strategy``: ``check``
        returns whether an example satisfies the claim. A failure is shrunk to a minimal
        counterexample, which is recorded."""
        from hypothesis import HealthCheck as HC
        from hypothesis import Phase, given, settings

        outcomes: list[bool] = []
        common = dict(database=None, deadline=None, derandomize=True,
                      suppress_health_check=list(HC))

        @settings(max_examples=n, phases=[Phase.explicit, Phase.generate], **common)
        @given(strategy)
        def draw(example):
            outcomes.append(bool(check(example)))

        draw()
        counterexample = None
        if not all(outcomes):
            found: list = []

            @settings(max_examples=n, phases=[Phase.generate, Phase.shrink], **common)
            @given(strategy)
            def shrink(example):
                if not check(example):
                    found.append(example)
                    raise AssertionError

            try:
                shrink()
            except AssertionError:
                pass
            counterexample = found[-1] if found else None
        return self.numeric(statement, sum(outcomes), len(outcomes), latex=latex,
                            counterexample=counterexample)


@dataclass(frozen=True)
class ProofResult:
    """The outcome of one proof."""

    name: str
    title: Sentence
    claim: Sentence
    hypotheses: Sentence
    symbolic: str  # "proved" | "n/a" | "failed"
    cases: int
    passed: int
    status: str  # "ok" | "failed"
    seconds: float
    steps: tuple[Step, ...] = ()
    error: str = ""

    @property
    def details(self) -> list[dict]:
        return [s.as_dict() for s in self.steps]


# -- registry -------------------------------------------------------------------------------

_REGISTRY: dict[str, Proof] = {}


def proof(name: str, *, title: str | Sentence, claim: str | Sentence,
          hypotheses: str | Sentence = ""):
    """Register the decorated function as the proof of ``claim`` (each text a
    :func:`sentence`, or plain prose)."""

    def strip(text):
        return text.strip() if isinstance(text, str) else text

    def register(check: Callable[[ProofContext], None]) -> Callable:
        _REGISTRY[name] = Proof(name, title, strip(claim), strip(hypotheses), check,
                                getattr(check, "__module__", ""))
        return check

    return register


def proofs_directory(directory: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Where the proofs are read from, and why: ``directory`` if named, else
    ``$SYMDYN_PROOFS``, else the proofs installed with symdyn (``symdyn/_proofs``) or, in a
    checkout, its ``proofs/``. Never the working directory unless it is named."""
    if directory is not None:
        return Path(directory), "named by --proofs"
    if os.environ.get("SYMDYN_PROOFS"):
        return Path(os.environ["SYMDYN_PROOFS"]), "named by $SYMDYN_PROOFS"
    here = Path(__file__).resolve().parent
    if (here / "_proofs").is_dir():
        return here / "_proofs", "installed with symdyn"
    checkout = here.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "proofs").is_dir():
        return checkout / "proofs", "this checkout of symdyn"
    raise SpecError("symdyn's own proofs are not installed with it; name a directory of "
                    "proofs with --proofs DIR (or $SYMDYN_PROOFS)")


def load_proofs(directory: str | os.PathLike | None = None) -> list[Proof]:
    """Import every ``*.py`` of the proofs directory (see :func:`proofs_directory`) and
    return the registered proofs, in file order."""
    folder, _ = proofs_directory(directory)
    if not folder.is_dir():
        raise SpecError(f"no proofs directory at {str(folder)!r}")
    _REGISTRY.clear()  # each load starts afresh, so edited proofs are re-read
    sys.path.insert(0, str(folder))  # proofs share helpers in proofs/_*.py
    try:
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            spec = importlib.util.spec_from_file_location(f"symdyn_proofs.{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return list(_REGISTRY.values())


def run_proof(p: Proof, *, quick: bool = False) -> ProofResult:
    """Run one proof; an exception inside it is a failure, reported, never raised."""
    ctx = ProofContext(quick=quick)
    start = time.perf_counter()
    error = ""
    try:
        p.check(ctx)
    except Exception as exc:  # a broken proof is a failed result, with the reason
        error = f"{type(exc).__name__}: {exc}\n" + traceback.format_exc(limit=3)
    seconds = time.perf_counter() - start
    symbolic_steps = [s for s in ctx.steps if s.kind == "symbolic"]
    numeric_steps = [s for s in ctx.steps if s.kind == "numeric"]
    if not symbolic_steps:
        symbolic = "n/a"
    elif all(s.ok for s in symbolic_steps):
        symbolic = "proved"
    else:
        symbolic = "failed"
    failed = bool(error) or any(not s.ok for s in ctx.steps) or not (symbolic_steps
                                                                      or numeric_steps)
    return ProofResult(
        name=p.name, title=p.title, claim=p.claim, hypotheses=p.hypotheses,
        symbolic=symbolic, cases=sum(s.cases for s in numeric_steps),
        passed=sum(s.passed for s in numeric_steps), status="failed" if failed else "ok",
        seconds=seconds, steps=tuple(ctx.steps), error=error,
    )


def run_proofs(names: Sequence[str] = (), *, quick: bool = False,
               directory: str | os.PathLike | None = None,
               progress: Callable[[Iterable], Iterable] | None = None) -> list[ProofResult]:
    """Run the named proofs (all when ``names`` is empty)."""
    proofs = load_proofs(directory)
    if names:
        known = {p.name: p for p in proofs}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SpecError(f"no proof named {unknown[0]!r}; known: {', '.join(known)}")
        proofs = [known[n] for n in names]
    items = progress(proofs) if progress else proofs
    return [run_proof(p, quick=quick) for p in items]


# -- reporting ------------------------------------------------------------------------------


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


def results_json(results: Sequence[ProofResult]) -> dict:
    """``{"results": [{name, claim, symbolic, numeric: {cases, passed}, status, details}]}``"""
    return {"results": [
        {"name": r.name, "title": str(r.title), "claim": str(r.claim), "symbolic": r.symbolic,
         "numeric": {"cases": r.cases, "passed": r.passed}, "status": r.status,
         "seconds": round(r.seconds, 3), "details": r.details,
         **({"error": r.error} if r.error else {})}
        for r in results]}


def results_table(results: Sequence[ProofResult]) -> str:
    """A plain-text table: result, symbolic status, numerical cases, time, status."""
    rows = [("result", "symbolic", "numeric", "time", "status")]
    for r in results:
        numeric = f"{r.passed}/{r.cases}" if r.cases else "n/a"
        rows.append((r.name, r.symbolic, numeric, f"{r.seconds:.1f}s", r.status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    failed = [r for r in results if r.status != "ok"]
    lines.append("")
    lines.append(f"{len(results) - len(failed)} of {len(results)} results ok"
                 + (f"; failed: {', '.join(r.name for r in failed)}" if failed else ""))
    for r in failed:
        for s in r.steps:
            if not s.ok:
                extra = f" (counterexample: {_jsonable(s.counterexample)})" \
                    if s.counterexample is not None else ""
                lines.append(f"  {r.name}: {s.statement}{extra}")
        if r.error:
            lines.append(f"  {r.name}: {r.error.splitlines()[0]}")
    return "\n".join(lines)


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


def latex_report(results: Sequence[ProofResult]) -> str:
    """One LaTeX document: the evidence table, then per result its claim, hypotheses and
    steps. Every formula comes from sympy objects (see :func:`sentence`); each result is a
    section labelled ``res:<name>``, each displayed formula an equation labelled
    ``eq:<name>:<step number>``."""
    from .report import latex_document

    rows = []
    for r in results:
        numeric = f"${r.passed}/{r.cases}$" if r.cases else "n/a"
        rows.append(rf"\ref{{res:{r.name}}} & \texttt{{{tex_escape(r.name)}}} & {r.symbolic} & "
                    rf"{numeric} & {r.seconds:.1f}\,s & {r.status} \\")
    table = ("\\section*{Evidence}\n\\begin{tabular}{llllrl}\n\\hline\n"
             "section & result & symbolic & numeric & time & status \\\\\n\\hline\n"
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
