"""Who may send what, and who may read what: the gateway's two authorisation matrices.

docs/rules.md "Access" (R6): each organisation may send only the events of its role and read only
the fields its role needs; police never see health or psychological details; analysts see
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

Membership (issue 11): :func:`decide` is the one question every surface is to ask —
(organisation or operator, its roles in the case, action, field) -> allow or deny. It is built
on the two matrices and adds membership: a non-member (no role in the case) may do nothing but
send an identification, and only the lead NGO (or the operator; the police by K7 for
``returned_home``) ends assistance or the case. The gateway (reads, events, the obligations
listing) and the codec server ask it with the caller's roles from the case's membership.

Minimisation of existence (R6): a role that may not read a field sees no trace of it elsewhere
either (:data:`TRACES`, :func:`minimised`): :func:`case_view`, :func:`timeline_view` and
:func:`summary_view` leave out the timeline entries, obligations, deadlines, notifications and
memberships that would reveal it, for every field a member role may not read. A role keeps its
own work (an obligation it owns, a deadline it is reminded of, its membership, the events it
sent), except for health details (:data:`HIDDEN_FROM_OWNERS`); its own work reveals nothing it
may not read either (issue 11 item 5): the matrix grants the field the work needs, or the view
shows the work without it (a placement's end reason, who ended a membership and why).

The codec server (issue 11, item 4) shows a member of a case each decoded payload through
:func:`decoded_view` (the case, an event as the timeline entry it records, an event's answer:
the same matrix, with :func:`minimised`), and anything it cannot filter field by field as
:data:`WITHHELD`; :func:`who_sees_what_markdown` is the table docs/privacy.md embeds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from types import MappingProxyType
from typing import Any, Final

from pathway.access.credentials import OPERATOR
from pathway.domain.events import EVENT_TYPES, BaseEvent, RecordEvent, RightsSubject
from pathway.domain.membership import MemberRole, Membership
from pathway.domain.organisations import Organisation as Org
from pathway.domain.programmes import PROGRAMME_EVENT_TYPES, Programme, ProgrammeState
from pathway.domain.rules.core import Rejection
from pathway.domain.rules.rejections import RejectionNote
from pathway.domain.state import (
    CHILD_DEADLINES,
    CHILD_OBLIGATIONS,
    AccompanyingChild,
    CaseChanges,
    CaseState,
    CaseSummary,
    Deadline,
    DeadlineKind,
    DeadlineView,
    EventResult,
    Obligation,
    ObligationKind,
    ObligationView,
    RejectionEntry,
    TimelineEntry,
)

__all__ = [
    "AUTHOR_READS",
    "CASE_READERS",
    "EVENT_FIELDS",
    "EXIT_EVENTS",
    "EXIT_EXCEPTIONS",
    "HIDDEN_FROM_OWNERS",
    "NOT_A_MEMBER_FIELD",
    "OPENING_EVENTS",
    "PROGRAMME_SEND_MATRIX",
    "READ_MATRIX",
    "ROLES",
    "SEND_MATRIX",
    "SPLIT_FIELDS",
    "STATISTICS_READERS",
    "TRACES",
    "UNSUPPRESSED_STATISTICS_READERS",
    "WITHHELD",
    "Action",
    "Traces",
    "acknowledgement_view",
    "case_allows",
    "case_view",
    "changes_view",
    "decide",
    "decoded_view",
    "event_view",
    "listed_ids",
    "may_read",
    "may_read_cases",
    "may_read_register",
    "may_read_statistics",
    "may_record_programme",
    "may_send",
    "minimised",
    "read_matrix_markdown",
    "register_view",
    "registers_run_by",
    "rejection_shown",
    "result_view",
    "roles_in_case",
    "send_refusal",
    "summary_view",
    "timeline_view",
    "who_sees_what_markdown",
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


#: role -> the event types it may send, from each event's ``senders`` (docs/rules.md "Who uses it").
SEND_MATRIX: Final[Mapping[str, frozenset[str]]] = MappingProxyType(_send_matrix())


def may_send(role: str, event_type: str) -> bool:
    """Whether ``role`` may send events of ``event_type``."""
    return event_type in SEND_MATRIX.get(role, frozenset())


# -- the programme registers (P1, X1; issue 17 item 5) ----------------------------------------
def _programme_send_matrix() -> dict[str, frozenset[str]]:
    matrix: dict[str, set[str]] = {role: set() for role in ROLES}
    for event_type, cls in PROGRAMME_EVENT_TYPES.items():
        for org in cls.senders:
            matrix[org.value].add(event_type)
    return {role: frozenset(types) for role, types in matrix.items()}


#: role -> the programme register events it may record, from each event's ``senders`` (the
#: register's own check, rule ``ACCESS``, asks the same ClassVar). Operators record none here.
PROGRAMME_SEND_MATRIX: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    _programme_send_matrix()
)


def may_record_programme(role: str, event_type: str) -> bool:
    """Whether ``role`` may record programme events of ``event_type`` (P1, X1)."""
    return event_type in PROGRAMME_SEND_MATRIX.get(role, frozenset())


def registers_run_by(role: str) -> tuple[Programme, ...]:
    """The programmes whose register ``role`` runs: those it records some event of (P1: Ključ,
    the social work centre, UOIM; X1: Ključ), in :class:`Programme`'s order. Nobody else
    (analysts, the police, operators) runs or reads one."""
    kinds = PROGRAMME_SEND_MATRIX.get(role, frozenset())
    return tuple(
        p for p in Programme if any(PROGRAMME_EVENT_TYPES[t].programme is p for t in kinds)
    )


def may_read_register(role: str, programme: Programme) -> bool:
    """Whether ``role`` may read ``programme``'s register: only an organisation that runs it."""
    return programme in registers_run_by(role)


def register_view(state: ProgrammeState, role: str) -> ProgrammeState | None:
    """The register as ``role`` may read it, None if it may not (:func:`may_read_register`):
    the P1 interviews ``role`` recorded itself (another organisation's are its own work), every
    X1 participant by the NGO's pseudonym (the register holds no name); never the pending
    notifications or the processed event IDs."""
    if not may_read_register(role, state.programme):
        return None
    return state.model_copy(
        update={
            "interviews": [i for i in state.interviews if i.organisation.value == role],
            "pending_notifications": [],
            "processed": {},
        },
        deep=True,
    )


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

# -- who reads the yearly aggregates (issue 15 item 5) -----------------------------------------
#: Who reads the annual report of the statistics ledger (``GET /v1/statistics/annual``):
#: analysts (aggregates are all they read, R6) and operators (they run the service). Nobody
#: else: an organisation reads the cases it is a member of, not the country's figures.
STATISTICS_READERS: Final = frozenset({Org.ANALYST.value, OPERATOR})
#: Who may ask for the figures without small-cell suppression (``public=false``): operators
#: only. Analysts always get them suppressed with the deployment's k (docs/statistics.md).
UNSUPPRESSED_STATISTICS_READERS: Final = frozenset({OPERATOR})


def may_read_statistics(role: str, *, suppressed: bool = True) -> bool:
    """Whether ``role`` may read the annual aggregates, with small-cell suppression
    (``suppressed``) or without it; never a case (issue 15 item 5; R6)."""
    readers = STATISTICS_READERS if suppressed else UNSUPPRESSED_STATISTICS_READERS
    return role in readers


#: CaseState fields that the matrix breaks down into the fields of their model (of the one
#: record, or of each record of a list), where roles read some of them only.
SPLIT_FIELDS: Final = frozenset(
    {"person", "timeline", "criminal_proceedings", "accompanying_children"}
)

