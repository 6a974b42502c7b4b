"""The canary test extended to the console's programme registers (issue 17 items 5 and 7), on
the real dev server and workers (this module's own server: a register is one workflow per
programme, so its events must meet this test's workers).

PATS interviews (P1) are recorded by Ključ, the social work centre and UOIM, and a
prostitution-exit participant (X1) is enrolled, counselled and another leaves, through the
console's forms (one UOIM interview through the client, to plant an event ID the console would
replace): every free text (the actor), identifier (the event ID, the NGO's pseudonym) and
time is a unique canary. Then every role signs in and fetches every register page (the list,
both registers, every form, a register that does not exist):

- a register's page shows exactly the canaries the policy lets the role read
  (:func:`pathway.access.policy.register_view`: its own interviews' times; Ključ its
  participants by pseudonym and their times), every other page none;
- no canary in any URL, ``Location`` header, page title or log line; the actors and event IDs
  nowhere at all;
- every answer ``Cache-Control: no-store``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from pathway.access.policy import ROLES, may_read_register, registers_run_by
from pathway.clients.programmes import PatsInterviewReport, report_pats_interview
from pathway.console.forms import local_input
from pathway.console.routes import local_time
from pathway.domain.organisations import Organisation as Org
from pathway.domain.programmes import PROGRAMME_EVENT_TYPES, PatsInterviewRecorded, Programme
from pathway.gateway import GatewaySettings
from pathway.logs import configure_logging
from tests.gateway_kit import gateway
from tests.harness import PEPPER, Bench, bench
from tests.test_canary import Canaries
from tests.test_console import csrf_of
from tests.test_console_recording import hidden_event_id, sign_in
from tests.test_gateway import Deployment
from tests.test_gateway import deployment as deployment  # this module's own dev server

pytestmark = [pytest.mark.devserver, pytest.mark.usefixtures("restored_logging")]

PATS = "/console/programmes/pats"
EXIT = "/console/programmes/prostitution_exit"
#: Every page of the registers, for every role: the list, each register, each form, and a
#: register that does not exist.
PAGES = [
    "/console/programmes",
    PATS,
    EXIT,
    *(
        f"/console/programmes/{cls.programme.value}/events/new?type={event_type}"
        for event_type, cls in sorted(PROGRAMME_EVENT_TYPES.items())
    ),
    "/console/programmes/no_such_register",
]
#: The register each page shows entries of.
SHOWS = {PATS: Programme.PATS, EXIT: Programme.PROSTITUTION_EXIT}


@dataclass
class Console:
    bench: Bench
    app: FastAPI
    settings: GatewaySettings

    def browser(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://localhost", timeout=90
        )


@pytest_asyncio.fixture
async def console(deployment: Deployment) -> AsyncIterator[Console]:
    async with bench(deployment.env, upsert_search_attributes=True) as b:
        settings = GatewaySettings(
            pepper=PEPPER, task_queue=b.task_queue, case_config=b.config, temporal_timeout=60.0
        )
        yield Console(b, gateway(b.client, settings), settings)


@dataclass
class Planted:
    """The canaries, and which of them each role may read on each register's page."""

    canary: Canaries = field(default_factory=Canaries)
    #: (page, role) -> the canaries that page shows that role.
    readable: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    #: Every answer of the planting (POSTs and their redirects), checked as the pages are.
    answers: list[httpx.Response] = field(default_factory=list)

    def instant(self, hours_ago: float, minute: int) -> datetime:
        """A canary time ``hours_ago`` at ``minute`` past the hour, as the page writes it."""
        at = (datetime.now(UTC) - timedelta(hours=hours_ago)).replace(
            minute=minute, second=0, microsecond=0
        )
        self.canary.date(local_time(at))
        return at

    def when(self, page: str, role: str, hours_ago: float, minute: int, shown: bool = True) -> str:
        """:meth:`instant` as the form's input (Ljubljana); the page shows it to ``role``
        (unless not ``shown``: a counselling session before the last)."""
        at = self.instant(hours_ago, minute)
        if shown:
            self.show(page, role, local_time(at))
        return local_input(at)

    def show(self, page: str, role: str, canary: str) -> str:
        self.readable.setdefault((page, role), set()).add(canary)
        return canary


async def post_form(
    client: httpx.AsyncClient, planted: Planted, programme: str, event_type: str, **fields: str
) -> httpx.Response:
    """The register form of ``event_type`` as the signed-in organisation fills it in."""
    path = f"/console/programmes/{programme}/events/new"
    form = await client.get(path, params={"type": event_type})
    assert form.status_code == 200, form.text
    posted = {
        "csrf_token": csrf_of(form.text),
        "event_id": hidden_event_id(form.text),
        "actor": planted.canary.new("actor"),
        **fields,
    }
    answer = await client.post(path, params={"type": event_type}, data=posted)
    planted.answers += [form, answer]
    return answer


