"""Learning rules: small final classes of data. A new rule subclasses
:class:`LearningRule` and never touches the derivation engine."""

from __future__ import annotations

from dataclasses import fields

from ..errors import SpecError
from ..spec import as_activation, as_scalar
from ._base import LearningRule, Signals
from ._networks import CHANNEL_NETWORKS, DistinctChannel, TwinChannel
from ._rules import ARBP, ASRBP, BP, RBP, SRBP, SignSymmetry

__all__ = ["LearningRule", "Signals", "BP", "RBP", "SRBP", "ARBP", "ASRBP", "SignSymmetry",
           "TwinChannel", "DistinctChannel", "CHANNEL_NETWORKS", "RULES", "as_rule"]

#: Every rule by its short name.
RULES: dict[str, type[LearningRule]] = {r.name: r for r in (BP, RBP, SRBP, ARBP, ASRBP,
                                                              SignSymmetry)}


def _normal(name: str, value):
    """Options in canonical form, so that ``"1"``, ``1`` and ``1.0`` compare equal."""
    if name in ("rate", "decay", "rate_ratio"):
        return as_scalar(name, value, allow_zero=name != "rate")
    if name == "channel_activation":
        return as_activation(value)
    return value


def as_rule(rule: LearningRule | str, **options) -> LearningRule:
    """A rule from its name (``"rbp"``) and options, or a rule object.

    Options given here must be left at their defaults when ``rule`` is already an object
    (set them on the object instead), so that no option is silently overridden."""
    options = {k: _normal(k, v) for k, v in options.items()}
    if isinstance(rule, LearningRule):
        defaults = {f.name: _normal(f.name, f.default) for f in fields(type(rule))}
        clash = {k: v for k, v in options.items() if k in defaults and v != defaults[k]}
        # rate_ratio at its neutral value 1 is what derive() passes for every rule
        unknown = sorted(k for k in options if k not in defaults
                         and not (k == "rate_ratio" and options[k] == 1))
        if unknown:
            raise SpecError(f"rule {rule.name!r} has no option {unknown[0]!r}")
        if clash:
            k = next(iter(clash))
            raise SpecError(
                f"option {k}={clash[k]!r} given beside a {type(rule).__name__} object; set it "
                f"on the object instead: {type(rule).__name__}({k}=...)"
            )
        return rule
    if not isinstance(rule, str):
        raise SpecError(f"a rule is a name ({', '.join(RULES)}) or a LearningRule, got {rule!r}")
    try:
        cls = RULES[rule.strip().lower()]
    except KeyError:
        raise SpecError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}") from None
    names = {f.name for f in fields(cls)}
    if "rate_ratio" not in names and options.get("rate_ratio", 1) != 1:
        raise SpecError(
            f"rate_ratio={options['rate_ratio']!r} applies to adaptive rules (arbp, asrbp) "
            f"only, not {cls.name}"
        )
    return cls(**{k: v for k, v in options.items() if k in names})
