r"""The spec of a sweep: a small TOML file or a mapping, validated into a frozen value.

A key with a list value is an *axis* (a grid over it); a scalar value is fixed. Keys:

* system (derived once per cell): ``arch`` (``"1-1-1-1"``) or ``depth`` (a scalar chain of
  that many weight layers), ``rule``, ``rate_ratio``, ``decay``, ``activation``,
  ``channel_activation``, ``derivative``;
* starts: ``scale`` (initial weights i.i.d. :math:`\mathcal N(0, s^2)`), ``starts`` per
  cell, ``seed``;
* integration and classification: ``t_final``, ``tail``, ``samples`` and ``fine`` (points
  of the two passes of :func:`~symdyn.numerics.classify`), ``tol``, ``rtol``,
  ``atol``, ``certify`` (periodic rows per chunk to certify), ``chunk`` (rows per task);
* anything else is a parameter value (``alpha``, ``beta``, ``c1``, ...), a number.

A ``[random]`` table draws cells at random instead of a grid: ``cells = N`` and, per key,
``[lo, hi]`` (uniform) or ``[lo, hi, "log"]`` (log-uniform); its draws come from the spec's
hash, so the same spec gives the same cells.

Values are parsed without ``eval``: numbers with ``float()``, names (rules, activations)
from whitelists, architectures by :meth:`~symdyn.Network.parse`. The identity of a sweep is
the SHA-256 of its canonical JSON (sorted keys, numbers as floats)."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SpecError

__all__ = ["SweepSpec", "load_spec", "DERIVE_KEYS", "RUN_DEFAULTS"]

DERIVE_KEYS = ("arch", "depth", "rule", "rate_ratio", "decay", "activation",
               "channel_activation", "derivative")
#: run settings and their defaults (``chunk = 0``: chosen from the state size)
RUN_DEFAULTS: dict[str, float | int] = {
    "starts": 100, "seed": 0, "scale": 0.1, "t_final": 2000.0, "tail": 1000.0,
    "samples": 200, "fine": 4000, "tol": 1e-8, "rtol": 1e-8, "atol": 1e-10, "certify": 2,
    "chunk": 0}
_INTS = ("starts", "seed", "samples", "fine", "certify", "chunk", "depth")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ARCH = re.compile(r"^\d+(-\d+)+$")


#: the names of :data:`symdyn.RULES`, written here so that a spec is checked (and refused
#: past its limits) without importing sympy; tests/test_sweep.py checks that they agree
RULE_NAMES = ("bp", "rbp", "srbp", "arbp", "asrbp", "sign")


def _rules() -> tuple[str, ...]:
    return RULE_NAMES


def _activations() -> tuple[str, ...]:
    from ..spec import ACTIVATIONS

    return tuple(ACTIVATIONS)


def _number(key: str, value) -> float:
    if isinstance(value, bool):
        raise SpecError(f"sweep: {key} must be a number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"sweep: {key} must be a number, got {value!r}") from None
    if not np.isfinite(out):
        raise SpecError(f"sweep: {key} must be finite, got {value!r}")
    return out


def _value(key: str, value):
    """One value of ``key``, canonical: a float, an int, a bool or a whitelisted name."""
    if key == "rule":
        name = str(value).strip().lower()
        if name not in _rules():
            raise SpecError(f"sweep: rule must be one of {', '.join(_rules())}, got {value!r}")
        return name
    if key in ("activation", "channel_activation"):
        name = str(value).strip().lower()
        if name not in _activations():
            raise SpecError(f"sweep: {key} must be one of {', '.join(_activations())}, got "
                            f"{value!r}")
        return name
    if key == "arch":
        text = str(value).strip()
        if not _ARCH.match(text):
            raise SpecError(f"sweep: arch must look like 1-1-1 or 4-3-2, got {value!r}")
        return text
    if key == "derivative":
        if not isinstance(value, bool):
            raise SpecError(f"sweep: derivative must be true or false, got {value!r}")
        return value
    if not _NAME.match(key):
        raise SpecError(f"sweep: {key!r} is not a valid parameter name")
    number = _number(key, value)
    if key in _INTS:
        if number != int(number) or number < 0:
            raise SpecError(f"sweep: {key} must be a non-negative integer, got {value!r}")
        return int(number)
    return number


def _random_table(table: Mapping) -> dict:
    out = {}
    for key, rng in table.items():
        if key == "cells":
            out[key] = _value("starts", rng)
            continue
        if key in ("rule", "arch", "activation", "channel_activation", "derivative") or \
                key in _INTS:
            raise SpecError(f"sweep: {key} cannot be drawn at random (give it as a list)")
        if not isinstance(rng, list) or len(rng) not in (2, 3) or \
                (len(rng) == 3 and rng[2] not in ("log", "linear")):
            raise SpecError(f"sweep: random {key} must be [lo, hi] or [lo, hi, \"log\"], "
                            f"got {rng!r}")
        lo, hi = _number(key, rng[0]), _number(key, rng[1])
        log = len(rng) == 3 and rng[2] == "log"
        if not lo < hi or (log and lo <= 0):
            raise SpecError(f"sweep: random {key} needs lo < hi (and lo > 0 for log), got "
                            f"{rng!r}")
        _value(key, lo)
        out[key] = [lo, hi, "log" if log else "linear"]
    if "cells" not in out or out["cells"] < 1:
        raise SpecError("sweep: a [random] table needs cells = N (N >= 1)")
    return out


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: ``fixed`` settings, grid ``axes`` (name -> values), an optional
    ``random`` table; :attr:`cells` lists every cell's full settings."""

    fixed: dict
    axes: dict
    random: dict

    @classmethod
    def from_mapping(cls, raw: Mapping) -> SweepSpec:
        if not isinstance(raw, Mapping):
            raise SpecError(f"sweep: the spec must be a table, got {type(raw).__name__}")
        fixed, axes, random = {}, {}, {}
        for key, value in raw.items():
            if key == "random":
                if not isinstance(value, Mapping):
                    raise SpecError("sweep: [random] must be a table")
                random = _random_table(value)
            elif isinstance(value, list):
                if not value:
                    raise SpecError(f"sweep: axis {key} has no values")
                vals = [_value(key, v) for v in value]
                if len(set(map(repr, vals))) != len(vals):
                    raise SpecError(f"sweep: axis {key} repeats a value: {value!r}")
                axes[key] = vals
            elif isinstance(value, Mapping):
                raise SpecError(f"sweep: unknown table [{key}]")
            else:
                fixed[key] = _value(key, value)
        clash = set(random) & (set(fixed) | set(axes))
        if clash:
            raise SpecError(f"sweep: {', '.join(sorted(clash))} both fixed/grid and random")
        names = set(fixed) | set(axes)
        if "arch" in names and "depth" in names:
            raise SpecError("sweep: give arch or depth, not both")
        if not {"arch", "depth"} & names:
            raise SpecError("sweep: the spec needs arch or depth")
        if "rule" not in names:
            raise SpecError("sweep: the spec needs a rule")
        for k in ("starts", "samples"):
            if k in names and min(axes.get(k, [fixed.get(k, 1)])) < 1:
                raise SpecError(f"sweep: {k} must be at least 1")
        return cls(fixed=fixed, axes=axes, random=random)

    def canonical(self) -> dict:
        return {"fixed": dict(sorted(self.fixed.items())), "axes": dict(sorted(self.axes.items())),
                "random": dict(sorted(self.random.items()))}

    @property
    def identity(self) -> str:
        """SHA-256 (hex, 16 digits) of the canonical JSON."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.axes)) + tuple(sorted(k for k in self.random if k != "cells"))

    @property
    def cells(self) -> list[dict]:
        base = {**RUN_DEFAULTS, **self.fixed}
        names = sorted(self.axes)
        grid = [dict(zip(names, combo)) for combo in
                itertools.product(*(self.axes[k] for k in names))] or [{}]
        if not self.random:
            return [{**base, **g} for g in grid]
        rng = np.random.default_rng(np.random.SeedSequence(int(self.identity, 16)))
        out = []
        for g in grid:
            for _ in range(self.random["cells"]):
                draw = {}
                for k in sorted(self.random):
                    if k == "cells":
                        continue
                    lo, hi, kind = self.random[k]
                    u = rng.random()
                    draw[k] = float(np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
                                    if kind == "log" else lo + u * (hi - lo))
                out.append({**base, **g, **draw})
        return out


def load_spec(source) -> SweepSpec:
    """A :class:`SweepSpec` from a mapping or a TOML file path."""
    if isinstance(source, SweepSpec):
        return source
    if isinstance(source, Mapping):
        return SweepSpec.from_mapping(source)
    if isinstance(source, bytes) or not isinstance(source, str | os.PathLike):
        raise SpecError(f"sweep: the spec must be a SweepSpec, a mapping or a TOML path, got "
                        f"{type(source).__name__}")
    path = Path(source)
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise SpecError(f"sweep: cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else \
            "not UTF-8" if isinstance(exc, UnicodeDecodeError) else exc
        raise SpecError(f"sweep: {path} is not valid TOML: {why}") from None
    return SweepSpec.from_mapping(raw)
