"""One log format for our lines and the Temporal SDK's, with personal data redacted."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from typing import Any

import pytest
import structlog
from pydantic import BaseModel
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from pathway.logs import PERSONAL_FIELDS, REDACTED, configure_logging, drop_personal_fields

pytestmark = pytest.mark.usefixtures("restored_logging")


def json_lines(err: str) -> list[dict[str, Any]]:
    """Every line of ``err`` parsed as one JSON object (fails on any other line)."""
    return [json.loads(line) for line in err.splitlines()]


def _fail_for(full_name: str) -> float:
    """Raise with a personal value among the failing frame's locals."""
    return len(full_name) / 0


class _Person(BaseModel):
    birth_date: date
    citizenships: list[str]
    residence_status: str


class TestDropPersonalFields:
    def test_top_level_personal_keys_are_redacted(self) -> None:
        """Personal keys get "[redacted]" as their value; other keys are kept as they are."""
        out = drop_personal_fields(
            None, "info", {"event": "x", "case_id": "c-1", "full_name": "Ana", "email": "a@b.si"}
        )

        assert out == {"event": "x", "case_id": "c-1", "full_name": REDACTED, "email": REDACTED}

    def test_keys_match_whatever_their_case(self) -> None:
        """``Subject_Ref`` is as personal as ``subject_ref``."""
        out = drop_personal_fields(None, "info", {"event": "x", "Subject_Ref": "P-7"})

        assert out["Subject_Ref"] == REDACTED

    def test_one_level_of_nesting_is_redacted_without_touching_the_original(self) -> None:
        """Keys inside a dict value are redacted in a copy; the caller's dict keeps its data."""
        payload = {"type": "identified", "subject_ref": "P-7", "reason": "free text"}

        out = drop_personal_fields(None, "info", {"event": "x", "payload": payload})

        assert out["payload"] == {"type": "identified", "subject_ref": REDACTED, "reason": REDACTED}
        assert payload["subject_ref"] == "P-7"

    def test_a_pydantic_model_is_logged_as_its_redacted_dump(self) -> None:
        """A model (whose repr lists every field) becomes its dump with personal keys redacted."""
        person = _Person(
            birth_date=date(2001, 2, 3), citizenships=["NG"], residence_status="third_country"
        )

        out = drop_personal_fields(None, "info", {"event": "x", "facts": person})

        assert out["facts"] == {
            "birth_date": REDACTED,
            "citizenships": REDACTED,
            "residence_status": "third_country",
        }

    def test_the_documented_keys_are_personal(self) -> None:
        """Every key the privacy rules name is in ``PERSONAL_FIELDS``."""
        named = {
            "name", "full_name", "birth_date", "date_of_birth", "subject_ref", "person",
            "document_number", "permit_number", "passport", "address", "phone", "email",
            "languages", "citizenships", "special_needs", "health", "reason", "action", "consent",
        }  # fmt: skip

        assert named <= PERSONAL_FIELDS


