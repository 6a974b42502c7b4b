"""Who may send what, and who may read what: the gateway's two authorisation matrices.

SPEC "Access" (R6): each organisation may send only the events of its role and read only the
fields its role needs; police never see health or psychological details; analysts see
aggregates only; operators (who run the service) see everything.

- :data:`SEND_MATRIX` (role -> event types) is *derived* from each event class's ``senders``
  ClassVar, so the domain (which rejects a wrong sender with rule ``ACCESS``) and the gateway
  (which refuses it with 403 before anything reaches a case) can never disagree.
- :data:`READ_MATRIX` (field path -> roles) is *declared* here, one line per field of
  :class:`~pathway.domain.state.CaseState`, with ``person`` and ``timeline`` broken down to the
  fields of :class:`~pathway.domain.person.PersonFacts` and
  :class:`~pathway.domain.state.TimelineEntry`. A field the matrix does not name is shown to
  nobody (fail closed), and ``tests/test_gateway_access.py`` fails until it is named: every new
  field forces a decision.

Reading a case also needs involvement (``CaseState.involved()``); that check lives in the app.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from pathway.access.credentials import OPERATOR
from pathway.domain.events import EVENT_TYPES
from pathway.domain.organisations import Organisation as Org
from pathway.domain.state import CaseState, CaseSummary

__all__ = [
    "AUTHOR_READS",
    "CASE_READERS",
    "READ_MATRIX",
    "ROLES",
    "SEND_MATRIX",
    "SPLIT_FIELDS",
    "case_view",
    "may_read",
    "may_read_cases",
    "may_send",
    "read_matrix_markdown",
    "summary_view",
    "timeline_view",
]

#: Every role a principal can have: ``"operator"`` and each organisation.
ROLES: Final[tuple[str, ...]] = (OPERATOR, *(org.value for org in Org))


def _send_matrix() -> dict[str, frozenset[str]]:
    matrix: dict[str, set[str]] = {role: set() for role in ROLES}
    for event_type, cls in EVENT_TYPES.items():
        for org in cls.senders:
            matrix[org.value].add(event_type)
    # Operators run the service; they are no organisation and send no events through the
    # gateway (an event names the organisation that acted, and the caller must be it).
    return {role: frozenset(types) for role, types in matrix.items()}


#: role -> the event types it may send, from each event's ``senders`` (SPEC "Who uses it").
SEND_MATRIX: Final[Mapping[str, frozenset[str]]] = MappingProxyType(_send_matrix())


def may_send(role: str, event_type: str) -> bool:
    """Whether ``role`` may send events of ``event_type``."""
    return event_type in SEND_MATRIX.get(role, frozenset())


# -- who reads what ---------------------------------------------------------------------------
# Groups, named for why they read. Operators are in every group: they see everything.
_OPERATORS: Final = frozenset({OPERATOR})
#: Those who give care to the person or oversee it: the NGOs, the social work centre (child
#: protection, emergency assistance) and the guardian (informed of every measure, C3).
_CARE: Final = _OPERATORS | {
    Org.CARITAS.value,
    Org.KLJUC.value,
    Org.SOCIAL_WORK_CENTRE.value,
    Org.GUARDIAN.value,
}
_POLICE: Final = frozenset({Org.POLICE.value})
_MIGRATION: Final = frozenset({Org.MIGRATION_AUTHORITY.value})
_UOIM: Final = frozenset({Org.UOIM.value})
_LABOUR: Final = frozenset({Org.LABOUR_MINISTRY.value})
_INTERIOR: Final = frozenset({Org.INTERIOR_MINISTRY.value})
#: Every role that reads cases at all: all but analysts, who see aggregates only.
CASE_READERS: Final = frozenset(ROLES) - {Org.ANALYST.value}

#: CaseState fields that the matrix breaks down into the fields of their model.
SPLIT_FIELDS: Final = frozenset({"person", "timeline"})

#: Field path -> the roles that may read it. ``person.x`` is a field of PersonFacts,
#: ``timeline.x`` a field of each TimelineEntry; every other key is a CaseState field.
READ_MATRIX: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        # Coordination: which case, since when, where it stands, who leads it.
        "case_id": CASE_READERS,
        "opened_at": CASE_READERS,
        "phase": CASE_READERS,
        "lead_ngo": CASE_READERS,
        "closed_at": CASE_READERS,
        # Who must act by when: kinds, rules and dates, never facts about the person.
        "deadlines": CASE_READERS,
        "obligations": CASE_READERS,
        # The person (R6: each role only what it needs).
        "person.birth_date": _CARE | _POLICE | _MIGRATION,
        "person.age_estimate": _CARE | _POLICE | _MIGRATION,
        "person.gender": _CARE | _POLICE | _MIGRATION,
        "person.citizenships": _CARE | _POLICE | _MIGRATION | _UOIM,
        "person.residence_status": _CARE | _POLICE | _MIGRATION | _UOIM,
        "person.languages": _CARE | _POLICE | _MIGRATION | _UOIM,
        "person.exploited_abroad": _CARE | _POLICE,
        "person.unaccompanied": _CARE | _POLICE | _MIGRATION | _UOIM,
        "person.holder_can_act": _CARE | _POLICE,
        # Assistance track. The police must know of the NGO interview (R2) and run their own (R4).
        "ngo_interview_at": _CARE | _POLICE,
        "rights_information": _CARE | _POLICE,
        "police_interview": _CARE | _POLICE,
        "reflection_started_at": _CARE | _POLICE | _MIGRATION,
        # Placements: the providers, and the ministry that co-finances each (K1: labour; S1:
        # interior). Police do not need to know where the person is accommodated.
        "crisis_accommodation": _CARE | _LABOUR,
        "safe_accommodation": _CARE | _INTERIOR,
        "further_support": _CARE,
        # Residence (K7, S3, S4): the deciding authorities and those who help with it.
        "permit_to_stay": _CARE | _POLICE | _MIGRATION,
        "residence_permit": _CARE | _POLICE | _MIGRATION,
        # Criminal proceedings (K6, C7, C8) and readiness to cooperate (R5; for S4 the migration
        # authority weighs willingness to be a witness).
        "criminal_proceedings": _CARE | _POLICE,
        "cooperation": _CARE | _POLICE | _MIGRATION,
        "hearings": _CARE | _POLICE,
        # Reintegration services include psychotherapy and medical examinations: care only.
        "reintegration": _CARE,
        # Child protection (C4-C7): no health detail; the police need the guardian and the
        # authorised representative for interviews and proceedings.
        "child_protection": _CARE | _POLICE,
        "accompanying_children": _CARE,
        "linked_cases": _CARE | _POLICE,
        "found_in": _CARE | _POLICE | _MIGRATION | _UOIM,
        # Health and psychological details (K4): never the police, the authorities or ministries.
        "special_needs": _CARE,
        # The timeline: who did what when, for every reader; the free text only for care (it may
        # hold anything the writer saw), and always for the organisation that wrote it.
        "timeline.at": CASE_READERS,
        "timeline.recorded_at": CASE_READERS,
        "timeline.who": CASE_READERS,
        "timeline.organisation": CASE_READERS,
        "timeline.what": CASE_READERS,
        "timeline.rule": CASE_READERS,
        "timeline.event_id": CASE_READERS,
        "timeline.why": _CARE,
        "timeline.child": _CARE,
        # Service internals: configuration, delivery queue, idempotency records (which hold the
        # first results), children's cases still to start (they carry the identification).
        "config": _OPERATORS,
        "pending_notifications": _OPERATORS,
        "pending_case_starts": _OPERATORS,
        "notifications_sent": _OPERATORS,
        "processed": _OPERATORS,
    }
)

#: Timeline fields that the organisation which wrote an entry always reads in that entry.
AUTHOR_READS: Final = frozenset({"timeline.why", "timeline.child"})


def may_read(role: str, field_path: str) -> bool:
    """Whether ``role`` may read ``field_path`` (a key of :data:`READ_MATRIX`); False for a
    field the matrix does not name."""
    return role in READ_MATRIX.get(field_path, frozenset())


def may_read_cases(role: str) -> bool:
    """Whether ``role`` reads individual cases at all (analysts do not)."""
    return role in CASE_READERS


def _timeline_entries(entries: list[dict[str, Any]], role: str) -> list[dict[str, Any]]:
    shown = []
    for entry in entries:
        own = entry.get("organisation") == role
        view = {
            key: value
            for key, value in entry.items()
            if may_read(role, f"timeline.{key}") or (own and f"timeline.{key}" in AUTHOR_READS)
        }
        if view:
            shown.append(view)
    return shown


def case_view(state: CaseState, role: str) -> dict[str, Any]:
    """The case as ``role`` may see it (JSON-ready): only the fields the matrix grants."""
    data = state.model_dump(mode="json")
    view: dict[str, Any] = {}
    for name, value in data.items():
        if name == "person":
            person = {k: v for k, v in value.items() if may_read(role, f"person.{k}")}
            if person:
                view[name] = person
        elif name == "timeline":
            if any(may_read(role, key) for key in READ_MATRIX if key.startswith("timeline.")):
                view[name] = _timeline_entries(value, role)
        elif may_read(role, name):
            view[name] = value
    return view


def timeline_view(state: CaseState, role: str) -> list[dict[str, Any]]:
    """The case's timeline as ``role`` may see it (empty if it may read none of it)."""
    entries: list[dict[str, Any]] = case_view(state, role).get("timeline", [])
    return entries


def summary_view(summary: CaseSummary, role: str) -> dict[str, Any]:
    """What an accepted event answers, with the parts ``role`` may not read left out."""
    data = summary.model_dump(mode="json")
    view: dict[str, Any] = {"case_id": data["case_id"]}
    if may_read(role, "phase"):
        view["phase"] = data["phase"]
    if may_read(role, "obligations"):
        view["open_obligations"] = data["open_obligations"]
    if may_read(role, "deadlines"):
        view["upcoming_deadlines"] = data["upcoming_deadlines"]
    return view


def read_matrix_markdown() -> str:
    """The read matrix as a Markdown table (docs/gateway.md embeds it; a test keeps it
    current)."""
    roles = list(ROLES)
    lines = ["| field | " + " | ".join(roles) + " |", "| --- |" + " :-: |" * len(roles)]
    for path, readers in READ_MATRIX.items():
        marks = " | ".join("✓" if role in readers else "" for role in roles)
        lines.append(f"| `{path}` | {marks} |")
    return "\n".join(lines) + "\n"
