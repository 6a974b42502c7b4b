"""Write docs/events.md from the event models: every event type, a JSON example that the
models accept, and the rules that can reject it. ``tests/test_docs.py`` fails when the file is
stale, so the documentation cannot drift from the code.

Run: ``python scripts/gen_events_doc.py`` (writes docs/events.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pathway.domain.events import EVENT_TYPES, parse_event

AT = "2026-03-02T09:00:00+01:00"

COMMON_REJECTIONS = (
    "`ACCESS` (field `organisation`: the sender's role may not send this type), "
    "`TIME` (field `occurred_at`: more than 5 minutes in the future, or before the "
    "identification), `CASE` (unknown or closed case), `IDEMPOTENCY` (field `event_id` reused "
    "for a different event)"
)

#: type -> (example payload beyond the common fields, rules that can reject it with why)
EVENTS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "identified": (
        {"subject_ref": "police-ref-2026-0042", "person": {
            "birth_date": "1998-05-14", "gender": "female", "citizenships": ["CO"],
            "residence_status": "third_country_illegal", "languages": ["es"],
            "exploited_abroad": False}},
        ["ACCESS under R1 (only the police, a social work centre or UOIM identify)",
         "CASE (the person's case is already open: same `subject_ref`)"],
    ),
    "ngo_interview_held": ({"language": "es", "interpreter_used": True}, []),
    "rights_information_given": (
        {"subjects": ["a_institutions", "b_assistance_types", "c_reporting_the_crime"],
         "language": "es", "interpreter_used": True},
        ["R3 (field `language`: not a language the victim understands)"],
    ),
    "police_information_gathering_started": (
        {"trusted_person_offered": True, "present": "ngo_representative"},
        ["R2 (no NGO interview before it)"],
    ),
    "crisis_accommodation_placed": (
        {"consent": {"form": "written_statement", "signed_on": "2026-03-02"}},
        ["K2 (field `consent`: missing; `consent.signed_on`: after the placement)",
         "K1 (already in crisis accommodation)"],
    ),
    "reflection_period_started": ({}, ["K5 (already started)"]),
    "further_support_decided": ({"option": "safe_accommodation"}, []),
    "crisis_accommodation_ended": ({}, ["K1 (not in crisis accommodation)"]),
    "safe_accommodation_placed": (
        {"consent": {"form": "written_statement", "signed_on": "2026-03-02"},
         "preliminary_programme": True},
        ["S1 (field `consent`: missing; already placed)",
         "S3 (third-country national without a valid permit to stay and temporary residence "
         "permit)"],
    ),
    "safe_accommodation_ended": ({}, ["S5 (not in safe accommodation)"]),
    "consent_withdrawn": (
        {"placement": "crisis_accommodation"},
        ["K2 (field `placement`: no such placement running)"],
    ),
    "permit_to_stay_granted": (
        {"valid_from": "2026-03-02", "basis": "ex_officio"},
        ["K7 (an EU citizen; a permit was already granted)"],
    ),
    "permit_to_stay_extended": (
        {"months": 3},
        ["K7 (no permit; a second extension; field `months`: more than 3)"],
    ),
    "temporary_residence_permit_granted": (
        {"basis": "witness", "valid_from": "2026-03-20", "valid_until": "2027-03-19",
         "permit_number": "TRP-123456"},
        ["S4 (an EU citizen; field `valid_until`: not after `valid_from`)"],
    ),
    "temporary_residence_permit_renewed": (
        {"valid_until": "2028-03-19"},
        ["S4 (no permit; field `valid_until`: not after the current end)"],
    ),
    "criminal_proceedings_opened": ({}, ["K6 (already open)"]),
    "criminal_proceedings_concluded": ({}, ["K6 (none open)"]),
    "cooperation_recorded": (
        {"willing_to_cooperate": False, "willing_to_be_witness": False},
        ["none: R5 — recorded only, it never changes assistance"],
    ),
    "reintegration_enrolled": (
        {"personal_plan": True},
        ["I1 (not eligible: see the eligibility rule; already enrolled)"],
    ),
    "facts_updated": (
        {"person": {"birth_date": "1998-05-14", "gender": "female", "citizenships": ["CO"],
                    "residence_status": "third_country_legal", "languages": ["es", "en"]}},
        [],
    ),
    "returned_home": ({}, []),
    "departed": ({"arbitrary": True}, []),
    "case_closed": ({}, []),
}


def example(type_: str) -> dict[str, Any]:
    cls = EVENT_TYPES[type_]
    sender = sorted(o.value for o in cls.senders)[0]
    data: dict[str, Any] = {"type": type_, "event_id": f"{sender}-2026-000123",
                            "organisation": sender, "actor": "staff-17", "occurred_at": AT,
                            "reason": None}
    data.update(EVENTS[type_][0])
    parse_event(data)  # the example must be valid
    return data


def render() -> str:
    missing = set(EVENT_TYPES) - set(EVENTS)
    if missing:
        raise SystemExit(f"document these event types: {sorted(missing)}")
    out = [
        "# Events",
        "",
        "Generated by `scripts/gen_events_doc.py` from the event models; do not edit by hand.",
        "`pathway schema` prints the JSON Schema of all of them.",
        "",
        "Every event carries `type`, `event_id` (the sender's idempotency key: a repeat returns "
        "the first result and changes nothing), `organisation` (the sender's role), `actor` "
        "(a pseudonymous staff reference, optional), `occurred_at` (with a time zone) and "
        "`reason` (why, optional). A malformed event is refused before it reaches a case, "
        "naming the field. Any event can also be rejected with " + COMMON_REJECTIONS + ".",
        "",
    ]
    for type_, cls in EVENT_TYPES.items():
        doc = (cls.__doc__ or "").strip()
        senders = ", ".join(f"`{o.value}`" for o in sorted(cls.senders))
        rejections = EVENTS[type_][1]
        out += [
            f"## `{type_}`",
            "",
            doc,
            "",
            f"Sent by: {senders}.",
            "",
            "Rejected by: " + ("; ".join(rejections) if rejections else "only the common checks")
            + ".",
            "",
            "```json",
            json.dumps(example(type_), indent=2),
            "```",
            "",
        ]
    return "\n".join(out)


if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "docs" / "events.md"
    target.write_text(render())
    sys.stdout.write(f"wrote {target}\n")
