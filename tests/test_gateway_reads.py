"""The gateway's shared case reads (pathway/gateway/_reads.py): a burst of requests for one case
makes one query, and a caller that gives up leaves it running for the others. No server: the
read is a plain coroutine that waits until the test lets it finish."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from temporalio.client import Client

from pathway.access.credentials import Principal
from pathway.access.identity import Authenticator
from pathway.domain.membership import MemberRole
from pathway.domain.state import CaseStanding, Phase
from pathway.gateway import context as gateway_context
from pathway.gateway._reads import SharedReads
from pathway.gateway.context import GatewayContext, GatewaySettings
from pathway.gateway.dependencies import member_standing
from pathway.web.problems import Problem


class Reads:
    """A read that counts its calls and finishes when the test says so."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = asyncio.Event()
        self.error: Exception | None = None

    async def read(self, key: str) -> str:
        self.calls.append(key)
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return f"state of {key} #{len(self.calls)}"


async def until(condition: object) -> None:
    for _ in range(1000):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


class TestSharedReads:
    async def test_a_burst_makes_one_read_per_case(self) -> None:
        reads = Reads()
        shared = SharedReads(reads.read)
        burst = [asyncio.ensure_future(shared.get("case-a")) for _ in range(50)]
        other = asyncio.ensure_future(shared.get("case-b"))
        await until(lambda: len(reads.calls) == 2)
        reads.release.set()
        answers = await asyncio.gather(*burst, other)
        assert sorted(reads.calls) == ["case-a", "case-b"]
        assert set(answers[:50]) == {answers[0]} and answers[50].startswith("state of case-b")
        assert shared.in_flight() == 0

    async def test_a_read_after_the_last_one_ended_is_a_new_read(self) -> None:
        reads = Reads()
        reads.release.set()
        shared = SharedReads(reads.read)
        first = await shared.get("case-a")
        second = await shared.get("case-a")
        assert (first, second) == ("state of case-a #1", "state of case-a #2")

    async def test_the_error_is_everyones(self) -> None:
        reads = Reads()
        reads.error = LookupError("no such case")
        shared = SharedReads(reads.read)
        waiting = [asyncio.ensure_future(shared.get("case-a")) for _ in range(3)]
        await until(lambda: reads.calls)
        reads.release.set()
        for one in waiting:
            with pytest.raises(LookupError, match="no such case"):
                await one
        assert reads.calls == ["case-a"] and shared.in_flight() == 0

    async def test_one_caller_giving_up_leaves_the_read_to_the_others(self) -> None:
        reads = Reads()
        shared = SharedReads(reads.read)
        impatient = asyncio.ensure_future(shared.get("case-a"))
        patient = asyncio.ensure_future(shared.get("case-a"))
        await until(lambda: reads.calls)
        impatient.cancel()
        with pytest.raises(asyncio.CancelledError):
            await impatient
        reads.release.set()
        assert await patient == "state of case-a #1"
        assert reads.calls == ["case-a"]

    async def test_a_read_nobody_waits_for_ends_and_is_forgotten(self) -> None:
        reads = Reads()
        reads.error = RuntimeError("lost")
        shared = SharedReads(reads.read)
        gave_up = asyncio.ensure_future(shared.get("case-a"))
        await until(lambda: reads.calls)
        gave_up.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gave_up
        reads.release.set()
        await until(lambda: shared.in_flight() == 0)


class TestStandingsArePerOrganisation:
    """Issue 14 review: the gateway shares an in-flight standing read only between requests of
    one organisation. A non-member's event that arrives while a member's standing is being read
    must not take the member's roles: it would pass the check before the lane and get the
    member's 403 or 409 where a non-member gets the 404 of a case that never was (R6)."""

    async def test_a_non_member_never_gets_a_members_standing_in_flight(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        asked: list[tuple[str, str]] = []
        release = asyncio.Event()

        async def standing(client: object, case_id: str, organisation: str) -> CaseStanding:
            asked.append((case_id, organisation))
            await release.wait()
            lead = frozenset({MemberRole.LEAD_NGO})
            return CaseStanding(
                phase=Phase.IDENTIFIED, roles=lead if organisation == "caritas" else frozenset()
            )

        monkeypatch.setattr(gateway_context, "case_standing", standing)
        gw = GatewayContext.create(
            client=cast(Client, None),
            authenticator=cast(Authenticator, None),
            settings=GatewaySettings(pepper=b"standing-test-pepper"),
        )
        case_id = "case-" + "s" * 24
        caritas = Principal(organisation="caritas", name="caseworker")
        kljuc = Principal(organisation="kljuc", name="outsider")
        member = asyncio.ensure_future(member_standing(gw, caritas, case_id))
        await until(lambda: asked == [(case_id, "caritas")])
        outsider = asyncio.ensure_future(member_standing(gw, kljuc, case_id))
        await until(lambda: len(asked) == 2)  # its own read, not the member's in flight
        release.set()
        assert (await member).roles == {MemberRole.LEAD_NGO}
        with pytest.raises(Problem) as refused:
            await outsider
        assert (refused.value.status, refused.value.slug) == (404, "not-found")
        assert asked == [(case_id, "caritas"), (case_id, "kljuc")]
