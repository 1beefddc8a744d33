"""The tidy results table of the experiments: one row per run (rule, variant, seed, ...) and
epoch; saved as CSV or JSON and reloaded."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["ResultsTable", "Summary"]

#: Columns that identify a run, in display order; the rest are measurements.
KEYS = ("rule", "variant", "architecture", "init_scale", "seed", "epoch")
_INTS = {"seed", "epoch"}
_STRINGS = {"run", "rule", "variant", "architecture", "status"}


@dataclass(frozen=True)
class Summary:
    """A measurement at the last epoch, over the seeds of one (rule, variant): ``mean``,
    ``spread`` (the sample standard deviation; NaN for one seed), ``n`` seeds, how many of
    them diverged, and the 95% confidence interval of the mean (Student's t, NaN for one
    seed)."""

    rule: str
    variant: str
    architecture: str
    mean: float
    spread: float
    n: int
    diverged: int
    ci_low: float = math.nan
    ci_high: float = math.nan
    bits: float = math.nan


def _t_quantile(df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def _is_symmetry(variant: str) -> bool:
    return str(variant).startswith("scale=")


@dataclass(frozen=True, eq=False)
class ResultsTable:
    """Rows of measurements (dicts); :attr:`columns` in first-seen order."""

    rows: tuple[dict, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(dict(r) for r in self.rows))

    @classmethod
    def concat(cls, parts: Iterable[Sequence[dict]]) -> ResultsTable:
        return cls(tuple(r for p in parts for r in p))

    @property
    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for k in ("run", *KEYS):
            if any(k in r for r in self.rows):
                seen[k] = None
        for r in self.rows:
            for k in r:
                seen.setdefault(k, None)
        return list(seen)

    def column(self, name: str) -> np.ndarray:
        return np.array([r.get(name, math.nan) for r in self.rows])

    def where(self, **match) -> ResultsTable:
        """The rows whose entries equal every ``match`` value."""
        return ResultsTable(tuple(r for r in self.rows
                                  if all(r.get(k) == v for k, v in match.items())))

    def final(self) -> ResultsTable:
        """The last recorded epoch of every run."""
        last: dict[str, dict] = {}
        for r in self.rows:
            key = r.get("run")
            if key not in last or r["epoch"] >= last[key]["epoch"]:
                last[key] = r
        return ResultsTable(tuple(last.values()))

    def summary(self, metric: str = "test_acc") -> list[Summary]:
        """``metric`` at the last epoch: mean, spread and 95% interval over seeds, per
        (rule, variant), in the order the runs first appear."""
        groups: dict[tuple, list[dict]] = {}
        for r in self.final().rows:
            groups.setdefault((r["rule"], r["variant"]), []).append(r)
        out = []
        for (rule, variant), rows in groups.items():
            vals = np.array([r.get(metric, math.nan) for r in rows], dtype=float)
            bad = sum(r.get("status") == "diverged" for r in rows)
            ok = vals[np.isfinite(vals)]
            mean = float(ok.mean()) if ok.size else math.nan
            spread, lo, hi = math.nan, math.nan, math.nan
            if ok.size > 1:
                spread = float(ok.std(ddof=1))
                half = _t_quantile(ok.size - 1) * spread / math.sqrt(ok.size)
                lo, hi = mean - half, mean + half
            bits = float(rows[0].get("channel_bits", math.nan))
            out.append(Summary(rule, variant, rows[0].get("architecture", ""), mean, spread,
                               len(rows), bad, lo, hi, bits))
        return out

    def format_summary(self, metric: str = "test_acc") -> str:
        """A text table of :meth:`summary`, one line per (rule, variant): baselines first,
        then the rules, with how far each lies above the random-features baseline (it
        "learns" in its hidden layers when that exceeds the larger of the two spreads);
        the ARBP runs from several initial scales in a section of their own."""
        summ = self.summary(metric)
        grid = [x for x in summ if not _is_symmetry(x.variant)]
        grid.sort(key=lambda x: x.architecture != "baseline")
        rf = next((x for x in grid if x.rule == "random-features"), None)
        lin = next((x for x in grid if x.rule == "linear"), None)
        bits = any(math.isfinite(x.bits) for x in grid)
        vw = max([16] + [len(x.variant) + 2 for x in grid])  # long variants keep columns
        head = (f"{'rule':<16}{'variant':<{vw}}{'seeds':>5}{'mean':>8}{'spread':>8}"
                f"  {'95% interval':<17}" + (f"{'bits/sample':>12}" if bits else "")
                + "  vs random features")
        lines = [f"final {metric} over seeds: mean, spread (sample s.d.), 95% t-interval",
                 head, "-" * len(head)]
        for x in grid:
            spread = f"{x.spread:.4f}" if math.isfinite(x.spread) else "-"
            ci = f"[{x.ci_low:.4f}, {x.ci_high:.4f}]" if math.isfinite(x.ci_low) else "-"
            variant = "-" if x.architecture == "baseline" else x.variant
            line = (f"{x.rule:<16}{variant:<{vw}}{x.n:>5}{x.mean:>8.4f}{spread:>8}  {ci:<17}"
                    + (f"{x.bits:>12.0f}" if bits and math.isfinite(x.bits) else
                       f"{'-':>12}" if bits else ""))
            line += "  " + _versus(x, rf)
            if lin is not None and x.architecture != "baseline":
                line += f"; vs linear {x.mean - lin.mean:+.4f}"
            if x.diverged:
                line += f" ({x.diverged} diverged)"
            lines.append(line.rstrip())
        sym = [x for x in summ if _is_symmetry(x.variant)]
        if sym:
            lines += ["", "ARBP from initial scales (channel symmetry, figure arbp_symmetry):"]
            final = self.final()
            for x in sym:
                rows = final.where(rule=x.rule, variant=x.variant).rows
                dist = sorted(k for k in rows[0] if k.startswith("channel_dist_h"))
                rho = ", ".join(f"{k[-2:]} {np.nanmean([r[k] for r in rows]):.3f}"
                                for k in dist)
                lines.append(f"  {x.variant:<12} seeds {x.n}: {metric} {x.mean:.4f}; final "
                             f"||C_h - W_(h+1)^T|| / ||C_h||: {rho}")
        return "\n".join(lines)

    # -- files ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``.csv`` or ``.json`` (by the suffix)."""
        path = Path(path)
        if path.suffix not in (".json", ".csv"):
            raise DataError(f"results are saved as .csv or .json, got {str(path)!r}")
        # atomically (a temporary file, then os.replace): two grids writing the same
        # directory at once leave one whole table, never an interleaving of both
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        try:
            if path.suffix == ".json":
                tmp.write_text(json.dumps([_jsonable(r) for r in self.rows], indent=1))
            else:
                cols = self.columns
                with open(tmp, "w", newline="") as fh:
                    w = csv.DictWriter(fh, fieldnames=cols)
                    w.writeheader()
                    for r in self.rows:
                        w.writerow({k: _text(r.get(k)) for k in cols})
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ResultsTable:
        """Read a table written by :meth:`save`."""
        path = Path(path)
        try:
            if path.suffix == ".json":
                rows = json.loads(path.read_text())
                if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                    raise DataError(f"{path}: expected a JSON list of rows")
                return cls(tuple({k: _parse(k, v) for k, v in r.items()} for r in rows))
            if path.suffix == ".csv":
                with open(path, newline="") as fh:
                    return cls(tuple({k: _parse(k, v) for k, v in r.items() if v != ""}
                                     for r in csv.DictReader(fh)))
        except (OSError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(f"cannot read results {str(path)!r}: {exc}") from None
        raise DataError(f"results are read from .csv or .json, got {str(path)!r}")

    @staticmethod
    def load_rows(rows: list[dict]) -> list[dict]:
        """Rows read back from JSON (``null`` -> NaN, integer columns as ints)."""
        return [{k: _parse(k, v) for k, v in r.items()} for r in rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"<ResultsTable {len(self.rows)} rows, {len(self.columns)} columns>"


def _text(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return v


def _jsonable(r: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else
                v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}


def _parse(key: str, v):
    if key in _STRINGS:
        return v
    if v is None:
        return math.nan
    if key in _INTS:
        return int(v)
    return float(v)


def _versus(x: Summary, rf: Summary | None) -> str:
    """How far ``x`` lies above the random-features baseline, and whether that exceeds the
    larger spread of the two."""
    if x.architecture == "baseline" or rf is None:
        return "baseline" if x.architecture == "baseline" else ""
    gap = x.mean - rf.mean
    spread = max(x.spread, rf.spread)
    if not math.isfinite(spread):
        return f"{gap:+.4f} (1 seed: no spread to judge by)"
    return f"{gap:+.4f}: " + ("learns" if gap > spread else f"not above the spread {spread:.4f}")
