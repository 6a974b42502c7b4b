"""Small-cell suppression for publishing the annual report (issue 15 item 3;
docs/statistics.md, "Publication safety").

Pure. A report is a set of **cells** (each published count, named by its path in the report's
JSON) and of **relations** ``total = part + part + …`` among them that a reader knows hold.

1. **Primary suppression**: every cell with a count from 1 to k-1 is suppressed (shown
   ``<k``); a zero stays 0 (it says that nobody is in the cell, which reveals no one).
2. **Complementary suppression**: for every relation with exactly one suppressed cell, a second
   one is suppressed: the smallest non-zero published part (ties: the first by path), or the
   total if the suppressed cell is the only non-zero part (or if no part is left); iterated
   over all relations to a fixed point (a cell in several relations is suppressed in all).
3. **Exact check**: the relations restricted to the suppressed cells are solved over the
   rationals (Gaussian elimination); while a suppressed cell is still a fixed linear
   combination of published ones (e.g. ``s = a + b`` and ``t = a + b + e`` with a, b, e
   suppressed give ``e = t - s``), the smallest non-zero published cell sharing a relation with
   it is suppressed too. A complement may be a zero if nothing else is left; it is shown
   ``<k`` all the same, which is true.

After :func:`suppress` no relation has exactly one suppressed cell, and no suppressed cell's
value follows from the published ones by linear combination (non-negativity aside).
:func:`report_cells` and :func:`report_relations` say what the annual report publishes and how
its figures are linked; :func:`public_report` is the JSON with suppressed cells replaced by
``{"suppressed": true, "below": k}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pathway.domain.annual import AnnualReport

Cell = tuple[str, ...]
"""A published count, by its path in the report's JSON, e.g.
``("crisis_accommodation", "entered", "by_gender_age", "female_adult")``."""

DEFAULT_K = 5
"""The threshold of ``--public`` without ``--k``."""


@dataclass(frozen=True)
class Relation:
    """``total = sum(parts)``, known to every reader of the report."""

    total: Cell
    parts: tuple[Cell, ...]

    @property
    def cells(self) -> tuple[Cell, ...]:
        return (self.total, *self.parts)


def suppress(values: Mapping[Cell, int], relations: Sequence[Relation], k: int) -> frozenset[Cell]:
    """The cells of ``values`` to publish as ``<k`` (see the module): primary, complementary
    to a fixed point, then until the exact check finds no suppressed cell determined."""
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    relations = [r for r in relations if all(c in values for c in r.cells)]
    hidden = {cell for cell, value in values.items() if 1 <= value < k}
    changed = True
    while changed:
        changed = False
        for relation in relations:
            inside = [c for c in relation.cells if c in hidden]
            if len(inside) != 1:
                continue
            hidden.add(_complement(values, relation, hidden))
            changed = True
    while determined := sorted(determined_cells(hidden, relations)):
        extra = _nearest(values, relations, determined[0], hidden)
        if extra is None:
            break  # every linked cell is suppressed already: nothing more can help
        hidden.add(extra)
    return frozenset(hidden)


def _complement(values: Mapping[Cell, int], relation: Relation, hidden: set[Cell]) -> Cell:
    """The second cell to suppress in ``relation``, which has exactly one cell in ``hidden``."""
    parts = [c for c in relation.parts if c not in hidden]
    nonzero = [c for c in parts if values[c] > 0]
    if nonzero:
        return min(nonzero, key=lambda c: (values[c], c))
    if relation.total not in hidden:
        return relation.total
    return min(parts, key=lambda c: (values[c], c))  # a zero: nothing else is left


def _nearest(
    values: Mapping[Cell, int], relations: Sequence[Relation], cell: Cell, hidden: set[Cell]
) -> Cell | None:
    """The smallest published cell (non-zero first) sharing a relation with ``cell``, else with
    any suppressed cell; None if there is none."""
    for scope in ({cell}, hidden):
        near = {c for r in relations if scope & set(r.cells) for c in r.cells if c not in hidden}
        if near:
            return min(near, key=lambda c: (values[c] == 0, values[c], c))
    return None


def determined_cells(hidden: Iterable[Cell], relations: Iterable[Relation]) -> set[Cell]:
    """The cells of ``hidden`` whose value follows from the published cells and the relations:
    the unit vector of the cell lies in the row space of the relations restricted to the
    hidden cells (reduced row echelon form over the rationals: a pivot row with no entry in a
    free column)."""
    columns = sorted(set(hidden))
    index = {c: i for i, c in enumerate(columns)}
    rows: list[list[Fraction]] = []
    for relation in relations:
        row = [Fraction(0)] * len(columns)
        for sign, cells in ((1, (relation.total,)), (-1, relation.parts)):
            for c in cells:
                if c in index:
                    row[index[c]] += sign
        if any(row):
            rows.append(row)
    pivots: list[int] = []
    rank = 0
    for col in range(len(columns)):
        pivot = next((r for r in range(rank, len(rows)) if rows[r][col] != 0), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        lead = rows[rank][col]
        rows[rank] = [x / lead for x in rows[rank]]
        for r in range(len(rows)):
            if r != rank and rows[r][col] != 0:
                factor = rows[r][col]
                rows[r] = [x - factor * y for x, y in zip(rows[r], rows[rank], strict=True)]
        pivots.append(col)
        rank += 1
    pivot_set = set(pivots)
    free = [c for c in range(len(columns)) if c not in pivot_set]
    return {columns[col] for r, col in enumerate(pivots) if all(rows[r][f] == 0 for f in free)}


# -- the annual report ------------------------------------------------------------------------

_PERSONS = ("identified", "all_programmes")
_PROGRAMMES = ("crisis_accommodation", "safe_accommodation", "reintegration")
_MEASURES = ("entered", "continuing", "active")


def report_cells(report: AnnualReport) -> dict[Cell, int]:
    """Every published count of ``report`` (all but the year), by its path."""
    cells: dict[Cell, int] = {}

    def walk(path: Cell, value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk((*path, str(key)), inner)
        elif isinstance(value, int) and not isinstance(value, bool):
            cells[path] = value

    data = report.model_dump(mode="json")
    for section, value in data.items():
        if section != "year":
            walk((section,), value)
    return cells


def _persons_relations(prefix: Cell, cells: Mapping[Cell, int]) -> list[Relation]:
    """Within one block of persons: persons = victims + children = the six gender × age
    cells; victims = their citizenships; children = theirs."""

    def under(*path: str) -> tuple[Cell, ...]:
        whole = (*prefix, *path)
        return tuple(c for c in sorted(cells) if c[: len(whole)] == whole and len(c) > len(whole))

    persons = (*prefix, "persons")
    return [
        Relation(persons, ((*prefix, "victims"), (*prefix, "accompanying_children"))),
        Relation(persons, under("by_gender_age")),
        Relation((*prefix, "victims"), under("victims_by_citizenship")),
        Relation((*prefix, "accompanying_children"), under("children_by_citizenship")),
    ]


def report_relations(report: AnnualReport) -> list[Relation]:
    """The linear relations among the counts of ``report`` that a reader knows:

    - in each block of persons (identified, all programmes, and entered, continuing and active
      of each programme): persons = victims + accompanying children = the sum of the six
      gender × adult/minor cells; victims = the sum of their citizenships; accompanying
      children = the sum of theirs;
    - in each programme, for every count of a block: active = entered + continuing. It holds
      for persons unless someone left and re-entered within the year's view, and mostly for the
      breakdowns (age is taken at different dates); a reader may assume it, so it is treated as
      exact, which can only add suppression.

    - the programme registers' sections (P1 interviews, X1 participants), see
      :func:`_register_relations`.

    Not relations: all programmes against the programmes (a person in two programmes counts
    once), identified against the programmes, exits, services and sessions (no total is
    published)."""
    cells = report_cells(report)
    relations: list[Relation] = []
    for section in _PERSONS:
        relations += _persons_relations((section,), cells)
    for programme in _PROGRAMMES:
        for measure in _MEASURES:
            relations += _persons_relations((programme, measure), cells)
        active = [c for c in sorted(cells) if c[:2] == (programme, "active")]
        for cell in active:
            rest = cell[2:]
            parts = tuple(
                p for m in ("entered", "continuing") if (p := (programme, m, *rest)) in cells
            )
            relations.append(Relation(cell, parts))
    relations += _register_relations(cells)
    return [r for r in relations if r.parts]


def _register_relations(cells: Mapping[Cell, int]) -> list[Relation]:
    """The programme registers' sections (P1, X1):

    - P1: interviews = with + without suspicion = the six gender × adult/minor cells = the
      citizenships;
    - X1, in each of entered, continuing and active: persons = the gender × adult/minor cells
      = the citizenships; each gender × adult/minor cell = its citizenships, and each
      citizenship = its gender × adult/minor cells (the two-way table the seed prints:
      "seven adult women (six Slovenian and one BiH citizen)"); and for every count of those
      blocks, active = entered + continuing, as in the other programmes.

    Sessions and exits: no total of them is published."""

    def under(*whole: str) -> tuple[Cell, ...]:
        return tuple(c for c in sorted(cells) if c[: len(whole)] == whole and len(c) > len(whole))

    pats = "asylum_procedure_interviews"
    interviews = (pats, "interviews")
    relations = [
        Relation(interviews, ((pats, "with_suspicion"), (pats, "without_suspicion"))),
        Relation(interviews, under(pats, "by_gender_age")),
        Relation(interviews, under(pats, "by_citizenship")),
    ]
    x1 = "prostitution_exit"
    for measure in _MEASURES:
        block = (x1, measure)
        relations += [
            Relation((*block, "persons"), under(*block, "by_gender_age")),
            Relation((*block, "persons"), under(*block, "by_citizenship")),
        ]
        cross = under(*block, "by_gender_age_citizenship")
        for age in sorted({c[3] for c in cross}):
            relations.append(
                Relation((*block, "by_gender_age", age), tuple(c for c in cross if c[3] == age))
            )
        for country in sorted({c[4] for c in cross}):
            relations.append(
                Relation(
                    (*block, "by_citizenship", country), tuple(c for c in cross if c[4] == country)
                )
            )
    for cell in under(x1, "active"):
        parts = tuple(p for m in ("entered", "continuing") if (p := (x1, m, *cell[2:])) in cells)
        relations.append(Relation(cell, parts))
    return relations


def suppressed_cells(report: AnnualReport, k: int) -> frozenset[Cell]:
    """The cells of ``report`` to publish as ``<k``."""
    return suppress(report_cells(report), report_relations(report), k)


def public_report(report: AnnualReport, k: int) -> dict[str, Any]:
    """The report's JSON with each suppressed count replaced by
    ``{"suppressed": true, "below": k}`` (docs/annual-report.schema.json)."""
    hidden = suppressed_cells(report, k)
    data = report.model_dump(mode="json")
    for cell in hidden:
        parent: dict[str, Any] = data
        for key in cell[:-1]:
            parent = parent[key]
        parent[cell[-1]] = {"suppressed": True, "below": k}
    return data
