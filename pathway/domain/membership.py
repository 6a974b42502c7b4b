"""Who is a member of a case, in which role, since when, by whose act and why (docs/rules.md
"Access", R6).

A case's members are the organisations with a stated role in it. Each role an organisation
holds is one :class:`Membership` record: added by a dated, recorded fact (the event or timer of
a rule, or the operator with a reason) and ended the same way; an ended record stays in the
case, so the case always shows who could read it when. Sending an event never makes the sender
a member: only a rule or the operator does (see ``MEMBERS`` in docs/rules.md).

Which rule adds or ends which role lives in :mod:`pathway.domain.rules` (``_Change.add_member``
and its callers); this module holds the records and the pure functions over them, and the
operator's own changes (:func:`add_member`, :func:`remove_member`), which the case workflow
offers through its ``change_membership`` update (:class:`MembershipChange`; ``pathway case
member add|remove``).

No import of :mod:`pathway.domain.state` at run time: the case state holds these records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from pathway.domain.events import FurtherSupport
from pathway.domain.organisations import Organisation as Org

if TYPE_CHECKING:
    from pathway.domain.state import CaseState

__all__ = [
    "OPERATOR_ROLES",
    "REFERRALS",
    "RULE_MEMBERS",
    "Act",
    "MemberRole",
    "Membership",
    "MembershipChange",
    "MembershipRefused",
    "active",
    "add_member",
    "derive_membership",
    "end",
    "grant",
    "members",
    "remove_member",
    "roles_of",
]

#: The rule ID of the operator's changes and of memberships derived for older cases.
RULE_MEMBERS: Final = "MEMBERS"


class MemberRole(StrEnum):
    """Why an organisation is a member of a case."""

    #: The authority that identified the person and opened the case (R1).
    IDENTIFYING_AUTHORITY = "identifying_authority"
    #: The NGO leading the case (R2, K1, S1): exactly one at a time, moving with the victim.
    LEAD_NGO = "lead_ngo"
    #: An organisation a rule assigns work to: it owns an obligation, or is told to act.
    ASSIGNED = "assigned"
    #: Provides a placement or service: crisis (K1) or safe accommodation (S1), reintegration
    #: (I1), help with a special need (K4).
    PROVIDER = "provider"
    #: Referred to the case by a member, with a reason (K5: safe accommodation, reintegration;
    #: or by the operator).
    REFERRED = "referred"
    #: The ministry co-financing the placement the person is in (K1: labour; S1: interior).
    CO_FINANCER = "co_financer"
    #: Decides the person's right to stay: the police a permit to stay (K7), the migration
    #: authority a temporary residence permit (S4).
    RESIDENCE_AUTHORITY = "residence_authority"
    #: The child's guardian or legal representative (C3, C4, C7), until the child turns 18.
    GUARDIAN = "guardian"


#: K5: the decisions on further support that refer the person to Ključ, with the rule and the
#: purpose of the referral.
REFERRALS: Final[dict[FurtherSupport, tuple[str, str]]] = {
    FurtherSupport.SAFE_ACCOMMODATION: (
        "S1",
        "referred for safe accommodation: offer it with consent by written statement (S1)",
    ),
    FurtherSupport.REINTEGRATION: (
        "I1",
        "referred to the reintegration programme: check eligibility and agree a personal plan (I1)",
    ),
}

#: Roles the operator may add or remove. The identifying authority is a fact of the past and
#: the lead NGO moves only by the rules (there is always exactly one).
OPERATOR_ROLES: Final = frozenset(MemberRole) - {
    MemberRole.IDENTIFYING_AUTHORITY,
    MemberRole.LEAD_NGO,
}


class Membership(BaseModel):
    """One role of one organisation in a case, from ``since`` until ``removed_at``."""

    organisation: Org
    role: MemberRole
    rule: str = Field(description="The rule that gave the role (or MEMBERS: the operator).")
    why: str = Field(description="The purpose, in the rule's words (or the operator's reason).")
    since: datetime
    added_by: str = Field(description="Who acted: 'caritas (sw-12)', 'pathway', 'operator (…)'.")
    removed_at: datetime | None = None
    removed_by: str | None = None
    removed_rule: str | None = None
    removed_why: str | None = None

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class MembershipChange(BaseModel):
    """The operator adds or removes one role of one organisation, with a reason (the input of
    the case workflow's ``change_membership`` update; :func:`add_member`,
    :func:`remove_member`). ``why`` is shown to every reader of the case: it must hold no
    personal data (a ticket number, "referred by phone on the lead NGO's request")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Literal["add", "remove"]
    organisation: Org
    role: MemberRole
    why: str = Field(max_length=500, description="The reason; no personal data.")
    by: str = Field(min_length=1, max_length=100, description="The operator's name.")
    change_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Unique per change (the CLI gives each a UUID): the same change again is "
        "refused (MEMBERS, change_id), so a copy of a change taken from the case's history and "
        "sent again undoes nothing the operator did since.",
    )


