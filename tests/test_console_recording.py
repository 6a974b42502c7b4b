"""Recording events in the console (issue 17 item 4) against the real Temporal dev server and
workers: a form the rules reject shows the rule ID next to the field it names and changes
nothing; corrected, it is accepted; sent twice with its event ID it is applied once; a role that
may not send a type, and a non-member, get no form (the unknown case's 404)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from pathway.console.forms import local_input
from tests.gateway_kit import TOKENS, bearer, example
from tests.test_console import csrf_of
from tests.test_console_inbox import browser as browser  # the bench's gateway, own task queue
from tests.test_gateway import deployment as deployment  # the module's dev server

pytestmark = pytest.mark.devserver

FORM = "/console/cases/{case_id}/events/new"


async def sign_in(browser: httpx.AsyncClient, role: str) -> None:
    """``role`` signed in at this browser (whoever was before is forgotten)."""
    browser.cookies.clear()
    form = await browser.get("/console/sign-in")
    signed = await browser.post(
        "/console/sign-in", data={"csrf_token": csrf_of(form.text), "token": TOKENS[role]}
    )
    assert signed.status_code == 303, signed.text


async def open_case(browser: httpx.AsyncClient, name: str, hours_ago: float = 3) -> str:
    """A case the police identified ``hours_ago`` (the person understands Spanish)."""
    opened = await browser.post(
        "/v1/cases",
        headers=bearer("police"),
        json=example(
            "identified",
            organisation="police",
            subject_ref=f"console-recording-{name}",
            event_id=f"police-console-recording-{name}",
            occurred_at=(datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat(),
        ),
    )
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    return case_id


async def timeline(browser: httpx.AsyncClient, case_id: str) -> list[dict[str, Any]]:
    """The events the case recorded (its timeline's entries with an ``event_id``): not the
    service's own entries, such as a notification's delivery, which land when they land."""
    answer = await browser.get(f"/v1/cases/{case_id}/timeline", headers=bearer("caritas"))
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["timeline"]
    return [e for e in entries if e.get("event_id")]


def hidden_event_id(html: str) -> str:
    found = re.search(r'name="event_id" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


async def form_of(browser: httpx.AsyncClient, case_id: str, event_type: str) -> httpx.Response:
    return await browser.get(FORM.format(case_id=case_id), params={"type": event_type})


async def submit(
    browser: httpx.AsyncClient, case_id: str, event_type: str, fields: dict[str, Any]
) -> httpx.Response:
    return await browser.post(
        FORM.format(case_id=case_id), params={"type": event_type}, data=fields
    )


def an_hour_ago() -> str:
    return local_input(datetime.now(UTC) - timedelta(hours=1))


async def test_a_rejection_names_its_rule_at_its_field_then_the_event_is_recorded_once(
    browser: httpx.AsyncClient,
) -> None:
    case_id = await open_case(browser, "r3")
    await sign_in(browser, "caritas")
    form = await form_of(browser, case_id, "rights_information_given")
    assert form.status_code == 200, form.text
    assert form.headers["cache-control"] == "no-store"
    event_id = hidden_event_id(form.text)
    fields = {
        "csrf_token": csrf_of(form.text),
        "event_id": event_id,
        "occurred_at": an_hour_ago(),
        "subjects": ["a_institutions", "c_reporting_the_crime"],
        "language": "de",  # the person understands Spanish only: R3
        "interpreter_used": "false",
    }
    before = await timeline(browser, case_id)
    incomplete = await submit(
        browser, case_id, "rights_information_given", {**fields, "language": ""}
    )
    assert incomplete.status_code == 422, incomplete.text  # the schema's own refusal
    missing = re.search(r'id="f-language-error" data-field="language">([^<]*)<', incomplete.text)
    assert missing is not None and "required" in missing.group(1).lower(), incomplete.text
    refused = await submit(browser, case_id, "rights_information_given", fields)
    assert refused.status_code == 409, refused.text
    assert re.search(
        r'<input id="f-language"[^>]*aria-describedby="[^"]*f-language-error"', refused.text
    )
    at_field = re.search(r'id="f-language-error" data-field="language">([^<]*)<', refused.text)
    assert at_field is not None and at_field.group(1).startswith("R3: "), refused.text
    assert hidden_event_id(refused.text) == event_id  # kept for the corrected form
    assert 'value="de"' in refused.text  # what was entered, to correct
    assert await timeline(browser, case_id) == before  # nothing recorded

    fields["language"] = "es"
    for _ in range(2):  # a double click: the same form twice
        accepted = await submit(browser, case_id, "rights_information_given", fields)
        assert accepted.status_code == 303, accepted.text
        assert accepted.headers["location"] == f"/console/cases/{case_id}"  # the case page
    recorded = [e for e in await timeline(browser, case_id) if e.get("event_id") == event_id]
    assert len(recorded) == 1, recorded
    assert recorded[0]["what"] == "rights information given"
    # Back to the recorded form, changed, sent again: another event, which needs an ID of its own.
    changed = await submit(
        browser, case_id, "rights_information_given", {**fields, "interpreter_used": "true"}
    )
    assert changed.status_code == 409, changed.text
    assert 'data-field="event_id">IDEMPOTENCY: ' in changed.text
    renewed = hidden_event_id(changed.text)
    assert renewed != event_id
    again = await submit(
        browser,
        case_id,
        "rights_information_given",
        {**fields, "interpreter_used": "true", "event_id": renewed},
    )
    assert again.status_code == 303, again.text
    ids = [e.get("event_id") for e in await timeline(browser, case_id)]
    assert (ids.count(event_id), ids.count(renewed)) == (1, 1)
    case_page = await browser.get(accepted.headers["location"])
    assert case_page.status_code == 200
    shown = case_page.text.split('id="timeline"')[1]
    rows = re.findall(r'<tr class="(event|service|rejected)">(.*?)</tr>', shown, re.S)
    given = [(kind, row) for kind, row in rows if "rights information given" in row]
    # The updated case, each event once; the two rejections (R3, then IDEMPOTENCY) marked.
    assert [kind for kind, _ in given] == ["rejected", "event", "rejected", "event"]
    assert [
        re.findall(r">(R3|IDEMPOTENCY)<", row) for kind, row in given if kind == "rejected"
    ] == [
        ["R3"],
        ["IDEMPOTENCY"],
    ]


async def test_police_before_the_ngo_interview_is_refused_by_r2(
    browser: httpx.AsyncClient,
) -> None:
    case_id = await open_case(browser, "r2")
    await sign_in(browser, "police")
    form = await form_of(browser, case_id, "police_information_gathering_started")
    assert form.status_code == 200, form.text
    fields = {
        "csrf_token": csrf_of(form.text),
        "event_id": hidden_event_id(form.text),
        "occurred_at": an_hour_ago(),
        "trusted_person_offered": "true",
        "present": "nobody",
    }
    before = await timeline(browser, case_id)
    refused = await submit(browser, case_id, "police_information_gathering_started", fields)
    assert refused.status_code == 409, refused.text
    # R2 names the event's type: the error stands with the form's heading, the type's name.
    assert 'aria-describedby="form-errors"' in refused.text
    general = re.search(r'data-field="type">([^<]*)<', refused.text)
    assert general is not None and general.group(1).startswith("R2: "), refused.text
    assert await timeline(browser, case_id) == before  # nothing recorded

    # The form's CSRF token is the police session's: without it nothing is sent.
    forged = await submit(
        browser, case_id, "police_information_gathering_started", {**fields, "csrf_token": "0"}
    )
    assert forged.status_code == 403


async def test_no_form_for_a_type_the_role_may_not_send_nor_for_a_non_member(
    browser: httpx.AsyncClient,
) -> None:
    case_id = await open_case(browser, "access")
    await sign_in(browser, "police")
    chooser = await browser.get(FORM.format(case_id=case_id))
    assert chooser.status_code == 200
    assert "?type=police_information_gathering_started" in chooser.text
    assert "?type=case_closed" not in chooser.text  # the lead NGO's exit (policy)
    assert "?type=identified" not in chooser.text  # opens a case of its own
    unknown = await form_of(browser, "case-doesnotexist", "police_information_gathering_started")
    assert unknown.status_code == 404
    closing = await form_of(browser, case_id, "case_closed")
    assert closing.status_code == 404
    assert closing.text == unknown.text  # nothing tells the two apart
    case_page = await browser.get("/console/cases/case-doesnotexist")
    assert (case_page.status_code, case_page.text) == (404, unknown.text)  # the console's one 404
    fields = {"csrf_token": csrf_of(chooser.text), "event_id": "console-police-x"}
    posted = await submit(browser, case_id, "case_closed", fields)
    assert (posted.status_code, posted.text) == (404, unknown.text)

    await sign_in(browser, "kljuc")  # no member of this case
    stranger = await form_of(browser, case_id, "safe_accommodation_offered")
    nowhere = await form_of(browser, "case-doesnotexist", "safe_accommodation_offered")
    assert stranger.status_code == nowhere.status_code == 404
    assert stranger.text == nowhere.text
    assert (await browser.get(FORM.format(case_id=case_id))).text == nowhere.text
    fields = {"csrf_token": csrf_of(stranger.text), "event_id": "console-kljuc-x"}
    posted = await submit(browser, case_id, "safe_accommodation_offered", fields)
    assert (posted.status_code, posted.text) == (404, nowhere.text)
