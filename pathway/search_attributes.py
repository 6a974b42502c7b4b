"""The project's search attributes: non-identifying categories only (never personal data)."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

#: The case's assistance phase (``pathway.domain.state.Phase`` value).
PHASE = SearchAttributeKey.for_keyword("PathwayPhase")

ALL = (PHASE,)
