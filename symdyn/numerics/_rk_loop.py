r"""The per-row embedded Runge-Kutta loop of the compiled backend, as plain Python source.

This module is a *template*: :mod:`symdyn.numerics._compiled` appends the right-hand side
generated for one system and the stage and error formulas of one tableau (replacing the
placeholders :func:`rhs`, :func:`stages`, :func:`error_norm` below), writes the text to a
cache directory and compiles every function with ``numba.njit(cache=True)``, so that
:func:`run_rows` calls the system's own code directly and the machine code is kept on disk
between sessions. Nothing here is called uncompiled.

It is the algorithm of :class:`~symdyn.numerics._batch.BatchStepper`, one row at a time:
scipy's error control and step-size controller (``_SAFETY``, ``_MIN_FACTOR``,
``_MAX_FACTOR``), the convergence test of :mod:`symdyn.numerics` (decade anchors, as
:class:`~symdyn.numerics._convergence.Convergence`), blow-up (``max_norm``, non-finite
steps, step-size collapse after a hundredfold growth), ``max_steps``, and Hairer's stiffness
test, which hands a row back (code ``STIFF``) to the implicit solver in Python. The row
codes and message codes are those of :mod:`symdyn.numerics._batch`."""

import numpy as np

RUN, CONV, END, DIV, FAIL, STIFF = 0, 1, 2, 3, 4, 5
MSG_NONE, MSG_COLLAPSE, MSG_BLOWUP, MSG_NORM, MSG_STEPS = 0, 1, 2, 3, 4
SAFETY, MIN_FACTOR, MAX_FACTOR = 0.9, 0.2, 10.0
DECADES = 24
STIFF_HANDOFF_STEPS = 20_000


def rhs(y, p, K, s):  # pragma: no cover - replaced by the generated right-hand side
    """Writes f(y; p) into row ``s`` of ``K``."""
    raise NotImplementedError


def record(t_first, f_first, r, fmin, t, fn, top):
    """Convergence._record for row ``r``; returns the new running minimum of |f|."""
    if fmin == -np.inf or fmin == 0.0:
        return fmin
    if fmin == np.inf:
        hi = 0
    else:
        hi = max(top - int(np.floor(np.log10(fmin))), 0)
    if np.isnan(fn):
        return fmin
    if fn == 0.0:
        lo = DECADES - 1
    elif fn == np.inf:
        lo = -1
    else:
        lo = min(top - int(np.floor(np.log10(fn))) - 1, DECADES - 1)
    for c in range(hi, lo + 1):
        t_first[r, c] = t
        f_first[r, c] = fn
    return min(fmin, fn)


def converged(t_first, f_first, r, fmin, t_old, fn_old, t_new, fn_new, tol, xtol, top):
    """Convergence.test for row ``r``, after :func:`record` of the new step."""
    if fn_new == 0.0:
        return True
    if fmin == 0.0:
        col = DECADES - 1
    elif fmin == np.inf:
        col = 0
    else:
        col = min(max(top - (int(np.floor(np.log10(fmin))) + 2), 0), DECADES - 1)
    t_a, f_a = t_first[r, col], f_first[r, col]
    if not (t_a < t_new):
        t_a, f_a = t_old, fn_old
    rate = np.log(f_a / fn_new) / (t_new - t_a)
    remaining = fn_new / rate if rate > 0 else np.inf
    return fn_new <= tol and remaining <= xtol


def stages(y, F, r, p, h, K, g, y_new):  # pragma: no cover - replaced
    """One step of the pair from ``y`` (speed ``F[r]``): stages into ``K``, the new state
    into ``y_new``, the argument of the last stage left in ``g``. Generated per tableau with
    its nonzero coefficients as literals (:func:`~symdyn.numerics._rkgen.tableau_source`)."""
    raise NotImplementedError


def error_norm(y, y_new, K, h, rtol, atol):  # pragma: no cover - replaced
    """scipy's error norm of the step (RK45: rms of ``h E K / scale``; DOP853: the
    5th/3rd-order mix). Generated per tableau, as :func:`stages`."""
    raise NotImplementedError


