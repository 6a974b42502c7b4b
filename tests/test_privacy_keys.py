"""Envelope encryption: the codec and the key store, against a real SQLite key store."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext

from pathway.privacy import keys as keys_module
from pathway.privacy.codec import (
    ENCODING,
    META_KEY_ID,
    REFUSED_PLAINTEXT,
    SERVICE_SCOPE,
    CaseCodec,
)
from pathway.privacy.key_hold import DEFAULT_KEY_HOLD_SECONDS, KeyHoldOutOfRange
from pathway.privacy.keys import (
    CaseErased,
    MasterKeyRing,
    SqliteKeyStore,
    TamperedPayload,
    UnknownKey,
    create_master_key,
)
from pathway.privacy.sealing import META_EPISODE

SECRET = b'{"person": {"birth_date": "1994-02-11"}, "canary": "CANARY-7f3a"}'


def plain(data: bytes = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def ring(directory: Path) -> MasterKeyRing:
    return MasterKeyRing({p.stem: bytes.fromhex(p.read_text()) for p in directory.glob("*.key")})


@pytest.fixture
def store(tmp_path: Path) -> SqliteKeyStore:
    create_master_key(tmp_path / "mk")
    return SqliteKeyStore(tmp_path / "keys.db", ring(tmp_path / "mk"))


def for_case(store: SqliteKeyStore, case_id: str) -> CaseCodec:
    return CaseCodec(store).with_context(
        WorkflowSerializationContext(namespace="default", workflow_id=case_id)
    )


class TestCodec:
    async def test_payload_is_sealed_under_the_case_key(self, store: SqliteKeyStore) -> None:
        """A workflow's payload is encrypted under its case's key; the key ID is in the
        metadata and no plaintext is left."""
        (sealed,) = await for_case(store, "case-a").encode([plain()])
        assert sealed.metadata["encoding"] == ENCODING
        assert sealed.metadata[META_KEY_ID] == b"case-a/dk1"
        assert b"CANARY" not in sealed.SerializeToString()
        (opened,) = await CaseCodec(store).decode([sealed])
        assert opened == plain()

    async def test_activity_payloads_use_their_workflow_key(self, store: SqliteKeyStore) -> None:
        """An activity started by a case's workflow seals under that case's key."""
        codec = CaseCodec(store).with_context(
            ActivitySerializationContext(
                namespace="default",
                activity_id="1",
                activity_type="notify",
                activity_task_queue="q",
                workflow_id="case-b",
                workflow_type="VictimCaseWorkflow",
                is_local=False,
            )
        )
        (sealed,) = await codec.encode([plain()])
        assert sealed.metadata[META_KEY_ID] == b"case-b/dk1"

    async def test_payload_without_workflow_uses_the_service_key(
        self, store: SqliteKeyStore
    ) -> None:
        """Without a workflow context the service's own key is used, never a case's."""
        (sealed,) = await CaseCodec(store).encode([plain()])
        assert sealed.metadata[META_KEY_ID] == f"{SERVICE_SCOPE}/dk1".encode()

    async def test_nonces_never_repeat(self, store: SqliteKeyStore) -> None:
        """Sealing the same payload many times never reuses a nonce."""
        sealed = await for_case(store, "case-a").encode([plain()] * 2000)
        nonces = {p.data[:12] for p in sealed}
        assert len(nonces) == 2000

    async def test_tampered_ciphertext_fails_closed(self, store: SqliteKeyStore) -> None:
        """One flipped bit makes decoding fail with TamperedPayload."""
        (sealed,) = await for_case(store, "case-a").encode([plain()])
        data = bytearray(sealed.data)
        data[20] ^= 1
        sealed.data = bytes(data)
        with pytest.raises(TamperedPayload, match="failed authentication"):
            await CaseCodec(store).decode([sealed])

    async def test_wrong_key_id_fails_closed(self, store: SqliteKeyStore) -> None:
        """A ciphertext relabelled with another case's key ID does not decrypt."""
        (sealed,) = await for_case(store, "case-a").encode([plain()])
        await for_case(store, "case-b").encode([plain()])
        sealed.metadata[META_KEY_ID] = b"case-b/dk1"
        with pytest.raises(TamperedPayload):
            await CaseCodec(store).decode([sealed])

    async def test_unknown_or_missing_key_id_fails_closed(self, store: SqliteKeyStore) -> None:
        """A key ID that does not exist, or none at all, is an error, never a pass-through."""
        (sealed,) = await for_case(store, "case-a").encode([plain()])
        sealed.metadata[META_KEY_ID] = b"case-zzz/dk1"
        with pytest.raises(UnknownKey):
            await CaseCodec(store).decode([sealed])
        del sealed.metadata[META_KEY_ID]
        with pytest.raises(TamperedPayload, match="key ID"):
            await CaseCodec(store).decode([sealed])

    async def test_unencrypted_payloads_pass_through_a_lenient_codec(
        self, store: SqliteKeyStore
    ) -> None:
        """Payloads the codec never sealed (the server's own, in a history read as data) are
        returned as they are by the codec server's and the history reader's codec."""
        assert await CaseCodec(store).decode([plain(b"null")]) == [plain(b"null")]
        strict = CaseCodec(store, refuse_plaintext=True)
        assert await strict.lenient().decode([plain(b"null")]) == [plain(b"null")]

    async def test_the_service_refuses_unencrypted_payloads(self, store: SqliteKeyStore) -> None:
        """Issue 11: the service's workers and clients do not believe a payload nobody sealed:
        it decodes to an encoding no converter knows, in every context, and sealed payloads
        still decode."""
        strict = CaseCodec(store, refuse_plaintext=True)
        in_a_case = strict.with_context(
            WorkflowSerializationContext(namespace="default", workflow_id="case-a")
        )
        assert isinstance(in_a_case, CaseCodec) and in_a_case.refuse_plaintext
        (sealed,) = await in_a_case.encode([plain()])
        refused, opened = await in_a_case.decode([plain(b'{"event": {}}'), sealed])
        assert refused.metadata["encoding"] == REFUSED_PLAINTEXT and not refused.data
        # Opened, it names the episode that sealed it (pathway/privacy/sealing.py).
        assert opened.metadata.pop(META_EPISODE) == b"1"
        assert opened == plain()
        with pytest.raises(KeyError, match="pathway-refused-plaintext"):
            pydantic_data_converter.payload_converter.from_payloads([refused])