#: Field path -> the roles that may read it. ``person.x`` is a field of PersonFacts,
#: ``timeline.x`` a field of each TimelineEntry, ``criminal_proceedings.x`` of
#: CriminalProceedings, ``accompanying_children.x`` of each AccompanyingChild; every other key is
#: a CaseState field.
READ_MATRIX: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        # Coordination: which case, since when, whether it is closed.
        "case_id": CASE_READERS,
        "opened_at": CASE_READERS,
        # Where it stands and who leads it: care only (R6, issue 11 item 5). Each value names
        # what moved it: the phase the reflection period (K5), safe accommodation (S1) or
        # reintegration (I1); the lead the NGO interview (R2), crisis (K1) or safe (S1)
        # accommodation. Only care reads all of them; every other role reads what it may of
        # them in their own fields (reflection_started_at, the placement it co-finances), the
        # exits on the timeline, and the lead's membership record where its rule is readable.
        "phase": _CARE,
        "lead_ngo": _CARE,
        "closed_at": CASE_READERS,
        # Who is a member in which role, since when and why (the purposes are the rules' own
        # words; an operator's reason must hold no personal data).
        "membership": CASE_READERS,
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
        # K5's period, also for the interior ministry: it co-finances safe accommodation, which
        # for a third-country national begins "after the termination of the 30-day period of
        # recovery and reflection" (S3), and it relays the K5 reminder a lead NGO did not get
        # (pathway.domain.rules.deadlines._escalate_undelivered_reminders: it owns the relay).
        "reflection_started_at": _CARE | _POLICE | _MIGRATION | _INTERIOR,
        # Placements: the providers, and the ministry that co-finances each (K1: labour; S1:
        # interior). Police do not need to know where the person is accommodated.
        "crisis_accommodation": _CARE | _LABOUR,
        "safe_accommodation": _CARE | _INTERIOR,
        # S1: the offer of safe accommodation and the victim's answer: care only.
        "safe_accommodation_offer": _CARE,
        "further_support": _CARE,
        # K3, S2: the services given in accommodation include primary healthcare and
        # psychological assistance: care only.
        "accommodation_services": _CARE,
        # Residence (K7, S3, S4): the deciding authorities and those who help with it.
        "permit_to_stay": _CARE | _POLICE | _MIGRATION,
        "residence_permit": _CARE | _POLICE | _MIGRATION,
        # Criminal proceedings (K6, C7, C8) and readiness to cooperate (R5; for S4 the migration
        # authority weighs willingness to be a witness). Whether they run and when they
        # concluded, also for the interior ministry: safe accommodation, which it co-finances,
        # lasts for a third-country national "until the conclusion of the criminal proceedings"
        # (S5), and it is reminded of the date to agree the next step after them
        # (safe_accommodation.after_proceedings). Not the authorised representative: that
        # says the injured party is a minor (C7).
        "criminal_proceedings.opened_at": _CARE | _POLICE | _INTERIOR,
        "criminal_proceedings.concluded_at": _CARE | _POLICE | _INTERIOR,
        "criminal_proceedings.authorised_representative": _CARE | _POLICE,
        "cooperation": _CARE | _POLICE | _MIGRATION,
        "hearings": _CARE | _POLICE,
        # Reintegration services include psychotherapy and medical examinations: care only.
        "reintegration": _CARE,
        # Child protection (C4-C7): no health detail; the police need the guardian and the
        # authorised representative for interviews and proceedings.
        "child_protection": _CARE | _POLICE,
        # Children placed with the victim (K1, S1): care only (each record names the placement
        # and the child's facts). A child's own case, also for the police: they identify such a
        # child as a victim in their own right (R1, accompanying_child_identified), and read the
        # case it opens (linked_cases); a role is shown only the records it reads something of.
        "accompanying_children.child_ref": _CARE,
        "accompanying_children.birth_date": _CARE,
        "accompanying_children.age_estimate": _CARE,
        "accompanying_children.gender": _CARE,
        "accompanying_children.citizenships": _CARE,
        "accompanying_children.placed_with": _CARE,
        "accompanying_children.recorded_at": _CARE,
        "accompanying_children.own_case_id": _CARE | _POLICE,
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
        # Rejected events (issue 17 item 3), metadata only: the event's ID and type, who sent it,
        # the rule, field and reason. Care reads them all (it reads every field a rule's reason
        # may speak of); every other organisation reads only those it sent (AUTHOR_READS), which
        # repeat what it was answered when it sent them. A rejection of an event type or under a
        # rule that reveals a field a role may not read is left out (minimised).
        "rejections": _CARE,
        # Service internals: configuration, delivery queue, idempotency records (which hold the
        # first results), children's cases still to start (they carry the identification).
        "config": _OPERATORS,
        "pending_notifications": _OPERATORS,
        "pending_case_starts": _OPERATORS,
        "link_secret": _OPERATORS,
        "notifications_sent": _OPERATORS,
        "notifications_to": _OPERATORS,
        # Which rules a case runs under (set from workflow patches, so that cases recorded
        # before a rule changed replay as they were decided): service internals.
        "seed_residence_rules": _OPERATORS,
        "seed_assistance_rules": _OPERATORS,
        "seed_child_rules": _OPERATORS,
        "seed_reintegration_dates": _OPERATORS,
        "moot_every_track": _OPERATORS,
        "lapsed_permit_day_from_validity": _OPERATORS,
        "permits_restored_moot": _OPERATORS,
        "seed_status_rules": _OPERATORS,
        "processed": _OPERATORS,
    }
)

#: Fields that the organisation which wrote an entry always reads in that entry: the free
#: text of its own timeline entries, and its own rejected events (``rejections``: an entry is
#: the organisation's when it sent the event; it was answered the same rule and reason then).
AUTHOR_READS: Final = frozenset({"timeline.why", "timeline.child", "rejections"})


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


#: Obligation IDs whose suffix is a code of a fixed list, which tells nothing of anything else:
#: the subjects of rights information (R3), shown as they are.
_CODED_IDS: Final = frozenset(
    f"{ObligationKind.RIGHTS_INFORMATION.value}:{subject.value}" for subject in RightsSubject
)


def listed_ids(ids_and_kinds: Sequence[tuple[str, str]]) -> list[str]:
    """The IDs a member is shown for obligations given as ``(id, kind)``, in order (R6, issue
    11, review F2).

    A case's own obligation IDs may carry a suffix that counts or names other things (a special
    need's number, the key of a reminder to another organisation, with its recipient and
    count). Shown to a member, an obligation opened once per kind keeps its kind as its ID, and
    one whose suffix is a fixed code (a rights information subject, R3) keeps its ID; any other
    of a kind opened several times is ``<kind>:<n>``, ``n`` counting only the obligations of
    that kind in the sequence. Given every obligation of a case the role may see, closed ones
    included (the case view, the obligations listing), ``n`` stays the same while one is open;
    an event's answer numbers only the open obligations it shows. Operators see the case's own
    IDs."""
    counts: dict[str, int] = {}
    shown = []
    for obligation_id, kind in ids_and_kinds:
        if obligation_id == kind or obligation_id in _CODED_IDS:
            shown.append(obligation_id)
        else:
            counts[kind] = counts.get(kind, 0) + 1
            shown.append(f"{kind}:{counts[kind]}")
    return shown


def _listed(obligations: list[dict[str, Any]], role: str) -> list[dict[str, Any]]:
    """JSON obligations (``id``, ``kind``) with the IDs ``role`` is shown (:func:`listed_ids`)."""
    if role == OPERATOR:
        return obligations
    ids = listed_ids([(o["id"], o["kind"]) for o in obligations])
    return [{**o, "id": shown} for o, shown in zip(obligations, ids, strict=True)]


