"""The console's case page (issue 17 items 3 and 7).

Unit tests render the page for every role from the policy's view of a built case: each section
and each reason appears exactly when READ_MATRIX grants it, times in Europe/Ljubljana in the
Slovenian form, only the case ID in the title.

On the real dev server (each test with its own task queue, as tests/test_console_inbox.py):
the canary test extended to the console, for each role: a case whose free texts and personal
fields are canaries shows a canary on a role's case page only where the policy lets it read it,
and never in the inbox, a title or a URL; a non-member gets for an existing, an erased and an
unknown case the same 404 page, byte for byte and header for header. One test in Chromium:
from the inbox's link to the case page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from playwright.async_api import Browser

from pathway.access.credentials import OPERATOR, Principal
from pathway.access.policy import AUTHOR_READS, ROLES, case_view, may_read, may_read_cases
from pathway.console.case import case_page
from pathway.console.forms import sendable_types
from pathway.console.routes import _TEMPLATES, local_time, templates
from pathway.domain.calendar import LJUBLJANA
from pathway.privacy.erasure import erase_case
from tests.factories import T0
from tests.gateway_kit import TOKENS, bearer, bench_settings, example, gateway
from tests.harness import Bench, bench
from tests.receivers import eventually
from tests.test_canary import Canaries
from tests.test_console import csrf_of
from tests.test_gateway import Deployment
from tests.test_gateway import deployment as deployment  # the module's dev server
from tests.test_gateway_access import rich_case
from tests.test_gateway_docs_browser import (  # noqa: F401 (fixtures)
    PATIENCE_MS,
    browser,
    origin,
)
from tests.test_rejections import case_with_rejections

#: A case ID nothing was ever opened under.
NEVER = "case-" + "d" * 24
#: The sections of the page, each with the READ_MATRIX field that decides it.
SECTIONS = {
    'id="phase"': "phase",
    'id="members"': "membership",
    'id="deadlines"': "deadlines",
    'id="obligations"': "obligations",
    'id="timeline"': "timeline.what",
}


def rendered(role: str) -> str:
    state = rich_case()
    return _TEMPLATES.get_template("case.html").render(
        csrf="",
        principal=Principal(name=f"{role}-1", organisation=role),
        case=case_page(case_view(state, role)),
        local=local_time,
    )


def title_of(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.S)
    assert found is not None, html
    return found.group(1)


class TestPage:
    @pytest.mark.parametrize("role", [r for r in ROLES if may_read_cases(r)])
    def test_each_section_and_reason_as_the_policy_grants(self, role: str) -> None:
        """A section shows exactly when the role reads its field; Caritas's reason only for
        those who read reasons, the police's also for the police, who wrote it."""
        html = rendered(role)
        for marker, field in SECTIONS.items():
            assert (marker in html) is may_read(role, field), (role, field)
        reads_why = may_read(role, "timeline.why")
        assert ("CARITAS-REASON" in html) is reads_why, role
        assert ("POLICE-REASON" in html) is (reads_why or role == "police"), role
        assert "CANARY-HEALTH-DETAIL" not in html  # the page shows no special need
        case_id = rich_case().case_id
        assert title_of(html) == f"Case {case_id} – Pathway console"

    def test_times_in_ljubljana_in_slovenian_form(self) -> None:
        """The identification at 09:00 UTC on 2 March 2026 is ``2. 3. 2026 10:00`` (CET)."""
        assert T0.astimezone(LJUBLJANA).hour == 10
        html = rendered("caritas")
        assert "2. 3. 2026 10:00" in html
        assert "2026-03-02" not in html

    def test_a_deadline_at_midnight_is_the_end_of_the_day_before(self) -> None:
        """A deadline due at 00:00 in Ljubljana ends the day before at 24:00 (as R3's
        reminders say it), in summer time too; any other minute is shown as it is."""
        winter = datetime(2027, 2, 28, 23, 0, tzinfo=UTC)  # 1 March 00:00 CET
        summer = datetime(2026, 7, 31, 22, 0, tzinfo=UTC)  # 1 August 00:00 CEST
        assert local_time(winter) == "28. 2. 2027 24:00"
        assert local_time(summer) == "31. 7. 2026 24:00"
        assert local_time(summer + timedelta(minutes=1)) == "1. 8. 2026 00:01"
        assert local_time(None) == "–"

    @pytest.mark.parametrize("role", [r for r in ROLES if may_read_cases(r)])
    def test_rejected_events_marked_where_the_role_reads_them(self, role: str) -> None:
        """Issue 17 item 3: a rejected event is a timeline row marked "rejected", with its
        rule and the rule's reason (and the field it names): every one for care, the police
        their own (R2), nobody else's for anyone else, in the order noted."""
        state = case_with_rejections()
        page = case_page(case_view(state, role))
        html = _TEMPLATES.get_template("case.html").render(
            csrf="",
            principal=Principal(name=f"{role}-1", organisation=role),
            case=page,
            local=local_time,
        )
        care = may_read(role, "rejections")
        expected = ["R2", "K4", "R3"] if care else (["R2"] if role == "police" else [])
        assert page.timeline is not None
        rows = [e for e in page.timeline if e.rejected]
        assert [e.rule for e in rows] == expected, role
        assert html.count('<tr class="rejected">') == len(expected), role
        assert html.count('<strong class="badge">rejected</strong>') == len(expected), role
        if expected:
            assert "police information gathering started" in html
            assert "(field type)" in html  # R2 names the event's type
        # Each after the entries recorded before it was noted: the identification first.
        assert page.timeline[0].what == "identified" and not page.timeline[0].rejected

    def test_rejected_events_in_slovenian(self) -> None:
        """The mark and the note are translated; the rule's reason stays as worded."""
        html = (
            templates("sl")
            .get_template("case.html")
            .render(
                csrf="",
                principal=Principal(name="caritas-1", organisation="caritas"),
                case=case_page(case_view(case_with_rejections(), "caritas")),
                local=local_time,
            )
        )
        assert html.count('<strong class="badge">zavrnjen</strong>') == 3
        assert "(polje type)" in html and "»zavrnjen«" in html

    def test_only_open_obligations(self) -> None:
        """Closed obligations (the NGO interview, held) are not listed; open ones are."""
        state = rich_case()
        page = case_page(case_view(state, OPERATOR))
        assert page.obligations is not None
        open_ids = {o.id for o in state.obligations if o.closed_at is None}
        assert {o.id for o in page.obligations} == open_ids
        assert any(o.closed_at is not None for o in state.obligations)


