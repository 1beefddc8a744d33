r"""Verification: executable proofs of the papers' results, run and reported.

A proof is a function decorated with :func:`proof` that states a claim (LaTeX) and its
hypotheses, then records *steps* on a :class:`ProofContext`:

* ``ctx.symbolic(statement, holds)``: an identity checked by computer algebra;
* ``ctx.numeric(statement, passed, cases)``: numerical evidence over ``cases`` cases;
* ``ctx.sample(statement, strategy, check, n)``: evidence drawn by hypothesis (``n``
  examples, derandomised, so runs are reproducible), with a shrunk counterexample on failure.

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
]


@dataclass(frozen=True)
class Step:
    """One step of a proof: symbolic (an identity), numeric (evidence) or a note."""

    kind: str  # "symbolic" | "numeric" | "note"
    statement: str
    ok: bool = True
    cases: int = 0
    passed: int = 0
    latex: str = ""
    counterexample: Any = None

    def as_dict(self) -> dict:
        out = {"kind": self.kind, "statement": self.statement, "ok": self.ok}
        if self.kind == "numeric":
            out.update(cases=self.cases, passed=self.passed)
        if self.latex:
            out["latex"] = self.latex
        if self.counterexample is not None:
            out["counterexample"] = _jsonable(self.counterexample)
        return out


@dataclass(frozen=True)
class Proof:
    """A registered proof: its claim and the function that checks it."""

    name: str
    title: str
    claim: str
    hypotheses: str
    check: Callable[[ProofContext], None]
    source: str = ""


class ProofContext:
    """What a proof records its steps on. ``quick`` asks for fewer numerical cases."""

    def __init__(self, *, quick: bool = False, seed: int = 0):
        self.quick = quick
        self.seed = seed
        self.steps: list[Step] = []

    def cases(self, quick: int, full: int) -> int:
        """How many numerical cases to draw in this profile."""
        return quick if self.quick else full

    def symbolic(self, statement: str, holds: bool, *, latex: str = "",
                 counterexample: Any = None) -> bool:
        """Record an identity checked by computer algebra."""
        self.steps.append(Step("symbolic", statement, bool(holds), latex=latex,
                               counterexample=counterexample))
        return bool(holds)

    def numeric(self, statement: str, passed: int, cases: int, *, latex: str = "",
                counterexample: Any = None) -> bool:
        """Record numerical evidence: ``passed`` of ``cases`` cases satisfied the check."""
        ok = cases > 0 and passed == cases
        self.steps.append(Step("numeric", statement, ok, cases=int(cases), passed=int(passed),
                               latex=latex, counterexample=counterexample))
        return ok

    def note(self, statement: str, *, latex: str = "") -> None:
        """Record a remark (a finding, a special case stated precisely)."""
        self.steps.append(Step("note", statement, latex=latex))

    def sample(self, statement: str, strategy, check: Callable[[Any], bool], n: int, *,
               latex: str = "") -> bool:
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
    title: str
    claim: str
    hypotheses: str
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


def proof(name: str, *, title: str, claim: str, hypotheses: str = ""):
    """Register the decorated function as the proof of ``claim``."""

    def register(check: Callable[[ProofContext], None]) -> Callable:
        _REGISTRY[name] = Proof(name, title, claim.strip(), hypotheses.strip(), check,
                                getattr(check, "__module__", ""))
        return check

    return register


def _proofs_directory(directory: str | os.PathLike | None) -> Path:
    if directory is not None:
        return Path(directory)
    if os.environ.get("SYMDYN_PROOFS"):
        return Path(os.environ["SYMDYN_PROOFS"])
    beside_package = Path(__file__).resolve().parents[1] / "proofs"
    return beside_package if beside_package.is_dir() else Path.cwd() / "proofs"


def load_proofs(directory: str | os.PathLike | None = None) -> list[Proof]:
    """Import every ``*.py`` of the proofs directory (default: ``proofs/`` beside the
    package, or ``$SYMDYN_PROOFS``) and return the registered proofs, in file order."""
    folder = _proofs_directory(directory)
    if not folder.is_dir():
        raise SpecError(f"no proofs directory at {str(folder)!r}; set SYMDYN_PROOFS or run "
                        "from a checkout of symdyn")
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
        {"name": r.name, "title": r.title, "claim": r.claim, "symbolic": r.symbolic,
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


def _tex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"),
                 ("#", r"\#"), ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\~{}"),
                 ("^", r"\^{}")):
        text = text.replace(a, b)
    return text


def latex_report(results: Sequence[ProofResult]) -> str:
    """One LaTeX document: every claim, its hypotheses, its steps, and the evidence table.
    Claims and step formulas are LaTeX; statements are escaped text."""
    from .report import latex_document

    rows = []
    for r in results:
        numeric = f"{r.passed}/{r.cases}" if r.cases else "n/a"
        rows.append(f"{_tex_escape(r.name)} & {r.symbolic} & {numeric} & "
                    f"{r.seconds:.1f}\\,s & {r.status} \\\\")
    table = ("\\section*{Evidence}\n\\begin{tabular}{lllll}\n\\hline\n"
             "result & symbolic & numeric & time & status \\\\\n\\hline\n"
             + "\n".join(rows) + "\n\\hline\n\\end{tabular}\n")
    sections = [table]
    for r in results:
        parts = [f"\\section{{{_tex_escape(r.title)}}}",
                 f"\\noindent\\textbf{{Result}} \\texttt{{{_tex_escape(r.name)}}}: "
                 f"symbolic {r.symbolic}, numerical {r.passed}/{r.cases}, {r.status}.\n"]
        if r.hypotheses:
            parts.append(f"\\paragraph{{Hypotheses.}} {r.hypotheses}\n")
        parts.append(f"\\paragraph{{Claim.}} {r.claim}\n")
        if r.steps:
            items = []
            for s in r.steps:
                tag = {"symbolic": "proved symbolically" if s.ok else "FAILS symbolically",
                       "numeric": f"numerical evidence, {s.passed}/{s.cases} cases",
                       "note": "note"}[s.kind]
                line = f"\\item[] \\textit{{{tag}:}} {_tex_escape(s.statement)}"
                if s.latex:
                    line += f"\n\\begin{{align*}}\n{s.latex}\n\\end{{align*}}"
                items.append(line)
            parts.append("\\begin{itemize}\n" + "\n".join(items) + "\n\\end{itemize}")
        if r.error:
            first = _tex_escape(r.error.splitlines()[0])
            parts.append(f"\\paragraph{{Error.}} \\texttt{{{first}}}")
        sections.append("\n".join(parts))
    return latex_document(*sections, title="symdyn: verification of the results")

