"""Independent oracles for the derivation tests: a plain numpy forward/backward pass that
knows nothing of symdyn's engine, written from docs/science.md section 2."""

from __future__ import annotations

import numpy as np
import sympy as sp


def _sigmoid(s):
    return 1.0 / (1.0 + np.exp(-s))


#: name -> (f, f') in plain numpy
NUMPY_ACTIVATIONS = {
    "linear": (lambda s: s, lambda s: np.ones_like(s)),
    "tanh": (np.tanh, lambda s: 1.0 - np.tanh(s) ** 2),
    "logistic": (_sigmoid, lambda s: _sigmoid(s) * (1.0 - _sigmoid(s))),
    "relu": (lambda s: np.maximum(s, 0.0), lambda s: np.heaviside(s, 0.5)),
    "softplus": (lambda s: np.log1p(np.exp(s)), _sigmoid),
}


def numpy_update(rule, acts, W, C, x, t, *, derivative=True, g="linear", rate=1.0,
                 decay=0.0, ratio=1.0):
    """One sample's update (dW, dC) by the rules of docs/science.md section 2.

    ``W`` and ``C`` are dicts layer -> array (1-based); ``acts`` names per layer."""
    L = len(W)
    gf = NUMPY_ACTIVATIONS[g][0]
    S, O = {}, {0: x}
    for h in range(1, L + 1):
        S[h] = W[h] @ O[h - 1]
        O[h] = NUMPY_ACTIVATIONS[acts[h - 1]][0](S[h])
    E = t - O[L]
    B = {L: E * NUMPY_ACTIVATIONS[acts[L - 1]][1](S[L])}
    for h in range(L - 1, 0, -1):
        if rule == "bp":
            F = W[h + 1].T @ B[h + 1]
        elif rule == "sign":  # sign symmetry: the signs of W_{h+1}, magnitudes 1
            F = np.where(W[h + 1] > 0, 1.0, np.where(W[h + 1] < 0, -1.0, 0.0)).T @ B[h + 1]
        elif rule in ("rbp", "arbp"):
            F = C[h] @ B[h + 1]
        else:  # srbp, asrbp: straight from the output error
            F = C[h] @ E
        F = gf(F)
        B[h] = NUMPY_ACTIVATIONS[acts[h - 1]][1](S[h]) * F if derivative else F
    dW = {h: rate * (np.outer(B[h], O[h - 1]) - decay * W[h]) for h in W}
    dC = {}
    if rule in ("arbp", "asrbp"):
        for h in C:
            local = np.outer(O[h], B[h + 1] if rule == "arbp" else E)
            dC[h] = rate * (ratio * local - decay * C[h])
    return dW, dC


def numpy_average(rule, acts, W, C, X, Y, **options):
    """Mean of the per-sample updates over the rows of X, Y, flattened in state order."""
    total = None
    for x, t in zip(X, Y):
        dW, dC = numpy_update(rule, acts, W, C, x, t, **options)
        flat = np.concatenate([dW[h].ravel() for h in sorted(dW)]
                              + [dC[h].ravel() for h in sorted(dC)])
        total = flat if total is None else total + flat
    return total / len(X)


#: ``Heaviside`` (d/dx of relu's Max) evaluated as numpy.heaviside with H(0) = 1/2, sympy's
#: convention. sympy's own numpy printing rewrites it as a Piecewise, and for a relu network
#: (an argument holding Max) that nests numpy.select calls whose boolean choices come back as
#: floats: "invalid entry 0 in condlist: should be boolean ndarray".
_MODULES = [{"Heaviside": lambda x, h0=0.5: np.heaviside(x, h0)}, "numpy"]


def evaluate(system, exprs, point: dict) -> np.ndarray:
    """Evaluate sympy expressions of ``system`` at a point {symbol: number}."""
    symbols = sorted(set().union(*(sp.sympify(e).free_symbols for e in exprs)), key=str)
    missing = [s for s in symbols if s not in point]
    assert not missing, f"no value for {missing}"
    f = sp.lambdify(symbols, list(exprs), modules=_MODULES)
    values = f(*(np.array([point[s]], dtype=float) for s in symbols))
    return np.array([np.broadcast_to(v, (1,))[0] for v in values], dtype=float)


def assign(system, matrix_symbol, array, point: dict) -> None:
    """Put the entries of ``array`` into ``point`` under the component symbols."""
    comps = system.components(matrix_symbol)
    for (i, j), v in np.ndenumerate(np.asarray(array, dtype=float).reshape(comps.shape)):
        point[comps[i, j]] = v


def substitute(exprs, point: dict) -> np.ndarray:
    """Evaluate by sympy substitution (for expressions lambdify cannot print, such as the
    nested Piecewise of d/dx Max)."""
    values = {s: sp.Float(v, 30) for s, v in point.items()}
    return np.array([float(sp.sympify(e).xreplace(values).evalf(30)) for e in exprs])
