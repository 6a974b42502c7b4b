"""The programme registers in the console (issue 17 item 5) against the real Temporal dev server
and workers (the bench's gateway, its own task queue): Ključ, which runs the prostitution-exit
register (X1), enrols a participant and records a counselling session through the forms made
from the events' JSON Schema (a double click records once; a session of a participant not
enrolled is refused at its field), and sees both listed by pseudonym; an organisation that does
not run the register gets the console's one 404 page for it and no link to it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pathway.console.forms import local_input
from tests.gateway_kit import TOKENS
from tests.test_console import csrf_of
from tests.test_console_inbox import browser as browser  # the bench's gateway, own task queue
from tests.test_console_recording import hidden_event_id, sign_in
from tests.test_gateway import deployment as deployment  # the module's dev server

pytestmark = pytest.mark.devserver

REGISTER = "/console/programmes/prostitution_exit"
FORM = REGISTER + "/events/new"


def an_hour_ago() -> str:
    return local_input(datetime.now(UTC) - timedelta(hours=1))


async def fill(
    browser: httpx.AsyncClient, event_type: str, fields: dict[str, str]
) -> tuple[httpx.Response, dict[str, str]]:
    """The form of ``event_type``, then posted with ``fields``; (the answer, what was posted)."""
    form = await browser.get(FORM, params={"type": event_type})
    assert form.status_code == 200, form.text
    assert form.headers["cache-control"] == "no-store"
    posted = {
        "csrf_token": csrf_of(form.text),
        "event_id": hidden_event_id(form.text),
        "occurred_at": an_hour_ago(),
        **fields,
    }
    return await browser.post(FORM, params={"type": event_type}, data=posted), posted


def row(html: str, ref: str) -> str:
    found = re.search(rf'<tr data-participant="{ref}">(.*?)</tr>', html, re.S)
    assert found is not None, html
    return found.group(1)


async def test_the_ngo_records_an_enrolment_and_a_session_and_sees_them_listed(
    browser: httpx.AsyncClient,
) -> None:
    await sign_in(browser, "kljuc")
    start = await browser.get("/console")
    assert 'id="nav-programmes"' in start.text  # Ključ runs registers: linked
    listing = await browser.get("/console/programmes")
    assert listing.status_code == 200
    assert f'href="{REGISTER}"' in listing.text
    assert 'href="/console/programmes/pats"' in listing.text  # Ključ holds PATS interviews too

    # A session of someone not enrolled: the register's rule X1, at the pseudonym's input.
    refused, _ = await fill(
        browser, "exit_counselling_recorded", {"participant_ref": "kl-77", "session": "group"}
    )
    assert refused.status_code == 409, refused.text
    at_field = re.search(
        r'id="f-participant_ref-error" data-field="participant_ref">([^<]*)<', refused.text
    )
    assert at_field is not None and at_field.group(1).startswith("X1: "), refused.text

    fields = {"participant_ref": "kl-77", "citizenships": "NG", "minor": "false"}
    enrolled, posted = await fill(browser, "exit_programme_enrolled", fields)
    assert enrolled.status_code == 303, enrolled.text
    assert enrolled.headers["location"] == REGISTER
    again = await browser.post(FORM, params={"type": "exit_programme_enrolled"}, data=posted)
    assert again.status_code == 303, again.text  # the double click: recorded once, no refusal

    for _ in range(2):
        session, posted = await fill(
            browser,
            "exit_counselling_recorded",
            {"participant_ref": "kl-77", "session": "individual"},
        )
        assert session.status_code == 303, session.text
    # The second session's form sent twice: one session.
    again = await browser.post(FORM, params={"type": "exit_counselling_recorded"}, data=posted)
    assert again.status_code == 303, again.text

    page = await browser.get(REGISTER)
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    listed = row(page.text, "kl-77")
    assert re.search(r'class="individual">2<', listed), listed
    assert re.search(r'class="group">0<', listed), listed
    # Times in Ljubljana, as Slovenians write them (1. 12. 2026 09:00).
    assert re.search(r"\d{1,2}\. \d{1,2}\. \d{4} \d\d:\d\d", listed), listed
    title = re.search(r"<title>([^<]*)</title>", page.text)
    assert title is not None and "kl-77" not in title.group(1)


@pytest.mark.parametrize("role", ["caritas", "police", "analyst", "uoim"])
async def test_an_organisation_that_does_not_run_the_register_gets_the_404(
    browser: httpx.AsyncClient, role: str
) -> None:
    await sign_in(browser, role)
    unknown = await browser.get("/console/programmes/no_such_register")
    for path in (REGISTER, FORM + "?type=exit_programme_enrolled"):
        refused = await browser.get(path)
        assert refused.status_code == 404, refused.text
        assert refused.text == unknown.text  # the same page as for no register at all
    posted = await browser.post(
        FORM,
        params={"type": "exit_programme_enrolled"},
        data={"csrf_token": csrf_of(unknown.text), "participant_ref": "kl-1"},
    )
    assert posted.status_code == 404, posted.text
    listing = await browser.get("/console/programmes")
    assert REGISTER not in listing.text
    start = await browser.get("/console")
    runs_one = role == "uoim"  # UOIM holds PATS interviews (P1), not X1
    assert ('id="nav-programmes"' in start.text) is runs_one
    assert ('id="no-registers"' in listing.text) is not runs_one
    assert TOKENS[role] not in listing.text
