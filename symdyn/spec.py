"""Specs of what is derived: activations, networks and data. Frozen values, validated on
construction, hashable so that derivations cache."""

from __future__ import annotations

import hashlib
import keyword
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import sympy as sp

from .errors import DataError, SpecError

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Network",
    "Moments",
    "Dataset",
    "Data",
    "as_activation",
    "as_network",
    "as_data",
    "as_scalar",
    "read_npz",
]

_x = sp.Symbol("x")


@dataclass(frozen=True)
class Activation:
    r"""An element-wise activation :math:`f`, held as a sympy ``Lambda``."""

    name: str
    function: sp.Lambda

    def __post_init__(self) -> None:
        if not isinstance(self.function, sp.Lambda) or len(self.function.variables) != 1:
            raise SpecError(
                f"activation {self.name!r}: expected a one-variable sympy Lambda, "
                f"got {self.function!r}"
            )

    def __call__(self, arg: sp.Expr) -> sp.Expr:
        return self.function(arg)

    @cached_property
    def derivative(self) -> sp.Lambda:
        """:math:`f'` as a ``Lambda`` (relu gives ``Heaviside``)."""
        (v,) = self.function.variables
        return sp.Lambda(v, sp.diff(self.function.expr, v))

    @cached_property
    def slope(self) -> sp.Expr | None:
        """``k`` when :math:`f(x) = kx` (a linear map, so moments suffice), else ``None``."""
        (v,) = self.function.variables
        d = sp.simplify(self.derivative.expr)
        if v in d.free_symbols or sp.simplify(self.function.expr.subs(v, 0)) != 0:
            return None
        return d

    @property
    def is_linear(self) -> bool:
        return self.slope is not None

    def __str__(self) -> str:
        return self.name


def _user_activation(name: str, expr: sp.Expr) -> Activation:
    return Activation(name, sp.Lambda(_x, expr))


ACTIVATIONS: dict[str, Activation] = {
    "linear": _user_activation("linear", _x),
    "tanh": _user_activation("tanh", sp.tanh(_x)),
    "logistic": _user_activation("logistic", 1 / (1 + sp.exp(-_x))),
    "relu": _user_activation("relu", sp.Max(0, _x)),
    "softplus": _user_activation("softplus", sp.log(1 + sp.exp(_x))),
}


def as_activation(value: Activation | str | sp.Lambda | Callable | None) -> Activation:
    """An :class:`Activation` from a name in :data:`ACTIVATIONS`, a sympy ``Lambda`` or a
    one-argument callable on sympy expressions; ``None`` means linear."""
    if value is None:
        return ACTIVATIONS["linear"]
    if isinstance(value, Activation):
        return value
    if isinstance(value, str):
        try:
            return ACTIVATIONS[value.strip().lower()]
        except KeyError:
            raise SpecError(
                f"unknown activation {value!r}; choose one of {', '.join(ACTIVATIONS)} "
                "or pass a sympy Lambda"
            ) from None
    if isinstance(value, sp.Lambda):
        if len(value.variables) != 1:
            raise SpecError(f"activation Lambda must take one variable, got {value}")
        return Activation(str(value.expr), value)
    if callable(value):
        try:
            expr = sp.sympify(value(_x), strict=True)
        except Exception as exc:  # a user callable may fail in any way
            raise SpecError(
                f"activation callable {value!r} failed on a sympy symbol: {exc}"
            ) from exc
        if not isinstance(expr, sp.Expr):
            raise SpecError(f"activation callable {value!r} returned {expr!r}, not an expression")
        return Activation(getattr(value, "__name__", str(expr)), sp.Lambda(_x, expr))
    raise SpecError(f"cannot use {value!r} as an activation")


_ARCH = re.compile(r"^\s*[0-9]+(\s*-\s*[0-9]+)+\s*$", re.ASCII)

#: The widest layer a network may have (a matrix form this wide still derives in moments;
#: the component form has its own limit, :data:`symdyn.system.MAX_COMPONENT_TERMS`).
MAX_LAYER_SIZE = 1_000_000


