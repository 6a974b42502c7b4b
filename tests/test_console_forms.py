"""The console's event forms (issue 17 item 4), generated from the event models' JSON Schema:
every property becomes a labelled input of the right kind (nested objects as fieldsets, enums
as selects, lists of enum values as checkboxes, dates and Ljubljana times), required only where
the event cannot go without it; a posted form becomes the event; the forms offered are the
access policy's answer."""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from pathway.access.policy import Action, case_allows
from pathway.console.forms import (
    FIXED,
    EventForm,
    FieldKind,
    FormField,
    event_data,
    event_form,
    local_input,
    new_event_id,
    posted_event_id,
    sendable_types,
)
from pathway.console.routes import _TEMPLATES
from pathway.domain.events import EVENT_ADAPTER, EVENT_TYPES, parse_event
from tests.factories import accept, event, opened
from tests.gateway_kit import example

SCHEMA: dict[str, Any] = EVENT_ADAPTER.json_schema()
SAMPLES = (
    "police_information_gathering_started",
    "crisis_accommodation_placed",
    "rights_information_given",
    "facts_updated",
    "accompanying_child_recorded",
)


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    for variant in node.get("anyOf", ()):
        if variant.get("type") != "null":
            node = variant
    ref = node.get("$ref")
    return SCHEMA["$defs"][ref.rsplit("/", 1)[-1]] if ref else node


def schema_paths(spec: dict[str, Any], prefix: str = "") -> set[str]:
    """Every property's dotted path in ``spec``, nested objects' too, constants left out."""
    paths = set()
    for name, node in spec["properties"].items():
        target = _deref(node)
        if "const" in target or (not prefix and name in FIXED):
            continue
        paths.add(prefix + name)
        if target.get("type") == "object":
            paths |= schema_paths(target, f"{prefix}{name}.")
    return paths


def by_name(form: EventForm) -> dict[str, FormField]:
    return {f.name: f for f in form.all_fields()}


SENT = sorted(set(EVENT_TYPES) - {"identified"})  # every type a form may be offered for


@pytest.mark.parametrize("event_type", SENT)
def test_every_property_is_an_input(event_type: str) -> None:
    form = event_form(event_type)
    spec = SCHEMA["$defs"][EVENT_TYPES[event_type].__name__]
    assert set(by_name(form)) == schema_paths(spec)
    assert not FIXED & set(by_name(form))  # type, event_id, organisation: set by the server


def test_kinds_of_the_police_form() -> None:
    fields = by_name(event_form("police_information_gathering_started"))
    assert fields["occurred_at"].kind is FieldKind.DATETIME and fields["occurred_at"].required
    assert fields["present"].kind is FieldKind.SELECT and fields["present"].required
    assert [v for v, _ in fields["present"].options] == [
        "ngo_representative",
        "trusted_person",
        "nobody",
    ]
    assert fields["trusted_person_offered"].kind is FieldKind.BOOLEAN
    assert fields["trusted_person_offered"].required
    assert fields["qualified_personnel"].kind is FieldKind.BOOLEAN  # bool | None
    assert not fields["qualified_personnel"].required
    assert fields["reason"].kind is FieldKind.TEXTAREA and not fields["reason"].required
    assert fields["actor"].kind is FieldKind.TEXT and fields["actor"].max_length == 100
    assert fields["child"].kind is FieldKind.GROUP and not fields["child"].required


def test_nested_objects_optional_and_required() -> None:
    placed = by_name(event_form("crisis_accommodation_placed"))
    assert placed["consent"].kind is FieldKind.GROUP and not placed["consent"].required
    # Required by WrittenConsent, but the consent itself may be left out: not required here.
    assert placed["consent.signed_on"].kind is FieldKind.DATE
    assert not placed["consent.signed_on"].required
    assert "consent.form" not in placed  # a constant: nothing to enter
    facts = by_name(event_form("facts_updated"))
    assert facts["person"].kind is FieldKind.GROUP and facts["person"].required
    assert facts["person.citizenships"].kind is FieldKind.LIST
    assert facts["person.citizenships"].required
    assert facts["person.residence_status"].kind is FieldKind.SELECT
    assert facts["person.gender"].default == "unknown" and not facts["person.gender"].required
    years = facts["person.age_estimate.years"]
    assert years.kind is FieldKind.INTEGER and (years.minimum, years.maximum) == (0, 120)
    assert not years.required  # inside the optional age estimate
    assert facts["person.exploited_abroad"].default == "false"


