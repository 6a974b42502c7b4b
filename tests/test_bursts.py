"""Honest answers to bursts (issue 11, item 8): the gateway and the CLI tell "busy, send again"
(429 busy; CLI exit 7), "outcome unknown, send the same event_id again" (504 outcome-unknown;
CLI exit 8) and "Temporal down" (503) apart, and the gateway absorbs short bursts to one case
in the case's lane.

The lanes and the classification of Temporal's answers are tested alone; then, on the real dev
server (SQLite persistence, as `pathway dev` runs it, and continue-as-new suggested every few
dozen history events so a burst meets it), 50 distinct events sent at once to one case, by
clients that resend as docs/gateway.md says, are each recorded exactly once and no answer claims
an outage; and an event whose answer did not come while Temporal was up is a 504, recorded once
when sent again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from pathway import cli, search_attributes
from pathway.cli import case as cli_case
from pathway.clients import cases
from pathway.clients.cases import CaseBusy, OutcomeUnknown, is_busy
from pathway.domain.events import parse_event
from pathway.domain.membership import MemberRole
from pathway.domain.state import CaseStanding, Phase
from pathway.gateway import GatewaySettings
from pathway.gateway import dependencies as gateway_dependencies
from pathway.gateway._lanes import CaseLanes
from pathway.gateway.routes import cases as case_routes
from pathway.privacy.keys import MasterKeyRing, SqliteKeyStore, create_master_key
from pathway.temporal_binaries import temporal_cli_path
from pathway.temporal_connection import data_converter
from tests.gateway_kit import assert_problem, bearer, example, gateway, http, unreachable_temporal
from tests.harness import PEPPER, Bench, bench
from tests.receivers import DEV_SERVER_STARTUP, eventually

CASE = "case-aaaaaaaaaaaaaaaaaaaaaaaa"
#: What a resending client accepts as "send it again after Retry-After" (docs/gateway.md).
RESEND = {429, 503, 504}
TEMPORAL_DOWN = "urn:pathway:problem:temporal-unavailable"


def now(minutes: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def cooperation(event_id: str) -> dict[str, Any]:
    """A Caritas event a case accepts any number of times (R5: recorded only)."""
    return example(
        "cooperation_recorded",
        organisation="caritas",
        event_id=event_id,
        occurred_at=now(-5),
        willing_to_cooperate=True,
    )


# -- the lanes ----------------------------------------------------------------------------------
class TestLanes:
    async def test_at_most_in_flight_then_in_order(self) -> None:
        """With two turns at once, a third request waits until one ends, and gets its turn."""
        lanes = CaseLanes(in_flight=2, queue=4)
        inside, peak, release = 0, 0, asyncio.Event()

        async def one() -> None:
            nonlocal inside, peak
            async with lanes.turn(CASE, wait=5):
                inside += 1
                peak = max(peak, inside)
                await release.wait()
                inside -= 1

        tasks = [asyncio.create_task(one()) for _ in range(5)]
        await asyncio.sleep(0.05)
        assert inside == 2 and lanes.waiting(CASE) == 3
        release.set()
        await asyncio.gather(*tasks)
        assert peak == 2 and lanes.waiting(CASE) == 0
        assert not lanes._lanes, "a lane nobody uses is dropped"

    async def test_a_full_queue_is_busy_at_once(self) -> None:
        """Beyond in_flight + queue requests, the next is CaseBusy without waiting; another
        case's lane is not affected."""
        lanes = CaseLanes(in_flight=1, queue=1)
        release = asyncio.Event()

        async def hold() -> None:
            async with lanes.turn(CASE, wait=5):
                await release.wait()

        tasks = [asyncio.create_task(hold()) for _ in range(2)]
        await asyncio.sleep(0.05)
        started = asyncio.get_running_loop().time()
        with pytest.raises(CaseBusy):
            async with lanes.turn(CASE, wait=5):
                pass
        assert asyncio.get_running_loop().time() - started < 0.5
        async with lanes.turn("case-other", wait=0.1):
            pass
        release.set()
        await asyncio.gather(*tasks)

    async def test_a_wait_that_runs_out_is_busy(self) -> None:
        """A request that gets no turn within its wait is CaseBusy; the lane stays usable."""
        lanes = CaseLanes(in_flight=1, queue=4)
        release = asyncio.Event()

        async def hold() -> None:
            async with lanes.turn(CASE, wait=5):
                await release.wait()

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0.05)
        with pytest.raises(CaseBusy):
            async with lanes.turn(CASE, wait=0.1):
                pass
        release.set()
        await holder
        async with lanes.turn(CASE, wait=0.1):
            pass
        assert not lanes._lanes


