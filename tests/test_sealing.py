"""A case run's payloads are sealed under its own episode's key (pathway/privacy/sealing.py;
review findings 3 and 4 of issue 11, issue 12 item 1): the stamp, what the codec does with it,
and where it is ignored. The end-to-end behaviour on the dev server is in
tests/test_episodes.py ``TestEachRunSealsUnderItsEpisode``."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import WorkflowSerializationContext

from pathway.privacy.codec import META_KEY_ID, SERVICE_SCOPE, CaseCodec
from pathway.privacy.keys import CaseErased, SqliteKeyStore, UnknownKey
from pathway.privacy.sealing import (
    META_EPISODE,
    EpisodeSealingPayloadConverter,
    current_sealing_episode,
    stamped_episode,
)
from tests.test_privacy_keys import for_case, store

__all__ = ["store"]  # the fixture

CASE = "case-sealing0000000000000000"


def stamped(episode: bytes, data: bytes = b'"x"') -> Payload:
    return Payload(metadata={"encoding": b"json/plain", META_EPISODE: episode}, data=data)


def two_episodes(store: SqliteKeyStore) -> None:
    store.open_episode(CASE, after=0)
    store.open_episode(CASE, after=1)


class TestTheStamp:
    @pytest.mark.parametrize(
        ("raw", "number"),
        [(b"1", 1), (b"2", 2), (b"17", 17), (b"0", None), (b"-1", None), (b"x", None)],
    )
    def test_only_a_positive_number_is_an_episode(self, raw: bytes, number: int | None) -> None:
        assert stamped_episode(stamped(raw)) == number

    def test_unstamped(self) -> None:
        assert stamped_episode(Payload(metadata={"encoding": b"json/plain"})) is None

    def test_outside_a_workflow_nothing_is_stamped(self) -> None:
        assert current_sealing_episode() is None
        (payload,) = EpisodeSealingPayloadConverter().to_payloads([{"a": 1}])
        assert META_EPISODE not in payload.metadata


class TestTheCodec:
    async def test_a_stamped_payload_is_sealed_under_its_episode_not_the_current_one(
        self, store: SqliteKeyStore
    ) -> None:
        two_episodes(store)
        codec = for_case(store, CASE)
        first, current, unstamped = await codec.encode(
            [stamped(b"1"), stamped(b"2"), Payload(metadata={"encoding": b"json/plain"})]
        )
        assert first.metadata[META_KEY_ID] == f"{CASE}/dk1".encode()
        assert current.metadata[META_KEY_ID] == f"{CASE}/e2/dk1".encode()
        assert unstamped.metadata[META_KEY_ID] == f"{CASE}/e2/dk1".encode()

    async def test_the_stamp_is_removed_before_sealing(self, store: SqliteKeyStore) -> None:
        two_episodes(store)
        codec = for_case(store, CASE)
        original = stamped(b"1")
        (sealed,) = await codec.encode([original])
        (opened,) = await codec.decode([sealed])
        assert META_EPISODE not in opened.metadata and opened.data == b'"x"'
        assert original.metadata[META_EPISODE] == b"1"  # the caller's payload is not changed

    async def test_an_erased_episode_seals_nothing(self, store: SqliteKeyStore) -> None:
        """The first episode erased, the second open: what the first episode's run would
        answer fails instead of coming out under the second's key (finding 3)."""
        two_episodes(store)
        store.destroy(f"{CASE}/e1")
        codec = for_case(store, CASE)
        with pytest.raises(CaseErased):
            await codec.encode([stamped(b"1")])
        (current,) = await codec.encode([stamped(b"2")])
        assert current.metadata[META_KEY_ID] == f"{CASE}/e2/dk1".encode()

    async def test_an_episode_never_opened_seals_nothing(self, store: SqliteKeyStore) -> None:
        two_episodes(store)
        with pytest.raises(UnknownKey):
            await for_case(store, CASE).encode([stamped(b"3")])

    async def test_outside_a_case_the_stamp_is_ignored(self, store: SqliteKeyStore) -> None:
        service = CaseCodec(store).with_context(
            WorkflowSerializationContext(namespace="default", workflow_id=SERVICE_SCOPE)
        )
        (sealed,) = await service.encode([stamped(b"2")])
        assert sealed.metadata[META_KEY_ID] == f"{SERVICE_SCOPE}/dk1".encode()
        (opened,) = await service.decode([sealed])
        assert META_EPISODE not in opened.metadata

    async def test_what_it_opens_for_a_case_names_the_episode_that_sealed_it(
        self, store: SqliteKeyStore
    ) -> None:
        """The service's codec (refusing plain payloads) names the episode on what it opens,
        so a case run can refuse another episode's payload; a lenient one (histories read as
        data, the codec server) adds nothing."""
        two_episodes(store)
        service = CaseCodec(store, refuse_plaintext=True).with_context(
            WorkflowSerializationContext(namespace="default", workflow_id=CASE)
        )
        sealed = await service.encode([stamped(b"1"), stamped(b"2")])
        assert [stamped_episode(p) for p in await service.decode(sealed)] == [1, 2]
        assert [META_EPISODE in p.metadata for p in await service.lenient().decode(sealed)] == [
            False,
            False,
        ]
