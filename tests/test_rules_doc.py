"""docs/rules.md must not drift from the code.

The file explains every rule ID that the code and the tests cite, and names where each rule is
enforced and tested. These tests fail when:

(a) the code or a test cites a rule ID that has no entry in docs/rules.md;
(b) a file, function, class or test that docs/rules.md names does not exist;
(c) an entry names no test, unless it says the rule is not yet enforced.

They also keep the SPEC's rule IDs complete and in SPEC order. They read only the project's own
files: a clone of the project has no SPEC beside it, so its rule IDs are listed here.

Each check is a function that returns the problems it finds in a given text, so the last tests
can prove that each check catches a broken document.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "rules.md"

#: The SPEC's rule IDs, in SPEC order.
SPEC_RULES = (
    "R1",
    "R2",
    "R3",
    "R4",
    "R5",
    "R6",
    "C1",
    "C2",
    "C3",
    "C4",
    "C5",
    "C6",
    "C7",
    "C8",
    "K1",
    "K2",
    "K3",
    "K4",
    "K5",
    "K6",
    "K7",
    "S1",
    "S2",
    "S3",
    "S4",
    "S5",
    "I1",
    "P1",
    "X1",
)

#: Where rule IDs are cited: the code and the tests (Python files only).
SCANNED = ("pathway", "workflows", "activities", "tests", "scripts")

#: A rule ID as the code cites it: rule="R2", "(R2)", "[R2]", "R2:", "K1, K5", "S3/S4".
#: Uppercase only, so variable names such as ``c1`` never count; one or two digits, so an
#: algorithm's name (PKCE's ``S256``, issue 17) is not a rule.
RULE_ID = re.compile(r"\b([RCKS][1-9][0-9]?|I1|P1|X1)\b")
#: A range of rule IDs: "C1–C8", "C4-C7", "R1–R3" (every ID in it is cited).
RULE_RANGE = re.compile(r"\b([RCKS])([1-9][0-9]?)\s*[–-]\s*\1([1-9][0-9]?)\b")
#: Linter codes in suppression comments (ruff's noqa) are not rule IDs.
NOQA = re.compile(r"#\s*noqa\b[^\n]*")

#: An entry: "### R2 — title".
ENTRY = re.compile(r"^### ([A-Z][A-Z0-9]*) — ", re.MULTILINE)
#: The end of an entry: the next heading of level 1 to 3.
HEADING = re.compile(r"^#{1,3} ", re.MULTILINE)
#: A location: `path/to/file.py::name` or `path/to/file.py::Class::member`.
LOCATION = re.compile(
    r"`((?:pathway|workflows|activities|tests|scripts)/[\w/.-]+\.py)::(\w+(?:::\w+)*)`"
)
#: Anything that looks like a location, to catch one the pattern above cannot read.
LOCATION_LIKE = re.compile(r"\.py::")
NOT_YET = re.compile(r"not yet enforced", re.IGNORECASE)


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def entries(text: str) -> dict[str, str]:
    """Entry ID -> the entry's text (up to the next heading)."""
    found: dict[str, str] = {}
    for match in ENTRY.finditer(text):
        rule = match.group(1)
        end = HEADING.search(text, match.end())
        body = text[match.start() : end.start() if end else len(text)]
        found[rule] = found.get(rule, "") + body
    return found


