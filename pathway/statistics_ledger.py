"""Where the statistics ledger's records are kept (issue 15 item 1; docs/statistics.md).

One small interface, :class:`StatisticsLedger`, two stores behind it:

- :class:`SqliteLedger`: a SQLite file under ``./var`` (``var/statistics.sqlite3``), the
  embedded default (``pathway dev``);
- :class:`PostgresLedger`: a PostgreSQL database (psycopg 3), for production
  (``PATHWAY_STATISTICS_DSN``).

Both store :class:`~pathway.domain.ledger.StatisticsRecord` s keyed by ``record_id``: writing
a record that is already there changes nothing (a retried activity, a replayed case, the
backfill), so no fact is ever counted twice. The ledger holds no personal data (keyed hashes,
categories, years and months), so the erasure of a case leaves it as it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from pathway.domain.ledger import StatisticsRecord
from pathway.secret_files import create_private_file, private_dir

_COLUMNS = (
    "record_id",
    "person",
    "year",
    "month",
    "programme",
    "event",
    "detail",
    "gender",
    "minor",
    "citizenships",
    "role",
)
_CREATE = """
CREATE TABLE IF NOT EXISTS statistics_records (
    record_id TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    programme TEXT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT,
    gender TEXT NOT NULL,
    minor BOOLEAN NOT NULL,
    citizenships TEXT NOT NULL,
    role TEXT NOT NULL
)
"""
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM statistics_records"  # noqa: S608 (constants)


class StatisticsLedger(Protocol):
    """The store of anonymised statistics records."""

    #: What the ledger is, for logs and messages (a path or a host, never a password).
    where: str

    def write(self, records: Sequence[StatisticsRecord]) -> int:
        """Store ``records``; those whose ``record_id`` is stored already are left as they
        are. Returns how many were new. Raises the store's error (``sqlite3.Error``,
        ``psycopg.Error``) if it cannot be written: the activity retries."""
        ...

    def read(self, *, until_year: int | None = None) -> list[StatisticsRecord]:
        """Every record (of ``until_year`` and the years before it, if given), in
        ``record_id`` order."""
        ...


def _row(record: StatisticsRecord) -> tuple[Any, ...]:
    return (
        record.record_id,
        record.person,
        record.year,
        record.month,
        record.programme.value,
        record.event.value,
        record.detail,
        record.gender.value,
        record.minor,
        ",".join(record.citizenships),
        record.role.value,
    )


def _records(rows: Iterable[Sequence[Any]]) -> list[StatisticsRecord]:
    out: list[StatisticsRecord] = []
    for row in rows:
        values = dict(zip(_COLUMNS, row, strict=True))
        values["minor"] = bool(values["minor"])
        values["citizenships"] = str(values["citizenships"]).split(",")
        out.append(StatisticsRecord.model_validate(values))
    return out


class SqliteLedger:
    """The ledger in a SQLite file (created 0600 in a 0700 directory if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        private_dir(path.parent)
        create_private_file(path)
        with self._connect() as conn:
            conn.execute(_CREATE)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def write(self, records: Sequence[StatisticsRecord]) -> int:
        placeholders = ", ".join("?" for _ in _COLUMNS)
        conn = self._connect()
        try:
            with conn:
                before = conn.total_changes
                conn.executemany(
                    f"INSERT OR IGNORE INTO statistics_records ({', '.join(_COLUMNS)}) "  # noqa: S608
                    f"VALUES ({placeholders})",
                    [_row(r) for r in records],
                )
                return conn.total_changes - before
        finally:
            conn.close()

    def read(self, *, until_year: int | None = None) -> list[StatisticsRecord]:
        conn = self._connect()
        try:
            if until_year is None:
                rows = conn.execute(f"{_SELECT} ORDER BY record_id").fetchall()
            else:
                rows = conn.execute(
                    f"{_SELECT} WHERE year <= ? ORDER BY record_id", (until_year,)
                ).fetchall()
            return _records(rows)
        finally:
            conn.close()


class PostgresLedger:
    """The ledger in PostgreSQL (psycopg 3), one connection per call: the activity writes a
    handful of records per case event, and the report reads once."""

    def __init__(self, dsn: str) -> None:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        self.dsn = dsn
        info = conninfo_to_dict(dsn)
        self.where = f"postgresql {info.get('host', 'localhost')}:{info.get('port', 5432)}"
        with psycopg.connect(dsn) as conn:
            conn.execute(_CREATE)

    def write(self, records: Sequence[StatisticsRecord]) -> int:
        import psycopg

        placeholders = ", ".join("%s" for _ in _COLUMNS)
        new = 0
        with psycopg.connect(self.dsn) as conn, conn.cursor() as cur:
            for record in records:
                cur.execute(
                    f"INSERT INTO statistics_records ({', '.join(_COLUMNS)}) "  # noqa: S608
                    f"VALUES ({placeholders}) ON CONFLICT (record_id) DO NOTHING",
                    _row(record),
                )
                new += cur.rowcount
        return new

    def read(self, *, until_year: int | None = None) -> list[StatisticsRecord]:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            if until_year is None:
                rows = conn.execute(f"{_SELECT} ORDER BY record_id").fetchall()
            else:
                rows = conn.execute(
                    f"{_SELECT} WHERE year <= %s ORDER BY record_id", (until_year,)
                ).fetchall()
        return _records(rows)


def open_ledger(dsn: str | None, default_path: Path) -> StatisticsLedger:
    """The ledger a deployment uses: PostgreSQL if ``dsn`` (a ``postgresql://`` URL or a libpq
    connection string) is given, else the SQLite file ``default_path``."""
    if dsn:
        return PostgresLedger(dsn)
    return SqliteLedger(default_path)
