"""The codec server decodes for each member only what the read matrix lets its role read
(docs/rules.md "Access", R6, K4; issue 11, item 4), and docs/privacy.md's "Who sees what" table
is the policy's own.

A case whose every personal field holds a canary is turned into the payloads its workflow
exchanges (inputs, update arguments and results, query answers, notifications, a result, a
failure's details), sealed as a worker seals them, and decoded as each role: exactly the
canaries of the fields that role may read come back, nothing of a special need reaches a role
that may not read one (not even by the shape of what is withheld), and every withheld payload
is the same placeholder.
"""

from __future__ import annotations

import json
import re
import runpy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from google.protobuf import json_format
from pydantic import BaseModel
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import WorkflowSerializationContext

from pathway.access.credentials import OPERATOR, Credentials, TokenEntry, hash_token, new_token
from pathway.access.policy import READ_MATRIX, ROLES, WITHHELD, may_read, who_sees_what_markdown
from pathway.codec_server import RoleCaseAccess, create_codec_app
from pathway.codec_server.views import PLACEHOLDER, filtered
from pathway.domain.config import CaseConfig
from pathway.domain.events import Identified, RecordEvent
from pathway.domain.membership import MemberRole
from pathway.domain.rules import Accepted, decide
from pathway.domain.state import CaseState, DeliveryOutcome
from pathway.privacy.codec import CaseCodec
from pathway.privacy.keys import case_of
from pathway.workflows.inputs import CaseInput, CaseOutcome
from tests.factories import ALL_SUBJECTS, T0, days, event
from tests.keys import DerivedKeyStore

ROOT = Path(__file__).resolve().parent.parent
CASE_ID = "case-canary"
#: Roles that may not read special needs (K4): they must see no trace of one (R6).
NO_HEALTH = [role for role in ROLES if role != "analyst" and not may_read(role, "special_needs")]
TOKENS = {role: new_token() for role in ROLES}


def readers(
    *paths: str, author: str | None = None, trace_of: tuple[str, ...] = ()
) -> frozenset[str]:
    """The roles that may read any of ``paths`` (and ``author``, who reads its own entry's
    reason); with ``trace_of``, only those that may also read every one of those fields (R6)."""
    roles = {r for r in ROLES if any(may_read(r, p) for p in paths) or r == author}
    for hidden in trace_of:
        roles &= {r for r in ROLES if may_read(r, hidden)}
    return frozenset(roles)


@dataclass
class Canaries:
    """Unique strings, each with the roles that may read the field it sits in."""

    readers: dict[str, frozenset[str]] = field(default_factory=dict)

    def new(self, name: str, roles: frozenset[str]) -> str:
        value = f"CANARY-{name}-{len(self.readers):02d}"
        self.readers[value] = roles | {OPERATOR}
        return value

    def date(self, value: str, roles: frozenset[str]) -> str:
        self.readers[value] = roles | {OPERATOR}
        return value

    def readable_by(self, role: str) -> set[str]:
        return {value for value, roles in self.readers.items() if role in roles}

    def found_in(self, text: str) -> set[str]:
        return {value for value in self.readers if value in text}


@dataclass
class Case:
    """A case's payloads in the order a history and the web UI's queries would give them."""

    values: list[BaseModel | dict[str, Any]]
    #: Positions of the payloads that are traces of a special need (K4).
    need_positions: list[int]
    canaries: Canaries


def sender(canaries: Canaries, org: str, *, trace_of: tuple[str, ...] = ()) -> dict[str, str]:
    """The actor and reason of an event sent by ``org``, both canaries. ``trace_of``: the fields
    the event is a trace of (R6, issue 11 item 5): only the roles that may read them see it, and
    ``org``, which sent it (its own work; special needs are sent by care roles only)."""
    return {
        "organisation": org,
        "actor": canaries.new("actor", readers("timeline.who", trace_of=trace_of) | {org}),
        "reason": canaries.new(
            "reason", readers("timeline.why", author=org, trace_of=trace_of) | {org}
        ),
    }


