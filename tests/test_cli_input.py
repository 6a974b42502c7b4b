"""The CLI on bad input and bad surroundings: one line on stderr and the right exit code, never a
traceback; and nothing a sender wrote reaches the operator's terminal raw."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.service import RPCError, RPCStatusCode

from pathway import cli
from pathway.cli import case as cli_case
from pathway.cli import schema as cli_schema
from pathway.clients import cases
from pathway.domain.events import ChildDecision
from pathway.domain.state import CaseState, TimelineEntry
from tests.factories import T0, accept, event, opened
from tests.test_rejections import case_with_rejections

VALID = {
    "type": "identified",
    "event_id": "in-1",
    "organisation": "police",
    "occurred_at": "2026-11-20T09:00:00+01:00",
    "subject_ref": "input-person",
    "person": {"citizenships": ["DE"], "residence_status": "eu_citizen"},
}
UNREACHABLE_HINT = "start the service with bin/serve, or set --address / PATHWAY_TEMPORAL_ADDRESS"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def process(
    *argv: str, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI as a shell runs it (``main``: its own process, exit code, os._exit), with
    ``stdin`` as raw bytes."""
    proc = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "pathway.cli", *argv],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def one_line(text: str) -> str:
    """The single line of ``text``; fails if there are more (or a traceback)."""
    assert "Traceback" not in text
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    return text[:-1]


@pytest.fixture(autouse=True)
def state_dir(cli_state: Path) -> Path:
    """Every test here runs with the state directory `pathway dev` would have made."""
    return cli_state


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port bound but not listening: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


