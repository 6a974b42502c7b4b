"""``python -m bench.gateway_split`` keeps working: one case each way on a real dev server, and
every figure counts the seven events after the opening (docs/performance.md, "What remains")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import pathway.gateway.context as gateway_context
import pathway.gateway.routes.cases as gateway_cases
from bench import gateway_split
from pathway.clients import cases as client_cases


@pytest.mark.parametrize(("cases", "senders"), [(1, 1), (2, 2)])
def test_each_way_times_each_call_of_the_gateway(
    cases: int, senders: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sequential and concurrent: every figure has one sample per event after the opening,
    printed and written to ``--out`` with the commit measured."""
    out_file = tmp_path / "split.json"
    argv = ["--cases", str(cases), "--senders", str(senders), "--out", str(out_file)]
    assert gateway_split.main(argv) == 0
    out = capsys.readouterr().out
    figures = dict(re.findall(r"^  (.+?)\s+p50\s+[\d.]+\s+mean\s+[\d.]+\s+n (\d+)$", out, re.M))
    names = [
        "the HTTP acknowledgement",
        "the standing query in it",
        "the update in it",
        "the client path's acknowledgement",
    ]
    assert figures == dict.fromkeys(names, str(7 * cases)), out
    report = json.loads(out_file.read_text())
    assert (report["cases"], report["senders"]) == (cases, senders)
    assert {name: len(ms) for name, ms in report["samples_ms"].items()} == dict.fromkeys(
        names, 7 * cases
    )
    assert set(report["p50_ms"]) == set(names)
    assert len(report["commit"]) == 40
    # The gateway's calls are its own again: no test after this one runs them timed.
    assert gateway_context.case_standing is client_cases.case_standing  # type: ignore[attr-defined]
    assert gateway_cases.record_event is client_cases.record_event  # type: ignore[attr-defined]


@pytest.mark.parametrize("flag", ["--cases", "--senders"])
def test_counts_not_above_zero_are_a_usage_error(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        gateway_split.main([flag, "0"])
    assert stopped.value.code == 2
    assert f"argument {flag}: 0 is not above 0" in capsys.readouterr().err
