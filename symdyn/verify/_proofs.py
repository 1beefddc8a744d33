r"""The proof API (:func:`proof`, :class:`ProofContext`) and the runner; the package
docstring (:mod:`symdyn.verify`) states what a proof records."""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .._typeset import Math, Sentence, ddt, sentence
from ..errors import SpecError
from ..numerics._budget import DEADLINE, BudgetExhausted
from ..numerics._budget import clock as budget_clock
from ._budgets import BUDGETS
from ._directory import proofs_directory
from ._load import import_proof_file
from ._oracles import OracleSteps
from ._report import (
    TableWriter,
    _display_latex,
    _jsonable,
    _shown,
    latex_report,
    proof_parts,
    proof_summary,
    result_json,
    results_json,
    results_table,
)
from ._worker import Progress, Worker, picklable

__all__ = [
    "proof",
    "Proof",
    "ProofContext",
    "ProofResult",
    "Step",
    "load_proofs",
    "proofs_directory",
    "run_proof",
    "run_proofs",
    "iter_results",
    "select_proofs",
    "BUDGETS",
    "PROOF_KINDS",
    "results_table",
    "result_json",
    "TableWriter",
    "results_json",
    "latex_report",
    "sentence",
    "Sentence",
    "Math",
    "ddt",
]


#: What a symbolic step can establish, and how it is named in the reports.
PROOF_KINDS = {
    "identity": "an identity checked by computer algebra",
    "reduction+sign": "a reduction on level sets and an exact sign analysis",
    "lyapunov": "a Lyapunov (or LaSalle) function, its derivative's sign proved",
    "a-priori bound": "an a-priori bound: no blow-up in finite time",
    "exact classification": "every start classified exactly (by its level set)",
}


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
    check: str = ""  # "oracle" | "control" | "" (evidence of the claim itself)
    proof: str = ""  # symbolic steps: the kind of proof (a key of PROOF_KINDS)
    covers: str = ""  # symbolic steps: the sizes or depths the step is proved for
    part: str = ""  # the part of the claim the step bears on ("": the claim as a whole)

    def __post_init__(self):
        object.__setattr__(self, "statement", Sentence.of(self.statement))
        if self.kind == "symbolic" and self.proof not in PROOF_KINDS:
            raise SpecError(f"proof kind {self.proof!r} is not one of {sorted(PROOF_KINDS)}")

    def as_dict(self) -> dict:
        out = {"kind": self.kind, "statement": str(self.statement), "ok": self.ok}
        if self.check:
            out["check"] = self.check
        if self.kind == "symbolic":
            out["proof"] = self.proof
            if self.covers:
                out["covers"] = self.covers
        if self.part:
            out["part"] = self.part
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


class _Stopped(Exception):
    """Raised at a numerical step after a symbolic step, oracle or control failed."""