def case_view(state: CaseState, role: str) -> dict[str, Any]:
    """The case as ``role`` may see it (JSON-ready): only the fields the matrix grants, no
    trace elsewhere of a field it may not read (:func:`minimised`), and obligation IDs that
    count nothing hidden (:func:`listed_ids`)."""
    data = minimised(state, role).model_dump(mode="json")
    data["obligations"] = _listed(data["obligations"], role)
    view: dict[str, Any] = {}
    for name, value in data.items():
        if name not in SPLIT_FIELDS:
            if may_read(role, name):
                view[name] = value
        elif any(may_read(role, key) for key in READ_MATRIX if key.startswith(f"{name}.")):
            view[name] = _split_view(name, value, role)
    if "rejections" not in view and may_read_cases(role):
        # Its own rejected events only, and the key only when there are some (a role that
        # sent none is shown what the read matrix grants it, nothing more).
        own = [r for r in data["rejections"] if r["organisation"] == role]
        if own:
            view["rejections"] = own
    return view


def _split_view(name: str, value: Any, role: str) -> Any:
    """A field of :data:`SPLIT_FIELDS` as ``role`` may read it: the fields it reads of its
    record (or None), or of each of its records (the timeline: :func:`_timeline_entries`; any
    other list leaves out a record of which the role reads nothing but empty fields, so that
    the list does not count what it may not read, R6)."""
    if name == "timeline":
        return _timeline_entries(value, role)
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if may_read(role, f"{name}.{k}")}
    if isinstance(value, list):
        rows = [{k: v for k, v in row.items() if may_read(role, f"{name}.{k}")} for row in value]
        return [row for row in rows if any(v is not None for v in row.values())]
    return value


def timeline_view(state: CaseState, role: str) -> list[dict[str, Any]]:
    """The case's timeline as ``role`` may see it (empty if it may read none of it)."""
    entries: list[dict[str, Any]] = case_view(state, role).get("timeline", [])
    return entries


def summary_view(summary: CaseSummary, role: str) -> dict[str, Any]:
    """What an accepted event answers, with the parts ``role`` may not read left out (and the
    obligations that would reveal a field it may not read)."""
    data = summary.model_dump(mode="json")
    view: dict[str, Any] = {"case_id": data["case_id"]}
    if may_read(role, "phase"):
        view["phase"] = data["phase"]
    if may_read(role, "obligations"):
        view["open_obligations"] = _listed(
            _shown_obligations(summary.open_obligations, data["open_obligations"], role), role
        )
    if may_read(role, "deadlines"):
        view["upcoming_deadlines"] = _shown_deadlines(
            summary.upcoming_deadlines, data["upcoming_deadlines"], role
        )
    return view


def _shown_obligations(
    obligations: Sequence[ObligationView], data: list[dict[str, Any]], role: str
) -> list[dict[str, Any]]:
    """The JSON ``data`` of those ``obligations`` that ``role`` may be shown: as in
    :func:`minimised`, an owner keeps its own obligation (HIDDEN_FROM_OWNERS aside)."""
    hidden, strict = _hidden(role), _hidden_from_owners(role)
    return [
        o
        for o, shown in zip(data, obligations, strict=True)
        if not strict.hides_obligation(shown.kind, shown.rule, shown.id)
        and (shown.owner == role or not hidden.hides_obligation(shown.kind, shown.rule, shown.id))
    ]


def _shown_deadlines(
    deadlines: Sequence[DeadlineView], data: list[dict[str, Any]], role: str
) -> list[dict[str, Any]]:
    """The JSON ``data`` of those ``deadlines`` that ``role`` may be shown. A summary does not
    say who is reminded of a deadline: one that reveals a field the role may not read is left
    out for every such role (fail closed)."""
    hidden = _hidden(role)
    return [
        d
        for d, shown in zip(data, deadlines, strict=True)
        if not hidden.hides_deadline(shown.kind, shown.rule)
    ]


def changes_view(changes: CaseChanges, role: str) -> dict[str, Any]:
    """What an accepted event changed (:class:`~pathway.domain.state.CaseChanges`), with what
    ``role`` may not read left out as :func:`summary_view` leaves it out: no obligations unless
    it reads ``obligations``, no deadlines unless it reads ``deadlines``, none that reveals a
    field it may not read. An obligation's ID is shown only where it names nothing but its kind
    or a fixed code (:func:`listed_ids`): a counted suffix of a part of the case would count
    hidden things, so such an obligation is shown by its kind alone."""
    data = changes.model_dump(mode="json")
    view: dict[str, Any] = {}
    if may_read(role, "obligations"):
        for name in ("obligations_opened", "obligations_settled"):
            shown = _shown_obligations(getattr(changes, name), data[name], role)
            view[name] = shown if role == OPERATOR else [_coded_id_only(o) for o in shown]
    if may_read(role, "deadlines"):
        for name in ("deadlines_set", "deadlines_ended"):
            view[name] = _shown_deadlines(getattr(changes, name), data[name], role)
    return view


def _coded_id_only(obligation: dict[str, Any]) -> dict[str, Any]:
    if obligation["id"] == obligation["kind"] or obligation["id"] in _CODED_IDS:
        return obligation
    return {name: value for name, value in obligation.items() if name != "id"}


def acknowledgement_view(result: EventResult, role: str) -> dict[str, Any]:
    """An accepted event's acknowledgement (the ``record_event`` update's result, issue 14) as
    the gateway answers it to ``role``: the event's ID and type (the sender's own), whether it
    repeated an accepted one, the case's phase if ``role`` reads it, and
    :func:`changes_view`. Shape: ``{"event_id", "event_type", "duplicate", ["phase"],
    "changes": {...}}``."""
    view: dict[str, Any] = {
        "event_id": result.event_id,
        "event_type": result.event_type,
        "duplicate": result.duplicate,
    }
    phase = result.phase or (result.summary.phase if result.summary is not None else None)
    if phase is not None and may_read(role, "phase"):
        view["phase"] = phase.value
    view["changes"] = changes_view(result.changes, role)
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