class TestEventFiles:
    def test_binary_file(self, tmp_path: Path) -> None:
        path = tmp_path / "photo.json"
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
        code, _, err = run("case", "open", str(path))
        assert code == cli.EXIT_BAD_INPUT
        assert one_line(err) == (
            f"error: {path} is not UTF-8 text (invalid byte at offset 0); an event file is JSON"
        )

    def test_directory(self, tmp_path: Path) -> None:
        code, _, err = run("case", "event", "case-x", str(tmp_path))
        assert code == cli.EXIT_BAD_INPUT
        assert one_line(err) == f"error: {tmp_path} is a directory, not an event file"

    def test_nonexistent(self, tmp_path: Path) -> None:
        code, _, err = run("case", "open", str(tmp_path / "nope.json"))
        assert code == cli.EXIT_BAD_INPUT
        assert one_line(err) == f"error: {tmp_path / 'nope.json'} does not exist"

    def test_nested_100000_deep(self, tmp_path: Path) -> None:
        path = tmp_path / "deep.json"
        path.write_text("[" * 100_000 + "]" * 100_000)
        code, _, err = run("case", "open", str(path))
        assert code == cli.EXIT_BAD_INPUT
        assert one_line(err) == f"error: {path} is nested too deeply to be an event"

    def test_invalid_json_message_is_whole(self, tmp_path: Path) -> None:
        """The decoder's message, then where: nothing cut off."""
        path = tmp_path / "x.json"
        path.write_text('{\n  "type": "identified",\n  "event_id": "a"\n  "organisation": 1}')
        code, _, err = run("case", "open", str(path))
        assert code == cli.EXIT_BAD_INPUT
        assert one_line(err) == (
            f"error: {path} is not valid JSON: Expecting ',' delimiter at line 4, column 3"
        )

    def test_nan_is_not_json(self, tmp_path: Path) -> None:
        path = tmp_path / "nan.json"
        path.write_text('{"type": NaN}')
        code, _, err = run("case", "open", str(path))
        assert code == cli.EXIT_BAD_INPUT
        assert one_line(err) == f"error: {path} is not valid JSON: NaN is not a JSON number"

    def test_date_time_errors_name_the_format(self, tmp_path: Path) -> None:
        path = tmp_path / "dates.json"
        path.write_text(
            json.dumps(
                {
                    **VALID,
                    "occurred_at": "20.11.2026 09:00",
                    "person": {**VALID["person"], "birth_date": "1.2.1990"},  # type: ignore[dict-item]
                }
            )
        )
        code, _, err = run("case", "open", str(path))
        assert code == cli.EXIT_BAD_INPUT
        lines = err.splitlines()
        assert lines[0] == "error: invalid event:"
        occurred = next(line for line in lines if "field occurred_at:" in line)
        birth = next(line for line in lines if "field person.birth_date:" in line)
        assert occurred.endswith(
            "(expected ISO 8601 with a UTC offset, e.g. 2026-11-20T09:00:00+01:00)"
        )
        assert birth.endswith("(expected ISO 8601, e.g. 2026-11-20)")

    def test_an_implausible_birth_date_names_the_field_and_the_rule(self, tmp_path: Path) -> None:
        """Issue 13 (docs/rules.md "INPUT"): born after the event, and before 1900: exit 2, each
        field named with its rule, nothing sent to a case."""
        path = tmp_path / "born-later.json"
        person = {**VALID["person"], "birth_date": "2029-11-20"}  # type: ignore[dict-item]
        path.write_text(json.dumps({**VALID, "person": person}))
        code, _, err = run("case", "open", str(path))
        assert code == cli.EXIT_BAD_INPUT
        assert err.splitlines() == [
            "error: invalid event:",
            "  field person.birth_date: INPUT: a birth date cannot lie after the event "
            "(occurred_at)",
        ]
        path.write_text(json.dumps({**VALID, "person": {**person, "birth_date": "1899-12-31"}}))
        code, _, err = run("case", "open", str(path))
        assert code == cli.EXIT_BAD_INPUT
        assert "field person.birth_date: INPUT: a date must lie between 1900-01-01" in err

    def test_time_without_offset_names_the_format(self, tmp_path: Path) -> None:
        path = tmp_path / "naive.json"
        path.write_text(json.dumps({**VALID, "occurred_at": "2026-11-20T09:00:00"}))
        code, _, err = run("case", "open", str(path))
        assert code == cli.EXIT_BAD_INPUT
        assert (
            "field occurred_at: Input should have timezone info (expected ISO 8601 with a "
            "UTC offset, e.g. 2026-11-20T09:00:00+01:00)" in err
        )

    def test_field_names_from_the_sender_are_escaped(self, tmp_path: Path) -> None:
        """An unknown field's name is the sender's text: it cannot add a line to the error."""
        path = tmp_path / "extra.json"
        path.write_text(json.dumps({**VALID, "x\n\x1b[2Jrejected: R0": 1}))
        code, _, err = run("case", "open", str(path))
        assert code == cli.EXIT_BAD_INPUT
        assert "\x1b" not in err and "\nrejected" not in err
        assert "field x\\n\\x1b[2Jrejected: R0: Extra inputs are not permitted" in err

    @pytest.mark.parametrize(
        ("name", "content", "expected"),
        [
            ("binary", b"\xff\xfe\x00binary", "is not UTF-8 text"),
            ("deep", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "is nested too deeply"),
        ],
    )
    def test_as_a_process(self, tmp_path: Path, name: str, content: bytes, expected: str) -> None:
        """From a shell: exit 2, one line, no traceback (file and standard input alike)."""
        path = tmp_path / f"{name}.json"
        path.write_bytes(content)
        proc = process("case", "open", str(path))
        assert proc.returncode == cli.EXIT_BAD_INPUT
        assert expected in one_line(proc.stderr)
        proc = process("case", "open", "-", stdin=content)
        assert proc.returncode == cli.EXIT_BAD_INPUT
        assert one_line(proc.stderr).startswith(f"error: standard input {expected}")

    def test_directory_and_missing_file_as_a_process(self, tmp_path: Path) -> None:
        for target in (tmp_path, tmp_path / "missing.json"):
            proc = process("case", "event", "case-x", str(target))
            assert proc.returncode == cli.EXIT_BAD_INPUT
            assert one_line(proc.stderr).startswith(f"error: {target} ")


