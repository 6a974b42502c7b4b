"""The codec server decodes case payloads for those allowed (docs/rules.md "Access", R6): whole for
operators, filtered by the read matrix for members, nothing for anyone else (with the answer of a
case that does not exist), and leaks nothing; the auth module keeps tokens as hashes only.
What each role sees of each payload shape is tested in tests/test_codec_filtering.py."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import stat
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from google.protobuf import json_format
from structlog.testing import capture_logs
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import WorkflowSerializationContext

from pathway.access.credentials import (
    OPERATOR,
    Credentials,
    CredentialsError,
    Principal,
    SessionSigner,
    ensure_dev_credentials,
    hash_token,
    new_token,
)
from pathway.access.policy import WITHHELD
from pathway.codec_server import SESSION_COOKIE, RoleCaseAccess, create_codec_app, serve_codec
from pathway.domain.membership import MemberRole
from pathway.domain.organisations import Organisation
from pathway.privacy.codec import META_KEY_ID, CaseCodec
from pathway.privacy.keys import MasterKeyRing, SqliteKeyStore, case_of, create_master_key
from tests.receivers import eventually

UI_ORIGIN = "http://127.0.0.1:8233"
BASE_URL = "http://codec.test"
#: What a browser sends with the sign-in form posted from the codec server's own page.
FROM_LOGIN_PAGE = {"Origin": BASE_URL}
#: A stand-in for a person's facts: it must never appear in any log line or error answer.
CANARY = "CANARY-Ana-Novak-1999-05-17-passport-X123"

#: One principal per role the tests need: role -> (name, token).
PEOPLE: dict[str, tuple[str, str]] = {
    role: (f"{role}-tester", new_token())
    for role in (OPERATOR, "caritas", "kljuc", "police", "analyst", "guardian")
}

#: case-a's members: Caritas (lead NGO), the police (identifying authority) and a guardian;
#: Ključ is not a member (it once took part: participation grants nothing).
MEMBERS: dict[str, dict[str, frozenset[MemberRole]]] = {
    "case-a": {
        Organisation.CARITAS.value: frozenset({MemberRole.LEAD_NGO}),
        Organisation.POLICE.value: frozenset({MemberRole.IDENTIFYING_AUTHORITY}),
        Organisation.GUARDIAN.value: frozenset({MemberRole.GUARDIAN}),
    },
}


async def member_roles(episode: str, organisation: str) -> frozenset[MemberRole]:
    """The roles of MEMBERS, in every episode of the case (``<case>/e<N>``)."""
    return MEMBERS.get(case_of(episode), {}).get(organisation, frozenset())


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {PEOPLE[role][1]}"}


def credentials_toml(people: dict[str, tuple[str, str]]) -> str:
    return "".join(
        f'[[tokens]]\nname = "{name}"\nrole = "{role}"\nsha256 = "{hash_token(token)}"\n\n'
        for role, (name, token) in people.items()
    )


@pytest.fixture
def store(tmp_path: Path) -> SqliteKeyStore:
    master_dir = tmp_path / "master-keys"
    master_id = create_master_key(master_dir)
    ring = MasterKeyRing({master_id: bytes.fromhex((master_dir / f"{master_id}.key").read_text())})
    return SqliteKeyStore(tmp_path / "keys.db", ring)


@pytest.fixture
def codec(store: SqliteKeyStore) -> CaseCodec:
    return CaseCodec(store)


@pytest.fixture
def credentials(tmp_path: Path) -> Credentials:
    path = tmp_path / "credentials.toml"
    path.write_text(credentials_toml(PEOPLE))
    return Credentials.load(path)


@pytest.fixture
def app(codec: CaseCodec, credentials: Credentials, store: SqliteKeyStore) -> FastAPI:
    return create_codec_app(
        codec=codec,
        credentials=credentials,
        allowed_origin=UI_ORIGIN,
        case_access=RoleCaseAccess(member_roles, store),
    )


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        yield http


async def sealed(codec: CaseCodec, case_id: str = "case-a", value: Any = None) -> dict[str, Any]:
    """A request body holding one payload encrypted as a worker would for ``case_id``."""
    plain = pydantic_data_converter.payload_converter.to_payloads(
        [value if value is not None else {"note": CANARY}]
    )
    context = WorkflowSerializationContext(namespace="default", workflow_id=case_id)
    encrypted = await codec.with_context(context).encode(plain)
    return {"payloads": [json_format.MessageToDict(p) for p in encrypted]}


def plain_values(body: dict[str, Any]) -> list[Any]:
    """The values of decoded payloads in a response body."""
    payloads = [json_format.ParseDict(p, Payload()) for p in body["payloads"]]
    return pydantic_data_converter.payload_converter.from_payloads(payloads)


def withheld(count: int = 1) -> list[Any]:
    """What a member decodes of ``count`` payloads it may not read: the placeholder each."""
    return [dict(WITHHELD)] * count


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert CANARY not in response.text
    return body


class TestDecodeAccess:
    """Who may decode a case, and how much (docs/rules.md "Access", R6)."""

    async def test_access_operator_decodes_any_case_whole(
        self, client: httpx.AsyncClient, codec: CaseCodec
    ) -> None:
        """An operator gets the plaintext payload back whole, even of a case it is no member
        of (operators are members of none)."""
        body = await sealed(codec, "case-z")

        response = await client.post("/decode", json=body, headers=bearer(OPERATOR))

        assert response.status_code == 200
        assert plain_values(response.json()) == [{"note": CANARY}]

    @pytest.mark.parametrize("role", ["caritas", "police", "guardian"])
    async def test_access_member_gets_filtered_payloads(
        self, client: httpx.AsyncClient, codec: CaseCodec, role: str
    ) -> None:
        """A member of case-a decodes (200), but a payload the read matrix cannot filter field
        by field comes back as the placeholder, never whole (refuse rather than over-share)."""
        response = await client.post("/decode", json=await sealed(codec), headers=bearer(role))

        assert response.status_code == 200
        assert plain_values(response.json()) == withheld()
        assert CANARY not in response.text

    async def test_access_non_member_gets_the_answer_of_an_unknown_case(
        self, client: httpx.AsyncClient, codec: CaseCodec
    ) -> None:
        """Ključ, not a member of case-a, gets exactly what it gets for a case that does not
        exist (403 naming only the case ID it sent): it cannot tell whether case-a exists."""
        member_case = await client.post(
            "/decode", json=await sealed(codec, "case-a"), headers=bearer("kljuc")
        )
        no_case = await client.post(
            "/decode", json=await sealed(codec, "case-nothing"), headers=bearer("kljuc")
        )

        body = assert_problem(member_case, 403)
        assert body["case_ids"] == ["case-a"]
        assert member_case.text.replace("case-a", "ID") == no_case.text.replace(
            "case-nothing", "ID"
        )

    async def test_access_analysts_are_refused(
        self, client: httpx.AsyncClient, codec: CaseCodec
    ) -> None:
        """Analysts see aggregates only, and are never members: 403."""
        response = await client.post("/decode", json=await sealed(codec), headers=bearer("analyst"))

        assert_problem(response, 403)

    async def test_access_one_refused_case_refuses_the_whole_request(
        self, client: httpx.AsyncClient, codec: CaseCodec
    ) -> None:
        """A batch mixing a plain payload, a case the caller is a member of and one it is not
        decodes nothing."""
        plain = pydantic_data_converter.payload_converter.to_payloads(["hello"])
        member = await sealed(codec, "case-a")
        refused = await sealed(codec, "case-b")
        body = {
            "payloads": [json_format.MessageToDict(p) for p in plain]
            + member["payloads"]
            + refused["payloads"]
        }

        response = await client.post("/decode", json=body, headers=bearer("caritas"))

        assert assert_problem(response, 403)["case_ids"] == ["case-b"]

    async def test_plain_payloads_pass_through(self, client: httpx.AsyncClient) -> None:
        """A payload that is not encrypted comes back unchanged, whatever the role."""
        plain = pydantic_data_converter.payload_converter.to_payloads(["hello"])
        body = {"payloads": [json_format.MessageToDict(p) for p in plain]}

        response = await client.post("/decode", json=body, headers=bearer("police"))

        assert response.status_code == 200
        assert response.json() == body

    async def test_payloads_keep_their_count_and_order(
        self, client: httpx.AsyncClient, codec: CaseCodec
    ) -> None:
        """A member's answer has one payload per payload sent, in the same order (the web UI
        maps them by position): plain ones unchanged, sealed ones filtered."""
        hello = pydantic_data_converter.payload_converter.to_payloads(["hello"])
        bye = pydantic_data_converter.payload_converter.to_payloads(["bye"])
        sealed_payloads = (await sealed(codec))["payloads"]
        first, last = (json_format.MessageToDict(p[0]) for p in (hello, bye))
        body = {"payloads": [first, *sealed_payloads, last, *sealed_payloads]}

        response = await client.post("/decode", json=body, headers=bearer("caritas"))

        assert response.status_code == 200
        assert plain_values(response.json()) == ["hello", *withheld(), "bye", *withheld()]

    async def test_empty_batch_decodes_to_empty(self, client: httpx.AsyncClient) -> None:
        """``{"payloads": []}`` answers with the same empty list."""
        response = await client.post("/decode", json={"payloads": []}, headers=bearer("caritas"))

        assert response.status_code == 200
        assert response.json() == {"payloads": []}

    async def test_access_unreachable_membership_fails_closed(
        self, codec: CaseCodec, credentials: Credentials, store: SqliteKeyStore
    ) -> None:
        """When membership cannot be looked up, an organisation decodes nothing (503, not a
        guess); operators, who need no membership, still decode."""

        async def broken(case_id: str, organisation: str) -> frozenset[MemberRole]:
            raise ConnectionError("temporal unreachable")

        app = create_codec_app(
            codec=codec,
            credentials=credentials,
            allowed_origin=UI_ORIGIN,
            case_access=RoleCaseAccess(broken, store),
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE_URL
        ) as http:
            refused = await http.post(
                "/decode", json=await sealed(codec), headers=bearer("caritas")
            )
            operator = await http.post(
                "/decode", json=await sealed(codec), headers=bearer(OPERATOR)
            )

        assert_problem(refused, 503)
        assert operator.status_code == 200


class TestErasedCases:
    """An erased case answers 410 to the operator and its former members only; anyone else
    gets the answer of a case that does not exist (issue 11)."""

    async def erase(self, codec: CaseCodec, store: SqliteKeyStore) -> dict[str, Any]:
        body = await sealed(codec, "case-e")
        store.destroy("case-e", former_members=["caritas", "police"])
        return body

    async def test_access_operator_is_told_410(
        self, client: httpx.AsyncClient, codec: CaseCodec, store: SqliteKeyStore
    ) -> None:
        body = await self.erase(codec, store)

        response = await client.post("/decode", json=body, headers=bearer(OPERATOR))

        assert assert_problem(response, 410)["title"] == "case erased"

    @pytest.mark.parametrize("role", ["caritas", "police"])
    async def test_access_former_member_is_told_410(
        self, client: httpx.AsyncClient, codec: CaseCodec, store: SqliteKeyStore, role: str
    ) -> None:
        body = await self.erase(codec, store)

        response = await client.post("/decode", json=body, headers=bearer(role))

        assert assert_problem(response, 410)["case_ids"] == ["case-e"]

    @pytest.mark.parametrize("role", ["kljuc", "guardian", "analyst"])
    async def test_access_anyone_else_gets_the_answer_of_an_unknown_case(
        self, client: httpx.AsyncClient, codec: CaseCodec, store: SqliteKeyStore, role: str
    ) -> None:
        """Byte for byte what the same caller gets for a case that never existed."""
        body = await self.erase(codec, store)
        never = await sealed(codec, "case-n")

        erased = await client.post("/decode", json=body, headers=bearer(role))
        unknown = await client.post("/decode", json=never, headers=bearer(role))

        assert_problem(erased, 403)
        assert erased.text.replace("case-e", "ID") == unknown.text.replace("case-n", "ID")


class TestAuthentication:
    """Bearer tokens for the CLI, a signed session cookie for the web UI."""

    async def test_no_credentials_is_401(self, client: httpx.AsyncClient, codec: CaseCodec) -> None:
        """Without a token or session the answer is 401 problem+json, with no details."""
        response = await client.post("/decode", json=await sealed(codec))

        body = assert_problem(response, 401)
        assert "case-a" not in response.text
        assert set(body) == {"type", "title", "status", "detail"}

    async def test_bad_token_is_401(self, client: httpx.AsyncClient, codec: CaseCodec) -> None:
        """A token that is not in the credentials file is 401."""
        response = await client.post(
            "/decode", json=await sealed(codec), headers={"Authorization": f"Bearer {new_token()}"}
        )

        assert_problem(response, 401)

    @pytest.mark.parametrize(
        "tokens", [("operator", "police"), ("police", "operator"), ("operator", "operator")]
    )
    async def test_two_authorization_headers_are_400(
        self, client: httpx.AsyncClient, codec: CaseCodec, tokens: tuple[str, str]
    ) -> None:
        """More than one ``Authorization`` header is refused (400), as at the gateway, whichever
        comes first: an operator's token first no longer decodes whole (issue 11, item 7)."""
        headers = [("Authorization", bearer(role)["Authorization"]) for role in tokens]
        for path in ("/decode", "/encode"):
            response = await client.post(path, json=await sealed(codec), headers=headers)

            body = assert_problem(response, 400)
            assert "Authorization" in body["detail"]
            assert "payloads" not in response.json()

    async def test_authentication_comes_before_parsing(self, client: httpx.AsyncClient) -> None:
        """An unauthenticated caller learns nothing about the body's validity: 401, not 400."""
        response = await client.post("/decode", content=b"{not json")

        assert_problem(response, 401)

    async def test_cookie_login_flow(self, client: httpx.AsyncClient, codec: CaseCodec) -> None:
        """Pasting a token into /login sets an HttpOnly session cookie that /decode accepts
        from the web UI's origin (an operator's decodes whole; a member organisation's
        filtered, as with its token); /logout ends it."""
        form = await client.get("/login")
        assert form.status_code == 200
        assert 'name="token"' in form.text

        login = await client.post(
            "/login", data={"token": PEOPLE["caritas"][1]}, headers=FROM_LOGIN_PAGE
        )

        assert login.status_code == 200
        cookie = login.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        assert "caritas-tester" in login.text
        member = await client.post(
            "/decode", json=await sealed(codec), headers={"Origin": UI_ORIGIN}
        )
        assert member.status_code == 200
        assert plain_values(member.json()) == withheld()
        assert (await client.post("/logout", headers=FROM_LOGIN_PAGE)).status_code == 200

        login = await client.post(
            "/login", data={"token": PEOPLE[OPERATOR][1]}, headers=FROM_LOGIN_PAGE
        )
        assert login.status_code == 200
        decoded = await client.post(
            "/decode", json=await sealed(codec), headers={"Origin": UI_ORIGIN}
        )
        assert decoded.status_code == 200
        assert plain_values(decoded.json()) == [{"note": CANARY}]

        # Another site, a link or a form without an origin cannot sign the operator out.
        for refused in (
            client.post("/logout", headers={"Origin": "https://evil.example"}),
            client.post("/logout"),
            client.get("/logout"),
        ):
            assert (await refused).status_code in (403, 405)
        still = await client.post(
            "/decode", json=await sealed(codec), headers={"Origin": UI_ORIGIN}
        )
        assert still.status_code == 200
        assert (await client.post("/logout", headers=FROM_LOGIN_PAGE)).status_code == 200
        after = await client.post(
            "/decode", json=await sealed(codec), headers={"Origin": UI_ORIGIN}
        )
        assert_problem(after, 401)

    async def test_cookie_from_another_origin_does_not_count(
        self, client: httpx.AsyncClient, codec: CaseCodec
    ) -> None:
        """A signed-in browser visiting another site cannot be made to decode for it."""
        await client.post("/login", data={"token": PEOPLE[OPERATOR][1]}, headers=FROM_LOGIN_PAGE)

        foreign = await client.post(
            "/decode", json=await sealed(codec), headers={"Origin": "https://evil.example"}
        )
        no_origin = await client.post("/decode", json=await sealed(codec))

        assert_problem(foreign, 401)
        assert_problem(no_origin, 401)

    async def test_wrong_token_at_login_sets_no_cookie(self, client: httpx.AsyncClient) -> None:
        """A wrong token gets the form again with 401 and no cookie."""
        response = await client.post(
            "/login", data={"token": "not-a-token"}, headers=FROM_LOGIN_PAGE
        )

        assert response.status_code == 401
        assert "set-cookie" not in response.headers

    async def test_forged_cookie_does_not_count(
        self, client: httpx.AsyncClient, codec: CaseCodec
    ) -> None:
        """A session signed with another secret (another process) is rejected."""
        forged, _ = SessionSigner().issue(Principal(organisation=OPERATOR, name="mallory"))
        client.cookies.set(SESSION_COOKIE, forged)

        response = await client.post(
            "/decode", json=await sealed(codec), headers={"Origin": UI_ORIGIN}
        )

        assert_problem(response, 401)

    async def test_secure_cookie_is_samesite_none(
        self, codec: CaseCodec, credentials: Credentials, store: SqliteKeyStore
    ) -> None:
        """Over HTTPS the cookie is Secure and SameSite=None, so a UI on another site gets it."""
        app = create_codec_app(
            codec=codec,
            credentials=credentials,
            allowed_origin=UI_ORIGIN,
            case_access=RoleCaseAccess(member_roles, store),
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://codec.test"
        ) as http:
            login = await http.post(
                "/login",
                data={"token": PEOPLE["caritas"][1]},
                headers={"Origin": "https://codec.test"},
            )

        cookie = login.headers["set-cookie"]
        assert "Secure" in cookie and "SameSite=none" in cookie


