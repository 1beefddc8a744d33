"""The hypothesis profile is deterministic by default (issue 13): a fresh clone draws what
CI drew."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st


def test_quick_profile_is_derandomized() -> None:
    if os.environ.get("SYMDYN_SLOW") == "1":
        assert settings().derandomize is False
    else:
        assert settings().derandomize is True
        assert settings().database is None


def _draws() -> list[int]:
    seen: list[int] = []

    @given(st.integers(0, 2**62))
    def record(n: int) -> None:
        seen.append(n)

    record()
    return seen


def test_quick_profile_draws_the_same_examples_twice() -> None:
    if os.environ.get("SYMDYN_SLOW") == "1":
        return
    assert _draws() == _draws()
