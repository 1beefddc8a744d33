"""Matrix candidates such as :math:`A_1 A_1^T - C_1 A_2 - A_2^T C_1^T`: their time
derivative in the free algebra of matrix words, proved for every size at once."""

from __future__ import annotations

import sympy as sp


class _Unsupported(Exception):
    """A matrix expression outside the word algebra (e.g. an inverse, a Hadamard product)."""


Words = dict[tuple, sp.Expr]


def _transpose_factor(f, symmetric):
    if isinstance(f, sp.Transpose):
        return f.arg
    return f if f in symmetric else sp.Transpose(f)


def _transpose_words(w: Words, symmetric) -> Words:
    return {tuple(_transpose_factor(f, symmetric) for f in reversed(k)): c for k, c in w.items()}


def _add(*ws: Words) -> Words:
    out: Words = {}
    for w in ws:
        for k, c in w.items():
            out[k] = out.get(k, 0) + c
    return out


def _mul(a: Words, b: Words) -> Words:
    out: Words = {}
    for ka, ca in a.items():
        for kb, cb in b.items():
            k = ka + kb
            out[k] = out.get(k, 0) + ca * cb
    return out


def _words(e, symmetric, state_scalars) -> Words:
    r"""A matrix expression as a combination of words in the matrix symbols and their
    transposes (transposes pushed onto the symbols; :math:`\Sigma_{II}^T = \Sigma_{II}`)."""
    if isinstance(e, sp.MatrixSymbol):
        return {(e,): sp.Integer(1)}
    if isinstance(e, sp.ZeroMatrix):
        return {}
    if isinstance(e, sp.Identity):
        return {(): sp.Integer(1)}
    if isinstance(e, sp.Transpose):
        return _transpose_words(_words(e.arg, symmetric, state_scalars), symmetric)
    if isinstance(e, sp.MatAdd):
        return _add(*[_words(a, symmetric, state_scalars) for a in e.args])
    if isinstance(e, sp.MatMul):
        out: Words = {(): sp.Integer(1)}
        for a in e.args:
            if a.is_Matrix:
                out = _mul(out, _words(a, symmetric, state_scalars))
            else:
                if a.free_symbols & state_scalars:
                    raise _Unsupported("a scalar factor depends on the state")
                out = {k: a * c for k, c in out.items()}
        return out
    if isinstance(e, sp.MatPow) and e.exp.is_Integer and e.exp > 0:
        base = _words(e.base, symmetric, state_scalars)
        out = {(): sp.Integer(1)}
        for _ in range(int(e.exp)):
            out = _mul(out, base)
        return out
    raise _Unsupported(type(e).__name__)


def _word_expr(w: Words, shape) -> sp.MatrixExpr:
    terms = [c * sp.MatMul(*k) if len(k) > 1 else c * k[0] for k, c in w.items() if k]
    if not terms:
        return sp.ZeroMatrix(*shape)
    return sp.MatAdd(*terms) if len(terms) > 1 else terms[0]


def _matrix_derivative(system, H) -> Words:
    """The time derivative of ``H`` by the product rule, as cancelled words."""
    m = system.matrix
    symmetric = {s for s in m.parameters
                 if isinstance(s, sp.MatrixSymbol) and s.name == "Sigma_II"}
    scalars = set(system.state)
    rates = {s: _words(r, symmetric, scalars) for s, r in zip(m.state, m.rhs, strict=True)}
    out: Words = {}
    for word, c in _words(H, symmetric, scalars).items():
        for i, f in enumerate(word):
            if isinstance(f, sp.Transpose) and f.arg in rates:
                df = _transpose_words(rates[f.arg], symmetric)
            elif f in rates:
                df = rates[f]
            else:
                continue
            term = _mul(_mul({word[:i]: c}, df), {word[i + 1:]: sp.Integer(1)})
            out = _add(out, term)
    expanded = {k: sp.expand(v) for k, v in out.items()}
    return {k: v for k, v in expanded.items() if v != 0}
