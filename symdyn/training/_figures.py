"""Figures of an experiment (matplotlib, no pyplot): learning curves per variant, alignment
angles over training, and ARBP channel symmetry over training for several initial scales."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._table import ResultsTable

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["learning_curves", "alignment_angles", "symmetry_over_training", "save_figures"]

_SCALE = re.compile(r"^scale=([0-9.eE+-]+)$")


def _figure(n: int, height: float = 3.2):
    from matplotlib.figure import Figure

    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(4.0 * cols, height * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    return fig, axes


def _curve(table: ResultsTable, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Epochs, mean and spread of ``metric`` over the runs (seeds) in ``table``."""
    by_epoch: dict[int, list[float]] = {}
    for r in table.rows:
        v = r.get(metric)
        if v is not None and np.isfinite(v):
            by_epoch.setdefault(int(r["epoch"]), []).append(float(v))
    ep = np.array(sorted(by_epoch))
    vals = [np.array(by_epoch[e]) for e in ep]
    return ep, np.array([v.mean() for v in vals]), np.array([v.std() for v in vals])


def _grid_variants(table: ResultsTable) -> list[str]:
    return [v for v in dict.fromkeys(table.column("variant")) if not _SCALE.match(str(v))]


def _legend_below(fig, axes) -> None:
    """One legend for the figure, below the panels, so that it covers no line."""
    handles, labels = {}, {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles[lab], labels[lab] = h, lab
    if handles:
        fig.legend(list(handles.values()), list(labels), loc="outside lower center",
                   ncol=min(len(handles), 8), fontsize="small")


def learning_curves(table: ResultsTable, metric: str = "test_acc") -> Figure:
    """One column per variant; per rule the mean of ``metric`` over seeds (band: ± spread),
    every epoch from 0 (the initial weights) on the top row, and for accuracies a second row
    zoomed on epochs 1 onwards (where the rules differ); the baselines dashed in every
    panel."""
    from matplotlib.figure import Figure

    variants = _grid_variants(table) or [""]
    base = table.where(architecture="baseline")
    zoom = metric.endswith("acc")
    n = len(variants)
    fig = Figure(figsize=(4.0 * n, 3.2 * (2 if zoom else 1)), layout="constrained")
    rows = 2 if zoom else 1
    for col, variant in enumerate(variants):
        top = fig.add_subplot(rows, n, col + 1)
        axes = [top] + ([fig.add_subplot(rows, n, n + col + 1)] if zoom else [])
        sub = ResultsTable(tuple(r for r in table.rows if r.get("variant") == variant
                                 and r.get("architecture") != "baseline"))
        late: list[float] = []
        high: list[float] = []
        for k, rule in enumerate([*dict.fromkeys(base.column("rule")),
                                  *dict.fromkeys(sub.column("rule"))]):
            is_base = bool(base.where(rule=rule).rows)
            ep, m, s = _curve(base.where(rule=rule) if is_base else sub.where(rule=rule), metric)
            for ax in axes:
                ax.plot(ep, m, label=rule if is_base else rule.upper(), color=f"C{k}",
                        ls="--" if is_base else "-", lw=1.0 if is_base else 1.5)
                ax.fill_between(ep, m - s, m + s, color=f"C{k}", alpha=0.2, lw=0)
            late.extend((m - s)[ep >= 1])
            high.extend((m + s)[ep >= 1])
        top.set_title(variant)
        if zoom:
            top.set_ylim(0.0, 1.0)
            if late:
                axes[1].set_xlim(left=1)
                axes[1].set_ylim(max(0.0, min(late) - 0.005), min(1.0, max(high) + 0.005))
            axes[1].set_title(f"{variant}: epochs 1 on, zoomed", fontsize="small")
        for ax in axes:
            ax.set_xlabel("epoch")
            ax.set_ylabel(metric.replace("_", " "))
            ax.grid(alpha=0.3)
    _legend_below(fig, fig.axes)
    fig.suptitle(f"learning curves ({metric.replace('_', ' ')}, mean ± spread over seeds; "
                 "baselines dashed)")
    return fig


def alignment_angles(table: ResultsTable, variant: str = "derivative") -> Figure:
    """Angle between each rule's update of the hidden W_h and BP's, over training (BP's is
    0 by definition: drawn thick, on an axis that starts below 0)."""
    sub = table.where(variant=variant) if variant in table.column("variant") else table
    layers = sorted({int(c.rsplit("h", 1)[1]) for c in sub.columns
                     if c.startswith("update_angle_h")})
    fig, axes = _figure(max(1, len(layers)))
    for ax, h in zip(axes, layers):
        for rule in dict.fromkeys(sub.column("rule")):
            ep, m, s = _curve(sub.where(rule=rule), f"update_angle_h{h}")
            if len(ep):
                ax.plot(ep, m, label=rule.upper(), lw=3.0 if rule == "bp" else 1.5,
                        zorder=3 if rule == "bp" else 2)
        ax.axhline(90, color="0.4", lw=0.8, ls="--")
        ax.annotate("90°: orthogonal to BP", (0.98, 90), xycoords=("axes fraction", "data"),
                    xytext=(0, 2), textcoords="offset points", fontsize="small", color="0.3",
                    ha="right", va="bottom")
        ax.set_ylim(-5, 102)
        ax.set_title(f"hidden layer {h}: angle(ΔW_{h}, BP's ΔW_{h})")
        ax.set_xlabel("epoch")
        ax.set_ylabel("degrees")
        ax.grid(alpha=0.3)
    _legend_below(fig, axes)
    fig.suptitle(f"alignment with backpropagation ({variant})")
    return fig


def symmetry_over_training(table: ResultsTable) -> Figure:
    """ARBP: ||C_h - W_{h+1}^T|| / ||C_h|| over training, one line per initial scale."""
    from matplotlib.ticker import LogLocator, ScalarFormatter

    rows = [r for r in table.rows if r.get("rule") == "arbp" and _SCALE.match(str(r["variant"]))]
    sub = ResultsTable(tuple(rows))
    layers = sorted({int(c.rsplit("h", 1)[1]) for c in sub.columns
                     if c.startswith("channel_dist_h")})
    fig, axes = _figure(max(1, len(layers)))
    for ax, h in zip(axes, layers):
        for variant in dict.fromkeys(sub.column("variant")):
            ep, m, _ = _curve(sub.where(variant=variant), f"channel_dist_h{h}")
            if len(ep):
                ax.semilogy(ep, m, marker=".", label=variant.replace("scale=", "initial scale "))
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        fmt = ScalarFormatter()
        fmt.set_scientific(False)
        ax.yaxis.set_major_formatter(fmt)
        ax.yaxis.set_minor_formatter(fmt if _decades(ax) < 1 else "")
        ax.set_title(rf"ARBP, hidden layer {h}")
        ax.set_ylabel(rf"$\|C_{{{h}}} - W_{{{h + 1}}}^T\| \,/\, \|C_{{{h}}}\|$")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3, which="both")
    _legend_below(fig, axes)
    fig.suptitle("channel asymmetry over training, by initial scale (log scale)")
    return fig


def _decades(ax) -> float:
    lo, hi = ax.get_ylim()
    return float(np.log10(hi / lo)) if lo > 0 and hi > 0 else 0.0


def save_figures(table: ResultsTable, directory: str | Path) -> list[Path]:
    """Write the figures that the table has data for as PNG files; their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    if _grid_variants(table):
        out.append(("learning_curves.png", learning_curves(table)))
        out.append(("alignment_angles.png", alignment_angles(table)))
    if any(r.get("rule") == "arbp" and _SCALE.match(str(r["variant"])) for r in table.rows):
        out.append(("arbp_symmetry.png", symmetry_over_training(table)))
    paths = []
    for name, fig in out:
        fig.savefig(directory / name, dpi=110)
        paths.append(directory / name)
    return paths
