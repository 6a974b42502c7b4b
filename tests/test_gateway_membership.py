"""Membership at the gateway (issue 11, items 2 and 3), against the real Temporal dev server:
sending an event grants nothing, exits come from the lead NGO, and a non-member gets the same
404, byte for byte, for an existing, an erased and a non-existent case, whatever it asks."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal

import httpx
import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import SerializationContext

from pathway.access.credentials import OPERATOR
from pathway.access.policy import NOT_A_MEMBER_FIELD
from pathway.clients.cases import EventRejected, case_standing, change_membership, record_event
from pathway.domain.events import RecordEvent, parse_event
from pathway.domain.membership import MemberRole, MembershipChange
from pathway.domain.organisations import Organisation as Org
from pathway.domain.state import CaseStanding, CaseState, Phase
from pathway.gateway._reads import SharedReads
from pathway.privacy.codec import CaseCodec
from pathway.privacy.erasure import erase_case
from tests import test_gateway
from tests.gateway_kit import assert_problem, bearer, gateway, http
from tests.test_gateway import Deployment, Service, event, open_case, send

#: The dev server and the gateway of tests/test_gateway.py (this module gets its own).
deployment = test_gateway.deployment
service = test_gateway.service

pytestmark = pytest.mark.devserver

#: A case ID nothing was ever opened under.
NEVER: str = "case-" + "c" * 24

#: What Ključ, a member of none of these cases, sends: ordinary events, every exit, and ones
#: that would break a rule if it were checked (an interview and a reflection period by an NGO
#: that does not lead the case, a reused event_id).
KLJUC_EVENTS: list[dict[str, Any]] = [
    event("cooperation_recorded", "kljuc", "klj-coop"),
    event("case_closed", "kljuc", "klj-close"),
    event("departed", "kljuc", "klj-departed", arbitrary=True),
    event("returned_home", "kljuc", "klj-home"),
    event("ngo_interview_held", "kljuc", "klj-interview"),
    event("reflection_period_started", "kljuc", "klj-reflection"),
    event("facts_updated", "kljuc", "police-gw-m-existing"),
]


async def requests(s: Service, case_id: str, role: str) -> list[httpx.Response]:
    """Every request ``role`` can make about ``case_id``: both reads and each event."""
    answers = [
        await s.http.get(f"/v1/cases/{case_id}", headers=bearer(role)),
        await s.http.get(f"/v1/cases/{case_id}/timeline", headers=bearer(role)),
    ]
    for body in KLJUC_EVENTS:
        answers.append(await send(s, case_id, role, body))
    return answers


def body(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


#: Requests UOIM (a member of none of these cases) can get refused before any case is looked up
#: (review F1): (what, body, content type, the refusal's status). Each must be answered the same,
#: byte for byte, for an existing, an erased and an unknown case.
REFUSED_BEFORE_THE_CASE: list[tuple[str, bytes, str, int]] = [
    ("malformed JSON", b'{"type": "cooperation_recorded",', "application/json", 400),
    ("not JSON at all", b"\xff\xfe", "application/json", 400),
    (
        "invalid event (a field missing)",
        body(
            {
                k: v
                for k, v in event("cooperation_recorded", "uoim", "u-bad").items()
                if k != "willing_to_cooperate"
            }
        ),
        "application/json",
        422,
    ),
    ("unknown event type", body({"type": "nonsense", "event_id": "u-x"}), "application/json", 422),
    (
        "an identification (opens a case, not sent to one)",
        body(event("identified", "uoim", "u-identified")),
        "application/json",
        422,
    ),
    (
        "send matrix refuses (case_closed by UOIM)",
        body(event("case_closed", "uoim", "u-close")),
        "application/json",
        403,
    ),
    (
        "another organisation named",
        body(event("cooperation_recorded", "caritas", "u-as-caritas")),
        "application/json",
        403,
    ),
    (
        "wrong content type",
        body(event("cooperation_recorded", "uoim", "u-text")),
        "text/plain",
        415,
    ),
    ("body too large", b'{"a": "' + b"x" * 70_000 + b'"}', "application/json", 413),
]


class TestIndistinguishable:
    async def test_existing_erased_and_unknown_answer_alike(
        self, service: Service, deployment: Deployment
    ) -> None:
        """Ključ gets 404 and the same bytes for a Caritas-led case, an erased case and a case
        that never was, on every route and for every event; the operator learns of the
        erasure (410), Ključ does not; the existing case is unchanged."""
        existing = await open_case(service, "gw-m-existing")
        gone = await open_case(service, "gw-m-erased")
        await erase_case(service.client, deployment.store, gone, by="dpo", why="request")
        before = await service.bench.settled(existing)

        per_case = [await requests(service, c, "kljuc") for c in (existing, gone, NEVER)]
        for answers in zip(*per_case, strict=True):
            for answer in answers:
                assert_problem(answer, 404, type="urn:pathway:problem:not-found")
            assert len({a.content for a in answers}) == 1, [a.text for a in answers]
            assert len({a.headers["content-type"] for a in answers}) == 1

        assert_problem(await service.http.get(f"/v1/cases/{gone}", headers=bearer(OPERATOR)), 410)
        after = await service.state(existing)
        assert after.timeline == before.timeline and after.phase is before.phase
        assert not any(k.startswith("klj-") for k in after.processed)
        # Events that would break a rule leave no rejection noted either (issue 17 item 3).
        assert after.rejections == before.rejections == []

    async def test_refusals_before_the_case_answer_alike(
        self, service: Service, deployment: Deployment
    ) -> None:
        """Review F1: UOIM gets the same answer, byte for byte (status, headers that matter,
        body), for an existing, an erased and an unknown case, for a malformed body, an invalid
        event, a send-matrix refusal, another organisation named, a wrong content type and an
        oversized body: the refusal of the request, never a 404 that would single out the
        erased case. The operator still learns of the erasure (410, before the body)."""
        existing = await open_case(service, "gw-m-refused-existing")
        gone = await open_case(service, "gw-m-refused-erased")
        await erase_case(service.client, deployment.store, gone, by="dpo", why="request")

        for what, content, content_type, status in REFUSED_BEFORE_THE_CASE:
            answers = [
                await service.http.post(
                    f"/v1/cases/{case_id}/events",
                    headers={**bearer("uoim"), "Content-Type": content_type},
                    content=content,
                )
                for case_id in (existing, gone, NEVER)
            ]
            for answer in answers:
                assert_problem(answer, status)
            assert len({a.content for a in answers}) == 1, (what, [a.text for a in answers])
            assert len({a.headers["content-type"] for a in answers}) == 1, what

        for content, content_type, _status in [r[1:] for r in REFUSED_BEFORE_THE_CASE]:
            answer = await service.http.post(
                f"/v1/cases/{gone}/events",
                headers={**bearer(OPERATOR), "Content-Type": content_type},
                content=content,
            )
            assert_problem(answer, 410, type="urn:pathway:problem:case-erased")
        assert "u-bad" not in (await service.state(existing)).processed


class TestErasedToFormerMembers:
    async def test_former_members_learn_of_the_erasure_and_no_one_else(
        self, service: Service, deployment: Deployment
    ) -> None:
        """Issue 11: an erased case answers 410 to the operator and to the organisations that
        held a role in it (kept beside the destroyed key), and 404 to everyone else."""
        gone = await open_case(service, "gw-m-former")
        members = {m.organisation.value for m in (await service.state(gone)).membership}
        erasure = await erase_case(service.client, deployment.store, gone, by="dpo", why="request")
        assert erasure.former_members == members
        assert deployment.store.former_members(gone) == members
        assert "caritas" in members and "kljuc" not in members

        for role in sorted(members):
            answer = await service.http.get(f"/v1/cases/{gone}", headers=bearer(role))
            assert_problem(answer, 410, type="urn:pathway:problem:case-erased")
        outsider = await service.http.get(f"/v1/cases/{gone}", headers=bearer("kljuc"))
        never = await service.http.get(f"/v1/cases/{NEVER}", headers=bearer("kljuc"))
        assert_problem(outsider, 404)
        assert outsider.content == never.content


class TestSendingGrantsNothing:
    async def test_read_by_sending(self, service: Service) -> None:
        """The issue's attack: Ključ, not a member of a Caritas-led case, sends
        cooperation_recorded (404, not recorded) and still cannot read the case."""
        case_id = await open_case(service, "gw-m-read-by-sending")
        sent = await send(
            service, case_id, "kljuc", event("cooperation_recorded", "kljuc", "klj-coop-1")
        )
        assert_problem(sent, 404)
        for path in (f"/v1/cases/{case_id}", f"/v1/cases/{case_id}/timeline"):
            assert_problem(await service.http.get(path, headers=bearer("kljuc")), 404)
        state = await service.state(case_id)
        assert "klj-coop-1" not in state.processed
        assert not state.roles_of("kljuc")

    async def test_close_by_sending(self, service: Service) -> None:
        """Ključ sends case_closed to a Caritas-led case: 404, and the case stays open with
        its deadlines."""
        case_id = await open_case(service, "gw-m-close-by-sending")
        before = await service.bench.settled(case_id)
        closing = await send(service, case_id, "kljuc", event("case_closed", "kljuc", "klj-c"))
        assert_problem(closing, 404)
        after = await service.state(case_id)
        assert after.phase is not Phase.CLOSED
        assert after.deadlines.keys() == before.deadlines.keys()
        assert "klj-c" not in after.processed

    async def test_a_rule_makes_a_member_and_only_the_lead_ngo_closes(
        self, service: Service
    ) -> None:
        """Caritas refers the person to Ključ for safe accommodation (K5): Ključ becomes a
        member and reads the case. It may send case_closed by role, but does not lead the
        case: 403, rule ACCESS, and the case stays open. The lead NGO closes it."""
        case_id = await open_case(service, "gw-m-lead-closes")
        assert (await service.state(case_id)).lead_ngo.value == "caritas"
        referral = event(
            "further_support_decided", "caritas", "c-refer", option="safe_accommodation"
        )
        referred = await send(service, case_id, "caritas", referral)
        assert referred.status_code == 200, referred.text
        reading = await service.http.get(f"/v1/cases/{case_id}", headers=bearer("kljuc"))
        assert reading.status_code == 200, reading.text

        closing = await send(service, case_id, "kljuc", event("case_closed", "kljuc", "klj-c2"))
        assert_problem(closing, 403, rule="ACCESS", field="type")
        assert (await service.state(case_id)).phase is not Phase.CLOSED

        closing = await send(service, case_id, "caritas", event("case_closed", "caritas", "c-c"))
        assert closing.status_code == 200, closing.text
        assert (await service.state(case_id)).phase is Phase.CLOSED


def kljuc_referral(action: Literal["add", "remove"], why: str) -> MembershipChange:
    """The operator's change of Ključ's role as referred (MEMBERS), with ``why``."""
    return MembershipChange(
        action=action, organisation=Org.KLJUC, role=MemberRole.REFERRED, why=why, by="ops-1"
    )


class TestTheCaseChecksTheSender:
    """Issue 11: the case itself checks who sends an event, against the membership the event
    would be recorded under (``send_refusal`` in the update validator), so a member removed
    after the gateway's own check records nothing, however stale that check was."""

    async def _with_kljuc_referred(self, service: Service, subject_ref: str) -> str:
        case_id = await open_case(service, subject_ref)
        await change_membership(
            service.client,
            case_id,
            kljuc_referral("add", "Ticket 11"),
        )
        return case_id

    async def test_the_workflow_refuses_a_sender_that_is_no_member(self, service: Service) -> None:
        case_id = await open_case(service, "gw-m-validator")
        coop = parse_event(event("cooperation_recorded", "kljuc", "klj-direct"))
        with pytest.raises(EventRejected) as refused:
            await record_event(service.client, case_id, coop, sender="kljuc")
        assert (refused.value.rule, refused.value.field) == ("ACCESS", NOT_A_MEMBER_FIELD)
        closing = parse_event(event("case_closed", "caritas", "c-by-other"))
        with pytest.raises(EventRejected) as forbidden:
            await record_event(service.client, case_id, closing, sender="police")
        assert (forbidden.value.rule, forbidden.value.field) == ("ACCESS", "type")
        state = await service.state(case_id)
        assert {"klj-direct", "c-by-other"}.isdisjoint(state.processed)
        # A member's event, with the same check, is recorded.
        coop_ok = parse_event(event("cooperation_recorded", "caritas", "c-direct"))
        await record_event(service.client, case_id, coop_ok, sender="caritas")
        assert "c-direct" in (await service.state(case_id)).processed

    async def test_the_standing_query_answers_the_roles_and_the_phase(
        self, service: Service
    ) -> None:
        """The gateway's check before an event reads only the caller's standing (issue 14):
        the lead NGO's and the police's roles as the membership records them, none for a
        non-member or the operator, the case's phase; and after the lead NGO closes the case,
        the closed phase (the 409 CASE of a closed case to its members)."""
        case_id = await open_case(service, "gw-m-standing")
        state = await service.state(case_id)
        for organisation in ("caritas", "police", "kljuc", OPERATOR):
            standing = await case_standing(service.client, case_id, organisation)
            expected = frozenset() if organisation == OPERATOR else state.roles_of(organisation)
            assert standing == CaseStanding(phase=state.phase, roles=expected), organisation
        assert (
            MemberRole.LEAD_NGO in (await case_standing(service.client, case_id, "caritas")).roles
        )
        assert not (await case_standing(service.client, case_id, "kljuc")).roles
        closing = await send(service, case_id, "caritas", event("case_closed", "caritas", "c-s"))
        assert closing.status_code == 200, closing.text
        closed = await case_standing(service.client, case_id, "caritas")
        assert closed.phase is Phase.CLOSED
        again = await send(
            service, case_id, "caritas", event("cooperation_recorded", "caritas", "c-s2")
        )
        assert_problem(again, 409, rule="CASE")

    async def test_sending_reads_no_whole_state(
        self, service: Service, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An event through the gateway makes no query for the whole case (issue 14: the
        standing is enough); a read of the case still does."""
        case_id = await open_case(service, "gw-m-no-state-read")
        app = gateway(service.client, service.settings)
        shared: SharedReads[str, CaseState] = app.state.gateway.states
        reads: list[str] = []
        read = shared.get

        async def counted(key: str) -> CaseState:
            reads.append(key)
            return await read(key)

        monkeypatch.setattr(shared, "get", counted)
        async with http(app) as api:
            sent = await api.post(
                f"/v1/cases/{case_id}/events",
                headers=bearer("caritas"),
                json=event("cooperation_recorded", "caritas", "c-nsr"),
            )
            assert sent.status_code == 200, sent.text
            assert reads == []
            shown = await api.get(f"/v1/cases/{case_id}", headers=bearer("caritas"))
            assert shown.status_code == 200, shown.text
        assert reads == [case_id]

    async def test_a_member_removed_after_the_gateways_check_records_nothing(
        self, service: Service, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The gateway's read of the case is stale (it says Ključ is a member; the operator
        removed it since): the case refuses the event and the gateway answers the 404 of a
        case Ključ is no member of."""
        case_id = await self._with_kljuc_referred(service, "gw-m-removed-meanwhile")
        sent = await send(service, case_id, "kljuc", event("cooperation_recorded", "kljuc", "k-1"))
        assert sent.status_code == 200, sent.text
        stale = await case_standing(service.client, case_id, "kljuc")
        assert stale.roles
        await change_membership(
            service.client,
            case_id,
            kljuc_referral("remove", "Ticket 12"),
        )
        assert not (await case_standing(service.client, case_id, "kljuc")).roles
        app = gateway(service.client, service.settings)

        async def stale_read(_: tuple[str, str]) -> CaseStanding:
            return stale

        monkeypatch.setattr(app.state.gateway.standings, "get", stale_read)
        async with http(app) as api:
            late = await api.post(
                f"/v1/cases/{case_id}/events",
                headers=bearer("kljuc"),
                json=event("cooperation_recorded", "kljuc", "k-2"),
            )
            never = await api.post(
                f"/v1/cases/{NEVER}/events",
                headers=bearer("kljuc"),
                json=event("cooperation_recorded", "kljuc", "k-2"),
            )
        assert_problem(late, 404)
        assert late.content == never.content
        assert "k-2" not in (await service.state(case_id)).processed

    async def test_an_event_nobody_sealed_is_refused(self, service: Service) -> None:
        """Issue 11: whoever reaches Temporal without the key store (a shell with the
        ``temporal`` CLI, a client without the codec) cannot hand a case an event: the worker
        refuses the plain update argument, the update is rejected and nothing is recorded,
        not even a lead NGO's event that the rules would accept."""
        case_id = await open_case(service, "gw-m-plain")
        config = service.client.service_client.config
        plain = await Client.connect(
            config.target_host,
            namespace=service.client.namespace,
            data_converter=pydantic_data_converter,
        )
        for body in (
            event("cooperation_recorded", "kljuc", "klj-plain"),
            event("cooperation_recorded", "caritas", "car-plain"),
        ):
            request = RecordEvent(event=parse_event(body))
            with pytest.raises(WorkflowUpdateFailedError):
                await plain.get_workflow_handle(case_id).execute_update("record_event", request)
        processed = (await service.state(case_id)).processed
        assert {"klj-plain", "car-plain"}.isdisjoint(processed)
        # The same event, sealed by the service, is recorded.
        sealed = await send(
            service, case_id, "caritas", event("cooperation_recorded", "caritas", "car-plain")
        )
        assert sealed.status_code == 200, sealed.text

    async def test_a_payload_sealed_for_another_case_is_refused(
        self, service: Service, deployment: Deployment
    ) -> None:
        """Review of issue 11: a payload copied, sealed, from one case's history and handed to
        another case (with the ``temporal`` CLI, say) is refused there: the update is rejected
        and records nothing. The same payload in its own case is an ordinary event."""
        own = await open_case(service, "gw-m-sealed-own")
        other = await open_case(service, "gw-m-sealed-other")

        class SealedFor(CaseCodec):
            """Seals every payload under ``own``'s key, whichever workflow it goes to."""

            def with_context(self, context: SerializationContext) -> SealedFor:
                return self

        config = service.client.service_client.config
        copier = await Client.connect(
            config.target_host,
            namespace=service.client.namespace,
            data_converter=dataclasses.replace(
                pydantic_data_converter, payload_codec=SealedFor(deployment.store, own)
            ),
        )
        request = RecordEvent(
            event=parse_event(event("cooperation_recorded", "caritas", "car-copied"))
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await copier.get_workflow_handle(other).execute_update("record_event", request)
        assert "car-copied" not in (await service.state(other)).processed
        await copier.get_workflow_handle(own).execute_update("record_event", request)
        assert "car-copied" in (await service.state(own)).processed