class TestConfigureLogging:
    def test_personal_fields_are_redacted_in_the_real_output(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The configured pipeline redacts, at the top level and one level down."""
        configure_logging(json=True)

        structlog.get_logger("pathway.test").info(
            "event rejected", name="Ana Novak", payload={"type": "identified", "passport": "X1"}
        )

        err = capsys.readouterr().err
        assert "Ana Novak" not in err
        assert "X1" not in err
        [entry] = json_lines(err)
        assert entry["name"] == REDACTED
        assert entry["payload"] == {"type": "identified", "passport": REDACTED}

    def test_json_is_one_object_per_line_with_bound_context(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Each entry is one JSON line carrying the case_id bound through contextvars."""
        configure_logging(json=True)
        structlog.contextvars.bind_contextvars(case_id="case-123")
        log = structlog.get_logger("pathway.test")

        log.info("case opened", phase="identification")
        log.warning("deadline near", days_left=5)

        entries = json_lines(capsys.readouterr().err)
        assert [e["event"] for e in entries] == ["case opened", "deadline near"]
        assert all(e["case_id"] == "case-123" for e in entries)
        assert [e["level"] for e in entries] == ["info", "warning"]

    def test_timestamps_are_iso_utc(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The timestamp is ISO 8601 in UTC."""
        configure_logging(json=True)

        structlog.get_logger().info("tick")

        [entry] = json_lines(capsys.readouterr().err)
        stamp = datetime.fromisoformat(entry["timestamp"])
        assert stamp.utcoffset() == UTC.utcoffset(None)

    def test_stdlib_temporalio_lines_use_the_same_renderer(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A stdlib ``temporalio`` logger line comes out as JSON with context, extras, redaction."""
        configure_logging(json=True)
        structlog.contextvars.bind_contextvars(case_id="case-123")

        logging.getLogger("temporalio.workflow").info(
            "phase is %s",
            "reflection_period",
            extra={"temporal_workflow": {"workflow_id": "case-123"}, "email": "a@b.si"},
        )

        [entry] = json_lines(capsys.readouterr().err)
        assert entry["event"] == "phase is reflection_period"
        assert entry["logger"] == "temporalio.workflow"
        assert entry["case_id"] == "case-123"
        assert entry["temporal_workflow"] == {"workflow_id": "case-123"}
        assert entry["email"] == REDACTED

    async def test_the_sdk_activity_logger_uses_the_same_renderer(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``activity.logger`` output is JSON with the SDK's ``temporal_activity`` details."""
        configure_logging(json=True)

        @activity.defn(name="notify")
        async def notify() -> None:
            activity.logger.info("delivering", extra={"address": "Slovenska 1"})

        await ActivityEnvironment().run(notify)

        [entry] = json_lines(capsys.readouterr().err)
        assert entry["event"].startswith("delivering")
        assert entry["temporal_activity"]["activity_id"] == "test"
        assert entry["address"] == REDACTED

    def test_console_format_renders_context_and_redacts(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The terminal format is key=value text, redacted too."""
        configure_logging(json=False)
        structlog.contextvars.bind_contextvars(case_id="case-123")

        structlog.get_logger("pathway.test").info("case opened", phone="+386 1 234")

        err = capsys.readouterr().err
        assert "case opened" in err
        assert "case_id=case-123" in err
        assert "+386" not in err
        with pytest.raises(json.JSONDecodeError):
            json.loads(err)

    def test_json_is_chosen_when_stderr_is_not_a_terminal(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``json=None`` picks JSON when stderr is not a TTY (as under capture)."""
        configure_logging()

        structlog.get_logger().info("auto")

        assert json_lines(capsys.readouterr().err)[0]["event"] == "auto"

    def test_calling_twice_installs_one_handler(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A second call replaces the first: each entry is still written once."""
        configure_logging(json=True)
        configure_logging(json=True)

        logging.getLogger("temporalio").warning("once")

        assert len(json_lines(capsys.readouterr().err)) == 1

    def test_entries_below_the_level_are_dropped(self, capsys: pytest.CaptureFixture[str]) -> None:
        """At level WARNING, info lines (ours and stdlib's) are not written."""
        configure_logging(json=True, level="warning")

        structlog.get_logger().info("quiet")
        logging.getLogger("temporalio").info("quiet too")
        structlog.get_logger().warning("loud")

        assert [e["event"] for e in json_lines(capsys.readouterr().err)] == ["loud"]

    def test_json_tracebacks_leave_out_local_variables(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An exception is logged on one line, without the frames' locals."""
        configure_logging(json=True)
        with pytest.raises(ZeroDivisionError) as caught:
            _fail_for("Ana Novak")

        structlog.get_logger().error("failed", exc_info=caught.value)

        err = capsys.readouterr().err
        [entry] = json_lines(err)
        assert entry["exception"][0]["exc_type"] == "ZeroDivisionError"
        assert "Ana Novak" not in err
