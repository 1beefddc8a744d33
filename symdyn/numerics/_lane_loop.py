r"""The lane loop of the compiled backend for matrix code: ``W`` rows advanced side by side.

A template, as :mod:`symdyn.numerics._rk_loop` (to which it is appended, with the generated
``rhs_lanes``, :func:`stages_lanes` and :func:`error_lanes`; nothing here runs uncompiled).
Each of ``W`` lanes holds one row, with its own time, step size and controller state; the
stages of all lanes are computed together, one loop over the lanes per entry, which LLVM
vectorises (numba leaves the SLP vectoriser, which would vectorise one row's products, off).
A lane whose row stops takes the next running row of the chunk, so lanes idle only at its
end.

Per lane it is :func:`~symdyn.numerics._rk_loop.run_rows` step for step (same controller,
convergence test, blow-up and stiffness tests, dense output, counters), and each lane's
arithmetic is the per-row code's in the same order: the two loops give the same steps. It
runs when the parameters are shared by the rows (one parameter row)."""

import numpy as np

from symdyn.numerics._rk_loop import (  # noqa: F401 - names of the template it extends
    CONV,
    DIV,
    END,
    FAIL,
    MSG_NORM,
    MSG_STEPS,
    RUN,
    STIFF,
    collapse_code,
    collapsed,
    converged,
    hand_off,
    new_step,
    record,
    record_dense,
    stiff_counters,
)

LANE_WORK = 0  # replaced: rows of scratch space of ``rhs_lanes``
W = 1  # replaced: the number of lanes, a literal of the machine code


def stages_lanes(Y, K, hs, p, T, G, YN):  # pragma: no cover - replaced
    """:func:`~symdyn.numerics._rk_loop.stages` for every lane (step sizes ``hs``); the
    stages are ``K[:, s]`` (entries x stages x lanes: one entry's stages are adjacent), the
    speeds at the lanes' states ``K[:, 0]``."""
    raise NotImplementedError


def error_lanes(Y, YN, K, hs, rtol, atol, errs, n5, n3):  # pragma: no cover - replaced
    """:func:`~symdyn.numerics._rk_loop.error_norm` of every lane into ``errs``."""
    raise NotImplementedError


def lane_max_abs(A, l):
    """max |A[:, l]|, NaN propagating (:func:`~symdyn.numerics._rk_loop.max_abs`)."""
    m = 0.0
    for i in range(A.shape[0]):
        a = abs(A[i, l])
        if np.isnan(a):
            return a
        if a > m:
            m = a
    return m


def lane_measures(YN, G, K, S, fn, yn, den, num, bad, nan):
    """Per lane, in one pass: ``fn`` = max |K[:, S]| (NaN if an entry is not finite, as
    ``row_max_abs``), ``yn`` = max |YN| (NaN if an entry is NaN, as ``max_abs``), and the
    sums ``den``, ``num`` of Hairer's stiffness test (``stiffness``), each summed in the
    per-row code's order."""
    for r in range(W):
        fn[r], yn[r], den[r], num[r], bad[r], nan[r] = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    for i in range(YN.shape[0]):
        for r in range(W):
            a = abs(K[i, S, r])
            bad[r] = bad[r] if a < np.inf else 1.0
            fn[r] = a if a > fn[r] else fn[r]
            b = abs(YN[i, r])
            nan[r] = nan[r] if b == b else 1.0
            yn[r] = b if b > yn[r] else yn[r]
            den[r] += (YN[i, r] - G[i, r]) ** 2
            num[r] += (K[i, S, r] - K[i, S - 1, r]) ** 2
    for r in range(W):
        if bad[r] != 0.0:
            fn[r] = np.nan
        if nan[r] != 0.0:
            yn[r] = np.nan


def lane_take(rows, pos, code, Y, F, YL, K, lane_row, l):
    """Lane ``l`` takes the next running row of ``rows[pos:]`` (or idles, at zero); returns
    the new ``pos``."""
    while pos < rows.shape[0]:
        r = rows[pos]
        pos += 1
        if code[r] == RUN:
            for i in range(Y.shape[1]):
                YL[i, l] = Y[r, i]
                K[i, 0, l] = F[r, i]
            lane_row[l] = r
            return pos
    lane_row[l] = -1
    for i in range(Y.shape[1]):
        YL[i, l] = 0.0
        K[i, 0, l] = 0.0
    return pos


def lane_give(Y, F, YL, K, r, l):
    """Row ``r`` leaves lane ``l``: its state and speed back into ``Y`` and ``F``."""
    for i in range(Y.shape[1]):
        Y[r, i] = YL[i, l]
        F[r, i] = K[i, 0, l]


def lane_sizes(rows, pos, lane_row, hs, Y, F, YL, K, T, H, code, attempts, msg, y0_norm,
               t_final, max_norm, max_steps):
    """Each lane's next step size into ``hs`` (0 where idle); a row whose step size has
    collapsed stops as in ``run_rows`` and its lane takes the next row. Returns the new
    ``pos``."""
    for l in range(W):
        hs[l] = 0.0
        while lane_row[l] >= 0:
            r = lane_row[l]
            t = T[r]
            hi = min(H[r], t_final - t)
            attempts[r] += 1
            if collapsed(hi, t, attempts[r], max_steps):
                code[r], msg[r] = collapse_code(lane_max_abs(YL, l), lane_max_abs(K[:, 0], l),
                                                y0_norm[r], t_final, max_norm)
                lane_give(Y, F, YL, K, r, l)
                pos = lane_take(rows, pos, code, Y, F, YL, K, lane_row, l)
                continue
            hs[l] = hi
            break
    return pos


