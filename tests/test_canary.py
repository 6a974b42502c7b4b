"""Canary test (R6, docs/rules.md "The case"): whole cases whose every personal field holds a unique
canary string leave no canary anywhere outside encrypted payloads: not in the raw histories
(fetched without the codec), the logs, the outbox, webhook or SMTP bodies, search attributes or
workflow IDs. The same cases decode through the codec server for an authorised caller only."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from pathway import search_attributes
from pathway.access.credentials import Credentials, hash_token
from pathway.channels import Channels, OutboxChannel, SmtpChannel, WebhookChannel
from pathway.clients.cases import case_state
from pathway.codec_server import RoleCaseAccess, create_codec_app
from pathway.dev import member_roles_in_case
from pathway.domain.calendar import local_date
from pathway.domain.events import Identified
from pathway.domain.organisations import Organisation
from pathway.logs import configure_logging
from pathway.privacy.codec import CaseCodec
from pathway.privacy.history import collect_payloads
from pathway.privacy.keys import MasterKeyRing, SqliteKeyStore, create_master_key
from pathway.temporal_binaries import temporal_cli_path
from pathway.temporal_connection import data_converter
from tests.factories import ALL_SUBJECTS, event
from tests.harness import Bench, bench, receivers
from tests.receivers import DEV_SERVER_STARTUP, SmtpReceiver, WebhookReceiver

pytestmark = [pytest.mark.devserver, pytest.mark.usefixtures("restored_logging")]

TOKENS = {
    "operator": "op-token-" + "x" * 24,
    "uoim": "uoim-token-" + "y" * 24,
    "police": "police-token-" + "z" * 24,
    "kljuc": "kljuc-token-" + "w" * 24,
}


class Canaries:
    """Unique strings, one per personal field; dates are canaries too (an unusual day)."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def new(self, field: str) -> str:
        value = f"CANARY-{field}-{uuid.uuid4().hex[:10]}"
        self.values.append(value)
        return value

    def date(self, value: str) -> str:
        self.values.append(value)
        return value

    def found_in(self, text: str) -> list[str]:
        return [c for c in self.values if c in text]


@pytest_asyncio.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[tuple[WorkflowEnvironment, SqliteKeyStore]]:
    create_master_key(tmp_path / "mk")
    store = SqliteKeyStore(tmp_path / "keys.db", MasterKeyRing.from_env_or_dir(tmp_path / "mk"))
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        dev_server_startup_timeout=DEV_SERVER_STARTUP,
        ui=False,
        data_converter=data_converter(store),
        search_attributes=list(search_attributes.ALL),
    )
    async with env:
        yield env, store


def channels(webhook: WebhookReceiver, smtp: SmtpReceiver, outbox: Path) -> Channels:
    """Police by webhook, Caritas by e-mail, everyone else by outbox file."""
    return Channels(
        default=OutboxChannel(directory=outbox),
        organisations={
            Organisation.POLICE: WebhookChannel(
                url=webhook.url, secret=SecretStr("canary-webhook-secret")
            ),
            Organisation.CARITAS: SmtpChannel(
                host=smtp.host,
                port=smtp.port,
                sender="pathway@pathway.test",
                recipients=["caritas@pathway.test"],
            ),
        },
    )


async def walk_case(b: Bench, canary: Canaries, n: int) -> str:
    """A third-country national's case through crisis and safe accommodation, every personal
    field a canary, with a rejected event and a webhook that fails twice on the way."""

    def who() -> dict[str, str]:
        return {"actor": canary.new("actor"), "reason": canary.new("reason")}

    now = await b.now()
    ident = event(
        "identified",
        now,
        subject_ref=canary.new("subject_ref"),
        person={
            "birth_date": canary.date(f"19{61 + n}-07-29"),
            "gender": "female",
            "citizenships": ["CO"],
            "residence_status": "third_country_illegal",
            "languages": ["es"],
        },
        **who(),
    )
    assert isinstance(ident, Identified)
    case_id, _ = await b.open(ident)
    if n == 0:
        b.webhook.fail_next = 1  # a failed delivery's error must not leak either
    steps: list[tuple[str, dict[str, Any]]] = [
        (
            "facts_updated",
            {
                "person": {
                    "age_estimate": {
                        "years": 30,
                        "as_of": canary.date(f"20{10 + n}-02-17"),
                        "source": canary.new("age_source"),
                    },
                    "gender": "female",
                    "citizenships": ["CO"],
                    "residence_status": "third_country_illegal",
                    "languages": ["es"],
                }
            },
        ),
        ("ngo_interview_held", {"language": "es", "interpreter_used": True}),
        (
            "rights_information_given",
            {"subjects": ALL_SUBJECTS, "language": "es", "interpreter_used": True},
        ),
        ("crisis_accommodation_placed", {}),
        (
            "permit_to_stay_granted",
            {"valid_from": local_date(now).isoformat(), "basis": "ex_officio"},
        ),
        (
            "temporary_residence_permit_granted",
            {
                "basis": "witness",
                "valid_from": local_date(now).isoformat(),
                "valid_until": (local_date(now) + timedelta(days=365)).isoformat(),
                "permit_number": canary.new("permit_number"),
            },
        ),
        ("cooperation_recorded", {"willing_to_cooperate": False}),
        ("safe_accommodation_placed", {}),
        ("departed", {"arbitrary": True}),
    ]
    rejected = event("permit_to_stay_extended", await b.now(), months=9, **who())
    with pytest.raises(Exception, match="K7"):
        await b.send(case_id, rejected)
    for type_, fields in steps:
        await b.send(case_id, event(type_, await b.now(), **fields, **who()))
    await b.settled(case_id)
    return case_id


