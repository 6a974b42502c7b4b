"""A case run's payloads are sealed under its own episode's key (pathway/privacy/sealing.py;
review findings 3 and 4 of issue 11, issue 12 item 1): the stamp, what the codec does with it,
and where it is ignored. The end-to-end behaviour on the dev server is in
tests/test_episodes.py ``TestEachRunSealsUnderItsEpisode``."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import WorkflowSerializationContext

from pathway.privacy.codec import (
    CIPHER,
    ENCODING,
    META_CIPHER,
    META_KEY_ID,
    REFUSED_PLAINTEXT,
    SERVICE_SCOPE,
    CaseCodec,
)
from pathway.privacy.keys import CaseErased, SqliteKeyStore, TamperedPayload, UnknownKey
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


def forged(key_id: bytes, data: bytes = b"\x00" * 60) -> Payload:
    """What anyone reaching Temporal can send: the metadata of a sealed payload, any bytes."""
    return Payload(
        metadata={"encoding": ENCODING, META_KEY_ID: key_id, META_CIPHER: CIPHER}, data=data
    )


class TestForgeries:
    """Review of issue 11: a payload nobody sealed for the case, reaching its worker, is refused
    as a plain one is (a signal carrying it is dropped, an update rejected), never an error
    that fails every workflow task of the case."""

    def service(self, store: SqliteKeyStore) -> CaseCodec:
        return CaseCodec(store, refuse_plaintext=True).with_context(
            WorkflowSerializationContext(namespace="default", workflow_id=CASE)
        )

    @pytest.mark.parametrize(
        "key_id",
        [
            f"{CASE}/dk1".encode(),  # a real key, bytes that do not authenticate
            f"{CASE}/e7/dk1".encode(),  # an episode never opened
            f"{CASE}/e²/dk1".encode(),  # not ASCII digits
            (f"{CASE}/e" + "9" * 5000 + "/dk1").encode(),  # beyond int()'s limit
            b"\xff\xfe",  # not UTF-8
        ],
    )
    async def test_a_forged_payload_is_refused_not_raised(
        self, store: SqliteKeyStore, key_id: bytes
    ) -> None:
        two_episodes(store)
        (refused,) = await self.service(store).decode([forged(key_id)])
        assert refused.metadata["encoding"] == REFUSED_PLAINTEXT and not refused.data

    async def test_an_erased_earlier_episodes_payload_is_refused(
        self, store: SqliteKeyStore
    ) -> None:
        two_episodes(store)
        (old,) = await self.service(store).encode([stamped(b"1")])
        store.destroy(f"{CASE}/e1")
        (refused,) = await self.service(store).decode([old])
        assert refused.metadata["encoding"] == REFUSED_PLAINTEXT

    async def test_an_erased_case_is_still_an_error(self, store: SqliteKeyStore) -> None:
        """Its run is stopped; a replay or a query of it must say it was erased."""
        two_episodes(store)
        (current,) = await self.service(store).encode([stamped(b"2")])
        store.destroy(CASE)
        with pytest.raises(CaseErased):
            await self.service(store).decode([current])

    async def test_histories_read_as_data_still_name_the_error(self, store: SqliteKeyStore) -> None:
        two_episodes(store)
        with pytest.raises(TamperedPayload):
            await self.service(store).lenient().decode([forged(f"{CASE}/dk1".encode())])