def lane_status(r, t, t_old, fn_old, fn_new, hi, ynorm, den, num, H, msg, nsteps, iasti,
                nonsti, t_first, f_first, f_min, thr, t_final, rtol, atol, tol, xtol, max_norm,
                stop, max_steps, stiff, top):
    """The code of row ``r`` after an accepted step: ``run_rows``' tests in its order, the
    stiffness test on the lane's sums ``den``, ``num``."""
    if ynorm > max_norm:
        msg[r] = MSG_NORM
        return DIV
    if stop:
        f_min[r] = record(t_first, f_first, r, f_min[r], t, fn_new, top)
        xt = xtol if xtol >= 0 else 10 * (atol + rtol * ynorm)
        if converged(t_first, f_first, r, f_min[r], t_old, fn_old, t, fn_new, tol, xt, top):
            return CONV
    if t >= t_final:
        return END
    if nsteps[r] >= max_steps:
        msg[r] = MSG_STEPS
        return FAIL
    if stiff:
        iasti[r], nonsti[r] = stiff_counters(hi, num, den, iasti[r], nonsti[r], thr)
        if hand_off(iasti[r], t, H[r], hi, fn_new, ynorm, t_final, stop, tol, rtol, atol):
            return STIFF
    return RUN


def run_lanes(rows, P, Y, F, T, H, code, nfev, nsteps, attempts, rejected, iasti, nonsti, FN,
              y0_norm, t_first, f_first, f_min, msg, S, order, thr, t_final, rtol, atol, tol,
              xtol, max_norm, stop, max_steps, stiff, top, t_eval, y_eval, next_eval, extra,
              n_f):
    """:func:`~symdyn.numerics._rk_loop.run_rows` (same arguments) with the rows in ``W``
    lanes; ``P`` has one row."""
    n = Y.shape[1]
    p = P[0]
    YL, YN, G = np.zeros((n, W)), np.zeros((n, W)), np.zeros((n, W))
    K = np.zeros((n, S + 1, W))
    TL = np.zeros((LANE_WORK, W))
    hs, errs, n5, n3 = np.zeros(W), np.zeros(W), np.zeros(W), np.zeros(W)
    fns, yns, den, num = np.zeros(W), np.zeros(W), np.zeros(W), np.zeros(W)
    bad, nan, acc, done = np.zeros(W), np.zeros(W), np.zeros(W), np.zeros(W)
    K1 = np.empty((S + 1 + extra, n))  # one lane's step, for its dense output
    y1, yn1, gx = np.empty(n), np.empty(n), np.empty(n)
    Fd = np.empty((n_f, n))
    n_eval = t_eval.shape[0]
    exponent = -1.0 / (order + 1)
    lane_row = np.full(W, -1, dtype=np.int64)
    pos = 0
    for l in range(W):
        pos = lane_take(rows, pos, code, Y, F, YL, K, lane_row, l)
    while True:
        pos = lane_sizes(rows, pos, lane_row, hs, Y, F, YL, K, T, H, code, attempts, msg,
                         y0_norm, t_final, max_norm, max_steps)
        if np.all(lane_row < 0):
            return
        stages_lanes(YL, K, hs, p, TL, G, YN)
        error_lanes(YL, YN, K, hs, rtol, atol, errs, n5, n3)
        lane_measures(YN, G, K, S, fns, yns, den, num, bad, nan)
        for l in range(W):
            acc[l], done[l] = 0.0, 0.0
            r = lane_row[l]
            if r < 0:
                continue
            hi = hs[l]
            nfev[r] += S
            err, fn_new = errs[l], fns[l]
            ok = np.isfinite(err) and err < 1 and np.isfinite(fn_new)
            H[r] = hi * new_step(err, ok, rejected[r], exponent)
            rejected[r] = not ok
            if not ok:
                continue
            acc[l] = 1.0
            t_old, fn_old = T[r], FN[r]
            t = t_final if t_final - (t_old + hi) <= 0 else t_old + hi
            T[r] = t
            if next_eval[r] < n_eval and t_eval[next_eval[r]] <= t:
                for i in range(n):
                    y1[i] = YL[i, l]
                    yn1[i] = YN[i, l]
                    for s in range(S + 1):
                        K1[s, i] = K[i, s, l]
                record_dense(y1, yn1, K1, hi, p, gx, Fd, t_old, t, t_eval, y_eval,
                             next_eval, r)
                nfev[r] += extra
            nsteps[r] += 1
            FN[r] = fn_new
            c = lane_status(r, t, t_old, fn_old, fn_new, hi, yns[l], den[l], num[l], H, msg,
                            nsteps, iasti, nonsti, t_first, f_first, f_min, thr, t_final,
                            rtol, atol, tol, xtol, max_norm, stop, max_steps, stiff, top)
            if c != RUN:
                code[r], done[l] = c, 1.0
        for i in range(n):  # the accepted steps' states and speeds, every lane at once
            for r in range(W):
                YL[i, r] = YN[i, r] if acc[r] != 0.0 else YL[i, r]
                K[i, 0, r] = K[i, S, r] if acc[r] != 0.0 else K[i, 0, r]
        for l in range(W):
            if done[l] != 0.0:
                lane_give(Y, F, YL, K, lane_row[l], l)
                pos = lane_take(rows, pos, code, Y, F, YL, K, lane_row, l)