#: The person's facts: new facts (``facts_updated``) are a trace of each of them.
PERSON = tuple(path for path in READ_MATRIX if path.startswith("person."))


def canary_case() -> Case:
    """A third-country national's case through crisis accommodation, a special need (K4) and a
    residence permit, every personal field a canary, as its payloads."""
    canaries = Canaries()
    person = {
        "birth_date": canaries.date("1961-07-29", readers("person.birth_date")),
        "gender": "female",
        "citizenships": ["CO"],
        "residence_status": "third_country_illegal",
        "languages": ["es"],
    }
    k4 = ("special_needs",)
    events = [
        event(
            "identified",
            T0,
            subject_ref=canaries.new("subject_ref", frozenset()),
            person=person,
            **sender(canaries, "police"),
        ),
        event(
            "facts_updated",
            T0 + days(0.5),
            person={
                **person,
                "age_estimate": {
                    "years": 30,
                    "as_of": canaries.date("2011-02-17", readers("person.age_estimate")),
                    "source": canaries.new("age_source", readers("person.age_estimate")),
                },
            },
            **sender(canaries, "police", trace_of=PERSON),
        ),
        event(
            "ngo_interview_held",
            T0 + days(1),
            language="es",
            **sender(canaries, "caritas", trace_of=("ngo_interview_at",)),
        ),
        event(
            "rights_information_given",
            T0 + days(1.1),
            subjects=ALL_SUBJECTS,
            language="es",
            **sender(canaries, "caritas", trace_of=("rights_information",)),
        ),
        event(
            "crisis_accommodation_placed",
            T0 + days(1.2),
            **sender(canaries, "caritas", trace_of=("crisis_accommodation",)),
        ),
        event(
            "special_need_flagged",
            T0 + days(1.3),
            need="pregnancy",
            detail=canaries.new("need_detail", readers(*k4)),
            **sender(canaries, "caritas", trace_of=k4),
        ),
        event(
            "special_need_referral_made",
            T0 + days(1.4),
            need="pregnancy",
            **sender(canaries, "caritas", trace_of=k4),
        ),
        event(
            "permit_to_stay_granted",
            T0 + days(2),
            # K7: the 3 months include the reflection period, which began at the placement.
            valid_from=(T0 + days(1.2)).date().isoformat(),
            basis="ex_officio",
            **sender(canaries, "police", trace_of=("permit_to_stay",)),
        ),
        event(
            "temporary_residence_permit_granted",
            T0 + days(3),
            basis="witness",
            valid_from=(T0 + days(3)).date().isoformat(),
            valid_until=(T0 + days(368)).date().isoformat(),
            permit_number=canaries.new("permit_number", readers("residence_permit")),
            **sender(canaries, "migration_authority", trace_of=("residence_permit",)),
        ),
    ]
    config = CaseConfig()
    values: list[BaseModel | dict[str, Any]] = [CaseInput(config=config)]
    need_positions: list[int] = []
    state: CaseState | None = None
    for ev in events:
        decision = decide(state, ev, ev.occurred_at, case_id=CASE_ID, config=config)
        assert isinstance(decision, Accepted), decision
        state = decision.state
        if ev.type.startswith("special_need"):
            need_positions += [len(values), len(values) + 1]
        values += [RecordEvent(event=ev), decision.result]
    assert state is not None
    notifications = list(state.pending_notifications)
    assert any(n.reason == "special_need_referral" for n in notifications)
    # A child's case opened by this one starts with the child's identification: an event's
    # body (the person, the reference) decodes for operators only; its state shows the facts.
    child = event(
        "identified",
        T0 + days(4),
        subject_ref=canaries.new("child_subject_ref", frozenset()),
        person={**person, "birth_date": canaries.date("2019-03-23", frozenset())},
        organisation="police",
    )
    assert isinstance(child, Identified)
    values += [
        *notifications,
        DeliveryOutcome.failed(notifications[0], "ConnectionError"),
        state,  # the state query's answer
        CaseInput(config=config, state=state),  # continue-as-new
        CaseInput(config=config, identified=child, linked_case_id="case-parent"),
        CaseOutcome(case_id=CASE_ID, opened=True, phase=state.phase),
        {"message": canaries.new("failure", frozenset()), "stack_trace": ""},
    ]
    return Case(values, need_positions, canaries)


