"""Who may read a case's payloads whole through the codec server (docs/rules.md "Access", R6;
docs/privacy.md).

The codec server asks the one access policy (:func:`pathway.access.policy.decide`) with
``Action.DECODE`` and no field: a whole payload cannot be filtered field by field, and the
policy decodes such payloads for operators only. So every organisation is refused, member of
the case or not: refusing rather than over-sharing (issue 11). Only if the policy ever let every
role a member can hold decode whole payloads would membership be asked, through ``members``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet
from typing import Protocol

from pathway.access.credentials import OPERATOR, Principal
from pathway.access.policy import Action, decide
from pathway.domain.membership import MemberRole
from pathway.domain.organisations import Organisation
from pathway.privacy.codec import SERVICE_SCOPE

__all__ = ["CaseAccess", "Involved", "Members", "RoleCaseAccess"]


class CaseAccess(Protocol):
    """Decides whether a principal may read a case's payloads whole."""

    async def can_decode(self, principal: Principal, case_id: str) -> bool:
        """True if ``principal`` may see ``case_id``'s decoded payloads.

        Return False for a case it does not know. Raising means the decision could not be made;
        the request is then refused (503), never answered. :class:`CaseErased` may propagate.
        """
        ...


#: The organisations holding a role in a case now (an empty set for a case it does not know).
Members = Callable[[str], Awaitable[AbstractSet[Organisation]]]
#: The former name of :data:`Members`.
Involved = Members


def _members_may(role: str) -> bool:
    """Whether the policy lets ``role`` decode whole payloads whatever its role in the case:
    only then does membership alone (without the roles) decide."""
    return all(decide(role, {r}, Action.DECODE, None) for r in MemberRole)


class RoleCaseAccess:
    """Access by the policy: operators decode every case's payloads; an organisation only what
    :func:`~pathway.access.policy.decide` grants for a whole payload (nothing, today), and then
    only in the cases ``members`` names it in."""

    def __init__(self, members: Members) -> None:
        self._members = members

    async def can_decode(self, principal: Principal, case_id: str) -> bool:
        if principal.is_operator:
            return decide(OPERATOR, frozenset(), Action.DECODE, None)
        # Service-scope payloads belong to no case (e.g. what an operator encoded by hand).
        if case_id == SERVICE_SCOPE or not _members_may(principal.role):
            return False
        return principal.organisation in await self._members(case_id)