class MembershipRefused(Exception):
    """An operator's membership change that cannot be made; changes nothing."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = RULE_MEMBERS
        self.field = field
        self.reason = reason


# -- reading ------------------------------------------------------------------------------------
def active(records: Iterable[Membership]) -> list[Membership]:
    """The records in force."""
    return [m for m in records if m.is_active]


def roles_of(records: Iterable[Membership], organisation: Org | str) -> frozenset[MemberRole]:
    """The roles ``organisation`` holds now (empty: not a member)."""
    return frozenset(m.role for m in records if m.is_active and m.organisation == organisation)


def members(records: Iterable[Membership]) -> set[Org]:
    """The organisations that hold at least one role now."""
    return {m.organisation for m in records if m.is_active}


# -- changing (in place, on a working copy the caller owns) -------------------------------------
@dataclass(frozen=True)
class Act:
    """Who changes a membership, when, under which rule and why."""

    rule: str
    why: str
    at: datetime
    by: str


def grant(
    records: list[Membership], organisation: Org, role: MemberRole, act: Act
) -> Membership | None:
    """Add ``role`` for ``organisation`` under ``act.rule``, unless it holds it under that
    rule already; returns the new record (None if nothing changed)."""
    for m in records:
        if m.is_active and (m.organisation, m.role, m.rule) == (organisation, role, act.rule):
            return None
    record = Membership(
        organisation=organisation,
        role=role,
        rule=act.rule,
        why=act.why,
        since=act.at,
        added_by=act.by,
    )
    records.append(record)
    return record


def end(
    records: list[Membership],
    organisation: Org,
    role: MemberRole,
    act: Act,
    given_by: str | None = None,
) -> list[Membership]:
    """End every active ``role`` of ``organisation`` (only the one given under the rule
    ``given_by``, if named); the records stay, replaced in ``records`` by copies stamped with
    who ended them, when, under which rule and why. Returns the ended records."""
    ended = []
    for i, m in enumerate(records):
        if (
            m.is_active
            and (m.organisation, m.role) == (organisation, role)
            and given_by in (None, m.rule)
        ):
            records[i] = m.model_copy(
                update={
                    "removed_at": act.at,
                    "removed_by": act.by,
                    "removed_rule": act.rule,
                    "removed_why": act.why,
                }
            )
            ended.append(records[i])
    return ended


# -- the operator's changes (pure: a new state, or MembershipRefused) ----------------------------
def _operator_checks(organisation: Org, role: MemberRole, why: str) -> None:
    if role not in OPERATOR_ROLES:
        raise MembershipRefused(
            "role",
            f"the role {role.value} is not given by hand: the identifying authority is a fact "
            "of the past and the lead NGO moves only by the rules",
        )
    if organisation is Org.ANALYST:
        raise MembershipRefused("organisation", "analysts read aggregates only, never a case")
    if not why.strip():
        raise MembershipRefused("why", "say why: every membership change records a reason")


def add_member(
    state: CaseState, organisation: Org, role: MemberRole, *, by: str, why: str, now: datetime
) -> CaseState:
    """The operator adds ``organisation`` in ``role``, with a reason (``by``: the operator's
    name). Pure: returns a new state; raises :class:`MembershipRefused` for a change that cannot
    be made (a role given only by rules, an analyst, no reason, a role already held)."""
    _operator_checks(organisation, role, why)
    if role in roles_of(state.membership, organisation):
        raise MembershipRefused("role", f"{organisation.value} already holds {role.value}")
    records = list(state.membership)
    grant(records, organisation, role, Act(RULE_MEMBERS, why, now, f"operator ({by})"))
    return state.model_copy(update={"membership": records})


def remove_member(
    state: CaseState, organisation: Org, role: MemberRole, *, by: str, why: str, now: datetime
) -> CaseState:
    """The operator ends ``organisation``'s ``role`` (every record of it), with a reason. Pure;
    raises :class:`MembershipRefused` as :func:`add_member` does, or for a role not held."""
    _operator_checks(organisation, role, why)
    records = list(state.membership)
    if not end(records, organisation, role, Act(RULE_MEMBERS, why, now, f"operator ({by})")):
        raise MembershipRefused("role", f"{organisation.value} does not hold {role.value}")
    return state.model_copy(update={"membership": records})


# -- cases recorded before membership existed ---------------------------------------------------
_DERIVED: Final = "derived from the case as it stood when membership was introduced"


def _derived_roles(state: CaseState) -> Iterable[tuple[Org, MemberRole, str, datetime]]:
    """(organisation, role, rule, since) that the rules would have given, read from the
    state (no event is kept to replay)."""
    identifier = next(
        (t.organisation for t in state.timeline if t.what == "identified" and t.organisation),
        Org.POLICE,
    )
    yield identifier, MemberRole.IDENTIFYING_AUTHORITY, "R1", state.opened_at
    yield state.lead_ngo, MemberRole.LEAD_NGO, "R2", state.opened_at
    if identifier is not Org.POLICE:
        yield Org.POLICE, MemberRole.ASSIGNED, "R2", state.opened_at
    for ob in state.obligations:
        yield ob.owner, MemberRole.ASSIGNED, ob.rule, ob.opened_at
    yield from _derived_placements(state)
    if state.permit_to_stay is not None:
        yield Org.POLICE, MemberRole.RESIDENCE_AUTHORITY, "K7", state.opened_at
    if state.person.is_third_country_national:
        yield Org.MIGRATION_AUTHORITY, MemberRole.RESIDENCE_AUTHORITY, "S4", state.opened_at
    cp = state.child_protection
    if cp is not None and cp.closed_at is None:
        yield Org.SOCIAL_WORK_CENTRE, MemberRole.ASSIGNED, "C4", cp.opened_at
        yield Org.GUARDIAN, MemberRole.GUARDIAN, "C3", cp.opened_at
    for need in state.special_needs:
        if need.referred_at is not None:
            yield need.provider, MemberRole.PROVIDER, "K4", need.referred_at


def _derived_placements(state: CaseState) -> Iterable[tuple[Org, MemberRole, str, datetime]]:
    crisis, safe = state.crisis_accommodation, state.safe_accommodation
    if crisis is not None and crisis.active:
        yield crisis.provider, MemberRole.PROVIDER, "K1", crisis.since
        yield Org.LABOUR_MINISTRY, MemberRole.CO_FINANCER, "K1", crisis.since
    if safe is not None and safe.active:
        yield safe.provider, MemberRole.PROVIDER, "S1", safe.since
        yield Org.INTERIOR_MINISTRY, MemberRole.CO_FINANCER, "S1", safe.since
    referral = REFERRALS.get(state.further_support) if state.further_support else None
    if referral is not None:
        yield Org.KLJUC, MemberRole.REFERRED, referral[0], state.opened_at
    if state.reintegration is not None:
        yield Org.KLJUC, MemberRole.PROVIDER, "I1", state.reintegration.enrolled_at


def derive_membership(state: CaseState) -> list[Membership]:
    """The members of a case recorded before membership existed, read from its state: the
    roles the rules would have given (each record says it was derived). Deterministic, so a
    workflow that loads such a state (continue-as-new) replays the same."""
    records: list[Membership] = []
    for organisation, role, rule, since in _derived_roles(state):
        grant(records, organisation, role, Act(rule, _DERIVED, since, "pathway"))
    return records
