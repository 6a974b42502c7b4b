"""The statistics ledger in PostgreSQL (issue 15 item 1; docs/statistics.md), tested against a
real server: the fixture starts one from the OS binaries (Debian's ``postgresql`` package, which
``bin/test`` installs as root; ``initdb`` and ``pg_ctl`` on PATH or under
``/usr/lib/postgresql/*/bin``). Missing binaries fail the test with a message naming the
package, never skip it."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pathway import settings, workers
from pathway.domain.annual import annual_report
from pathway.domain.ledger import anonymise, statistics_facts
from pathway.domain.state import CaseState
from pathway.statistics_ledger import PostgresLedger, SqliteLedger
from tests.harness import LEDGER_SECRET
from tests.test_statistics_ledger import at, case, person, then


def pg_binary(name: str) -> str:
    """``name`` (``initdb``, ``pg_ctl``) on PATH, else under ``/usr/lib/postgresql/*/bin``
    (Debian's layout, the newest version first); fails the test if neither has it."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        pytest.fail(
            f"PostgreSQL's {name} is not installed: install the OS package postgresql "
            "(Debian/Ubuntu: apt-get install postgresql; bin/test does it when run as root)"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server of its own on 127.0.0.1 (trust authentication, a fresh cluster in a
    temporary directory), stopped and removed afterwards; yields its connection string. As
    root, the server runs as ``nobody`` (PostgreSQL refuses to run as root)."""
    initdb, pg_ctl = pg_binary("initdb"), pg_binary("pg_ctl")
    base = Path(tempfile.mkdtemp(prefix="pathway-pg-"))
    data, port = base / "data", _free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(base, nobody.pw_uid, nobody.pw_gid)
        as_user = [
            "setpriv",
            f"--reuid={nobody.pw_uid}",
            f"--regid={nobody.pw_gid}",
            "--clear-groups",
        ]
    env = {**os.environ, "HOME": str(base), "LC_ALL": "C"}
    subprocess.run(  # noqa: S603 (the OS's own binaries, fixed arguments)
        [
            *as_user,
            initdb,
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(  # noqa: S603 (the OS's own binaries, fixed arguments)
        [*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
        check=True,
        capture_output=True,
        env=env,
    )
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(  # noqa: S603 (the OS's own binaries, fixed arguments)
            [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
            env=env,
        )
        shutil.rmtree(base, ignore_errors=True)


def _states() -> list[CaseState]:
    """A mother with a child placed across the year boundary, and a man placed in 2027."""
    mother = case(person("female", "PT"), at(2026, 12, 9))
    mother = then(mother, "crisis_accommodation_placed", at(2026, 12, 10))
    mother = then(
        mother,
        "accompanying_child_recorded",
        at(2026, 12, 10),
        child_ref="c-1",
        birth_date="2016-03-01",
        gender="female",
        citizenships=["PT"],
        placed_with="crisis_accommodation",
    )
    mother = then(mother, "crisis_accommodation_ended", at(2027, 1, 20))
    man = case(person("male", "HR"), at(2027, 3, 1))
    man = then(man, "crisis_accommodation_placed", at(2027, 3, 2))
    return [mother, man]


class TestPostgresLedger:
    def test_idempotent_write_and_the_same_report_as_sqlite(
        self, postgres: str, tmp_path: Path
    ) -> None:
        """Records stored twice are stored once, ``until_year`` leaves later years out, and
        the annual report from PostgreSQL equals the one from the SQLite default."""
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS statistics_records")
        ledger = PostgresLedger(postgres)
        sqlite = SqliteLedger(tmp_path / "statistics.sqlite3")
        records = [
            anonymise(f, LEDGER_SECRET) for state in _states() for f in statistics_facts(state)
        ]
        # 3 facts of the mother (identified, entered, exited), 2 of her child, 2 of the man.
        assert ledger.write(records) == len(records) == 7
        assert ledger.write(records) == 0
        sqlite.write(records)
        assert ledger.read() == sqlite.read()
        assert {r.year for r in ledger.read(until_year=2026)} == {2026}
        for year in (2026, 2027):
            assert annual_report(ledger.read(until_year=year), year) == annual_report(
                sqlite.read(until_year=year), year
            )
        figures = annual_report(ledger.read(), 2027).crisis_accommodation
        assert (figures.entered.persons, figures.continuing.persons) == (1, 2)
        assert ledger.where == f"postgresql 127.0.0.1:{postgres.split()[1].split('=')[1]}"

    def test_the_settings_choose_postgres(
        self, postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With ``PATHWAY_STATISTICS_DSN`` the workers store in PostgreSQL, and need the
        deployment's ledger secret: none is made up (a second one would count everyone
        twice)."""
        monkeypatch.setenv("PATHWAY_VAR", str(tmp_path))
        monkeypatch.setenv(settings.STATISTICS_DSN_ENV, postgres)
        monkeypatch.delenv(settings.LEDGER_SECRET_ENV, raising=False)
        with pytest.raises(settings.StateError, match="PATHWAY_LEDGER_SECRET"):
            workers.statistics_recorder()
        assert not (tmp_path / settings.LEDGER_SECRET_FILE).exists()
        monkeypatch.setenv(settings.LEDGER_SECRET_ENV, "ab" * 32)
        recorder = workers.statistics_recorder()
        assert isinstance(recorder.ledger, PostgresLedger)
        assert recorder.secret == bytes.fromhex("ab" * 32)
        assert not (tmp_path / settings.STATISTICS_FILE).exists()


class TestBinaries:
    def test_missing_binaries_fail_naming_the_package(self) -> None:
        """A PostgreSQL binary that is nowhere fails the test (never a skip), naming the OS
        package to install."""
        with pytest.raises(pytest.fail.Exception, match="OS package postgresql"):
            pg_binary("no-such-postgresql-binary")
