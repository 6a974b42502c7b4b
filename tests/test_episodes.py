"""A person's case across runs (issue 12), on the real dev server with a real key store:
episodes, re-identification, rejected identifications, and the retention sweep racing them."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.workflowservice.v1 import (
    QueryWorkflowRequest,
    SignalWorkflowExecutionRequest,
)
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import SerializationContext
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from pathway import search_attributes
from pathway.access.credentials import Principal
from pathway.cli.report import _cases as report_cases
from pathway.clients import cases
from pathway.clients.cases import EventRejected, change_membership, current_run
from pathway.codec_server import Grant, RoleCaseAccess
from pathway.dev import member_roles_in_case
from pathway.domain.calendar import LJUBLJANA
from pathway.domain.events import Identified, RecordEvent
from pathway.domain.ids import case_id_for
from pathway.domain.membership import MemberRole
from pathway.domain.organisations import Organisation
from pathway.domain.statistics import YearlyReport, yearly_report
from pathway.privacy.codec import CIPHER, ENCODING, META_CIPHER, META_KEY_ID, CaseCodec
from pathway.privacy.erasure import erase_case, erase_expired
from pathway.privacy.history import decode_history
from pathway.privacy.keys import (
    CaseErased,
    MasterKeyRing,
    SqliteKeyStore,
    create_master_key,
    scope_of,
)
from pathway.privacy.sealing import META_EPISODE
from pathway.temporal_binaries import temporal_cli_path
from pathway.temporal_connection import data_converter
from tests.factories import EU_ADULT, event
from tests.harness import PEPPER, Bench, bench
from tests.receivers import DEV_SERVER_STARTUP, eventually
from tests.test_erasure import Deployment, deployment
from tests.test_gateway_membership import kljuc_referral

pytestmark = pytest.mark.devserver

__all__ = ["deployment"]  # the fixture, shared with tests/test_erasure.py


def identification(when: datetime, ref: str, organisation: str = "police") -> Identified:
    ident = event(
        "identified",
        when,
        person=dict(EU_ADULT),
        subject_ref=ref,
        organisation=organisation,
        reason="CANARY-reason-" + ref,
    )
    assert isinstance(ident, Identified)
    return ident


async def identify(b: Bench, ref: str) -> str:
    case_id, result = await b.open(identification(await b.now(), ref))
    assert not result.duplicate
    await b.settled(case_id)
    return case_id


async def close(b: Bench, case_id: str) -> str:
    """Close the case; the run ID of the run that closed."""
    run_id = (await b.client.get_workflow_handle(case_id).describe()).run_id
    await b.send(case_id, event("case_closed", await b.now(), organisation="caritas"))
    await b.client.get_workflow_handle(case_id, run_id=run_id).result()
    return run_id


async def run_history(client: Client, case_id: str, run_id: str) -> History:
    codec = client.data_converter.payload_codec
    assert codec is not None
    raw = await client.get_workflow_handle(case_id, run_id=run_id).fetch_history()
    return await decode_history(History(events=raw.events), codec)


async def sweep(b: Bench, d: Deployment) -> list[tuple[str, int]]:
    found = await erase_expired(
        b.client, d.store, retention=timedelta(0), now=datetime.now(UTC) + timedelta(seconds=1)
    )
    return [(e.case_id, e.episode) for e in found]


class TestReidentification:
    async def test_retention_of_the_first_episode_leaves_the_second_running(
        self, deployment: Deployment
    ) -> None:
        """Identified, closed, identified again: retention due for the first episode erases
        that episode only; the second stays readable and its timers fire (the rights
        information deadline escalates, R3)."""
        async with bench(
            deployment.env,
            upsert_search_attributes=True,
            rights_information_sla=timedelta(seconds=20),
        ) as b:
            case_id = await identify(b, "ep-timers")
            first_run = await close(b, case_id)
            assert await identify(b, "ep-timers") == case_id
            await b.send(case_id, event("ngo_interview_held", await b.now()))
            second_run = (await current_run(b.client, case_id)) or pytest.fail("no run")
            assert second_run.running and second_run.run_id != first_run

            assert await sweep(b, deployment) == [(case_id, 1)]
            with pytest.raises(CaseErased):
                await run_history(b.client, case_id, first_run)
            assert (
                b"CANARY-reason-ep-timers"
                in (await run_history(b.client, case_id, second_run.run_id)).SerializeToString()
            )
            assert (await b.state(case_id)).opened_at is not None
            now = await current_run(b.client, case_id)
            assert now is not None and now.running and now.run_id == second_run.run_id

            def escalated() -> bool:
                # The first episode closed within seconds, before any escalation was due.
                mine = {r.reason for r in b.received() if r.key.startswith(case_id + ":")}
                return "rights_information_escalation" in mine

            await eventually(escalated, timeout=120)
            assert [(e.number, e.erased) for e in deployment.store.episodes(case_id)] == [
                (1, True),
                (2, False),
            ]

    async def test_erased_person_identified_again_gets_a_new_episode(
        self, deployment: Deployment
    ) -> None:
        """Erasure, then a new identification of the same person: accepted (R1), in a new
        episode with a new key; the old episode stays unreadable."""
        async with bench(deployment.env, upsert_search_attributes=True) as b:
            case_id = await identify(b, "ep-erased")
            old_run = (await b.client.get_workflow_handle(case_id).describe()).run_id
            erasure = await erase_case(b.client, deployment.store, case_id, by="dpo", why="request")
            assert erasure.was_running and erasure.episodes == (1,)
            assert erasure.run_id == old_run

            assert await identify(b, "ep-erased") == case_id
            episodes = deployment.store.episodes(case_id)
            assert [(e.number, e.erased) for e in episodes] == [(1, True), (2, False)]
            assert (await b.state(case_id)).opened_at is not None
            with pytest.raises(CaseErased):
                await run_history(b.client, case_id, old_run)
            current = await current_run(b.client, case_id)
            assert current is not None and current.running

    async def test_identified_as_the_case_closes_opens_a_new_episode(
        self, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The narrow race of issue 12 item 1: the identification sees the person's run running,
        and the run closes before the identification reaches it. Temporal refuses to start a
        run in its place (the identification meant to join one), the client looks again, and
        the identification opens the next episode, recording the run that closed the first."""
        async with bench(deployment.env, upsert_search_attributes=True) as b:
            case_id = await identify(b, "ep-closing")
            closed_run = await close(b, case_id)
            real = cases.current_run
            looks: list[str] = []

            async def seen_before_the_close(client: Client, case: str) -> cases.CurrentRun | None:
                found = await real(client, case)
                if not looks and found is not None:
                    looks.append("stale")  # the first look is from before the close
                    return cases.CurrentRun(found.run_id, WorkflowExecutionStatus.RUNNING, None)
                looks.append("real")
                return found

            monkeypatch.setattr(cases, "current_run", seen_before_the_close)
            assert await identify(b, "ep-closing") == case_id
            assert looks == ["stale", "real"]
            episodes = deployment.store.episodes(case_id)
            assert [(e.number, e.closed_run) for e in episodes] == [(1, closed_run), (2, None)]
            current = await real(b.client, case_id)
            assert current is not None and current.running
            answer = await raw_state_answer(b.client, case_id, current.run_id)
            assert answer.metadata[META_KEY_ID] == f"{case_id}/e2/dk1".encode()

    async def test_an_episode_opened_by_a_concurrent_identification_is_joined(
        self, deployment: Deployment
    ) -> None:
        """Two identifications at once: the first opened the episode and has not started its
        run yet when the second looks. The second belongs to that episode (no other is opened,
        whose key the run would refuse), first for a new person, then after a closure."""
        async with bench(deployment.env, upsert_search_attributes=True) as b:
            case_id = case_id_for("ep-concurrent", PEPPER)
            deployment.store.open_episode(case_id, after=0)  # the first, before its start
            assert await identify(b, "ep-concurrent") == case_id
            assert [e.number for e in deployment.store.episodes(case_id)] == [1]

            closed_run = await close(b, case_id)
            deployment.store.open_episode(case_id, after=1, closed_run=closed_run)
            assert await identify(b, "ep-concurrent") == case_id
            assert [e.number for e in deployment.store.episodes(case_id)] == [1, 2]
            current = await current_run(b.client, case_id)
            assert current is not None and current.running
            answer = await raw_state_answer(b.client, case_id, current.run_id)
            assert answer.metadata[META_KEY_ID] == f"{case_id}/e2/dk1".encode()


