"""One log format for the whole process: ours, the Temporal SDK's and every other library's.

structlog renders; the stdlib ``logging`` module routes. Our own loggers hand their event dicts
to stdlib (``ProcessorFormatter.wrap_for_formatter``) and one ``ProcessorFormatter`` on one
stderr handler renders everything, so ``workflow.logger`` / ``activity.logger`` lines (stdlib
adapters under ``temporalio.*``) come out in the same format, with the same redaction, as ours.

Personal data must never reach a log (docs/rules.md "The case"; docs/privacy.md). Callers are
expected not to log it; :func:`drop_personal_fields` is the second line of defence that redacts
known personal keys.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from pydantic import BaseModel
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = ["PERSONAL_FIELDS", "REDACTED", "configure_logging", "drop_personal_fields"]

#: Keys whose values are personal data about a victim (or free text that may contain it).
#: Matched case-insensitively, at the top level of an entry and one level down.
PERSONAL_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "full_name",
        "first_name",
        "last_name",
        "surname",
        "birth_date",
        "date_of_birth",
        "age_estimate",
        "gender",
        "subject_ref",
        "person",
        "document_number",
        "permit_number",
        "passport",
        "address",
        "phone",
        "email",
        "languages",
        "citizenships",
        "special_needs",
        "health",
        "reason",
        "action",
        "consent",
    }
)

REDACTED = "[redacted]"

# Marks the handler this module installs, so a second call replaces it instead of adding another.
_HANDLER_NAME = "pathway"

# Libraries whose INFO lines would leak more than they help: httpx logs every request URL, and a
# webhook URL may carry a token in its query string.
_QUIET_LOGGERS = ("httpx", "httpcore")


def _redact_mapping(mapping: Mapping[Any, Any]) -> dict[Any, Any]:
    return {
        key: REDACTED if isinstance(key, str) and key.lower() in PERSONAL_FIELDS else value
        for key, value in mapping.items()
    }


def drop_personal_fields(
    logger: WrappedLogger, method_name: str, event_dict: EventDict
) -> EventDict:
    """Replace the value of every personal key with ``"[redacted]"``.

    Looks at the entry's own keys and one level into dict (and pydantic model) values, e.g.
    ``log.info("event rejected", payload={"type": "identified", "subject_ref": "…"})``. Nested
    values are copied, never changed in place: they may be the caller's live objects.
    """
    for key, value in event_dict.items():
        if key.lower() in PERSONAL_FIELDS:
            event_dict[key] = REDACTED
        elif isinstance(value, Mapping):
            event_dict[key] = _redact_mapping(value)
        elif isinstance(value, BaseModel):
            # A model's repr would print every field, so it is logged as its redacted dump.
            event_dict[key] = _redact_mapping(value.model_dump(mode="json"))
    return event_dict


def _shared_processors() -> list[Processor]:
    """What every entry gets before rendering, whether it came from structlog or stdlib."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _renderer(json: bool) -> list[Processor]:
    if json:
        return [
            # Tracebacks as structured data keep one entry on one line. Never with the frames'
            # local variables: those are where a person's facts would be.
            structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
            structlog.processors.JSONRenderer(),
        ]
    # The plain formatter because the default one turns to rich (with locals) once installed.
    return [
        structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    ]


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time of each entry.

    Binding the stream once would keep writing to a replaced stderr (pytest's capture, a
    daemon's reopened stream) after it is gone.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(*, json: bool | None = None, level: str = "INFO") -> None:
    """Send all logging (structlog and stdlib) to stderr in one format.

    ``json=None`` picks the console format on a terminal and JSON (one object per line)
    otherwise. Calling it again replaces the earlier configuration.
    """
    if json is None:
        json = not sys.stderr.isatty()

    formatter = structlog.stdlib.ProcessorFormatter(
        # Applied only to stdlib records (the Temporal SDK's among them); ExtraAdder keeps the
        # ``temporal_workflow`` / ``temporal_activity`` dicts the SDK's adapters attach.
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
        # Applied to every record. Redaction comes last before rendering so that it also sees
        # the context and extras merged in above.
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            drop_personal_fields,
            *_renderer(json),
        ],
    )
    handler = _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a module-level logger must follow a later reconfiguration (and
        # structlog.testing.capture_logs); these services log a few lines per event, so the
        # lookup costs nothing that matters.
        cache_logger_on_first_use=False,
    )