async def plant(c: Console) -> Planted:
    """Interviews by Ključ, the social work centre and UOIM (one through the client, with a
    canary event ID), two X1 participants (one counselled, one who left) and a refused session
    of someone not enrolled (its pseudonym a canary too)."""
    planted = Planted()
    async with c.browser() as client:
        for n, role in enumerate(("kljuc", "social_work_centre", "uoim")):
            await sign_in(client, role)
            recorded = await post_form(
                client,
                planted,
                "pats",
                "pats_interview_recorded",
                occurred_at=planted.when(PATS, role, 30 + n, 7 + 11 * n),
                language="ar",
                citizenships="SY",
                minor="false",
                age_appropriate="false",
                shortened_at_placement="false",
                suspicion="false",
            )
            assert recorded.status_code == 303, recorded.text

        await sign_in(client, "kljuc")
        counselled, left = planted.canary.new("participant"), planted.canary.new("participant")
        for ref, hours in ((counselled, 20), (left, 19)):
            planted.show(EXIT, "kljuc", ref)
            enrolled = await post_form(
                client,
                planted,
                "prostitution_exit",
                "exit_programme_enrolled",
                occurred_at=planted.when(EXIT, "kljuc", hours, 13 if ref == counselled else 17),
                participant_ref=ref,
                citizenships="NG",
                minor="false",
            )
            assert enrolled.status_code == 303, enrolled.text
        sessions = [("individual", 5, 29), ("group", 4, 47)]  # the last one is on the page
        for session, hours, minute in sessions:
            at = planted.when(EXIT, "kljuc", hours, minute, shown=session == "group")
            recorded = await post_form(
                client,
                planted,
                "prostitution_exit",
                "exit_counselling_recorded",
                occurred_at=at,
                participant_ref=counselled,
                session=session,
            )
            assert recorded.status_code == 303, recorded.text
        gone = await post_form(
            client,
            planted,
            "prostitution_exit",
            "exit_programme_left",
            occurred_at=planted.when(EXIT, "kljuc", 3, 53),
            participant_ref=left,
        )
        assert gone.status_code == 303, gone.text
        # A session of someone never enrolled: refused at the pseudonym (X1), whose canary
        # comes back in the form Ključ filled in, and goes nowhere else.
        stranger = planted.canary.new("participant")
        refused = await post_form(
            client,
            planted,
            "prostitution_exit",
            "exit_counselling_recorded",
            occurred_at=local_input(datetime.now(UTC) - timedelta(hours=2)),
            participant_ref=stranger,
            session="group",
        )
        assert refused.status_code == 409, refused.text
        assert stranger in refused.text  # its own input, to correct

    # Through the client (as `pathway programme pats` records it): an event ID of its own.
    interviewed = planted.instant(26, 59)
    planted.show(PATS, "uoim", local_time(interviewed))
    interview = PatsInterviewRecorded(
        event_id=planted.canary.new("event_id"),
        organisation=Org.UOIM,
        actor=planted.canary.new("actor"),
        occurred_at=interviewed,
        language="fa",
        citizenships=["AF"],
        minor=True,
        age_appropriate=True,
        suspicion=False,
    )
    await report_pats_interview(
        c.bench.client,
        PatsInterviewReport(interview=interview),
        pepper=PEPPER,
        config=c.settings.case_config,
        task_queue=c.settings.task_queue,
    )
    return planted


def title_of(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.S)
    assert found is not None, html
    return found.group(1)


def check_answer(planted: Planted, answer: httpx.Response, where: str) -> None:
    """No canary in the answer's address, ``Location`` or title; never cached."""
    assert answer.headers["cache-control"] == "no-store", where
    assert planted.canary.found_in(str(answer.url)) == [], where
    assert planted.canary.found_in(answer.headers.get("location", "")) == [], where
    if "<title>" in answer.text:
        assert planted.canary.found_in(title_of(answer.text)) == [], where


async def test_canaries_on_the_register_pages_for_each_role(
    console: Console, capfd: pytest.CaptureFixture[str]
) -> None:
    configure_logging(json=True, level="DEBUG")
    planted = await plant(console)
    for answer in planted.answers:
        check_answer(planted, answer, f"planting {answer.request.method} {answer.url.path}")
    # The actors and the event ID are kept nowhere a page could show them.
    hidden = {c for c in planted.canary.values if c.startswith(("CANARY-actor", "CANARY-event"))}
    assert len(hidden) == 11

    runners: set[str] = set()
    for role in ROLES:
        async with console.browser() as client:
            await sign_in(client, role)
            unknown = await client.get("/console/programmes/no_such_register")
            for path in PAGES:
                answer = await client.get(path)
                where = f"{role} {path}"
                check_answer(planted, answer, where)
                shown = set(planted.canary.found_in(answer.text))
                programme = SHOWS.get(path)
                if programme is not None and may_read_register(role, programme):
                    assert answer.status_code == 200, where
                    assert shown == planted.readable.get((path, role), set()), where
                    runners.add(role)
                else:
                    assert shown == set(), where
                if programme is not None and not may_read_register(role, programme):
                    assert answer.status_code == 404, where
                    assert answer.content == unknown.content, where
                assert not shown & hidden, where
            listing = await client.get("/console/programmes")
            assert ("no-registers" in listing.text) is not bool(registers_run_by(role)), role
    # Organisations that run each register and organisations that run none took part, and
    # each runner saw canaries of its own.
    assert runners == {"kljuc", "social_work_centre", "uoim"}
    assert all(planted.readable[(PATS, r)] for r in runners)

    logs = "".join(capfd.readouterr())
    assert "console register event recorded" in logs  # the logs were really captured
    assert planted.canary.found_in(logs) == []
