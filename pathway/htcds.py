"""The Human Trafficking Case Data Standard export (issue 15 item 4; docs/statistics.md).

``pathway export htcds --year YYYY`` writes one row per victim counted in the year from the
statistics ledger alone (identified, or in a programme), in the standard's field names and code
lists (docs/htcds/field-reference-v1.csv, copied from the IOM reference): ``prs_Gender``
(Male, Female, Transgender/NonConforming, Unknown), ``prs_Nationality`` (ISO 3166 alpha-2, the
first citizenship recorded) and ``cas_Status`` (Active, Closed). No personal identifier, no
keyed hash, no date: nothing links a row to a case or to another export; rows are sorted by
their values, so their order tells nothing either.

k-anonymity (``k``): a row whose combination of values is shared by fewer than k rows has its
nationality withheld (empty); a row still in a group smaller than k is left out. The
Counter-Trafficking Data Collaborative publishes its global dataset k-anonymised with k = 11
(:data:`CTDC_K`; ctdatacollaborative.org, "Global dataset"); the shared reference itself names
no k.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Final

from pathway.domain.ledger import (
    PROGRAMMES,
    ExitKind,
    LedgerEvent,
    PersonRole,
    StatisticsRecord,
)
from pathway.domain.person import Gender

__all__ = ["COLUMNS", "CTDC_K", "GENDER_CODES", "htcds_rows"]

#: The HTCDS fields the ledger can fill, in order.
COLUMNS: Final = ("prs_Gender", "prs_Nationality", "cas_Status")
#: The k of the Counter-Trafficking Data Collaborative's k-anonymised global dataset.
CTDC_K: Final = 11
#: prs_Gender: the project's genders are the HTCDS picklist (pathway.domain.person.Gender).
GENDER_CODES: Final = {
    Gender.MALE: "Male",
    Gender.FEMALE: "Female",
    Gender.TRANSGENDER_NONCONFORMING: "Transgender/NonConforming",
    Gender.UNKNOWN: "Unknown",
}
#: Exits that end assistance: a person with no stay open after one of these is Closed.
_ENDS: Final = frozenset({ExitKind.CLOSED, ExitKind.RETURNED_HOME, ExitKind.DECLINED_LEFT})


def htcds_rows(
    records: Iterable[StatisticsRecord], year: int, k: int | None = None
) -> list[dict[str, str]]:
    """The rows of ``year`` (``{column: value}``, :data:`COLUMNS`) from the ledger's
    ``records``: each victim with a record dated in the year once. ``cas_Status``: Closed if
    at the end of the year the person has no stay open and their last exit ended assistance,
    else Active. ``k`` (at least 2): k-anonymised (see the module); None: as they are."""
    mine: dict[str, list[StatisticsRecord]] = defaultdict(list)
    for r in records:
        if r.year <= year and r.role is PersonRole.VICTIM:
            mine[r.person].append(r)
    rows: list[dict[str, str]] = []
    for person_records in mine.values():
        if not any(r.year == year for r in person_records):
            continue
        ordered = sorted(person_records, key=lambda r: (r.year, r.month, r.record_id))
        first = ordered[0]
        open_stays = sum(
            (r.event is LedgerEvent.ENTERED) - (r.event is LedgerEvent.EXITED)
            for r in ordered
            if r.programme in PROGRAMMES
        )
        exits = [r for r in ordered if r.event is LedgerEvent.EXITED]
        closed = open_stays <= 0 and bool(exits) and exits[-1].detail in _ENDS
        rows.append(
            {
                "prs_Gender": GENDER_CODES[first.gender],
                "prs_Nationality": first.citizenships[0],
                "cas_Status": "Closed" if closed else "Active",
            }
        )
    if k is not None:
        rows = _k_anonymous(rows, k)
    return sorted(rows, key=lambda row: tuple(row[c] for c in COLUMNS))


def _k_anonymous(rows: list[dict[str, str]], k: int) -> list[dict[str, str]]:
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")

    def key(row: dict[str, str]) -> tuple[str, ...]:
        return tuple(row[c] for c in COLUMNS)

    sizes = Counter(key(row) for row in rows)
    rows = [row if sizes[key(row)] >= k else {**row, "prs_Nationality": ""} for row in rows]
    sizes = Counter(key(row) for row in rows)
    return [row for row in rows if sizes[key(row)] >= k]
