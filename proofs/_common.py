"""Helpers shared by the proofs (not a proof file: names starting with _ are not loaded)."""

from __future__ import annotations

import numpy as np
import sympy as sp
from hypothesis import strategies as st

import symdyn as sd
from symdyn.analysis import verify_invariant
from symdyn.numerics import integrate_batch
from symdyn.report import Math, latex_math
from symdyn.verify import ddt, sentence

#: the paper's symbols (``lamda``: sympy's spelling of the rate ratio; it prints as \lambda)
alpha, beta, lam, eta, K, t = sp.symbols("alpha beta lamda eta K t")
a1, a2, c1 = sp.symbols("a1 a2 c1")
a, c = sp.IndexedBase("a"), sp.IndexedBase("c")
h, L, k, N = sp.symbols("h L k N", integer=True)
#: the derivative f' of an activation, as the papers write it
fprime = Math("f'", "f'")


def normal(variance) -> Math:
    """The normal distribution N(0, variance)."""
    return Math(rf"\mathcal{{N}}\left(0, {latex_math(variance)}\right)",
                f"N(0, {variance})")


def ranging(x, first, last) -> Math:
    """x = first, ..., last."""
    return Math(rf"{latex_math(x)} = {latex_math(first)}, \dots, {latex_math(last)}",
                f"{x} = {first}, ..., {last}")


def t_range(end) -> sp.Basic:
    """t in [0, end]."""
    return sp.Contains(t, sp.Interval(0, end), evaluate=False)


def chain(depth: int, rule: str, **options) -> sd.LearningSystem:
    """The scalar chain 1-1-...-1 of ``depth`` weight layers."""
    return sd.derive("-".join(["1"] * (depth + 1)), rule, **options)


def how(method: str) -> str:
    """The method of an invariant check, as prose."""
    if method == "matrix":
        return "a matrix identity, for every size"
    if method.startswith("components (sizes"):
        return "entry by entry, for sizes " + method[len("components (sizes "):-1]
    return "in components"


def invariant_steps(ctx, system, invariants, label: str, covers: str = "",
                    part: str = "") -> None:
    """One symbolic step per candidate first integral, with its equation displayed;
    ``covers``: the sizes it is proved for (a matrix identity: every size)."""
    for H in invariants:
        check = verify_invariant(system, H)
        ctx.symbolic(sentence(f"{label}: {{H}} is a first integral ({how(check.method)})",
                              H=H), check.holds,
                     latex=ddt(H, 0), counterexample=check.counterexample,
                     covers="every size" if check.method == "matrix" else covers, part=part)


#: positive moments and non-zero channel weights, bounded away from the degenerate cases
moments = st.tuples(st.floats(0.2, 2.0), st.floats(0.2, 2.0))
nonzero = st.floats(0.2, 2.0).flatmap(lambda v: st.sampled_from([v, -v]))
seeds = st.integers(0, 2**31 - 1)


def conserved(system, H, values: dict, y0: np.ndarray, t: float = 20.0,
              rtol: float = 1e-10, atol: float = 1e-12) -> np.ndarray:
    """|H(y(t)) - H(y(0))| / (1 + |H(y(0))|) for each row of ``y0`` (``values``: every
    parameter by name), integrated without early stopping, so that H is tested along the
    whole trajectory; infinite where the integration did not succeed."""
    h = sp.lambdify([system.state], H.subs({sp.Symbol(k): v for k, v in values.items()}),
                    "numpy")
    r = integrate_batch(system, y0, t, values, rtol=rtol, atol=atol, stop_on_convergence=False)
    h0 = np.array([h(row) for row in y0], dtype=float)
    h1 = np.array([h(row) for row in r.y], dtype=float)
    err = np.abs(h1 - h0) / (1 + np.abs(h0))
    err[~np.isin(r.status, ["running", "converged"])] = np.inf
    return err


def random_values(system, example) -> dict:
    """Parameter values by name from a drawn example ((alpha, beta), channel values)."""
    (alpha, beta), cs = example
    channels = [str(p) for p in system.parameters if str(p) not in ("alpha", "beta")]
    return {"alpha": alpha, "beta": beta, **dict(zip(channels, cs))}


def parameter_examples(system):
    """Strategy: positive moments and one non-zero value per channel parameter."""
    k = sum(1 for p in system.parameters if str(p) not in ("alpha", "beta"))
    return st.tuples(moments, st.lists(nonzero, min_size=k, max_size=k))
