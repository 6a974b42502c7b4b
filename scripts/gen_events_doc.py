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
from pathway.domain.plausible import EARLIEST_DATE, LATEST_DATE
from pathway.domain.programmes import PROGRAMME_EVENT_ADAPTER, PROGRAMME_EVENT_TYPES

AT = "2026-03-02T09:00:00+01:00"

COMMON_REJECTIONS = (
    "`ACCESS` (field `organisation`: the sender's role may not send this type), "
    "`TIME` (field `occurred_at`: more than 5 minutes in the future, or before the "
    "identification), `CASE` (unknown or closed case), `IDEMPOTENCY` (field `event_id` reused "
    "for a different event)"
)

#: What an event is refused for on its own, as malformed (docs/rules.md "INPUT").
PLAUSIBLE = (
    f"Every date lies between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}, and "
    "`occurred_at` in the same years (UTC); a birth date or an age estimate's `as_of` is not "
    "after the event's day in Slovenia; text that is given (`reason`, `actor`, notes, "
    "references) is not blank. An event that breaks one of these is malformed: it is refused "
    "before it reaches a case, naming the field, with a message that starts with the rule "
    "(`C1`, `C2`, `K2`, `S1`, `S4`) or `INPUT`."
)
BORN_LATER = (
    "INPUT (field `person.birth_date` or `person.age_estimate.as_of`: after the event; a "
    "birth date before 1900)"
)

