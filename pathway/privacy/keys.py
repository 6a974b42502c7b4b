"""Envelope encryption keys: one data key per case, wrapped by a rotatable master key.

- A **master key** (256 bits, with an ID) only wraps data keys; it never touches a payload. New
  wraps use the newest master key; older ones still unwrap, and ``rewrap_all`` moves every data
  key to the newest. The embedded default keeps master keys as files under ``var/master-keys/``;
  a production deployment supplies them from its secret store (``PATHWAY_MASTER_KEYS``) or backs
  :class:`KeyStore` with a KMS.
- A **data key** (256 bits) encrypts one case's payloads. Destroying it erases the case: every
  copy of its history, export or backup becomes unreadable.
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
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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
    """The case's data key was destroyed: its payloads can never be decrypted again."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"case {scope} was erased: its data key is destroyed")
        self.scope = scope


class UnknownKey(PrivacyError):
    """No key with this ID exists (never created here, or a foreign payload)."""


class TamperedPayload(PrivacyError):
    """The ciphertext, its key ID or its metadata was altered: authentication failed."""


@dataclass(frozen=True)
class DataKey:
    key_id: str
    scope: str
    material: bytes


class KeyStore(Protocol):
    """Where data keys live. Implementations must be safe to share between processes."""

    def data_key(self, scope: str) -> DataKey:
        """The data key of ``scope`` (a case ID), created on first use.

        Raises :class:`CaseErased` if it was destroyed: an erased case is never re-keyed.
        """
        ...

    def data_key_by_id(self, key_id: str) -> DataKey:
        """The data key with ``key_id``; :class:`CaseErased` or :class:`UnknownKey` if none."""
        ...

    def destroy(self, scope: str, former_members: Iterable[str] = ()) -> bool:
        """Destroy ``scope``'s data key for good; False if it was already destroyed.

        ``former_members`` (organisation codes, e.g. ``"caritas"``; never personal data) are
        kept beside the destroyed key: the organisations that may still learn that the case
        was erased (410), where everyone else is told it does not exist (404; issue 11).
        """
        ...

    def is_destroyed(self, scope: str) -> bool: ...

    def former_members(self, scope: str) -> frozenset[str]:
        """The organisations recorded by :meth:`destroy` for an erased ``scope`` (empty for a
        case that is not erased, or was erased with none recorded)."""
        ...


def key_id_for(scope: str) -> str:
    """The ID of ``scope``'s data key. It names the case (a pseudonym), never the person."""
    return f"{scope}/dk1"


def scope_of(key_id: str) -> str:
    """The scope (case ID) a data key ID belongs to."""
    scope, _, version = key_id.rpartition("/")
    if not scope or not version.startswith("dk"):
        raise UnknownKey(f"not a Pathway data key ID: {key_id!r}")
    return scope


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
        if value := os.environ.get(MASTER_KEYS_ENV):
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
    former_members TEXT
)
"""
#: Key stores made before issue 11 lack the column of former members.
_MIGRATIONS = ("ALTER TABLE data_keys ADD COLUMN former_members TEXT",)


class SqliteKeyStore:
    """Wrapped data keys in one SQLite file. Unwrapped keys are never cached, so a key destroyed
    by one process is unusable in every other at once.

    The file is created 0600 before SQLite opens it, so its ``-wal`` and ``-shm`` files (which
    SQLite creates with the database file's mode) are 0600 too; an existing file that the group
    or others may use is refused (:class:`~pathway.secret_files.OpenToOthers`).
    """

    def __init__(self, path: Path, ring: MasterKeyRing) -> None:
        self.path = path
        self.ring = ring
        private_dir(path.parent)
        require_private([path, *sqlite_companions(path)])
        create_private_file(path)
        self._local = threading.local()
        with self._db() as db:
            db.execute(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(data_keys)")}
            if "former_members" not in columns:
                for statement in _MIGRATIONS:
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

    def _read(
        self, column: str, value: str
    ) -> tuple[str, str, str | None, bytes | None, str | None] | None:
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

    def _row(
        self, db: sqlite3.Connection, column: str, value: str
    ) -> tuple[str, str, str | None, bytes | None, str | None] | None:
        row = db.execute(
            f"SELECT key_id, scope, master_id, wrapped, destroyed_at FROM data_keys "  # noqa: S608 - column is one of two literals
            f"WHERE {column} = ?",
            (value,),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3], row[4])

    def _open(self, row: tuple[str, str, str | None, bytes | None, str | None]) -> DataKey:
        key_id, scope, master_id, wrapped, destroyed_at = row
        if destroyed_at is not None or master_id is None or wrapped is None:
            raise CaseErased(scope)
        return DataKey(key_id, scope, self.ring.unwrap(master_id, wrapped, key_id))

    def data_key(self, scope: str) -> DataKey:
        row = self._read("scope", scope)
        if row is not None:
            return self._open(row)
        with self._db() as db:
            row = self._row(db, "scope", scope)  # another process may have just made it
            if row is None:
                key_id = key_id_for(scope)
                material = AESGCM.generate_key(bit_length=8 * KEY_BYTES)
                master_id, wrapped = self.ring.wrap(material, key_id)
                db.execute(
                    "INSERT INTO data_keys (key_id, scope, master_id, wrapped, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (key_id, scope, master_id, wrapped, datetime.now(UTC).isoformat()),
                )
                return DataKey(key_id, scope, material)
        return self._open(row)

    def data_key_by_id(self, key_id: str) -> DataKey:
        row = self._read("key_id", key_id)
        if row is None:
            raise UnknownKey(f"no data key {key_id}")
        return self._open(row)

    def destroy(self, scope: str, former_members: Iterable[str] = ()) -> bool:
        members = ",".join(sorted(set(former_members)))
        with self._db() as db:
            row = self._row(db, "scope", scope)
            if row is not None and row[4] is not None:
                return False
            now = datetime.now(UTC).isoformat()
            if row is None:
                # Erasing a case that never had a key still blocks one from being made later.
                db.execute(
                    "INSERT INTO data_keys (key_id, scope, created_at, destroyed_at, "
                    "former_members) VALUES (?, ?, ?, ?, ?)",
                    (key_id_for(scope), scope, now, now, members),
                )
            else:
                db.execute(
                    "UPDATE data_keys SET wrapped = NULL, master_id = NULL, "
                    "destroyed_at = ?, former_members = ? WHERE scope = ?",
                    (now, members, scope),
                )
        # Until a checkpoint, the page that held the wrapped key stays in the database file (and
        # the WAL keeps frames of it): write the new page back and truncate the WAL now.
        self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return True

    def is_destroyed(self, scope: str) -> bool:
        row = self._read("scope", scope)
        return row is not None and row[4] is not None

    def former_members(self, scope: str) -> frozenset[str]:
        row = (
            self._conn()
            .execute(
                "SELECT former_members FROM data_keys WHERE scope = ? AND destroyed_at IS NOT NULL",
                (scope,),
            )
            .fetchone()
        )
        return frozenset(row[0].split(",")) if row is not None and row[0] else frozenset()

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
