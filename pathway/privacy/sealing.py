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

This module imports only the SDK and :mod:`pathway.domain.config` (for
:func:`~pathway.domain.config.decoding_stored`): the payload converter also runs inside the
workflow sandbox.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import (
    PydanticJSONPlainPayloadConverter,
    PydanticPayloadConverter,
)
from temporalio.converter import (
    CompositePayloadConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

from pathway.domain.config import decoding_stored

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


#: The pydantic type adapters of the whole process, one per type hint (least recently used out
#: beyond 1024, as the SDK's own cache). The SDK makes a payload converter for every workflow
#: run, inside the sandbox, and its converter keeps its cache per instance: every cached case
#: built its own adapters for ``CaseInput``, ``RecordEvent``, ``DeliveryOutcome`` and ``Any``,
#: validators and serializers included, costing memory and CPU per case (issue 14). Shared
#: here: this module is passed through the sandbox (``pathway.workers.workflow_runner``).
_TYPE_ADAPTERS: functools._lru_cache_wrapper[TypeAdapter[Any]] = functools.lru_cache(maxsize=1024)(
    TypeAdapter
)


class _SharedAdaptersJSONConverter(PydanticJSONPlainPayloadConverter):
    """The SDK's pydantic JSON converter, its type adapters taken from :data:`_TYPE_ADAPTERS`."""

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        hint: Any = Any if type_hint is None else type_hint
        try:
            adapter = _TYPE_ADAPTERS(hint)
        except TypeError:
            try:
                hash(hint)
            except TypeError:  # an unhashable hint: not cached
                adapter = TypeAdapter(hint)
            else:
                raise
        return adapter.validate_json(payload.data)


class EpisodeSealingPayloadConverter(PydanticPayloadConverter):
    """The SDK's pydantic payload converter, stamping each payload converted inside a workflow
    with the episode it belongs to (:func:`current_sealing_episode`), and refusing inside a
    case run a payload that the codec found sealed under another episode's key (raises
    :class:`SealedForAnotherEpisode`). Its JSON converter shares the process's type adapters
    (:data:`_TYPE_ADAPTERS`)."""

    def __init__(self) -> None:
        # As PydanticPayloadConverter, with the JSON converter whose adapters are shared.
        json_converter = _SharedAdaptersJSONConverter()
        CompositePayloadConverter.__init__(
            self,
            *(
                json_converter if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            ),
        )

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
        # A configuration a running case holds is taken as it is (gap 11's refusals are for
        # building one: pathway.domain.config.decoding_stored).
        with decoding_stored():
            return super().from_payloads(payloads, type_hints)