# -- minimisation of existence (R6) -------------------------------------------------------------
@dataclass(frozen=True)
class Traces:
    """Where a field of the case shows outside itself: the rules that concern only it (a
    membership, obligation, deadline, notification or timer that cites one of them reveals
    it), the events that record it, the obligations, deadlines and notifications it causes, the
    membership records (role, rule) that exist because of it, and any other timeline entry
    (its ``what``) that reveals it."""

    rules: frozenset[str] = frozenset()
    event_types: frozenset[str] = frozenset()
    obligation_kinds: frozenset[ObligationKind] = frozenset()
    deadline_kinds: frozenset[DeadlineKind] = frozenset()
    notification_reasons: frozenset[str] = frozenset()
    member_records: frozenset[tuple[MemberRole, str]] = frozenset()
    entries: frozenset[str] = frozenset()

    def __or__(self, other: Traces) -> Traces:
        return Traces(
            self.rules | other.rules,
            self.event_types | other.event_types,
            self.obligation_kinds | other.obligation_kinds,
            self.deadline_kinds | other.deadline_kinds,
            self.notification_reasons | other.notification_reasons,
            self.member_records | other.member_records,
            self.entries | other.entries,
        )

    def cites(self, rule: str | None) -> bool:
        """Whether ``rule`` (``"K4"``, ``"K1, K2"``) names one of these rules."""
        return rule is not None and any(r.strip() in self.rules for r in rule.split(","))

    def cites_only(self, rule: str | None) -> bool:
        """Whether every rule ``rule`` names is one of these (an event's entry that cites a rule
        beside them is about that rule too: its type decides)."""
        return rule is not None and all(r.strip() in self.rules for r in rule.split(","))

    @property
    def reasons(self) -> frozenset[str]:
        """The notification reasons that reveal: those named, and the reminders of the
        deadlines (``<kind>_reminder``, :func:`pathway.domain.rules.fire_due`)."""
        return self.notification_reasons | {f"{k.value}_reminder" for k in self.deadline_kinds}

    def hides_obligation(self, kind: ObligationKind, rule: str, ob_id: str = "") -> bool:
        """An obligation of one of these kinds or rules, or an undelivered reminder's relay
        whose ID carries a hidden reminder's key (``…:<reason>:<n>``)."""
        if kind in self.obligation_kinds or self.cites(rule):
            return True
        return kind is ObligationKind.NOTIFICATION_UNDELIVERED and any(
            f":{reason}:" in ob_id for reason in self.reasons
        )

    def hides_rejection(self, event_type: str, rule: str | None) -> bool:
        """A rejected event of one of these types, or rejected under one of these rules (its
        reason speaks of what the rule checked)."""
        return event_type in self.event_types or self.cites(rule)

    def hides_deadline(self, kind: DeadlineKind, rule: str) -> bool:
        return kind in self.deadline_kinds or self.cites(rule)

    def hides_notification(self, reason: str, rule: str) -> bool:
        return reason in self.reasons or self.cites(rule)

    def hides_membership(self, record: Membership) -> bool:
        """A membership given, or ended, by one of these rules, or one of these records."""
        return (
            self.cites(record.rule)
            or self.cites(record.removed_rule)
            or (record.role, record.rule) in self.member_records
        )

    def hides_entry(self, entry: TimelineEntry) -> bool:
        """A timeline entry that reveals: an accepted event of one of these types (or whose
        rules are all these), a timer of one of these deadlines, the delivery of one of these
        notifications, an escalation of one of these obligations made moot (or made moot by one
        of these events), one of these entries, or any entry of the service citing these
        rules."""
        what = entry.what
        if what in {t.replace("_", " ") for t in self.event_types} or what in self.entries:
            return True
        if entry.event_id is not None:  # an accepted event: what it is decides (record_event)
            return self.cites_only(entry.rule)
        timers = {f"{k.value} {step}" for k in self.deadline_kinds for step in _TIMER_STEPS}
        return (
            self.cites(entry.rule)
            or what in timers
            or any(what.startswith(f"notification {reason} to ") for reason in self.reasons)
            or any(what.startswith(f"{k.value} escalation moot: ") for k in self.obligation_kinds)
            or any(
                what.startswith(f"{k.value} escalation moot: {t.replace('_', ' ')} on ")
                for k in ObligationKind
                for t in self.event_types
            )
        )


#: The timeline entries of a deadline's timer: ``<kind> reminder sent``, ``<kind> deadline
#: reached`` (pathway.domain.rules.deadlines.fire_due); a notification's delivery is
#: ``notification <reason> to <recipient>: …`` (settle_notification); an escalation made moot by
#: a late-recorded event is ``<obligation kind> escalation moot: <event type> on <day>, …``
#: (pathway.domain.rules.core._Change._moot_if_recorded_late).
_TIMER_STEPS: Final = ("reminder sent", "deadline reached")

#: A person's facts change by ``facts_updated`` (and the child track follows them).
_PERSON_FACTS: Final = Traces(event_types=frozenset({"facts_updated"}))
#: C8 and the child track's end are the 15th and 18th birthdays: their timers are due on them.
_BIRTHDAYS: Final = _PERSON_FACTS | Traces(
    deadline_kinds=frozenset({DeadlineKind.TURNS_15, DeadlineKind.TURNS_18}),
    notification_reasons=frozenset({"turned_15", "turned_18"}),
)
#: The K5 decision on further support (or what stands for it: a safe placement, enrolment in
#: reintegration) closes the reflection decision and the follow-on placement, and ends the
#: reflection period (pathway.domain.rules.assistance._decision_taken): their closing reveals it.
_DECISION_CLOSES: Final = frozenset(
    {ObligationKind.REFLECTION_DECISION, ObligationKind.FOLLOW_ON_PLACEMENT}
)
#: S3: safe accommodation of a third-country national hangs on both permits; a lapse opens an
#: obligation, a timer and notifications that reveal the placement and the permit.
_S3: Final = Traces(
    rules=frozenset({"S3"}),
    obligation_kinds=frozenset({ObligationKind.SAFE_ACCOMMODATION_PERMITS}),
    deadline_kinds=frozenset({DeadlineKind.SAFE_ACCOMMODATION_PERMITS}),
    notification_reasons=frozenset(
        {"safe_accommodation_permit_lapsed", "safe_accommodation_permits_overdue"}
    ),
)
#: S5: a third-country national in safe accommodation whose criminal proceedings concluded
#: (pathway.domain.rules.safe_accommodation.after_proceedings): reveals both.
_S5_AFTER_PROCEEDINGS: Final = Traces(
    obligation_kinds=frozenset({ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS}),
    deadline_kinds=frozenset({DeadlineKind.ACCOMMODATION_AFTER_PROCEEDINGS}),
    notification_reasons=frozenset(
        {
            "placed_after_proceedings",
            "proceedings_concluded",
            "accommodation_after_proceedings_overdue",
        }
    ),
    member_records=frozenset({(MemberRole.ASSIGNED, "S5")}),
)
#: K6, C8: criminal proceedings, opened and concluded, their main hearing and the 15th birthday
#: that lifts its bar, and what their conclusion opens in safe accommodation (S5).
_PROCEEDINGS: Final = (
    Traces(
        rules=frozenset({"K6"}),
        event_types=frozenset(
            {
                "criminal_proceedings_opened",
                "criminal_proceedings_concluded",
                "main_hearing_scheduled",
            }
        ),
        notification_reasons=frozenset({"turned_15", "direct_questioning_barred"}),
    )
    | _S5_AFTER_PROCEEDINGS
)
#: A linked case's opening (and its erasure) on the parent's timeline
#: (pathway.domain.rules.accompanying): an accompanying child identified as a victim.
_LINKED: Final = Traces(
    event_types=frozenset({"accompanying_child_identified"}),
    entries=frozenset(
        {"linked case opened", "a linked case was erased: its ID is no longer kept in this case"}
    ),
)

