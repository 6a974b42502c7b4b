"""The operator CLI against a real dev server with the real workers: exit codes, messages
naming the rule or field, and the case view."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from pathway import cli, search_attributes, workers
from pathway.channels import Channels, OutboxChannel
from pathway.domain.organisations import NOTIFIED
from pathway.privacy.keys import create_master_key
from pathway.temporal_binaries import temporal_cli_path
from pathway.temporal_connection import data_converter, default_keystore
from tests.receivers import DEV_SERVER_STARTUP, eventually

pytestmark = pytest.mark.devserver


@pytest_asyncio.fixture
async def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Path]:
    """A dev server of its own with every worker (outbox channel under tmp_path), sharing the
    key store under tmp_path with the CLI, as the embedded default does under ./var."""
    monkeypatch.setenv("PATHWAY_ID_PEPPER", "00112233445566778899aabbccddeeff" * 2)
    monkeypatch.setenv("PATHWAY_VAR", str(tmp_path))
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        dev_server_startup_timeout=DEV_SERVER_STARTUP,
        ui=False,
        data_converter=data_converter(default_keystore()),
        search_attributes=list(search_attributes.ALL),
    )
    monkeypatch.setenv("PATHWAY_TEMPORAL_ADDRESS", env.client.service_client.config.target_host)
    stop = asyncio.Event()
    outbox = tmp_path / "outbox"
    running = asyncio.create_task(
        workers.run_workers(
            env.client,
            organisations=NOTIFIED,
            serve_cases=True,
            channels=Channels(default=OutboxChannel(directory=outbox)),
            stop=stop,
        )
    )
    async with env:
        yield outbox
        stop.set()
        await running


def write(tmp_path: Path, name: str, data: dict[str, Any] | str) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


async def pathway(*argv: str) -> tuple[int, str, str]:
    """Run one CLI command (in a thread: it runs its own event loop, as from a shell)."""
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(cli.run, list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def now() -> datetime:
    return datetime.now(UTC)


IDENTIFIED = {
    "type": "identified",
    "event_id": "cli-1",
    "organisation": "police",
    "subject_ref": "cli-person",
    "person": {"citizenships": ["DE"], "residence_status": "eu_citizen", "languages": ["de"]},
}


class TestCaseCommands:
    async def test_open_event_show(self, service: Path, tmp_path: Path) -> None:
        """open prints the case ID; an accepted event exits 0 with the summary; show prints
        deadlines, obligations and the timeline, with the sender's control characters
        escaped; the NGO's notification reaches the outbox."""
        code, out, _ = await pathway(
            "case",
            "open",
            write(tmp_path, "id.json", {**IDENTIFIED, "occurred_at": now().isoformat()}),
        )
        assert code == 0
        case_id = out.strip()
        assert case_id.startswith("case-") and "cli-person" not in case_id
        code, out, _ = await pathway(
            "case",
            "event",
            case_id,
            write(
                tmp_path,
                "ngo.json",
                {
                    "type": "ngo_interview_held",
                    "event_id": "cli-2",
                    "organisation": "caritas",
                    "occurred_at": now().isoformat(),
                    "language": "de",
                    "interpreter_used": False,
                    "actor": "sw-12\x1b[2J",
                    "reason": "ok\r\n  2026-01-01 00:00  police: forged\u202e",
                },
            ),
        )
        assert code == 0
        assert "accepted ngo_interview_held cli-2" in out and "phase: identified" in out
        code, out, _ = await pathway("case", "show", case_id)
        assert code == 0
        assert "rights_information (R3)" in out
        assert "rights_information:e_protection (R3)" in out
        assert (
            "caritas (sw-12\\x1b[2J): ngo interview held [R2]  because: "
            "ok\\r\\n  2026-01-01 00:00  police: forged\\u202e\n"
        ) in out
        assert all(line.isprintable() for line in out.split("\n"))
        code, out, _ = await pathway("case", "show", case_id, "--json")
        assert json.loads(out)["case_id"] == case_id
        outbox = service / "caritas.jsonl"

        def outbox_lines() -> list[str]:
            return outbox.read_text().splitlines() if outbox.exists() else []

        lines = await eventually(outbox_lines)
        assert json.loads(lines[0])["reason"] == "case_identified"

    async def test_rejections_and_bad_input(self, service: Path, tmp_path: Path) -> None:
        """A rule violation exits 3 naming the rule; bad input exits 2 naming the field; an
        unknown case exits 4; nothing is changed by any of them."""
        code, out, _ = await pathway(
            "case",
            "open",
            write(
                tmp_path,
                "id.json",
                {
                    **IDENTIFIED,
                    "event_id": "cli-10",
                    "subject_ref": "cli-other",
                    "occurred_at": now().isoformat(),
                },
            ),
        )
        case_id = out.strip()
        police = {
            "type": "police_information_gathering_started",
            "event_id": "cli-11",
            "organisation": "police",
            "occurred_at": now().isoformat(),
            "trusted_person_offered": True,
            "present": "nobody",
        }
        code, _, err = await pathway("case", "event", case_id, write(tmp_path, "p.json", police))
        assert code == cli.EXIT_REJECTED and err.startswith("rejected: R2:")
        future = {
            **police,
            "type": "ngo_interview_held",
            "organisation": "caritas",
            "event_id": "cli-12",
            "language": "de",
            "interpreter_used": False,
            "occurred_at": (now() + timedelta(hours=2)).isoformat(),
        }
        del future["trusted_person_offered"], future["present"]
        code, _, err = await pathway("case", "event", case_id, write(tmp_path, "f.json", future))
        assert code == cli.EXIT_REJECTED and "TIME" in err and "occurred_at" in err
        code, _, err = await pathway(
            "case", "event", case_id, write(tmp_path, "u.json", {"type": "teleported"})
        )
        assert code == cli.EXIT_BAD_INPUT and "field type" in err
        code, _, err = await pathway(
            "case", "event", case_id, write(tmp_path, "m.json", {**police, "present": "everyone"})
        )
        assert code == cli.EXIT_BAD_INPUT and "field present" in err
        code, _, err = await pathway(
            "case", "event", case_id, write(tmp_path, "j.json", "{not json")
        )
        assert code == cli.EXIT_BAD_INPUT
        assert err == (
            f"error: {tmp_path / 'j.json'} is not valid JSON: Expecting property "
            "name enclosed in double quotes at line 1, column 2\n"
        )
        code, _, err = await pathway(
            "case", "event", "case-unknown", write(tmp_path, "p2.json", police)
        )
        assert code == cli.EXIT_UNKNOWN_CASE and "case-unknown" in err
        code, out, _ = await pathway("case", "show", case_id, "--json")
        assert [t["what"] for t in json.loads(out)["timeline"] if t["event_id"]] == ["identified"]


