r"""Verification: executable proofs of the papers' results, run and reported.

A proof is a function decorated with :func:`proof` that states a claim and its hypotheses,
then records *steps* on a :class:`ProofContext`:

* ``ctx.symbolic(statement, holds, proof=KIND, covers=SIZES, part=PART)``: a statement
  proved by computer algebra; ``proof`` names its kind (:data:`PROOF_KINDS`: ``identity``,
  ``reduction+sign``, ``lyapunov``, ``a-priori bound``, ``exact classification``),
  ``covers`` the sizes or depths it holds for, ``part`` the part of the claim it establishes;
* ``ctx.certificate(cert, covers=..., part=...)``: a
  :class:`~symdyn.analysis.ProofCertificate` (sign analysis, Lyapunov check, a-priori bound,
  chain reduction) recorded as a symbolic step of its kind;
* ``ctx.numeric(statement, passed, cases)``: numerical evidence over ``cases`` cases;
* ``ctx.sample(statement, strategy, check, n)``: evidence drawn by hypothesis (``n``
  examples, derandomised, so runs are reproducible), with a shrunk counterexample on failure.

Titles, claims, hypotheses and statements are :func:`sentence` objects: prose with formulas
given as sympy objects (``sentence("{H} is conserved", H=a1**2 - a2**2)``), so that the LaTeX
report prints every formula with sympy's printer, in math mode; a step may also show a
numbered display (``latex=``: a sympy equation or expression, or :class:`Math`, LaTeX built
from sympy objects). A plain string is prose.

Numerical steps take ``part=`` too. A part of the claim with numerical steps and no symbolic
one is *evidence*: the result is then "partly" proved, and the reports say which part rests
on evidence (the table's proof column, ``proofs`` in the JSON, the LaTeX proof).
A result is "proved" symbolically only when it has symbolic steps and all of them hold; its
status is "ok" only when no step failed, "timeout" when it overran its time budget (it keeps
the steps established so far). A failed symbolic step stops the result's numerical steps
(they would only measure a system already known to be wrong), and so does a failed
*oracle* (``ctx.oracle_*``: the evidence re-checked by an independent route, see
:mod:`symdyn.verify._oracles`) or *control* (``ctx.control``: a check whose correct outcome is a
refutation). Each result runs in a forked worker under a budget of CPU time
(:data:`BUDGETS`; ten times as much wall-clock time for work that uses no CPU), so a hang in
compiled code ends as a timeout and the run goes on, and a busy machine slows a result down
without ending it sooner; the numerical steps get a deadline inside it (three quarters of the
budget). The clock can only
end a result, never change a step: evidence is a function of the seed and the profile (sample
counts, horizons and tails are fixed in model time), and a computation still running at the
deadline (a batch integration, a sample, a budgeted analysis) raises
:class:`~symdyn.numerics._budget.BudgetExhausted` instead of returning truncated results, so
the result ends as "timeout" with the steps recorded before it, never as "failed".
Proof files live in the top-level ``proofs/``."""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, for type checkers; at run time see __getattr__
    from ._proofs import (
        BUDGETS,
        PROOF_KINDS,
        Math,
        Proof,
        ProofContext,
        ProofResult,
        Sentence,
        Step,
        TableWriter,
        ddt,
        iter_results,
        latex_report,
        load_proofs,
        proof,
        proofs_directory,
        result_json,
        results_json,
        results_table,
        run_proof,
        run_proofs,
        select_proofs,
        sentence,
    )

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


def __getattr__(name: str) -> Any:
    """A public name, imported from :mod:`._proofs` on first use (PEP 562): ``symdyn verify
    --help`` and the refusal of bad options do not pay for sympy and the proofs' machinery."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("._proofs", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
