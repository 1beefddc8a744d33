"""The tidy results table of the experiments: one row per run (rule, variant, seed, ...) and
epoch; saved as CSV or JSON and reloaded."""

from __future__ import annotations

import csv
import json
import math
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
    ``spread`` (the sample standard deviation; 0 for one seed), ``n`` seeds, and how many of
    them diverged."""

    rule: str
    variant: str
    architecture: str
    mean: float
    spread: float
    n: int
    diverged: int


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
        """``metric`` at the last epoch, mean and spread over seeds, per (rule, variant), in
        the order the runs first appear."""
        groups: dict[tuple, list[dict]] = {}
        for r in self.final().rows:
            groups.setdefault((r["rule"], r["variant"]), []).append(r)
        out = []
        for (rule, variant), rows in groups.items():
            vals = np.array([r.get(metric, math.nan) for r in rows], dtype=float)
            bad = sum(r.get("status") == "diverged" for r in rows)
            ok = vals[np.isfinite(vals)]
            mean = float(ok.mean()) if ok.size else math.nan
            spread = float(ok.std(ddof=1)) if ok.size > 1 else 0.0
            out.append(Summary(rule, variant, rows[0].get("architecture", ""), mean, spread,
                               len(rows), bad))
        return out

    def format_summary(self, metric: str = "test_acc") -> str:
        """A text table of :meth:`summary`: rules as rows, variants as columns."""
        summ = self.summary(metric)
        rules = list(dict.fromkeys(s.rule for s in summ))
        variants = list(dict.fromkeys(s.variant for s in summ))
        cell = {(s.rule, s.variant): s for s in summ}
        width = max(14, *(len(v) + 2 for v in variants))
        head = f"{'rule':<8}" + "".join(f"{v:>{width}}" for v in variants)
        lines = [f"final {metric}: mean ± spread over seeds", head, "-" * len(head)]
        for rule in rules:
            line = f"{rule:<8}"
            for v in variants:
                s = cell.get((rule, v))
                if s is None:
                    text = "-"
                else:
                    text = f"{s.mean:.3f} ± {s.spread:.3f}"
                    if s.diverged:
                        text += f" ({s.diverged} div)"
                line += f"{text:>{width}}"
            lines.append(line)
        return "\n".join(lines)

    # -- files ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``.csv`` or ``.json`` (by the suffix)."""
        path = Path(path)
        if path.suffix == ".json":
            path.write_text(json.dumps([_jsonable(r) for r in self.rows], indent=1))
        elif path.suffix == ".csv":
            cols = self.columns
            with open(path, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=cols)
                w.writeheader()
                for r in self.rows:
                    w.writerow({k: _text(r.get(k)) for k in cols})
        else:
            raise DataError(f"results are saved as .csv or .json, got {str(path)!r}")
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
