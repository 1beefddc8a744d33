r"""Figures (matplotlib): phase portraits, trajectories over time, channel asymmetry.

Every function builds a :class:`matplotlib.figure.Figure` directly (never ``pyplot``), so
nothing is shown and no GUI backend is touched: save it with ``fig.savefig(path)`` or let a
notebook display it. Pass ``ax`` to draw into an existing axes instead (its figure is
returned).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from .errors import SpecError
from .numerics import BatchResult, IntegrationResult, bind_values, integrate_batch, numeric
from .numerics._binding import component_values
from .numerics._codegen import numpy_function
from .sweep._plots import basin_slice, phase_diagram, poincare_plot
from .training import Comparison, SimulationResult

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .system import LearningSystem

__all__ = ["phase_portrait", "plot_trajectories", "plot_asymmetry", "asymmetry",
           "figure_path", "save_figure", "phase_diagram", "basin_slice", "poincare_plot"]


_INVARIANT_COLORS = ("0.3", "teal", "darkorange", "purple")


def figure_path(path) -> tuple[Path, str]:
    """Check, before any work, that a figure can be written at exactly ``path``: its
    extension names a format matplotlib writes, its directory exists, and it is not a
    directory. Returns the path and the format."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    formats = FigureCanvasAgg(Figure()).get_supported_filetypes()
    target = Path(path)
    fmt = target.suffix[1:].lower()
    if fmt not in formats:
        raise SpecError(f"figure file {str(path)!r} must end in one of "
                        f"{', '.join('.' + f for f in sorted(formats))}")
    if target.is_dir():
        raise SpecError(f"figure file {str(path)!r} is a directory")
    parent = target.parent
    if not parent.is_dir():
        raise SpecError(f"cannot write figure {str(path)!r}: directory {str(parent)!r} does "
                        "not exist")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise SpecError(f"cannot write figure {str(path)!r}: permission denied")
    return target, fmt


def save_figure(fig: Figure, path) -> Path:
    """Write ``fig`` to exactly ``path`` (checked by :func:`figure_path`)."""
    target, fmt = figure_path(path)
    try:
        fig.savefig(target, format=fmt, dpi=120)
    except OSError as exc:
        raise SpecError(f"cannot write figure {str(path)!r}: {exc.strerror or exc}") from None
    return target


def _axes(ax: Axes | None, figsize=(6.0, 5.0)) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _state_index(system: LearningSystem, v) -> int:
    names = [str(s) for s in system.state]
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        if not 0 <= v < len(names):
            raise SpecError(f"state index {v} out of range 0..{len(names) - 1}")
        return int(v)
    if str(v) in names:
        return names.index(str(v))
    raise SpecError(f"{v!r} is not a state variable; state: {', '.join(names)}")


def _as_expr(system: LearningSystem, e) -> sp.Expr:
    """An expression from a string (the whitelist parser: nothing in it runs) or an
    expression."""
    from .analysis._common import as_expression

    return as_expression(system, e, "an expression")


def phase_portrait(
    system: LearningSystem,
    values: Mapping | None = None,
    *,
    variables: Sequence = (0, 1),
    fixed: Mapping | None = None,
    xlim: tuple[float, float] = (-2.0, 2.0),
    ylim: tuple[float, float] = (-2.0, 2.0),
    trajectories=None,
    t_final: float = 50.0,
    invariants: Sequence = (),
    levels=None,
    fixed_points="auto",
    density: int = 21,
    ax: Axes | None = None,
) -> Figure:
    r"""The phase plane of two state variables (``variables``, names or indices; the others
    held at ``fixed``, default 0): the vector field (normalised arrows), trajectories from
    the starts ``trajectories`` (full states, or points of the plane), level sets of the
    ``invariants`` (sympy expressions or strings in the state and parameter names) through
    those starts (or at ``levels``), and fixed-point families as zero contours: with
    ``fixed_points="auto"``, of the common factor (polynomial gcd) of the two velocity
    components when there is one, e.g. :math:`\alpha - \beta a_1 a_2` for 1-1-1 RBP; or of
    the expressions given. Trajectories are integrated in the full system and projected.

    >>> from symdyn import derive
    >>> s = derive("1-1-1", "rbp")
    >>> fig = phase_portrait(s, {"alpha": 1, "beta": 1, "c1": 0.5},
    ...                      trajectories=[[0.1, 0.2], [-1, 1]], invariants=["a1**2 - 2*c1*a2"])
    >>> len(fig.axes[0].lines) >= 2
    True
    """
    i, j = (_state_index(system, v) for v in variables)
    if i == j:
        raise SpecError("phase_portrait needs two different state variables")
    base = np.zeros(system.size)
    for k, v in (fixed or {}).items():
        base[_state_index(system, k)] = float(v)
    plane = _Plane(system, values, base, i, j, xlim, ylim)
    fig, ax = _axes(ax)
    plane.vector_field(ax, density)
    starts = plane.starts(trajectories)
    if starts:
        plane.trajectories(ax, starts, t_final)
    for k, inv in enumerate(invariants):
        plane.level_sets(ax, _as_expr(system, inv), levels, starts,
                         _INVARIANT_COLORS[k % len(_INVARIANT_COLORS)])
    for e in plane.families(fixed_points):
        Z = plane.on_grid(e)
        if np.nanmin(Z) < 0 < np.nanmax(Z):
            ax.contour(plane.FX, plane.FY, Z, levels=[0.0], colors="crimson", linewidths=2.0)
    _legend(ax, starts, invariants, plane.families(fixed_points))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(f"${sp.latex(plane.x)}$")
    ax.set_ylabel(f"${sp.latex(plane.y)}$")
    ax.set_title(system.title, fontsize=9)
    return fig


