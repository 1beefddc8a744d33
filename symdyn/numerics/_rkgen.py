r"""Python source of a Runge-Kutta pair for the compiled loops: the stages, error norm and
dense output of :mod:`symdyn.numerics._rk_loop` (:func:`tableau_source`) and of the lane
loop :mod:`symdyn.numerics._lane_loop` (:func:`lane_source`), with the pair's nonzero
coefficients as exact literals."""

from __future__ import annotations

import numpy as np
from scipy.integrate import DOP853, RK45

from ._loopgen import compact_stages, stage_loop

__all__ = ["LANES", "combination", "tableau_source", "lane_source", "dense_shape"]

#: Rows advanced side by side by the lane loop, a constant of its machine code (measured:
#: benchmarks/bench_phase.py job 2).
LANES = 32


def combination(coeffs, lane: bool = False) -> str:
    """``c0*K[0, i] + c3*K[3, i] + ...`` over the nonzero coefficients (exact literals);
    ``lane``: the lane loop's, on its flat stages ``Kf`` (``K[i, j, r]``)."""
    terms = [f"{float(c)!r} * Kf[i * KW + {j} * W + r]" if lane
             else f"{float(c)!r} * K[{j}, i]" for j, c in enumerate(coeffs) if c != 0]
    return " + ".join(terms) or "0.0"


def tableau_source(tab, compact: bool = False) -> str:
    """``stages`` and ``error_norm`` of the template for the pair ``tab``, straight-line over
    the stages with only the nonzero coefficients (DOP853: 74 of 104); ``compact``: loops
    over the stages (:func:`~symdyn.numerics._loopgen.compact_stages`)."""
    S = tab.n_stages
    lines = ["def stages(y, F, r, p, h, K, g, y_new):", "    n = y.shape[0]",
             "    for i in range(n):", "        K[0, i] = F[r, i]"]
    for s in range(1, S):
        lines += ["    for i in range(n):",
                  f"        g[i] = y[i] + h * ({combination(tab.A[s, :s])})",
                  f"    rhs(g, p, K, {s})"]
    lines += ["    for i in range(n):",
              f"        y_new[i] = y[i] + h * ({combination(tab.B)})",
              f"    rhs(y_new, p, K, {S})"]
    if compact:
        lines = compact_stages(tab)
    lines += ["", "",
              "def error_norm(y, y_new, K, h, rtol, atol):", "    n = y.shape[0]",
              "    n5 = 0.0", "    n3 = 0.0", "    for i in range(n):",
              "        scale = atol + max(abs(y[i]), abs(y_new[i])) * rtol"]
    lines += _error_sums(tab, "        ", "", "h")
    if tab.name == "DOP853":
        lines += ["    if n5 == 0.0 and n3 == 0.0:", "        return 0.0",
                  "    return abs(h) * n5 / np.sqrt((n5 + 0.01 * n3) * n)"]
    else:
        lines += ["    return np.sqrt(n5 / n)"]
    return "\n".join(lines + _dense_source(tab, compact)) + "\n"


def lane_source(tab, n: int) -> str:
    """``stages_lanes`` and ``error_lanes`` of :mod:`~symdyn.numerics._lane_loop` for the
    pair ``tab`` and ``n`` state variables, with the lanes ``W`` (:data:`LANES`) and ``n`` as
    literals, so that LLVM knows every offset between the stages and checks their overlap
    with the result once, not once per stage (which stopped it vectorising the long sums).
    Each lane's sums are those of the per-row code, in its order: a stage's argument from
    ``0.0 +`` and its nonzero coefficients in order
    (:func:`~symdyn.numerics._loopgen.compact_stages`), so that LLVM can fuse each product
    with the sum before it only, as there; the error as in :func:`tableau_source`."""
    S = tab.n_stages
    lines = [f"W = {LANES}", f"KW = {(S + 1) * LANES}", "", "",
             "def stages_lanes(Y, K, hs, p, T, G, YN):", _FLAT,
             f"    for s in range(1, {S + 1}):", f"        out = YN if s == {S} else G",
             "        of = out.reshape(out.size)"]
    for s in range(1, S + 1):
        coeffs = tab.B if s == S else tab.A[s, :s]
        lines += [f"        {'if' if s == 1 else 'elif'} s == {s}:",
                  f"            for i in range({n}):", "                for r in range(W):",
                  "                    of[i * W + r] = Yf[i * W + r] + hs[r] * "
                  f"(0.0 + {combination(coeffs, lane=True)})"]
    lines += ["        rhs_lanes(out, p, T, K, s)", "", "",
              "def error_lanes(Y, YN, K, hs, rtol, atol, errs, n5, n3):", _FLAT,
              "    YNf = YN.reshape(YN.size)",
              "    for r in range(W):", "        n5[r] = 0.0", "        n3[r] = 0.0",
              f"    for i in range({n}):", "        for r in range(W):",
              "            scale = atol + max(abs(Yf[i * W + r]), abs(YNf[i * W + r])) * rtol"]
    lines += _error_sums(tab, "            ", "[r]", "hs[r]")
    if tab.name == "DOP853":
        lines += ["    for r in range(W):", "        if n5[r] == 0.0 and n3[r] == 0.0:",
                  "            errs[r] = 0.0", "        else:",
                  f"            errs[r] = abs(hs[r]) * n5[r] / np.sqrt((n5[r] + 0.01 * n3[r]) "
                  f"* {n})"]
    else:
        lines += ["    for r in range(W):", f"        errs[r] = np.sqrt(n5[r] / {n})"]
    return "\n".join(lines) + "\n"


