"""Pictures of where trajectories end: phase diagrams of a sweep, basin slices, Poincaré
sections. Each function returns a matplotlib Figure (``plots.py`` holds the other plots)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import SpecError

__all__ = ["phase_diagram", "basin_slice", "poincare_plot"]

_COLOURS = {"converged": "#2a9d8f", "periodic": "#e76f51", "diverged": "#264653",
            "undecided": "#e9c46a"}


def _figure(*args, **kw):
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    return Figure(*args, **kw)


def phase_diagram(ds, x: str | None = None, y: str | None = None,
                  classes: Sequence[str] = ("converged", "periodic", "undecided", "diverged")):
    """Share of each end state over two swept axes of a sweep (a :func:`~symdyn.load_sweep`
    Dataset): one column per end state, one row per value of a third axis if there is one
    (any further axes are pooled). Numbers in the cells are the shares; periodic cells also
    give the number of certified orbits."""
    from ._run import phase_shares

    axes = [a for a in ds.coords if a != "state_size" and ds[a].dims == ("cell",)]
    if len(axes) < 2 and (x is None or y is None):
        raise SpecError(f"a phase diagram needs two swept axes; this sweep has "
                        f"{', '.join(axes) or 'none'}")
    x = x or axes[1]
    y = y or next(a for a in axes if a != x)
    for a in (x, y):
        if a not in axes:
            raise SpecError(f"{a!r} is not a swept axis (axes: {', '.join(axes)})")
    rest = [a for a in axes if a not in (x, y)]
    facet = rest[0] if rest else None
    sh = phase_shares(ds)
    xs, ys = np.unique(ds[x].values), np.unique(ds[y].values)
    fs = np.unique(ds[facet].values) if facet else [None]
    fig = _figure(figsize=(3.2 * len(classes), 2.6 * len(fs) + 0.6), layout="constrained")
    grid = fig.subplots(len(fs), len(classes), squeeze=False)
    for r, fv in enumerate(fs):
        for c, cls in enumerate(classes):
            ax = grid[r][c]
            share = np.full((len(ys), len(xs)), np.nan)
            cert = np.zeros((len(ys), len(xs)), int)
            for i, yv in enumerate(ys):
                for j, xv in enumerate(xs):
                    m = (ds[x].values == xv) & (ds[y].values == yv)
                    if facet:
                        m &= ds[facet].values == fv
                    rows = sh["rows"][m]
                    if rows.sum():
                        share[i, j] = np.nansum(sh[cls][m] * rows) / rows.sum()
                        cert[i, j] = sh["certified"][m].sum()
            image = ax.imshow(share, origin="lower", vmin=0, vmax=1, cmap="viridis",
                              aspect="auto")
            for i in range(len(ys)):
                for j in range(len(xs)):
                    if np.isfinite(share[i, j]):
                        txt = f"{share[i, j]:.2f}"
                        if cls == "periodic" and cert[i, j]:  # 1.1k: fits a cell
                            n = cert[i, j]
                            txt += f"\n{n / 1000:.1f}kc" if n >= 1000 else f"\n{n}c"
                        ax.text(j, i, txt, ha="center", va="center", fontsize=7,
                                color="white" if share[i, j] < 0.6 else "black")
            ax.set_xticks(range(len(xs)), [f"{v:g}" if isinstance(v, float | np.floating)
                                           else str(v) for v in xs], fontsize=7)
            ax.set_yticks(range(len(ys)), [str(v) for v in ys], fontsize=7)
            ax.set_xlabel(x)
            ax.set_ylabel(y)
            ax.set_title(f"{cls}" + (f" ({facet} = {fv:g})" if facet else ""), fontsize=9)
    fig.colorbar(image, ax=grid, shrink=0.9, label="share of the cell's starts")
    fig.suptitle(f"{_what_was_swept(ds)}: share of starts by end state (numbers: the share; "
                 f"c: certified periodic orbits)\nsweep {ds.attrs.get('identity', '')}",
                 fontsize=9)
    return fig


def _what_was_swept(ds) -> str:
    """The fixed settings of a sweep, e.g. ``"rule arbp, alpha=1, beta=1, 10 starts per
    cell"`` (from the spec stored with it)."""
    import json

    try:
        fixed = json.loads(ds.attrs.get("spec", "{}")).get("fixed", {})
    except (TypeError, ValueError):
        fixed = {}
    fixed.setdefault("starts", ds.sizes.get("start", "?"))
    parts = [f"rule {fixed.pop('rule')}"] if "rule" in fixed else []
    starts = fixed.pop("starts")
    parts += [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in fixed.items()]
    return ", ".join(parts + [f"{starts} starts per cell"])


