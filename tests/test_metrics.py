"""Metrics (issue 16 item 3, docs/metrics.md): after a case runs on the dev server through the
gateway and the real workers, the worker's ``/metrics`` (the SDK's Prometheus endpoint) and the
gateway's ``/metrics`` hold the named metrics with the values the case implies; no label value
holds a case ID or a canary of the run (R6: no personal data in metric labels); requests are
labelled by route template, never by concrete path."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from temporalio.testing import WorkflowEnvironment

from pathway import metrics, search_attributes
from pathway.access.credentials import OPERATOR, Credentials
from pathway.codec_server import RoleCaseAccess, create_codec_app
from pathway.domain.organisations import Organisation
from pathway.domain.state import Obligation, ObligationKind
from pathway.metrics import MetricsConfigError, census_interval, metrics_address
from pathway.metrics.census import count_obligations, obligation_census
from pathway.metrics.http import UNMATCHED, HttpMetrics, install, route_template
from pathway.privacy.codec import CaseCodec
from pathway.privacy.keys import MasterKeyRing, SqliteKeyStore, create_master_key
from pathway.temporal_binaries import temporal_cli_path
from pathway.temporal_connection import data_converter
from tests.gateway_kit import bearer, bench_settings, example, gateway, http
from tests.harness import bench, receivers
from tests.receivers import DEV_SERVER_STARTUP, eventually, free_port

ROOT = Path(__file__).resolve().parent.parent

CASE_EVENTS = "/v1/cases/{case_id}/events"


def samples(text: str) -> list[Sample]:
    """Every sample of a Prometheus text exposition."""
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(found: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels`` (0 if none)."""
    return sum(
        s.value
        for s in found
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


# -- unit: the route template ---------------------------------------------------------------------
class TestRouteTemplate:
    """Gateway requests are counted by route template and status, never by concrete path."""

    @staticmethod
    def app() -> FastAPI:
        app = FastAPI()

        @app.post(CASE_EVENTS)
        async def record(case_id: str) -> dict[str, str]:
            return {"ok": "yes"}

        install(app, "gateway")
        return app

    async def test_labelled_by_template(self) -> None:
        """A request to a case's events counts under the template with its status; the case
        ID appears nowhere in /metrics; an unknown path counts as ``unmatched``."""
        app = self.app()
        case_id = f"case-{uuid.uuid4().hex}"
        async with http(app) as client:
            assert (await client.post(f"/v1/cases/{case_id}/events")).status_code == 200
            assert (await client.get(f"/v1/nothing/{case_id}")).status_code == 404
            text = (await client.get("/metrics")).text
        found = samples(text)
        requests = "pathway_gateway_requests_total"
        assert value(found, requests, method="POST", route=CASE_EVENTS, status="200") == 1
        assert value(found, requests, method="GET", route=UNMATCHED, status="404") == 1
        assert (
            value(found, "pathway_gateway_request_duration_seconds_count", route=CASE_EVENTS) == 1
        )
        assert case_id not in text

    def test_route_template_of_a_scope(self) -> None:
        """A scope whose router put its route there gives that route's template; one matched
        by none of the routes gives ``unmatched``."""
        app = self.app()
        matched = next(r for r in app.router.routes if getattr(r, "path", "") == CASE_EVENTS)
        assert route_template({"type": "http", "route": matched}) == CASE_EVENTS
        scope = {"type": "http", "method": "GET", "path": "/v1/cases/case-1/x", "root_path": ""}
        assert route_template(scope, app.router.routes) == UNMATCHED


# -- unit: settings and the census's arithmetic --------------------------------------------------
class TestSettings:
    """PATHWAY_METRICS_ADDRESS and PATHWAY_METRICS_CENSUS_SECONDS: one line naming each."""

    def test_address(self) -> None:
        """Unset or empty is off; host:port is taken as it is; anything else names the
        setting."""
        assert metrics_address({}) is None
        assert metrics_address({"PATHWAY_METRICS_ADDRESS": " "}) is None
        assert metrics_address({"PATHWAY_METRICS_ADDRESS": "0.0.0.0:9464"}) == "0.0.0.0:9464"
        for bad in ("9464", "localhost:", "host:http", "host:70000"):
            with pytest.raises(MetricsConfigError, match="PATHWAY_METRICS_ADDRESS"):
                metrics_address({"PATHWAY_METRICS_ADDRESS": bad})

    def test_census_interval(self) -> None:
        """Default 60 s; a positive number of seconds; zero, negative or text name the
        setting."""
        assert census_interval({}) == timedelta(seconds=60)
        assert census_interval({"PATHWAY_METRICS_CENSUS_SECONDS": "2.5"}) == timedelta(seconds=2.5)
        for bad in ("0", "-1", "soon", "inf", "nan"):
            with pytest.raises(MetricsConfigError, match="PATHWAY_METRICS_CENSUS_SECONDS"):
                census_interval({"PATHWAY_METRICS_CENSUS_SECONDS": bad})

    def test_taken_address(self) -> None:
        """An address the endpoint cannot bind is one error naming the setting."""
        with pytest.raises(MetricsConfigError, match=r"PATHWAY_METRICS_ADDRESS=256\.0\.0\.1:9"):
            metrics.worker_runtime("256.0.0.1:9")


def test_count_obligations() -> None:
    """Open obligations per owner, overdue those due before now; every organisation is
    present (0 too), closed obligations are not counted."""
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)

    def obligation(owner: Organisation, due: datetime | None, closed: bool = False) -> Obligation:
        return Obligation(
            id=uuid.uuid4().hex,
            kind=next(iter(ObligationKind)),
            rule="R3",
            owner=owner,
            action="act",
            opened_at=now - timedelta(days=2),
            due_at=due,
            closed_at=now if closed else None,
        )

    obligations = [
        obligation(Organisation.CARITAS, now - timedelta(seconds=1)),
        obligation(Organisation.CARITAS, now + timedelta(days=1)),
        obligation(Organisation.CARITAS, now - timedelta(days=1), closed=True),
        obligation(Organisation.POLICE, None),
    ]
    census = count_obligations(obligations * 2, now)
    assert census.open[Organisation.CARITAS] == 4 and census.overdue[Organisation.CARITAS] == 2
    assert census.open[Organisation.POLICE] == 2 and census.overdue[Organisation.POLICE] == 0
    assert census.open[Organisation.GUARDIAN] == 0
    assert set(census.open) == set(Organisation) == set(census.overdue)