class TestTemporalUnavailable:
    def test_names_the_address_and_how_to_start(self, tmp_path: Path, closed_port: int) -> None:
        path = tmp_path / "ok.json"
        path.write_text(json.dumps(VALID))
        proc = process("--address", f"127.0.0.1:{closed_port}", "case", "open", str(path))
        assert proc.returncode == cli.EXIT_UNAVAILABLE
        assert one_line(proc.stderr) == (
            f"error: could not reach Temporal at 127.0.0.1:{closed_port} (namespace default); "
            + UNREACHABLE_HINT
        )

    def test_address_and_namespace_from_the_environment(
        self, closed_port: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PATHWAY_TEMPORAL_ADDRESS", f"127.0.0.1:{closed_port}")
        monkeypatch.setenv("PATHWAY_NAMESPACE", "pathway-test")
        code, _, err = run("case", "show", "case-x")
        assert code == cli.EXIT_UNAVAILABLE
        assert one_line(err) == (
            f"error: could not reach Temporal at 127.0.0.1:{closed_port} (namespace "
            f"pathway-test); {UNREACHABLE_HINT}"
        )

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            (
                RPCStatusCode.UNAVAILABLE,
                "error: could not reach Temporal at 127.0.0.1:7233 (namespace default); "
                + UNREACHABLE_HINT,
            ),
            (
                RPCStatusCode.PERMISSION_DENIED,
                "error: Temporal at 127.0.0.1:7233 (namespace default) refused the request "
                "(PERMISSION_DENIED): Request unauthorized.",
            ),
        ],
    )
    def test_an_rpc_error_later_is_one_line(
        self, monkeypatch: pytest.MonkeyPatch, status: RPCStatusCode, expected: str
    ) -> None:
        """Connected, then a call fails: the transport's own dump is not shown."""
        monkeypatch.delenv("PATHWAY_TEMPORAL_ADDRESS", raising=False)
        monkeypatch.delenv("PATHWAY_NAMESPACE", raising=False)

        async def connected(args: Any) -> object:
            return object()

        async def failing(client: object, case_id: str) -> CaseState:
            raise RPCError(
                "Request unauthorized.\ndetails: tonic::transport::Error(...)", status, b""
            )

        monkeypatch.setattr(cli_case, "connect", connected)
        monkeypatch.setattr(cases, "case_state", failing)
        code, _, err = run("case", "show", "case-x")
        assert code == cli.EXIT_UNAVAILABLE
        assert one_line(err) == expected


