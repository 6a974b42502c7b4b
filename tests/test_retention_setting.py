"""PATHWAY_RETENTION_DAYS: a whole number of days, or one line naming the variable (review of
issue 12: 0.5 was an internal error with exit 1)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pathway import settings
from pathway.privacy.erasure import DEFAULT_RETENTION
from pathway.settings import StateError


@pytest.mark.parametrize(("value", "days"), [("0", 0), ("30", 30), (" 1825 ", 1825)])
def test_whole_days(value: str, days: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATHWAY_RETENTION_DAYS", value)
    assert settings.retention() == timedelta(days=days)


def test_unset_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATHWAY_RETENTION_DAYS", raising=False)
    assert settings.retention() == DEFAULT_RETENTION == timedelta(days=1825)


@pytest.mark.parametrize("value", ["0.5", "-1", "ten", "1e3", "٣"])
def test_anything_else_is_one_line_naming_it(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATHWAY_RETENTION_DAYS", value)
    with pytest.raises(StateError, match="PATHWAY_RETENTION_DAYS is not a whole number") as err:
        settings.retention()
    assert "\n" not in str(err.value) and value not in str(err.value)