class TestErasure:
    async def test_erased_case_cannot_be_decoded_or_rekeyed(self, store: SqliteKeyStore) -> None:
        """After destroy, decoding and encoding for that case fail with CaseErased; other
        cases are untouched."""
        (a,) = await for_case(store, "case-a").encode([plain()])
        (b,) = await for_case(store, "case-b").encode([plain()])
        assert store.destroy("case-a") is True
        assert store.destroy("case-a") is False
        with pytest.raises(CaseErased, match="case-a was erased"):
            await CaseCodec(store).decode([a])
        with pytest.raises(CaseErased):
            await for_case(store, "case-a").encode([plain()])
        assert await CaseCodec(store).decode([b]) == [plain()]

    async def test_erasure_is_seen_by_every_process(
        self, tmp_path: Path, store: SqliteKeyStore
    ) -> None:
        """Another store on the same file (another process) cannot decode after erasure."""
        (a,) = await for_case(store, "case-a").encode([plain()])
        other = SqliteKeyStore(tmp_path / "keys.db", ring(tmp_path / "mk"))
        assert await CaseCodec(other).decode([a]) == [plain()]
        store.destroy("case-a")
        with pytest.raises(CaseErased):
            await CaseCodec(other).decode([a])

    def test_destroyed_key_bytes_leave_the_file(
        self, tmp_path: Path, store: SqliteKeyStore
    ) -> None:
        """The wrapped key's bytes are gone from the database file and its WAL at once."""
        store.data_key("case-a")
        conn = store._conn()  # test peeks at storage on purpose
        (wrapped,) = conn.execute("SELECT wrapped FROM data_keys WHERE scope='case-a'").fetchone()
        store.destroy("case-a")
        raw = (tmp_path / "keys.db").read_bytes()
        wal = tmp_path / "keys.db-wal"
        raw += wal.read_bytes() if wal.exists() else b""
        assert wrapped[16:48] not in raw