def _legend(ax, starts, invariants, families) -> None:
    """What the marks mean: starts, converged ends, level sets, fixed-point families."""
    from matplotlib.lines import Line2D

    handles = []
    if len(starts):
        handles += [Line2D([], [], color="0.3", marker="o", ls="-", ms=4,
                           label="trajectory from its start"),
                    Line2D([], [], color="0.3", marker="*", ls="", ms=9,
                           label="converged end")]
    handles += [Line2D([], [], color=_INVARIANT_COLORS[k % len(_INVARIANT_COLORS)], ls=":",
                       label="level set of a first integral") for k in range(len(invariants))
                ][:1]
    if families:
        handles.append(Line2D([], [], color="crimson", lw=2, label="fixed points"))
    handles.append(Line2D([], [], color="0.5", marker=r"$\rightarrow$", ls="", ms=10,
                          label="direction of the flow"))
    ax.legend(handles=handles, fontsize=7, loc="best", framealpha=0.85)


class _Plane:
    """The plane of state variables ``i, j`` through ``base``, and what is drawn on it."""

    def __init__(self, system, values, base, i: int, j: int, xlim, ylim):
        self.system, self.values, self.base, self.i, self.j = system, values, base, i, j
        self.xlim, self.ylim = xlim, ylim
        self.f = numeric(system, values)
        self.comp = component_values(system, values)
        self.x, self.y = system.state[i], system.state[j]
        self.others = {s: float(base[k]) for k, s in enumerate(system.state) if k not in (i, j)}
        self.FX, self.FY = np.meshgrid(np.linspace(*xlim, 241), np.linspace(*ylim, 241))

    def vector_field(self, ax, density: int) -> None:
        """Normalised arrows, shaded by the log of the speed."""
        gx, gy = np.meshgrid(np.linspace(*self.xlim, density), np.linspace(*self.ylim, density))
        pts = np.tile(self.base, (gx.size, 1))
        pts[:, self.i], pts[:, self.j] = gx.ravel(), gy.ravel()
        with np.errstate(all="ignore"):
            v = self.f(0.0, pts)
        u, w = v[:, self.i].reshape(gx.shape), v[:, self.j].reshape(gx.shape)
        speed = np.hypot(u, w)
        with np.errstate(all="ignore"):
            un, wn = np.where(speed > 0, u / speed, 0), np.where(speed > 0, w / speed, 0)
        ax.quiver(gx, gy, un, wn, np.log10(speed + 1e-12), cmap="Greys", alpha=0.6,
                  angles="xy", pivot="mid")

    def on_grid(self, expr) -> np.ndarray:
        """``expr`` (in the two plane variables, after the values) on the fine grid."""
        e = sp.sympify(expr, strict=True).xreplace({**self.comp, **self.others})
        extra = e.free_symbols - {self.x, self.y}
        if extra:
            raise SpecError(f"expression {expr} has symbols without values: "
                            f"{', '.join(sorted(map(str, extra)))}")
        fn = numpy_function((self.x, self.y), e, cse=False)
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(fn(self.FX, self.FY), dtype=float), self.FX.shape)

    def starts(self, trajectories) -> list[np.ndarray]:
        """Full initial states from full states or points of the plane."""
        n, out = self.system.size, []
        if trajectories is None:
            return out
        for y0 in np.atleast_2d(np.asarray(trajectories, dtype=float)):
            if y0.size == n:
                out.append(y0)
            elif y0.size == 2:
                full = self.base.copy()
                full[self.i], full[self.j] = y0
                out.append(full)
            else:
                raise SpecError(f"a trajectory start must have 2 or {n} entries, got {y0}")
        return out

    def trajectories(self, ax, starts, t_final: float) -> None:
        """Integrated in the full system and projected: start (dot), path, end (star) when
        converged."""
        i, j = self.i, self.j
        Y0 = np.array(starts)
        res = integrate_batch(self.system, Y0, t_final, self.values,
                              t_eval=np.linspace(0.0, t_final, 400))
        for r in range(len(Y0)):
            path = res.y_eval[:, r]
            ok = np.all(np.isfinite(path), axis=1)
            ax.plot(path[ok, i], path[ok, j], color=f"C{r % 10}", lw=1.5)
            ax.plot(*Y0[r, [i, j]], "o", color=f"C{r % 10}", ms=4)
            if res.status[r] == "converged":
                ax.plot(*res.y[r, [i, j]], "*", color=f"C{r % 10}", ms=9)

    def level_sets(self, ax, expr, levels, starts, color) -> None:
        """Level sets of an invariant: at ``levels``, or through the starts."""
        Z = self.on_grid(expr)
        if levels is not None:
            lv = np.sort(np.atleast_1d(levels))
        elif starts:
            fn0 = numpy_function(self.system.state, expr.xreplace(self.comp), cse=False)
            lv = np.unique(np.round([float(fn0(*s)) for s in starts], 12))
        else:
            lv = 9
        if np.ndim(lv) and len(lv) == 1:
            lv = [lv[0]]
        ax.contour(self.FX, self.FY, Z, levels=lv, colors=color, linestyles="dotted",
                   linewidths=1.2)

    def families(self, fixed_points) -> list:
        """Expressions whose zero sets are fixed-point families: with ``"auto"``, the common
        factor of the two velocity components, when there is one."""
        if fixed_points is None:
            return []
        if not isinstance(fixed_points, str):
            return [_as_expr(self.system, e) for e in fixed_points]
        if fixed_points != "auto":
            raise SpecError(f"fixed_points must be 'auto', None or expressions, got "
                            f"{fixed_points!r}")
        sub = {**self.comp, **self.others}
        ri = sp.sympify(self.system.rhs[self.i], strict=True).xreplace(sub)
        rj = sp.sympify(self.system.rhs[self.j], strict=True).xreplace(sub)
        try:
            g = sp.gcd(sp.nsimplify(ri), sp.nsimplify(rj))
        except (sp.PolynomialError, sp.CoercionFailed, NotImplementedError):
            g = sp.Integer(1)
        return [g] if g.free_symbols & {self.x, self.y} else []