#: Field -> its traces elsewhere in the case (pathway.domain.rules: which event and which rule
#: sets each field, and which obligations, deadlines, notifications and members follow). A role
#: that may not read a field sees none of them, whoever caused them (:func:`minimised`), with one
#: exception: its own work (an obligation it owns, a deadline it is reminded of, its own
#: membership, an event it sent) stays in its view, unless the field is one of
#: :data:`HIDDEN_FROM_OWNERS`. Every field of READ_MATRIX that a member role may not read and
#: that shows outside itself has an entry; ``tests/test_minimisation.py`` derives them from the
#: rules' effects, independently of this table.
TRACES: Final[Mapping[str, Traces]] = MappingProxyType(
    {
        # The person's facts (R6): corrections come by facts_updated; the birthdays are timers.
        "person.birth_date": _BIRTHDAYS,
        "person.age_estimate": _BIRTHDAYS,
        "person.gender": _PERSON_FACTS,
        "person.citizenships": _PERSON_FACTS,
        "person.residence_status": _PERSON_FACTS,
        "person.languages": _PERSON_FACTS,
        "person.exploited_abroad": _PERSON_FACTS,
        "person.unaccompanied": _PERSON_FACTS,
        "person.holder_can_act": _PERSON_FACTS,
        # R2: the NGO interview, the obligation it closes, and the lead (and the police told)
        # under R2.
        "ngo_interview_at": Traces(
            rules=frozenset({"R2"}),
            event_types=frozenset({"ngo_interview_held"}),
            obligation_kinds=frozenset({ObligationKind.NGO_INTERVIEW}),
        ),
        # R3: the nine subjects, each an obligation closed by the information given, its
        # deadline and escalation.
        "rights_information": Traces(
            rules=frozenset({"R3"}),
            event_types=frozenset({"rights_information_given"}),
            obligation_kinds=frozenset({ObligationKind.RIGHTS_INFORMATION}),
            deadline_kinds=frozenset({DeadlineKind.RIGHTS_INFORMATION}),
            notification_reasons=frozenset({"rights_information_escalation"}),
        ),
        # R4: the police interview, and the trusted person not offered at it.
        "police_interview": Traces(
            rules=frozenset({"R4"}),
            event_types=frozenset({"police_information_gathering_started"}),
            obligation_kinds=frozenset({ObligationKind.TRUSTED_PERSON}),
            notification_reasons=frozenset({"trusted_person_not_offered"}),
        ),
        # K5: the reflection period, its timer and the decision due at its end.
        "reflection_started_at": Traces(
            rules=frozenset({"K5"}),
            event_types=frozenset({"reflection_period_started"}),
            obligation_kinds=frozenset({ObligationKind.REFLECTION_DECISION}),
            deadline_kinds=frozenset({DeadlineKind.REFLECTION_PERIOD}),
            notification_reasons=frozenset({"reflection_period_ended"}),
        ),
        # K1, K2: the crisis placement, its end or withdrawal, its 30 days, the follow-on
        # placement, the provider and the co-financing ministry.
        "crisis_accommodation": Traces(
            rules=frozenset({"K1"}),
            event_types=frozenset(
                {"crisis_accommodation_placed", "crisis_accommodation_ended", "consent_withdrawn"}
            ),
            obligation_kinds=frozenset({ObligationKind.FOLLOW_ON_PLACEMENT}),
            deadline_kinds=frozenset({DeadlineKind.CRISIS_ACCOMMODATION}),
            notification_reasons=frozenset({"crisis_accommodation_escalation"}),
        ),
        # S1, S3, S5, K2: the safe placement, its end or withdrawal, its permits, what follows
        # the proceedings, the provider and the co-financing ministry.
        "safe_accommodation": Traces(
            rules=frozenset({"S1", "S5"}),
            event_types=frozenset(
                {"safe_accommodation_placed", "safe_accommodation_ended", "consent_withdrawn"}
            ),
            obligation_kinds=_DECISION_CLOSES,
        )
        | _S3
        | _S5_AFTER_PROCEEDINGS,
        # S1: the offer of safe accommodation owed during crisis accommodation (opened by the
        # placement), its timer, its escalation, and the offer made.
        "safe_accommodation_offer": Traces(
            event_types=frozenset({"safe_accommodation_offered"}),
            obligation_kinds=frozenset({ObligationKind.SAFE_ACCOMMODATION_OFFER}),
            deadline_kinds=frozenset({DeadlineKind.SAFE_ACCOMMODATION_OFFER}),
            notification_reasons=frozenset({"safe_accommodation_offer_overdue", "escalation_moot"}),
        ),
        # K3, S2: the services of crisis and safe accommodation, recorded one by one.
        "accommodation_services": Traces(
            rules=frozenset({"K3", "S2"}),
            event_types=frozenset({"accommodation_service_recorded"}),
        ),
        # K5: the decision, the obligations it closes (and their escalations made moot when it
        # is recorded late), and the referral to Ključ it makes.
        "further_support": Traces(
            event_types=frozenset({"further_support_decided"}),
            obligation_kinds=_DECISION_CLOSES,
            notification_reasons=frozenset({"escalation_moot"}),
            member_records=frozenset({(MemberRole.REFERRED, "S1"), (MemberRole.REFERRED, "I1")}),
        ),
        # K7 and S4 (and S3, which hangs safe accommodation on both): the permits, their
        # timers, renewals and extensions, the residence authorities.
        "permit_to_stay": Traces(
            rules=frozenset({"K7"}),
            event_types=frozenset({"permit_to_stay_granted", "permit_to_stay_extended"}),
            obligation_kinds=frozenset({ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION}),
            deadline_kinds=frozenset({DeadlineKind.PERMIT_TO_STAY}),
            notification_reasons=frozenset({"permit_to_stay_expired"}),
        )
        | _S3,
        "residence_permit": Traces(
            rules=frozenset({"S4"}),
            event_types=frozenset(
                {"temporary_residence_permit_granted", "temporary_residence_permit_renewed"}
            ),
            obligation_kinds=frozenset({ObligationKind.RESIDENCE_PERMIT_RENEWAL}),
            deadline_kinds=frozenset({DeadlineKind.TEMPORARY_RESIDENCE_PERMIT}),
            notification_reasons=frozenset({"residence_permit_expired"}),
        )
        | _S3,
        # K6, C8: the proceedings, their hearings, and what their conclusion opens for a
        # third-country national in safe accommodation (S5).
        "criminal_proceedings.opened_at": _PROCEEDINGS,
        "criminal_proceedings.concluded_at": _PROCEEDINGS,
        # C7: the minor injured party's authorised representative, its obligation and timer.
        "criminal_proceedings.authorised_representative": Traces(
            rules=frozenset({"C7"}),
            event_types=frozenset({"authorised_representative_appointed"}),
            obligation_kinds=frozenset({ObligationKind.AUTHORISED_REPRESENTATIVE}),
            deadline_kinds=frozenset({DeadlineKind.AUTHORISED_REPRESENTATIVE}),
            notification_reasons=frozenset({"authorised_representative_missing"}),
        ),
        # R5: readiness to cooperate, recorded only.
        "cooperation": Traces(
            rules=frozenset({"R5"}), event_types=frozenset({"cooperation_recorded"})
        ),
        # C8 (K6): a main hearing, and the 15th birthday that lifts its bar.
        "hearings": Traces(
            rules=frozenset({"C8"}),
            event_types=frozenset({"main_hearing_scheduled"}),
            deadline_kinds=frozenset({DeadlineKind.TURNS_15}),
            notification_reasons=frozenset({"turned_15", "direct_questioning_barred"}),
        ),
        # I1: enrolment, the services of the personal plan, the provider; it stands for the K5
        # decision.
        "reintegration": Traces(
            rules=frozenset({"I1"}),
            event_types=frozenset({"reintegration_enrolled", "reintegration_service_recorded"}),
            obligation_kinds=_DECISION_CLOSES,
        ),
        # C1–C8: the child track, its obligations, timers, notifications and members (the
        # social work centre, the guardian).
        "child_protection": Traces(
            rules=frozenset({"C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8"}),
            event_types=frozenset(
                {
                    "swc_interview_held",
                    "child_accommodated_in_facility",
                    "guardian_appointed",
                    "family_contact_recorded",
                    "authorised_representative_appointed",
                }
            ),
            obligation_kinds=CHILD_OBLIGATIONS,
            deadline_kinds=CHILD_DEADLINES,
            notification_reasons=frozenset(
                {
                    "child_identified",
                    "child_measure",
                    "child_track_closed",
                    "turned_15",
                    "turned_18",
                    "guardian_appointment_overdue",
                    "family_contact_reminder",
                    "swc_interview_overdue",
                    "facility_accommodation_overdue",
                    "authorised_representative_missing",
                    "direct_questioning_barred",
                }
            ),
        ),
        # Children placed with the victim (K1, S1), and their own cases (R1).
        **{
            f"accompanying_children.{name}": _LINKED
            | Traces(event_types=frozenset({"accompanying_child_recorded"}))
            for name in AccompanyingChild.model_fields
            if name != "own_case_id"
        },
        "accompanying_children.own_case_id": _LINKED,
        "linked_cases": _LINKED,
        # Special needs (K4) are health details: their flag and referral events, the referral
        # obligation, its notification and the provider's membership all reveal one.
        "special_needs": Traces(
            rules=frozenset({"K4"}),
            event_types=frozenset({"special_need_flagged", "special_need_referral_made"}),
            obligation_kinds=frozenset({ObligationKind.SPECIAL_NEED_REFERRAL}),
            notification_reasons=frozenset({"special_need_referral"}),
        ),
    }
)

