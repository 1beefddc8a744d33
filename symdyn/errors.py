"""Errors raised by symdyn: one small hierarchy, each message says what to do."""

from __future__ import annotations

__all__ = ["SymdynError", "SpecError", "DataError", "DerivationError", "AnalysisError"]


class SymdynError(Exception):
    """Base class of every error symdyn raises on purpose."""


class SpecError(SymdynError, ValueError):
    """A network, rule or option is invalid; the message shows the offending value."""


class DataError(SpecError):
    """Data (moments or a finite data set) is invalid or does not fit the network."""


class DerivationError(SymdynError):
    """The requested system cannot be derived from the given specs (e.g. a non-linear
    average asked for with moments only)."""


class AnalysisError(SymdynError):
    """An analysis was asked of a system it does not apply to."""