class TestUnexpectedErrors:
    @pytest.fixture
    def broken_schema(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def broken(args: Any, out: Any) -> int:
            raise ValueError("something no one foresaw")

        monkeypatch.setattr(cli_schema, "_schema", broken)

    @pytest.mark.usefixtures("broken_schema")
    def test_one_line_naming_the_type(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("PATHWAY_DEBUG", raising=False)
        code, out, err = run("schema")
        assert code == cli.EXIT_INTERNAL and out == ""
        assert one_line(err).startswith("error: internal error (ValueError); ")

    @pytest.mark.usefixtures("broken_schema")
    def test_debug_shows_the_traceback(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PATHWAY_DEBUG", "1")
        code, _, err = run("schema")
        assert code == cli.EXIT_INTERNAL
        assert "Traceback" in err and "something no one foresaw" in err
        assert err.endswith("error: internal error (ValueError); traceback above\n")

    def test_as_a_process(self) -> None:
        """Without logging set up (a one-off command), the line says how to see more."""
        script = (
            "import sys\nfrom pathway import cli\nfrom pathway.cli import schema\n"
            "def broken(args, out):\n    raise KeyError('x')\n"
            "schema._schema = broken\ncli.main(['schema'])\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "PATHWAY_DEBUG"}
        proc = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
        assert proc.returncode == cli.EXIT_INTERNAL
        assert one_line(proc.stderr) == (
            "error: internal error (KeyError); run again with PATHWAY_DEBUG=1 for the traceback"
        )


# -- what senders wrote, on the operator's terminal ---------------------------------------------

HOSTILE = [
    "\x1b[2J\x1b[31mred",
    "cr\rover",
    "line\n  2026-01-01 00:00  police: forged",
    "nul\x00",
    "c1\x9b31m\x85next",
    "bidi\u202eevil\u2066x\u2069",
    "zw\u200bj",
    "sep\u2028par\u2029",
    "lone\ud800",
    "del\x7f",
    "bell\x07tab\t",
]


class TestPrintable:
    @pytest.mark.parametrize("text", HOSTILE)
    def test_hostile_text_becomes_one_printable_line(self, text: str) -> None:
        shown = cli.printable(text)
        assert shown.isprintable()
        assert cli.printable(shown) == shown  # idempotent: escaping twice changes nothing

    def test_escapes_are_readable(self) -> None:
        assert cli.printable("a\nb\rc\td\x00e\x1bf\x9bg\u202eh\U000e0001") == (
            "a\\nb\\rc\\td\\x00e\\x1bf\\x9bg\\u202eh\\U000e0001"
        )

    def test_ordinary_text_is_unchanged(self) -> None:
        for text in (
            "Ključ, Caritas Slovenija",
            "Žiga Šušteršič",
            "سلام",
            "日本語",
            "a\u00a0b",
            "C:\\path",
            "emoji 🙂",
            "",
        ):
            assert cli.printable(text) == text


def hostile_case() -> CaseState:
    """A case whose event texts (actor, reason, a child's notes) try to forge lines."""
    state = opened()
    state = accept(
        state,
        event(
            "ngo_interview_held",
            T0 + timedelta(hours=1),
            actor="sw-12\x1b[2J\x1b[H",
            reason=HOSTILE[2] + "\r" + HOSTILE[5],
        ),
    )
    entry = TimelineEntry(
        at=T0 + timedelta(hours=2),
        recorded_at=T0 + timedelta(hours=2),
        who="social_work_centre (x\x1b]0;title\x07)",
        what="guardian appointed",
        why=None,
        rule="C4",
        child=ChildDecision(
            best_interests="ok\n      the child's views: forged", child_views="fine\x00\u202e"
        ),
    )
    return state.model_copy(update={"timeline": [*state.timeline, entry]})


def assert_terminal_safe(text: str) -> list[str]:
    lines = text.split("\n")
    assert lines[-1] == ""
    for line in lines[:-1]:
        assert line.isprintable(), repr(line)
    return lines[:-1]


class TestRenderedOutput:
    def test_case_show_escapes_every_event_text(self) -> None:
        out = io.StringIO()
        cli.render_case(hostile_case(), out)
        lines = assert_terminal_safe(out.getvalue())
        timeline = lines[lines.index("Timeline") + 1 :]
        # One line per entry, plus the two child lines: nothing forged.
        assert len(timeline) == len(hostile_case().timeline) + 2
        interview = next(line for line in timeline if "ngo interview held" in line)
        assert "caritas (sw-12\\x1b[2J\\x1b[H): ngo interview held" in interview
        assert "because: line\\n  2026-01-01 00:00  police: forged\\rbidi\\u202eevil" in interview
        assert not any(line.lstrip().startswith("2026-01-01") for line in timeline)
        assert "      best interests: ok\\n      the child's views: forged" in lines
        assert "      the child's views: fine\\x00\\u202e" in lines
        assert any(
            "social_work_centre (x\\x1b]0;title\\x07): guardian appointed" in line
            for line in timeline
        )

    def test_ordinary_case_is_unchanged(self) -> None:
        """Escaping does not touch ordinary text (the README's examples print as before)."""
        state = accept(
            opened(),
            event(
                "ngo_interview_held",
                T0 + timedelta(hours=1),
                actor="sw-12",
                reason="Pogovor v slovenščini",
            ),
        )
        out = io.StringIO()
        cli.render_case(state, out)
        assert (
            "caritas (sw-12): ngo interview held [R2]  because: Pogovor v slovenščini"
            in out.getvalue()
        )

    def test_rejected_events_after_the_timeline(self) -> None:
        """Issue 17 item 3: the rejected events follow the timeline, one line each, with the
        rule, its reason and field; a case without any prints no such section."""
        out = io.StringIO()
        cli.render_case(case_with_rejections(), out)
        lines = assert_terminal_safe(out.getvalue())
        rejected = lines[lines.index("Rejected events (they changed nothing)") + 1 :]
        assert len(rejected) == 3
        assert "police: police information gathering started rejected [R2]" in rejected[0]
        assert rejected[0].endswith("(field type)  event pol-early")
        plain = io.StringIO()
        cli.render_case(opened(), plain)
        assert "Rejected events" not in plain.getvalue()

    def test_summary_lines_escape_every_value(self) -> None:
        summary: dict[str, Any] = {
            "phase": "identified\x1b[8m",
            "upcoming_deadlines": [
                {"kind": "k\n", "rule": "R\r1", "due_at": None, "next_reminder_at": None}
            ],
            "open_obligations": [
                {
                    "id": "ob\u202e",
                    "rule": "R3",
                    "owner": "car\x00itas",
                    "due_at": None,
                    "escalated": True,
                }
            ],
        }
        out = io.StringIO()
        cli_case.write_summary_lines(summary, out)
        assert assert_terminal_safe(out.getvalue()) == [
            "phase: identified\\x1b[8m",
            "  deadline k\\n (R\\r1) due -  next reminder -",
            "  obligation ob\\u202e (R3) owner car\\x00itas due -  ESCALATED",
        ]