class TestRejectedIdentification:
    async def test_a_rejected_identification_starts_nothing(self, deployment: Deployment) -> None:
        """Rejected (Caritas may not identify: ACCESS, R1) for a new person and for a person whose
        episode closed: no run, no key, no episode. Then the police identify the same person
        and the sweep runs: the live episode is untouched."""
        async with bench(deployment.env, upsert_search_attributes=True) as b:
            fresh_id = case_id_for("ep-rejected-new", PEPPER)
            with pytest.raises(EventRejected, match="may not send identified"):
                await b.open(identification(await b.now(), "ep-rejected-new", "caritas"))
            assert await current_run(b.client, fresh_id) is None
            assert deployment.store.episodes(fresh_id) == []

            case_id = await identify(b, "ep-rejected")
            closed_run = await close(b, case_id)
            with pytest.raises(EventRejected, match="may not send identified"):
                await b.open(identification(await b.now(), "ep-rejected", "caritas"))
            after = await current_run(b.client, case_id)
            assert after is not None and after.run_id == closed_run  # no stray run
            assert [e.number for e in deployment.store.episodes(case_id)] == [1]

            assert await identify(b, "ep-rejected") == case_id
            live = await current_run(b.client, case_id)
            assert live is not None and live.running
            assert await sweep(b, deployment) == [(case_id, 1)]
            still = await current_run(b.client, case_id)
            assert still is not None and still.running and still.run_id == live.run_id
            assert not deployment.store.is_destroyed(case_id)
            assert (await b.state(case_id)).opened_at is not None


