"""Envelope encryption keys: one data key per case, wrapped by a rotatable master key.

- A **master key** (256 bits, with an ID) only wraps data keys; it never touches a payload. New
  wraps use the newest master key; older ones still unwrap, and ``rewrap_all`` moves every data
  key to the newest. The embedded default keeps master keys as files under ``var/master-keys/``;
  a production deployment supplies them from its secret store (``PATHWAY_MASTER_KEYS``) or backs
  :class:`KeyStore` with a KMS.
- A **data key** (256 bits) encrypts one *episode* of a case's payloads. Destroying it erases
  the episode: every copy of its history, export or backup becomes unreadable.
- A case (one person, one pseudonymous case ID) has **episodes** (issue 12): one per
  identification that opens the case anew (the first, and each one after the previous episode
  closed or was erased; R1 always holds). Each episode has its own data key, its own retention
  clock (from its own closure) and its own erasure. Episode 1's key scope is the case ID itself
  (key ID ``<case>/dk1``, as before episodes existed, so stored histories still decode); episode
  ``N`` > 1 has the scope ``<case>/e<N>`` (key ID ``<case>/e<N>/dk1``). A case run's payloads
  are sealed under its own episode's key (:mod:`pathway.privacy.sealing`), anything else for
  the case under its *current* (newest) episode's, and decoded by the key ID they carry.
- The :class:`SqliteKeyStore` keeps wrapped data keys in one SQLite file (``var/keys.db``),
  shared by every process of a deployment, with ``secure_delete`` so a destroyed key's bytes are
  overwritten in the file rather than left in a free page.

Key files are private to the service's account: the key store (with its ``-wal`` and ``-shm``
files) and master key files are created 0600 and their directory 0700 whatever the umask, and a
key store or master key that the group or others may use is refused when it is opened
(:class:`~pathway.secret_files.OpenToOthers`, one line naming the file and the ``chmod``).
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pathway.privacy.key_hold import (
    key_hold_seconds,
)
from pathway.secret_files import (
    create_private_file,
    private_dir,
    require_private,
    write_secret,
)

KEY_BYTES = 32
NONCE_BYTES = 12
MASTER_KEYS_ENV = "PATHWAY_MASTER_KEYS"


class PrivacyError(Exception):
    """Base of the key and codec errors; never carries payload contents."""


class CaseErased(PrivacyError):
    """The data key of a case's episode was destroyed: its payloads can never be decrypted
    again. ``scope`` is the episode's key scope (the case ID for episode 1, ``<case>/e<N>``
    after), ``case_id`` the case's."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.case_id = case_of(scope)
        self.episode = episode_number(scope)
        which = "" if self.episode == 1 else f" (episode {self.episode})"
        super().__init__(f"case {self.case_id}{which} was erased: its data key is destroyed")


class UnknownKey(PrivacyError):
    """No key with this ID exists (never created here, or a foreign payload)."""


class TamperedPayload(PrivacyError):
    """The ciphertext, its key ID or its metadata was altered: authentication failed."""


@dataclass(frozen=True)
class DataKey:
    key_id: str
    scope: str
    material: bytes


@dataclass(frozen=True)
class Episode:
    """One episode of a case (issue 12): what the key store knows of it, no personal data.

    ``number`` counts from 1; ``scope`` is its key scope (:func:`episode_scope`); ``opened_at``
    when its key was made; ``closed_at`` when its last run closed, recorded when the next
    episode opened (None for the current episode: Temporal knows its runs' closure); ``closed_run``
    the run ID found closed then (None if there was no run to find); ``erased_at`` when its key
    was destroyed (None while it can be read).
    """

    case_id: str
    number: int
    opened_at: datetime
    closed_at: datetime | None = None
    closed_run: str | None = None
    erased_at: datetime | None = None

    @property
    def scope(self) -> str:
        return episode_scope(self.case_id, self.number)

    @property
    def ref(self) -> str:
        """The episode's unambiguous address for the key store, ``<case>/e<N>`` (episode 1
        too: a bare case ID means the case's *current* episode)."""
        return episode_ref(self.case_id, self.number)

    @property
    def key_id(self) -> str:
        return key_id_for(self.scope)

    @property
    def erased(self) -> bool:
        return self.erased_at is not None