def new_step(err, ok, was_rejected, exponent):
    """The factor scipy's controller applies to the step size."""
    if ok:
        factor = MAX_FACTOR if err == 0.0 else min(MAX_FACTOR, SAFETY * err ** exponent)
        return min(1.0, factor) if was_rejected else factor
    if np.isfinite(err):
        return max(MIN_FACTOR, SAFETY * err ** exponent)
    return MIN_FACTOR


def dense(y, y_new, K, h, p, gx, Fd):  # pragma: no cover - replaced
    """The factors ``Fd`` of the pair's dense output polynomial on the step from ``y`` to
    ``y_new`` (DOP853: three more stages into ``K[13:16]``); generated per tableau, as
    :func:`~symdyn.numerics._tableau.dense_factors`."""
    raise NotImplementedError


def dense_value(Fd, y, x, out):  # pragma: no cover - replaced
    """The dense output at the fraction ``x`` of the step into ``out``
    (:func:`~symdyn.numerics._tableau.dense_at`)."""
    raise NotImplementedError


def record_dense(y, y_new, K, h, p, gx, Fd, t_old, t, t_eval, y_eval, next_eval, r):
    """Row ``r`` at every time of ``t_eval`` in the accepted step from ``t_old`` to ``t``
    (``next_eval[r]`` onwards), by the dense output of the step."""
    dense(y, y_new, K, h, p, gx, Fd)
    k = next_eval[r]
    while k < t_eval.shape[0] and t_eval[k] <= t:
        dense_value(Fd, y, (t_eval[k] - t_old) / h, y_eval[k, r])
        k += 1
    next_eval[r] = k


def stiffness(y_new, g, K, S, h_acc, iasti, nonsti, thr):
    """Hairer's test on rows ``S - 1`` and ``S`` of ``K``; returns the updated counters
    ``(iasti, nonsti)``."""
    den, num = 0.0, 0.0
    for i in range(y_new.shape[0]):
        den += (y_new[i] - g[i]) ** 2
        num += (K[S, i] - K[S - 1, i]) ** 2
    return stiff_counters(h_acc, num, den, iasti, nonsti, thr)


def stiff_counters(h_acc, num, den, iasti, nonsti, thr):
    """Hairer's counters ``(iasti, nonsti)`` after a step of size ``h_acc`` with the sums
    ``num`` = |K_S - K_{S-1}|^2 and ``den`` = |y_new - g|^2 (shared by the lane loop)."""
    hlamb = h_acc * np.sqrt(num) / np.sqrt(den) if den > 0 else 0.0
    if hlamb > thr:
        return iasti + 1, 0
    return (0 if nonsti + 1 >= 6 else iasti), nonsti + 1


def hand_off(iasti, t, h, hi, fn, ynorm, t_final, stop, tol, rtol, atol):
    """Whether a row found stiff (15 steps in a row) goes to LSODA: enough of its horizon
    is left, or it stalls short of the convergence test."""
    remaining = (t_final - t) / max(h, 1e-300)
    stalled = stop and (fn <= tol or fn * hi <= 100 * (atol + rtol * ynorm))
    return iasti >= 15 and (remaining > STIFF_HANDOFF_STEPS or stalled)


def collapsed(hi, t, attempts, max_steps):
    """Whether the step size ``hi`` at ``t`` has collapsed: under ten spacings of ``t``
    (spacing(t) <= 2^-52 |t|, or the least subnormal: it is called only when close), NaN
    (overflow), or after unbounded rejections, as on the numpy path."""
    return ((not hi >= 10 * (2.220446049250313e-16 * abs(t) + 5e-324)
             and not hi >= 10 * np.spacing(t)) or attempts > 10 * max_steps)


def collapse_code(ynorm, fnorm, y0_norm, t_final, max_norm):
    """``(code, message)`` of a row whose step size collapsed: a blow-up if its state grew
    past 100 times its start or its speed would pass ``max_norm`` within the horizon."""
    if ynorm > 100 * max(1.0, y0_norm) or not fnorm * max(t_final, 1.0) < max_norm:
        return DIV, MSG_BLOWUP
    return FAIL, MSG_COLLAPSE