class TestSweepRace:
    async def test_reidentification_racing_the_sweep_never_loses_the_live_episode(
        self, deployment: Deployment
    ) -> None:
        """For several closed cases due for retention, the person's re-identification and the
        sweep run at once, in both orders of starting: whatever the interleaving, the new
        episode's run is running, its key is whole and its state reads; the closed episode
        is erased by this sweep or the next."""
        async with bench(deployment.env, upsert_search_attributes=True) as b:
            refs = [f"ep-race-{i}" for i in range(4)]
            ids = [await identify(b, ref) for ref in refs]
            for case_id in ids:
                await close(b, case_id)

            async def again(ref: str) -> str:
                case_id, _ = await b.open(identification(await b.now(), ref))
                return case_id

            sweeper = sweep(b, deployment)
            reopened = [again(ref) for ref in refs]
            results = await asyncio.gather(
                *reopened[:2], sweeper, *reopened[2:], return_exceptions=True
            )
            assert not [r for r in results if isinstance(r, BaseException)], results
            await sweep(b, deployment)
            for case_id in ids:
                run = await current_run(b.client, case_id)
                assert run is not None and run.running, case_id
                episodes = deployment.store.episodes(case_id)
                assert [(e.number, e.erased) for e in episodes] == [(1, True), (2, False)]
                state = await b.settled(case_id)
                assert state.opened_at is not None
                described = await b.client.get_workflow_handle(case_id).describe()
                assert described.status is WorkflowExecutionStatus.RUNNING


class TestReport:
    async def test_report_counts_cases_not_runs_and_skips_erased_episodes(
        self, tmp_path: Path
    ) -> None:
        """With the server suggesting continue-as-new at 60 history events: a person placed
        once whose case continued as new several times, and a person placed in each of two
        episodes, each count once; an erased person's episode is skipped and counted as
        skipped, and the report does not fail (issue 12 item 4)."""
        create_master_key(tmp_path / "mk")
        store = SqliteKeyStore(tmp_path / "keys.db", MasterKeyRing.from_env_or_dir(tmp_path / "mk"))
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(temporal_cli_path()),
            dev_server_startup_timeout=DEV_SERVER_STARTUP,
            ui=False,
            data_converter=data_converter(store),
            search_attributes=list(search_attributes.ALL),
            dev_server_extra_args=[
                "--dynamic-config-value",
                "limit.historyCount.suggestContinueAsNew=60",
            ],
        )
        async with env, bench(env, upsert_search_attributes=True) as b:

            async def placed(ref: str) -> str:
                case_id = await identify(b, ref)
                await b.send(case_id, event("ngo_interview_held", await b.now()))
                await b.send(case_id, event("crisis_accommodation_placed", await b.now()))
                return case_id

            long_id = await placed("rep-long")
            first_run = (await b.client.get_workflow_handle(long_id).describe()).run_id
            for i in range(150):
                await b.send(
                    long_id,
                    event("cooperation_recorded", await b.now(), willing_to_cooperate=i % 2 == 0),
                )
            runs = [r async for r in b.client.list_workflows(f"WorkflowId = '{long_id}'")]
            assert len(runs) >= 3 and runs[0].run_id != first_run  # continued as new

            twice_id = await placed("rep-twice")
            await close(b, twice_id)
            assert await placed("rep-twice") == twice_id
            assert [e.number for e in store.episodes(twice_id)] == [1, 2]

            erased_id = await placed("rep-erased")
            await erase_case(b.client, store, erased_id, by="dpo", why="request")

            year = (await b.now()).astimezone(LJUBLJANA).year

            async def report() -> YearlyReport:
                states, skipped = await report_cases(b.client)
                figures = yearly_report(year, states)
                figures.skipped_erased = skipped
                return figures

            figures = await report()
            assert figures.crisis_accommodation.persons == 2
            assert figures.skipped_erased == 1