def _trajectory(result) -> tuple[np.ndarray, np.ndarray]:
    """Times (k,) and states (k, n) or (k, B, n) of any result."""
    if isinstance(result, (IntegrationResult, SimulationResult)):
        return result.t, result.y
    if isinstance(result, BatchResult):
        if result.y_eval is None:
            raise SpecError("this batch result has no trajectory; integrate with "
                            "integrate_batch(..., t_eval=...)")
        return result.t_eval, result.y_eval
    if isinstance(result, Comparison):
        return result.t, result.sgd.y[: len(result.t)]
    raise SpecError(f"cannot plot {type(result).__name__}; pass an integration, batch, "
                    "simulation or comparison result")


def _lines(result, components, system, values) -> tuple[list[str], Callable]:
    """Labels of the plotted quantities and a function from states (..., n) to their values
    (..., k): state variables by name or index, or expressions in the state (strings or
    sympy; parameters need ``system`` and ``values``)."""
    state = list(result.ode.state if isinstance(result, Comparison) else result.state)
    names = [str(s) for s in state]
    if components is None:
        idx = list(range(min(len(names), 10)))
        return [names[k] for k in idx], lambda Y: Y[..., idx]
    labels, fns = [], []
    for c in components:
        if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
            if not 0 <= c < len(names):
                raise SpecError(f"state index {c} out of range 0..{len(names) - 1}")
            c = names[int(c)]
        if isinstance(c, str) and c in names:
            k = names.index(c)
            labels.append(c)
            fns.append(lambda Y, k=k: Y[..., k])
            continue
        if system is None and isinstance(c, str):
            raise SpecError(f"{c!r} is not a state variable (state: {', '.join(names)}); pass "
                            "system= to plot an expression of the state")
        e = _as_expr(system, c) if system is not None else sp.sympify(c, strict=True)
        if system is not None and e.free_symbols - set(state):
            e = e.xreplace(component_values(system, values))
        extra = e.free_symbols - set(state)
        if extra:
            raise SpecError(f"{c} has symbols without values: "
                            f"{', '.join(sorted(map(str, extra)))}")
        fn = numpy_function(state, e, cse=False)
        labels.append(f"${sp.latex(e)}$")
        fns.append(lambda Y, fn=fn: np.broadcast_to(
            np.asarray(fn(*np.moveaxis(Y, -1, 0)), dtype=float), Y.shape[:-1]))
    return labels, lambda Y: np.stack([f(Y) for f in fns], axis=-1)