class ProofContext(OracleSteps):
    """What a proof records its steps on. ``quick`` asks for fewer numerical cases;
    ``deadline`` (CPU time, :func:`~symdyn.numerics._budget.clock`) bounds the numerical
    steps; ``emit`` is called with every step as it is recorded (the worker streams them to
    the parent)."""

    def __init__(self, *, quick: bool = False, seed: int = 0, deadline: float | None = None,
                 emit: Callable[[Step], None] | None = None):
        self.quick = quick
        self.seed = seed
        self.deadline = deadline
        self.steps: list[Step] = []
        self.stopped = ""  # why the numerical steps stopped, once they have
        self._emit = emit
        self._said = 0.0  # when progress was last sent

    def progress(self, done: int, planned: int, what: str = "cases") -> None:
        """Say how far the result has got: ``done`` of ``planned`` ``what``. Sent to the
        parent (at most once a second), which shows it while the result runs."""
        now = time.monotonic()
        if self._emit is not None and (now - self._said >= 1.0 or done >= planned):
            self._said = now
            self._emit(Progress(int(done), int(planned), what))  # type: ignore[arg-type]

    def cases(self, quick: int, full: int) -> int:
        """How many numerical cases to draw in this profile."""
        return quick if self.quick else full

    def remaining(self) -> float:
        """Seconds left for numerical steps (infinite without a deadline)."""
        return float("inf") if self.deadline is None else self.deadline - budget_clock()

    def _record(self, step: Step) -> bool:
        self.steps.append(step)
        if self._emit is not None:
            self._emit(step)
        if not step.ok and not self.stopped and (step.kind == "symbolic" or step.check):
            what = step.check or "symbolic step"
            self.stopped = (f"the {what} '{step.statement}' failed (they would only measure "
                            "a system already known to be wrong)")
            self.deadline = budget_clock() - 1.0  # integrations in flight end at once
            DEADLINE.set(self.deadline)
        return step.ok

    def _guard(self) -> None:
        if self.stopped:
            raise _Stopped(self.stopped)

    def symbolic(self, statement: str | Sentence, holds: bool, *, latex: Any = "",
                 counterexample: Any = None, check: str = "", proof: str = "identity",
                 covers: str = "", part: str = "") -> bool:
        """Record a statement proved by computer algebra: ``proof`` names the kind of proof
        (a key of :data:`PROOF_KINDS`), ``covers`` the sizes or depths it holds for, ``part``
        the part of the claim it establishes (e.g. ``"fixed points"``; default: the whole)."""
        return self._record(Step("symbolic", statement, bool(holds), latex=latex,
                                 counterexample=counterexample, check=check, proof=proof,
                                 covers=covers, part=part))

    def certificate(self, cert, *, covers: str = "", part: str = "", latex: Any = "") -> bool:
        """Record a :class:`~symdyn.analysis.ProofCertificate` (a sign analysis, Lyapunov
        check, a-priori bound, chain reduction) as a symbolic step of its kind: its statement,
        holding when it is proved."""
        return self.symbolic(cert.statement, cert.proved, proof=cert.kind, covers=covers,
                             part=part, latex=latex, counterexample=cert.counterexample)

    def numeric(self, statement: str | Sentence, passed: int, cases: int, *, latex: Any = "",
                counterexample: Any = None, check: str = "", part: str = "") -> bool:
        """Record numerical evidence: ``passed`` of ``cases`` cases satisfied the check;
        ``part``: the part of the claim it bears on (see :meth:`symbolic`)."""
        self._guard()
        passed, cases = int(passed), int(cases)  # numpy integers are not JSON
        ok = cases > 0 and passed == cases
        return self._record(Step("numeric", statement, ok, cases=int(cases),
                                 passed=int(passed), latex=latex,
                                 counterexample=counterexample, check=check, part=part))

    def note(self, statement: str | Sentence, *, latex: Any = "") -> None:
        """Record a remark (a finding, a special case stated precisely)."""
        self._record(Step("note", statement, latex=latex))

    def sample(self, statement: str | Sentence, strategy, check: Callable[[Any], bool], n: int, *,
               latex: Any = "", part: str = "") -> bool:
        """Evidence over ``n`` examples drawn by hypothesis from ``strategy``: ``check``
        returns whether an example satisfies the claim. A failure is shrunk to a minimal
        counterexample, which is recorded. Past the deadline, sampling stops and the
        result ends as a timeout (a partial sample is no verdict)."""
        self._guard()
        inner, calls = check, [0]

        def check(example):
            if self.remaining() <= 0:
                raise BudgetExhausted(f"time budget exhausted while sampling '{statement}'")
            calls[0] += 1
            self.progress(min(calls[0], n), n, "examples")
            return inner(example)

        return self._sample(statement, strategy, check, n, latex=latex, part=part)

    def _sample(self, statement: str, strategy, check: Callable[[Any], bool], n: int, *,
                latex: str = "", part: str = "") -> bool:
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
                            counterexample=counterexample, part=part)


@dataclass(frozen=True)
class ProofResult:
    """The outcome of one proof."""

    name: str
    title: Sentence
    claim: Sentence
    hypotheses: Sentence
    symbolic: str  # "proved" | "partly" (some part of the claim is evidence) | "n/a" | "failed"
    cases: int
    passed: int
    status: str  # "ok" | "failed" | "timeout"
    seconds: float
    steps: tuple[Step, ...] = ()
    error: str = ""

    @property
    def details(self) -> list[dict]:
        return [s.as_dict() for s in self.steps]

    @property
    def proofs(self) -> list[dict]:
        """Per part of the claim: its kinds of proof and the sizes covered, or evidence
        (see :func:`symdyn.verify._report.proof_parts`)."""
        return proof_parts(self.steps)

    @property
    def proof(self) -> str:
        """The proof column: e.g. ``fixed points: identity; convergence: evidence``."""
        return proof_summary(self.steps)

    @property
    def checks(self) -> tuple[int, int]:
        """Oracles and controls: how many passed, of how many."""
        mine = [s for s in self.steps if s.check]
        return sum(s.ok for s in mine), len(mine)


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