class TestEpisodeMembership:
    async def test_a_member_of_a_later_episode_decodes_nothing_of_an_earlier_one(
        self, deployment: Deployment
    ) -> None:
        """Issue 12 (the new episode may see that an earlier one existed, nothing more): Ključ,
        made a member of the second episode by the operator, decodes that episode's payloads
        (filtered, as any member) and none of the first's, whose members (Caritas) still do."""
        async with bench(deployment.env, upsert_search_attributes=True) as b:
            case_id = await identify(b, "ep-members")
            await close(b, case_id)
            assert await identify(b, "ep-members") == case_id
            await change_membership(
                b.client,
                case_id,
                kljuc_referral("add", "Ticket 12"),
            )
            first, second = (e.scope for e in deployment.store.episodes(case_id))
            access = RoleCaseAccess(partial(member_roles_in_case, b.client), deployment.store)
            kljuc = Principal(organisation=Organisation.KLJUC.value, name="k")
            caritas = Principal(organisation=Organisation.CARITAS.value, name="c")
            assert await access.grant(kljuc, second) is Grant.FILTERED
            assert await access.grant(kljuc, first) is Grant.NONE
            assert await access.grant(caritas, first) is Grant.FILTERED
            assert await member_roles_in_case(b.client, f"{case_id}/e1", "kljuc") == frozenset()
            assert MemberRole.REFERRED in await member_roles_in_case(
                b.client, f"{case_id}/e2", "kljuc"
            )


async def raw_state_answer(client: Client, case_id: str, run_id: str) -> Payload:
    """The state query's answer from run ``run_id`` as Temporal carries it: sealed, undecoded."""
    response = await client.workflow_service.query_workflow(
        QueryWorkflowRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=case_id, run_id=run_id),
            query=WorkflowQuery(query_type="state"),
        )
    )
    (answer,) = response.query_result.payloads
    return answer