class KeyStore(Protocol):
    """Where data keys live. Implementations must be safe to share between processes.

    A ``scope`` is a case ID (meaning the case's current, i.e. newest, episode) or one episode's
    address ``<case>/e<N>`` (:func:`episode_ref`; ``<case>/e1`` is episode 1, whose keys are
    stored under the bare case ID, :func:`episode_scope`).
    """

    def data_key(self, scope: str) -> DataKey:
        """The data key of ``scope``: for a case ID, its current episode's, episode 1 created
        on first use (a linked case's start, a first identification).

        Raises :class:`CaseErased` if that key was destroyed: an erased episode is never
        re-keyed (only :meth:`open_episode`, after an accepted identification, makes a new
        episode with a new key); :class:`UnknownKey` for an episode scope that was never
        opened.
        """
        ...

    def episodes(self, case_id: str) -> list[Episode]:
        """The case's episodes, oldest first (empty: never opened here)."""
        ...

    def open_episode(
        self,
        case_id: str,
        *,
        after: int,
        closed_at: datetime | None = None,
        closed_run: str | None = None,
    ) -> Episode:
        """Open the episode after episode ``after`` (0: the first) with a new data key, for an
        accepted identification (R1, issue 12); episode ``after``, closed or erased, is recorded
        as closed at ``closed_at`` (now if None) by run ``closed_run``.

        Compare-and-set: if an episode newer than ``after`` exists already (a concurrent
        identification opened it), that one is returned and nothing is made.
        """
        ...

    def data_key_by_id(self, key_id: str) -> DataKey:
        """The data key with ``key_id``; :class:`CaseErased` or :class:`UnknownKey` if none.
        Never writes: quick enough for an event loop (issue 14)."""
        ...

    def current_key(self, scope: str) -> DataKey | None:
        """The data key of ``scope`` as :meth:`data_key` finds it, or None where that would
        make one (never writes: quick enough for an event loop, issue 14). Raises as
        :meth:`data_key` does."""
        ...

    def destroy(self, scope: str, former_members: Iterable[str] = ()) -> bool:
        """Destroy ``scope``'s data key for good; False if it was already destroyed. For a
        case ID: its current episode's (a case never opened gets an erased episode 1, so that
        nothing is sealed under it until an identification opens episode 2).

        ``former_members`` (organisation codes, e.g. ``"caritas"``; never personal data) are
        kept beside the destroyed key: the organisations that may still learn that the case
        was erased (410), where everyone else is told it does not exist (404; issue 11).
        """
        ...

    def is_destroyed(self, scope: str) -> bool:
        """``scope``'s key is destroyed: for a case ID, its current episode's (a case whose
        person was identified again after an erasure is not erased)."""
        ...

    def former_members(self, scope: str) -> frozenset[str]:
        """The organisations recorded by :meth:`destroy` for an erased ``scope`` (empty for a
        case that is not erased, or was erased with none recorded); for a case ID, those of
        every erased episode of it."""
        ...

    def episodes_closed_before(self, cutoff: datetime) -> list[Episode]:
        """Every episode not erased that was recorded closed (by :meth:`open_episode`) before
        ``cutoff``: the earlier episodes whose retention may be over (the retention sweep)."""
        ...


def key_id_for(scope: str) -> str:
    """The ID of ``scope``'s data key. It names the case (a pseudonym) and its episode, never
    the person: ``<case>/dk1`` for episode 1, ``<case>/e<N>/dk1`` for episode N."""
    return f"{scope}/dk1"


