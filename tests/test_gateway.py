"""The event gateway against the real Temporal dev server, the real workers and a real key
store: cases opened and events recorded over HTTP, idempotency under concurrency, what each role
reads, obligations across cases, erased and closed cases, and a Temporal outage."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from pathway import search_attributes
from pathway.access.credentials import OPERATOR, hash_token
from pathway.access.policy import READ_MATRIX, SPLIT_FIELDS, may_read
from pathway.clients import cases as cases_client
from pathway.dev import DevPorts, run_dev
from pathway.domain.calendar import local_date
from pathway.domain.ids import case_id_for
from pathway.domain.person import PersonFacts
from pathway.domain.state import CaseState
from pathway.gateway import GatewaySettings
from pathway.gateway.routes import obligations as obligations_route
from pathway.privacy.erasure import erase_case
from pathway.privacy.keys import MasterKeyRing, SqliteKeyStore, create_master_key
from pathway.temporal_binaries import temporal_cli_path
from pathway.temporal_connection import data_converter
from tests.gateway_kit import (
    TOKENS,
    assert_problem,
    bearer,
    bench_settings,
    credentials,
    example,
    gateway,
    http,
)
from tests.harness import PEPPER, Bench, bench, receivers
from tests.keys import TEST_KEYS
from tests.receivers import DEV_SERVER_STARTUP, eventually, free_port

pytestmark = pytest.mark.devserver

#: A health detail: it must reach the NGO and never the police.
HEALTH_CANARY = "CANARY-HEALTH-pregnant-week-12"


@dataclass
class Deployment:
    env: WorkflowEnvironment
    store: SqliteKeyStore


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def deployment(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployment]:
    """One dev server for this module, whose clients and workers share a real key store
    (each test still has its own task queues)."""
    keys = tmp_path_factory.mktemp("gateway-keys")
    create_master_key(keys / "mk")
    store = SqliteKeyStore(keys / "keys.db", MasterKeyRing.from_env_or_dir(keys / "mk"))
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        dev_server_startup_timeout=DEV_SERVER_STARTUP,
        ui=False,
        data_converter=data_converter(store),
        search_attributes=list(search_attributes.ALL),
    )
    async with env:
        yield Deployment(env, store)


@dataclass
class Service:
    bench: Bench
    http: httpx.AsyncClient
    client: Client
    settings: GatewaySettings

    async def state(self, case_id: str) -> CaseState:
        return await self.bench.state(case_id)


@pytest_asyncio.fixture
async def service(deployment: Deployment) -> AsyncIterator[Service]:
    """The gateway in front of this test's own case and notification workers."""
    async with bench(deployment.env, upsert_search_attributes=True) as b:
        settings = bench_settings(b)
        async with http(gateway(b.client, settings)) as client:
            yield Service(b, client, b.client, settings)