class TestSchema:
    def test_schema_lists_every_event_type(self) -> None:
        """pathway schema prints one JSON Schema covering every event type."""
        from pathway.domain.events import EVENT_TYPES

        out = io.StringIO()
        assert cli.run(["schema"], out) == 0
        schema = json.loads(out.getvalue())
        tags = set(schema["discriminator"]["mapping"])
        assert tags == set(EVENT_TYPES)


class TestProcess:
    def test_exit_code_of_a_real_process(self, tmp_path: Path) -> None:
        """As a process, a bad event exits 2 with the field on stderr (and no crash at exit)."""
        bad = write(tmp_path, "bad.json", {"type": "identified", "event_id": "x"})
        var = tmp_path / "var"  # as `pathway dev` leaves it: the CLI makes none of its own
        create_master_key(var / "master-keys")
        (var / "id-pepper").write_text("ab" * 32)
        proc = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "pathway.cli", "case", "open", bad],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "PATHWAY_VAR": str(var)},
        )
        assert proc.returncode == cli.EXIT_BAD_INPUT
        assert "field person: Field required" in proc.stderr


class TestErase:
    async def test_history_names_the_run_it_read(self, service: Path, tmp_path: Path) -> None:
        """Issue 12: `case history` names the run it exported and its episode on stderr, and
        `--run` reads that run again; an unknown run is exit 4, a malformed one a usage error."""
        body = {**IDENTIFIED, "event_id": "cli-21", "subject_ref": "history-of-a-run"}
        code, out, _ = await pathway(
            "case", "open", write(tmp_path, "id.json", {**body, "occurred_at": now().isoformat()})
        )
        case_id = out.strip()
        code, out, err = await pathway("case", "history", case_id)
        named = re.fullmatch(rf"history of {case_id} run (\S+) \(episode 1\)\n", err)
        assert code == 0 and named is not None, err
        code, again, _ = await pathway("case", "history", case_id, "--run", named[1])
        first = json.loads(out)["events"]
        assert code == 0 and json.loads(again)["events"][: len(first)] == first  # still running
        code, _, err = await pathway("case", "history", case_id, "--run", str(uuid.uuid4()))
        assert code == cli.EXIT_UNKNOWN_CASE, err
        with pytest.raises(SystemExit) as usage:  # argparse's usage error, exit 2
            await pathway("case", "history", case_id, "--run", "no-such-run")
        assert usage.value.code == 2

    async def test_only_an_operator_erases(
        self, service: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`case erase` needs an operator's token; afterwards the history export and the case
        view say the case was erased, and `keys rewrap` reports the key store."""
        from pathway.access.credentials import hash_token

        (tmp_path / "credentials.toml").write_text(
            "".join(
                f'[[tokens]]\nname = "{name}"\nrole = "{role}"\nsha256 = "{hash_token(token)}"\n'
                for name, role, token in [
                    ("op-1", "operator", "op-secret-token"),
                    ("ngo-1", "caritas", "ngo-secret-token"),
                ]
            )
        )
        code, out, _ = await pathway(
            "case",
            "open",
            write(
                tmp_path,
                "id.json",
                {
                    **IDENTIFIED,
                    "event_id": "cli-20",
                    "subject_ref": "erase-me",
                    "occurred_at": now().isoformat(),
                },
            ),
        )
        case_id = out.strip()
        code, out, _ = await pathway("case", "history", case_id)
        assert (
            code == 0
            and json.loads(out)["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
        )
        code, _, err = await pathway("case", "erase", case_id)
        assert code == cli.EXIT_NOT_ALLOWED and "PATHWAY_TOKEN" in err
        monkeypatch.setenv("PATHWAY_TOKEN", "ngo-secret-token")
        code, _, err = await pathway("case", "erase", case_id)
        assert code == cli.EXIT_NOT_ALLOWED and "operator" in err
        monkeypatch.setenv("PATHWAY_TOKEN", "op-secret-token")
        code, out, _ = await pathway("case", "erase", case_id)
        assert code == 0 and out == f"{case_id} erased; its workflow was terminated\n"
        code, _, err = await pathway("case", "history", case_id)
        assert code == cli.EXIT_UNKNOWN_CASE and "was erased" in err
        code, _, err = await pathway("case", "show", case_id)
        assert code == cli.EXIT_UNKNOWN_CASE and "was erased" in err
        code, out, _ = await pathway("keys", "rewrap")
        assert code == 0 and out.startswith("re-wrapped 0 data keys under mk-")

        # Issue 12: the episodes, and a new one when the erased person is identified again.
        code, out, _ = await pathway("case", "episodes", case_id, "--json")
        assert code == 0
        assert [(e["episode"], e["status"]) for e in json.loads(out)["episodes"]] == [(1, "erased")]
        again = {**IDENTIFIED, "event_id": "cli-21", "subject_ref": "erase-me"}
        code, out, _ = await pathway(
            "case",
            "open",
            write(tmp_path, "again.json", {**again, "occurred_at": now().isoformat()}),
        )
        assert code == 0 and out.strip() == case_id
        code, out, _ = await pathway("case", "episodes", case_id)
        assert code == 0 and "episode 1  erased" in out and "episode 2  open" in out
        code, _, _ = await pathway("case", "episodes", "case-aaaaaaaaaaaaaaaaaaaaaaaa")
        assert code == cli.EXIT_UNKNOWN_CASE

        # The sweep now: operators only; the open episode is never due.
        monkeypatch.setenv("PATHWAY_TOKEN", "ngo-secret-token")
        code, _, err = await pathway("retention", "sweep", "--dry-run")
        assert code == cli.EXIT_NOT_ALLOWED
        monkeypatch.setenv("PATHWAY_TOKEN", "op-secret-token")
        monkeypatch.setenv("PATHWAY_RETENTION_DAYS", "0")
        code, out, _ = await pathway("retention", "sweep", "--dry-run", "--json")
        assert code == 0, out
        assert case_id not in {e["case_id"] for e in json.loads(out)["episodes"]}
        code, out, _ = await pathway("retention", "sweep")
        assert code == 0 and out.endswith("episode(s) erased\n")
        code, out, _ = await pathway("case", "episodes", case_id, "--json")
        assert [e["status"] for e in json.loads(out)["episodes"]] == ["erased", "open"]