#: Fields whose traces are hidden even from a role's own work: health details never reach a role
#: that may not read them, whatever a rule made it (K4: the domain refuses such a provider; a
#: case recorded before that rule may still name one, review F2).
HIDDEN_FROM_OWNERS: Final = frozenset({"special_needs"})


@cache
def _hidden(role: str) -> Traces:
    """The traces of every field ``role`` may not read."""
    hidden = Traces()
    for field, traces in TRACES.items():
        if not may_read(role, field):
            hidden |= traces
    return hidden


@cache
def _hidden_from_owners(role: str) -> Traces:
    """The traces hidden from ``role`` even in its own work (:data:`HIDDEN_FROM_OWNERS`)."""
    hidden = Traces()
    for field in HIDDEN_FROM_OWNERS:
        if not may_read(role, field):
            hidden |= TRACES[field]
    return hidden


def _reminded(deadline: Deadline, role: str, lead_ngo: Org) -> bool:
    """Whether ``role`` is (or was) reminded of ``deadline``: it must act on it."""
    return any(
        role in {o.value for o in r.recipients} or (r.lead_ngo and role == lead_ngo.value)
        for r in deadline.reminders
    )


class _EventEffects:
    """The accepted events of ``state`` whose timeline entries ``traces`` hide, and what they
    did: an obligation names the event that closed it; a membership record is stamped with the
    time the event was decided and who sent it (``since``/``added_by``, ``removed_at``/
    ``removed_by``), as the event's entry is (``recorded_at``, ``who``)."""

    def __init__(self, state: CaseState, traces: Traces) -> None:
        events = [e for e in state.timeline if e.event_id is not None and traces.hides_entry(e)]
        self.ids = frozenset(e.event_id for e in events)
        self.acts = frozenset((e.recorded_at, e.who) for e in events)

    def closed(self, obligation: Obligation) -> bool:
        return obligation.closed_by is not None and obligation.closed_by in self.ids

    def changed(self, record: Membership) -> bool:
        return (record.since, record.added_by) in self.acts or self.ended(record)

    def ended(self, record: Membership) -> bool:
        return record.removed_at is not None and (record.removed_at, record.removed_by) in self.acts


#: A placement's end reason that names what moved the person on: the field it reveals
#: (pathway.domain.rules.safe_accommodation: a safe placement ends crisis accommodation).
_END_REASONS: Final[Mapping[str, str]] = MappingProxyType(
    {"moved to safe accommodation": "safe_accommodation"}
)


def _ended_as_readable(state: CaseState, role: str) -> dict[str, Any]:
    """The placements whose end reason names a field ``role`` may not read, with the reason
    shown as ``ended`` (as an end by its own event, K1): the labour ministry reads that the crisis
    placement it co-finances ended, not that safe accommodation followed (R6)."""
    update: dict[str, Any] = {}
    for name in ("crisis_accommodation", "safe_accommodation"):
        record = getattr(state, name)
        field = _END_REASONS.get(record.end_reason or "") if record is not None else None
        if record is not None and field is not None and not may_read(role, field):
            update[name] = record.model_copy(update={"end_reason": "ended"})
    return update


def _end_shown(record: Membership, hidden: Traces, hidden_by: _EventEffects) -> Membership:
    """A membership record as shown to a role: its own record that an event hidden from it
    ended shows when and under which rule (if the role may see it), not by whom or why (the
    labour ministry's co-financing ends with the crisis placement, not "moved to safe
    accommodation" by Ključ: R6, issue 11 item 5)."""
    if not hidden_by.ended(record):
        return record
    rule = None if hidden.cites(record.removed_rule) else record.removed_rule
    return record.model_copy(update={"removed_by": None, "removed_rule": rule, "removed_why": None})


def minimised(state: CaseState, role: str) -> CaseState:
    """``state`` without any trace of the fields ``role`` may not read (:data:`TRACES`): no
    timeline entry, rejected event, obligation, deadline, pending notification, membership or
    idempotency record that reveals one. The state itself is not changed; the fields are left
    to the read matrix.

    A role keeps its own work (unless the field is one of :data:`HIDDEN_FROM_OWNERS`): the
    obligations it owns, the deadlines it is reminded of, its own membership records (one that
    a hidden event ended without who ended it or why, :func:`_end_shown`) and the entries of the
    events it sent, rejected ones too. A placement's end reason that names a field the role may
    not read is shown as ``ended`` (:func:`_ended_as_readable`). The read matrix grants each
    role the fields its own work is about (``tests/test_minimisation.py`` checks that the work
    reveals nothing else).

    The counts a case keeps (``notifications_sent``) are read by operators only, who read
    everything; the rest (obligations, the timeline) are counted by what is left."""
    hidden = _hidden(role)
    if hidden == Traces():
        return state
    strict = _hidden_from_owners(role)
    # What a hidden event did is hidden with it: the obligations it closed (``closed_by``), the
    # memberships it gave or ended (stamped with its decision's time and its sender, as its
    # timeline entry is).
    hidden_by = _EventEffects(state, hidden)
    strict_by = _EventEffects(state, strict)

    def shown_entry(e: TimelineEntry) -> bool:
        own = e.event_id is not None and e.organisation is not None and e.organisation == role
        return not (strict.hides_entry(e) or (hidden.hides_entry(e) and not own))

    def shown_obligation(o: Obligation) -> bool:
        if strict.hides_obligation(o.kind, o.rule, o.id) or strict_by.closed(o):
            return False
        return o.owner == role or not (
            hidden.hides_obligation(o.kind, o.rule, o.id) or hidden_by.closed(o)
        )

    def shown_rejection(r: RejectionEntry) -> bool:
        own = r.organisation == role
        return not (
            strict.hides_rejection(r.event_type, r.rule)
            or (hidden.hides_rejection(r.event_type, r.rule) and not own)
        )

    def shown_deadline(d: Deadline) -> bool:
        if strict.hides_deadline(d.kind, d.rule):
            return False
        return _reminded(d, role, state.lead_ngo) or not hidden.hides_deadline(d.kind, d.rule)

    def shown_member(m: Membership) -> bool:
        if strict.hides_membership(m) or strict_by.changed(m):
            return False
        return m.organisation == role or not (hidden.hides_membership(m) or hidden_by.changed(m))

    return state.model_copy(
        update={
            **_ended_as_readable(state, role),
            "timeline": [e for e in state.timeline if shown_entry(e)],
            "rejections": [r for r in state.rejections if shown_rejection(r)],
            "obligations": [o for o in state.obligations if shown_obligation(o)],
            "deadlines": {k: d for k, d in state.deadlines.items() if shown_deadline(d)},
            "pending_notifications": [
                n
                for n in state.pending_notifications
                if not hidden.hides_notification(n.reason, n.rule)
            ],
            "membership": [
                _end_shown(m, hidden, hidden_by) for m in state.membership if shown_member(m)
            ],
            "processed": {
                k: p for k, p in state.processed.items() if p.event_type not in hidden.event_types
            },
        }
    )


