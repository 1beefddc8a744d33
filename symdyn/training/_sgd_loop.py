"""The SGD loop of the component path, as plain Python source (a template).

:mod:`symdyn.training._fast` appends the per-sample update printed from the component form
(replacing the placeholder :func:`update`) and loads the text with
:func:`symdyn.numerics._compiled.load_program`: compiled by numba when it is installed, plain
Python otherwise. The code is written with scalar indexing only, so the plain Python version
runs on lists (fast in CPython) and the compiled one on arrays."""


def update(y, p, X, Y, row, out):  # pragma: no cover - replaced
    """Writes Delta y(y; X[row], Y[row]) into ``out``."""
    raise NotImplementedError


def sgd_chunk(y, p, X, Y, idx, b, lr, k0, steps, record_every, max_norm, rec_y, rec_k, nrec,
              buf, acc):
    r"""Steps ``k0 + 1 ... k0 + len(idx)`` of :math:`y \leftarrow y + \mathrm{lr}\,
    \frac1b\sum_s \Delta y(y; X_s, Y_s)` on the mini-batches ``idx`` (``b`` sample
    indices per step, flat), in place; records at multiples of ``record_every`` and at
    ``steps``. Returns
    the number of records and whether the last one blew up (non-finite or above
    ``max_norm``; the loop stops there)."""
    n = len(y)
    # the next multiple of record_every, counted (a 64-bit modulo per step cost as much as
    # the update of a 1-1-1 network)
    next_record = (k0 // record_every + 1) * record_every
    for j in range(len(idx) // b):
        k = k0 + j + 1
        if b == 1:
            update(y, p, X, Y, idx[j], buf)
            for i in range(n):
                y[i] += lr * buf[i]
        else:
            for i in range(n):
                acc[i] = 0.0
            for s in range(b):
                update(y, p, X, Y, idx[j * b + s], buf)
                for i in range(n):
                    acc[i] += buf[i]
            for i in range(n):
                y[i] += lr * (acc[i] / b)
        if k == next_record or k == steps:
            if k == next_record:
                next_record += record_every
            big = False
            for i in range(n):
                rec_y[nrec][i] = y[i]
                a = abs(y[i])
                if not a <= max_norm:  # also NaN
                    big = True
            rec_k[nrec] = k
            nrec += 1
            if big:
                return nrec, True
    return nrec, False
