"""The gateway's door: what is refused before a case is ever asked (authorisation per event
type, malformed input, size and rate limits) and what happens when Temporal cannot be reached.

Temporal here is a closed port: a request that gets past the door answers 503, so every test
shows that nothing refused at the door ever reached a case.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from pathway.access.credentials import OPERATOR
from pathway.access.policy import ROLES, may_send
from pathway.domain.events import EVENT_TYPES
from pathway.gateway import GatewaySettings, RateLimiter
from tests.gateway_kit import (
    CANARY,
    assert_problem,
    bearer,
    example,
    gateway,
    http,
    unreachable_temporal,
)
from tests.keys import TEST_KEYS

CASE = "case-abcdefghijklmnopqrstuvwx"


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The gateway in front of an unreachable Temporal, with room for many requests. ``CASE``
    has a data key, as an opened case has: the gateway asks Temporal about it (a case with no
    key was never opened, and is the 404 of an unknown case without asking)."""
    TEST_KEYS.data_key(CASE)
    temporal = await unreachable_temporal()
    app = gateway(
        temporal, GatewaySettings(pepper=b"p", temporal_timeout=2, rate_per_second=1000, burst=1000)
    )
    async with http(app) as http_client:
        yield http_client


def path_for(event_type: str) -> str:
    return "/v1/cases" if event_type == "identified" else f"/v1/cases/{CASE}/events"


class TestSendAuthorisation:
    """Every (role, event type) cell of the send matrix, over HTTP."""

    @pytest.mark.parametrize("role", ROLES)
    @pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
    async def test_cell(self, client: httpx.AsyncClient, role: str, event_type: str) -> None:
        """A role may send a type: the event goes on to its case (here: 503); it may not:
        403 with rule ACCESS, before any case is asked."""
        sender = role if role != OPERATOR else example(event_type)["organisation"]
        response = await client.post(
            path_for(event_type),
            headers=bearer(role),
            json=example(event_type, organisation=sender),
        )
        if role == "analyst":
            assert_problem(response, 403, rule="ACCESS")
        elif role == OPERATOR:
            assert_problem(response, 403, rule="ACCESS", field="organisation")
        elif may_send(role, event_type):
            assert_problem(response, 503, type="urn:pathway:problem:temporal-unavailable")
        else:
            assert_problem(response, 403, rule="ACCESS", field="type")

    async def test_nobody_sends_as_someone_else(self, client: httpx.AsyncClient) -> None:
        """Caritas cannot send an event that names Ključ as its sender: 403, field
        organisation."""
        response = await client.post(
            path_for("departed"),
            headers=bearer("caritas"),
            json=example("departed", organisation="kljuc"),
        )
        assert_problem(response, 403, rule="ACCESS", field="organisation")

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", f"/v1/cases/{CASE}"),
            ("GET", f"/v1/cases/{CASE}/timeline"),
            ("GET", "/v1/obligations"),
        ],
    )
    async def test_analysts_read_no_case(
        self, client: httpx.AsyncClient, method: str, path: str
    ) -> None:
        """Analysts get 403 on every case endpoint (aggregates only)."""
        response = await client.request(method, path, headers=bearer("analyst"))
        assert_problem(response, 403, rule="ACCESS")

    async def test_obligations_of_another_organisation(self, client: httpx.AsyncClient) -> None:
        """An organisation asking for another's obligations gets 403; an operator must name
        one (422)."""
        response = await client.get(
            "/v1/obligations?organisation=police", headers=bearer("caritas")
        )
        assert_problem(response, 403, field="organisation")
        response = await client.get("/v1/obligations", headers=bearer(OPERATOR))
        assert_problem(response, 422, field="organisation")


