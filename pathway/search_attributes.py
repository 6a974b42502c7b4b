"""The project's search attributes: non-identifying categories only (never personal data)."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

#: The case's assistance phase (``pathway.domain.state.Phase`` value).
PHASE = SearchAttributeKey.for_keyword("PathwayPhase")

#: Organisations that own an open obligation in the case (role names, never people): lets an
#: organisation find the cases where it must act without opening any other.
OBLIGATION_OWNERS = SearchAttributeKey.for_keyword_list("PathwayObligationOwners")

ALL = (PHASE, OBLIGATION_OWNERS)