def locations(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every (file, names) the text names."""
    return [(m.group(1), tuple(m.group(2).split("::"))) for m in LOCATION.finditer(text)]


def is_test(path: str, names: tuple[str, ...]) -> bool:
    return (
        path.startswith("tests/")
        and Path(path).name.startswith("test_")
        and names[-1].startswith("test_")
    )


# -- (a) every cited rule ID has an entry -------------------------------------------------------


def cited_in(source: str) -> Iterator[tuple[int, str]]:
    """(line number, rule ID) for every rule ID cited in one source file."""
    for number, line in enumerate(source.splitlines(), start=1):
        line = NOQA.sub("", line)
        for match in RULE_RANGE.finditer(line):
            letter, first, last = match.group(1), int(match.group(2)), int(match.group(3))
            for n in range(first, last + 1):
                yield number, f"{letter}{n}"
        for match in RULE_ID.finditer(line):
            yield number, match.group(1)


def scanned_files() -> list[Path]:
    files: list[Path] = []
    for top in SCANNED:
        files.extend(sorted((ROOT / top).rglob("*.py")))
    return [f for f in files if ".venv" not in f.parts and "__pycache__" not in f.parts]


@cache
def citations() -> dict[str, list[str]]:
    """Rule ID -> where the code and the tests cite it ("file:line")."""
    found: dict[str, list[str]] = {}
    for path in scanned_files():
        rel = path.relative_to(ROOT).as_posix()
        for number, rule in cited_in(path.read_text(encoding="utf-8")):
            found.setdefault(rule, []).append(f"{rel}:{number}")
    return found


def service_check_ids() -> list[str]:
    """The IDs of the checks that guard the service (``RULE_*`` in the domain's rules)."""
    from pathway.domain import rules

    return [
        value
        for name, value in vars(rules).items()
        if name.startswith("RULE_") and isinstance(value, str)
    ]


def missing_entries(text: str, cited: dict[str, list[str]]) -> list[str]:
    have = entries(text)
    return [
        f"{rule} (cited at {', '.join(where[:3])}) has no entry in docs/rules.md"
        for rule, where in sorted(cited.items())
        if rule not in have
    ]


# -- (b) every named location exists -----------------------------------------------------------


def _name_of(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


@cache
def _module(path: str) -> ast.Module | None:
    file = ROOT / path
    if not file.is_file():
        return None
    return ast.parse(file.read_text(encoding="utf-8"), filename=path)


def defines(path: str, names: tuple[str, ...]) -> bool:
    """Whether ``path`` defines ``names``: a top-level name, then members of classes."""
    module = _module(path)
    if module is None:
        return False
    body: list[ast.stmt] = module.body
    for name in names:
        node = next((n for n in body if name in _name_of(n)), None)
        if node is None:
            return False
        body = node.body if isinstance(node, ast.ClassDef) else []
    return True


def broken_locations(text: str) -> list[str]:
    problems = []
    for path, names in locations(text):
        where = f"{path}::{'::'.join(names)}"
        if not (ROOT / path).is_file():
            problems.append(f"{where}: no such file")
        elif not defines(path, names):
            problems.append(f"{where}: {path} defines no {'.'.join(names)}")
    for number, line in enumerate(text.splitlines(), start=1):
        unread = LOCATION.sub("", line)
        if LOCATION_LIKE.search(unread):
            problems.append(
                f"docs/rules.md:{number}: a location the checks cannot read "
                "(write `path/file.py::name` on one line)"
            )
    return problems


# -- (c) every entry names a test, unless not yet enforced ------------------------------------


def untested_entries(text: str) -> list[str]:
    problems = []
    for rule, body in entries(text).items():
        if NOT_YET.search(body):
            continue
        if not any(is_test(path, names) for path, names in locations(body)):
            problems.append(
                f"{rule}: names no test (tests/test_….py::…::test_…) and does not "
                "say 'not yet enforced'"
            )
    return problems


# -- structure ---------------------------------------------------------------------------------


def structure_problems(text: str) -> list[str]:
    found = [m.group(1) for m in ENTRY.finditer(text)]
    problems = [
        f"{rule}: more than one entry" for rule in sorted(set(found)) if found.count(rule) > 1
    ]
    spec_order = [rule for rule in found if rule in SPEC_RULES]
    if spec_order != list(SPEC_RULES):
        problems.append(
            f"the SPEC's rules, in SPEC order, are {list(SPEC_RULES)}; "
            f"docs/rules.md has {spec_order}"
        )
    for rule, body in entries(text).items():
        for part in (
            "**Rule.**",
            "**Seed's words.**",
            "**Enforced in.**",
            "**Tested in.**",
            "**Status.**",
        ):
            if part not in body:
                problems.append(f"{rule}: the entry has no {part}")
    if "## Readings where the seed is ambiguous or differs from SPEC" not in text:
        problems.append("the section on readings of the seed is missing")
    return problems


# -- the tests ---------------------------------------------------------------------------------


class TestRulesDoc:
    def test_a_every_rule_id_cited_in_code_and_tests_has_an_entry(self) -> None:
        """(a) The code and the tests cite no rule ID that docs/rules.md does not explain."""
        assert missing_entries(doc_text(), citations()) == []

    def test_a_every_service_check_has_an_entry(self) -> None:
        """(a) The IDs of the service's own checks (ACCESS, TIME, ...) have entries too."""
        ids = service_check_ids()
        assert "ACCESS" in ids
        have = entries(doc_text())
        assert [rule for rule in ids if rule not in have] == []

    def test_b_every_named_location_exists(self) -> None:
        """(b) Every file, function, class and test the doc names exists."""
        assert locations(doc_text()), "the doc names no location at all"
        assert broken_locations(doc_text()) == []

    def test_c_every_entry_names_a_test_unless_not_yet_enforced(self) -> None:
        """(c) An entry names at least one test, or says the rule is not yet enforced."""
        assert untested_entries(doc_text()) == []

    def test_every_spec_rule_once_in_spec_order(self) -> None:
        """Every SPEC rule has one entry, in SPEC order, with all five parts."""
        assert structure_problems(doc_text()) == []

    def test_the_scan_finds_the_citations_it_should(self) -> None:
        """The scan reads the code as it is written: rule="R2", ranges, not noqa codes."""
        line = '_reject("R2", "type", "…")  # [K1, K5] (S3/S4) see C1–C3 and C4-C5\n'
        assert {r for _, r in cited_in(line)} == {
            "R2",
            "K1",
            "K5",
            "S3",
            "S4",
            "C1",
            "C2",
            "C3",
            "C4",
            "C5",
        }
        assert [r for _, r in cited_in("x = 1  # noqa: S608 - a literal\n")] == []
        assert [r for _, r in cited_in("c1 = state.c8\n")] == []
        cited = citations()
        for rule in ("R2", "C8", "K7", "S3", "I1", "P1", "X1"):
            assert rule in cited, f"the scan no longer finds {rule} in the code"


class TestTheChecksCatchDrift:
    """Each check fails on a broken copy of the document."""

    def test_a_removed_entry_is_caught(self) -> None:
        text = doc_text()
        start = text.index("### R4 — ")
        end = text.index("### R5 — ")
        broken = text[:start] + text[end:]
        assert any(p.startswith("R4 ") for p in missing_entries(broken, citations()))
        assert structure_problems(broken)

    def test_a_renamed_function_is_caught(self) -> None:
        text = doc_text().replace("assistance.py::_open_case`", "assistance.py::_on_identified`", 1)
        assert (
            "pathway/domain/rules/assistance.py::_on_identified: "
            "pathway/domain/rules/assistance.py defines no _on_identified" in broken_locations(text)
        )

    def test_a_renamed_test_is_caught(self) -> None:
        name = "test_r2_police_information_gathering_before_ngo_interview_is_rejected"
        text = doc_text().replace(name, name + "_renamed")
        assert any(name + "_renamed" in p for p in broken_locations(text))

    def test_a_missing_file_is_caught(self) -> None:
        text = doc_text().replace("`pathway/domain/ids.py::", "`pathway/domain/idz.py::", 1)
        assert "pathway/domain/idz.py::case_id_for: no such file" in broken_locations(text)

    def test_a_location_split_over_two_lines_is_caught(self) -> None:
        text = doc_text() + "\n`pathway/domain/rules/assistance.py::\n_open_case`\n"
        assert any("cannot read" in p for p in broken_locations(text))

    def test_an_entry_without_tests_is_caught(self) -> None:
        body = entries(doc_text())["R5"]
        stripped = re.sub(r"- `tests/[^`]+`\n", "", body)
        assert untested_entries(stripped) == [
            "R5: names no test (tests/test_….py::…::test_…) and does not say 'not yet enforced'"
        ]

    @pytest.mark.parametrize("rule", ["K3", "S2"])
    def test_not_yet_enforced_entries_need_no_test(self, rule: str) -> None:
        """An entry that says it is not yet enforced may name no test (K3 and S2 were such
        entries until issue 13: here one of them as it stood, without its tests)."""
        body = re.sub(r"- `tests/[^`]+`\n", "", entries(doc_text())[rule])
        body = re.sub(r"\*\*Status\.\*\*[^#]*", "**Status.** Not yet enforced.\n", body)
        assert NOT_YET.search(body)
        assert untested_entries(body) == []
