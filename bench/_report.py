"""The figures of a run: Pathway, bare and their ratio, as one table and as JSON."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from bench._run import SIDES, Results, Round

#: Issue 14's targets for the ratio Pathway/bare: (">=" or "<=", bound). Figures without one
#: are measured for the record.
TARGETS: Final[dict[str, tuple[str, float]]] = {
    "cases_per_s": (">=", 0.9),
    "events_per_s": (">=", 0.9),
    "cpu_ms_per_case_worker": ("<=", 1.2),
    "cpu_ms_per_case_all": ("<=", 1.15),
    "ack_ms_client_seq_p50": ("<=", 1.1),
    "ack_ms_client_concurrent_p50": ("<=", 1.1),
    "ack_ms_gateway_seq_p50": ("<=", 1.5),
    "ack_ms_gateway_concurrent_p50": ("<=", 1.5),
    "replay_events_per_s": (">=", 0.8),
    "rss_kib_per_cached_case": ("<=", 1.5),
    "history_bytes_per_case": ("<=", 1.5),
    "payload_bytes_per_case": ("<=", 2.0),
}

PROCESSES: Final = ("worker", "server", "client")


def figure_names() -> list[str]:
    """Every figure a run reports (per mode for the first group, once for the rest)."""
    names = ["cases_per_s", "events_per_s"]
    names += [f"cpu_ms_per_case_{p}" for p in (*PROCESSES, "all")]
    names.append("cpu_ms_per_event_http")  # with the gateway phases (not --no-gateway)
    for path in ("client", "gateway"):
        for how in ("seq", "concurrent"):
            names += [f"ack_ms_{path}_{how}_p{p}" for p in (50, 95, 99)]
    return names


ONCE: Final = (
    "replay_events_per_s",
    "rss_kib_per_cached_case",
    "open_ms_per_cached_case",
    "worker_cpu_ms_per_opened_case",
    "history_events_per_case",
    "history_bytes_per_case",
    "payload_bytes_per_case",
    "updates_per_case",
    "activities_per_case",
    "timers_per_case",
)


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile of ``values`` by nearest rank: the smallest value with at least
    ``p`` % of the values at or below it (rank ``ceil(p / 100 * n)``, at least 1)."""
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[max(0, min(len(ordered) - 1, rank - 1))]


def _ratio_text(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}"


@dataclass(frozen=True)
class Figure:
    name: str
    mode: str
    pathway: float
    bare: float

    @property
    def ratio(self) -> float | None:
        """Pathway / bare; None when bare's figure is not above 0 (a smoke run's RSS growth
        can be negative: no ratio means anything then)."""
        return self.pathway / self.bare if self.bare > 0 else None

    def target(self) -> str:
        bound = TARGETS.get(self.name)
        return f"{bound[0]} {bound[1]:g}" if bound else ""