class TestEachRunSealsUnderItsEpisode:
    """Review findings 3 and 4 of issue 11: a query answer of a case run is sealed under its own
    episode's key (pathway/privacy/sealing.py), never under the case's current one."""

    async def test_an_earlier_episodes_closed_run_answers_under_its_own_key(
        self, deployment: Deployment
    ) -> None:
        """A query on the first episode's closed run, asked after the second opened, comes back
        sealed under the first episode's key: Ključ, a member of the second episode only, may
        not decode it; the second episode's run answers under the second's key."""
        async with bench(deployment.env, upsert_search_attributes=True) as b:
            case_id = await identify(b, "ep-sealed")
            first_run = await close(b, case_id)
            assert await identify(b, "ep-sealed") == case_id
            await change_membership(b.client, case_id, kljuc_referral("add", "Ticket 13"))
            second_run = (await current_run(b.client, case_id)) or pytest.fail("no run")

            old = await raw_state_answer(b.client, case_id, first_run)
            new = await raw_state_answer(b.client, case_id, second_run.run_id)
            assert old.metadata[META_KEY_ID] == f"{case_id}/dk1".encode()
            assert new.metadata[META_KEY_ID] == f"{case_id}/e2/dk1".encode()
            codec = b.client.data_converter.payload_codec
            assert codec is not None
            (inner,) = await codec.decode([old])
            assert META_EPISODE not in inner.metadata  # the stamp stays in the worker

            access = RoleCaseAccess(partial(member_roles_in_case, b.client), deployment.store)
            kljuc = Principal(organisation=Organisation.KLJUC.value, name="k")
            assert await access.grant(kljuc, scope_of(old.metadata[META_KEY_ID].decode())) is (
                Grant.NONE
            )

    async def test_an_erased_run_answers_nothing(self, deployment: Deployment) -> None:
        """Erased while a worker still holds the run in its cache, then the person identified
        again: a query on the erased run fails (its key is destroyed); it is not answered
        under the new episode's key."""
        async with bench(deployment.env, upsert_search_attributes=True) as b:
            case_id = await identify(b, "ep-erased-query")
            old_run = (await b.client.get_workflow_handle(case_id).describe()).run_id
            await erase_case(b.client, deployment.store, case_id, by="dpo", why="request")
            assert await identify(b, "ep-erased-query") == case_id

            with pytest.raises(RPCError):
                await raw_state_answer(b.client, case_id, old_run)
            current = await current_run(b.client, case_id)
            assert current is not None and current.running
            answer = await raw_state_answer(b.client, case_id, current.run_id)
            assert answer.metadata[META_KEY_ID] == f"{case_id}/e2/dk1".encode()

    async def test_an_earlier_episodes_payload_is_refused_by_a_later_run(
        self, deployment: Deployment
    ) -> None:
        """Review finding 1 of issue 11: an update sealed under the first episode's key (a copy
        from its history, handed over with the ``temporal`` CLI, say) is rejected by the second
        episode's run and records nothing; sealed under the second's, the same event is
        recorded."""
        async with bench(deployment.env, upsert_search_attributes=True) as b:
            case_id = await identify(b, "ep-copied")
            await close(b, case_id)
            assert await identify(b, "ep-copied") == case_id

            class SealedFor(CaseCodec):
                """Seals every payload under one episode's key, whatever the context."""

                def with_context(self, context: SerializationContext) -> SealedFor:
                    return self

            async def sealed_for(episode: str) -> Client:
                config = b.client.service_client.config
                return await Client.connect(
                    config.target_host,
                    namespace=b.client.namespace,
                    data_converter=dataclasses.replace(
                        pydantic_data_converter,
                        payload_codec=SealedFor(deployment.store, episode),
                    ),
                )

            coop = event(
                "cooperation_recorded",
                await b.now(),
                event_id="ep-copied-coop",
                willing_to_cooperate=True,
            )
            request = RecordEvent(event=coop)
            earlier = await sealed_for(f"{case_id}/e1")
            with pytest.raises(WorkflowUpdateFailedError):
                await earlier.get_workflow_handle(case_id).execute_update("record_event", request)
            assert "ep-copied-coop" not in (await b.state(case_id)).processed
            current = await sealed_for(f"{case_id}/e2")
            await current.get_workflow_handle(case_id).execute_update("record_event", request)
            assert "ep-copied-coop" in (await b.state(case_id)).processed


class TestForgedInput:
    async def test_a_forged_signal_does_not_stop_the_case(self, deployment: Deployment) -> None:
        """Review of issue 11: whoever reaches Temporal sends a signal carrying bytes dressed as
        a sealed payload of the case. The case's worker refuses it (dropped, as a signal whose
        argument does not convert), and the case goes on: it answers and records events."""
        async with bench(deployment.env, upsert_search_attributes=True) as b:
            case_id = await identify(b, "ep-forged-signal")
            for key_id in (f"{case_id}/dk1", f"{case_id}/e²/dk1"):
                await b.client.workflow_service.signal_workflow_execution(
                    SignalWorkflowExecutionRequest(
                        namespace=b.client.namespace,
                        workflow_execution=WorkflowExecution(workflow_id=case_id),
                        signal_name="anything",
                        input=Payloads(
                            payloads=[
                                Payload(
                                    metadata={
                                        "encoding": ENCODING,
                                        META_KEY_ID: key_id.encode(),
                                        META_CIPHER: CIPHER,
                                    },
                                    data=bytes(60),
                                )
                            ]
                        ),
                        identity="attacker",
                    )
                )
            interview = event("ngo_interview_held", await b.now(), event_id="ep-forged-after")
            result = await asyncio.wait_for(b.send(case_id, interview), timeout=120)
            assert not result.duplicate
            assert "ep-forged-after" in (await b.state(case_id)).processed
            history = await b.client.get_workflow_handle(case_id).fetch_history()
            failed = [
                e
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
            ]
            assert failed == []
