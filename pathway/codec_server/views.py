"""Decoded payloads as a member of the case may see them (docs/rules.md "Access", R6, K4;
docs/privacy.md "Who sees what").

A decoded payload of a case is recognised by its shape: JSON (encoding ``json/plain``) whose
keys are all fields of one of the models a case's workflow exchanges, and which validates as it
(:data:`SHAPES`):

- :class:`~pathway.domain.events.RecordEvent`: an update's argument, ``{"event": {...}}``;
- :class:`~pathway.domain.state.EventResult`: an update's result;
- :class:`~pathway.domain.rules.RejectionNote`: the ``note_rejection`` update's argument (a
  rejected event's metadata, issue 17 item 3);
- :class:`~pathway.domain.state.CaseState`: the ``state`` query's answer;
- :class:`~pathway.workflows.inputs.CaseInput`: the workflow's input (start, continue-as-new, a
  child's case opened by its parent's);
- :class:`~pathway.domain.state.CaseSummary`; :class:`~pathway.workflows.inputs.CaseOutcome`: the
  workflow's result;
- a bare event.

Each is answered with the view :func:`pathway.access.policy.decoded_view` computes for the
role (the same read matrix as the gateway's), as compact JSON. Everything else (notification
activities, failures, markers, query answers of other queries, ``null``, anything not JSON), and
every recognised payload of which the role may see nothing (a ``special_need_flagged`` event
for the police: R6), is replaced by one fixed placeholder, :data:`PLACEHOLDER` (JSON of
:data:`~pathway.access.policy.WITHHELD`), the same whatever was withheld: nothing is told by its
size or shape. Payloads keep their count and order (the web UI maps answers to its payloads by
position).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import Payload

from pathway.access.policy import READ_MATRIX, WITHHELD, decoded_view, may_read
from pathway.domain.events import EVENT_ADAPTER, RecordEvent
from pathway.domain.rules import RejectionNote
from pathway.domain.state import CaseState, CaseSummary, EventResult
from pathway.workflows.inputs import CaseInput, CaseOutcome

__all__ = ["PLACEHOLDER", "SHAPES", "filtered", "view_of"]

_JSON: Final = b"json/plain"


def _json_payload(value: object) -> Payload:
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return Payload(metadata={"encoding": _JSON}, data=data.encode("utf-8"))


#: What every withheld payload decodes to, whatever it held.
PLACEHOLDER: Final = _json_payload(dict(WITHHELD))


def _case_input_view(start: CaseInput, role: str) -> dict[str, Any] | None:
    """A workflow input, part by part: the state and the identification as
    :func:`~pathway.access.policy.decoded_view` shows them; the configuration and the linked
    case as READ_MATRIX says (``config``, ``linked_cases``)."""
    view: dict[str, Any] = {}
    for name, part in (("state", start.state), ("identified", start.identified)):
        shown = decoded_view(part, role) if part is not None else None
        if shown:
            view[name] = shown
    if start.linked_case_id is not None and may_read(role, "linked_cases"):
        view["linked_case_id"] = start.linked_case_id
    if may_read(role, "config"):
        view["config"] = start.config.model_dump(mode="json")
    return view or None


def _outcome_view(outcome: CaseOutcome, role: str) -> dict[str, Any] | None:
    """A workflow's result: the case ID and its last phase, as READ_MATRIX says."""
    view = {
        name: value
        for name, value in outcome.model_dump(mode="json").items()
        if name in READ_MATRIX and may_read(role, name)
    }
    return view or None


#: The shapes recognised, most specific first: (model, its view for a role).
SHAPES: Final[tuple[tuple[type[BaseModel], Callable[[Any, str], dict[str, Any] | None]], ...]] = (
    (RecordEvent, decoded_view),
    (EventResult, decoded_view),
    (RejectionNote, decoded_view),
    (CaseState, decoded_view),
    (CaseOutcome, _outcome_view),
    (CaseSummary, decoded_view),
    (CaseInput, _case_input_view),
)


def view_of(data: object, role: str) -> dict[str, Any] | None:
    """The view ``role`` may see of a decoded JSON value, or None to withhold it: the first of
    :data:`SHAPES` (or an event) that ``data`` fits, with no key the model lacks."""
    if not isinstance(data, dict):
        return None
    for model, view in SHAPES:
        if not set(data) <= set(model.model_fields):
            continue
        try:
            value = model.model_validate(data)
        except ValidationError:
            continue
        return view(value, role)
    try:
        event = EVENT_ADAPTER.validate_python(data)
    except ValidationError:
        return None
    return decoded_view(event, role)


def filtered(payload: Payload, role: str) -> Payload:
    """A decoded payload as ``role``, a member of its case, may see it: its view as compact
    JSON, or :data:`PLACEHOLDER`. Never raises for what the payload holds."""
    if payload.metadata.get("encoding") != _JSON:
        return PLACEHOLDER
    try:
        data = json.loads(payload.data)
    except (ValueError, RecursionError):
        return PLACEHOLDER
    try:
        view = view_of(data, role)
    except (ValueError, TypeError, RecursionError):
        # A value that fits no model in some unforeseen way is withheld, never a 500.
        return PLACEHOLDER
    return PLACEHOLDER if not view else _json_payload(view)
