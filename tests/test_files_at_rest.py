"""Files at rest (issue 11, item 9): with the umask 022 everything Pathway creates in its state
directory is 0600 and the directories 0700 (the key store with its WAL and SHM, master keys,
credentials, the ID pepper, outbox files, the Temporal database and log); a key store, master
key or secret others may use is refused with one line naming it and the ``chmod`` that fixes
it; the first start's operator token reaches only a terminal, or a 0600 file.

`pathway dev` as a whole process, under the umask 022, is in tests/test_startup.py
(``TestFilesAtRest``)."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pathway import dev, settings
from pathway.access.credentials import (
    Credentials,
    add_token,
    ensure_dev_credentials,
    hash_token,
)
from pathway.activities.notify import Notifier
from pathway.channels import Channels, OutboxChannel
from pathway.dev import (
    OPERATOR_TOKEN_FILE,
    DevPorts,
    DevStartError,
    hand_over_token,
    private_state,
    run_dev,
)
from pathway.domain.organisations import Organisation
from pathway.privacy.keys import MasterKeyRing, SqliteKeyStore, create_master_key
from pathway.secret_files import OpenToOthers, private_umask, require_private
from pathway.temporal_binaries import DevServer, start_dev_server, stop_process
from tests.receivers import free_port
from tests.test_notify import deliver, notification

TOKEN = "tok-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def temporal_file_modes(var: Path, attempts: int = 50) -> dict[str, int]:
    """The mode of each ``temporal.*`` file in ``var``, from one listing whose files all still
    existed when read: the running server creates and deletes SQLite's journal between a listing
    and a ``stat`` (a busy CI run saw ``temporal.db-journal`` go), so list again then."""
    for _ in range(attempts):
        files = [p for p in var.iterdir() if p.name.startswith("temporal.")]
        try:
            return {p.name: mode(p) for p in files}
        except FileNotFoundError:
            continue
    raise AssertionError(f"no stable listing of {var} in {attempts} attempts")


def current_umask() -> int:
    value = os.umask(0)
    os.umask(value)
    return value


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    """Every test here runs with the common umask 022 (files 0644, directories 0755 unless the
    code says otherwise), and leaves the process's umask as it found it."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def key_store(var: Path) -> SqliteKeyStore:
    return SqliteKeyStore(var / "keys.db", MasterKeyRing.from_env_or_dir(var / "master-keys"))