def test_the_preliminary_programme_is_asked_with_no_answer_chosen() -> None:
    """S1: the preliminary assistance and protection programme is recorded, not assumed (the
    admission check refuses it left out): the form asks it with nothing preselected, although
    the model's default (for events recorded before) is true."""
    programme = by_name(event_form("safe_accommodation_placed"))["preliminary_programme"]
    assert programme.kind is FieldKind.BOOLEAN
    assert programme.required and programme.default is None
    # A boolean field with a default and no such mark keeps its default shown.
    assert by_name(event_form("facts_updated"))["person.exploited_abroad"].default == "false"


def test_lists_of_enum_values_are_checkboxes() -> None:
    subjects = by_name(event_form("rights_information_given"))["subjects"]
    assert subjects.kind is FieldKind.CHECKBOXES and subjects.required
    assert len(subjects.options) == 9  # R3 (a)-(i)


class _Inputs(HTMLParser):
    """The inputs, labels and legends of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.labels: set[str] = set()
        self.fieldsets: list[dict[str, str | None]] = []
        self.legends = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        a["tag"] = tag
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.inputs.append(a)
        elif tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        elif tag == "fieldset":
            self.fieldsets.append(a)
        elif tag == "legend":
            self.legends += 1


def render(form: EventForm, **context: Any) -> str:
    values = {"errors": {}, "general": [], "refusal": None, "values": {}, **context}
    return _TEMPLATES.get_template("event_form.html").render(
        csrf="0" * 64,
        principal=None,
        case_id="case-abc",
        form=form,
        event_id="console-police-1",
        back="/console",
        action="/console/cases/case-abc/events/new?type=" + form.event_type,
        **values,
    )


INPUT_TYPES = {
    FieldKind.TEXT: ("input", "text"),
    FieldKind.INTEGER: ("input", "number"),
    FieldKind.DATE: ("input", "date"),
    FieldKind.DATETIME: ("input", "datetime-local"),
    FieldKind.SELECT: ("select", None),
    FieldKind.BOOLEAN: ("select", None),
    FieldKind.TEXTAREA: ("textarea", None),
    FieldKind.LIST: ("input", "text"),
}


@pytest.mark.parametrize("event_type", SAMPLES)
def test_every_input_is_labelled_and_of_its_kind(event_type: str) -> None:
    form = event_form(event_type)
    page = _Inputs()
    page.feed(render(form))
    assert page.inputs, "no inputs"
    for element in page.inputs:
        assert element["id"] in page.labels, f"no label for {element}"
    assert len(page.fieldsets) == page.legends  # every group and checkbox set is named
    shown = {str(e["name"]): e for e in page.inputs}
    for f in form.all_fields():
        if f.kind in (FieldKind.GROUP, FieldKind.CHECKBOXES):
            assert any(s.get("id") == f.input_id for s in page.fieldsets), f.name
            continue
        element = shown[f.name]
        assert (element["tag"], element.get("type")) == INPUT_TYPES[f.kind], f.name
        assert ("required" in element) == f.required, f.name
    assert 'name="event_id" value="console-police-1"' in render(form)


def test_an_error_sits_next_to_its_field() -> None:
    html = render(event_form("rights_information_given"), errors={"language": "R3: not understood"})
    assert 'id="f-language-error" data-field="language">R3: not understood<' in html
    described = re.search(r'<input id="f-language"[^>]*aria-describedby="([^"]*)"', html)
    assert described is not None and "f-language-error" in described.group(1).split()
    assert re.search(r'<input id="f-language"[^>]*aria-invalid="true"', html)


def test_times_are_ljubljana_wall_clock() -> None:
    form = event_form("police_information_gathering_started")

    def occurred(text: str) -> tuple[Any, dict[str, str]]:
        data, errors = event_data(
            form, {"occurred_at": [text]}, event_id="e-1", organisation="police"
        )
        return data.get("occurred_at"), errors

    assert occurred("2026-11-20T09:30") == ("2026-11-20T09:30:00+01:00", {})
    assert occurred("2026-07-01T10:00") == ("2026-07-01T10:00:00+02:00", {})
    # Autumn: 02:30 happens twice; the first (summer time) is meant.
    assert occurred("2026-10-25T02:30") == ("2026-10-25T02:30:00+02:00", {})
    skipped, errors = occurred("2026-03-29T02:30")  # spring forward: no such time
    assert skipped is None and "does not exist" in errors["occurred_at"]
    assert "occurred_at" in occurred("20. 11. 2026")[1]


def test_a_posted_form_is_the_event() -> None:
    form = event_form("facts_updated")
    posted = {
        "occurred_at": ["2026-11-20T09:30"],
        "person.citizenships": ["CO, VE"],
        "person.residence_status": ["third_country_illegal"],
        "person.gender": ["female"],
        "person.exploited_abroad": ["true"],
        "person.holder_can_act": [""],
        "person.age_estimate.years": [""],
        "person.age_estimate.as_of": [""],
        "child.best_interests": [""],
        "reason": [""],
    }
    data, errors = event_data(form, posted, event_id="e-2", organisation="police")
    assert errors == {}
    assert data == {
        "type": "facts_updated",
        "event_id": "e-2",
        "organisation": "police",
        "occurred_at": "2026-11-20T09:30:00+01:00",
        "person": {
            "citizenships": ["CO", "VE"],
            "residence_status": "third_country_illegal",
            "gender": "female",
            "exploited_abroad": True,
        },
    }  # the optional age estimate and child decision, all empty, are left out
    parse_event(data)


def test_checkboxes_and_a_half_filled_group() -> None:
    data, errors = event_data(
        event_form("rights_information_given"),
        {"subjects": ["a_institutions", "g_compensation"], "child.child_views": ["asked"]},
        event_id="e-3",
        organisation="caritas",
    )
    assert data["subjects"] == ["a_institutions", "g_compensation"]
    assert data["child"] == {"child_views": "asked"}
    data, errors = event_data(
        event_form("facts_updated"),
        {"person.age_estimate.years": ["seventeen"]},
        event_id="e-4",
        organisation="police",
    )
    assert errors == {"person.age_estimate.years": "enter a whole number"}
    assert data["person"] == {}  # required: the model names what is missing


def test_forms_offered_are_the_policys() -> None:
    state = accept(opened(), event("ngo_interview_held", organisation="caritas"))
    for role in ("police", "caritas", "kljuc", "analyst", "operator"):
        offered = set(sendable_types(state, role))
        allowed = {t for t in EVENT_TYPES if case_allows(state, role, Action.SEND, t)}
        assert offered == allowed - {"identified"}, role
    assert "case_closed" in sendable_types(state, "caritas")  # the lead NGO ends the case
    police = sendable_types(state, "police")
    assert "police_information_gathering_started" in police and "case_closed" not in police
    assert sendable_types(state, "kljuc") == []  # no member of this case
    assert sendable_types(state, "operator") == []  # operators send no events


def test_event_ids_are_fresh() -> None:
    assert new_event_id("caritas") != new_event_id("caritas")
    assert new_event_id("caritas").startswith("console-caritas-")


def posted_form(form: EventForm, data: dict[str, Any]) -> dict[str, list[str]]:
    """What a browser posts for the event ``data`` filled into ``form``."""
    posted: dict[str, list[str]] = {}
    for f in form.all_fields():
        value: Any = data
        for part in f.name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None or f.kind is FieldKind.GROUP:
            continue
        if f.kind is FieldKind.CHECKBOXES:
            posted[f.name] = list(value)
        elif f.kind is FieldKind.LIST:
            posted[f.name] = [", ".join(value)]
        elif f.kind is FieldKind.BOOLEAN:
            posted[f.name] = ["true" if value else "false"]
        elif f.kind is FieldKind.DATETIME:
            posted[f.name] = [local_input(datetime.fromisoformat(value))]
        else:
            posted[f.name] = [str(value)]
    return posted


@pytest.mark.parametrize("event_type", SENT)
def test_the_documented_example_through_its_form_is_the_same_event(event_type: str) -> None:
    """Every event type's example (docs/events.md), entered into its form and posted, is the
    same event: no property is lost or changed on the way (times to the minute)."""
    data = example(event_type, occurred_at="2026-03-02T09:00:00+01:00")
    expected = parse_event(data)
    form = event_form(event_type)
    made, errors = event_data(
        form,
        posted_form(form, data),
        event_id=expected.event_id,
        organisation=expected.organisation.value,
    )
    assert errors == {}
    assert parse_event(made) == expected


class TestPostedEventIds:
    """A form's event ID is the one its page was given; any other is replaced, so a forged or
    foreign ID never reaches a register that recognises repeats by the ID alone (review of
    2026-12-01: UOIM posting Ključ's ID made Ključ's interview a "repeat" and dropped it)."""

    def test_the_pages_own_id_is_kept(self) -> None:
        own = new_event_id("kljuc")
        assert posted_event_id("kljuc", own) == own

    @pytest.mark.parametrize(
        "posted",
        [
            None,
            "",
            "kljuc-2026-000123",
            "console-uoim-" + "a" * 32,  # another organisation's form
            "console-kljuc-" + "A" * 32,
            "console-kljuc-" + "a" * 31,
            "console-kljuc-" + "a" * 32 + "\n",
        ],
    )
    def test_anything_else_is_replaced(self, posted: str | None) -> None:
        fresh = posted_event_id("kljuc", posted)
        assert fresh != posted and posted_event_id("kljuc", fresh) == fresh
        assert fresh.startswith("console-kljuc-")
