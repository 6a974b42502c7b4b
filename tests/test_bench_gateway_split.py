"""``python -m bench.gateway_split`` keeps working: one case each way on a real dev server, and
every figure counts the seven events after the opening (docs/performance.md, "What remains")."""

from __future__ import annotations

import re

import pytest

import pathway.gateway.context as gateway_context
import pathway.gateway.routes.cases as gateway_cases
from bench import gateway_split
from pathway.clients import cases


def test_one_case_each_way_times_each_call_of_the_gateway(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert gateway_split.main(["--cases", "1"]) == 0
    out = capsys.readouterr().out
    figures = dict(re.findall(r"^  (.+?)\s+p50\s+[\d.]+\s+mean\s+[\d.]+\s+n (\d+)$", out, re.M))
    assert figures == {
        "the HTTP acknowledgement": "7",
        "the standing query in it": "7",
        "the update in it": "7",
        "the client path's acknowledgement": "7",
    }, out
    # The gateway's calls are its own again: no test after this one runs them timed.
    assert gateway_context.case_standing is cases.case_standing  # type: ignore[attr-defined]
    assert gateway_cases.record_event is cases.record_event  # type: ignore[attr-defined]


def test_cases_not_above_zero_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        gateway_split.main(["--cases", "0"])
    assert stopped.value.code == 2
    assert "argument --cases: 0 is not above 0" in capsys.readouterr().err