class TestMalformedInput:
    """Bad input is a 4xx naming what is wrong, never a 500, and never reaches a case."""

    async def test_field_paths_of_an_invalid_event(self, client: httpx.AsyncClient) -> None:
        """Each problem names its field path, without the event type's tag."""
        body = example("identified", organisation="police")
        body["person"] = {**body["person"], "citizenships": ["colombia"]}
        del body["subject_ref"]
        response = await client.post("/v1/cases", headers=bearer("police"), json=body)
        problem = assert_problem(response, 422, type="urn:pathway:problem:invalid-event")
        fields = {error["field"] for error in problem["errors"]}
        assert fields == {"person.citizenships.0", "subject_ref"}

    @pytest.mark.parametrize(
        ("content", "status"),
        [
            (b"{not json", 400),
            (b"[" * 50_000, 400),
            (b'{"type": "departed", "event_id": "' + b"9" * 5000 + b'"}', 422),
            (b"\xff\xfe\x00", 400),
            (b"[]", 422),
            (b'"identified"', 422),
            (b'{"type": "no_such_event"}', 422),
            (b"1" * 5000, 400),
        ],
    )
    async def test_garbage(self, client: httpx.AsyncClient, content: bytes, status: int) -> None:
        """Broken JSON is 400; JSON that is no event is 422."""
        response = await client.post(
            f"/v1/cases/{CASE}/events",
            content=content,
            headers={**bearer("caritas"), "Content-Type": "application/json"},
        )
        assert_problem(response, status)

    async def test_identification_goes_to_cases(self, client: httpx.AsyncClient) -> None:
        """An identification sent as a case event, or another event sent to open a case, is
        422 naming the field type."""
        response = await client.post(
            f"/v1/cases/{CASE}/events",
            headers=bearer("police"),
            json=example("identified", organisation="police"),
        )
        assert_problem(response, 422, field="type")
        response = await client.post(
            "/v1/cases", headers=bearer("police"), json=example("criminal_proceedings_opened")
        )
        assert_problem(response, 422, field="type")

    async def test_not_json(self, client: httpx.AsyncClient) -> None:
        """A body that is not application/json is 415."""
        response = await client.post(
            f"/v1/cases/{CASE}/events",
            content=b"type=departed",
            headers={**bearer("caritas"), "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert_problem(response, 415)

    @pytest.mark.parametrize(
        "case_id", ["nocase", "case-UPPER", "case-", "case-a%2F..", "case-" + "a" * 200]
    )
    async def test_impossible_case_id_is_404(self, client: httpx.AsyncClient, case_id: str) -> None:
        """A case ID that cannot exist is 404 at once (Temporal is never asked: no 503)."""
        response = await client.get(f"/v1/cases/{case_id}", headers=bearer("caritas"))
        assert_problem(response, 404)

    async def test_unknown_path_and_method(self, client: httpx.AsyncClient) -> None:
        """Unknown paths and methods answer in the problem format too."""
        assert_problem(await client.get("/v2/nothing"), 404)
        response = await client.delete(f"/v1/cases/{CASE}", headers=bearer("caritas"))
        assert_problem(response, 405)

    async def test_a_trailing_slash_is_no_redirect(self, client: httpx.AsyncClient) -> None:
        """A path with a trailing slash is a 404 in the problem format, not a redirect whose
        Location is built from the caller's Host header (a leftover of the review of issue
        16)."""
        for path in ("/v1/cases/", f"/v1/cases/{CASE}/", "/healthz/"):
            response = await client.get(path, headers={**bearer("caritas"), "Host": "evil.example"})
            assert_problem(response, 404)
            assert "location" not in response.headers

    async def test_implausible_facts_name_the_field_and_the_rule(
        self, client: httpx.AsyncClient
    ) -> None:
        """Issue 13 (docs/rules.md "INPUT"): a birth date after the event, a permit valid until
        9999-12-31 (which overflowed the rules' date arithmetic) and a blank best-interests note
        (C1) are 422 naming the field, the message naming the rule; no case is asked (Temporal
        is unreachable here: that would be 503)."""
        body = example("identified", organisation="police")
        body["person"] = {**body["person"], "birth_date": "2029-03-02"}
        response = await client.post("/v1/cases", headers=bearer("police"), json=body)
        problem = assert_problem(response, 422, field="person.birth_date")
        assert problem["errors"] == [
            {
                "field": "person.birth_date",
                "message": "INPUT: a birth date cannot lie after the event (occurred_at)",
            }
        ]
        response = await client.post(
            f"/v1/cases/{CASE}/events",
            headers=bearer("migration_authority"),
            json=example("temporary_residence_permit_renewed", valid_until="9999-12-31"),
        )
        problem = assert_problem(response, 422, field="valid_until")
        assert problem["errors"][0]["message"].startswith("INPUT: a date must lie between")
        note = example("guardian_appointed")
        note["child"] = {**note["child"], "best_interests": " \t "}
        response = await client.post(
            f"/v1/cases/{CASE}/events", headers=bearer("social_work_centre"), json=note
        )
        problem = assert_problem(response, 422, field="child.best_interests")
        assert problem["errors"][0]["message"] == "C1: a best-interests note cannot be blank"

    async def test_no_personal_data_echoed(self, client: httpx.AsyncClient) -> None:
        """An invalid event's answer names fields, never the values sent."""
        body = example("identified", organisation="police", subject_ref=CANARY)
        body["person"] = {**body["person"], "birth_date": CANARY}
        response = await client.post("/v1/cases", headers=bearer("police"), json=body)
        assert_problem(response, 422, field="person.birth_date")


class TestLimits:
    """Request size and per-organisation rate limits."""

    async def test_body_too_large(self) -> None:
        """A body over the limit is 413, whether its length is declared or streamed."""
        temporal = await unreachable_temporal()
        app = gateway(temporal, GatewaySettings(pepper=b"p", max_body_bytes=2048))
        headers = {**bearer("caritas"), "Content-Type": "application/json"}
        async with http(app) as client:
            response = await client.post(
                f"/v1/cases/{CASE}/events", headers=headers, content=b" " * 4096 + b"{}"
            )
            assert_problem(response, 413)

            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(5):
                    yield b" " * 1000

            response = await client.post(
                f"/v1/cases/{CASE}/events", headers=headers, content=chunks()
            )
            assert_problem(response, 413)

    async def test_rate_limit_per_organisation(self) -> None:
        """After its burst an organisation gets 429 with Retry-After; another organisation
        is not slowed by it."""
        temporal = await unreachable_temporal()
        app = gateway(temporal, GatewaySettings(pepper=b"p", rate_per_second=0.01, burst=3))
        async with http(app) as client:
            statuses = [
                (await client.get("/v1/cases/nocase", headers=bearer("caritas"))).status_code
                for _ in range(4)
            ]
            assert statuses == [404, 404, 404, 429]
            response = await client.get("/v1/cases/nocase", headers=bearer("caritas"))
            assert_problem(response, 429, type="urn:pathway:problem:rate-limited")
            assert int(response.headers["retry-after"]) >= 1
            other = await client.get("/v1/cases/nocase", headers=bearer("kljuc"))
            assert other.status_code == 404


class TestRateLimiter:
    """The token bucket."""

    def test_burst_then_refill(self) -> None:
        """A bucket gives its burst at once, then one token per 1/rate seconds."""
        now = [0.0]
        limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
        assert [limiter.take("caritas") for _ in range(3)] == [None, None, None]
        assert limiter.take("caritas") == 1
        now[0] = 0.5
        assert limiter.take("caritas") is None
        assert limiter.take("caritas") == 1
        assert limiter.take("police") is None

    def test_refuses_nonsense(self) -> None:
        """A rate of zero or an empty burst is a configuration error."""
        with pytest.raises(ValueError, match="rate must be positive"):
            RateLimiter(rate=0, burst=1)


class TestTemporalUnreachable:
    """Without Temporal the gateway says so, with Retry-After."""

    async def test_readiness_and_events(self, client: httpx.AsyncClient) -> None:
        """/healthz is 200 and /readyz 503; an event gets 503 with Retry-After."""
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        response = await client.get("/readyz")
        assert_problem(response, 503)
        assert response.headers["retry-after"] == "5"
        response = await client.post(
            path_for("departed"), headers=bearer("caritas"), json=example("departed")
        )
        assert_problem(response, 503)
        assert response.headers["retry-after"] == "5"


class TestOpenApi:
    """The API describes itself."""

    async def test_document(self, client: httpx.AsyncClient) -> None:
        """/openapi.json lists every endpoint, the request bodies' schemas (every event
        type) and the bearer scheme; /docs is served."""
        document: dict[str, Any] = (await client.get("/openapi.json")).json()
        assert set(document["paths"]) == {
            "/healthz",
            "/readyz",
            "/v1/cases",
            "/v1/cases/{case_id}/events",
            "/v1/cases/{case_id}",
            "/v1/cases/{case_id}/timeline",
            "/v1/obligations",
            "/v1/statistics/annual",
        }
        schemas = document["components"]["schemas"]
        union = schemas["CaseEvent"]
        assert set(union["discriminator"]["mapping"]) == set(EVENT_TYPES)
        body = document["paths"]["/v1/cases"]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Identified"
        }
        assert "bearer" in document["components"]["securitySchemes"]
        assert (await client.get("/docs")).status_code == 200


class TestNotFoundTakesItsTime:
    """A 404 for a case takes at least ``not_found_floor`` (docs/gateway.md): a non-member's
    refusal of an existing case is decided after reading it, a made-up ID's at once, and the
    floor hides which (review finding 4). Only a lower bound is checked: a busy machine may
    always take longer."""

    async def test_a_made_up_case_id_answers_no_sooner_than_the_floor(self) -> None:
        settings = GatewaySettings(pepper=b"p", temporal_timeout=2, not_found_floor=0.5)
        async with http(gateway(await unreachable_temporal(), settings)) as client:
            started = time.perf_counter()
            response = await client.get("/v1/cases/nonsense", headers=bearer("kljuc"))
            elapsed = time.perf_counter() - started
        assert response.status_code == 404
        assert elapsed >= 0.5