def max_abs(v):
    m = 0.0
    for i in range(v.shape[0]):
        a = abs(v[i])
        if np.isnan(a):  # NaN propagates, as np.max does
            return a
        if a > m:
            m = a
    return m


def row_max_abs(K, s):
    """max |K[s]|, or NaN if any entry is not finite."""
    m = 0.0
    for i in range(K.shape[1]):
        a = abs(K[s, i])
        if not a < np.inf:
            return np.nan
        if a > m:
            m = a
    return m


def run_rows(rows, P, Y, F, T, H, code, nfev, nsteps, attempts, rejected, iasti, nonsti, FN,
             y0_norm,
             t_first, f_first, f_min, msg, S, order, thr, t_final, rtol, atol, tol, xtol,
             max_norm, stop, max_steps, stiff, top, t_eval, y_eval, next_eval, extra, n_f):
    """Advance each row of ``rows`` until it stops (see the module docstring); every array
    is updated in place. ``xtol < 0`` means the default of ten local tolerances. Rows are
    recorded at the times ``t_eval`` (may be empty) into ``y_eval`` (k, B, n) by the dense
    output (``extra`` more stages, ``n_f`` factors), ``next_eval`` counting per row the
    times recorded, as :meth:`~symdyn.numerics._batch.BatchStepper._dense_output`."""
    n = Y.shape[1]
    K = np.empty((S + 1 + extra, n))
    y, g, y_new, gx = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    Fd = np.empty((n_f, n))
    n_eval = t_eval.shape[0]
    exponent = -1.0 / (order + 1)
    for r in rows:
        p = P[r] if P.shape[0] > 1 else P[0]
        y[:] = Y[r]
        t, h, fn, rej, ia, ns, st = T[r], H[r], FN[r], rejected[r], iasti[r], nonsti[r], 0
        c, ev = code[r], 0
        while c == RUN:
            hi = min(h, t_final - t)
            attempts[r] += 1
            if collapsed(hi, t, attempts[r], max_steps):
                c, msg[r] = collapse_code(max_abs(y), max_abs(F[r]), y0_norm[r], t_final,
                                          max_norm)
                break
            stages(y, F, r, p, hi, K, g, y_new)
            ev += S
            err = error_norm(y, y_new, K, hi, rtol, atol)
            fn_new = row_max_abs(K, S)
            ok = np.isfinite(err) and err < 1 and np.isfinite(fn_new)
            h = hi * new_step(err, ok, rej, exponent)
            rej = not ok
            if not ok:
                continue
            t_old, fn_old = t, fn
            t = t_final if t_final - (t_old + hi) <= 0 else t_old + hi
            if next_eval[r] < n_eval and t_eval[next_eval[r]] <= t:
                record_dense(y, y_new, K, hi, p, gx, Fd, t_old, t, t_eval, y_eval, next_eval,
                             r)
                ev += extra
            for i in range(n):
                y[i] = y_new[i]
                F[r, i] = K[S, i]
            st += 1
            fn = fn_new
            ynorm = max_abs(y)
            if ynorm > max_norm:
                c, msg[r] = DIV, MSG_NORM
                break
            if stop:
                f_min[r] = record(t_first, f_first, r, f_min[r], t, fn, top)
                xt = xtol if xtol >= 0 else 10 * (atol + rtol * ynorm)
                if converged(t_first, f_first, r, f_min[r], t_old, fn_old, t, fn, tol, xt,
                             top):
                    c = CONV
                    break
            if t >= t_final:
                c = END
                break
            if nsteps[r] + st >= max_steps:
                c, msg[r] = FAIL, MSG_STEPS
                break
            if stiff:
                ia, ns = stiffness(y, g, K, S, hi, ia, ns, thr)
                if hand_off(ia, t, h, hi, fn, ynorm, t_final, stop, tol, rtol, atol):
                    c = STIFF
        Y[r] = y
        T[r], H[r], FN[r], rejected[r], iasti[r], nonsti[r], code[r] = t, h, fn, rej, ia, ns, c
        nsteps[r] += st
        nfev[r] += ev
