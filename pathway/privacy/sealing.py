"""Which episode's key a workflow's payloads are sealed under (issues 11 and 12).

The codec learns only the workflow ID of a payload (Temporal's serialization context), never the
run. A case ID can have runs in several episodes, each with its own data key, and a worker
answers a query on any of them, closed ones included. Sealing every payload under the case's
*current* episode's key would let the members of a later episode read an earlier one through a
query on its closed run, and keep an erased run readable from a worker's cache (review findings
3 and 4 of issue 11).

So the workflow says which episode it is: a case run knows its episode from its start input
(``CaseInput.episode``, set by the client that opened the episode and carried over
continue-as-new) and offers it as ``sealing_episode``. :class:`EpisodeSealingPayloadConverter`,
the payload converter of every worker and client (:func:`pathway.temporal_connection.
data_converter`), stamps each payload converted inside such a workflow with
:data:`META_EPISODE`; the codec (:class:`pathway.privacy.codec.CaseCodec`) seals it under that
episode's key, removes the stamp first, and fails when that key was destroyed (an erased episode
answers nothing). Outside a workflow, or in a run recorded before episodes were named
(``sealing_episode`` None), nothing is stamped and the case's current episode's key is used, as
before.

The other way round, the codec stamps each payload it opens for a case with the episode whose
key sealed it, and the converter refuses, inside a case run, a payload of another episode: an
update copied from an earlier episode's history and handed to a later episode's run (with the
``temporal`` CLI, say) is rejected and records nothing, as one copied from another case is.

This module imports only the SDK: the payload converter also runs inside the workflow sandbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter

#: Metadata key of the episode stamp: an ASCII decimal episode number (1, 2, ...). It never
#: leaves the worker: the codec removes it before sealing.
META_EPISODE = "pathway-episode"


def current_sealing_episode() -> int | None:
    """The episode the current workflow's payloads belong to: the workflow instance's
    ``sealing_episode`` (an int from 1), or None outside a workflow or when it does not say."""
    if not workflow.in_workflow():
        return None
    episode: Any = getattr(workflow.instance(), "sealing_episode", None)
    if isinstance(episode, int) and not isinstance(episode, bool) and episode >= 1:
        return episode
    return None


def stamped_episode(payload: Payload) -> int | None:
    """The episode stamped on ``payload`` (None if unstamped or not a positive number)."""
    raw = payload.metadata.get(META_EPISODE)
    if raw is None or not raw.isdigit():
        return None
    number = int(raw)
    return number if number >= 1 else None


class SealedForAnotherEpisode(ValueError):
    """A case run was handed a payload sealed under another episode's key: a copy taken from
    an earlier episode's history (review of issue 11). Raised while converting it, so the SDK
    rejects the update it is the argument of (nothing is recorded) and drops such a signal."""

    def __init__(self, sealed: int, episode: int) -> None:
        super().__init__(f"payload sealed for episode {sealed} refused by episode {episode}")
        self.sealed = sealed
        self.episode = episode


class EpisodeSealingPayloadConverter(PydanticPayloadConverter):
    """The SDK's pydantic payload converter, stamping each payload converted inside a workflow
    with the episode it belongs to (:func:`current_sealing_episode`), and refusing inside a
    case run a payload that the codec found sealed under another episode's key (raises
    :class:`SealedForAnotherEpisode`)."""

    def to_payloads(self, values: Sequence[Any]) -> list[Payload]:
        payloads = super().to_payloads(values)
        episode = current_sealing_episode()
        if episode is not None:
            stamp = str(episode).encode()
            for payload in payloads:
                payload.metadata[META_EPISODE] = stamp
        return payloads

    def from_payloads(
        self, payloads: Sequence[Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        episode = current_sealing_episode()
        if episode is not None:
            for payload in payloads:
                sealed = stamped_episode(payload)
                if sealed is not None and sealed != episode:
                    raise SealedForAnotherEpisode(sealed, episode)
        return super().from_payloads(payloads, type_hints)
