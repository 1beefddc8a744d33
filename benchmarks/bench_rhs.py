"""Generated right-hand side vs hand-written numpy: linear RBP networks n-n-n (target: the
generated code within 1.2x of the hand-written one).

Both take the flat state vector and return the flat derivative; the hand-written version is
what one would write for this network:
``D = Sigma_TI - A2 @ A1 @ Sigma_II; return concat(C1 @ D, D @ A1.T)``.

The machine is shared, so timings are paired: each round times a burst of calls of one
function and then of the other (alternating which goes first), and the ratio of the pair is
recorded; the median over rounds is the figure. ``--threads 1`` pins BLAS to one thread
(set before numpy is imported), which makes the ratio less sensitive to other load."""

from __future__ import annotations

import os
import sys

if "--threads" in sys.argv:
    _n = sys.argv[sys.argv.index("--threads") + 1]
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _n

import time  # noqa: E402

import numpy as np  # noqa: E402
from _common import machine, median  # noqa: E402

import symdyn as sd  # noqa: E402


def paired_ratios(f, g, rounds: int, burst: int) -> tuple[list[float], float, float]:
    ratios, tf, tg = [], [], []
    for r in range(rounds):
        times = {}
        for name, fn in ((("f", f), ("g", g)) if r % 2 == 0 else (("g", g), ("f", f))):
            t0 = time.perf_counter()
            for _ in range(burst):
                fn()
            times[name] = (time.perf_counter() - t0) / burst
        ratios.append(times["f"] / times["g"])
        tf.append(times["f"])
        tg.append(times["g"])
    return ratios, median(tf), median(tg)


def hand_written(n, C, Sii, Sti):
    def f(t, y):
        A1 = y[: n * n].reshape(n, n)
        A2 = y[n * n:].reshape(n, n)
        D = Sti - A2 @ A1 @ Sii
        return np.concatenate([(C @ D).ravel(), (D @ A1.T).ravel()])

    return f


def main(rounds: int = 40) -> None:
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(machine() + f"; BLAS threads: {threads}")
    for n in (128, 256):
        rng = np.random.default_rng(0)
        system = sd.derive(f"{n}-{n}-{n}", "rbp")
        C = rng.normal(size=(n, n)) / np.sqrt(n)
        X = rng.normal(size=(4 * n, n))
        Sii, Sti = X.T @ X / len(X), rng.normal(size=(n, n)) / np.sqrt(n)
        f = system.numeric({"C1": C, "Sigma_II": Sii, "Sigma_TI": Sti})
        g = hand_written(n, C, Sii, Sti)
        y = rng.normal(size=system.size) / np.sqrt(n)
        assert np.allclose(f(0, y), g(0, y), rtol=1e-10, atol=1e-12)
        for _ in range(5):  # warm up
            f(0, y), g(0, y)
        burst = 20 if n == 128 else 5
        ratios, tf, tg = paired_ratios(lambda f=f, y=y: f(0, y), lambda g=g, y=y: g(0, y),
                                       rounds, burst)
        q1, q3 = np.percentile(ratios, [25, 75])
        print(f"{n}-{n}-{n} RBP: generated {tf * 1e3:.3f} ms, hand-written {tg * 1e3:.3f} ms "
              f"(medians); ratio generated / hand-written: median {median(ratios):.3f} "
              f"(quartiles {q1:.3f}-{q3:.3f}, {rounds} paired rounds); target <= 1.2")


if __name__ == "__main__":
    main()
