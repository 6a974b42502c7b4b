"""Plausible facts: what an event is refused for on its own, before any case is asked
(docs/rules.md "INPUT"; issue 13 "Plausible facts").

These checks need only the event itself, so they are pydantic validation of the event models:
the gateway (422), the CLI (exit 2) and the case workflow (which decodes every event through
the same models) refuse such an event alike, each problem naming its field, and its message
starting with the rule it breaks (``C1: …``) or, where no rule of the seed is at stake,
``INPUT: …``. An event refused here never reaches a case, so it changes nothing.

- Every date lies between :data:`EARLIEST_DATE` and :data:`LATEST_DATE`, every instant in
  the same years (UTC): no accepted date can make the date arithmetic of the rules overflow.
- What must carry content (the C1 note, the C2 views, a reason, a reference) is never blank.
- The ordering checks that both dates of one event allow (a birth date after the event, a
  consent signed after the placement) are made by the event models with :func:`refuse`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

#: The service check of an implausible input that no rule of the seed names.
RULE_INPUT: Final = "INPUT"

#: The first day the service accepts in any date. Nobody it assists was born before 1900, and no
#: permit, consent or hearing of a living case lies before it.
EARLIEST_DATE: Final = date(1900, 1, 1)
#: The last day the service accepts in any date. Far beyond any permit, hearing or birthday
#: timer of a person born today (an 18th birthday of a child born in 2200 is in 2218), yet more
#: than 7,000 years before ``date.max``: no period the rules add to an accepted date can
#: overflow.
LATEST_DATE: Final = date(2200, 12, 31)
#: Instants: from the first moment of :data:`EARLIEST_DATE` to the end of :data:`LATEST_DATE`,
#: in UTC (an instant carries its own offset, so its day is bounded where it is one day).
EARLIEST_INSTANT: Final = datetime(1900, 1, 1, tzinfo=UTC)
END_INSTANT: Final = datetime(2201, 1, 1, tzinfo=UTC)

#: The pydantic error type of every check here (``ctx``: ``rule`` and ``reason``).
ERROR_TYPE: Final = "implausible"

_RANGE = f"between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}"


def implausible(rule: str, reason: str) -> PydanticCustomError:
    """The error of one implausible field: its message is ``<rule>: <reason>``."""
    return PydanticCustomError(ERROR_TYPE, "{rule}: {reason}", {"rule": rule, "reason": reason})


@dataclass(frozen=True)
class Implausible:
    """One problem an event model finds across its fields: where (the field's path inside the
    model), the rule and why. ``value`` is the value at fault (as pydantic keeps every input)."""

    loc: tuple[str | int, ...]
    rule: str
    reason: str
    value: object = None


def refuse(title: str, problems: Sequence[Implausible]) -> None:
    """Raise every problem as a validation error at its own field (nothing if none).

    Raised from a model validator, each lands at its field's full path (pydantic-core prefixes
    the model's own location), so the gateway and the CLI name ``person.birth_date``, not the
    event as a whole.
    """
    if problems:
        raise ValidationError.from_exception_data(
            title,
            [
                InitErrorDetails(type=implausible(p.rule, p.reason), loc=p.loc, input=p.value)
                for p in problems
            ],
        )


def _date_in_range(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise implausible(RULE_INPUT, f"a date must lie {_RANGE} (the service's range)")
    return value


def _instant_in_range(value: datetime) -> datetime:
    if not EARLIEST_INSTANT <= value < END_INSTANT:
        raise implausible(RULE_INPUT, f"a time must lie {_RANGE} (UTC; the service's range)")
    return value


#: The years of the range, for the JSON Schema (generators such as the gateway's fuzzing read
#: ``pattern``, not ``formatMinimum``); the validators above decide, to the day and instant.
_YEARS = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-"

#: A date in the service's range (``INPUT``).
ServiceDate = Annotated[
    date,
    AfterValidator(_date_in_range),
    Field(
        json_schema_extra={
            "formatMinimum": EARLIEST_DATE.isoformat(),
            "formatMaximum": LATEST_DATE.isoformat(),
            "pattern": _YEARS,
        }
    ),
]
#: An instant with a time zone, in the service's range (``INPUT``).
ServiceInstant = Annotated[
    AwareDatetime,
    AfterValidator(_instant_in_range),
    Field(
        json_schema_extra={
            "formatMinimum": EARLIEST_INSTANT.isoformat(),
            "formatExclusiveMaximum": END_INSTANT.isoformat(),
            "pattern": _YEARS,
        }
    ),
]

#: Characters that show nothing: separators and control and format characters (a zero-width
#: space is as blank as a space).
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def is_blank(text: str) -> bool:
    """Nothing visible: empty, or only whitespace and invisible characters."""
    return all(c.isspace() or unicodedata.category(c) in _INVISIBLE for c in text)


#: Characters that show nothing although :func:`is_blank` does not know them (their Unicode
#: category is a letter's, a symbol's or a mark's): the Hangul fillers (U+115F, U+1160,
#: U+3164, U+FFA0), the braille blank (U+2800), the combining grapheme joiner (U+034F), the
#: Khmer inherent vowels (U+17B4, U+17B5), the Khitan small script filler (U+16FE4), and the
#: variation selectors (U+180B-U+180D, U+180F, U+FE00-U+FE0F, U+E0100-U+E01EF): Unicode's
#: default-ignorable characters of those categories, and the braille blank.
LOOKS_BLANK: Final = frozenset(
    {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800", "\u034f", "\u17b4", "\u17b5", "\U00016fe4"}
    | {chr(c) for c in (0x180B, 0x180C, 0x180D, 0x180F)}
    | {chr(c) for c in range(0xFE00, 0xFE10)}
    | {chr(c) for c in range(0xE0100, 0xE01F0)}
)


def shows_nothing(text: str) -> bool:
    """Blank (:func:`is_blank`) or made only of such characters, :data:`LOOKS_BLANK`'s and
    those of the categories that show nothing (format, unassigned, private use, surrogate).

    Not the event models' check: a model that refused more text than it did when a history
    was recorded could not decode that history's events again. The admission checks make it
    (:mod:`pathway.domain.rules.admission`), on events as they arrive."""
    return all(
        c in LOOKS_BLANK or is_blank(c) or unicodedata.category(c) in _SHOWS_NOTHING for c in text
    )


#: Unicode categories whose characters show nothing: format characters (Cf, among them the
#: default-ignorable ones), unassigned code points (Cn, which include the reserved
#: default-ignorable ranges such as U+2065 and U+E0080), private use (Co) and surrogates (Cs).
_SHOWS_NOTHING: Final = frozenset({"Cf", "Cn", "Co", "Cs"})


@dataclass(frozen=True)
class NotBlank:
    """``Annotated[str, NotBlank(rule, what)]``: text that must say something; blank text is
    refused naming ``rule`` and ``what`` the text is. The JSON Schema asks for a visible
    character (``pattern``), so that senders and generators know."""

    rule: str
    what: str

    def check(self, value: str) -> str:
        if is_blank(value):
            raise implausible(self.rule, f"{self.what} cannot be blank")
        return value

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = r"\S"
        return json_schema


def not_blank(rule: str, what: str) -> NotBlank:
    """Refuse blank text, naming ``rule`` and ``what`` the text must be."""
    return NotBlank(rule, what)