# -- Temporal's answers, told apart -------------------------------------------------------------
class TestClassification:
    @pytest.mark.parametrize(
        ("status", "message", "busy"),
        [
            (
                RPCStatusCode.RESOURCE_EXHAUSTED,
                "limit on number of concurrent in-flight updates has been reached (10)",
                True,
            ),
            (
                RPCStatusCode.RESOURCE_EXHAUSTED,
                "workflow operation can not be applied because workflow is closing",
                True,
            ),
            (RPCStatusCode.UNAVAILABLE, "workflow update was aborted", True),
            (
                RPCStatusCode.UNAVAILABLE,
                "tcp connect error: Connection refused (os error 111)",
                False,
            ),
            (RPCStatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", False),
        ],
    )
    def test_busy_is_not_an_outage(self, status: RPCStatusCode, message: str, busy: bool) -> None:
        """The server's own words, as seen on the dev server: the in-flight update limit, a
        closing workflow and an update aborted around continue-as-new are "busy"; a refused
        connection is not."""
        assert is_busy(RPCError(message, status, b"")) is busy

    @pytest.mark.parametrize(
        ("raised", "expected"),
        [
            (RPCError("workflow update was aborted", RPCStatusCode.UNAVAILABLE, b""), CaseBusy),
            (WorkflowUpdateRPCTimeoutOrCancelledError(), OutcomeUnknown),
        ],
    )
    async def test_record_event_names_them(
        self, raised: Exception, expected: type[Exception]
    ) -> None:
        """``record_event`` turns Temporal's "not now" into CaseBusy and its silence into
        OutcomeUnknown."""

        class Handle:
            async def execute_update(self, *args: Any, **kwargs: Any) -> Any:
                raise raised

        class Client:
            data_converter = None

            def get_workflow_handle_for(self, *args: Any) -> Handle:
                return Handle()

        with pytest.raises(expected):
            await cases.record_event(Client(), CASE, parse_event(cooperation("c-1")))  # type: ignore[arg-type]


# -- the gateway's answers without a server -----------------------------------------------------
@dataclass
class Fake:
    """``record_event`` replaced: each call runs ``behaviour``; ``calls`` counts them."""

    behaviour: Callable[[], Any]
    calls: int = 0

    async def __call__(
        self, client: object, case_id: str, event: object, *, sender: str | None = None
    ) -> Any:
        self.calls += 1
        return await self.behaviour()


async def caritas_leads(gw: object, principal: Any, case_id: str) -> CaseStanding:
    """The standing read before an event is sent, replaced: a running case Caritas leads and
    nobody else is a member of (anyone else gets the 404 of an unknown case)."""
    if principal.role != "caritas":
        raise gateway_dependencies.not_found(case_id)
    return CaseStanding(phase=Phase.IDENTIFIED, roles=frozenset({MemberRole.LEAD_NGO}))


@dataclass
class FakeGateway:
    api: httpx.AsyncClient
    fake: Fake


@pytest_asyncio.fixture
async def fake_gateway(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Callable[..., Awaitable[FakeGateway]]]:
    """Makes a gateway (Temporal unreachable) whose ``record_event`` is a :class:`Fake`, in
    front of a case Caritas leads (:func:`caritas_leads`)."""
    temporal = await unreachable_temporal()
    async with contextlib.AsyncExitStack() as stack:

        async def make(behaviour: Callable[[], Any], **settings: Any) -> FakeGateway:
            fake = Fake(behaviour)
            monkeypatch.setattr(case_routes, "record_event", fake)
            monkeypatch.setattr(case_routes, "member_standing", caritas_leads)
            app = gateway(
                temporal,
                GatewaySettings(pepper=PEPPER, rate_per_second=1000, burst=1000, **settings),
            )
            return FakeGateway(await stack.enter_async_context(http(app)), fake)

        yield make


async def post(api: httpx.AsyncClient, event_id: str) -> httpx.Response:
    return await api.post(
        f"/v1/cases/{CASE}/events", headers=bearer("caritas"), json=cooperation(event_id)
    )


class TestGatewayAnswers:
    async def test_busy_is_tried_again_then_429(self, fake_gateway: Any) -> None:
        """Temporal busy every time: the gateway sends it again a few times, then answers 429
        busy with Retry-After and the case; no 503."""

        async def busy() -> Any:
            raise CaseBusy(CASE)

        g = await fake_gateway(busy, temporal_timeout=5)
        response = await post(g.api, "b-1")
        assert_problem(response, 429, type="urn:pathway:problem:busy", case_id=CASE)
        assert response.headers["retry-after"] == "1"
        assert g.fake.calls == 1 + len(gateway_dependencies.BUSY_PAUSES)

    async def test_busy_once_then_recorded(self, fake_gateway: Any) -> None:
        """Busy once, then accepted: the caller sees only the acceptance."""
        answers: list[Any] = [CaseBusy(CASE)]

        async def once_busy() -> Any:
            if answers:
                raise answers.pop()
            raise cases.UnknownCase(CASE)  # what comes next does not matter: not a 429

        g = await fake_gateway(once_busy, temporal_timeout=5)
        response = await post(g.api, "b-2")
        assert response.status_code != 429 and g.fake.calls == 2

    async def test_a_full_lane_is_429_at_once(self, fake_gateway: Any) -> None:
        """With one event in flight and one waiting, a third for the same case is 429 busy at
        once, and never reaches Temporal."""
        release = asyncio.Event()

        async def slow() -> Any:
            await release.wait()
            raise cases.UnknownCase(CASE)

        g = await fake_gateway(slow, case_in_flight=1, case_queue=1, temporal_timeout=120)
        first = [asyncio.create_task(post(g.api, f"b-{i}")) for i in range(2)]
        lanes = g.api._transport.app.state.gateway.lanes
        await eventually(lambda: lanes.waiting(CASE) == 1, timeout=60)  # one in, one waiting
        response = await post(g.api, "b-3")
        assert_problem(response, 429, type="urn:pathway:problem:busy", case_id=CASE)
        assert g.fake.calls == 1
        release.set()
        await asyncio.gather(*first)
        assert g.fake.calls == 2

    async def test_a_full_lane_tells_a_non_member_nothing(self, fake_gateway: Any) -> None:
        """Review F10: with the case's lane full, a non-member (Ključ) still gets the 404 of
        an unknown case, byte for byte, not 429 busy (which would tell it the case exists and
        is busy), and takes no place in the lane: the membership check comes first."""
        release = asyncio.Event()

        async def slow() -> Any:
            await release.wait()
            raise cases.UnknownCase(CASE)

        g = await fake_gateway(slow, case_in_flight=1, case_queue=1, temporal_timeout=120)
        held = [asyncio.create_task(post(g.api, f"f10-{i}")) for i in range(2)]
        lanes = g.api._transport.app.state.gateway.lanes
        await eventually(lambda: lanes.waiting(CASE) == 1, timeout=60)  # one in, one waiting
        never = "case-" + "z" * 24
        answers = [
            await g.api.post(
                f"/v1/cases/{case_id}/events",
                headers=bearer("kljuc"),
                json=example(
                    "cooperation_recorded",
                    organisation="kljuc",
                    event_id="klj-f10",
                    occurred_at=now(-5),
                ),
            )
            for case_id in (CASE, never)
        ]
        for answer in answers:
            assert_problem(answer, 404, type="urn:pathway:problem:not-found")
        assert answers[0].content == answers[1].content
        assert lanes.waiting(CASE) == 1, "the non-member took no place in the lane"
        release.set()
        await asyncio.gather(*held)
        assert g.fake.calls == 2

    @pytest.mark.parametrize("reachable", [True, False])
    async def test_no_answer_is_504_unless_temporal_is_down(
        self, fake_gateway: Any, monkeypatch: pytest.MonkeyPatch, reachable: bool
    ) -> None:
        """No answer in time: 504 outcome-unknown (send the same event_id again) if Temporal
        still answers, 503 temporal-unavailable only if it does not."""

        async def silent() -> Any:
            await asyncio.sleep(60)

        async def probe(gw: object) -> bool:
            return reachable

        monkeypatch.setattr(gateway_dependencies, "temporal_reachable", probe)
        g = await fake_gateway(silent, temporal_timeout=0.2, retry_after_seconds=3)
        response = await post(g.api, "b-4")
        if reachable:
            body = assert_problem(response, 504, type="urn:pathway:problem:outcome-unknown")
            assert "same event_id" in body["detail"]
        else:
            assert_problem(response, 503, type=TEMPORAL_DOWN)
        assert response.headers["retry-after"] == "3"

    async def test_the_probe_finds_no_temporal(self, fake_gateway: Any) -> None:
        """Without the probe replaced: the unreachable Temporal is found out, so 503."""

        async def unknown() -> Any:
            raise OutcomeUnknown(CASE)

        g = await fake_gateway(unknown, temporal_timeout=2)
        assert_problem(await post(g.api, "b-5"), 503, type=TEMPORAL_DOWN)


# -- the CLI ------------------------------------------------------------------------------------
class TestCli:
    @pytest.mark.usefixtures("cli_state")
    @pytest.mark.parametrize(
        ("raised", "code", "start"),
        [
            (CaseBusy(CASE), cli.EXIT_BUSY, "busy: "),
            (OutcomeUnknown(CASE), cli.EXIT_OUTCOME_UNKNOWN, "error: no answer from"),
        ],
    )
    def test_exit_codes(
        self,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        raised: Exception,
        code: int,
        start: str,
    ) -> None:
        """``pathway case event`` ends busy with exit 7 and an unknown outcome with exit 8,
        each on one line saying what to do; neither is exit 5 (Temporal unreachable)."""

        async def connected(args: Any) -> object:
            return object()

        async def failing(*args: Any) -> Any:
            raise raised

        monkeypatch.setattr(cli_case, "connect", connected)
        monkeypatch.setattr(cases, "record_event", failing)
        event = tmp_path / "event.json"
        event.write_text(json.dumps(cooperation("cli-b")))
        out, err = io.StringIO(), io.StringIO()
        assert cli.run(["case", "event", CASE, str(event)], out, err) == code
        assert err.getvalue().startswith(start) and err.getvalue().count("\n") == 1
        assert "again" in err.getvalue()
        assert {cli.EXIT_BUSY, cli.EXIT_OUTCOME_UNKNOWN}.isdisjoint(
            {cli.EXIT_UNAVAILABLE, cli.EXIT_REJECTED, cli.EXIT_UNKNOWN_CASE, cli.EXIT_INTERNAL}
        )


# -- on the real dev server ---------------------------------------------------------------------
@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of this module's own: SQLite persistence (as `pathway dev`), a real key
    store, and continue-as-new suggested every 40 history events, so a burst of 50 events
    meets it (updates aborted while the case continues as new)."""
    base = tmp_path_factory.mktemp("bursts")
    create_master_key(base / "mk")
    store = SqliteKeyStore(base / "keys.db", MasterKeyRing.from_env_or_dir(base / "mk"))
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        dev_server_startup_timeout=DEV_SERVER_STARTUP,
        dev_server_database_filename=str(base / "temporal.db"),
        ui=False,
        data_converter=data_converter(store),
        search_attributes=list(search_attributes.ALL),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "limit.historyCount.suggestContinueAsNew=40",
        ],
    )
    async with env:
        yield env


@dataclass
class Tally:
    """Every answer the resending clients got: (status, problem type)."""

    answers: list[tuple[int, str | None]] = dataclasses.field(default_factory=list)

    def types(self) -> collections.Counter[tuple[int, str | None]]:
        return collections.Counter(self.answers)


async def resend_until_answered(
    api: httpx.AsyncClient, case_id: str, body: dict[str, Any], tally: Tally
) -> httpx.Response:
    """A client as docs/gateway.md says: on 429, 503 or 504 wait Retry-After and send the same
    event (same event_id) again."""
    for _ in range(40):
        response = await api.post(
            f"/v1/cases/{case_id}/events", headers=bearer("caritas"), json=body
        )
        kind = response.json().get("type") if response.status_code >= 400 else None
        tally.answers.append((response.status_code, kind))
        if response.status_code not in RESEND:
            return response
        await asyncio.sleep(float(response.headers["retry-after"]))
    raise AssertionError(f"{body['event_id']}: no final answer after 40 tries")


async def open_case(api: httpx.AsyncClient, subject_ref: str) -> str:
    """The police identify ``subject_ref``, resending the same identification on 429, 503 and
    504 as docs/gateway.md tells clients (a busy machine may answer the first too late); the
    first answer that is no such is 201, or 200 if an earlier attempt had landed."""
    body = example(
        "identified",
        organisation="police",
        subject_ref=subject_ref,
        event_id=f"police-{subject_ref}",
        occurred_at=now(-10),
    )
    for _ in range(40):
        response = await api.post("/v1/cases", headers=bearer("police"), json=body)
        if response.status_code not in RESEND:
            break
        await asyncio.sleep(float(response.headers["retry-after"]))
    assert response.status_code in (200, 201), response.text
    case_id: str = response.json()["case_id"]
    return case_id


async def burst(
    b: Bench, settings: GatewaySettings, subject_ref: str, n: int = 50
) -> tuple[Tally, list[httpx.Response], str]:
    """``n`` distinct events sent at once to one new case by resending clients."""
    tally = Tally()
    async with http(gateway(b.client, settings)) as api:
        case_id = await open_case(api, subject_ref)
        first_run = (await b.client.get_workflow_handle(case_id).describe()).run_id
        finals = await asyncio.gather(
            *(
                resend_until_answered(api, case_id, cooperation(f"{subject_ref}-{i}"), tally)
                for i in range(n)
            )
        )
    state = await b.state(case_id)
    recorded = collections.Counter(t.event_id for t in state.timeline if t.event_id)
    ids = [f"{subject_ref}-{i}" for i in range(n)]
    assert {i: recorded[i] for i in ids} == dict.fromkeys(ids, 1), "each event exactly once"
    assert all(r.status_code == 200 for r in finals), [
        r.text for r in finals if r.status_code != 200
    ]
    assert (await b.client.get_workflow_handle(case_id).describe()).run_id != first_run, (
        "the burst should have met a continue-as-new"
    )
    assert not [a for a in tally.answers if a[1] == TEMPORAL_DOWN], tally.types()
    return tally, finals, case_id


def settings_for(b: Bench, **changes: Any) -> GatewaySettings:
    return GatewaySettings(
        pepper=PEPPER,
        task_queue=b.task_queue,
        case_config=b.config,
        rate_per_second=1000,
        burst=1000,
        retry_after_seconds=1,
        **changes,
    )


@pytest.mark.devserver
class TestBurstsOnTheDevServer:
    async def test_fifty_at_once_are_absorbed(self, server: WorkflowEnvironment) -> None:
        """50 distinct events at once to one case, default lanes: every event recorded exactly
        once after clients resend as documented, the case continued as new meanwhile, and no
        answer claims an outage. (On an idle machine each is 200 at the first try; on a busy
        one an answer may take longer than the gateway's Temporal timeout and come back as
        outcome-unknown or busy, which the client resends: that is the documented contract,
        not a failure.)"""
        async with bench(server, upsert_search_attributes=True) as b:
            tally, finals, _ = await burst(b, settings_for(b), "burst-default")
        assert set(tally.types()) <= {
            (200, None),
            (429, "urn:pathway:problem:busy"),
            (504, "urn:pathway:problem:outcome-unknown"),
        }, tally.types()
        assert len(finals) == 50 and all(r.status_code == 200 for r in finals)

    async def test_fifty_at_once_past_a_small_lane(self, server: WorkflowEnvironment) -> None:
        """The same burst past a lane of 4 in flight and 8 waiting, with 3 s of patience: the
        rest are told 429 busy, come back after Retry-After, and every event is recorded exactly
        once; no answer claims an outage."""
        async with bench(server, upsert_search_attributes=True) as b:
            settings = settings_for(b, case_in_flight=4, case_queue=8, temporal_timeout=3)
            tally, _, _ = await burst(b, settings, "burst-small")
        assert tally.types()[(429, "urn:pathway:problem:busy")] > 0, tally.types()
        assert set(tally.types()) <= {
            (200, None),
            (429, "urn:pathway:problem:busy"),
            (504, "urn:pathway:problem:outcome-unknown"),
        }, tally.types()

    async def test_no_answer_while_temporal_is_up(self, server: WorkflowEnvironment) -> None:
        """The case's worker is gone: an event gets no answer, and since Temporal is up the
        answer is 504 outcome-unknown, not 503. With the worker back, the same event sent again
        is recorded, exactly once (whether the first attempt landed or not)."""
        event = cooperation("na-1")  # the same event, byte for byte, each time it is sent
        async with bench(server, upsert_search_attributes=True) as b:
            settings = settings_for(b, temporal_timeout=2)
            async with http(gateway(b.client, settings)) as api:
                case_id = await open_case(api, "no-answer")
        async with http(gateway(b.client, settings)) as api:
            response = await api.post(
                f"/v1/cases/{case_id}/events", headers=bearer("caritas"), json=event
            )
            body = assert_problem(response, 504, type="urn:pathway:problem:outcome-unknown")
            assert "same event_id" in body["detail"] and response.headers["retry-after"] == "1"
        async with (
            bench(server, upsert_search_attributes=True, queue=b.task_queue) as again,
            http(gateway(again.client, settings_for(again))) as api,
        ):
            tally = Tally()
            final = await resend_until_answered(api, case_id, event, tally)
            assert final.status_code == 200, final.text
            state = await again.state(case_id)
        assert [t.event_id for t in state.timeline].count("na-1") == 1
