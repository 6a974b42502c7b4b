"""The console's event forms (issue 17 item 4), generated from the event models' JSON Schema
(:data:`pathway.domain.events.EVENT_ADAPTER`, the schema ``pathway schema`` prints), and the
event a posted form makes.

Each property of an event's schema becomes one labelled input of the kind its schema says:
text (a ``textarea`` beyond 200 characters), a whole number, a date, a time (``datetime-local``,
entered in Europe/Ljubljana), a select for an enumeration, a yes/no select for a boolean,
checkboxes for a list of an enumeration's values, a text field of comma-separated values for
any other list, and a fieldset for a nested object. A property the schema does not require
may be left empty (optional objects: every input of the fieldset empty). Three properties are
no input: ``type`` (the form's), ``organisation`` (the signed-in organisation) and
``event_id`` (made on the server, :func:`new_event_id`, and kept in a hidden field, so that
sending the form twice records the event once: the case answers a repeat of an ``event_id``
with its first result).

Which forms an organisation is offered is the access policy's answer alone
(:func:`sendable_types`: :func:`pathway.access.policy.case_allows` with ``Action.SEND``, as the
gateway's send route asks it).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any, Final

from pathway.access.policy import OPENING_EVENTS, Action, case_allows
from pathway.console.i18n import N_
from pathway.domain.calendar import LJUBLJANA
from pathway.domain.events import EVENT_ADAPTER, EVENT_TYPES
from pathway.domain.programmes import PROGRAMME_EVENT_ADAPTER, PROGRAMME_EVENT_TYPES
from pathway.domain.state import CaseState

__all__ = [
    "FIXED",
    "EventForm",
    "FieldKind",
    "FormField",
    "event_data",
    "event_form",
    "field_for",
    "local_input",
    "new_event_id",
    "posted_event_id",
    "programme_form",
    "sendable_types",
]

#: The properties of every event that are no input: set by the form and the server.
FIXED: Final = frozenset({"type", "event_id", "organisation"})
#: Text longer than this is written in a ``textarea``.
_LONG_TEXT: Final = 200
#: The ``datetime-local`` value format (minutes; seconds accepted when posted).
_LOCAL_FORMAT: Final = "%Y-%m-%dT%H:%M"


class FieldKind(StrEnum):
    """What input a property becomes (the template renders each)."""

    TEXT = "text"
    TEXTAREA = "textarea"
    INTEGER = "integer"
    DATE = "date"
    DATETIME = "datetime"
    SELECT = "select"
    BOOLEAN = "boolean"
    CHECKBOXES = "checkboxes"
    LIST = "list"
    GROUP = "group"


@dataclass(frozen=True, kw_only=True)
class FormField:
    """One input: ``name`` is the property's dotted path in the event (``consent.signed_on``),
    as a rejection names it; ``options`` (value, label) for a select or checkboxes;
    ``fields`` a group's own inputs; ``default`` the value shown at first (a string as the
    input holds it, or None)."""

    name: str
    label: str
    kind: FieldKind
    required: bool
    hint: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    default: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    fields: tuple[FormField, ...] = field(default=())

    @property
    def input_id(self) -> str:
        """The HTML ``id`` of the input (``f-consent-signed_on``)."""
        return "f-" + self.name.replace(".", "-")

    def walk(self) -> Sequence[FormField]:
        """This field and, for a group, every field inside it."""
        return [self, *(inner for f in self.fields for inner in f.walk())]


@dataclass(frozen=True, kw_only=True)
class EventForm:
    """The form of ``event_type``: its ``title`` (the model's description) and its inputs."""

    event_type: str
    title: str
    fields: tuple[FormField, ...]

    def all_fields(self) -> list[FormField]:
        """Every input, groups' inputs included, in order."""
        return [inner for f in self.fields for inner in f.walk()]


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _option_label(value: str) -> str:
    return value.replace("_", " ")


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = EVENT_ADAPTER.json_schema()
    # The programme registers' events (issue 17 item 5) too: their shared definitions (Gender,
    # Organisation) are the same models.
    schema["$defs"] = {**PROGRAMME_EVENT_ADAPTER.json_schema()["$defs"], **schema["$defs"]}
    return schema


def _resolve(node: Mapping[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` (if any) replaced by the definition, its own keys kept."""
    ref = node.get("$ref")
    if ref is None:
        return dict(node)
    target = _schema()["$defs"][ref.rsplit("/", 1)[-1]]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def _unwrap_optional(node: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """``anyOf: [X, null]`` as (X with the node's own keys, True); anything else (node, False)."""
    variants = node.get("anyOf")
    if variants is None:
        return _resolve(node), False
    kept = [v for v in variants if v.get("type") != "null"]
    if len(kept) != 1:
        raise ValueError(f"no input for a choice of {len(kept)} schemas")
    own = {k: v for k, v in node.items() if k != "anyOf"}
    return {**_resolve(kept[0]), **own}, len(kept) < len(variants)


#: The JSON-schema keyword of a field a sender must state although its model has a default
#: (``pathway.domain.events``; the admission check ``unstated_refusal`` refuses it left out).
MUST_STATE = "x-pathway-must-state"


def _default(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _options(values: Sequence[Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(v), _option_label(str(v))) for v in values)


def field_for(name: str, node: Mapping[str, Any], required: bool) -> FormField | None:
    """The input for the property at dotted path ``name`` with schema ``node`` (None for a
    constant: nothing to enter). ``required``: the event cannot be sent without it (its
    object requires it and is itself required: inside an optional object nothing is).
    Raises ValueError for a schema no input can take."""
    spec, nullable = _unwrap_optional(node)
    if "const" in spec:
        return None
    required = required and not nullable
    # A field the sender must state although the model has a default (kept for events
    # recorded before): asked with no answer chosen (S1's preliminary programme).
    must_state = spec.get(MUST_STATE) is True
    common: dict[str, Any] = {
        "name": name,
        "label": _label(name.rsplit(".", 1)[-1]),
        "required": required or must_state,
        "hint": spec.get("description"),
        "default": None if must_state else _default(spec.get("default")),
    }
    if "enum" in spec:
        return FormField(kind=FieldKind.SELECT, options=_options(spec["enum"]), **common)
    kind = spec.get("type")
    if kind == "object":
        needed = set(spec.get("required", ()))
        made = (
            field_for(f"{name}.{n}", s, required and n in needed)
            for n, s in spec.get("properties", {}).items()
        )
        return FormField(kind=FieldKind.GROUP, fields=tuple(f for f in made if f), **common)
    if kind == "array":
        items = _resolve(spec["items"])
        if "enum" in items:
            return FormField(kind=FieldKind.CHECKBOXES, options=_options(items["enum"]), **common)
        hints = (common["hint"], items.get("description"), "several: separate them by commas")
        common["hint"] = "; ".join(h for h in hints if h)
        return FormField(kind=FieldKind.LIST, **common)
    return _scalar(name, spec, common)


def _scalar(name: str, spec: Mapping[str, Any], common: dict[str, Any]) -> FormField:
    kind, fmt = spec.get("type"), spec.get("format")
    if kind == "boolean":
        return FormField(
            kind=FieldKind.BOOLEAN, options=(("true", N_("yes")), ("false", N_("no"))), **common
        )
    if kind == "integer":
        low, high = spec.get("minimum"), spec.get("maximum")
        return FormField(kind=FieldKind.INTEGER, minimum=low, maximum=high, **common)
    if kind == "string" and fmt in _FORMATS:
        return FormField(kind=_FORMATS[fmt], **common)
    if kind == "string":
        longest = spec.get("maxLength")
        long = longest is not None and longest > _LONG_TEXT
        text = FieldKind.TEXTAREA if long else FieldKind.TEXT
        return FormField(kind=text, max_length=longest, **common)
    raise ValueError(f"no input for {name}: schema type {kind!r}")


_FORMATS: Final = {"date-time": FieldKind.DATETIME, "date": FieldKind.DATE}


@cache
def event_form(event_type: str) -> EventForm:
    """The form of ``event_type`` (a key of :data:`~pathway.domain.events.EVENT_TYPES`): every
    property of its JSON Schema but :data:`FIXED`, in the schema's order. Raises KeyError for
    an unknown type."""
    return _model_form(EVENT_TYPES[event_type], event_type)


@cache
def programme_form(event_type: str) -> EventForm:
    """The form of a programme register's ``event_type`` (a key of
    :data:`~pathway.domain.programmes.PROGRAMME_EVENT_TYPES`), made as :func:`event_form`
    makes a case event's. Raises KeyError for an unknown type."""
    return _model_form(PROGRAMME_EVENT_TYPES[event_type], event_type)


def _model_form(model: type, event_type: str) -> EventForm:
    spec = _schema()["$defs"][model.__name__]
    needed = set(spec.get("required", ()))
    made = (
        field_for(name, node, name in needed)
        for name, node in spec["properties"].items()
        if name not in FIXED
    )
    title = (model.__doc__ or event_type).strip().split("\n\n")[0]
    return EventForm(
        event_type=event_type,
        title=" ".join(title.split()),
        fields=tuple(f for f in made if f),
    )


def sendable_types(state: CaseState, role: str) -> list[str]:
    """The event types ``role`` may send to the case in ``state``, as the access policy says
    (:func:`~pathway.access.policy.case_allows`, ``Action.SEND``), sorted; never an opening
    event (an identification opens a case of its own, R1)."""
    return sorted(
        t
        for t in EVENT_TYPES
        if t not in OPENING_EVENTS and case_allows(state, role, Action.SEND, t)
    )


def new_event_id(role: str) -> str:
    """A fresh event ID for a form of ``role`` (``console-<role>-<32 hex digits>``)."""
    return f"console-{role}-{secrets.token_hex(16)}"


def posted_event_id(role: str, posted: str | None) -> str:
    """The event ID of a posted form of ``role``: the one its page was given
    (:func:`new_event_id`), so that sending it twice records it once; anything else (a forged
    or foreign ID) is replaced by a fresh one. A programme register recognises repeats by the ID
    alone, so an ID another organisation used must never reach it from here (review of
    2026-12-01: an interview posted under Ključ's ID was taken for a repeat and dropped)."""
    if posted is not None and re.fullmatch(rf"console-{re.escape(role)}-[0-9a-f]{{32}}", posted):
        return posted
    return new_event_id(role)


def local_input(moment: datetime) -> str:
    """``moment`` as a ``datetime-local`` input shows it: Ljubljana's wall-clock time."""
    return moment.astimezone(LJUBLJANA).strftime(_LOCAL_FORMAT)


def _instant(text: str) -> datetime:
    """A ``datetime-local`` value, read as Ljubljana's wall-clock time, as an aware datetime.
    Raises ValueError for a malformed value and for a time the clocks skip (spring forward).
    A time that occurs twice (autumn) is the first, summer-time one."""
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(N_("enter a date and a time (day, month, year, hours, minutes)")) from None
    if naive.tzinfo is not None:
        raise ValueError(N_("enter the time in Ljubljana, without a time zone"))
    local = naive.replace(tzinfo=LJUBLJANA)
    if local.astimezone(UTC).astimezone(LJUBLJANA).replace(tzinfo=None) != naive:
        raise ValueError(N_("this time does not exist in Ljubljana (the clocks moved forward)"))
    return local


def _boolean(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(N_("choose yes or no"))
    return text == "true"


def _integer(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(N_("enter a whole number")) from None


def _list(text: str) -> list[str] | None:
    parts = [p.strip() for p in text.replace(";", ",").split(",")]
    return [p for p in parts if p] or None


#: How the text of one input becomes its JSON value (kinds not named: the text itself).
_READERS: Final[Mapping[FieldKind, Callable[[str], Any]]] = {
    FieldKind.BOOLEAN: _boolean,
    FieldKind.INTEGER: _integer,
    FieldKind.LIST: _list,
    FieldKind.DATETIME: lambda text: _instant(text.strip()).isoformat(),
}


def _value(f: FormField, posted: Mapping[str, Sequence[str]], errors: dict[str, str]) -> Any:
    """The JSON value of ``f`` from the posted form, or None if it was left empty (a group:
    every input in it; then a required group is ``{}``, whose inputs the model asks for)."""
    if f.kind is FieldKind.GROUP:
        inner = {g.name.rsplit(".", 1)[-1]: _value(g, posted, errors) for g in f.fields}
        kept = {k: v for k, v in inner.items() if v is not None}
        return kept if kept or f.required else None
    values = [v for v in posted.get(f.name, ()) if v != ""]
    if f.kind is FieldKind.CHECKBOXES or not values:
        return values or None
    read = _READERS.get(f.kind)
    if read is None:
        return values[0]
    try:
        return read(values[0])
    except ValueError as err:
        errors[f.name] = str(err)
        return None


def event_data(
    form: EventForm,
    posted: Mapping[str, Sequence[str]],
    *,
    event_id: str,
    organisation: str,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The event (JSON-like, for :func:`~pathway.domain.events.parse_event`) that the posted
    form (name -> every value posted under it) makes, with ``event_id`` and ``organisation``
    set by the server; and the inputs that could not be read (dotted name -> why). An empty
    input is left out (the model's default or its "field required" applies); times are
    Ljubljana's wall-clock times made aware."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {
        "type": form.event_type,
        "event_id": event_id,
        "organisation": organisation,
    }
    for f in form.fields:
        value = _value(f, posted, errors)
        if value is not None:
            data[f.name] = value
    return data, errors
