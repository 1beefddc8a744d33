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
status is "ok" only when no step failed, "timeout" when it overran its time budget (it keeps
the steps established so far). A failed symbolic step stops the result's numerical steps
(they would only measure a system already known to be wrong), and so does a failed
*oracle* (``ctx.oracle_*``: the evidence re-checked by an independent route, see
:mod:`symdyn.verify._oracles`) or *control* (``ctx.control``: a check whose correct outcome is a
refutation). Each result runs in a forked worker under a wall-clock budget
(:data:`BUDGETS`), so a hang in compiled code ends as a timeout and the run goes on; the
numerical steps get a deadline inside it, after which they end as failed with the reason.
Proof files live in the top-level ``proofs/``."""

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