@dataclass(frozen=True, kw_only=True)
class Network:
    """A layered network: ``sizes`` :math:`(n_0, \\dots, n_L)` and one activation per layer
    :math:`h = 1..L` (all linear by default)."""

    sizes: tuple[int, ...]
    activations: tuple[Activation, ...] = ()

    def __post_init__(self) -> None:
        sizes = self.sizes
        if isinstance(sizes, str) or not isinstance(sizes, Sequence):
            raise SpecError(f"network sizes must be a sequence of integers, got {sizes!r}")
        if len(sizes) < 2:
            raise SpecError(f"a network needs at least two layers (input, output), got {sizes!r}")
        for n in sizes:
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise SpecError(f"layer sizes must be positive integers, got {sizes!r}")
            if n > MAX_LAYER_SIZE:
                raise SpecError(f"layer size {n} is too large; at most {MAX_LAYER_SIZE:,} "
                                "units a layer")
        object.__setattr__(self, "sizes", tuple(int(n) for n in sizes))
        acts = self.activations
        if isinstance(acts, (str, Activation)) or not isinstance(acts, Sequence):
            acts = (acts,) * self.depth
        if len(acts) == 0:
            acts = (None,) * self.depth
        if len(acts) != self.depth:
            raise SpecError(
                f"network {self.arch}: {len(acts)} activations given for {self.depth} layers"
            )
        object.__setattr__(self, "activations", tuple(as_activation(a) for a in acts))

    @classmethod
    def parse(
        cls,
        arch: Network | str | Sequence[int],
        activation: Activation | str | sp.Lambda | Sequence | None = None,
    ) -> Network:
        """A network from ``"4-3-2"`` or ``(4, 3, 2)``. A single ``activation`` goes to the
        hidden layers (the output stays linear); a sequence gives one per layer."""
        if isinstance(arch, Network):
            net = arch
            if activation is None:
                return net
            sizes = net.sizes
        elif isinstance(arch, str):
            if not _ARCH.match(arch):
                raise SpecError(
                    f"architecture {arch!r} is not of the form '1-1-1' or '4-3-2' "
                    "(ASCII digits 0-9 separated by '-')"
                )
            sizes = tuple(int(s) for s in arch.split("-"))
        else:
            sizes = arch
        if activation is None:
            return cls(sizes=sizes)
        if isinstance(activation, Sequence) and not isinstance(activation, str):
            return cls(sizes=sizes, activations=tuple(activation))
        depth = len(sizes) - 1 if isinstance(sizes, Sequence) else 0
        return cls(sizes=sizes, activations=(activation,) * max(depth - 1, 0) + ("linear",))

    @property
    def depth(self) -> int:
        """:math:`L`, the number of weight layers."""
        return len(self.sizes) - 1

    @property
    def arch(self) -> str:
        return "-".join(map(str, self.sizes))

    @property
    def is_scalar_chain(self) -> bool:
        """All :math:`n_h = 1`: weights are named ``a1..aL``, ``c1..``, moments ``alpha, beta``."""
        return all(n == 1 for n in self.sizes)

    @property
    def is_linear(self) -> bool:
        return all(a.is_linear for a in self.activations)

    def __str__(self) -> str:
        acts = ",".join(a.name for a in self.activations)
        return f"{self.arch} ({acts})"


def as_network(arch: Network | str | Sequence[int], activation=None) -> Network:
    return Network.parse(arch, activation)