class TestCreatedPrivate:
    def test_key_store_with_wal_and_shm_and_master_keys(self, tmp_path: Path) -> None:
        var = tmp_path / "var"
        store = key_store(var)
        store.data_key("case-a")
        store.destroy("case-b")
        create_master_key(var / "master-keys")

        assert mode(var) == 0o700
        for name in ("keys.db", "keys.db-wal", "keys.db-shm"):
            assert mode(var / name) == 0o600, name
        assert mode(var / "master-keys") == 0o700
        keys = sorted((var / "master-keys").glob("*.key"))
        assert len(keys) == 2
        assert [mode(key) for key in keys] == [0o600, 0o600]

    def test_id_pepper(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        var = tmp_path / "var"
        monkeypatch.setenv("PATHWAY_VAR", str(var))
        monkeypatch.delenv("PATHWAY_ID_PEPPER", raising=False)

        settings.id_pepper()

        assert mode(var) == 0o700
        assert mode(var / "id-pepper") == 0o600

    def test_credentials(self, tmp_path: Path) -> None:
        path, token = ensure_dev_credentials(tmp_path / "var")
        added = tmp_path / "etc" / "credentials.toml"
        add_token(added, "police")

        assert token is not None
        assert mode(tmp_path / "var") == 0o700 and mode(path) == 0o600
        assert mode(added.parent) == 0o700 and mode(added) == 0o600
        assert mode(added.with_name(".credentials.toml.lock")) == 0o600

    async def test_outbox(self, tmp_path: Path) -> None:
        directory = tmp_path / "var" / "outbox"
        notifier = Notifier(Channels(default=OutboxChannel(directory=directory)))

        await deliver(notifier, notification(1, Organisation.CARITAS))
        await deliver(notifier, notification(2, Organisation.CARITAS))

        assert mode(directory) == 0o700
        assert mode(directory / "caritas.jsonl") == 0o600
        assert len((directory / "caritas.jsonl").read_text().splitlines()) == 2

    @pytest.mark.devserver
    async def test_temporal_database_and_log(self, tmp_path: Path) -> None:
        """The Temporal dev server creates its SQLite files itself: it runs with the umask
        077, so they are 0600 whatever ours is (and ours is left as it was)."""
        var = tmp_path / "var"
        server = DevServer(var_dir=var, port=free_port(), ui_port=free_port(), headless=True)
        proc = await start_dev_server(server)
        try:
            modes = temporal_file_modes(var)
            assert set(modes) >= {"temporal.db", "temporal.log"}
            assert modes == dict.fromkeys(modes, 0o600)
            assert mode(var) == 0o700
        finally:
            await stop_process(proc)
        assert current_umask() == 0o022

    def test_private_umask_is_restored(self, tmp_path: Path) -> None:
        with private_umask():
            (tmp_path / "inside").touch()
            assert current_umask() == 0o077
        (tmp_path / "after").touch()

        assert mode(tmp_path / "inside") == 0o600
        assert mode(tmp_path / "after") == 0o644


class TestRefused:
    def test_key_store_readable_by_others(self, tmp_path: Path) -> None:
        """A keys.db others may read (as the previous version left it under umask 022) is
        refused when opened, in one line naming it and the chmod."""
        key_store(tmp_path).data_key("case-a")
        (tmp_path / "keys.db").chmod(0o644)

        with pytest.raises(OpenToOthers) as refused:
            key_store(tmp_path)

        message = str(refused.value)
        assert "\n" not in message
        assert f"{tmp_path / 'keys.db'} (mode 0644)" in message
        assert f"`chmod 600 {tmp_path / 'keys.db'}`" in message

    def test_key_store_wal_readable_by_others(self, tmp_path: Path) -> None:
        store = key_store(tmp_path)
        store.data_key("case-a")
        (tmp_path / "keys.db-wal").chmod(0o640)

        with pytest.raises(OpenToOthers, match=r"keys\.db-wal"):
            key_store(tmp_path)

    def test_master_key_and_its_directory(self, tmp_path: Path) -> None:
        directory = tmp_path / "master-keys"
        key_id = create_master_key(directory)
        directory.chmod(0o755)
        (directory / f"{key_id}.key").chmod(0o604)

        with pytest.raises(OpenToOthers) as refused:
            MasterKeyRing.from_env_or_dir(directory)

        message = str(refused.value)
        assert f"`chmod 700 {directory}`" in message
        assert f"`chmod 600 {directory / f'{key_id}.key'}`" in message
        assert "\n" not in message

    def test_group_writable_counts_too(self, tmp_path: Path) -> None:
        secret = tmp_path / "id-pepper"
        secret.write_text("00")
        secret.chmod(0o620)

        with pytest.raises(OpenToOthers, match="mode 0620"):
            require_private([secret])

    def test_private_files_and_missing_ones_pass(self, tmp_path: Path) -> None:
        key_store(tmp_path / "var").data_key("case-a")

        require_private(private_state(tmp_path / "var"))

    def test_private_state_names_every_secret(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        var = tmp_path / "var"
        key_id = create_master_key(var / "master-keys")
        monkeypatch.setenv("PATHWAY_CREDENTIALS", str(tmp_path / "elsewhere.toml"))

        names = {str(path.relative_to(tmp_path)) for path in private_state(var)}

        assert names == {
            "var",
            "var/keys.db",
            "var/keys.db-wal",
            "var/keys.db-shm",
            "var/master-keys",
            f"var/master-keys/{key_id}.key",
            "elsewhere.toml",
            "var/id-pepper",
            "var/ledger-secret",
            "var/console-secret",
            "var/operator-token",
        }

    async def test_pathway_dev_refuses_before_starting_anything(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """run_dev with a key store others may read: DevStartError (one line, the file and the
        chmod) before a port is bound or a token made; its umask is restored."""
        monkeypatch.delenv("PATHWAY_CREDENTIALS", raising=False)
        var = tmp_path / "var"
        key_store(var).data_key("case-a")
        (var / "keys.db").chmod(0o644)

        with pytest.raises(DevStartError) as refused:
            await run_dev(var, ports=DevPorts(*(free_port() for _ in range(4))))

        message = str(refused.value)
        assert message.startswith("refusing to start: ")
        assert "\n" not in message and f"`chmod 600 {var / 'keys.db'}`" in message
        assert not (var / "credentials.toml").exists()
        assert current_umask() == 0o022


async def test_pathway_dev_runs_with_the_umask_077(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever `pathway dev` (and the Temporal server it starts) creates is private: its
    umask is 077 while it runs, and the caller's is restored afterwards."""
    seen: list[int] = []

    def stop_at_the_ports(*args: object) -> None:
        seen.append(current_umask())
        raise DevStartError("stopped by the test")

    monkeypatch.setattr(dev, "_bind_all", stop_at_the_ports)
    monkeypatch.delenv("PATHWAY_CREDENTIALS", raising=False)

    with pytest.raises(DevStartError, match="stopped by the test"):
        await run_dev(tmp_path / "var", ports=DevPorts(*(free_port() for _ in range(4))))

    assert seen == [0o077]
    assert current_umask() == 0o022
    assert mode(tmp_path / "var") == 0o700


class TestOperatorToken:
    def test_printed_to_a_terminal_only(self, tmp_path: Path) -> None:
        class Terminal(io.StringIO):
            def isatty(self) -> bool:
                return True

        out = Terminal()
        hand_over_token(
            TOKEN, credentials_file=tmp_path / "credentials.toml", var_dir=tmp_path, out=out
        )

        assert TOKEN in out.getvalue()
        assert not (tmp_path / OPERATOR_TOKEN_FILE).exists()

    def test_written_to_a_private_file_otherwise(self, tmp_path: Path) -> None:
        """stdout a file or pipe: the token goes to var/operator-token (0600), only its path
        is printed; a stale file from an earlier first start is replaced."""
        token_file = tmp_path / OPERATOR_TOKEN_FILE
        token_file.write_text("an older token\n")
        token_file.chmod(0o600)
        path, token = ensure_dev_credentials(tmp_path)
        assert token is not None
        out = io.StringIO()

        hand_over_token(token, credentials_file=path, var_dir=tmp_path, out=out)

        assert token not in out.getvalue()
        assert str(token_file) in out.getvalue()
        assert mode(token_file) == 0o600
        written = token_file.read_text().strip()
        assert written == token
        assert Credentials.load(path).tokens[0].sha256 == hash_token(written)
