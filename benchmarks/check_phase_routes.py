"""The phase diagram's two routes checked against each other on its own rows (issue 21).

    python check_phase_routes.py STORE [PER_CELL] [REF_CELLS]

(a) rows the time horizon decided (up to PER_CELL per route, "integrator" and "returns", per
cell) are re-classified from their start by the vectorised level curve: the same limit
within 1e-3, or the same period within 1%; (b) in REF_CELLS cells, one row the level curve
decided is re-classified by the per-row tracer ``follow_level_curve`` with a speed threshold
of 1e-20: the same period within 0.1%, or a limit in the optimal set. Prints the counts and
every disagreement. ``STORE``: a store of ``arbp_phase.toml``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import symdyn as sd
from symdyn.numerics import follow_level_curve
from symdyn.numerics._classify import excess_loss
from symdyn.numerics._level_batch import follow_level_curves
from symdyn.sweep._run import _laws, cell_system
from symdyn.sweep._spec import load_spec

VALS = {"alpha": 1.0, "beta": 1.0}


def same(lc, end, period, y_end, system, period_tol) -> bool:
    if end == "periodic":
        return lc.outcome == "periodic" and abs(lc.period - period) <= period_tol * period
    if y_end is None:  # the per-row check: the limit is in the optimal set
        return lc.outcome == "converges" and excess_loss(system, lc.point[None], VALS)[0] <= 1e-6
    return lc.outcome == "converges" and float(np.max(np.abs(lc.point - y_end))) <= 1e-3


def main(store: str, per_cell: int, ref_cells: int) -> None:
    ds = sd.load_sweep(store)
    spec = load_spec(Path(__file__).with_name("arbp_phase.toml"))
    rng = np.random.default_rng(0)
    counts, bad, t0 = {"a": [0, 0], "b": [0, 0]}, [], time.process_time()
    for ci, cell in enumerate(spec.cells):
        done = ds["done"].values[ci]
        s, laws = cell_system(cell), _laws(cell)
        route, end = ds["route"].values[ci], ds["end"].values[ci]
        y0, y_end = ds["y0"].values[ci][:, :s.size], ds["y_end"].values[ci][:, :s.size]
        period = ds["period"].values[ci]
        pick = []
        for r in ("integrator", "returns"):
            idx = np.flatnonzero(done & (route == r))
            pick += [int(i) for i in rng.choice(idx, min(per_cell, idx.size), replace=False)]
        curves = follow_level_curves(s, y0[pick], VALS, laws=laws, rtol=1e-8, atol=1e-10) \
            if pick else []
        for i, lc in zip(pick, curves, strict=True):
            ok = same(lc, end[i], period[i], y_end[i], s, 1e-2)
            counts["a"] = [counts["a"][0] + ok, counts["a"][1] + 1]
            if not ok:
                bad.append((cell["depth"], cell["scale"], cell["rate_ratio"], end[i], lc.message))
        idx = np.flatnonzero(done & (route == "level curve"))
        if ci % max(1, len(spec.cells) // ref_cells) or not idx.size:
            continue
        i = int(rng.choice(idx))
        lc = follow_level_curve(s, y_end[i], VALS, laws=laws, rtol=1e-8, atol=1e-10,
                                speed_tol=1e-20)
        ok = same(lc, end[i], period[i], None, s, 1e-3)
        counts["b"] = [counts["b"][0] + ok, counts["b"][1] + 1]
        if not ok:
            bad.append((cell["depth"], cell["scale"], cell["rate_ratio"], end[i], lc.message))
    print(f"(a) rows the horizon decided, re-classified from their start by the level curve: "
          f"{counts['a'][0]}/{counts['a'][1]} agree")
    print(f"(b) rows the level curve decided, re-classified row by row (speed threshold "
          f"1e-20): {counts['b'][0]}/{counts['b'][1]} agree")
    print(f"disagreements: {bad}; {time.process_time() - t0:.0f} CPU-s")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3,
         int(sys.argv[3]) if len(sys.argv) > 3 else 48)