# -- end to end: a case on the dev server ----------------------------------------------------------
@dataclass
class Run:
    """What one case left behind: both scrapes, and what no label may hold."""

    worker: str
    gateway: str
    case_ids: list[str]
    canaries: list[str]


class Canaries:
    """Unique stand-ins for personal data (as in tests/test_canary.py)."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def new(self, field: str) -> str:
        self.values.append(f"CANARY-{field}-{uuid.uuid4().hex[:10]}")
        return self.values[-1]


@pytest.fixture(scope="module")
def census_every_second() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATHWAY_METRICS_CENSUS_SECONDS", "1")
        yield


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def case_run(
    tmp_path_factory: pytest.TempPathFactory, census_every_second: None
) -> AsyncIterator[Run]:
    """A dev server whose client reports through the metrics runtime on a port of its own;
    the real case and notification workers, the obligation census and the gateway on it; one
    case opened and driven over HTTP, every personal field a canary: identified, the NGO
    interview (R3's 10 s deadline then expires), a rejected event (R2) and an e-mail
    delivery that fails once."""
    tmp_path = tmp_path_factory.mktemp("metrics")
    port = free_port()
    runtime = metrics.worker_runtime(f"127.0.0.1:{port}")
    create_master_key(tmp_path / "mk")
    store = SqliteKeyStore(tmp_path / "keys.db", MasterKeyRing.from_env_or_dir(tmp_path / "mk"))
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        dev_server_startup_timeout=DEV_SERVER_STARTUP,
        ui=False,
        data_converter=data_converter(store),
        search_attributes=list(search_attributes.ALL),
        runtime=runtime,
    )
    canary = Canaries()

    def who() -> dict[str, Any]:
        return {"actor": canary.new("actor"), "reason": canary.new("reason")}

    async with (
        env,
        receivers() as (webhook, smtp),
        bench(
            env,
            upsert_search_attributes=True,
            wires=(webhook, smtp),
            rights_information_sla=timedelta(seconds=10),
        ) as b,
        obligation_census(b.client, serve_cases=True),
    ):
        settings = bench_settings(b)
        async with http(gateway(b.client, settings)) as api:
            smtp.fail_next = 1  # the first e-mail delivery fails, then is retried
            opened = await api.post(
                "/v1/cases",
                headers=bearer("police"),
                json=example(
                    "identified",
                    organisation="police",
                    subject_ref=canary.new("subject_ref"),
                    event_id=canary.new("event_id"),
                    occurred_at=(datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
                    **who(),
                ),
            )
            assert opened.status_code == 201, opened.text
            case_id: str = opened.json()["case_id"]

            async def send(role: str, event_type: str) -> httpx.Response:
                body = example(
                    event_type,
                    organisation=role,
                    event_id=canary.new("event_id"),
                    occurred_at=(datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
                    **who(),
                )
                return await api.post(
                    f"/v1/cases/{case_id}/events", headers=bearer(role), json=body
                )

            # R2: police information gathering before the NGO interview is refused.
            assert (await send("police", "police_information_gathering_started")).status_code == 409
            assert (await send("caritas", "ngo_interview_held")).status_code == 200
            assert (await api.get(f"/v1/cases/{case_id}", headers=bearer("caritas"))).is_success
            assert (await api.get(f"/v1/cases/{case_id}x", headers=bearer("caritas"))).is_error

            async def scrape_worker() -> str:
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"http://127.0.0.1:{port}/metrics")).text

            last: list[str] = [""]

            async def worker_done() -> str | None:
                text = last[0] = await scrape_worker()
                found = samples(text)
                ready = (
                    value(found, "pathway_deadline_timers_fired_total", rule="R3") >= 1
                    and value(found, "pathway_notifications_retried_total") >= 1
                    and value(found, "pathway_obligations_overdue") >= 1
                )
                return text if ready else None

            # R3's deadline is 10 s after the interview; polled with a generous bound.
            try:
                worker_text = await eventually(worker_done, timeout=120, interval=0.5)
            except AssertionError:
                pathway = [line for line in last[0].splitlines() if "pathway_" in line]
                raise AssertionError("\n".join(pathway)) from None
            gateway_text = (await api.get("/metrics")).text
            assert worker_text is not None
            yield Run(worker_text, gateway_text, [case_id], canary.values)


@pytest.mark.devserver
class TestAfterACase:
    async def test_worker_metrics(self, case_run: Run) -> None:
        """The worker's /metrics: events accepted and rejected by type and rule, the R3
        timer, deliveries failed and retried and delivered by channel and organisation,
        open and overdue obligations by organisation, and the SDK's own metrics."""
        found = samples(case_run.worker)
        accepted = "pathway_events_accepted_total"
        assert value(found, accepted, event_type="identified") == 1
        assert value(found, accepted, event_type="ngo_interview_held") == 1
        rejected = "pathway_events_rejected_total"
        assert value(found, rejected, event_type="police_information_gathering_started") == 1
        assert value(found, rejected, rule="R2") == 1
        assert value(found, "pathway_deadline_timers_fired_total", firing="expiry") >= 1
        failed = "pathway_notifications_failed_total"
        assert value(found, failed, channel="smtp", organisation="caritas", retryable="true") == 1
        assert value(found, "pathway_notifications_retried_total", channel="smtp") == 1
        assert value(found, "pathway_notifications_delivered_total", channel="smtp") >= 1
        organisations = {
            s.labels["organisation"]
            for s in found
            if s.name == "pathway_notifications_delivered_total"
        }
        assert organisations and organisations <= {o.value for o in Organisation}
        assert value(found, "pathway_obligations_open") >= value(
            found, "pathway_obligations_overdue"
        )
        assert value(found, "pathway_obligation_census_cases") == 1
        assert value(found, "pathway_obligations_open", organisation="analyst") == 0
        # The SDK's own, on the same endpoint.
        assert value(found, "temporal_workflow_task_schedule_to_start_latency_count") >= 1
        assert value(found, "temporal_activity_execution_failed_total") >= 1

    async def test_gateway_metrics(self, case_run: Run) -> None:
        """The gateway's /metrics: every request by route template and status."""
        found = samples(case_run.gateway)
        requests = "pathway_gateway_requests_total"
        assert value(found, requests, method="POST", route="/v1/cases", status="201") == 1
        assert value(found, requests, route=CASE_EVENTS, status="409") == 1
        assert value(found, requests, route=CASE_EVENTS, status="200") == 1
        assert value(found, requests, route="/v1/cases/{case_id}", status="200") == 1
        assert value(found, requests, route="/v1/cases/{case_id}") == 2

    async def test_no_case_id_or_canary_in_any_label(self, case_run: Run) -> None:
        """No label value of any metric of either endpoint holds a case ID or a canary."""
        secrets = [*case_run.case_ids, *case_run.canaries]
        labelled = 0
        for place, text in (("worker", case_run.worker), ("gateway", case_run.gateway)):
            for sample in samples(text):
                for label, label_value in sample.labels.items():
                    labelled += 1
                    leaked = [s for s in secrets if s in label_value]
                    assert not leaked, f"{place}: {sample.name}{{{label}}} holds {leaked}"
        assert labelled > 100  # the scrapes were real

    async def test_dashboard_and_docs_name_what_is_exported(self, case_run: Run) -> None:
        """Every pathway_* metric the Grafana dashboard queries and docs/metrics.md lists is
        one the worker, the gateway or the codec server exports, and every one exported is
        documented; the SDK's metrics the dashboard's latency and failure panels use are
        on the worker's endpoint."""
        codec = HttpMetrics("codec_server")
        exported = {
            family.name
            for text in (case_run.worker, case_run.gateway, codec.exposition().decode())
            for family in text_string_to_metric_families(text)
        }
        # prometheus_client's *_created series are its own bookkeeping, not metrics of ours.
        pathway_exported = {
            n for n in exported if n.startswith("pathway_") and not n.endswith("_created")
        }

        def names(text: str, prefix: str) -> set[str]:
            found = set(re.findall(rf"\b{prefix}_[a-z_]+", text))
            return {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in found}

        dashboard = json.dumps(json.loads((ROOT / "deploy/grafana/pathway.json").read_text()))
        docs = (ROOT / "docs/metrics.md").read_text()
        assert names(dashboard, "pathway") <= pathway_exported
        assert names(docs, "pathway") - {"pathway_"} >= pathway_exported
        assert {
            "temporal_workflow_task_schedule_to_start_latency",
            "temporal_activity_execution_failed",
        } <= names(dashboard, "temporal") & exported


async def test_codec_decodes_by_role(tmp_path: Path) -> None:
    """The codec server's /metrics counts decodes and payloads by the caller's role, and its
    requests by route and status (a refusal too), with no case ID in any label."""
    from tests import test_codec_server as kit

    master_id = create_master_key(tmp_path / "mk")
    key = bytes.fromhex((tmp_path / "mk" / f"{master_id}.key").read_text())
    store = SqliteKeyStore(tmp_path / "keys.db", MasterKeyRing({master_id: key}))
    codec = CaseCodec(store)
    (tmp_path / "credentials.toml").write_text(kit.credentials_toml(kit.PEOPLE))
    app = create_codec_app(
        codec=codec,
        credentials=Credentials.load(tmp_path / "credentials.toml"),
        allowed_origin=kit.UI_ORIGIN,
        case_access=RoleCaseAccess(kit.member_roles, store),
    )
    case_id = f"case-{uuid.uuid4().hex[:12]}"
    async with http(app) as client:
        body = await kit.sealed(codec, case_id)
        two = {"payloads": body["payloads"] * 2}
        assert (await client.post("/decode", json=two, headers=kit.bearer(OPERATOR))).is_success
        refused = await client.post("/decode", json=body, headers=kit.bearer("caritas"))
        assert refused.status_code == 403
        text = (await client.get("/metrics")).text
    found = samples(text)
    assert value(found, "pathway_codec_decodes_total", role=OPERATOR) == 1
    assert value(found, "pathway_codec_decoded_payloads_total", role=OPERATOR) == 2
    assert value(found, "pathway_codec_decodes_total", role="caritas") == 0
    requests = "pathway_codec_server_requests_total"
    assert value(found, requests, method="POST", route="/decode", status="403") == 1
    assert case_id not in text


def test_worker_refuses_a_bad_metrics_address(
    cli_state: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    restored_logging: None,
) -> None:
    """``pathway worker`` with a malformed PATHWAY_METRICS_ADDRESS exits 2 with one line
    naming it, before it connects to anything."""
    from pathway import workers

    monkeypatch.setenv("PATHWAY_METRICS_ADDRESS", "metrics-host")
    assert workers.main(["--no-cases", "--organisations", "police", "--json-logs"]) == 2
    out = capfd.readouterr()
    lines = [line for line in (out.out + out.err).splitlines() if "PATHWAY_METRICS_ADDRESS" in line]
    assert len(lines) == 1 and "invalid setting" in lines[0], out
    assert "Traceback" not in out.out + out.err