class TestRotation:
    async def test_rotation_keeps_old_keys_readable_and_rewrap_moves_them(
        self, tmp_path: Path, store: SqliteKeyStore
    ) -> None:
        """New wraps use the newest master key, old wraps still open, and rewrap_all moves
        every data key so the old master key can be retired."""
        (before,) = await for_case(store, "case-old").encode([plain()])
        old_id = store.ring.newest_id
        new_id = create_master_key(tmp_path / "mk")
        rotated = SqliteKeyStore(tmp_path / "keys.db", ring(tmp_path / "mk"))
        assert rotated.ring.newest_id == new_id != old_id
        (after,) = await for_case(rotated, "case-new").encode([plain()])
        assert rotated.master_key_use() == {old_id: 1, new_id: 1}
        assert await CaseCodec(rotated).decode([before, after]) == [plain(), plain()]
        assert rotated.rewrap_all() == 1
        assert rotated.master_key_use() == {new_id: 2}
        (tmp_path / "mk" / f"{old_id}.key").unlink()
        only_new = SqliteKeyStore(tmp_path / "keys.db", ring(tmp_path / "mk"))
        assert await CaseCodec(only_new).decode([before, after]) == [plain(), plain()]

    def test_missing_master_key_is_a_clear_error(
        self, tmp_path: Path, store: SqliteKeyStore
    ) -> None:
        """A data key wrapped by a master key that is not configured names that key."""
        store.data_key("case-a")
        create_master_key(tmp_path / "other")
        stranger = SqliteKeyStore(tmp_path / "keys.db", ring(tmp_path / "other"))
        with pytest.raises(UnknownKey, match="master key mk-"):
            stranger.data_key("case-a")

    def test_master_keys_from_environment(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """PATHWAY_MASTER_KEYS supplies master keys from a secret store instead of files."""
        monkeypatch.setenv("PATHWAY_MASTER_KEYS", "mk-1:" + "11" * 32 + ",mk-2:" + "22" * 32)
        loaded = MasterKeyRing.from_env_or_dir(tmp_path / "unused")
        assert loaded.ids == ["mk-1", "mk-2"] and loaded.newest_id == "mk-2"
        assert not (tmp_path / "unused").exists()


class TestEpisodes:
    """Issue 12: a case (one person) has episodes, each with its own key, closure and erasure;
    payloads are sealed under the current episode's key and decode by the key they name."""

    async def test_a_new_episode_seals_under_its_own_key_and_old_ones_still_decode(
        self, store: SqliteKeyStore
    ) -> None:
        (first,) = await for_case(store, "case-p").encode([plain(b"one")])
        assert first.metadata[META_KEY_ID] == b"case-p/dk1"  # episode 1 as before episodes
        store.open_episode("case-p", after=1)
        (second,) = await for_case(store, "case-p").encode([plain(b"two")])
        assert second.metadata[META_KEY_ID] == b"case-p/e2/dk1"
        assert await CaseCodec(store).decode([first, second]) == [plain(b"one"), plain(b"two")]
        assert [(e.number, e.scope, e.erased) for e in store.episodes("case-p")] == [
            (1, "case-p", False),
            (2, "case-p/e2", False),
        ]

    def test_opening_is_compare_and_set(self, store: SqliteKeyStore) -> None:
        """Two identifications that both found episode 1 closed open one episode 2 between
        them; the closure found is recorded on episode 1."""
        store.data_key("case-q")
        a = store.open_episode("case-q", after=1, closed_run="run-1")
        b = store.open_episode("case-q", after=1, closed_run="run-x")
        assert a == b and a.number == 2
        first, _ = store.episodes("case-q")
        assert first.closed_run == "run-1" and first.closed_at is not None
        assert store.open_episode("case-r", after=0).number == 1

    async def test_each_episode_is_erased_on_its_own(self, store: SqliteKeyStore) -> None:
        """Destroying episode 1 (by its address) leaves episode 2 readable and the case not
        erased; a bare case ID names the current episode."""
        (old,) = await for_case(store, "case-s").encode([plain(b"old")])
        store.open_episode("case-s", after=1)
        (new,) = await for_case(store, "case-s").encode([plain(b"new")])
        assert store.destroy("case-s/e1", former_members=["police"])
        with pytest.raises(CaseErased, match="case case-s was erased"):
            await CaseCodec(store).decode([old])
        assert await CaseCodec(store).decode([new]) == [plain(b"new")]
        assert not store.is_destroyed("case-s") and store.is_destroyed("case-s/e1")
        assert store.former_members("case-s/e1") == {"police"}
        assert store.former_members("case-s/e2") == frozenset()
        assert store.destroy("case-s", former_members=["caritas"])  # the current: episode 2
        assert store.is_destroyed("case-s")
        with pytest.raises(CaseErased, match=r"case case-s \(episode 2\) was erased"):
            await CaseCodec(store).decode([new])
        assert store.former_members("case-s") == {"police", "caritas"}

    async def test_an_erased_case_is_never_rekeyed_but_a_new_episode_is(
        self, store: SqliteKeyStore
    ) -> None:
        """After erasure nothing is sealed under the case (R1 comes back only through an
        accepted identification, which opens the next episode with a new key)."""
        await for_case(store, "case-t").encode([plain()])
        store.destroy("case-t")
        with pytest.raises(CaseErased):
            await for_case(store, "case-t").encode([plain()])
        store.open_episode("case-t", after=1)
        (sealed,) = await for_case(store, "case-t").encode([plain()])
        assert sealed.metadata[META_KEY_ID] == b"case-t/e2/dk1"

    def test_episodes_closed_before(self, store: SqliteKeyStore) -> None:
        from datetime import UTC, datetime, timedelta

        store.data_key("case-u")
        closed = datetime.now(UTC) - timedelta(days=10)
        store.open_episode("case-u", after=1, closed_at=closed, closed_run="r1")
        found = store.episodes_closed_before(datetime.now(UTC) - timedelta(days=5))
        assert [(e.case_id, e.number, e.closed_at) for e in found] == [("case-u", 1, closed)]
        assert store.episodes_closed_before(closed) == []
        store.destroy("case-u/e1")
        assert store.episodes_closed_before(datetime.now(UTC)) == []

    def test_a_key_store_from_before_episodes_opens(self, tmp_path: Path) -> None:
        """A key store made before issue 11 and 12 gains the columns; its keys are episode 1."""
        import sqlite3

        create_master_key(tmp_path / "mk")
        keys = ring(tmp_path / "mk")
        path = tmp_path / "old.db"
        old = SqliteKeyStore(path, keys)
        old.data_key("case-v")
        with sqlite3.connect(path) as db:
            db.execute("ALTER TABLE data_keys DROP COLUMN closed_at")
            db.execute("ALTER TABLE data_keys DROP COLUMN closed_run")
            db.execute("ALTER TABLE data_keys DROP COLUMN former_members")
        reopened = SqliteKeyStore(path, keys)
        assert [e.number for e in reopened.episodes("case-v")] == [1]
        assert reopened.open_episode("case-v", after=1).number == 2


class TestHeldKeys:
    """Issue 14: a thread holds the keys it unwrapped (no store round trip per payload) and
    drops them when the store changes in any process, so erasure stays immediate."""

    def test_a_held_key_is_read_once(
        self, store: SqliteKeyStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        key = store.data_key("case-held")
        reads: list[str] = []
        real = store._read

        def counted(column: str, value: str) -> object:
            reads.append(value)
            return real(column, value)

        monkeypatch.setattr(store, "_read", counted)
        assert store.data_key_by_id(key.key_id) == key
        assert store.data_key_by_id(key.key_id) == key
        assert store.current_key("case-held") == key
        assert store.current_key("case-held") == key
        assert reads == [key.key_id, "case-held"]

    def test_erased_by_another_process_is_refused_at_the_next_use(
        self, store: SqliteKeyStore, tmp_path: Path
    ) -> None:
        key = store.data_key("case-other-proc")
        assert store.data_key_by_id(key.key_id) == key  # held now
        assert store.current_key("case-other-proc") == key
        other = SqliteKeyStore(tmp_path / "keys.db", ring(tmp_path / "mk"))
        assert other.destroy("case-other-proc")
        with pytest.raises(CaseErased):
            store.data_key_by_id(key.key_id)
        with pytest.raises(CaseErased):
            store.current_key("case-other-proc")

    def test_erased_in_this_process_is_refused_at_the_next_use(self, store: SqliteKeyStore) -> None:
        key = store.data_key("case-same-proc")
        assert store.data_key_by_id(key.key_id) == key
        assert store.destroy("case-same-proc")
        with pytest.raises(CaseErased):
            store.data_key_by_id(key.key_id)

    def test_a_new_episode_opened_elsewhere_is_the_current_key(
        self, store: SqliteKeyStore, tmp_path: Path
    ) -> None:
        first = store.data_key("case-next")
        assert store.current_key("case-next") == first
        other = SqliteKeyStore(tmp_path / "keys.db", ring(tmp_path / "mk"))
        other.open_episode("case-next", after=1)
        current = store.current_key("case-next")
        assert current is not None and current.key_id == "case-next/e2/dk1"

    def test_no_key_yet_is_none_and_makes_nothing(self, store: SqliteKeyStore) -> None:
        assert store.current_key("case-none-yet") is None
        assert store.episodes("case-none-yet") == []

    def test_held_keys_are_bounded(
        self, store: SqliteKeyStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(keys_module, "KEY_CACHE_SIZE", 2)
        made = [store.data_key(f"case-bound-{i}") for i in range(3)]
        for key in made:
            store.data_key_by_id(key.key_id)
        held = store._cache().by_id
        assert list(held) == [made[1].key_id, made[2].key_id]

    def test_episodes_of_a_case_are_not_those_of_a_longer_id(self, store: SqliteKeyStore) -> None:
        store.open_episode("case-a", after=0)
        store.open_episode("case-a", after=1)
        store.open_episode("case-ab", after=0)
        store.open_episode("case-a-e", after=0)
        assert [e.number for e in store.episodes("case-a")] == [1, 2]
        assert [e.number for e in store.episodes("case-ab")] == [1]


#: Run in another process: destroy one case's key in the key store at argv[1] (master keys in
#: the directory argv[2]), as ``pathway case erase`` does from its own process.
_ERASE_ELSEWHERE = """
import sys
from pathlib import Path
from pathway.privacy.keys import MasterKeyRing, SqliteKeyStore
keys = {p.stem: bytes.fromhex(p.read_text()) for p in Path(sys.argv[2]).glob("*.key")}
assert SqliteKeyStore(Path(sys.argv[1]), MasterKeyRing(keys)).destroy(sys.argv[3])
"""


class TestHeldKeysAcrossProcessesAndThreads:
    """Issue 14 review: the keys a process holds are refused once the key is destroyed by a
    real other process (SQLite's ``data_version`` across processes, not just another
    connection of this one), and by another thread of this one."""

    async def test_a_key_held_by_the_codec_is_refused_after_another_process_erased_it(
        self, tmp_path: Path, store: SqliteKeyStore
    ) -> None:
        (sealed,) = await for_case(store, "case-xproc").encode([plain()])
        assert await CaseCodec(store).decode([sealed]) == [plain()]  # the key is held now
        done = await asyncio.to_thread(
            subprocess.run,  # this interpreter, a fixed script
            [
                sys.executable,
                "-c",
                _ERASE_ELSEWHERE,
                str(tmp_path / "keys.db"),
                str(tmp_path / "mk"),
                "case-xproc",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        with pytest.raises(CaseErased):
            await CaseCodec(store).decode([sealed])
        with pytest.raises(CaseErased):
            await for_case(store, "case-xproc").encode([plain()])

    def test_a_key_held_by_one_thread_is_refused_after_another_thread_erased_it(
        self, store: SqliteKeyStore
    ) -> None:
        key = store.data_key("case-xthread")
        assert store.data_key_by_id(key.key_id) == key  # held by this thread now
        with ThreadPoolExecutor(max_workers=1) as pool:
            assert pool.submit(store.destroy, "case-xthread").result(timeout=60)
        with pytest.raises(CaseErased):
            store.data_key_by_id(key.key_id)
        with pytest.raises(CaseErased):
            store.current_key("case-xthread")


def held_anywhere(store: SqliteKeyStore, key_id: str) -> bool:
    """Whether any thread of this process holds the unwrapped key ``key_id`` in ``store``."""
    return any(key_id in cache.by_id for cache in list(store._held.caches))


def eventually(done: Callable[[], bool], within: float = 30.0) -> bool:
    """Poll ``done`` until it holds or ``within`` seconds passed (generous: a loaded machine)."""
    deadline = time.monotonic() + within
    pause = threading.Event()
    while not done():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.01)
    return True


@contextmanager
def idle_thread_holding(store: SqliteKeyStore, key_id: str) -> Iterator[threading.Thread]:
    """A thread that reads ``key_id`` (so holds it: checked in the thread, just after) and then
    never uses the store again, until the block ends (it is joined)."""
    read, release = threading.Event(), threading.Event()
    held: list[bool] = []

    def hold() -> None:
        store.data_key_by_id(key_id)
        held.append(key_id in store._local.cache.by_id)
        read.set()
        release.wait(120)

    thread = threading.Thread(target=hold, name="idle-key-holder", daemon=True)
    thread.start()
    try:
        assert read.wait(60)
        assert held == [True]
        yield thread
    finally:
        release.set()
        thread.join(60)
        assert not thread.is_alive()


class _Clock:
    """A monotonic clock a test moves forward (the store's ``clock``)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


class TestHeldKeysAreBounded:
    """Issue 14 review: a held key leaves memory after PATHWAY_DATA_KEY_HOLD_SECONDS at the
    latest, even if the thread holding it never uses the store again, and at once in every
    thread of a process that erases it."""

    def test_an_idle_thread_drops_its_key_after_the_hold(
        self, tmp_path: Path, store: SqliteKeyStore
    ) -> None:
        key = store.data_key("case-idle")
        brief = SqliteKeyStore(tmp_path / "keys.db", ring(tmp_path / "mk"), hold=1.0)
        with idle_thread_holding(brief, key.key_id) as thread:  # held for one second
            assert eventually(lambda: not held_anywhere(brief, key.key_id))
            assert thread.is_alive()  # dropped by the sweeper, not by the thread's next use
        # Read again when needed, and held again.
        assert brief.data_key_by_id(key.key_id) == key
        assert held_anywhere(brief, key.key_id)

    def test_a_key_erased_in_another_process_is_not_held_past_the_hold(
        self, tmp_path: Path, store: SqliteKeyStore
    ) -> None:
        clock = _Clock()
        held = SqliteKeyStore(tmp_path / "keys.db", ring(tmp_path / "mk"), hold=60, clock=clock)
        key = store.data_key("case-idle-xproc")
        read_at = clock()
        with idle_thread_holding(held, key.key_id):
            done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
                [
                    sys.executable,
                    "-c",
                    _ERASE_ELSEWHERE,
                    str(tmp_path / "keys.db"),
                    str(tmp_path / "mk"),
                    "case-idle-xproc",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            # Nothing in this process used the store since: the idle thread still holds it,
            # until its 60 seconds are up.
            (deadline,) = [
                c.expires[key.key_id] for c in list(held._held.caches) if key.key_id in c.by_id
            ]
            assert read_at <= deadline - 60 <= clock()
            clock.offset += 60  # the hold is over

            def woken_and_dropped() -> bool:
                # Wake the sleeping sweeper (its real timeout is 60 s away): as if the time
                # had passed.
                with held._held.wake:
                    held._held.wake.notify_all()
                return not held_anywhere(held, key.key_id)

            assert eventually(woken_and_dropped)

    def test_erasing_here_drops_the_key_from_every_thread_at_once(
        self, tmp_path: Path, store: SqliteKeyStore
    ) -> None:
        key = store.data_key("case-erased-here")
        twin = SqliteKeyStore(tmp_path / "keys.db", ring(tmp_path / "mk"))
        with (
            idle_thread_holding(store, key.key_id),
            idle_thread_holding(store, key.key_id),
            idle_thread_holding(twin, key.key_id),
        ):
            assert store.data_key_by_id(key.key_id) == key  # this thread holds it too
            assert sum(key.key_id in c.by_id for c in list(store._held.caches)) == 3
            assert held_anywhere(twin, key.key_id)
            assert store.destroy("case-erased-here")
            # At once: no thread used the store since, and nobody waited for a sweep.
            assert not held_anywhere(store, key.key_id)
            assert not held_anywhere(twin, key.key_id)

    def test_a_key_destroyed_elsewhere_is_dropped_here_by_a_second_destroy(
        self, tmp_path: Path, store: SqliteKeyStore
    ) -> None:
        key = store.data_key("case-twice")
        other = SqliteKeyStore(tmp_path / "other.db", ring(tmp_path / "mk"))
        assert other.data_key("case-twice") != key  # another file: not this key
        with idle_thread_holding(store, key.key_id):
            elsewhere = SqliteKeyStore(tmp_path / "keys.db", ring(tmp_path / "mk"))
            elsewhere._held.path = tmp_path / "not-this-file"  # as if in another process
            assert elsewhere.destroy("case-twice")
            assert held_anywhere(store, key.key_id)
            assert not store.destroy("case-twice")  # already destroyed: dropped all the same
            assert not held_anywhere(store, key.key_id)

    def test_the_default_hold_is_five_minutes(self, store: SqliteKeyStore) -> None:
        assert DEFAULT_KEY_HOLD_SECONDS == 300.0
        assert store.hold == 300.0

    def test_the_hold_follows_the_setting(
        self, tmp_path: Path, store: SqliteKeyStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PATHWAY_DATA_KEY_HOLD_SECONDS", "42.5")
        assert SqliteKeyStore(tmp_path / "keys.db", ring(tmp_path / "mk")).hold == 42.5

    @pytest.mark.parametrize("hold", [0, -1, 0.0, 3600.5, float("nan"), float("inf"), True, "300"])
    def test_a_bad_hold_is_refused(
        self, tmp_path: Path, store: SqliteKeyStore, hold: object
    ) -> None:
        with pytest.raises(KeyHoldOutOfRange, match="PATHWAY_DATA_KEY_HOLD_SECONDS must be"):
            SqliteKeyStore(tmp_path / "refused.db", ring(tmp_path / "mk"), hold=hold)  # type: ignore[arg-type]
        assert not (tmp_path / "refused.db").exists()  # refused before anything is made