def load_proofs(directory: str | os.PathLike | None = None) -> list[Proof]:
    """Import every ``*.py`` of the proofs directory (see :func:`proofs_directory`) and
    return the registered proofs, in file order."""
    folder, source = proofs_directory(directory)
    if not folder.is_dir():
        raise SpecError(f"no proofs directory at {str(folder)!r}")
    _REGISTRY.clear()  # each load starts afresh, so edited proofs are re-read
    sys.path.insert(0, str(folder))  # proofs share helpers in proofs/_*.py
    try:
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            import_proof_file(path, source)
    finally:
        sys.path.remove(str(folder))
    if not _REGISTRY:
        raise SpecError(f"no proofs in {str(folder)!r} ({source}): none registers @proof")
    return list(_REGISTRY.values())


_NUMERIC_SHARE = 0.75  # numerical steps must end within this share of the budget


def _summarise(p: Proof, steps: Sequence[Step], seconds: float, error: str = "",
               status: str | None = None) -> ProofResult:
    symbolic_steps = [s for s in steps if s.kind == "symbolic" and not s.check]
    numeric_steps = [s for s in steps if s.kind == "numeric" and not s.check]
    if not symbolic_steps:
        symbolic = "n/a"
    elif not all(s.ok for s in symbolic_steps):
        symbolic = "failed"
    elif any(e["evidence"] for e in proof_parts(steps)):
        symbolic = "partly"  # a part of the claim rests on numerical evidence only
    else:
        symbolic = "proved"
    evidence = any(s.kind in ("symbolic", "numeric") for s in steps)
    failed = bool(error) or any(not s.ok for s in steps) or not evidence
    return ProofResult(
        name=p.name, title=p.title, claim=p.claim, hypotheses=p.hypotheses,
        symbolic=symbolic, cases=sum(s.cases for s in numeric_steps),
        passed=sum(s.passed for s in numeric_steps),
        status=status or ("failed" if failed else "ok"),
        seconds=seconds, steps=tuple(steps), error=error,
    )


def _execute(p: Proof, quick: bool, budget: float | None,
             emit: Callable[[Step], None] | None = None, distrust: str = "") -> ProofResult:
    """Run one proof here; an exception inside it is a failure, reported, never raised.
    ``distrust``: why the numerical machinery is not to be trusted (its steps are skipped)."""
    from ..numerics._compiled import AUTO_BACKEND

    start = time.perf_counter()
    deadline = None if budget is None else budget_clock() + _NUMERIC_SHARE * budget
    if distrust:
        deadline = budget_clock() - 1.0
    ctx = ProofContext(quick=quick, deadline=deadline, emit=emit)
    ctx.stopped = distrust
    # every batch integration without a deadline of its own raises BudgetExhausted past it,
    # never returns truncated rows; backend="auto" is the numpy path (evidence independent
    # of numba and of its disk cache)
    token, pinned = DEADLINE.set(deadline), AUTO_BACKEND.set("numpy")
    error = ""
    status = None
    try:
        p.check(ctx)
    except _Stopped as stop:
        ctx.steps.append(Step("note", f"numerical steps skipped: {stop}", ok=False))
    except BudgetExhausted as out:
        if ctx.stopped:  # the deadline was moved on purpose: a check had failed
            ctx.steps.append(Step("note", f"numerical steps skipped: {ctx.stopped}", ok=False))
        else:  # the clock ran out: what was recorded stands, nothing else is concluded
            # a step already failed is a verdict (its evidence was complete): failed wins
            status = "failed" if any(not s.ok for s in ctx.steps) else "timeout"
            error = (f"timeout: {out} (the numerical deadline, {_NUMERIC_SHARE:g} of the "
                     f"budget of {budget or 0:g} s); the {len(ctx.steps)} steps recorded "
                     "before it are complete, the rest was not checked")
            ctx.steps.append(Step("note", error))
    except Exception as exc:  # a broken proof is a failed result, with the reason
        error = f"{type(exc).__name__}: {exc}\n" + traceback.format_exc(limit=3)
    finally:
        DEADLINE.reset(token)
        AUTO_BACKEND.reset(pinned)
    return _summarise(p, ctx.steps, time.perf_counter() - start, error, status=status)