async def sealed(values: list[BaseModel | dict[str, Any]]) -> dict[str, Any]:
    """``values`` as a worker seals them: the pydantic converter, then the case's data key."""
    plain = pydantic_data_converter.payload_converter.to_payloads(values)
    context = WorkflowSerializationContext(namespace="default", workflow_id=CASE_ID)
    encrypted = await CaseCodec(STORE).with_context(context).encode(plain)
    return {"payloads": [json_format.MessageToDict(p) for p in encrypted]}


STORE = DerivedKeyStore()


def decoded_texts(body: dict[str, Any]) -> list[str]:
    """Each decoded payload's data, as text."""
    return [json_format.ParseDict(p, Payload()).data.decode() for p in body["payloads"]]


@pytest.fixture(scope="module")
def case() -> Case:
    return canary_case()


@pytest_asyncio.fixture
async def codec_client() -> AsyncIterator[httpx.AsyncClient]:
    """A codec server in which every organisation holds a role in the case (so that each
    role's filtering is seen; non-members are tests/test_codec_server.py's)."""

    async def every_organisation(episode: str, organisation: str) -> frozenset[MemberRole]:
        return frozenset({MemberRole.ASSIGNED}) if case_of(episode) == CASE_ID else frozenset()

    app = create_codec_app(
        codec=CaseCodec(STORE),
        credentials=Credentials(
            tokens=[
                TokenEntry(name=f"{role}-1", role=role, sha256=hash_token(token))
                for role, token in TOKENS.items()
            ]
        ),
        allowed_origin="http://127.0.0.1:8233",
        case_access=RoleCaseAccess(every_organisation, STORE),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://codec.test"
    ) as http:
        yield http


async def decode_as(http: httpx.AsyncClient, role: str, case: Case) -> httpx.Response:
    return await http.post(
        "/decode",
        json=await sealed(case.values),
        headers={"Authorization": f"Bearer {TOKENS[role]}"},
    )


class TestCanariesPerRole:
    """For each role, decoding a case with every personal field holding a canary: only the
    fields the read matrix allows come back (issue 11, item 4)."""

    @pytest.mark.parametrize("role", [r for r in ROLES if r != "analyst"])
    async def test_r6_only_the_canaries_of_readable_fields_come_back(
        self, codec_client: httpx.AsyncClient, case: Case, role: str
    ) -> None:
        response = await decode_as(codec_client, role, case)

        assert response.status_code == 200
        texts = decoded_texts(response.json())
        assert len(texts) == len(case.values)
        assert case.canaries.found_in("\n".join(texts)) == case.canaries.readable_by(role)

    async def test_r6_subject_ref_decodes_for_operators_only(
        self, codec_client: httpx.AsyncClient, case: Case
    ) -> None:
        """The identifying authority's reference is in no row of the matrix: it never decodes
        for an organisation, not even the police who sent it."""
        refs = {v for v in case.canaries.readers if "subject_ref" in v}
        for role in ROLES:
            if role == "analyst":
                continue
            response = await decode_as(codec_client, role, case)
            texts = "\n".join(decoded_texts(response.json()))
            found = case.canaries.found_in(texts)
            assert (refs <= found) is (role == OPERATOR), role

    async def test_access_analysts_decode_nothing(
        self, codec_client: httpx.AsyncClient, case: Case
    ) -> None:
        """Analysts read aggregates only: 403 even with a role in the case, no canary."""
        response = await decode_as(codec_client, "analyst", case)

        assert response.status_code == 403
        assert case.canaries.found_in(response.text) == set()