def _per_mode(rounds: list[Round], mode: str, name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    mine = [r for r in rounds if r.mode == mode and r.side == name]
    cases = sum(r.cases for r in mine)
    seconds = sum(r.seconds for r in mine)
    out["cases_per_s"] = cases / seconds
    out["events_per_s"] = out["cases_per_s"] * 8
    for process in PROCESSES:
        spent = sum(r.cpu_seconds[process] for r in mine)
        out[f"cpu_ms_per_case_{process}"] = 1000 * spent / cases
    out["cpu_ms_per_case_all"] = sum(out[f"cpu_ms_per_case_{p}"] for p in PROCESSES)
    http_events = sum(r.http_events for r in mine)
    if http_events:
        # The gateway (or bare's front): its own CPU per event answered, not in "all".
        out["cpu_ms_per_event_http"] = 1000 * sum(r.http_cpu_seconds for r in mine) / http_events
    for key in mine[0].latencies_ms:
        pooled = [ms for r in mine for ms in r.latencies_ms[key]]
        for p in (50, 95, 99):
            out[f"ack_ms_{key}_p{p}"] = percentile(pooled, p)
    return out


def _once(results: Results, name: str) -> dict[str, float]:
    hist = results.histories[name]

    def mean(of: Callable[[Any], float]) -> float:
        return statistics.fmean(of(h) for h in hist)

    return {
        "replay_events_per_s": statistics.fmean(results.replay_events_per_s[name]),
        "rss_kib_per_cached_case": results.rss_bytes_per_case[name] / 1024,
        # Opening the RSS batch (identification only): wall time and worker CPU per case.
        "open_ms_per_cached_case": 1000
        * results.rss_detail[name]["open_seconds"]
        / results.rss_detail[name]["cases"],
        "worker_cpu_ms_per_opened_case": 1000
        * results.rss_detail[name]["worker_cpu_seconds"]
        / results.rss_detail[name]["cases"],
        "history_events_per_case": mean(lambda h: h.events),
        "history_bytes_per_case": mean(lambda h: h.bytes),
        "payload_bytes_per_case": mean(lambda h: h.payload_bytes),
        "updates_per_case": mean(lambda h: h.updates),
        "activities_per_case": mean(lambda h: h.activities),
        "timers_per_case": mean(lambda h: h.timers),
    }


def figures(results: Results) -> list[Figure]:
    out: list[Figure] = []
    for mode in results.sizes.modes:
        sides = {name: _per_mode(results.rounds, mode, name) for name in SIDES}
        out += [
            Figure(key, mode, sides["pathway"][key], sides["bare"][key]) for key in sides["pathway"]
        ]
    first = results.sizes.modes[0]
    once = {name: _once(results, name) for name in SIDES}
    out += [Figure(key, first, once["pathway"][key], once["bare"][key]) for key in ONCE]
    return out


def table(rows: list[Figure]) -> str:
    lines = [
        f"| {'figure':<30} | {'mode':<6} | {'Pathway':>10} | {'bare':>10} | "
        f"{'ratio':>6} | {'target':<6} |",
        f"|{'-' * 32}|{'-' * 8}|{'-' * 12}|{'-' * 12}|{'-' * 8}|{'-' * 8}|",
    ]
    for f in rows:
        lines.append(
            f"| {f.name:<30} | {f.mode:<6} | {f.pathway:>10.4g} | {f.bare:>10.4g} | "
            f"{_ratio_text(f.ratio):>6} | {f.target():<6} |"
        )
    return "\n".join(lines)


def task_cost(results: Results, mode: str, name: str, counts: dict[str, int]) -> str:
    """``Pathway 11.3 (0 from the normal queue), 15.6 ms worker CPU each``: a side's completed
    workflow tasks per throughput case, and its worker's CPU over the throughput windows of
    ``mode`` per completed task (the windows' one query per case included). Whether a side's
    extra worker CPU per case is more tasks or dearer ones."""
    tasks = counts.get("completed", 0)
    cases = counts["cases"] or 1
    worker = sum(
        r.cpu_seconds.get("worker", 0.0)
        for r in results.rounds
        if r.mode == mode and r.side == name
    )
    each = f"{worker * 1000 / tasks:.1f} ms worker CPU each" if tasks else "no tasks"
    label = "Pathway" if name == "pathway" else name
    normal = counts.get("normal_queue", 0)
    return f"{label} {tasks / cases:.1f} ({normal} from the normal queue), {each}"


def task_lines(results: Results) -> list[str]:
    """Two lines per mode: the workflow tasks that timed out and failed in each side's
    throughput cases (counts, not ratios: bare's are mostly 0), and the tasks per case with
    the worker's CPU per task (:func:`task_cost`)."""
    lines = []
    for mode, sides in results.workflow_tasks.items():
        counts = ", ".join(
            f"{'Pathway' if name == 'pathway' else name} "
            f"{sides[name]['timed_out']} / {sides[name]['failed']} in {sides[name]['cases']} cases"
            for name in SIDES
            if name in sides
        )
        lines.append(f"workflow tasks timed out / failed, {mode}: {counts}")
        per_task = ", ".join(
            task_cost(results, mode, name, sides[name]) for name in SIDES if name in sides
        )
        lines.append(f"workflow tasks per case, {mode}: {per_task}")
    for mode, by_side in results.repeats.items():
        again = ", ".join(
            f"{'Pathway' if name == 'pathway' else name} {by_side[name]}"
            for name in SIDES
            if name in by_side
        )
        lines.append(f"events sent again after no answer in time, {mode}: {again}")
    return lines


def as_json(results: Results, rows: list[Figure], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "meta": meta,
        "sizes": asdict(results.sizes),
        "figures": [{**asdict(f), "ratio": f.ratio, "target": f.target() or None} for f in rows],
        "ratios": {f"{f.name}/{f.mode}": f.ratio for f in rows},
        "load_samples": results.load_samples,
        "rss_detail": results.rss_detail,
        "histories": {k: [asdict(h) for h in v] for k, v in results.histories.items()},
        "replay_events_per_s": results.replay_events_per_s,
        "workflow_tasks": results.workflow_tasks,
        "repeats": results.repeats,
        "rounds": [asdict(r) for r in results.rounds],
    }