# -- on the dev server ----------------------------------------------------------------------------
@dataclass
class Console:
    bench: Bench
    app: FastAPI
    api: httpx.AsyncClient

    def browser(self) -> httpx.AsyncClient:
        """A browser of its own (its own cookie jar) on the same gateway."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://localhost", timeout=90
        )


@pytest_asyncio.fixture
async def console(deployment: Deployment) -> AsyncIterator[Console]:
    async with bench(deployment.env, upsert_search_attributes=True) as b:
        settings = bench_settings(b)
        app = gateway(b.client, settings)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost", timeout=90
        ) as api:
            yield Console(b, app, api)


async def sign_in(client: httpx.AsyncClient, role: str) -> None:
    form = await client.get("/console/sign-in")
    signed = await client.post(
        "/console/sign-in", data={"csrf_token": csrf_of(form.text), "token": TOKENS[role]}
    )
    assert signed.status_code == 303, signed.text


def at(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


async def send(c: Console, case_id: str, role: str, body: dict[str, Any]) -> None:
    answer = await c.api.post(f"/v1/cases/{case_id}/events", headers=bearer(role), json=body)
    assert answer.status_code == 200, (role, answer.text)


@dataclass
class CanaryCase:
    case_id: str
    canary: Canaries
    #: Each reason canary with the organisation that wrote it.
    reasons: dict[str, str]
    #: Canaries no role sees on the console: the subject reference, the health detail, the
    #: permit number (fields the page does not show).
    never: list[str]
    #: On the timeline's ``who`` (an actor), for every reader of the case.
    actor: str


async def canary_case(c: Console, label: str) -> CanaryCase:
    """A third-country national identified by the police two days ago: Caritas interviews
    (a reason) and flags a health detail, the police grant a permit to stay (a reason), the
    migration authority a permit (its number): every free text and identifier a canary."""
    canary = Canaries()
    subject, actor = canary.new("subject_ref"), canary.new("actor")
    opened = await c.api.post(
        "/v1/cases",
        headers=bearer("police"),
        json=example(
            "identified",
            organisation="police",
            subject_ref=subject,
            event_id=f"p-{label}",
            occurred_at=at(-2 * 24 * 60),
            actor=actor,
        ),
    )
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    caritas_reason, police_reason = canary.new("caritas_reason"), canary.new("police_reason")
    health, permit = canary.new("health"), canary.new("permit_number")
    today = datetime.now(UTC).astimezone(LJUBLJANA).date()
    steps = [
        ("caritas", example("ngo_interview_held", event_id=f"c1-{label}", reason=caritas_reason)),
        (
            "caritas",
            example(
                "special_need_flagged", event_id=f"c2-{label}", need="pregnancy", detail=health
            ),
        ),
        (
            "police",
            example(
                "permit_to_stay_granted",
                event_id=f"p1-{label}",
                reason=police_reason,
                valid_from=today.isoformat(),
            ),
        ),
        (
            "migration_authority",
            example(
                "temporary_residence_permit_granted",
                event_id=f"m1-{label}",
                valid_from=today.isoformat(),
                valid_until=(today + timedelta(days=365)).isoformat(),
                permit_number=permit,
            ),
        ),
    ]
    for role, body in steps:
        await send(c, case_id, role, {**body, "organisation": role, "occurred_at": at(-5)})
    return CanaryCase(
        case_id=case_id,
        canary=canary,
        reasons={caritas_reason: "caritas", police_reason: "police"},
        never=[subject, health, permit],
        actor=actor,
    )


def expected_on_case_page(case: CanaryCase, role: str) -> set[str]:
    """The canaries READ_MATRIX lets ``role``, a member, read on the page: the actor (the
    timeline's ``who``), and a reason if it reads reasons or wrote it (AUTHOR_READS)."""
    shown = {case.actor} if may_read(role, "timeline.who") else set()
    for reason, author in case.reasons.items():
        if may_read(role, "timeline.why") or (author == role and "timeline.why" in AUTHOR_READS):
            shown.add(reason)
    return shown


async def check_picture(
    client: httpx.AsyncClient, case: CanaryCase, role: str, status: int
) -> None:
    """The timeline picture answers as the case page did; a member's holds no canary at all
    (it draws codes and dates only), phase bands only for those who read the phase; refused,
    it is the case page's own refusal (a non-member: the unknown case's 404, byte for byte)."""
    picture = await client.get(f"/console/cases/{case.case_id}/timeline.svg")
    assert picture.status_code == status, role
    assert picture.headers["cache-control"] == "no-store", role
    assert case.canary.found_in(picture.text) == [], role
    if status == 200:
        assert picture.headers["content-type"] == "image/svg+xml", role
        assert 'id="timeline-today"' in picture.text, role
        assert ('id="timeline-phase-0"' in picture.text) is may_read(role, "phase"), role
    else:
        unknown = await client.get(f"/console/cases/{NEVER}/timeline.svg")
        if status == 404:
            assert picture.content == unknown.content, role


@pytest.mark.devserver
async def test_canaries_on_the_console_for_each_role(console: Console) -> None:
    """Item 7, for every role: the inbox shows no canary; the case page shows a member exactly
    the canaries the policy lets it read, a non-member and an analyst none (404 and 403); no
    canary in a title or a URL; the inbox links to the case page."""
    case = await canary_case(console, "canary")
    state = await console.bench.state(case.case_id)
    unknown_pages: dict[str, bytes] = {}
    for role in ROLES:
        async with console.browser() as client:
            await sign_in(client, role)
            inbox = await client.get("/console")
            member = role == OPERATOR or bool(state.roles_of(role))
            assert case.canary.found_in(inbox.text) == [], role
            assert case.canary.found_in(title_of(inbox.text)) == [], role
            if role == "caritas":  # the lead NGO: R3 overdue, in its inbox
                link = f'href="/console/cases/{case.case_id}"'

                async def linked(client: httpx.AsyncClient = client, link: str = link) -> bool:
                    return link in (await client.get("/console")).text

                assert await eventually(linked, timeout=120, interval=0.5), role

            page = await client.get(f"/console/cases/{case.case_id}")
            assert case.canary.found_in(str(page.url)) == [], role
            assert case.canary.found_in(title_of(page.text)) == [], role
            assert page.headers["cache-control"] == "no-store", role
            if not may_read_cases(role):
                assert page.status_code == 403, role
                assert case.canary.found_in(page.text) == [], role
            elif member:
                assert page.status_code == 200, (role, page.text)
                assert title_of(page.text) == f"Case {case.case_id} – Pathway console"
                assert set(case.canary.found_in(page.text)) == expected_on_case_page(case, role)
                assert not set(case.never) & set(case.canary.found_in(page.text)), role
                # The recording forms are offered to those the policy lets send to the case.
                offered = 'id="record"' in page.text
                assert offered is bool(sendable_types(state, role)), role
                assert offered is (role != OPERATOR), role
            else:
                unknown = await client.get(f"/console/cases/{NEVER}")
                unknown_pages[role] = unknown.content
                assert page.status_code == unknown.status_code == 404, role
                assert page.content == unknown.content, role
            await check_picture(client, case, role, page.status_code)
    # Every member role and every non-member role took part: the test saw both kinds.
    assert unknown_pages and any(state.roles_of(r) for r in ROLES)


@pytest.mark.devserver
async def test_a_rejected_event_on_the_timeline_for_each_role(console: Console) -> None:
    """Issue 17 item 3, through the gateway's send route on the dev server: the police gather
    information before the NGO's interview (409, R2), with a canary actor and reason; Ključ,
    no member, sends an event (404). The case notes the police's rejection and nothing of
    Ključ's: its rejections list the one, and no canary is in the case. On the console the
    rejected row (marked, with R2 and the reason) is on the timeline of care and of the police,
    who sent it, and of no other member; a non-member gets the 404 page."""
    canary = Canaries()
    opened = await console.api.post(
        "/v1/cases",
        headers=bearer("police"),
        json=example(
            "identified",
            organisation="police",
            subject_ref=canary.new("subject_ref"),
            event_id="p-rejected",
            occurred_at=at(-60),
        ),
    )
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    early = example(
        "police_information_gathering_started",
        organisation="police",
        event_id="p-too-early",
        occurred_at=at(-5),
        actor=canary.new("actor"),
        reason=canary.new("reason"),
    )
    refused = await console.api.post(
        f"/v1/cases/{case_id}/events", headers=bearer("police"), json=early
    )
    assert refused.status_code == 409 and refused.json()["rule"] == "R2", refused.text
    stranger = example(
        "cooperation_recorded", organisation="kljuc", event_id="k-stranger", occurred_at=at(-5)
    )
    not_found = await console.api.post(
        f"/v1/cases/{case_id}/events", headers=bearer("kljuc"), json=stranger
    )
    assert not_found.status_code == 404, not_found.text

    state = await console.bench.state(case_id)
    assert [(r.event_id, r.organisation.value, r.rule) for r in state.rejections] == [
        ("p-too-early", "police", "R2")
    ]
    # The event's actor and reason are nowhere in the case (the subject's reference is not
    # this test's question).
    assert set(canary.found_in(state.model_dump_json())) <= {canary.values[0]}
    api_police = await console.api.get(f"/v1/cases/{case_id}", headers=bearer("police"))
    assert [r["event_id"] for r in api_police.json()["rejections"]] == ["p-too-early"]

    seen: dict[str, bool] = {}
    for role in ROLES:
        async with console.browser() as client:
            await sign_in(client, role)
            page = await client.get(f"/console/cases/{case_id}")
            assert canary.found_in(page.text) == [], role
            member = role == OPERATOR or bool(state.roles_of(role))
            if not may_read_cases(role) or not member:
                assert page.status_code in (403, 404), role
                continue
            assert page.status_code == 200, role
            marked = '<tr class="rejected">' in page.text
            assert marked is (may_read(role, "rejections") or role == "police"), role
            if marked:
                assert "police information gathering started" in page.text, role
                assert ">R2<" in page.text, role
            seen[role] = marked
    # Members that see it and members that do not both took part.
    assert True in seen.values() and False in seen.values(), seen


@pytest.mark.devserver
async def test_non_member_cannot_tell_existing_erased_and_unknown_apart(
    console: Console, deployment: Deployment
) -> None:
    """Ključ, a member of none of them, gets the same 404 page (status, headers, body) for an
    existing, an erased and an unknown case; a former member of the erased case learns of the
    erasure (410), as from the gateway."""
    existing = (await canary_case(console, "existing")).case_id
    gone = (await canary_case(console, "erased")).case_id
    await erase_case(console.bench.client, deployment.store, gone, by="dpo", why="request")
    async with console.browser() as kljuc:
        await sign_in(kljuc, "kljuc")
        answers = [await kljuc.get(f"/console/cases/{c}") for c in (existing, gone, NEVER)]
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert len({a.content for a in answers}) == 1, [a.text for a in answers]
    assert len({tuple(sorted(a.headers.multi_items())) for a in answers}) == 1
    assert existing not in answers[0].text and "No such case" in answers[0].text
    async with console.browser() as caritas:
        await sign_in(caritas, "caritas")
        former = await caritas.get(f"/console/cases/{gone}")
    assert former.status_code == 410, former.text


@pytest.fixture
def docs_app(console: Console) -> FastAPI:
    """The console's gateway in front of the dev server, served by ``origin`` (the fixture of
    tests/test_gateway_docs_browser.py)."""
    return console.app


@pytest.mark.devserver
async def test_from_the_inbox_to_the_case_page_in_chromium(
    console: Console,
    origin: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Caritas signs in by keyboard, follows the inbox's link to the case, and sees its phase,
    members, open obligations and timeline, the URL and title holding nothing but the case
    ID; a screenshot goes to ``test-output/``."""
    case = await canary_case(console, "browser")
    shots = tmp_path_factory.getbasetemp() / "test-output"
    shots.mkdir(exist_ok=True)
    page = await browser.new_page()
    try:
        page.set_default_timeout(PATIENCE_MS)
        await page.goto(f"{origin}/console/sign-in", wait_until="load")
        await page.fill("#token", TOKENS["caritas"])
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{origin}/console")
        link = page.locator(f'a[href="/console/cases/{case.case_id}"]').first

        async def listed() -> bool:
            # The obligations listing finds a new case once Temporal's visibility has it.
            await page.reload(wait_until="load")
            return bool(await link.count())

        assert await eventually(listed, timeout=120, interval=1.0)
        await link.click()
        await page.wait_for_url(f"{origin}/console/cases/{case.case_id}")
        assert await page.title() == f"Case {case.case_id} – Pathway console"
        for section in ("#phase", "#members", "#obligations", "#timeline"):
            assert await page.locator(section).is_visible(), section
        picture = page.locator("#timeline-picture")
        await picture.scroll_into_view_if_needed()

        async def drawn() -> bool:
            width = await picture.evaluate("img => img.complete && img.naturalWidth")
            return bool(width)

        assert await eventually(drawn, timeout=60, interval=0.2)
        text = await page.inner_text("main")
        assert set(case.canary.found_in(text)) == expected_on_case_page(case, "caritas")
        await page.screenshot(path=shots / "console-case.png", full_page=True)
    finally:
        await page.close()