class TestNoTraceOfASpecialNeed:
    """R6, K4: a role that may not read special needs sees no trace of one through the codec
    server, not even by the shape of what it does not see."""

    @pytest.mark.parametrize("role", NO_HEALTH)
    async def test_r6_k4_need_payloads_look_like_every_other_withheld_payload(
        self, codec_client: httpx.AsyncClient, case: Case, role: str
    ) -> None:
        response = await decode_as(codec_client, role, case)

        payloads = response.json()["payloads"]
        placeholder = json_format.MessageToDict(PLACEHOLDER)
        assert case.need_positions
        for position in case.need_positions:
            assert payloads[position] == placeholder, position
        text = "\n".join(decoded_texts(response.json())).lower()
        assert "special" not in text
        assert "k4" not in text

    @pytest.mark.parametrize("role", sorted(r for r in ROLES if may_read(r, "special_needs")))
    async def test_k4_care_roles_see_the_need(
        self, codec_client: httpx.AsyncClient, case: Case, role: str
    ) -> None:
        """The roles that provide the help see the need's events and detail."""
        response = await decode_as(codec_client, role, case)

        texts = decoded_texts(response.json())
        for position in case.need_positions:
            assert texts[position] != PLACEHOLDER.data.decode(), position
        assert "special_need_flagged" in "\n".join(texts)


class TestWithheld:
    """Whatever a member may not see is one fixed placeholder."""

    async def test_every_withheld_payload_is_the_same(
        self, codec_client: httpx.AsyncClient, case: Case
    ) -> None:
        """The police's withheld payloads (notifications, a failure, the need's events) are
        byte for byte one payload: nothing is told by size or shape."""
        response = await decode_as(codec_client, "police", case)

        payloads = response.json()["payloads"]
        placeholder = json_format.MessageToDict(PLACEHOLDER)
        withheld = [p for p in payloads if p == placeholder]
        assert len(withheld) >= len(case.need_positions) + 3
        assert json.loads(PLACEHOLDER.data) == dict(WITHHELD)

    @pytest.mark.parametrize(
        "payload",
        [
            Payload(metadata={"encoding": b"binary/plain"}, data=b"\x00\x01"),
            Payload(metadata={"encoding": b"binary/null"}),
            Payload(metadata={"encoding": b"json/plain"}, data=b"{not json"),
            Payload(metadata={"encoding": b"json/plain"}, data=b'"a string"'),
            Payload(metadata={"encoding": b"json/plain"}, data=b"[1, 2]"),
            Payload(metadata={"encoding": b"json/plain"}, data=b'{"event": {"type": "nope"}}'),
            Payload(metadata={"encoding": b"json/plain"}, data=b'{"case_id": "x", "extra": 1}'),
            Payload(metadata={"encoding": b"json/plain"}, data=b"{}"),
            Payload(metadata={"encoding": b"json/plain"}, data=b"[" * 100_000),
        ],
    )
    def test_access_what_cannot_be_filtered_is_withheld(self, payload: Payload) -> None:
        """Anything not recognised, whatever its encoding, is the placeholder; never an
        error."""
        assert filtered(payload, "caritas") is PLACEHOLDER


def render_privacy_doc(text: str) -> str:
    """docs/privacy.md with its who-sees-what table regenerated (scripts/gen_doc_tables.py)."""
    render = runpy.run_path(str(ROOT / "scripts" / "gen_doc_tables.py"))["render_privacy"]
    result: str = render(text)
    return result


class TestPrivacyDoc:
    """docs/privacy.md says who sees what as the policy decides it."""

    def test_access_who_sees_what_table_is_current(self) -> None:
        """The table between the who-sees-what markers is what the policy renders now (run
        ``python scripts/gen_doc_tables.py`` after changing the policy)."""
        doc = (ROOT / "docs" / "privacy.md").read_text()

        assert who_sees_what_markdown() in doc
        assert render_privacy_doc(doc) == doc

    def test_access_table_covers_every_role_and_matrix_field(self) -> None:
        table = who_sees_what_markdown()

        rows = re.findall(r"^\| (\w+) \|", table, re.MULTILINE)
        assert rows[1:] == list(ROLES)
        unread_by_police = [p for p in READ_MATRIX if not may_read("police", p)]
        assert all(f"`{p}`" in table for p in unread_by_police)
