"""Who may read a case's payloads whole through the codec server (docs/rules.md "Access", R6)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet
from typing import Final, Protocol

from pathway.access.credentials import Principal
from pathway.domain.organisations import Organisation
from pathway.privacy.codec import SERVICE_SCOPE

__all__ = ["NEVER_DECODE", "CaseAccess", "Involved", "RoleCaseAccess"]


class CaseAccess(Protocol):
    """Decides whether a principal may read a case's payloads whole."""

    async def can_decode(self, principal: Principal, case_id: str) -> bool:
        """True if ``principal`` may see ``case_id``'s decoded payloads.

        Return False for a case it does not know. Raising means the decision could not be made;
        the request is then refused (503), never answered. :class:`CaseErased` may propagate.
        """
        ...


#: The organisations involved in a case (an empty set for a case it does not know).
Involved = Callable[[str], Awaitable[AbstractSet[Organisation]]]

#: Roles that never see whole payloads: analysts see aggregates only, and police may not read
#: health or psychological details (docs/rules.md "Access"), which whole payloads contain.
NEVER_DECODE: Final = frozenset({Organisation.ANALYST, Organisation.POLICE})


class RoleCaseAccess:
    """Access by role: operators read every case; analysts and police none; every other
    organisation only the cases it is involved in, as ``involved`` reports."""

    def __init__(self, involved: Involved) -> None:
        self._involved = involved

    async def can_decode(self, principal: Principal, case_id: str) -> bool:
        if principal.is_operator:
            return True
        if principal.organisation in NEVER_DECODE:
            return False
        # Service-scope payloads belong to no case (e.g. what an operator encoded by hand).
        if case_id == SERVICE_SCOPE:
            return False
        return principal.organisation in await self._involved(case_id)