#: type -> (example payload beyond the common fields, rules that can reject it with why)
EVENTS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "identified": (
        {
            "subject_ref": "police-ref-2026-0042",
            "person": {
                "birth_date": "1998-05-14",
                "gender": "female",
                "citizenships": ["CO"],
                "residence_status": "third_country_illegal",
                "languages": ["es"],
                "exploited_abroad": False,
            },
        },
        [
            "ACCESS under R1 (only the police, a social work centre or UOIM identify)",
            "CASE (the person's case is already open: same `subject_ref`)",
            BORN_LATER,
            "INPUT (field `person.citizenships.<i>`: not a country's ISO 3166-1 alpha-2 code, "
            "`XK` (Kosovo), `XX` (stateless) or `ZZ` (not known yet), or a country named twice; "
            "field `person.age_estimate.years`: puts the birth before 1900)",
        ],
    ),
    "ngo_interview_held": ({"language": "es", "interpreter_used": True}, []),
    "rights_information_given": (
        {
            "subjects": ["a_institutions", "b_assistance_types", "c_reporting_the_crime"],
            "language": "es",
            "interpreter_used": True,
        },
        ["R3 (field `language`: not a language the victim understands)"],
    ),
    "police_information_gathering_started": (
        {"trusted_person_offered": True, "present": "ngo_representative"},
        ["R2 (no NGO interview before it)"],
    ),
    "crisis_accommodation_placed": (
        {"consent": {"form": "written_statement", "signed_on": "2026-03-02"}},
        [
            "K2 (field `consent`: missing; `consent.signed_on`: after the placement, refused "
            "as malformed)",
            "K1 (already in crisis accommodation; field `occurred_at`: before the end of a "
            "safe placement of the case)",
        ],
    ),
    "reflection_period_started": ({}, ["K5 (already started)"]),
    "further_support_decided": ({"option": "safe_accommodation"}, []),
    "crisis_accommodation_ended": ({}, ["K1 (not in crisis accommodation)"]),
    "safe_accommodation_placed": (
        {
            "consent": {"form": "written_statement", "signed_on": "2026-03-02"},
            "preliminary_programme": True,
        },
        [
            "S1 (field `consent`: missing; already placed; `consent.signed_on`: after the "
            "placement, refused as malformed; field `preliminary_programme`: not stated, "
            "refused by the client; field `occurred_at`: before a crisis placement of the case "
            "began, or before the end of one that ended)",
            "S3 (third-country national without a valid permit to stay and temporary residence "
            "permit)",
        ],
    ),
    "safe_accommodation_ended": ({}, ["S5 (not in safe accommodation)"]),
    "consent_withdrawn": (
        {"placement": "crisis_accommodation"},
        ["K2 (field `placement`: no such placement running)"],
    ),
    "permit_to_stay_granted": (
        {"valid_from": "2026-03-02", "basis": "ex_officio"},
        [
            "K7 (an EU citizen; a permit was already granted; field `valid_from`: its 3 months "
            "would end before the reflection period's last day or before the day of the grant)"
        ],
    ),
    "permit_to_stay_extended": (
        {"months": 3},
        [
            "K7 (no permit; a second extension; field `months`: more than 3; field "
            "`occurred_at`: before the day of the grant, or after the permit's last day)"
        ],
    ),
    "temporary_residence_permit_granted": (
        {
            "basis": "witness",
            "valid_from": "2026-03-20",
            "valid_until": "2027-03-19",
            "permit_number": "TRP-123456",
        },
        [
            "S4 (an EU citizen; field `valid_until`: not after `valid_from`, refused as "
            "malformed; field `valid_from`: more than a year before the case)",
            "INPUT (field `valid_from`: before the person's birth date)",
        ],
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
        [
            "I1 (not eligible: see the eligibility rule; already enrolled; field "
            "`occurred_at`: after the person returned home, unless a placement, a reflection "
            "period or a permit since, or the enrolment's `reason`, says they are back)"
        ],
    ),
    "facts_updated": (
        {
            "person": {
                "birth_date": "1998-05-14",
                "gender": "female",
                "citizenships": ["CO"],
                "residence_status": "third_country_legal",
                "languages": ["es", "en"],
            }
        },
        [
            BORN_LATER,
            "INPUT (field `person.citizenships.<i>`: not a country's ISO 3166-1 alpha-2 code, "
            "`XK` (Kosovo), `XX` (stateless) or `ZZ` (not known yet), or a country named twice; "
            "field `person.age_estimate.years`: puts the birth before 1900)",
            "INPUT (field `person.birth_date` or `person.age_estimate`: leaves out the birth "
            "date, or with none the age estimate, the case holds)",
        ],
    ),
    "returned_home": ({}, []),
    "departed": ({"arbitrary": True}, []),
    "case_closed": ({}, []),
    "reintegration_service_recorded": (
        {"service": "psychotherapy"},
        ["I1 (not enrolled in reintegration)"],
    ),
    "safe_accommodation_offered": (
        {"answer": "accepted"},
        [
            "S1 (field `type`: the victim is already in safe accommodation; field `reason`: "
            "no crisis placement by the offer's date, and no reason)"
        ],
    ),
    "accommodation_service_recorded": (
        {"programme": "safe_accommodation", "service": "legal_status", "status": "provided"},
        [
            "K3 or S2 (field `service`: not a service the programme comprises; refused as "
            "malformed)",
            "K3 or S2 (field `programme`: never placed in it in this case; field `occurred_at`: "
            "a day before the placement began or after it ended; field `organisation`: neither "
            "its provider nor the NGO leading the case)",
        ],
    ),
    "swc_interview_held": (
        {
            "emergency_assistance_offered": True,
            "guardian_statement_taken": True,
            "trafficking_indicators": True,
            "qualified_personnel": True,
        },
        ["C5 (not a child's case)", "C4 (field `qualified_personnel` not true)"],
    ),
    "child_accommodated_in_facility": (
        {
            "child": {
                "best_interests": "Secure facility away from the recruiters",
                "child_views": "Wants to stay with the girls she arrived with",
            }
        },
        ["C5 (not a child's case)", "C1/C2 (field `child`)"],
    ),
    "guardian_appointed": (
        {
            "child": {
                "best_interests": "Relative abroad cannot act; independent guardian",
                "child_views": "Agrees, asked for a woman guardian",
            }
        },
        ["C4 (not a child's case)", "C1/C2 (field `child`)"],
    ),
    "family_contact_recorded": (
        {
            "outcome": "established",
            "child": {
                "best_interests": "Contact supervised by the guardian",
                "child_views": "Wants to call her mother weekly",
            },
        },
        ["C6 (not a child's case)", "C1/C2 (field `child`)"],
    ),
    "authorised_representative_appointed": (
        {
            "child": {
                "best_interests": "Lawyer experienced with child victims",
                "child_views": "Agrees",
            }
        },
        ["C7 (not a child's case)", "C1/C2 (field `child`)"],
    ),
    "main_hearing_scheduled": (
        {"hearing_date": "2026-06-15", "direct_questioning": False},
        [
            "C8 (field `direct_questioning`: the person is under 15 on the hearing date, or the "
            "age is unknown)",
            "K6 (no open criminal proceedings)",
        ],
    ),
    "accompanying_child_recorded": (
        {
            "child_ref": "child-1",
            "birth_date": "2019-09-01",
            "gender": "male",
            "citizenships": ["PT"],
            "placed_with": "crisis_accommodation",
        },
        [
            "K1/S1 (field `placed_with`: no such placement running)",
            "CASE (field `child_ref` already recorded)",
            "INPUT (field `birth_date` or `age_estimate.as_of`: after the event; a birth date "
            "before 1900; field `citizenships.<i>`: as `identified`'s `person.citizenships`)",
        ],
    ),
    "accompanying_child_identified": (
        {"child_ref": "child-1", "residence_status": "eu_citizen", "languages": ["pt"]},
        [
            "R1 (field `child_ref`: unknown, or the child's case is already open; field "
            "`residence_status` inconsistent with the child's citizenship; the child's own "
            "case would refuse these facts, naming the field but not the reason)"
        ],
    ),
    "special_need_flagged": (
        {"need": "pregnancy", "detail": "Week 20, needs prenatal care", "provider": "caritas"},
        [],
    ),
    "special_need_referral_made": (
        {"need": "pregnancy"},
        ["K4 (field `need`: no unreferred need of this kind)"],
    ),
}