def scope_of(key_id: str) -> str:
    """The scope (a case ID for episode 1, ``<case>/e<N>`` for a later episode) a data key ID
    belongs to."""
    scope, _, version = key_id.rpartition("/")
    if not scope or not version.startswith("dk"):
        raise UnknownKey(f"not a Pathway data key ID: {key_id!r}")
    _, mark, number = scope.rpartition(_EPISODE_MARK)
    if mark and number.isdigit() and not _LATER_EPISODE.fullmatch(number):
        # Episode 1's scope is the bare case ID, and numbers are written plainly in ASCII: /e0,
        # /e1, /e02, /e² and 5,000 digits name no key that can exist (reviews of issue 12).
        raise UnknownKey(f"not a Pathway data key ID: {key_id!r}")
    return scope


_EPISODE_MARK = "/e"


def episode_scope(case_id: str, number: int) -> str:
    """The key scope of the case's episode ``number`` (issue 12): the case ID itself for
    episode 1 (as before episodes existed), ``<case>/e<N>`` after."""
    if number < 1:
        raise ValueError("episodes count from 1")
    return case_id if number == 1 else f"{case_id}{_EPISODE_MARK}{number}"


def episode_ref(case_id: str, number: int) -> str:
    """The unambiguous address of the case's episode ``number``: ``<case>/e<N>``, for episode
    1 too (a bare case ID means the case's current episode)."""
    return f"{case_id}{_EPISODE_MARK}{number}"


def stored_scope(ref: str) -> str:
    """The key scope under which episode ``ref`` (``<case>/e<N>``) keeps its key (the case ID
    for episode 1); a bare case ID is returned as it is."""
    return episode_scope(case_of(ref), episode_number(ref))


#: An episode number after the first as a key scope writes it: ASCII digits, no leading zero,
#: at most nine (``int`` never fails on it).
_LATER_EPISODE = re.compile(r"(?:[2-9]|[1-9][0-9]{1,8})")
_EPISODE_DIGITS = re.compile(r"[0-9]{1,9}")


def case_of(scope: str) -> str:
    """The case ID of a key scope (a case ID, or an episode's ``<case>/e<N>``)."""
    case_id, mark, number = scope.rpartition(_EPISODE_MARK)
    return case_id if mark and _EPISODE_DIGITS.fullmatch(number) else scope


def episode_number(scope: str) -> int:
    """The episode a key scope names (1 for a bare case ID)."""
    _, mark, number = scope.rpartition(_EPISODE_MARK)
    return int(number) if mark and _EPISODE_DIGITS.fullmatch(number) else 1