# -- the one policy: (organisation or operator, roles in the case, action, field) -> allow ------
class Action(StrEnum):
    """What a caller wants to do with a case (``field`` says with what)."""

    #: Read a field of the case (``field``: a key of READ_MATRIX; None: the case at all).
    READ = "read"
    #: Decode a payload of the case (codec server). ``field``: the field it holds; None: a whole
    #: payload that cannot be filtered field by field.
    DECODE = "decode"
    #: Send an event (``field``: its type). An exit is judged as CLOSE.
    SEND = "send"
    #: End assistance or the case (``field``: case_closed, departed or returned_home).
    CLOSE = "close"
    #: See the case's obligations in an obligations listing.
    LIST_OBLIGATIONS = "list_obligations"
    #: Add or remove a member (pathway.domain.membership.add_member, remove_member).
    MANAGE_MEMBERS = "manage_members"


#: Events that end assistance or the case.
EXIT_EVENTS: Final = frozenset({"case_closed", "departed", "returned_home"})
#: Events that by law start an organisation's part: an identification opens a new case (R1).
OPENING_EVENTS: Final = frozenset({"identified"})
#: Exits that a role other than the lead NGO may send, by rule: the police record the return
#: home of a victim whose stay they decided (K7: they granted the permit to stay). Never
#: ``departed`` or ``case_closed``.
EXIT_EXCEPTIONS: Final[Mapping[tuple[str, MemberRole], frozenset[str]]] = MappingProxyType(
    {(Org.POLICE.value, MemberRole.RESIDENCE_AUTHORITY): frozenset({"returned_home"})}
)


def _may_close(actor: str, roles: AbstractSet[MemberRole], exit_type: str | None) -> bool:
    if exit_type not in EXIT_EVENTS or not may_send(actor, exit_type):
        return False
    if MemberRole.LEAD_NGO in roles:
        return True
    return any(exit_type in EXIT_EXCEPTIONS.get((actor, role), ()) for role in roles)


def _member_read(actor: str, _roles: AbstractSet[MemberRole], field: str | None) -> bool:
    return may_read_cases(actor) if field is None else may_read(actor, field)


def _member_decode(actor: str, _roles: AbstractSet[MemberRole], field: str | None) -> bool:
    # A payload that cannot be filtered field by field is refused, never over-shared.
    return field is not None and may_read(actor, field)


def _member_send(actor: str, roles: AbstractSet[MemberRole], field: str | None) -> bool:
    if field in EXIT_EVENTS:
        return _may_close(actor, roles, field)
    return field is not None and may_send(actor, field)


def _member_lists(actor: str, _roles: AbstractSet[MemberRole], _field: str | None) -> bool:
    return may_read(actor, "obligations")


def _never(_actor: str, _roles: AbstractSet[MemberRole], _field: str | None) -> bool:
    return False


_MEMBER_MAY: Final[Mapping[Action, Callable[[str, AbstractSet[MemberRole], str | None], bool]]] = (
    MappingProxyType(
        {
            Action.READ: _member_read,
            Action.DECODE: _member_decode,
            Action.SEND: _member_send,
            Action.CLOSE: _may_close,
            Action.LIST_OBLIGATIONS: _member_lists,
            Action.MANAGE_MEMBERS: _never,
        }
    )
)


def _operator_may(action: Action, field: str | None) -> bool:
    """Operators run the service: they read and decode every field, list every obligation,
    manage members and may end a case (through their own command); they send no events (an
    event names the organisation that acted)."""
    if action is Action.SEND:
        return False
    if action is Action.CLOSE:
        return field is None or field in EXIT_EVENTS
    if action in (Action.READ, Action.DECODE):
        return field is None or may_read(OPERATOR, field)
    return True


def decide(
    actor: str, roles: AbstractSet[MemberRole], action: Action, field: str | None = None
) -> bool:
    """Whether ``actor`` (``"operator"`` or an organisation's role), holding ``roles`` in a case
    (:func:`roles_in_case`), may do ``action`` with ``field`` (docs/rules.md "Access", R6; issue
    11).

    - A non-member (no roles) may do nothing with the case but send an identification, which
      opens a new case (R1): sending an event never grants anything.
    - A member reads and decodes the fields its role's row of READ_MATRIX grants (a payload that
      cannot be filtered field by field decodes for operators only), lists obligations if it
      reads them, and sends the events of its role (SEND_MATRIX).
    - Exits (``case_closed``, ``departed``, ``returned_home``) only from the lead NGO, the
      police by K7 (:data:`EXIT_EXCEPTIONS`) or the operator.
    - Unknown fields and event types are denied (fail closed).
    """
    if actor == OPERATOR:
        return _operator_may(action, field)
    if not roles:
        return action is Action.SEND and field in OPENING_EVENTS and may_send(actor, field)
    return _MEMBER_MAY[action](actor, roles, field)


def roles_in_case(state: CaseState, actor: str) -> frozenset[MemberRole]:
    """``actor``'s roles in the case (none for operators, who are no member and need none)."""
    return frozenset() if actor == OPERATOR else state.roles_of(actor)


def case_allows(state: CaseState, actor: str, action: Action, field: str | None = None) -> bool:
    """:func:`decide` for ``actor`` with its roles in ``state``."""
    return decide(actor, roles_in_case(state, actor), action, field)


#: The field of a :func:`send_refusal` that says the sender is no member of the case (the
#: gateway answers it as a case that does not exist, R6); ``type`` says a member may not send it.
NOT_A_MEMBER_FIELD: Final = "organisation"


def send_refusal(state: CaseState, sender: str, event_type: str) -> Rejection | None:
    """Why ``sender`` (``"operator"`` or an organisation's role) may not send ``event_type`` to
    the case in ``state``, or ``None`` if it may (:func:`decide` with :attr:`Action.SEND`).

    The case workflow's update validator asks this with the state the event would meet, so the
    membership an event is checked against is the one it is recorded under: a member removed
    after the gateway's own check, even by a moment, records nothing (issue 11). Rule
    ``ACCESS``; field :data:`NOT_A_MEMBER_FIELD` for a non-member, ``type`` for a member whose
    role may not send this event."""
    if case_allows(state, sender, Action.SEND, event_type):
        return None
    if sender != OPERATOR and not roles_in_case(state, sender):
        return Rejection("ACCESS", NOT_A_MEMBER_FIELD, "the sender is no member of this case")
    return Rejection("ACCESS", "type", f"{sender} may not send {event_type} to this case")


# -- what the codec server decodes (issue 11, item 4) -------------------------------------------
#: The one value the codec server returns in place of every payload (or part of one) a role may
#: not read, whatever it held: nothing is told by its shape (R6).
WITHHELD: Final[Mapping[str, str]] = MappingProxyType({"withheld": "not readable by this role"})

#: An event's own fields that a member may decode, each with the timeline field (a READ_MATRIX
#: key) that decides who: an event is the timeline entry it records. The author of an event also
#: reads its ``reason`` and ``child`` (:data:`AUTHOR_READS`). Every other field of an event (the
#: person's facts, ``subject_ref``, a need and its detail, a permit number, ...) is in no row:
#: it decodes for operators only (the members read its effect in the case, field by field).
EVENT_FIELDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "type": "timeline.what",
        "event_id": "timeline.event_id",
        "organisation": "timeline.organisation",
        "occurred_at": "timeline.at",
        "actor": "timeline.who",
        "reason": "timeline.why",
        "child": "timeline.child",
    }
)