def _readonly(name: str, value, ndim: int) -> np.ndarray:
    raw = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if raw.dtype.kind not in "biuf":
        kind = {"c": "complex", "U": "string", "S": "bytes", "O": "object", "M": "datetime",
                "m": "timedelta", "V": "structured"}.get(raw.dtype.kind, str(raw.dtype))
        raise DataError(f"{name} must be a real numeric array, got a {kind} array "
                        f"(dtype {raw.dtype})")
    try:
        arr = np.array(raw, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be a numeric array, got {value!r}") from exc
    if arr.ndim == 1 and ndim == 2:
        arr = arr[:, None]
    if arr.ndim != ndim:
        raise DataError(f"{name} must be a {ndim}-d array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{name} has non-finite entries")
    arr.setflags(write=False)
    return arr


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha1()
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@dataclass(frozen=True, kw_only=True, eq=False)
class Moments:
    r"""Second moments :math:`\Sigma_{II} = E[I I^T]` and :math:`\Sigma_{TI} = E[T I^T]`.

    Both ``None`` (the default) means symbolic moments (``alpha``, ``beta`` for scalar
    chains); both arrays means numeric moments. Enough for linear networks only."""

    Sigma_II: np.ndarray | None = None
    Sigma_TI: np.ndarray | None = None

    def __post_init__(self) -> None:
        if (self.Sigma_II is None) != (self.Sigma_TI is None):
            raise DataError("give both Sigma_II and Sigma_TI, or neither (symbolic moments)")
        if self.Sigma_II is None:
            return
        sii = _readonly("Sigma_II", self.Sigma_II, 2)
        sti = _readonly("Sigma_TI", self.Sigma_TI, 2)
        if sii.shape[0] != sii.shape[1]:
            raise DataError(f"Sigma_II must be square, got shape {sii.shape}")
        if sti.shape[1] != sii.shape[0]:
            raise DataError(
                f"Sigma_TI has shape {sti.shape}; it needs {sii.shape[0]} columns to match "
                f"Sigma_II {sii.shape}"
            )
        scale = max(1.0, float(np.abs(sii).max()))
        if not np.allclose(sii, sii.T, atol=1e-12 * scale):
            raise DataError(f"Sigma_II must be symmetric, got {sii.tolist()}")
        if np.linalg.eigvalsh(sii).min() < -1e-10 * scale:
            raise DataError(f"Sigma_II must be positive semi-definite, got {sii.tolist()}")
        object.__setattr__(self, "Sigma_II", sii)
        object.__setattr__(self, "Sigma_TI", sti)

    @property
    def is_symbolic(self) -> bool:
        return self.Sigma_II is None

    def check(self, network: Network) -> None:
        if self.is_symbolic:
            return
        n0, nl = network.sizes[0], network.sizes[-1]
        if self.Sigma_II.shape != (n0, n0) or self.Sigma_TI.shape != (nl, n0):
            raise DataError(
                f"moments of shapes Sigma_II {self.Sigma_II.shape}, Sigma_TI "
                f"{self.Sigma_TI.shape} do not fit network {network.arch}: expected "
                f"({n0}, {n0}) and ({nl}, {n0})"
            )

    def _key(self):
        return None if self.is_symbolic else _digest(self.Sigma_II, self.Sigma_TI)

    def __eq__(self, other) -> bool:
        return isinstance(other, Moments) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(("Moments", self._key()))

    def __repr__(self) -> str:
        if self.is_symbolic:
            return "Moments()"
        return f"Moments(Sigma_II={self.Sigma_II.tolist()}, Sigma_TI={self.Sigma_TI.tolist()})"


@dataclass(frozen=True, kw_only=True, eq=False)
class Dataset:
    """A finite data set: ``X`` (N x n0) inputs and ``Y`` (N x nL) targets, one sample a
    row. The averaged ODE is the exact mean over its samples."""

    X: np.ndarray
    Y: np.ndarray

    def __post_init__(self) -> None:
        x = _readonly("X", self.X, 2)
        y = _readonly("Y", self.Y, 2)
        if x.shape[0] != y.shape[0]:
            raise DataError(f"X has {x.shape[0]} samples but Y has {y.shape[0]}")
        if x.shape[0] == 0:
            raise DataError("a data set needs at least one sample")
        object.__setattr__(self, "X", x)
        object.__setattr__(self, "Y", y)

    @classmethod
    def load(cls, path: str | Path) -> Dataset:
        """A data set from an ``.npz`` file with arrays ``X`` (N x n0) and ``Y`` (N x nL).
        Any unreadable file (missing, empty, not a zip, truncated, a ``.npy``, pickled
        objects) is a :class:`DataError` naming the file (see :func:`read_npz`)."""
        arrays = read_npz(path)
        missing = {"X", "Y"} - set(arrays)
        if missing:
            raise DataError(f"{path}: the .npz needs arrays X and Y; missing {sorted(missing)}")
        return cls(X=arrays["X"], Y=arrays["Y"])

    @property
    def size(self) -> int:
        return self.X.shape[0]

    def moments(self) -> Moments:
        """The empirical second moments of this data set."""
        n = self.size
        return Moments(Sigma_II=self.X.T @ self.X / n, Sigma_TI=self.Y.T @ self.X / n)

    def check(self, network: Network) -> None:
        n0, nl = network.sizes[0], network.sizes[-1]
        if self.X.shape[1] != n0 or self.Y.shape[1] != nl:
            raise DataError(
                f"data set with X {self.X.shape}, Y {self.Y.shape} does not fit network "
                f"{network.arch}: expected X (N, {n0}) and Y (N, {nl})"
            )

    def _key(self):
        return _digest(self.X, self.Y)

    def __eq__(self, other) -> bool:
        return isinstance(other, Dataset) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(("Dataset", self._key()))

    def __repr__(self) -> str:
        return f"Dataset(N={self.size}, n0={self.X.shape[1]}, nL={self.Y.shape[1]})"


Data = Moments | Dataset


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read without pickles and within bounds (a data file
    stays data; see :mod:`symdyn._files`). Any unreadable file is a :class:`DataError`
    naming the file and what was expected."""
    from ._files import read_npz as read

    return read(path)


def as_data(value) -> Data:
    """Moments or a data set from ``None`` (symbolic moments), a spec, a path to an ``.npz``,
    or a mapping with keys ``X, Y`` or ``Sigma_II, Sigma_TI``."""
    if value is None:
        return Moments()
    if isinstance(value, (Moments, Dataset)):
        return value
    if isinstance(value, (str, Path)):
        return Dataset.load(value)
    if isinstance(value, dict):
        keys = set(value)
        if keys == {"X", "Y"}:
            return Dataset(X=value["X"], Y=value["Y"])
        if keys == {"Sigma_II", "Sigma_TI"}:
            return Moments(Sigma_II=value["Sigma_II"], Sigma_TI=value["Sigma_TI"])
        raise DataError(
            f"data mapping needs keys X, Y (a data set) or Sigma_II, Sigma_TI (moments), "
            f"got {sorted(keys)}"
        )
    raise DataError(f"cannot use {value!r} as data: pass Moments, Dataset, a .npz path or None")


_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$", re.ASCII)

#: Names an option symbol may not take: sympy's special values and the parser's functions
#: and constants (a rate called ``nan`` or ``exp`` would not read back).
RESERVED_NAMES = frozenset({"nan", "NaN", "inf", "Inf", "infinity", "Infinity", "oo", "zoo",
                            "I", "E", "pi", "true", "false", "True", "False",
                            "None"})


def as_scalar(name: str, value, *, allow_zero: bool = True) -> sp.Expr:
    """A non-negative finite number or a symbol (from its name) for options such as the
    rate. A string is a symbol name or a number written as an expression (``1/10``,
    ``1e-3``), read by :func:`symdyn.expressions.parse_expression`."""
    from .expressions import FUNCTIONS, parse_expression

    if isinstance(value, sp.Symbol):
        text = value.name
        if text in RESERVED_NAMES or text in FUNCTIONS or not _NAME.match(text):
            raise SpecError(f"{name}: {text!r} cannot name a symbol (reserved or not an ASCII "
                            "identifier); choose another name, e.g. eta")
        return value
    if isinstance(value, str):
        text = value.strip()
        if _NAME.match(text) and not keyword.iskeyword(text):
            if text in RESERVED_NAMES or text in FUNCTIONS:
                raise SpecError(f"{name} must be a finite real number or a symbol name; "
                                f"{text!r} is reserved (a special value or a function), e.g. "
                                "use eta")
            return sp.Symbol(text)
        value = parse_expression(text, {}, what=f"{name} must be a number or a symbol name: ")
        if isinstance(value, sp.Float):
            value = float(value)
    if isinstance(value, bool):
        raise SpecError(f"{name} must be a number or a symbol name, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{name} must be a finite real number or a symbol name, got {value!r}")
    try:
        if isinstance(value, float):
            num = sp.nsimplify(value, rational=True)
        else:
            num = sp.sympify(value, strict=True)
    except (sp.SympifyError, TypeError, ValueError):
        raise SpecError(f"{name} must be a number or a symbol name, got {value!r}") from None
    if not getattr(num, "is_number", False) or not num.is_real or not num.is_finite:
        raise SpecError(f"{name} must be a finite real number or a symbol name, got {value!r}")
    if not math.isfinite(float(num)):
        raise SpecError(f"{name} = {value!r} is beyond floating point (about 1.8e308); give a "
                        "finite number")
    if num < 0 or (num == 0 and not allow_zero):
        bound = "non-negative" if allow_zero else "positive"
        raise SpecError(f"{name} must be {bound}, got {value!r}")
    return num