def _status_line(status: str, message: str) -> str:
    """``"converged at t=3: ..."``, not ``"converged: converged at t=3: ..."``."""
    return message if message.startswith(status) else f"{status}: {message}"


def _end_counts(classification) -> str:
    """``"92 converged, 8 periodic (period 5.04 to 7.93)"`` for a classification."""
    parts = []
    for end, count in classification.counts.items():
        if end == "periodic":
            p = classification.period[classification.end == "periodic"]
            span = f"{p.min():.3g}" if p.min() == p.max() else f"{p.min():.3g} to {p.max():.3g}"
            parts.append(f"{count} periodic (period {span})")
        elif end != "certified":
            parts.append(f"{count} {end}")
    return ", ".join(parts)


def plot_trajectories(result, *, components: Sequence | None = None, system=None,
                      values: Mapping | None = None, max_rows: int = 50, logx: bool = False,
                      ax: Axes | None = None, classification=None) -> Figure:
    """Quantities over time: one line per component (``components``: state names or
    indices, or expressions in the state such as ``"a1*a2*a3"``, whose parameters take
    ``values`` of ``system``; default: the first 10 state variables); for a batch, one thin
    line per row (at most ``max_rows``), with diverged rows left out of the axis range; for a
    :class:`~symdyn.training.Comparison`, SGD thin and light under the ODE dashed. The title
    names the system (when ``system`` is given) and says what is shown and what is left out.
    ``classification`` (:func:`~symdyn.numerics.classify` of a batch, possibly of more rows
    than ``result`` holds: ``result`` then has its first rows) gives the end states the
    title counts and the rows left out."""
    t, Y = _trajectory(result)
    labels, values_of = _lines(result, components, system, values)
    n = Y.shape[-1]
    fig, ax = _axes(ax, figsize=(7.0, 4.0))
    V = values_of(np.asarray(Y, dtype=float))
    notes = []
    if components is None and n > len(labels):
        notes.append(f"showing {len(labels)} of {n} state variables")
    head = f"{system.title}\n" if system is not None else ""
    if V.ndim == 3:
        status = np.asarray(result.status if classification is None else classification.end)
        total = len(status)
        shown = np.arange(min(V.shape[1], max_rows))
        off = shown[status[shown] == "diverged"]
        kept = shown[status[shown] != "diverged"]
        if total > len(shown):
            notes.append(f"{len(shown)} of {total} rows")
        if off.size:
            notes.append(f"{off.size} diverged row(s) left out")
        if classification is not None and len(labels) == 1:  # one quantity: colour by end
            for k, end in enumerate(("converged", "periodic", "undecided")):
                rows = kept[status[kept] == end]
                if rows.size:
                    ax.plot(t, V[:, rows, 0], color=f"C{k}", lw=0.7, alpha=0.6)
                    ax.plot([], [], color=f"C{k}", label=f"{end} ({rows.size})")
        else:
            for j, label in enumerate(labels):
                ax.plot(t, V[:, kept, j], color=f"C{j % 10}", lw=0.7, alpha=0.6)
                ax.plot([], [], color=f"C{j % 10}", label=label)
        counts = (_end_counts(classification) if classification is not None
                  else ", ".join(f"{c} {s}" for s, c in result.counts.items()))
        title = f"{head}{total} trajectories: {counts}"
    elif isinstance(result, Comparison):
        # SGD light and thin, the ODE dark, dashed and on top: the noise must not hide it
        W = values_of(np.asarray(result.ode.y, dtype=float))
        for j, label in enumerate(labels):
            ax.plot(t, V[:, j], color=f"C{j % 10}", lw=0.8, alpha=0.45)
            ax.plot([], [], color=f"C{j % 10}", lw=1.6, label=label)
            ax.plot(result.ode.t, W[:, j], color=_darker(f"C{j % 10}"), lw=1.6, ls="--",
                    zorder=3)
        ax.plot([], [], color="0.3", ls="--", lw=1.6, label="averaged ODE")
        ax.plot([], [], color="0.3", lw=0.8, alpha=0.45, label=f"SGD (lr={result.sgd.lr:g})")
        title = f"{head}SGD and averaged ODE: {result.message}"
    else:
        for j, label in enumerate(labels):
            ax.plot(t, V[:, j], color=f"C{j % 10}", lw=1.5, label=label)
        title = head + (_status_line(result.status, result.message)
                        if isinstance(result.status, str) else "")
    if isinstance(result, Comparison):
        ax.set_ylabel("weight" if components is None else "value")
    else:
        ax.set_ylabel("state" if components is None else
                      labels[0] if len(labels) == 1 else "value")
    if logx:
        ax.set_xscale("symlog")
    ax.set_xlabel("t")
    ax.set_title(title + (f" [{'; '.join(notes)}]" if notes else ""), fontsize=8, wrap=True)
    if len(ax.get_legend_handles_labels()[0]) > 4:  # beside the axes, not over the lines
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    else:
        ax.legend(fontsize=8, loc="best")
    return fig