def _job(p: Proof, quick: bool, budget: float):
    def job(send, distrust: str):
        result = _execute(p, quick, budget, emit=lambda step: send(picklable(step, _plain)),
                          distrust=distrust)
        return replace(result, steps=tuple(picklable(s, _plain) for s in result.steps))

    return job


def _plain(step: Step) -> Step:
    """The step with its counterexample in JSON form (for one that does not pickle)."""
    return replace(step, counterexample=_jsonable(step.counterexample))


def iter_results(proofs: Sequence[Proof], *, quick: bool = False, budget: float | None = None,
                 watch: Callable[[Proof, Progress | None, int], None] | None = None
                 ) -> Iterator[ProofResult]:
    """Run ``proofs`` one at a time, each in a forked worker under ``budget`` seconds
    (default: :data:`BUDGETS` of the profile), yielding each result as it is known. A result
    that overruns ends as "timeout" with the steps it had established; a worker that dies
    ends its result as "failed"; either way the next result runs. Once an oracle has failed,
    the numerical steps of the results after it are skipped (the machinery that would
    produce them is shown broken), which keeps a broken installation's run short.
    ``watch(proof, progress, steps)`` is called about four times a second while a result
    runs, with the last :class:`Progress` it sent (or ``None``) and its steps so far."""
    budget = BUDGETS["quick" if quick else "full"] if budget is None else float(budget)
    if budget <= 0:
        raise SpecError(f"budget must be a positive number of seconds, got {budget!r}")
    distrust = ""
    with Worker([_job(p, quick, budget) for p in proofs]) as worker:
        for i, p in enumerate(proofs):
            start, seen = time.perf_counter(), [None, 0]  # last progress, steps so far

            def heard(message, seen=seen) -> None:
                if isinstance(message, Progress):
                    seen[0] = message
                else:
                    seen[1] += 1

            out = worker.run(i, budget, distrust, on_message=heard, on_wait=None if watch is None
                             else lambda p=p, seen=seen: watch(p, seen[0], seen[1]))
            if out.state == "done":
                bad = [s for s in out.value.steps if s.check == "oracle" and not s.ok]
                if bad and not distrust:
                    distrust = (f"the oracle '{bad[0].statement}' of {p.name} failed: "
                                "symdyn's numerical machinery is broken in this run")
                yield out.value
                continue
            seconds = time.perf_counter() - start
            steps = [m for m in out.messages if not isinstance(m, Progress)]
            if out.state == "timeout":
                steps.append(Step("note", f"{out.reason}: stopped after {len(steps)} steps "
                                  "(the steps above are what it had established)"))
                failed = any(not s.ok for s in steps)  # a verdict recorded in time stands
                yield _summarise(p, steps, seconds, status="failed" if failed else "timeout",
                                 error=f"timeout: {out.reason}")
            else:
                yield _summarise(p, steps, seconds, error=f"crashed: {out.reason}")


def run_proof(p: Proof, *, quick: bool = False, budget: float | None = None) -> ProofResult:
    """Run one proof: here without a ``budget``, else in a worker under it."""
    if budget is None:
        return _execute(p, quick, None)
    return next(iter_results([p], quick=quick, budget=budget))


def select_proofs(names: Sequence[str] = (),
                  directory: str | os.PathLike | None = None) -> list[Proof]:
    """The named proofs (all when ``names`` is empty), in file order."""
    proofs = load_proofs(directory)
    if names:
        known = {p.name: p for p in proofs}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SpecError(f"no proof named {unknown[0]!r}; known: {', '.join(known)}")
        proofs = [known[n] for n in names]
    return proofs


def run_proofs(names: Sequence[str] = (), *, quick: bool = False,
               directory: str | os.PathLike | None = None, budget: float | None = None,
               progress: Callable[[Iterable], Iterable] | None = None) -> list[ProofResult]:
    """Run the named proofs (all when ``names`` is empty), each under its time budget."""
    results = iter_results(select_proofs(names, directory), quick=quick, budget=budget)
    return list(progress(results) if progress else results)


# -- reporting ------------------------------------------------------------------------------