#: the lane functions read their arrays flat: the strides are then the literals ``W`` and
#: ``KW``, and LLVM addresses every term of a sum from one register
_FLAT = "    Yf, Kf = Y.reshape(Y.size), K.reshape(K.size)"


def _error_sums(tab, indent: str, lane: str, h: str) -> list[str]:
    """The loop body of the error norm over the entries: the scaled error terms of the pair
    added to ``n5`` (and ``n3``) of the row (``lane=""``) or of lane ``r`` (``"[r]"``)."""
    if tab.name == "DOP853":
        return [f"{indent}e5 = ({combination(DOP853.E5, bool(lane))}) / scale",
                f"{indent}e3 = ({combination(DOP853.E3, bool(lane))}) / scale",
                f"{indent}n5{lane} += e5 * e5", f"{indent}n3{lane} += e3 * e3"]
    return [f"{indent}e = ({combination(RK45.E, bool(lane))}) * {h} / scale",
            f"{indent}n5{lane} += e * e"]


def dense_shape(tab) -> tuple[int, int]:
    """``(extra stages, factors)`` of the pair's dense output (DOP853: 3, 7; RK45: 0, 4)."""
    return (len(DOP853.A_EXTRA), 7) if tab.name == "DOP853" else (0, RK45.P.shape[1])


def _dense_source(tab, compact: bool = False) -> list[str]:
    """``dense`` and ``dense_value`` of the template: scipy's dense output (``Dop853DenseOutput``,
    ``RkDenseOutput``) with the coefficients as literals (``compact``: the three extra
    stages of DOP853 as a loop, one call of ``rhs``)."""
    lines = ["", "", "def dense(y, y_new, K, h, p, gx, Fd):", "    n = y.shape[0]"]
    if tab.name == "DOP853":
        S = tab.n_stages
        if compact:
            lines = [f"_TX = np.array({np.asarray(DOP853.A_EXTRA, dtype=float).tolist()!r})",
                     "", "", *lines, "    for e in range(3):", f"        s = {S + 1} + e"]
            lines += ["    " + x for x in stage_loop("_TX", "e, ", "s", "gx", "s")]
        for s, a in enumerate([] if compact else DOP853.A_EXTRA, start=S + 1):
            lines += ["    for i in range(n):", f"        gx[i] = y[i] + h * "
                      f"({combination(a[:s])})", f"    rhs(gx, p, K, {s})"]
        lines += ["    for i in range(n):", "        dy = y_new[i] - y[i]",
                  "        Fd[0, i] = dy", "        Fd[1, i] = h * K[0, i] - dy",
                  f"        Fd[2, i] = 2 * dy - h * (K[{S}, i] + K[0, i])"]
        lines += [f"        Fd[{3 + j}, i] = h * ({combination(d)})"
                  for j, d in enumerate(DOP853.D)]
        lines += ["", "", "def dense_value(Fd, y, x, out):", "    for i in range(y.shape[0]):",
                  "        v = 0.0"]
        for j in range(7):  # Horner in x and 1 - x, from the last factor (scipy's order)
            lines += [f"        v += Fd[{6 - j}, i]",
                      f"        v *= {'x' if j % 2 == 0 else '1.0 - x'}"]
        lines += ["        out[i] = v + y[i]"]
    else:
        lines += ["    for i in range(n):"]
        lines += [f"        Fd[{k}, i] = h * ({combination(RK45.P[:, k])})"
                  for k in range(RK45.P.shape[1])]
        lines += ["", "", "def dense_value(Fd, y, x, out):", "    for i in range(y.shape[0]):",
                  "        v = 0.0", "        xp = 1.0"]
        for k in range(RK45.P.shape[1]):
            lines += ["        xp = xp * x", f"        v += Fd[{k}, i] * xp"]
        lines += ["        out[i] = v + y[i]"]
    return lines
