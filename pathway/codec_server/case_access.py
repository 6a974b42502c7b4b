"""What a principal may decode of a case's payloads through the codec server (docs/rules.md
"Access", R6; docs/privacy.md "Who sees what").

The answer is a :class:`Grant`, decided by the one access policy
(:func:`pathway.access.policy.decide`) with the caller's roles in the case's membership:

- operators decode every payload whole (:attr:`Grant.WHOLE`);
- a member of the case (an organisation holding at least one role in it now) gets each payload
  filtered by the read matrix (:attr:`Grant.FILTERED`, :mod:`pathway.codec_server.views`);
- anyone else gets :attr:`Grant.NONE`: not a member, analysts (never members), an unknown case,
  and an erased case it was not a member of all get this same answer, so that a non-member
  cannot tell whether a case exists;
- an erased case is :attr:`Grant.ERASED` (410) for operators and its former members only (the
  organisations recorded beside its destroyed key, :meth:`KeyStore.former_members`). Each
  episode of a case (issue 12) is judged by its own key: payloads of an erased earlier episode
  are 410 (to those who may learn of it) while the person's current episode reads as any case.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet
from enum import StrEnum
from typing import Protocol

from pathway.access.credentials import OPERATOR, Principal
from pathway.access.policy import Action, decide
from pathway.domain.membership import MemberRole
from pathway.privacy.codec import SERVICE_SCOPE
from pathway.privacy.keys import CaseErased, case_of, episode_number, episode_ref

__all__ = ["CaseAccess", "ErasureRecords", "Grant", "MemberRoles", "RoleCaseAccess"]


class Grant(StrEnum):
    """What one principal may decode of one case's payloads."""

    #: Every payload as it was sealed (operators).
    WHOLE = "whole"
    #: Each payload as the read matrix shows it to the principal's role; anything it cannot
    #: filter field by field, or that the role may not see, is replaced by one fixed placeholder.
    FILTERED = "filtered"
    #: Nothing: 403, the same answer for a case the principal is no member of, for one that
    #: does not exist and for one erased that it was no member of.
    NONE = "none"
    #: The case was erased and the principal may learn so (the operator, a former member): 410.
    ERASED = "erased"


class CaseAccess(Protocol):
    """Decides what a principal may decode of a case's payloads."""

    async def grant(self, principal: Principal, case_id: str) -> Grant:
        """What ``principal`` may decode of ``case_id``'s payloads (``case_id`` is the scope of
        the payloads' key: a case ID, an episode of one, ``<case>/e<N>`` (issue 12), or
        :data:`~pathway.privacy.codec.SERVICE_SCOPE`).

        Raising means the decision could not be made; the request is then refused (503), never
        answered.
        """
        ...


#: ``(episode, organisation)`` -> the roles the organisation holds in that episode of the case
#: (``episode`` is ``<case>/e<N>``, :func:`~pathway.privacy.keys.episode_ref`): now, for the
#: case's current episode; when it closed, for an earlier one (issue 12: a member of a later
#: episode is no member of an earlier one for that). Empty: not a member, or no such case or
#: episode. May raise :class:`~pathway.privacy.keys.CaseErased`.
MemberRoles = Callable[[str, str], Awaitable[AbstractSet[MemberRole]]]


class ErasureRecords(Protocol):
    """What the key store keeps of erased cases (:class:`~pathway.privacy.keys.KeyStore`
    satisfies it)."""

    def is_destroyed(self, scope: str) -> bool: ...

    def former_members(self, scope: str) -> frozenset[str]: ...


class RoleCaseAccess:
    """:class:`CaseAccess` by the policy, with the caller's roles from ``member_roles`` and the
    erased cases (and their former members) from ``erasures``.

    Membership is asked only of organisations, and only for a case that is not erased; the key
    store is asked first, so an erased case is never looked up in Temporal.
    """

    def __init__(self, member_roles: MemberRoles, erasures: ErasureRecords) -> None:
        self._member_roles = member_roles
        self._erasures = erasures

    async def grant(self, principal: Principal, case_id: str) -> Grant:
        if case_id == SERVICE_SCOPE:
            # Payloads of no case (what an operator encoded by hand): operators only.
            return Grant.WHOLE if principal.is_operator else Grant.NONE
        # A key's scope names one episode (issue 12; the bare case ID is episode 1): its own
        # key decides whether it is erased, its own membership who reads it.
        episode = episode_ref(case_of(case_id), episode_number(case_id))
        if await asyncio.to_thread(self._erasures.is_destroyed, episode):
            return await self._erased(principal, episode)
        if principal.is_operator:
            return Grant.WHOLE if decide(OPERATOR, frozenset(), Action.DECODE) else Grant.NONE
        try:
            roles = frozenset(await self._member_roles(episode, principal.role))
        except CaseErased:
            # Erased between the two questions.
            return await self._erased(principal, episode)
        return self.member_grant(principal.role, roles)

    @staticmethod
    def member_grant(role: str, roles: frozenset[MemberRole]) -> Grant:
        """The grant of an organisation holding ``roles`` in a case (none: not a member)."""
        if not decide(role, roles, Action.READ):
            return Grant.NONE
        # A payload that cannot be filtered field by field decodes whole only if the policy
        # says so (for operators only, today).
        return Grant.WHOLE if decide(role, roles, Action.DECODE) else Grant.FILTERED

    async def _erased(self, principal: Principal, case_id: str) -> Grant:
        if principal.is_operator:
            return Grant.ERASED
        former = await asyncio.to_thread(self._erasures.former_members, case_id)
        return Grant.ERASED if principal.role in former else Grant.NONE
