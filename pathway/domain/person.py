"""Facts kept about the person (docs/rules.md "The case"), with data minimisation (R6).

No name is ever kept: the case is identified by a pseudonymous ID only.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

import pycountry
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pathway.domain.plausible import RULE_INPUT, Implausible, ServiceDate, not_blank

#: ISO 3166-1 alpha-2 codes of the EU member states (Slovenia included).
EU_MEMBER_STATES = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "HU",
    }
)
SLOVENIA = "SI"

#: Kosovo's code: user-assigned in ISO 3166-1, not in its list, but the one the EU and
#: Slovenia's authorities use (and CLDR); a citizen of Kosovo is no unknown country.
KOSOVO = "XK"
#: The ISO 3166-1 alpha-2 codes of the countries a citizenship can name (``pycountry``'s list of
#: ISO 3166-1, and :data:`KOSOVO`), read once at import: nothing reads the list while a
#: workflow runs. The admission checks refuse any other code (docs/rules.md "Admission checks").
COUNTRY_CODES: frozenset[str] = frozenset(
    {country.alpha_2 for country in pycountry.countries} | {KOSOVO}
)
#: Two of ISO 3166-1's user-assigned codes, for a person with no citizenship to name: ``XX``
#: stateless (EU law treats a stateless person as a third-country national), ``ZZ`` unknown
#: (not established yet: an undocumented victim is identified before any document is found).
STATELESS = "XX"
UNKNOWN_CITIZENSHIP = "ZZ"
#: The codes a citizenship may be recorded with: :data:`COUNTRY_CODES`, :data:`STATELESS` and
#: :data:`UNKNOWN_CITIZENSHIP`.
CITIZENSHIP_CODES: frozenset[str] = COUNTRY_CODES | {STATELESS, UNKNOWN_CITIZENSHIP}

CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$", description="ISO 639-1/-3 code")]


class Gender(StrEnum):
    """HTCDS ``prs_Gender`` picklist."""

    MALE = "male"
    FEMALE = "female"
    TRANSGENDER_NONCONFORMING = "transgender_nonconforming"
    UNKNOWN = "unknown"


class ResidenceStatus(StrEnum):
    """Residence status as the specification lists it (docs/rules.md "The case")."""

    SLOVENIAN_CITIZEN = "slovenian_citizen"
    EU_CITIZEN = "eu_citizen"
    THIRD_COUNTRY_LEGAL = "third_country_legal"
    THIRD_COUNTRY_ILLEGAL = "third_country_illegal"
    INTERNATIONAL_PROTECTION_APPLICANT = "international_protection_applicant"


class SpecialNeed(StrEnum):
    """Special needs that call for appropriate help (K4)."""

    PREGNANCY = "pregnancy"
    HEALTH_CONDITION = "health_condition"
    DISABILITY = "disability"
    MENTAL_OR_PSYCHOLOGICAL_DISORDER = "mental_or_psychological_disorder"
    SEVERE_ABUSE = "severe_abuse"


class AgeEstimate(BaseModel):
    """An age estimate when the birth date is unknown, with where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    years: int = Field(ge=0, le=120)
    as_of: ServiceDate = Field(description="The day the estimate holds; not after the event.")
    source: Annotated[
        str, Field(min_length=1, max_length=200), not_blank(RULE_INPUT, "the estimate's source")
    ]


class PersonFacts(BaseModel):
    """What the case keeps about the person. Age is derived at each event's date, never stored."""

    model_config = ConfigDict(extra="forbid")

    birth_date: ServiceDate | None = Field(default=None, description="Not after the event.")
    age_estimate: AgeEstimate | None = None
    gender: Gender = Gender.UNKNOWN
    citizenships: list[CountryCode] = Field(min_length=1)
    residence_status: ResidenceStatus
    languages: list[LanguageCode] = Field(
        default_factory=list, description="Languages the person understands (R3)."
    )
    exploited_abroad: bool = Field(
        default=False, description="Treated as a victim of trafficking abroad (I1)."
    )
    unaccompanied: bool = Field(
        default=False, description="A minor without an adult responsible for them (C5, C6)."
    )
    holder_can_act: bool | None = Field(
        default=None,
        description="C4: whether the holder of parental responsibility can act in the child's "
        "best interests and represent the child (None: not assessed).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> PersonFacts:
        is_si = SLOVENIA in self.citizenships
        if self.residence_status is ResidenceStatus.SLOVENIAN_CITIZEN and not is_si:
            raise ValueError("residence_status slovenian_citizen needs 'SI' among citizenships")
        if self.residence_status is ResidenceStatus.EU_CITIZEN and not self.is_eu_citizen:
            raise ValueError("residence_status eu_citizen needs an EU member state citizenship")
        if self.residence_status.value.startswith("third_country") and self.is_eu_citizen:
            raise ValueError("an EU citizen is not a third-country national")
        return self

    def implausible_on(self, day: date, *where: str) -> list[Implausible]:
        """What cannot be true of the person on ``day``, the day of the event that states
        these facts (``where``: the path of these facts in the event)."""
        return birth_problems(self.birth_date, self.age_estimate, day, *where)

    @property
    def is_eu_citizen(self) -> bool:
        """Holds the citizenship of an EU member state (Slovenia included)."""
        return any(c in EU_MEMBER_STATES for c in self.citizenships)

    @property
    def is_third_country_national(self) -> bool:
        """Holds no EU member state citizenship (S3, S4)."""
        return not self.is_eu_citizen

    def is_minor_on(self, day: date) -> bool:
        """Under 18 on ``day``. An unknown age counts as adult here: the identifying authority
        records an estimate when a child may be involved."""
        age = self.age_on(day)
        return age is not None and age < 18

    def birthday(self, years: int) -> date | None:
        """The day the person turns ``years`` (from the birth date, else the estimate)."""
        if self.birth_date is not None:
            return _anniversary(self.birth_date, years)
        if self.age_estimate is not None:
            est = self.age_estimate
            return _anniversary(est.as_of, years - est.years)
        return None

    def age_on(self, day: date) -> int | None:
        """Age in whole years on ``day``, from the birth date or else the estimate."""
        if self.birth_date is not None:
            born = self.birth_date
        elif self.age_estimate is not None:
            est = self.age_estimate
            return est.years + whole_years(est.as_of, day)
        else:
            return None
        return whole_years(born, day)


def birth_problems(
    birth_date: date | None, age_estimate: AgeEstimate | None, day: date, *where: str
) -> list[Implausible]:
    """``INPUT``: nobody is born after the event that records the birth, and no age is estimated
    as of a day after it (``day``: the event's day in Slovenia; ``where``: the path of the
    fields in the event). A birth date equal to the event's day is accepted: a newborn."""
    problems = []
    if birth_date is not None and birth_date > day:
        problems.append(
            Implausible(
                (*where, "birth_date"),
                RULE_INPUT,
                "a birth date cannot lie after the event (occurred_at)",
                birth_date,
            )
        )
    if age_estimate is not None and age_estimate.as_of > day:
        problems.append(
            Implausible(
                (*where, "age_estimate", "as_of"),
                RULE_INPUT,
                "an age estimate cannot be dated after the event (occurred_at)",
                age_estimate.as_of,
            )
        )
    return problems


def whole_years(start: date, end: date) -> int:
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def _anniversary(start: date, years: int) -> date:
    """``start`` plus whole years; 29 February becomes 1 March in common years."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return date(start.year + years, 3, 1)
