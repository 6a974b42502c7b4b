"""``pathway export htcds`` (issue 15 item 4): every column is an HTCDS field and every value in
its code list, checked against the field list copied from the IOM reference
(docs/htcds/field-reference-v1.csv); no identifier; k-anonymity."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from pathway import cli
from pathway.domain.state import CaseState
from pathway.htcds import CTDC_K, htcds_rows
from tests.test_cli_input import run as run_cli
from tests.test_statistics_ledger import at, case, ledger_of, person, then, var  # noqa: F401

FIELDS = Path(__file__).parent.parent / "docs" / "htcds" / "field-reference-v1.csv"
ISO_3166_ALPHA2 = re.compile(r"^[A-Z]{2}$")


def field_list() -> dict[str, tuple[str, list[str]]]:
    """field -> (type, picklist value names) as the copied reference lists them."""
    with FIELDS.open(encoding="utf-8") as f:
        return {
            row["field"]: (row["type"], row["value_names"].split()) for row in csv.DictReader(f)
        }


def valid(field: str, value: str) -> bool:
    kind, values = field_list()[field]
    if field == "prs_Nationality":
        return value == "" or bool(ISO_3166_ALPHA2.match(value))
    return kind == "Picklist" and value in values


def people() -> list[CaseState]:
    """Counted by hand: three women from Portugal placed in crisis accommodation, one man from
    Bosnia and Herzegovina identified only; all in 2026."""
    women = [
        then(
            case(person("female", "PT"), at(2026, 2, 1)),
            "crisis_accommodation_placed",
            at(2026, 2, 2),
        )
        for _ in range(3)
    ]
    return [*women, case(person("male", "BA"), at(2026, 6, 1))]


def test_every_column_and_value_is_htcds(var: Path) -> None:  # noqa: F811
    """CSV and JSON: the columns are fields of the reference, each value in its code list; the
    figures are those of the scenario; no case ID or hash anywhere."""
    states = people()
    ledger_of(var, *states)
    code, out, err = run_cli("export", "htcds", "--year", "2026")
    assert (code, err) == (cli.EXIT_OK, "")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and set(rows[0]) <= set(field_list())
    assert all(valid(field, value) for row in rows for field, value in row.items())
    assert sorted((r["prs_Gender"], r["prs_Nationality"]) for r in rows) == [
        ("Female", "PT"),
        ("Female", "PT"),
        ("Female", "PT"),
        ("Male", "BA"),
    ]
    assert {r["cas_Status"] for r in rows} == {"Active"}
    assert not any(s.case_id in out for s in states)
    assert not re.search(r"[0-9a-f]{64}|\d{4}-\d{2}-\d{2}", out)
    code, out, _ = run_cli("export", "htcds", "--year", "2026", "--format", "json")
    assert code == cli.EXIT_OK
    assert json.loads(out) == rows


def test_k_anonymity(var: Path) -> None:  # noqa: F811
    """--k 3: the three women stay, the lone man is left out (even with his nationality
    withheld he is alone); --k alone uses the CTDC's k of 11: nobody is left."""
    ledger_of(var, *people())
    _, out, _ = run_cli("export", "htcds", "--year", "2026", "--k", "3")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["prs_Gender"] for r in rows] == ["Female"] * 3
    _, out, _ = run_cli("export", "htcds", "--year", "2026", "--k")
    assert out.strip().splitlines() == ["prs_Gender,prs_Nationality,cas_Status"]
    assert CTDC_K == 11


def test_k_withholds_nationality_before_leaving_out() -> None:
    """Two women of different nationalities with k=2: each alone, together once their
    nationality is withheld."""
    from pathway.domain.ledger import anonymise, statistics_facts
    from tests.harness import LEDGER_SECRET

    states = [case(person("female", c), at(2026, 1, 5)) for c in ("PT", "VE")]
    records = [anonymise(f, LEDGER_SECRET) for s in states for f in statistics_facts(s)]
    assert (
        htcds_rows(records, 2026, 2)
        == [{"prs_Gender": "Female", "prs_Nationality": "", "cas_Status": "Active"}] * 2
    )
    assert len(htcds_rows(records, 2025)) == 0


def test_bad_input(var: Path) -> None:  # noqa: F811
    """No ledger yet, no year, a year out of range, a k below 2: exit 2 naming what is wrong."""
    code, _, err = run_cli("export", "htcds", "--year", "2026")
    assert code == cli.EXIT_BAD_INPUT and "no statistics ledger" in err
    ledger_of(var, *people())
    code, _, err = run_cli("export", "htcds")
    assert code == cli.EXIT_BAD_INPUT and "--year" in err
    code, _, err = run_cli("export", "htcds", "--year", "2026", "--k", "1")
    assert code == cli.EXIT_BAD_INPUT and "--k" in err
    for year in ("0", "1899", "99999"):  # not a header of nothing, exit 0 (review finding 14)
        code, out, err = run_cli("export", "htcds", "--year", year)
        assert code == cli.EXIT_BAD_INPUT and "--year: expected years from 1900" in err, year
        assert out == ""