class TestCors:
    """Only the web UI's origin may call from a browser."""

    async def test_preflight_from_the_ui_origin_is_allowed(self, client: httpx.AsyncClient) -> None:
        """The UI's preflight gets its origin, credentials and the three headers allowed."""
        response = await client.options(
            "/decode",
            headers={
                "Origin": UI_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, x-namespace",
            },
        )

        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == UI_ORIGIN
        assert response.headers["access-control-allow-credentials"] == "true"
        allowed = response.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "x-namespace"} <= {
            h.strip() for h in allowed.split(",")
        }
        assert "POST" in response.headers["access-control-allow-methods"]

    async def test_preflight_from_another_origin_is_not_allowed(
        self, client: httpx.AsyncClient
    ) -> None:
        """Another origin's preflight gets no allow-origin header, so the browser stops."""
        response = await client.options(
            "/decode",
            headers={
                "Origin": "https://evil.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )

        assert "access-control-allow-origin" not in response.headers

    async def test_answers_carry_the_allow_origin_header(
        self, client: httpx.AsyncClient, codec: CaseCodec
    ) -> None:
        """The UI can read the answer (including a 401) to its cross-origin request."""
        response = await client.post(
            "/decode", json=await sealed(codec), headers={"Origin": UI_ORIGIN}
        )

        assert response.status_code == 401
        assert response.headers["access-control-allow-origin"] == UI_ORIGIN


class TestBadInput:
    """Bad input gets a 4xx problem answer, never a 500 and never payload contents."""

    async def test_erased_case_is_410(
        self, client: httpx.AsyncClient, codec: CaseCodec, store: SqliteKeyStore
    ) -> None:
        """Once the case's key is destroyed its payloads answer 410 "case erased"."""
        body = await sealed(codec)
        store.destroy("case-a")

        response = await client.post("/decode", json=body, headers=bearer(OPERATOR))

        problem = assert_problem(response, 410)
        assert problem["title"] == "case erased"

    async def test_tampered_payload_is_422(
        self, client: httpx.AsyncClient, codec: CaseCodec
    ) -> None:
        """A payload whose ciphertext was altered fails authentication: 422."""
        body = await sealed(codec)
        data = bytearray(base64.b64decode(body["payloads"][0]["data"]))
        data[-1] ^= 0x01
        body["payloads"][0]["data"] = base64.b64encode(bytes(data)).decode()

        response = await client.post("/decode", json=body, headers=bearer(OPERATOR))

        assert_problem(response, 422)

    async def test_unknown_key_is_422(self, client: httpx.AsyncClient, codec: CaseCodec) -> None:
        """A payload naming a key that was never made is 422."""
        body = await sealed(codec)
        body["payloads"][0]["metadata"][META_KEY_ID] = base64.b64encode(b"case-q/dk1").decode()

        response = await client.post("/decode", json=body, headers=bearer(OPERATOR))

        assert_problem(response, 422)

    @pytest.mark.parametrize(
        "key_id",
        [
            b"garbage",
            # Episodes that cannot exist (review of issue 12: /e0 was a 503 and an error log).
            b"case-aaaaaaaaaaaaaaaaaaaaaaaa/e0/dk1",
            b"case-aaaaaaaaaaaaaaaaaaaaaaaa/e00/dk1",
            b"case-aaaaaaaaaaaaaaaaaaaaaaaa/e1/dk1",
            b"case-aaaaaaaaaaaaaaaaaaaaaaaa/e02/dk1",
            b"case-/e0/dk1",
        ],
    )
    async def test_key_id_that_names_no_case_is_422(
        self, client: httpx.AsyncClient, codec: CaseCodec, key_id: bytes
    ) -> None:
        """A key ID that is not a Pathway data key ID is 422, before any access check."""
        body = await sealed(codec)
        body["payloads"][0]["metadata"][META_KEY_ID] = base64.b64encode(key_id).decode()

        for role in ("caritas", OPERATOR):
            response = await client.post("/decode", json=body, headers=bearer(role))
            assert_problem(response, 422)

    @pytest.mark.parametrize(
        "content",
        [
            b"{not json",
            b"[]",
            b'{"payloads": "x"}',
            b'{"payloads": [{"data": 5}]}',
            b'{"payloads": [{"metadata": {"encoding": 5}}]}',
            b"\xff\xfe",
            b"",
        ],
    )
    async def test_malformed_body_is_400(self, client: httpx.AsyncClient, content: bytes) -> None:
        """Anything but a Payloads JSON object is 400."""
        response = await client.post(
            "/decode",
            content=content,
            headers={**bearer(OPERATOR), "Content-Type": "application/json"},
        )

        assert_problem(response, 400)

    async def test_oversized_body_is_413(self, client: httpx.AsyncClient) -> None:
        """A body larger than the limit is refused before it is read."""
        response = await client.post(
            "/decode", content=b" " * (16 * 1024 * 1024 + 1), headers=bearer(OPERATOR)
        )

        assert_problem(response, 413)

    async def test_unknown_path_is_a_problem(self, client: httpx.AsyncClient) -> None:
        """Unknown paths answer 404 in the same problem format."""
        assert_problem(await client.get("/nothing"), 404)


class TestAudit:
    """One audit line per decode request, naming who and which cases, never contents."""

    async def test_decode_is_audited_without_contents(
        self, client: httpx.AsyncClient, codec: CaseCodec
    ) -> None:
        """The "payloads decoded" line names principal, role, case and count; the canary
        inside the payload appears in no log line."""
        body = await sealed(codec)

        with capture_logs() as logs:
            response = await client.post(
                "/decode", json=body, headers={**bearer(OPERATOR), "X-Namespace": "default"}
            )

        assert response.status_code == 200
        [line] = [entry for entry in logs if entry["event"] == "payloads decoded"]
        assert line["principal"] == f"{OPERATOR}-tester"
        assert line["role"] == OPERATOR
        assert line["case_ids"] == ["case-a"]
        assert line["payload_count"] == 1
        assert line["namespace"] == "default"
        assert CANARY not in repr(logs)

    async def test_refusal_is_audited(self, client: httpx.AsyncClient, codec: CaseCodec) -> None:
        """A refused request is logged with who, which case and why, without contents."""
        with capture_logs() as logs:
            await client.post("/decode", json=await sealed(codec), headers=bearer("kljuc"))

        [line] = [entry for entry in logs if entry["event"] == "decode refused"]
        assert line["principal"] == "kljuc-tester"
        assert line["case_ids"] == ["case-a"]
        assert line["refusal"]
        assert CANARY not in repr(logs)

    async def test_failures_log_no_contents(
        self, client: httpx.AsyncClient, codec: CaseCodec, store: SqliteKeyStore
    ) -> None:
        """Tampered, erased and malformed requests leave no payload contents in the logs."""
        tampered = await sealed(codec)
        tampered["payloads"][0]["data"] = base64.b64encode(b"x" * 40).decode()
        erased = await sealed(codec, "case-e")
        store.destroy("case-e")

        with capture_logs() as logs:
            for body in (tampered, erased):
                await client.post("/decode", json=body, headers=bearer(OPERATOR))
            await client.post(
                "/decode", content=f'{{"payloads": "{CANARY}"'.encode(), headers=bearer(OPERATOR)
            )

        assert logs
        assert CANARY not in repr(logs)


class TestEncode:
    """Operators encode by hand (signals and updates from the UI); no one else may."""

    async def test_encode_then_decode_roundtrip(self, client: httpx.AsyncClient) -> None:
        """What an operator encodes comes back encrypted, and decodes to the same payload."""
        plain = pydantic_data_converter.payload_converter.to_payloads([{"note": CANARY}])
        body = {"payloads": [json_format.MessageToDict(p) for p in plain]}

        encoded = await client.post("/encode", json=body, headers=bearer(OPERATOR))

        assert encoded.status_code == 200
        assert CANARY not in encoded.text
        assert META_KEY_ID in encoded.json()["payloads"][0]["metadata"]
        decoded = await client.post("/decode", json=encoded.json(), headers=bearer(OPERATOR))
        assert decoded.status_code == 200
        assert decoded.json() == body

    async def test_encode_is_refused_for_an_ngo(self, client: httpx.AsyncClient) -> None:
        """An NGO may not encode: 403."""
        plain = pydantic_data_converter.payload_converter.to_payloads(["x"])
        body = {"payloads": [json_format.MessageToDict(p) for p in plain]}

        response = await client.post("/encode", json=body, headers=bearer("caritas"))

        assert_problem(response, 403)

    async def test_encode_requires_authentication(self, client: httpx.AsyncClient) -> None:
        """Without credentials /encode is 401."""
        assert_problem(await client.post("/encode", json={"payloads": []}), 401)


class TestHealth:
    async def test_healthz(self, client: httpx.AsyncClient) -> None:
        """``GET /healthz`` answers 200 without credentials."""
        response = await client.get("/healthz")

        assert response.status_code == 200


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick for a bind to port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class TestServe:
    """``serve_codec`` runs uvicorn in-process until its stop event is set."""

    async def test_serves_until_stopped(self, app: FastAPI, codec: CaseCodec) -> None:
        """A real HTTP request is answered, and setting ``stop`` ends the server."""
        port = free_port()
        stop = asyncio.Event()
        server = asyncio.create_task(serve_codec(app, "127.0.0.1", port, stop))
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:

                async def answered() -> httpx.Response | None:
                    try:
                        return await http.get("/healthz")
                    except httpx.ConnectError:
                        return None  # not listening yet

                health = await eventually(answered, timeout=60, interval=0.05)
                assert health is not None
                decoded = await http.post(
                    "/decode", json=await sealed(codec), headers=bearer(OPERATOR)
                )
            assert health.status_code == 200
            assert decoded.status_code == 200
        finally:
            stop.set()
            await asyncio.wait_for(server, timeout=60)

        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient(base_url=url, timeout=2) as http:
                await http.get("/healthz")

    async def test_port_in_use_raises(self, app: FastAPI) -> None:
        """A port that is taken is an OSError for the caller, not an exit of the process."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]

            with pytest.raises(OSError, match="in use"):
                await serve_codec(app, "127.0.0.1", port, asyncio.Event())


class TestCredentials:
    """Tokens are stored as hashes; a bad file is named with the field at fault."""

    def test_authenticate_finds_the_principal(self, credentials: Credentials) -> None:
        """A listed token gives its principal; any other string gives None."""
        name, token = PEOPLE["caritas"]

        assert credentials.authenticate(token) == Principal(
            organisation=Organisation.CARITAS, name=name
        )
        assert credentials.authenticate(token + "x") is None
        assert credentials.authenticate("") is None

    def test_operator_role(self, credentials: Credentials) -> None:
        """The "operator" role is not an organisation, and says so."""
        principal = credentials.authenticate(PEOPLE[OPERATOR][1])

        assert principal is not None and principal.is_operator and principal.role == "operator"

    def test_file_holds_hashes_only(self, tmp_path: Path) -> None:
        """The file stores the SHA-256 of each token; the token itself appears nowhere."""
        path = tmp_path / "credentials.toml"
        path.write_text(credentials_toml(PEOPLE))

        text = path.read_text()
        for _, token in PEOPLE.values():
            assert token not in text
            assert hash_token(token) in text

    def test_hash_token_is_hex_sha256(self) -> None:
        """``hash_token`` is the lowercase hex SHA-256 of the UTF-8 token."""
        assert hash_token("abc") == (
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )

    def test_new_tokens_are_long_and_distinct(self) -> None:
        """Each new token is fresh and carries at least 256 bits."""
        tokens = {new_token() for _ in range(50)}

        assert len(tokens) == 50
        assert all(len(t) >= 43 for t in tokens)

    @pytest.mark.parametrize(
        ("content", "field"),
        [
            ('[[tokens]]\nname = "a"\nrole = "operator"\nsha256 = "nothex"\n', "tokens[0].sha256"),
            (
                '[[tokens]]\nname = "a"\nrole = "boss"\nsha256 = "' + "0" * 64 + '"\n',
                "tokens[0].role",
            ),
            ('[[tokens]]\nrole = "police"\nsha256 = "' + "0" * 64 + '"\n', "tokens[0].name"),
            (
                '[[tokens]]\nname = "a"\nrole = "police"\ntoken = "plain"\nsha256 = "'
                + "0" * 64
                + '"\n',
                "tokens[0].token",
            ),
            ("", "tokens"),
        ],
    )
    def test_bad_config_names_file_and_field(
        self, tmp_path: Path, content: str, field: str
    ) -> None:
        """Each mistake is reported with the file's path and the field's location."""
        path = tmp_path / "credentials.toml"
        path.write_text(content)

        with pytest.raises(CredentialsError) as err:
            Credentials.load(path)

        assert str(path) in str(err.value)
        assert field in str(err.value)

    def test_bad_config_error_does_not_echo_values(self, tmp_path: Path) -> None:
        """A plaintext token pasted into ``sha256`` is not repeated in the error."""
        secret = new_token()
        path = tmp_path / "credentials.toml"
        path.write_text(f'[[tokens]]\nname = "a"\nrole = "operator"\nsha256 = "{secret}"\n')

        with pytest.raises(CredentialsError) as err:
            Credentials.load(path)

        assert secret not in str(err.value)

    def test_duplicate_names_are_refused(self, tmp_path: Path) -> None:
        """Two entries with one name would make the audit trail ambiguous."""
        path = tmp_path / "credentials.toml"
        path.write_text(
            credentials_toml({"caritas": ("same", new_token())})
            + credentials_toml({"kljuc": ("same", new_token())})
        )

        with pytest.raises(CredentialsError, match="duplicate name"):
            Credentials.load(path)

    def test_invalid_toml_and_missing_file(self, tmp_path: Path) -> None:
        """Unparsable TOML and a missing file are both named."""
        bad = tmp_path / "bad.toml"
        bad.write_text("[[tokens]\n")

        with pytest.raises(CredentialsError, match="not valid TOML"):
            Credentials.load(bad)
        with pytest.raises(CredentialsError, match="does not exist"):
            Credentials.load(tmp_path / "missing.toml")

    def test_path_from_the_environment(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without a path argument ``PATHWAY_CREDENTIALS`` names the file; without either,
        loading fails clearly."""
        path = tmp_path / "credentials.toml"
        path.write_text(credentials_toml(PEOPLE))
        monkeypatch.setenv("PATHWAY_CREDENTIALS", str(path))

        assert Credentials.load().authenticate(PEOPLE["police"][1]) is not None

        monkeypatch.delenv("PATHWAY_CREDENTIALS")
        with pytest.raises(CredentialsError, match="PATHWAY_CREDENTIALS"):
            Credentials.load()


class TestDevCredentials:
    """The embedded default gets its own operator token on first start, shown once."""

    def test_created_once_with_mode_0600(self, tmp_path: Path) -> None:
        """The first call creates a 0600 file and returns the token; later calls return None."""
        var = tmp_path / "var"

        path, token = ensure_dev_credentials(var)
        again_path, again = ensure_dev_credentials(var)

        assert token is not None and again is None and again_path == path
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert token not in path.read_text()
        principal = Credentials.load(path).authenticate(token)
        assert principal is not None and principal.is_operator

    def test_each_checkout_gets_its_own_token(self, tmp_path: Path) -> None:
        """No default credential exists: two state directories get two different tokens."""
        _, first = ensure_dev_credentials(tmp_path / "one")
        _, second = ensure_dev_credentials(tmp_path / "two")

        assert first and second and first != second


class TestSessions:
    """Signed session values carry name, role and expiry, and nothing forged passes."""

    def test_roundtrip(self) -> None:
        """A value issued for a principal verifies to the same principal."""
        signer = SessionSigner()
        principal = Principal(organisation=Organisation.KLJUC, name="kai")

        value, expires = signer.issue(principal)

        assert signer.verify(value) == principal
        assert expires - datetime.now(UTC) <= timedelta(hours=8)

    def test_expired_session_is_refused(self) -> None:
        """After eight hours the value no longer verifies."""
        now = [datetime(2026, 1, 1, tzinfo=UTC)]
        secret = os.urandom(32)
        signer = SessionSigner(secret, clock=lambda: now[0])
        value, _ = signer.issue(Principal(organisation=OPERATOR, name="olga"))

        now[0] += timedelta(hours=8, seconds=1)

        assert signer.verify(value) is None
        # The same value under the same secret, an hour earlier: it was the clock that ended it.
        assert SessionSigner(secret, clock=lambda: now[0] - timedelta(hours=1)).verify(value)

    @pytest.mark.parametrize(
        "mangle",
        [
            lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"),
            lambda v: "e30." + v.split(".")[1],
            lambda v: v.split(".")[0],
            lambda v: "",
            lambda v: "ä.ö",
            lambda v: "!!!.???",
        ],
    )
    def test_altered_values_are_refused(self, mangle: Callable[[str], str]) -> None:
        """Any change to the value (claims or signature) makes it invalid."""
        signer = SessionSigner()
        value, _ = signer.issue(Principal(organisation=OPERATOR, name="olga"))

        assert signer.verify(mangle(value)) is None