class MasterKeyRing:
    """Master keys by ID; the newest (by ID order, IDs start with a UTC timestamp) wraps."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise PrivacyError("no master key configured")
        for key_id, material in keys.items():
            if len(material) != KEY_BYTES:
                raise PrivacyError(f"master key {key_id} must be {KEY_BYTES} bytes")
        self._keys = dict(keys)

    @property
    def newest_id(self) -> str:
        return max(self._keys)

    @property
    def ids(self) -> list[str]:
        return sorted(self._keys)

    def wrap(self, material: bytes, key_id: str) -> tuple[str, bytes]:
        """Wrap a data key under the newest master key, bound to its own key ID."""
        master_id = self.newest_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._keys[master_id]).encrypt(nonce, material, key_id.encode())
        return master_id, nonce + sealed

    def unwrap(self, master_id: str, wrapped: bytes, key_id: str) -> bytes:
        master = self._keys.get(master_id)
        if master is None:
            raise UnknownKey(f"master key {master_id} is not configured")
        try:
            return AESGCM(master).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key_id.encode()
            )
        except InvalidTag as err:
            raise TamperedPayload(f"wrapped data key {key_id} failed authentication") from err

    @classmethod
    def from_env_or_dir(cls, directory: Path) -> MasterKeyRing:
        """``PATHWAY_MASTER_KEYS`` (``id:hex,id:hex``) if set, else the key files in
        ``directory`` (one ``<id>.key`` file of hex each), creating the first one if empty.

        Raises :class:`~pathway.secret_files.OpenToOthers` if the directory or a key file in it
        may be used by the group or others."""
        from pathway import settings

        if (secret := settings.current().master_keys) is not None:
            value = secret.get_secret_value()
            pairs = (item.split(":", 1) for item in value.split(",") if item.strip())
            return cls({key_id.strip(): bytes.fromhex(hexkey.strip()) for key_id, hexkey in pairs})
        require_private([directory, *sorted(directory.glob("*.key"))])
        if not any(directory.glob("*.key")):
            create_master_key(directory)
        return cls(
            {p.stem: bytes.fromhex(p.read_text().strip()) for p in sorted(directory.glob("*.key"))}
        )


def create_master_key(directory: Path) -> str:
    """Write a new master key file (mode 0600; the directory 0700 if new) and return its ID
    (newest sorts last)."""
    private_dir(directory)
    key_id = f"mk-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(2)}"
    if not write_secret(directory / f"{key_id}.key", secrets.token_hex(KEY_BYTES), replace=False):
        raise FileExistsError(directory / f"{key_id}.key")
    return key_id


def sqlite_companions(path: Path) -> list[Path]:
    """The files SQLite keeps beside a database in WAL mode (``-wal``, ``-shm``)."""
    return [path.with_name(f"{path.name}{suffix}") for suffix in ("-wal", "-shm")]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    key_id      TEXT PRIMARY KEY,
    scope       TEXT NOT NULL UNIQUE,
    master_id   TEXT,
    wrapped     BLOB,
    created_at  TEXT NOT NULL,
    destroyed_at TEXT,
    former_members TEXT,
    closed_at   TEXT,
    closed_run  TEXT
)
"""
#: Columns added since the first key stores: the former members (issue 11), and when an
#: episode closed and by which run (issue 12). A row is one episode's key.
_MIGRATIONS = {
    "former_members": "ALTER TABLE data_keys ADD COLUMN former_members TEXT",
    "closed_at": "ALTER TABLE data_keys ADD COLUMN closed_at TEXT",
    "closed_run": "ALTER TABLE data_keys ADD COLUMN closed_run TEXT",
}

_Row = tuple[str, str, str | None, bytes | None, str | None]


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _now() -> str:
    return datetime.now(UTC).isoformat()


#: Unwrapped data keys one thread holds at most (the one read first dropped first): one per
#: open case a worker has in its cache, about 200 bytes each.
KEY_CACHE_SIZE = 20_000


class _KeyCache:
    """The unwrapped data keys one thread read from a :class:`SqliteKeyStore`, and which key is
    each scope's current one, valid only while the store is unchanged since (``version``).

    Each key is dropped at ``expires[key_id]`` at the latest, by :class:`_HeldKeys`' sweeper
    thread, whether or not this thread uses the store again. ``by_id`` is in the order the keys
    were read (a hit does not move a key), so their deadlines come in that order too.

    Its owner thread reads ``by_id`` and ``current`` without the lock (one dict lookup each,
    atomic): the hot path takes no lock. Every change takes ``lock``: the owner's (a key read,
    the store changed) and the sweeper's or an erasure's from other threads.
    """

    def __init__(self) -> None:
        self.version: tuple[int, int] | None = None
        self.by_id: OrderedDict[str, DataKey] = OrderedDict()
        self.expires: dict[str, float] = {}
        self.current: dict[str, str] = {}
        self.lock = threading.Lock()

    def valid_at(self, version: tuple[int, int]) -> None:
        """Drop everything if the store changed since the keys were read."""
        if version != self.version:
            with self.lock:
                self.by_id.clear()
                self.expires.clear()
                self.current.clear()
                self.version = version

    def keep(self, key: DataKey, until: float, scope: str | None = None) -> DataKey:
        """Hold ``key`` until ``until`` (the clock of :class:`_HeldKeys`) at the latest."""
        with self.lock:
            self.by_id[key.key_id] = key
            self.by_id.move_to_end(key.key_id)
            self.expires[key.key_id] = until
            if scope is not None:
                self.current[scope] = key.key_id
            while len(self.by_id) > KEY_CACHE_SIZE:
                self._forget(next(iter(self.by_id)))
        return key

    def _forget(self, key_id: str) -> None:
        """Drop one held key (the caller holds the lock)."""
        dropped = self.by_id.pop(key_id, None)
        self.expires.pop(key_id, None)
        # O(1): only the dropped key's own case can name it as current.
        if dropped is not None and self.current.get(case_of(dropped.scope)) == key_id:
            del self.current[case_of(dropped.scope)]

    def forget(self, key_id: str) -> None:
        """Drop ``key_id`` if held (erased in this process)."""
        with self.lock:
            self._forget(key_id)

    def expire(self, now: float) -> float | None:
        """Drop every key whose time is up at ``now``; the next key's deadline (None: none
        held)."""
        with self.lock:
            while self.by_id:
                first = next(iter(self.by_id))
                if self.expires[first] > now:
                    return self.expires[first]
                self._forget(first)
            return None


