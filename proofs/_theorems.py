"""Helpers shared by the theorem proofs p07-p09 (not a proof file: it starts with _)."""

from __future__ import annotations

import numpy as np
import sympy as sp

import symdyn as sd

n_, m_ = sp.symbols("n m", positive=True, integer=True)
#: the matrices of a one-hidden-layer network, with symbolic sizes, for the displays
A1m, A2m = sp.MatrixSymbol("A1", m_, n_), sp.MatrixSymbol("A2", n_, m_)
Cm = sp.MatrixSymbol("C", m_, n_)
Pm, Im = sp.MatrixSymbol("P", n_, n_), sp.Identity(n_)
p, q, r, w, g, K, s = sp.symbols("p q r w g K s")


def autoencoder(n: int, m: int, rule: str) -> sd.LearningSystem:
    """The linear n-m-n autoencoder with decorrelated data: Sigma_II = Sigma_TI = I."""
    eye = np.eye(n)
    return sd.derive(f"{n}-{m}-{n}", rule, data=sd.Moments(Sigma_II=eye, Sigma_TI=eye))


def blocks(system, n0: int, n1: int, n2: int):
    """(A1, A2, Adot1, Adot2) of a one-hidden-layer system, as sympy matrices."""
    k = n0 * n1
    st, f = system.state, system.rhs
    return (sp.Matrix(n1, n0, st[:k]), sp.Matrix(n2, n1, st[k:k + n1 * n2]),
            sp.Matrix(n1, n0, f[:k]), sp.Matrix(n2, n1, f[k:k + n1 * n2]))


def channel(system, n1: int, n2: int) -> sp.Matrix:
    """The channel C1 (n1 x n2) of an RBP or SRBP system, as a matrix of its symbols."""
    names = {str(x): x for x in system.parameters}
    if "c1" in names:  # the scalar chain names its channel weight c1
        return sp.Matrix([[names["c1"]]])
    return sp.Matrix(n1, n2, lambda i, j: names[f"C1_{i + 1}_{j + 1}"])


def lie(system, expr):
    """The derivative of ``expr`` (an expression or a matrix) along the system."""
    f = dict(zip(system.state, system.rhs, strict=True))

    def one(e):
        return sp.expand(sum(sp.diff(e, x) * fx for x, fx in f.items()))

    return expr.applyfunc(one) if isinstance(expr, sp.MatrixBase) else one(expr)


def zero(M) -> bool:
    """Whether a matrix or expression expands to zero."""
    if isinstance(M, sp.MatrixBase):
        return all(sp.expand(e) == 0 for e in M)
    return sp.expand(M) == 0


def sq(M) -> sp.Expr:
    """The squared Frobenius norm of a sympy matrix."""
    return sum(e**2 for e in M)


def sizes_text(sizes) -> str:
    """``[(2, 1, 2), ...]`` as ``2-1-2, ...``."""
    return ", ".join("-".join(map(str, z)) for z in sizes)