def _darker(colour: str, factor: float = 0.6) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return tuple(factor * c for c in to_rgb(colour))


def asymmetry(result, system: LearningSystem, values: Mapping | None = None
              ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    r""":math:`\|C_h - W_h\|_F / \|C_h\|_F` over time for every channel :math:`C_h`, where
    :math:`W_h` is what backpropagation would use in its place: :math:`A_{h+1}^T` for the
    layered channels (RBP, ARBP), :math:`(A_L \cdots A_{h+1})^T` for the skip channels
    (SRBP, ASRBP; the map by which the output error reaches layer :math:`h` in BP, exactly
    for a linear network, at :math:`S = 0` for a non-linear one). Fixed channels come from
    ``values``. Returns the times and ``{"C1": array, ...}``."""
    t, Y = _trajectory(result)
    if Y.ndim == 3:
        raise SpecError("asymmetry takes one trajectory; select a row of the batch first")
    channels = [p for p in (*system.matrix.state, *system.matrix.parameters)
                if isinstance(p, sp.MatrixSymbol) and p.name.startswith("C")
                and p.name[1:].isdigit()]
    if not channels:
        raise SpecError(f"{system.rule.name.upper()} has no channel matrices C_h to compare")
    blocks = system.unpack(Y)
    fixed = {}
    if any(c not in system.matrix.state for c in channels):
        params = [c for c in channels if c not in system.matrix.state]
        bound, _ = bind_values(system, {k: v for k, v in (values or {}).items()
                                        if k.startswith(("C", "c"))}, params)
        fixed = {c.name: bound[c] for c in params}
    L = system.network.depth
    skip = channels[0].shape[1] == system.network.sizes[-1] and system.rule.name in (
        "srbp", "asrbp")
    out = {}
    for c in channels:
        h = int(c.name[1:])
        C = blocks[c.name] if c.name in blocks else np.broadcast_to(fixed[c.name],
                                                                    (len(t), *c.shape))
        if skip:
            W = blocks[f"A{L}"]
            for k in range(L - 1, h, -1):
                W = W @ blocks[f"A{k}"]
        else:
            W = blocks[f"A{h + 1}"]
        W = np.swapaxes(W, -1, -2)
        with np.errstate(all="ignore"):
            out[c.name] = (np.linalg.norm(C - W, axis=(-2, -1))
                           / np.linalg.norm(C, axis=(-2, -1)))
    return np.asarray(t), out


def plot_asymmetry(result, system: LearningSystem, values: Mapping | None = None, *,
                   ax: Axes | None = None) -> Figure:
    r"""The channel asymmetry :func:`asymmetry` over time, one line per channel
    (log scale)."""
    t, curves = asymmetry(result, system, values)
    fig, ax = _axes(ax, figsize=(7.0, 4.0))
    for k, (name, a) in enumerate(curves.items()):
        h = name[1:]
        k1 = int(h) + 1
        target = (f"(A_L \\cdots A_{{{k1}}})^T" if system.rule.name in ("srbp", "asrbp")
                  else f"A_{{{k1}}}^T")
        ax.plot(t, a, color=f"C{k % 10}",
                label=f"$\\|C_{{{h}}} - {target}\\| / \\|C_{{{h}}}\\|$")
    ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("relative asymmetry")
    ax.set_title(system.title, fontsize=9)
    ax.legend(fontsize=8)
    return fig