class TestCanaries:
    async def test_no_canary_outside_encrypted_payloads(
        self,
        deployment: tuple[WorkflowEnvironment, SqliteKeyStore],
        tmp_path: Path,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        """Two full cases: zero canaries in histories, logs, notifications, search attributes
        and IDs; the codec server decodes them whole for the operator only, filtered by the read
        matrix for members (never the identifying authority's reference), nothing for others."""
        env, store = deployment
        configure_logging(json=True, level="DEBUG")
        canary = Canaries()
        outbox = tmp_path / "outbox"
        async with (
            receivers() as (webhook, smtp),
            bench(
                env,
                upsert_search_attributes=True,
                wires=(webhook, smtp),
                channels=channels(webhook, smtp, outbox),
            ) as b,
        ):
            case_ids = [await walk_case(b, canary, n) for n in range(2)]
            assert [r.status for r in webhook.requests][:1] == [500]
            assert smtp.mails
            assert any(outbox.glob("*.jsonl"))

            raw_client = await Client.connect(env.client.service_client.config.target_host)
            places: dict[str, str] = {}
            for case_id in case_ids:
                history = await raw_client.get_workflow_handle(case_id).fetch_history()
                places[f"raw history {case_id}"] = history.to_json()
                description = await raw_client.get_workflow_handle(case_id).describe()
                places[f"search attributes {case_id}"] = repr(
                    description.raw_description.workflow_execution_info.search_attributes
                )
            listed = [w async for w in raw_client.list_workflows()]
            places["workflow IDs"] = " ".join(w.id for w in listed)
            places["visibility"] = " ".join(repr(w.raw_info) for w in listed)
            places["webhook"] = "\n".join(repr(r) for r in webhook.requests)
            places["smtp"] = "\n".join(m.message.as_string() for m in smtp.mails)
            places["outbox"] = "\n".join(p.read_text() for p in outbox.glob("*.jsonl"))
            captured = capfd.readouterr()
            places["logs"] = captured.out + captured.err
            assert "case changed" in places["logs"]  # the logs were really captured
            for place, text in places.items():
                assert canary.found_in(text) == [], place

            await self._decode_through_codec_server(b, store, case_ids, canary, tmp_path)

    async def _decode_through_codec_server(
        self, b: Bench, store: SqliteKeyStore, case_ids: list[str], canary: Canaries, tmp_path: Path
    ) -> None:
        path = tmp_path / "credentials.toml"
        path.write_text(
            "".join(
                f'[[tokens]]\nname = "{role}-1"\nrole = "{role}"\nsha256 = "{hash_token(t)}"\n\n'
                for role, t in TOKENS.items()
            )
        )
        app = create_codec_app(
            codec=CaseCodec(store),
            credentials=Credentials.load(path),
            allowed_origin="http://127.0.0.1:8233",
            case_access=RoleCaseAccess(
                lambda case_id, org: member_roles_in_case(b.client, case_id, org), store
            ),
        )
        history = await b.client.get_workflow_handle(case_ids[0]).fetch_history()
        payloads: list[Any] = []
        for e in history.events:
            collect_payloads(e, payloads)
        body = {"payloads": [json_format.MessageToDict(p) for p in payloads]}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://codec.test"
        ) as http:

            def as_(role: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {TOKENS[role]}"}

            answer = await http.post("/decode", json=body, headers=as_("operator"))
            assert answer.status_code == 200
            decoded = json.dumps(answer.json())
            assert len(canary.found_in(_plain(decoded))) > 5
            # Members decode filtered by the read matrix (tests/test_codec_filtering.py has
            # what each role sees); others are refused. The identifying authority's reference
            # decodes for operators only, even for the police who sent it.
            state = await case_state(b.client, case_ids[0])
            refs = [
                c for c in canary.found_in(_plain(decoded)) if c.startswith("CANARY-subject_ref-")
            ]
            assert refs
            for role in ("kljuc", "uoim", "police"):
                answer = await http.post("/decode", json=body, headers=as_(role))
                assert answer.status_code == (200 if state.roles_of(role) else 403), role
                found = canary.found_in(_plain(answer.text))
                assert not set(refs) & set(found), role
                if answer.status_code == 403:
                    assert found == [], role
                else:
                    assert len(answer.json()["payloads"]) == len(payloads), role


def _plain(decoded_json: str) -> str:
    """The decoded payloads' data as text (the codec protocol base64-encodes it)."""
    import base64

    out = []
    for payload in json.loads(decoded_json).get("payloads", []):
        out.append(base64.b64decode(payload.get("data", "")).decode(errors="replace"))
    return "\n".join(out) + decoded_json