#: Programme registers (P1, X1): not cases; sent with `pathway programme record`.
PROGRAMME_EVENTS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "pats_interview_recorded": (
        {
            "language": "ar",
            "gender": "female",
            "citizenships": ["SY"],
            "minor": True,
            "age_appropriate": True,
            "shortened_at_placement": False,
            "suspicion": False,
        },
        ["P1 (field `age_appropriate`: an interview with a child must be)"],
    ),
    "exit_programme_enrolled": (
        {
            "participant_ref": "k-2026-07",
            "gender": "female",
            "citizenships": ["SI"],
            "minor": False,
        },
        ["X1 (field `participant_ref`: already enrolled)"],
    ),
    "exit_counselling_recorded": (
        {"participant_ref": "k-2026-07", "session": "group"},
        ["X1 (field `participant_ref`: not enrolled)"],
    ),
    "exit_programme_left": (
        {"participant_ref": "k-2026-07"},
        ["X1 (field `participant_ref`: not enrolled)"],
    ),
}


def example(type_: str) -> dict[str, Any]:
    if type_ in PROGRAMME_EVENT_TYPES:
        cls: Any = PROGRAMME_EVENT_TYPES[type_]
        extra = PROGRAMME_EVENTS[type_][0]
    else:
        cls, extra = EVENT_TYPES[type_], EVENTS[type_][0]
    sender = sorted(o.value for o in cls.senders)[0]
    data: dict[str, Any] = {
        "type": type_,
        "event_id": f"{sender}-2026-000123",
        "organisation": sender,
        "actor": "staff-17",
        "occurred_at": AT,
    }
    if type_ not in PROGRAMME_EVENT_TYPES:
        data["reason"] = None
    data.update(extra)
    if type_ in PROGRAMME_EVENT_TYPES:
        PROGRAMME_EVENT_ADAPTER.validate_python(data)  # the example must be valid
    else:
        parse_event(data)
    return data


def section(type_: str, cls: Any, rejections: list[str]) -> list[str]:
    doc = (cls.__doc__ or "").strip()
    senders = ", ".join(f"`{o.value}`" for o in sorted(cls.senders))
    flags = []
    if getattr(cls, "decision", False):
        flags.append(
            "On a child's case this is a decision: it needs `child.best_interests` "
            "(C1) and `child.child_views` (C2), and the guardian is informed (C3). Neither may "
            "be blank, on any case."
        )
    elif getattr(cls, "measure", False):
        flags.append("On a child's case this is a measure: the guardian is informed (C3).")
    if getattr(cls, "procedure", False):
        flags.append("On a child's case it needs `qualified_personnel: true` (C4).")
    return [
        f"## `{type_}`",
        "",
        doc,
        "",
        f"Sent by: {senders}.",
        "",
        *([" ".join(flags), ""] if flags else []),
        "Rejected by: " + ("; ".join(rejections) if rejections else "only the common checks") + ".",
        "",
        "```json",
        json.dumps(example(type_), indent=2),
        "```",
        "",
    ]


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
        PLAUSIBLE,
        "",
    ]
    for type_, cls in EVENT_TYPES.items():
        out += section(type_, cls, EVENTS[type_][1])
    out += [
        "# Programme register events",
        "",
        "Asylum-procedure interviews (P1) and the prostitution-exit programme (X1) are not "
        "cases: each programme keeps one register per year (`pathway programme record FILE`). "
        "A PATS interview that raises suspicion is sent with `pathway programme pats FILE` as "
        '`{"interview": {...}, "suspected_victim": {"subject_ref": ..., "person": {...}}}`: '
        "UOIM is notified and the person's case is opened (R1); the register never holds who "
        "the person is. X1 never notifies the police.",
        "",
    ]
    missing = set(PROGRAMME_EVENT_TYPES) - set(PROGRAMME_EVENTS)
    if missing:
        raise SystemExit(f"document these programme event types: {sorted(missing)}")
    for type_, programme_cls in PROGRAMME_EVENT_TYPES.items():
        out += section(type_, programme_cls, PROGRAMME_EVENTS[type_][1])
    return "\n".join(out)


if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "docs" / "events.md"
    target.write_text(render())
    sys.stdout.write(f"wrote {target}\n")
