"""Errors raised by symdyn: one small hierarchy, each message says what to do."""

from __future__ import annotations

__all__ = ["SymdynError", "SpecError", "ExpressionError", "DataError", "DerivationError",
           "AnalysisError", "MissingValueError"]


class SymdynError(Exception):
    """Base class of every error symdyn raises on purpose."""


class SpecError(SymdynError, ValueError):
    """A network, rule or option is invalid; the message shows the offending value."""


class MissingValueError(SpecError):
    """Numbers are needed for parameters that were given none. ``missing``: their names as
    ``values`` takes them (a matrix by name, a 1x1 matrix by its component); ``example``: the
    first of them, and ``component``: one scalar component of it (what the command line
    takes); ``parameters``: every parameter of the system. The message is in Python terms;
    :meth:`cli_message` says the same in command-line terms."""

    def __init__(self, missing: list[str], example: str, component: str, parameters: str):
        self.missing, self.example, self.component = missing, example, component
        self.parameters = parameters
        super().__init__(f"missing value for parameter {', '.join(missing)}; pass it in "
                         f"values, e.g. values={{{example!r}: ...}} (parameters of this "
                         f"system: {parameters})")

    def cli_message(self) -> str:
        channels = any(m[0] in "Cc" and m[1:2].isdigit() for m in self.missing)
        return (f"missing value for parameter {', '.join(self.missing)}; give it with "
                f"--values {self.component}=..."
                + (" or draw the channels with --random-channels" if channels else "")
                + f" (`symdyn params` lists them; parameters: {self.parameters})")


class ExpressionError(SpecError):
    """A string given as an expression is not one symdyn accepts (unknown name, forbidden
    syntax, too large); the message shows the text and what is allowed."""


class DataError(SpecError):
    """Data (moments or a finite data set) is invalid or does not fit the network."""


class DerivationError(SymdynError):
    """The requested system cannot be derived from the given specs (e.g. a non-linear
    average asked for with moments only)."""


class AnalysisError(SymdynError):
    """An analysis was asked of a system it does not apply to."""


def require_system(value, what: str = "system", values=None) -> None:
    """Refuse anything but a learning system (a :class:`~symdyn.LearningSystem`, or an
    object with its ``state``, ``rhs``, ``parameters`` and ``network``) with a
    :class:`SpecError`, before an ``AttributeError`` deep inside would; and ``values`` that
    are neither ``None`` nor a mapping (:func:`require_mapping`)."""
    import inspect

    def has(name: str) -> bool:  # without evaluating a property (rhs builds components)
        try:
            inspect.getattr_static(value, name)
        except AttributeError:
            return False
        return True

    if not all(has(a) for a in ("state", "rhs", "parameters", "network")):
        raise SpecError(f"{what} must be a LearningSystem (from symdyn.derive), got "
                        f"{type(value).__name__} {_short(value)}")
    require_mapping(values, f"{what.split(':')[0]}: values")


def require_mapping(value, what: str) -> None:
    """Refuse anything but ``None`` or a mapping (e.g. ``values``) with a :class:`SpecError`."""
    from collections.abc import Mapping

    if value is not None and not isinstance(value, Mapping):
        raise SpecError(f"{what} must be a mapping of names to numbers (a dict), got "
                        f"{type(value).__name__} {_short(value)}")


def require_path(value, what: str) -> None:
    """Refuse anything but a path (``str`` or ``os.PathLike``) with a :class:`DataError`."""
    import os

    if isinstance(value, bytes) or not isinstance(value, str | os.PathLike):
        raise DataError(f"{what} must be a path (str or pathlib.Path), got "
                        f"{type(value).__name__} {_short(value)}")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:50] + "..."
