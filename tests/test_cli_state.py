"""The CLI and the state directory: only `pathway dev` creates it (or the ID pepper or a master
key in it); a malformed ID pepper is one line; event files are read up to a limit; a reader
that goes away is no error; JSON output is ASCII; every argument has a help text."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pathway import cli, settings
from pathway.cli import case as cli_case
from pathway.cli._common import MAX_EVENT_BYTES
from pathway.clients import cases
from pathway.dev import DevPorts, DevStartError, run_dev
from pathway.privacy.keys import create_master_key
from tests.receivers import free_port

PEPPER = "0123456789abcdef" * 4
EVENT = {
    "type": "identified",
    "event_id": "state-1",
    "organisation": "police",
    "occurred_at": "2026-11-20T09:00:00+01:00",
    "subject_ref": "state-person",
    "person": {"citizenships": ["DE"], "residence_status": "eu_citizen"},
}
HINT = "run pathway from the checkout where bin/serve runs, or set PATHWAY_VAR"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def one_line(text: str) -> str:
    assert "Traceback" not in text
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    return text[:-1]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory other than the checkout, with nothing of the service's in the environment."""
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in (
        "PATHWAY_VAR",
        "PATHWAY_ID_PEPPER",
        "PATHWAY_MASTER_KEYS",
        "PATHWAY_CREDENTIALS",
        "PATHWAY_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    # A Temporal that is not there: a command that got as far as connecting would say so.
    monkeypatch.setenv("PATHWAY_TEMPORAL_ADDRESS", "127.0.0.1:1")
    return work


def event_file(where: Path) -> str:
    path = where / "event.json"
    path.write_text(json.dumps(EVENT))
    return str(path)


def commands(where: Path) -> list[list[str]]:
    """Every command that uses the state directory."""
    path = event_file(where)
    return [
        ["case", "open", path],
        ["case", "event", "case-x", path],
        ["case", "show", "case-x"],
        ["case", "erase", "case-x"],
        ["case", "history", "case-x"],
        ["keys", "new-master"],
        ["keys", "rewrap"],
        ["credentials", "add", "caritas"],
        ["credentials", "list"],
        ["programme", "record", path],
        ["programme", "pats", path],
        ["report", "2026"],
        ["report", "annual", "--year", "2026"],
        ["statistics", "backfill"],
    ]


class TestOnlyDevCreatesTheStateDirectory:
    def test_every_command_refuses_without_it(self, elsewhere: Path) -> None:
        expected = f"error: no state directory at {elsewhere / 'var'}: {HINT}"
        for argv in commands(elsewhere.parent):
            code, out, err = run(*argv)
            assert (code, out) == (cli.EXIT_BAD_INPUT, ""), (argv, err)
            assert one_line(err) == expected, argv
            assert not (elsewhere / "var").exists(), argv

    def test_the_path_named_is_absolute(
        self, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PATHWAY_VAR", "relative/var")
        code, _, err = run("case", "show", "case-x")
        assert code == cli.EXIT_BAD_INPUT
        assert one_line(err) == f"error: no state directory at {elsewhere}/relative/var: {HINT}"

    def test_no_pepper_is_refused_and_none_is_made(self, elsewhere: Path) -> None:
        var = elsewhere / "var"
        var.mkdir()
        create_master_key(var / "master-keys")
        for argv in commands(elsewhere.parent):
            if argv[0] == "credentials":
                continue  # tokens need no pepper
            code, _, err = run(*argv)
            assert code == cli.EXIT_BAD_INPUT, (argv, err)
            assert one_line(err) == (
                f"error: {var} has no id-pepper: start the service once with bin/serve "
                "(pathway dev), or set PATHWAY_ID_PEPPER"
            ), argv
        assert sorted(p.name for p in var.iterdir()) == ["master-keys"]
        assert len(list((var / "master-keys").iterdir())) == 1

    def test_no_master_key_is_refused_and_none_is_made(self, elsewhere: Path) -> None:
        var = elsewhere / "var"
        var.mkdir()
        (var / "id-pepper").write_text(PEPPER)
        code, _, err = run("case", "show", "case-x")
        assert code == cli.EXIT_BAD_INPUT
        assert one_line(err) == (
            f"error: {var} has no master key (master-keys/*.key): start the service once with "
            "bin/serve (pathway dev), or set PATHWAY_MASTER_KEYS"
        )
        assert sorted(p.name for p in var.iterdir()) == ["id-pepper"]

    def test_a_complete_state_directory_gets_as_far_as_temporal(self, elsewhere: Path) -> None:
        var = elsewhere / "var"
        var.mkdir()
        (var / "id-pepper").write_text(PEPPER)
        create_master_key(var / "master-keys")
        code, _, err = run("case", "show", "case-x")
        assert code == cli.EXIT_UNAVAILABLE, err

    def test_credentials_with_a_file_of_their_own_need_none(self, elsewhere: Path) -> None:
        path = elsewhere / "creds.toml"
        code, out, err = run("credentials", "add", "caritas", "--file", str(path))
        assert code == cli.EXIT_OK, err
        assert out.strip() and path.exists()
        assert not (elsewhere / "var").exists()

    def test_credentials_need_the_directory_not_the_pepper(self, elsewhere: Path) -> None:
        (elsewhere / "var").mkdir()
        code, _, err = run("credentials", "add", "caritas")
        assert code == cli.EXIT_OK, err
        assert (elsewhere / "var" / "credentials.toml").exists()

    def test_settings_create_no_pepper_when_told_not_to(self, elsewhere: Path) -> None:
        (elsewhere / "var").mkdir()
        with pytest.raises(settings.StateError, match="has no id-pepper"):
            settings.id_pepper(create=False)
        assert not (elsewhere / "var" / "id-pepper").exists()


class TestMalformedPepper:
    @pytest.fixture
    def var(self, elsewhere: Path) -> Path:
        var = elsewhere / "var"
        var.mkdir(mode=0o700)  # as `pathway dev` makes it: it refuses one open to others
        create_master_key(var / "master-keys")
        return var

    @pytest.mark.parametrize("value", ["zz", "abc", PEPPER[:-1], PEPPER + "0", "é" * 64])
    def test_in_the_environment(
        self, var: Path, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("PATHWAY_ID_PEPPER", value)
        with pytest.raises(settings.StateError, match="PATHWAY_ID_PEPPER"):
            settings.id_pepper()
        code, _, err = run("case", "show", "case-x")
        assert code == cli.EXIT_BAD_INPUT
        assert one_line(err) == (
            "error: PATHWAY_ID_PEPPER is not a valid ID pepper: expected 64 hex characters"
        )

    @pytest.mark.parametrize("content", [b"zz", b"", b"\xff\xfe" * 32])
    def test_in_the_file(self, var: Path, content: bytes) -> None:
        (var / "id-pepper").write_bytes(content)
        with pytest.raises(settings.StateError, match="id-pepper"):
            settings.id_pepper()
        code, _, err = run("case", "open", event_file(var.parent))
        assert code == cli.EXIT_BAD_INPUT
        line = one_line(err)
        assert line.startswith(f"error: {var / 'id-pepper'} ")
        assert line.endswith("64 hex characters") or "64 hex characters" in line

    def test_a_valid_pepper_with_a_line_break_is_read(self, var: Path) -> None:
        (var / "id-pepper").write_text(PEPPER.upper() + "\n")
        assert settings.id_pepper() == bytes.fromhex(PEPPER)

    async def test_dev_ends_with_one_line(self, var: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        (var / "id-pepper").write_text("zz")
        (var / "id-pepper").chmod(0o600)
        monkeypatch.setenv("PATHWAY_VAR", str(var))
        with pytest.raises(DevStartError) as raised:
            await run_dev(var, ports=DevPorts(*(free_port() for _ in range(4))))
        assert str(raised.value) == (
            f"{var / 'id-pepper'} is not a valid ID pepper: expected 64 hex characters"
        )


def process(
    *argv: str, env: dict[str, str], stdin: Any = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "pathway.cli", *argv],
        stdin=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


class TestEventSize:
    @pytest.fixture
    def state(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
        var = tmp_path / "var"
        var.mkdir()
        create_master_key(var / "master-keys")
        env = {"PATHWAY_VAR": str(var), "PATHWAY_ID_PEPPER": PEPPER}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return env

    def test_one_byte_too_many(self, tmp_path: Path, state: dict[str, str]) -> None:
        path = tmp_path / "big.json"
        path.write_bytes(b" " * MAX_EVENT_BYTES + b"{}")
        code, _, err = run("case", "event", "case-x", str(path))
        assert code == cli.EXIT_BAD_INPUT
        assert one_line(err) == f"error: {path} is larger than 1 MiB, too large to be an event"

    def test_at_the_limit_is_read(self, tmp_path: Path, state: dict[str, str]) -> None:
        path = tmp_path / "padded.json"
        path.write_bytes(b"{}" + b" " * (MAX_EVENT_BYTES - 2))
        code, _, err = run("case", "event", "case-x", str(path))
        assert code == cli.EXIT_BAD_INPUT
        assert "invalid event" in err  # parsed: the event itself is at fault

    def test_dev_zero(self, state: dict[str, str]) -> None:
        proc = process("case", "event", "case-x", "/dev/zero", env=state)
        assert proc.returncode == cli.EXIT_BAD_INPUT
        assert one_line(proc.stderr.decode()) == (
            "error: /dev/zero is larger than 1 MiB, too large to be an event"
        )

    def test_endless_standard_input(self, state: dict[str, str]) -> None:
        with open("/dev/zero", "rb") as zero:
            proc = process("case", "open", "-", env=state, stdin=zero)
        assert proc.returncode == cli.EXIT_BAD_INPUT
        assert one_line(proc.stderr.decode()) == (
            "error: standard input is larger than 1 MiB, too large to be an event"
        )


class TestHelp:
    def test_description_is_a_whole_sentence_without_markup(self) -> None:
        description = cli.build_parser().description or ""
        assert description.endswith(".") and "\n" not in description
        assert not any(mark in description for mark in ("``", ":mod:", ":func:"))
        assert description in " ".join(cli.build_parser().format_help().split())

    def test_every_argument_of_every_command_has_help(self) -> None:
        def parsers(
            parser: argparse.ArgumentParser, name: str
        ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
            yield name, parser
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    for sub_name, sub in action.choices.items():
                        yield from parsers(sub, f"{name} {sub_name}")

        missing = [
            f"{name} {action.dest}"
            for name, parser in parsers(cli.build_parser(), "pathway")
            for action in parser._actions
            if not isinstance(action, argparse._SubParsersAction)
            and action.dest != "help"
            and not action.help
        ]
        assert missing == []

    def test_case_event_help_names_the_case_id(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(["case", "event", "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "case_id the case's ID" in text
        assert "--json print the result as JSON" in text


class TestReaderGoneAway:
    def test_in_process(self) -> None:
        class Closed(io.StringIO):
            def write(self, text: str) -> int:
                raise BrokenPipeError(32, "Broken pipe")

        err = io.StringIO()
        assert cli.run(["schema"], Closed(), err) == cli.EXIT_OK
        assert err.getvalue() == ""

    def test_head_one(self) -> None:
        """`pathway … | head -1`: exit 0, nothing on stderr."""
        script = (
            "from pathway import cli\nfrom pathway.cli import schema\n"
            "def long(args, out):\n"
            "    for n in range(200_000):\n        out.write(f'line {n}\\n')\n"
            "    return 0\n"
            "schema._schema = long\ncli.main(['schema'])\n"
        )
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == b"line 0\n"
        proc.stdout.close()
        stderr = proc.stderr.read()
        assert proc.wait(timeout=120) == cli.EXIT_OK
        assert stderr == b""


class TestJsonIsAscii:
    @pytest.fixture(autouse=True)
    def state(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        var = tmp_path / "var"
        var.mkdir()
        create_master_key(var / "master-keys")
        monkeypatch.setenv("PATHWAY_VAR", str(var))
        monkeypatch.setenv("PATHWAY_ID_PEPPER", PEPPER)

        async def connected(args: Any) -> object:
            return object()

        monkeypatch.setattr(cli_case, "connect", connected)

    def test_case_show(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from tests.test_cli_input import hostile_case

        state = hostile_case()

        async def found(client: object, case_id: str) -> Any:
            return state

        monkeypatch.setattr(cases, "case_state", found)
        code, out, err = run("case", "show", "case-x", "--json")
        assert code == cli.EXIT_OK, err
        assert out.isascii() and "\\u202e" in out and "\\u001b" in out
        assert json.loads(out) == state.model_dump(mode="json")

    def test_case_event(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        from pathway.domain.state import EventResult
        from tests.test_cli_input import hostile_case

        result = EventResult(
            event_id="e\u202e1",
            event_type="ngo_interview_held",
            summary=hostile_case().summary(),
        )

        async def recorded(client: object, case_id: str, event: object) -> Any:
            return result

        monkeypatch.setattr(cases, "record_event", recorded)
        code, out, err = run("case", "event", "case-x", event_file(tmp_path), "--json")
        assert code == cli.EXIT_OK, err
        assert out.isascii() and "\\u202e" in out
        assert json.loads(out) == result.model_dump(mode="json")