def basin_slice(system, values: Mapping, base, i: int, j: int, extent: float, *, n: int = 25,
                t_final: float = 2000.0, tail: float = 1000.0, samples: int = 2000):
    """A 2-D slice of initial states: ``base`` with components ``i`` and ``j`` moved over
    ``[-extent, extent]`` (an ``n x n`` grid), each start coloured by where it ends."""
    from matplotlib.colors import ListedColormap

    from ..numerics import integrate_batch
    from ..numerics._classify import CLASSES, classify

    base = np.asarray(base, float)
    g = np.linspace(-extent, extent, n)
    U, V = np.meshgrid(g, g)
    Y0 = np.repeat(base[None, :], n * n, axis=0)
    Y0[:, i] += U.ravel()
    Y0[:, j] += V.ravel()
    r = integrate_batch(system, Y0, t_final, values, tol=1e-8)
    c = classify(system, r, values, tail=tail, samples=samples)
    code = np.array([CLASSES.index(e) for e in c.end]).reshape(n, n)
    fig = _figure(figsize=(5, 4.2), layout="constrained")
    ax = fig.subplots()
    cmap = ListedColormap([_COLOURS[k] for k in CLASSES])
    ax.pcolormesh(base[i] + g, base[j] + g, code, cmap=cmap, vmin=-0.5, vmax=3.5)
    names = [str(s) for s in system.state]
    ax.set_xlabel(names[i])
    ax.set_ylabel(names[j])
    counts = ", ".join(f"{k} {v}" for k, v in c.counts.items())
    ax.set_title(f"basin slice ({counts})", fontsize=8)
    fig.suptitle(system.title, fontsize=7)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=_COLOURS[k], label=k) for k in CLASSES], fontsize=7,
              loc="upper right")
    return fig


def poincare_plot(system, values: Mapping, y0, *, window: float = 2000.0, samples: int = 40000,
                  coords: tuple[int, int] = (0, 1)):
    """The orbit of ``y0`` over ``window`` (projected on two state components) and its
    returns to the Poincaré section of :func:`~symdyn.numerics._classify.section_crossings`:
    a periodic orbit returns to the same point(s); a quasi-periodic one fills a curve."""
    from ..numerics import integrate_batch
    from ..numerics._classify import detect_period, section_crossings

    te = np.linspace(0, window, samples)
    r = integrate_batch(system, np.asarray(y0, float)[None, :], window, values, rtol=1e-10,
                        atol=1e-12, t_eval=te, stop_on_convergence=False)
    Y = r.y_eval[:, 0]
    times, pts, _, _ = section_crossings(te, Y)
    T, amp, why = detect_period(te, Y)
    a, b = coords
    names = [str(s) for s in system.state]
    fig = _figure(figsize=(9, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(Y[:, a], Y[:, b], lw=0.5, color="#264653")
    ax1.plot(pts[:, a], pts[:, b], "o", color="#e76f51", ms=4, label="section returns")
    ax1.set_xlabel(names[a])
    ax1.set_ylabel(names[b])
    ax1.legend(fontsize=7)
    ax1.set_title(f"orbit over t in [0, {window:g}]", fontsize=9)
    if len(pts) > 1:
        d = np.linalg.norm(pts - pts[0], axis=1)
        ax2.semilogy(np.arange(1, len(d)), np.maximum(d[1:], 1e-16), ".-", color="#e76f51")
    ax2.set_xlabel("return k")
    ax2.set_ylabel("|x_k - x_0| on the section")
    ax2.set_title(f"period {T:.6g}" if np.isfinite(T) else f"no period: {why}", fontsize=9)
    return fig