def local_day(minutes: float = 0) -> str:
    """The day in Ljubljana ``minutes`` from now (ISO): what dates such as a consent's are
    judged by (a UTC date is the day before for an hour or two around midnight)."""
    return local_date(datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def now(minutes: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def identification(
    subject_ref: str, *, organisation: str = "police", event_id: str | None = None
) -> dict[str, Any]:
    """A police identification of a third-country national residing illegally."""
    return example(
        "identified",
        organisation=organisation,
        subject_ref=subject_ref,
        event_id=event_id or f"{organisation}-{subject_ref}",
        occurred_at=now(-10),
    )


def event(event_type: str, organisation: str, event_id: str, **fields: Any) -> dict[str, Any]:
    return example(
        event_type, organisation=organisation, event_id=event_id, occurred_at=now(-5), **fields
    )


async def open_case(s: Service, subject_ref: str) -> str:
    response = await s.http.post(
        "/v1/cases", headers=bearer("police"), json=identification(subject_ref)
    )
    assert response.status_code == 201, response.text
    case_id: str = response.json()["case_id"]
    return case_id


async def send(s: Service, case_id: str, role: str, body: dict[str, Any]) -> httpx.Response:
    return await s.http.post(f"/v1/cases/{case_id}/events", headers=bearer(role), json=body)


class TestOpenCase:
    """POST /v1/cases: identification starts the case with update-with-start (R1)."""

    async def test_open_then_repeat(self, service: Service) -> None:
        """The first identification answers 201 with the case ID and its acknowledgement (issue
        14: no summary); the same event_id again answers 200 with the first one."""
        body = identification("gw-open")
        first = await service.http.post("/v1/cases", headers=bearer("police"), json=body)
        assert first.status_code == 201
        opened = first.json()
        assert opened["case_id"].startswith("case-") and "gw-open" not in opened["case_id"]
        assert first.headers["location"] == f"/v1/cases/{opened['case_id']}"
        # The police do not read the phase (it names K5, S1 and I1; R6, docs/privacy.md).
        assert "phase" not in opened and "summary" not in opened
        assert {o["rule"] for o in opened["changes"]["obligations_opened"]} >= {"R2"}
        assert opened["duplicate"] is False
        again = await service.http.post("/v1/cases", headers=bearer("police"), json=body)
        assert again.status_code == 200
        assert again.json() == {**opened, "duplicate": True}

    async def test_concurrent_duplicates_open_one_case(self, service: Service) -> None:
        """The same identification sent three times at once opens one case: one 201 and
        two 200s with the first result."""
        body = identification("gw-dup")
        responses = await asyncio.gather(
            *(service.http.post("/v1/cases", headers=bearer("police"), json=body) for _ in range(3))
        )
        assert sorted(r.status_code for r in responses) == [200, 200, 201]
        assert len({r.json()["case_id"] for r in responses}) == 1
        state = await service.state(responses[0].json()["case_id"])
        assert [t.what for t in state.timeline].count("identified") == 1

    async def test_concurrent_identification_by_two_authorities(self, service: Service) -> None:
        """The police and UOIM identify the same person at the same moment: one case; the
        second learns it with 409 (rule CASE) and its case ID."""
        at = now(-10)  # the same moment: neither lies before the other's identification
        police, uoim = await asyncio.gather(
            service.http.post(
                "/v1/cases",
                headers=bearer("police"),
                json={**identification("gw-race", organisation="police"), "occurred_at": at},
            ),
            service.http.post(
                "/v1/cases",
                headers=bearer("uoim"),
                json={**identification("gw-race", organisation="uoim"), "occurred_at": at},
            ),
        )
        first, second = sorted((police, uoim), key=lambda r: r.status_code)
        assert first.status_code == 201
        assert_problem(second, 409, rule="CASE", field="type", case_id=first.json()["case_id"])
        state = await service.state(first.json()["case_id"])
        assert [t.what for t in state.timeline].count("identified") == 1

    async def test_rule_violation(self, service: Service) -> None:
        """An identification dated in the future is rejected with 409, rule TIME."""
        body = {**identification("gw-future"), "occurred_at": now(60)}
        response = await service.http.post("/v1/cases", headers=bearer("police"), json=body)
        assert_problem(response, 409, rule="TIME", field="occurred_at")


class TestEvents:
    """POST /v1/cases/{case_id}/events: answered once the workflow decided."""

    async def test_accepted_event_is_recorded(self, service: Service) -> None:
        """An accepted event answers 200 with its acknowledgement (the phase for a role that
        reads it, what changed), and is in the case at once."""
        case_id = await open_case(service, "gw-accept")
        response = await send(
            service, case_id, "caritas", event("ngo_interview_held", "caritas", "car-1")
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["duplicate"] is False and answer["event_type"] == "ngo_interview_held"
        assert answer["phase"] == "identified" and "summary" not in answer
        assert "ngo_interview" in {o["kind"] for o in answer["changes"]["obligations_settled"]}
        state = await service.state(case_id)
        assert state.ngo_interview_at is not None
        assert "car-1" in state.processed

    async def test_concurrent_duplicates(self, service: Service) -> None:
        """The same event sent four times at once is recorded once; every answer is 200
        with the same acknowledgement, exactly one of them not a duplicate."""
        case_id = await open_case(service, "gw-concurrent")
        body = event("ngo_interview_held", "caritas", "car-dup")
        responses = await asyncio.gather(
            *(send(service, case_id, "caritas", body) for _ in range(4))
        )
        assert [r.status_code for r in responses] == [200] * 4
        answers = [r.json() for r in responses]
        assert sorted(a["duplicate"] for a in answers) == [False, True, True, True]
        assert len({json.dumps({**a, "duplicate": 0}, sort_keys=True) for a in answers}) == 1
        state = await service.state(case_id)
        assert [t.event_id for t in state.timeline].count("car-dup") == 1

    async def test_reused_event_id(self, service: Service) -> None:
        """An event_id reused for a different event is 409, rule IDEMPOTENCY."""
        case_id = await open_case(service, "gw-reuse")
        assert (
            await send(service, case_id, "caritas", event("ngo_interview_held", "caritas", "car-r"))
        ).status_code == 200
        response = await send(
            service, case_id, "caritas", event("departed", "caritas", "car-r", arbitrary=False)
        )
        assert_problem(response, 409, rule="IDEMPOTENCY", field="event_id")

    async def test_rule_violation_changes_nothing(self, service: Service) -> None:
        """Police information gathering before the NGO interview is 409 with rule R2, and
        the case is as it was."""
        case_id = await open_case(service, "gw-r2")
        before = await service.bench.settled(case_id)  # notifications delivered
        response = await send(
            service,
            case_id,
            "police",
            event("police_information_gathering_started", "police", "pol-1"),
        )
        assert_problem(response, 409, rule="R2", type="urn:pathway:problem:event-rejected")
        after = await service.state(case_id)
        assert after.timeline == before.timeline and "pol-1" not in after.processed
        # Only its metadata is noted, for the timeline's mark (issue 17 item 3).
        assert [(r.event_id, r.organisation.value, r.rule) for r in after.rejections] == [
            ("pol-1", "police", "R2")
        ]
        police = await service.http.get(f"/v1/cases/{case_id}", headers=bearer("police"))
        assert [r["rule"] for r in police.json()["rejections"]] == ["R2"]

    async def test_unknown_case(self, service: Service) -> None:
        """An event for a case that does not exist is 404."""
        response = await send(
            service,
            "case-aaaaaaaaaaaaaaaaaaaaaaaa",
            "caritas",
            event("departed", "caritas", "car-x", arbitrary=True),
        )
        assert_problem(response, 404, type="urn:pathway:problem:not-found")

    async def test_closed_case(self, service: Service) -> None:
        """An event for a closed case is 409 (rule CASE) for a member of it, 404 for an
        organisation that is not."""
        case_id = await open_case(service, "gw-closed")
        closing = await send(
            service, case_id, "caritas", event("case_closed", "caritas", "car-close")
        )
        assert closing.status_code == 200
        await service.client.get_workflow_handle(case_id).result()
        response = await send(
            service, case_id, "caritas", event("departed", "caritas", "car-late", arbitrary=True)
        )
        assert_problem(response, 409, rule="CASE")
        response = await send(
            service, case_id, "kljuc", event("departed", "kljuc", "klj-late", arbitrary=True)
        )
        assert_problem(response, 404)

    async def test_erased_case(self, service: Service, deployment: Deployment) -> None:
        """An erased case answers 410 to the operator and its former members (the police
        identified, Caritas led); to other organisations reads and events alike answer as for a
        case that never was (404); an identification of the erased person opens a new episode
        (201; R1, issue 12)."""
        case_id = await open_case(service, "gw-erased")
        await erase_case(service.client, deployment.store, case_id, by="dpo", why="request")
        assert_problem(
            await service.http.get(f"/v1/cases/{case_id}", headers=bearer(OPERATOR)),
            410,
            type="urn:pathway:problem:case-erased",
        )
        assert_problem(
            await service.http.get(f"/v1/cases/{case_id}", headers=bearer("police")), 410
        )
        assert_problem(await service.http.get(f"/v1/cases/{case_id}", headers=bearer("kljuc")), 404)
        response = await send(
            service, case_id, "caritas", event("departed", "caritas", "car-e", arbitrary=True)
        )
        assert_problem(response, 410, type="urn:pathway:problem:case-erased")
        response = await send(
            service, case_id, "kljuc", event("departed", "kljuc", "klj-e", arbitrary=True)
        )
        assert_problem(response, 404, type="urn:pathway:problem:not-found")
        # R1 always holds (issue 12): the erased person identified again opens a new episode.
        response = await service.http.post(
            "/v1/cases", headers=bearer("police"), json=identification("gw-erased", event_id="p-2")
        )
        assert response.status_code == 201, response.text
        assert response.json()["case_id"] == case_id
        assert [(e.number, e.erased) for e in deployment.store.episodes(case_id)] == [
            (1, True),
            (2, False),
        ]
        again = await service.http.get(f"/v1/cases/{case_id}", headers=bearer("police"))
        assert again.status_code == 200, again.text


async def full_case(s: Service, subject_ref: str) -> str:
    """A third-country national's case whose members the police, Caritas and the migration
    authority took part in, with a health detail flagged by Caritas; a social work centre,
    no member, tried to."""
    case_id = await open_case(s, subject_ref)
    steps = [
        ("caritas", event("ngo_interview_held", "caritas", "c1", reason="CARITAS-REASON")),
        (
            "caritas",
            event("special_need_flagged", "caritas", "c2", need="pregnancy", detail=HEALTH_CANARY),
        ),
        (
            "police",
            event(
                "permit_to_stay_granted",
                "police",
                "p1",
                reason="POLICE-REASON",
                valid_from=local_day(-5),
            ),
        ),
        (
            "migration_authority",
            event(
                "temporary_residence_permit_granted",
                "migration_authority",
                "m1",
                valid_from=local_day(-5),
                valid_until="2030-01-01",
            ),
        ),
    ]
    for role, body in steps:
        response = await send(s, case_id, role, body)
        assert response.status_code == 200, (role, response.text)
    # Not a member (no child, no rule gave it a role): sending takes no part in the case.
    outsider = event("rights_information_given", "social_work_centre", "s1")
    assert (await send(s, case_id, "social_work_centre", outsider)).status_code == 404
    return case_id


def expected_keys(full: dict[str, Any], role: str) -> tuple[set[str], set[str]]:
    """The top-level and person fields ``role`` may read, from the read matrix."""
    top = {name for name in full if name not in SPLIT_FIELDS and may_read(role, name)}
    person = {name for name in full["person"] if may_read(role, f"person.{name}")}
    if person:
        top.add("person")
    for split in SPLIT_FIELDS - {"person"}:
        if any(may_read(role, path) for path in READ_MATRIX if path.startswith(f"{split}.")):
            top.add(split)
    return top, person


class TestReading:
    """GET /v1/cases/{case_id} and its timeline: the members read what their role may."""

    async def test_each_member_role_reads_its_fields(self, service: Service) -> None:
        """Operators read everything; each member organisation exactly its fields; the
        health detail reaches the NGO, never the police or the migration authority; the social
        work centre, no member though it may read health details, reads nothing (404)."""
        case_id = await full_case(service, "gw-read-roles")
        full = (await service.http.get(f"/v1/cases/{case_id}", headers=bearer(OPERATOR))).json()
        assert set(full) == set(CaseState.model_fields)
        assert set(full["person"]) == set(PersonFacts.model_fields)
        outsider = await service.http.get(
            f"/v1/cases/{case_id}", headers=bearer("social_work_centre")
        )
        assert_problem(outsider, 404)
        for role in ("police", "caritas", "migration_authority"):
            response = await service.http.get(f"/v1/cases/{case_id}", headers=bearer(role))
            assert response.status_code == 200, (role, response.text)
            view = response.json()
            top, person = expected_keys(full, role)
            assert set(view) == top, role
            assert set(view.get("person", {})) == person, role
            shown = HEALTH_CANARY in response.text
            assert shown is (role == "caritas"), role

    async def test_non_member_is_404(self, service: Service) -> None:
        """Ključ, not a member of the case, gets the same 404 as for a case that does not
        exist: case existence does not leak (tests/test_gateway_membership.py: byte for
        byte)."""
        case_id = await open_case(service, "gw-noleak")
        for path in (f"/v1/cases/{case_id}", f"/v1/cases/{case_id}/timeline"):
            response = await service.http.get(path, headers=bearer("kljuc"))
            body = assert_problem(response, 404)
            missing = await service.http.get(
                path.replace(case_id, "case-" + "b" * 24), headers=bearer("kljuc")
            )
            assert {k: v for k, v in body.items() if k != "case_id"} == {
                k: v for k, v in missing.json().items() if k != "case_id"
            }

    async def test_timeline_reasons(self, service: Service) -> None:
        """The police's timeline shows their own reason and not Caritas's; Caritas's shows
        both."""
        case_id = await full_case(service, "gw-read-timeline")
        police = await service.http.get(f"/v1/cases/{case_id}/timeline", headers=bearer("police"))
        assert police.status_code == 200
        assert "POLICE-REASON" in police.text and "CARITAS-REASON" not in police.text
        # The events in the order they happened; the service's own entries (a notification
        # delivered) may fall between them, as deliveries race the next event.
        events = [e["what"] for e in police.json()["timeline"] if e.get("event_id")]
        assert events[:2] == ["identified", "ngo interview held"]
        caritas = await service.http.get(f"/v1/cases/{case_id}/timeline", headers=bearer("caritas"))
        assert "POLICE-REASON" in caritas.text and "CARITAS-REASON" in caritas.text


class TestObligations:
    """GET /v1/obligations: what an organisation must do, across cases."""

    async def test_open_obligations_and_deadlines(self, service: Service) -> None:
        """Caritas sees its interview and rights-information obligations in the cases it
        owns them in, and the crisis-accommodation deadline it is reminded of; the police
        see none of Caritas's; an operator names the organisation."""
        first = await open_case(service, "gw-obl-1")
        second = await open_case(service, "gw-obl-2")
        placed = await send(
            service,
            second,
            "caritas",
            event(
                "crisis_accommodation_placed",
                "caritas",
                "c-place",
                consent={"signed_on": local_day(-5)},
            ),
        )
        assert placed.status_code == 200, placed.text

        async def caritas_cases() -> dict[str, Any] | None:
            answer = (await service.http.get("/v1/obligations", headers=bearer("caritas"))).json()
            cases = {c["case_id"]: c for c in answer["cases"]}
            return cases if {first, second} <= set(cases) else None

        cases = await eventually(caritas_cases, timeout=120)
        kinds = {o["kind"] for o in cases[first]["obligations"]}
        assert kinds == {"ngo_interview", "rights_information"}
        assert all(o["action"] for o in cases[first]["obligations"])
        assert "crisis_accommodation" in {d["kind"] for d in cases[second]["deadlines"]}
        police = (await service.http.get("/v1/obligations", headers=bearer("police"))).json()
        assert {first, second}.isdisjoint({c["case_id"] for c in police["cases"]})
        operator = await service.http.get(
            "/v1/obligations?organisation=caritas", headers=bearer(OPERATOR)
        )
        assert {first, second} <= {c["case_id"] for c in operator.json()["cases"]}

    async def test_a_case_that_does_not_answer_hides_no_other(
        self, service: Service, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Review of issue 11: one case that does not answer in time (its worker stuck, its key
        gone) is left out and counted; the organisation's obligations in every other case are
        still listed."""
        fine = await open_case(service, "gw-obl-fine")
        stuck = await open_case(service, "gw-obl-stuck")

        async def both_listed() -> bool:
            answer = (await service.http.get("/v1/obligations", headers=bearer("caritas"))).json()
            return {fine, stuck} <= {c["case_id"] for c in answer["cases"]}

        await eventually(both_listed, timeout=120)
        real = cases_client.case_state

        async def stuck_one(client: Any, case_id: str) -> CaseState:
            if case_id == stuck:
                raise TimeoutError  # as the gateway's patience running out
            return await real(client, case_id)

        monkeypatch.setattr(obligations_route, "case_state", stuck_one)
        response = await service.http.get("/v1/obligations", headers=bearer("caritas"))
        assert response.status_code == 200, response.text
        answer = response.json()
        listed = {c["case_id"] for c in answer["cases"]}
        assert fine in listed and stuck not in listed
        assert answer["unanswered"] == 1


def key_rows(store: SqliteKeyStore, case_id: str) -> int:
    """Rows for ``case_id`` in the key store's table (live or destroyed keys alike)."""
    with contextlib.closing(sqlite3.connect(store.path)) as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM data_keys WHERE scope = ?", (case_id,)
        ).fetchone()
    return int(count)


class TestDataKeys:
    """A case's data key is made only by the identification that opens it (issue 11, item 7)."""

    async def test_an_event_for_an_unknown_case_makes_no_key(
        self, service: Service, deployment: Deployment
    ) -> None:
        """An event for, and a read of, a case ID nobody opened: 404, and the key store has
        no row for it (before the fix the codec made one to encode the event)."""
        case_id = case_id_for("gw-never-opened", PEPPER)
        sent = await send(service, case_id, "caritas", event("ngo_interview_held", "caritas", "c"))
        assert_problem(sent, 404, type="urn:pathway:problem:not-found")
        read = await service.http.get(f"/v1/cases/{case_id}", headers=bearer("caritas"))
        assert_problem(read, 404, type="urn:pathway:problem:not-found")
        assert key_rows(deployment.store, case_id) == 0

    async def test_an_identification_makes_the_key(
        self, service: Service, deployment: Deployment
    ) -> None:
        """The accepted identification makes the case's key (update-with-start); an event for
        the case then uses it."""
        case_id = case_id_for("gw-keyed", PEPPER)
        assert key_rows(deployment.store, case_id) == 0
        assert await open_case(service, "gw-keyed") == case_id
        assert key_rows(deployment.store, case_id) == 1
        sent = await send(service, case_id, "caritas", event("ngo_interview_held", "caritas", "k"))
        assert sent.status_code == 200, sent.text
        assert key_rows(deployment.store, case_id) == 1

    async def test_a_rejected_identification_makes_no_key(
        self, service: Service, deployment: Deployment
    ) -> None:
        """An identification the rules reject (it lies in the future): 409 rule TIME, no key,
        and no run waiting for an identification that will not come."""
        body = {**identification("gw-future"), "occurred_at": now(24 * 60)}
        response = await service.http.post("/v1/cases", headers=bearer("police"), json=body)
        assert_problem(response, 409, type="urn:pathway:problem:event-rejected", rule="TIME")
        case_id = case_id_for("gw-future", PEPPER)
        assert key_rows(deployment.store, case_id) == 0
        with pytest.raises(RPCError) as raised:
            await service.client.get_workflow_handle(case_id).describe()
        assert raised.value.status is RPCStatusCode.NOT_FOUND


class TestTemporalOutage:
    """Temporal stops and comes back: 503 with Retry-After meanwhile, nothing half-done."""

    async def test_stopped_then_back(self, tmp_path: Path) -> None:
        """While the server is down every case request is 503 with Retry-After; after it
        returns the event sent during the outage is not in the case, and sending it again
        records it once."""
        db, port, queue = tmp_path / "temporal.db", free_port(), "gateway-outage"
        async with receivers() as wires:
            env = await start_server(db, port)
            async with env:
                client = await Client.connect(
                    f"127.0.0.1:{port}", data_converter=data_converter(TEST_KEYS)
                )
                async with bench(env, upsert_search_attributes=True, queue=queue, wires=wires) as b:
                    # A generous timeout while Temporal is up: a just-started server on a
                    # busy machine may take seconds to answer the first request.
                    settings = GatewaySettings(
                        pepper=PEPPER, task_queue=queue, case_config=b.config, temporal_timeout=60
                    )
                    app = gateway(client, settings)
                    async with http(app) as api:
                        s = Service(b, api, client, settings)
                        case_id = await open_case(s, "gw-outage")

            # The same client, while nothing listens on the port: a short timeout, since
            # every answer here is the 503 the test expects.
            body = event("ngo_interview_held", "caritas", "car-outage")
            outage = gateway(client, dataclasses.replace(settings, temporal_timeout=1.5))
            async with http(outage) as api:
                for response in (
                    await api.post(
                        f"/v1/cases/{case_id}/events", headers=bearer("caritas"), json=body
                    ),
                    await api.get(f"/v1/cases/{case_id}", headers=bearer("caritas")),
                    await api.post(
                        "/v1/cases", headers=bearer("police"), json=identification("gw-outage-2")
                    ),
                    await api.get("/readyz"),
                ):
                    assert_problem(response, 503, type="urn:pathway:problem:temporal-unavailable")
                    assert response.headers["retry-after"] == "5"

            env = await start_server(db, port)
            async with (
                env,
                bench(env, upsert_search_attributes=True, queue=queue, wires=wires) as b,
                http(app) as api,
            ):

                async def ready() -> bool:
                    return (await api.get("/readyz")).status_code == 200

                await eventually(ready, timeout=120)
                view = (await api.get(f"/v1/cases/{case_id}", headers=bearer("caritas"))).json()
                assert "car-outage" not in {e.get("event_id") for e in view["timeline"]}
                response = await api.post(
                    f"/v1/cases/{case_id}/events", headers=bearer("caritas"), json=body
                )
                assert response.status_code == 200, response.text
                assert response.json()["duplicate"] is False
                state = await b.state(case_id)
                assert [t.event_id for t in state.timeline].count("car-outage") == 1


async def start_server(db: Path, port: int) -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        dev_server_startup_timeout=DEV_SERVER_STARTUP,
        dev_server_database_filename=str(db),
        port=port,
        ui=False,
        data_converter=data_converter(TEST_KEYS),
        search_attributes=list(search_attributes.ALL),
    )


class TestDev:
    """`pathway dev` starts the gateway beside the server and the workers."""

    async def test_dev_serves_the_gateway(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With `pathway dev` running, the gateway answers on its port: ready, and a police
        system opens a case through it."""
        creds = tmp_path / "credentials.toml"
        creds.write_text(
            "".join(
                f'[[tokens]]\nname = "{e.name}"\nrole = "{e.role}"\nsha256 = "{e.sha256}"\n\n'
                for e in credentials().tokens
            )
        )
        creds.chmod(0o600)  # what holds tokens is private to the account (issue 11, item 9)
        monkeypatch.setenv("PATHWAY_VAR", str(tmp_path))
        monkeypatch.setenv("PATHWAY_CREDENTIALS", str(creds))
        ports = [free_port() for _ in range(4)]
        stop = asyncio.Event()
        up = asyncio.Event()
        dev = asyncio.create_task(
            run_dev(tmp_path, ports=DevPorts(*ports), stop=stop, ready=lambda _ui: up.set())
        )
        try:
            await eventually(up.is_set, timeout=60)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{ports[3]}", timeout=60
            ) as api:

                async def ready() -> bool:
                    with contextlib.suppress(httpx.TransportError):
                        return (await api.get("/readyz")).status_code == 200
                    return False

                await eventually(ready, timeout=120)

                # Made once: a resend is the same event (its occurred_at too), or it is another
                # event under a used event_id (409 IDEMPOTENCY).
                body = identification("gw-dev")

                async def opened() -> httpx.Response | None:
                    # As docs/gateway.md tells clients: on 429, 503 or 504 send the same
                    # event again (same event_id); a busy machine can take longer than the
                    # gateway's Temporal timeout for the first case.
                    response = await api.post("/v1/cases", headers=bearer("police"), json=body)
                    return None if response.status_code in (429, 503, 504) else response

                response = await eventually(opened, timeout=300, interval=1)
                assert response is not None  # eventually returns only a truthy answer
                # 201, or 200 for the repeat of an identification recorded without an answer.
                assert response.status_code in (200, 201), response.text
                assert response.json()["case_id"].startswith("case-")
                assert hash_token(TOKENS["police"]) in creds.read_text()
        finally:
            stop.set()
            await dev