#: Every :class:`_HeldKeys` of this process, to drop an erased key from every store on the same
#: file (:meth:`SqliteKeyStore.destroy`).
_ALL_HELD: weakref.WeakSet[_HeldKeys] = weakref.WeakSet()
_ALL_HELD_LOCK = threading.Lock()


class _HeldKeys:
    """Every thread's :class:`_KeyCache` of one :class:`SqliteKeyStore` in this process, and the
    daemon thread that drops each held key when its time is up (``hold`` seconds after it was
    read by ``clock``): a key is never held longer, even by a thread that never uses the store
    again (issue 14). The sweeper runs only while some key is held, sleeps until the earliest
    deadline, and ends with the store (it holds only a weak reference to this registry)."""

    def __init__(self, path: Path, hold: float, clock: Callable[[], float]) -> None:
        self.path = path
        self.hold = hold
        self.clock = clock
        self.wake = threading.Condition()
        self.caches: weakref.WeakSet[_KeyCache] = weakref.WeakSet()
        self.sweeper: threading.Thread | None = None
        with _ALL_HELD_LOCK:
            _ALL_HELD.add(self)

    def new_cache(self) -> _KeyCache:
        cache = _KeyCache()
        with self.wake:
            self.caches.add(cache)
        return cache

    def keep(self, cache: _KeyCache, key: DataKey, scope: str | None = None) -> DataKey:
        """Hold ``key`` in ``cache`` for ``hold`` seconds at most; start the sweeper if none
        runs. (A later key's deadline is never earlier than a held one's: a running sweeper
        never sleeps past it, so it needs no wake-up.)"""
        cache.keep(key, self.clock() + self.hold, scope)
        with self.wake:
            if self.sweeper is None:
                self.sweeper = threading.Thread(
                    target=_sweep, args=(weakref.ref(self),), name="pathway-key-hold", daemon=True
                )
                self.sweeper.start()
        return key

    def forget(self, key_id: str) -> None:
        """Drop ``key_id`` from every thread's cache at once."""
        with self.wake:
            caches = list(self.caches)
        for cache in caches:
            cache.forget(key_id)

    def sweep(self) -> float | None:
        """Drop every key whose time is up; the seconds until the next deadline, or None (and
        the sweeper is to end) if no key is held any more."""
        with self.wake:
            caches = list(self.caches)
        # Outside the registry's lock: a thread reading a key waits for no sweep.
        now = self.clock()
        deadlines = [due for cache in caches if (due := cache.expire(now)) is not None]
        if deadlines:
            return max(0.0, min(deadlines) - now)
        with self.wake:
            # Decided under the lock keep() takes to start a sweeper: a key kept before this
            # is seen here (sweep again), one kept after it starts a new sweeper.
            if any(cache.by_id for cache in self.caches):
                return 0.0
            self.sweeper = None
            return None


def _sweep(ref: weakref.ReferenceType[_HeldKeys]) -> None:
    """The sweeper thread of one :class:`_HeldKeys`: drop keys when their time is up, until none
    is held or the store is gone."""
    while (held := ref()) is not None:
        wait = held.sweep()
        if wait is None:
            return
        wake = held.wake
        del held  # not kept alive by its own sweeper while it sleeps
        with wake:
            wake.wait(wait)


