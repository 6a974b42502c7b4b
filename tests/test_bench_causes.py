"""``python -m bench.causes`` keeps working: one small round in memory, every side measured
from its own worker process, and the side without upserts really has none
(docs/performance.md, "What remains")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import causes


def test_one_round_measures_every_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each side's phase counts its own cases' workflow tasks and upserts; the table and the
    JSON (with the commit measured) carry every figure."""
    out_file = tmp_path / "causes.json"
    argv = ["--modes", "memory", "--cases", "1", "--concurrency", "1", "--rounds", "1"]
    assert causes.main([*argv, "--idle", "0.5", "--out", str(out_file)]) == 0
    out = capsys.readouterr().out
    for figure in causes.FIGURES:
        assert figure in out
    report = json.loads(out_file.read_text())
    assert len(report["commit"]) == 40
    phases = {phase["side"]: phase for phase in report["phases"]}
    assert set(phases) == set(causes.SIDES)
    for phase in phases.values():
        assert phase["workflow_tasks_per_case"] >= 8  # eight updates, at least a task each
        assert phase["worker_cpu_ms_per_case"] > 0
        assert phase["ack_ms_p50"] > 0
        assert phase["events_sent_again"] >= 0
        assert phase["workflow_tasks_timed_out"] >= 0
        # The worker's SDK counted (at least) every task its histories record: the counters
        # were read. (Its status queries too, as a rule; on a busy machine one can be counted
        # after the tool stops waiting for the counters: docs/performance.md, "the counters'
        # edge".)
        assert phase["settle_queries_per_case"] >= 1
        assert phase["sdk_executed_tasks_per_case"] >= phase["workflow_tasks_per_case"]
    assert phases["pathway"]["upserts_per_case"] > 0
    assert phases["pathway-no-upserts"]["upserts_per_case"] == 0
    assert phases["bare"]["upserts_per_case"] == 0
    # A new Pathway run records one patch marker, and sdk-core one TemporalChangeVersion upsert
    # with it (one-marker-for-earlier-patches; before it, 14 of each).
    for side in ("pathway", "pathway-no-upserts"):
        assert phases[side]["version_upserts_per_case"] == 1
        assert phases[side]["markers_per_case"] == 1
    assert phases["bare"]["version_upserts_per_case"] == 0


def test_sides_can_be_chosen_but_pathway_and_bare_are_needed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        causes.main(["--sides", "pathway"])
    assert stopped.value.code == 2
    assert "pathway and bare among them" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        causes.main(["--sides", "pathway,bare,nobody"])


@pytest.mark.parametrize("flag", ["--cases", "--concurrency", "--rounds"])
def test_counts_not_above_zero_are_a_usage_error(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        causes.main([flag, "0"])
    assert stopped.value.code == 2
    assert f"argument {flag}: 0 is not above 0" in capsys.readouterr().err