def event_view(event: BaseEvent, role: str) -> dict[str, Any] | None:
    """``event`` as ``role`` may decode it (JSON-ready): the fields :data:`EVENT_FIELDS` maps to
    a timeline field it reads (or, for its own event, one of :data:`AUTHOR_READS`). None if it
    may read nothing of it: it reads no case, or the event is a trace of a field it may not
    read and another organisation sent it (R6, :data:`TRACES`: a ``crisis_accommodation_placed``
    event for the police; a ``special_need_flagged`` event whoever sent it,
    :data:`HIDDEN_FROM_OWNERS`)."""
    data = event.model_dump(mode="json")
    if role == OPERATOR:
        return data
    if not may_read_cases(role):
        return None
    own = data.get("organisation") == role
    # A trace of a field the role may not read, unless it sent the event (as in minimised).
    if event.type in _hidden_from_owners(role).event_types or (
        event.type in _hidden(role).event_types and not own
    ):
        return None
    view = {
        name: data[name]
        for name, path in EVENT_FIELDS.items()
        if name in data and (may_read(role, path) or (own and path in AUTHOR_READS))
    }
    return view or None


def result_view(result: EventResult, role: str) -> dict[str, Any] | None:
    """What an accepted event answered (an update's result), as ``role`` may decode it: the
    event's ID and type (as the timeline shows them), the phase and :func:`changes_view` (and,
    in a result recorded before issue 14, :func:`summary_view`). None if the event is a trace
    of a field ``role`` may not read (R6), or ``role`` reads no case."""
    if role == OPERATOR:
        return result.model_dump(mode="json")
    if not may_read_cases(role) or result.event_type in _hidden(role).event_types:
        return None
    view: dict[str, Any] = {}
    if may_read(role, "timeline.event_id"):
        view["event_id"] = result.event_id
        view["duplicate"] = result.duplicate
    if may_read(role, "timeline.what"):
        view["event_type"] = result.event_type
    if result.phase is not None and may_read(role, "phase"):
        view["phase"] = result.phase.value
    view["changes"] = changes_view(result.changes, role)
    if result.summary is not None:
        view["summary"] = summary_view(result.summary, role)
    return view


def rejection_shown(role: str, organisation: str, event_type: str, rule: str | None) -> bool:
    """Whether ``role`` is shown a rejected event of ``event_type`` that ``organisation`` sent,
    rejected under ``rule`` (issue 17 item 3): care reads every one and each organisation its
    own (READ_MATRIX ``rejections``, :data:`AUTHOR_READS`), minus one whose type or rule
    reveals a field the role may not read (R6, as :func:`minimised` leaves it out; its own
    too for :data:`HIDDEN_FROM_OWNERS`)."""
    own = organisation == role
    if not may_read_cases(role) or not (may_read(role, "rejections") or own):
        return False
    if role == OPERATOR:
        return True
    hidden, strict = _hidden(role), _hidden_from_owners(role)
    return not (
        strict.hides_rejection(event_type, rule)
        or (hidden.hides_rejection(event_type, rule) and not own)
    )


def _rejection_note_view(note: RejectionNote, role: str) -> dict[str, Any] | None:
    """A ``note_rejection`` update's argument as ``role`` may decode it: the rejection entry
    it becomes (never the ``sender`` it was checked with), or None where the case's view
    leaves that entry out (:func:`rejection_shown`)."""
    if not rejection_shown(role, note.organisation.value, note.event_type, note.rule):
        return None
    return note.model_dump(mode="json", exclude={"sender"})


def _record_event_view(request: RecordEvent, role: str) -> dict[str, Any] | None:
    event = event_view(request.event, role)
    return None if event is None else {"event": event}


#: The domain models :func:`decoded_view` shows, each with its view.
_DECODED_VIEWS: Final[tuple[tuple[type, Callable[[Any, str], dict[str, Any] | None]], ...]] = (
    (CaseState, case_view),
    (EventResult, result_view),
    (CaseSummary, summary_view),
    (RecordEvent, _record_event_view),
    (RejectionNote, _rejection_note_view),
    (BaseEvent, event_view),
)


def decoded_view(value: object, role: str) -> dict[str, Any] | None:
    """A decoded payload's value (a model of the case's domain) as ``role``, a member of the
    case, may see it through the codec server (docs/rules.md "Access", R6, K4); None when it may
    see nothing of it, which the codec server answers with :data:`WITHHELD`.

    - :class:`CaseState` (a query's answer, a workflow's input): :func:`case_view`;
    - :class:`CaseSummary`: :func:`summary_view`; :class:`EventResult`: :func:`result_view`;
    - an event, or :class:`RecordEvent` (an update's argument, ``{"event": ...}``):
      :func:`event_view`;
    - a :class:`~pathway.domain.rules.RejectionNote` (the ``note_rejection`` update's
      argument): the entry it becomes, where :func:`rejection_shown`;
    - anything else: None (refuse rather than over-share: a value the policy cannot filter
      field by field is for operators only, who get payloads whole).
    """
    if not may_read_cases(role):
        return None
    for kind, view in _DECODED_VIEWS:
        if isinstance(value, kind):
            return view(value, role) or None
    return None


def _fields(paths: list[str]) -> str:
    return ", ".join(f"`{p}`" for p in paths) if paths else "none"


def _reads(role: str) -> str:
    if role == OPERATOR:
        return "every case"
    return "the cases it is a member of" if may_read_cases(role) else "no case (aggregates only)"


def _case_fields(role: str) -> str:
    if not may_read_cases(role):
        return "none"
    read = [path for path in READ_MATRIX if may_read(role, path)]
    unread = [path for path in READ_MATRIX if not may_read(role, path)]
    if not unread:
        return "all"
    return f"all but {_fields(unread)}" if len(unread) <= len(read) else f"only {_fields(read)}"


def _event_fields(role: str) -> str:
    if role == OPERATOR:
        return "all, `subject_ref` too"
    if not may_read_cases(role):
        return "none"
    names = [name for name, path in EVENT_FIELDS.items() if may_read(role, path)]
    own = [
        name
        for name, path in EVENT_FIELDS.items()
        if path in AUTHOR_READS and not may_read(role, path)
    ]
    return _fields(names) + (f"; {_fields(own)} of its own events" if own else "")


def _traces(role: str) -> str:
    if not may_read_cases(role):
        return "none"
    hidden = [field for field in TRACES if not may_read(role, field)]
    return f"no trace of {_fields(hidden)}" if hidden else "all shown"


def _erased(role: str) -> str:
    if role == OPERATOR:
        return "410"
    if not may_read_cases(role):
        return "as for an unknown case"
    return "410 if a member when erased; else as for an unknown case"


def who_sees_what_markdown() -> str:
    """Who sees what, per role, through the gateway and the codec server, as a Markdown table
    computed from this policy (docs/privacy.md embeds it; ``tests/test_codec_filtering.py``
    keeps it current).

    Columns: which cases a role reads; the case fields it reads (gateway reads and decoded case
    state, inputs and answers alike); the fields of an event payload it decodes; the traces of
    fields it may not read (R6); whether it decodes whole payloads (everything else: the
    :data:`WITHHELD` placeholder); and what it is answered for an erased case."""
    head = (
        "| role | reads | case fields (gateway and decoded) | event payload fields decoded "
        "| traces (R6) | whole payloads | erased case |"
    )
    lines = [head, "| --- | --- | --- | --- | --- | :-: | --- |"]
    # A member holding every role: whole payloads are a question of the role, not of membership.
    for role in ROLES:
        whole = "✓" if decide(role, frozenset(MemberRole), Action.DECODE, None) else ""
        lines.append(
            f"| {role} | {_reads(role)} | {_case_fields(role)} | {_event_fields(role)} "
            f"| {_traces(role)} | {whole} | {_erased(role)} |"
        )
    return "\n".join(lines) + "\n"