def drop_held_key(path: Path, key_id: str) -> None:
    """Drop the unwrapped key ``key_id`` from every thread of this process that holds it, in
    every :class:`SqliteKeyStore` on the file ``path``: erasure in this process is seen at once,
    not at each thread's next use (issue 14)."""
    with _ALL_HELD_LOCK:
        registries = [held for held in _ALL_HELD if held.path == path]
    for held in registries:
        held.forget(key_id)


class SqliteKeyStore:
    """Wrapped data keys in one SQLite file.

    Reading a key costs no store round trip while nothing changed (issue 14): each thread holds
    the keys it unwrapped (at most :data:`KEY_CACHE_SIZE`), and drops them:

    - all of them at its next use after the store changed in any way, in any process (SQLite's
      ``PRAGMA data_version`` for other connections, a counter for this process's own writes),
      checked at every use: a key destroyed by one process is unusable in every other at its
      next use, as if nothing were held;
    - each ``hold`` seconds after it was read at the latest (``PATHWAY_DATA_KEY_HOLD_SECONDS``,
      default :data:`DEFAULT_KEY_HOLD_SECONDS`), by a sweeper thread, even if the thread that
      holds it never uses the store again: an idle process does not keep a key another process
      destroyed;
    - at once in every thread of this process when :meth:`destroy` destroys it here.

    ``hold`` (seconds; None: the setting) is checked by :func:`key_hold_seconds`
    (:class:`KeyHoldOutOfRange`); ``clock`` (seconds, monotonic) times it.

    The file is created 0600 before SQLite opens it, so its ``-wal`` and ``-shm`` files (which
    SQLite creates with the database file's mode) are 0600 too; an existing file that the group
    or others may use is refused (:class:`~pathway.secret_files.OpenToOthers`).
    """

    def __init__(
        self,
        path: Path,
        ring: MasterKeyRing,
        *,
        hold: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if hold is None:
            from pathway import settings

            hold = settings.current().data_key_hold_seconds
        self.hold = key_hold_seconds(hold)
        self.path = path
        self.ring = ring
        private_dir(path.parent)
        require_private([path, *sqlite_companions(path)])
        create_private_file(path)
        self._local = threading.local()
        self._held = _HeldKeys(path.resolve(), self.hold, clock)
        self._writes = 0  # this process's committed writes, any thread
        self._writes_lock = threading.Lock()
        with self._db() as db:
            db.execute(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(data_keys)")}
            for column, statement in _MIGRATIONS.items():
                if column not in columns:
                    db.execute(statement)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA secure_delete=ON")
            # FULL: a new data key is on disk before any payload sealed with it can be.
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    def _read(self, column: str, value: str) -> _Row | None:
        return self._row(self._conn(), column, value)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (IMMEDIATE: one writer at a time across processes)."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        with self._writes_lock:
            self._writes += 1

    def _cache(self) -> _KeyCache:
        """This thread's held keys, emptied if the store changed since they were read."""
        conn = self._conn()
        cache: _KeyCache | None = getattr(self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = self._held.new_cache()
        (data_version,) = conn.execute("PRAGMA data_version").fetchone()
        cache.valid_at((self._writes, data_version))
        return cache

    def _row(self, db: sqlite3.Connection, column: str, value: str) -> _Row | None:
        row = db.execute(
            f"SELECT key_id, scope, master_id, wrapped, destroyed_at FROM data_keys "  # noqa: S608 - column is one of two literals
            f"WHERE {column} = ?",
            (value,),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3], row[4])

    def _open(self, row: _Row) -> DataKey:
        key_id, scope, master_id, wrapped, destroyed_at = row
        if destroyed_at is not None or master_id is None or wrapped is None:
            raise CaseErased(scope)
        return DataKey(key_id, scope, self.ring.unwrap(master_id, wrapped, key_id))

    def _episodes(self, db: sqlite3.Connection, case_id: str) -> list[Episode]:
        prefix = case_id + _EPISODE_MARK
        # A range over the unique index on scope (every scope starting with the prefix), not a
        # scan of every case's keys.
        after_prefix = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        rows = db.execute(
            "SELECT scope, created_at, closed_at, closed_run, destroyed_at FROM data_keys "
            "WHERE scope = ? OR (scope >= ? AND scope < ?)",
            (case_id, prefix, after_prefix),
        ).fetchall()
        found = [
            Episode(
                case_id=case_id,
                number=episode_number(scope),
                opened_at=datetime.fromisoformat(created_at),
                closed_at=_time(closed_at),
                closed_run=closed_run,
                erased_at=_time(destroyed_at),
            )
            for scope, created_at, closed_at, closed_run, destroyed_at in rows
            if case_of(scope) == case_id
        ]
        return sorted(found, key=lambda e: e.number)

    def episodes(self, case_id: str) -> list[Episode]:
        return self._episodes(self._conn(), case_id)

    def _current_scope(self, db: sqlite3.Connection, scope: str) -> str | None:
        """The stored scope of an episode's address; for a case ID its newest episode's (None
        if it has none)."""
        if case_of(scope) != scope:
            return stored_scope(scope)
        episodes = self._episodes(db, scope)
        return episodes[-1].scope if episodes else None

    def _insert_key(self, db: sqlite3.Connection, scope: str) -> DataKey:
        key_id = key_id_for(scope)
        material = AESGCM.generate_key(bit_length=8 * KEY_BYTES)
        master_id, wrapped = self.ring.wrap(material, key_id)
        db.execute(
            "INSERT INTO data_keys (key_id, scope, master_id, wrapped, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (key_id, scope, master_id, wrapped, _now()),
        )
        return DataKey(key_id, scope, material)

    def data_key(self, scope: str) -> DataKey:
        current = self._current_scope(self._conn(), scope)
        if current is not None:
            row = self._read("scope", current)
            if row is None:
                raise UnknownKey(f"no data key for {scope}")
            return self._open(row)
        with self._db() as db:
            current = self._current_scope(db, scope)  # another process may have just made it
            if current is None:
                return self._insert_key(db, episode_scope(scope, 1))
            row = self._row(db, "scope", current)
        if row is None:
            raise UnknownKey(f"no data key for {scope}")
        return self._open(row)

    def open_episode(
        self,
        case_id: str,
        *,
        after: int,
        closed_at: datetime | None = None,
        closed_run: str | None = None,
    ) -> Episode:
        if case_of(case_id) != case_id:
            raise ValueError("open_episode takes a case ID")
        with self._db() as db:
            episodes = self._episodes(db, case_id)
            latest = episodes[-1] if episodes else None
            if latest is not None and latest.number > after:
                return latest  # a concurrent identification opened it
            if latest is not None:
                db.execute(
                    "UPDATE data_keys SET closed_at = COALESCE(closed_at, ?), closed_run = "
                    "COALESCE(closed_run, ?) WHERE scope = ?",
                    (
                        (closed_at or datetime.now(UTC)).astimezone(UTC).isoformat(),
                        closed_run,
                        latest.scope,
                    ),
                )
            number = 1 if latest is None else latest.number + 1
            self._insert_key(db, episode_scope(case_id, number))
            return self._episodes(db, case_id)[-1]

    def data_key_by_id(self, key_id: str) -> DataKey:
        cache = self._cache()
        held = cache.by_id.get(key_id)
        if held is not None:
            return held
        row = self._read("key_id", key_id)
        if row is None:
            raise UnknownKey(f"no data key {key_id}")
        return self._held.keep(cache, self._open(row))

    def current_key(self, scope: str) -> DataKey | None:
        cache = self._cache()
        held_id = cache.current.get(scope)
        # One lookup (the sweeper may drop the key between two).
        held = None if held_id is None else cache.by_id.get(held_id)
        if held is not None:
            return held
        current = self._current_scope(self._conn(), scope)
        if current is None:
            return None
        row = self._read("scope", current)
        if row is None:
            raise UnknownKey(f"no data key for {scope}")
        return self._held.keep(cache, self._open(row), scope)

    def destroy(self, scope: str, former_members: Iterable[str] = ()) -> bool:
        members = ",".join(sorted(set(former_members)))
        with self._db() as db:
            target = self._current_scope(db, scope)
            row = None if target is None else self._row(db, "scope", target)
            if row is not None and row[4] is not None:
                # Destroyed already (by another process, say): held here no longer either.
                drop_held_key(self._held.path, row[0])
                return False
            now = _now()
            if row is None:
                # Erasing a case that never had a key still blocks one from being made later
                # without an identification (which opens the next episode).
                target = target or episode_scope(scope, 1)
                destroyed = key_id_for(target)
                db.execute(
                    "INSERT INTO data_keys (key_id, scope, created_at, destroyed_at, "
                    "former_members) VALUES (?, ?, ?, ?, ?)",
                    (destroyed, target, now, now, members),
                )
            else:
                destroyed = row[0]
                db.execute(
                    "UPDATE data_keys SET wrapped = NULL, master_id = NULL, "
                    "destroyed_at = ?, former_members = ? WHERE key_id = ?",
                    (now, members, destroyed),
                )
        # Every thread of this process, in every store on this file, drops it now, not at its
        # next use (issue 14).
        drop_held_key(self._held.path, destroyed)
        # Until a checkpoint, the page that held the wrapped key stays in the database file (and
        # the WAL keeps frames of it): write the new page back and truncate the WAL now.
        self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return True

    def is_destroyed(self, scope: str) -> bool:
        target = self._current_scope(self._conn(), scope)
        row = None if target is None else self._read("scope", target)
        return row is not None and row[4] is not None

    def former_members(self, scope: str) -> frozenset[str]:
        conn = self._conn()
        scopes = (
            [e.scope for e in self._episodes(conn, scope) if e.erased]
            if case_of(scope) == scope
            else [stored_scope(scope)]
        )
        members: set[str] = set()
        for target in scopes:
            row = conn.execute(
                "SELECT former_members FROM data_keys WHERE scope = ? AND destroyed_at IS NOT NULL",
                (target,),
            ).fetchone()
            if row is not None and row[0]:
                members.update(row[0].split(","))
        return frozenset(members)

    def episodes_closed_before(self, cutoff: datetime) -> list[Episode]:
        rows = (
            self._conn()
            .execute(
                "SELECT DISTINCT scope FROM data_keys WHERE destroyed_at IS NULL "
                "AND closed_at IS NOT NULL AND closed_at < ?",
                (cutoff.astimezone(UTC).isoformat(),),
            )
            .fetchall()
        )
        found = []
        for (scope,) in rows:
            number = episode_number(scope)
            found += [e for e in self.episodes(case_of(scope)) if e.number == number]
        return found

    def rewrap_all(self) -> int:
        """Re-wrap every live data key under the newest master key; returns how many moved."""
        newest = self.ring.newest_id
        moved = 0
        with self._db() as db:
            rows = db.execute(
                "SELECT key_id, master_id, wrapped FROM data_keys "
                "WHERE destroyed_at IS NULL AND master_id != ?",
                (newest,),
            ).fetchall()
            for key_id, master_id, wrapped in rows:
                material = self.ring.unwrap(master_id, wrapped, key_id)
                new_master, new_wrapped = self.ring.wrap(material, key_id)
                db.execute(
                    "UPDATE data_keys SET master_id = ?, wrapped = ? WHERE key_id = ?",
                    (new_master, new_wrapped, key_id),
                )
                moved += 1
        return moved

    def master_key_use(self) -> dict[str, int]:
        """How many live data keys each master key wraps (to know when an old one can go)."""
        rows = (
            self._conn()
            .execute(
                "SELECT master_id, COUNT(*) FROM data_keys "
                "WHERE destroyed_at IS NULL GROUP BY master_id"
            )
            .fetchall()
        )
        return {str(master): int(count) for master, count in rows}
