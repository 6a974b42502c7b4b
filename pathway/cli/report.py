"""``pathway report YEAR``: the yearly statistics per programme (aggregates only), from every
readable case and programme register. Cases, not runs, are counted (issue 12): a person is one
case ID whatever its runs and episodes, and erased episodes are skipped and said so
(``skipped_erased`` in the JSON, and one line on stderr).

``pathway report annual --year YYYY[-YYYY] [--format table|json|csv|html] [--public [--k N]]``:
the year's (or each year's of a range) figures from the statistics ledger alone (issue 15 item
2, docs/statistics.md), which erasure does not change; ``--public`` suppresses small cells and
their complements (item 3, :mod:`pathway.domain.suppression`).
``pathway statistics backfill``: every readable case's facts into the ledger, once
(idempotent: run it again and nothing is counted twice; issue 15 item 1)."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, TextIO

from pathway.cli._common import EXIT_OK, BadInput, Commands, connect, write_json

if TYPE_CHECKING:
    from temporalio.client import Client

    from pathway.activities.statistics import StatisticsRecorder
    from pathway.domain.annual import (
        AnnualReport,
        ExitProgrammeYear,
        Interviews,
        Participants,
        Persons,
        ProgrammeYear,
    )
    from pathway.domain.programmes import ProgrammeState
    from pathway.domain.state import CaseState
    from pathway.domain.suppression import Cell
    from pathway.statistics_ledger import StatisticsLedger


class Progress:
    """A long command's progress on ``stream`` if it is a terminal (one line, rewritten in
    place), nothing otherwise, so that pipes, files and logs get only the result (issue 15
    item 6)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream if stream.isatty() else None

    def show(self, line: str) -> None:
        """Replace the progress line with ``line`` (on a terminal)."""
        if self.stream is not None:
            self.stream.write(f"\r{line}")
            self.stream.flush()

    def done(self) -> None:
        """End the progress line (on a terminal)."""
        if self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()


async def _cases(client: Client, progress: Progress | None = None) -> tuple[list[CaseState], int]:
    """The states to count, and how many episodes were skipped because they are erased
    (:func:`_walk_cases`); shows how many were read on ``progress``."""
    found: list[CaseState] = []
    skipped = 0
    async for state in _walk_cases(client):
        if state is None:
            skipped += 1
        else:
            found.append(state)
        if progress is not None:
            progress.show(f"report: {len(found)} case(s) read, {skipped} erased skipped")
    if progress is not None:
        progress.done()
    return found, skipped


async def _walk_cases(client: Client) -> AsyncIterator[CaseState | None]:
    """Each state to count, one at a time, and None for each episode skipped because it is
    erased.

    Walks cases, not runs (issue 12): a run that continued as new is skipped (its state lives
    on in the next run), so each episode of a case is read once, from its last run (pinned by
    run ID); a run that never opened a case (state None) is not a case. An erased episode is
    skipped, and counted as such, without asking a worker to decode what it cannot; so is one
    whose state cannot be read (erased meanwhile)."""
    from temporalio.client import WorkflowExecutionStatus, WorkflowQueryFailedError
    from temporalio.service import RPCError

    from pathway.domain.state import CaseState
    from pathway.privacy.codec import CaseCodec
    from pathway.privacy.erasure import run_episode
    from pathway.privacy.keys import PrivacyError, episode_ref

    codec = client.data_converter.payload_codec
    store = codec.store if isinstance(codec, CaseCodec) else None
    async for run in client.list_workflows("WorkflowType = 'VictimCaseWorkflow'"):
        if run.status is WorkflowExecutionStatus.CONTINUED_AS_NEW:
            continue
        if store is not None:
            episode = await run_episode(client, run.id, run.run_id)
            if episode is not None and store.is_destroyed(episode_ref(run.id, episode)):
                yield None
                continue
        try:
            state = await client.get_workflow_handle(run.id, run_id=run.run_id).query(
                "state", result_type=CaseState
            )
        except (RPCError, WorkflowQueryFailedError, PrivacyError):
            yield None  # erased since it was listed, or not readable: not counted
            continue
        if state is not None:
            yield state


async def _registers(client: Client) -> list[ProgrammeState]:
    """The state of every programme register in use."""
    from temporalio.service import RPCError

    from pathway.domain.programmes import Programme, ProgrammeState, register_id

    registers: list[ProgrammeState] = []
    for programme in Programme:
        try:
            registers.append(
                await client.get_workflow_handle(register_id(programme)).query(
                    "state", result_type=ProgrammeState
                )
            )
        except RPCError:
            continue  # never used
    return registers


async def _report(args: argparse.Namespace, out: TextIO) -> int:
    from pathway.domain.statistics import yearly_report

    client = await connect(args)
    states, skipped = await _cases(client, Progress(args.stderr))
    report = yearly_report(args.year, states, await _registers(client))
    report.skipped_erased = skipped
    write_json(report.model_dump(mode="json"), out)
    if skipped:
        sys.stderr.write(f"{skipped} erased episode(s) skipped: not counted\n")
    return EXIT_OK


# -- the annual report from the ledger (issue 15 item 2) -----------------------------------------


def _open_ledger_to_read() -> StatisticsLedger:
    """The deployment's ledger, for reading: :class:`BadInput` naming the file if the SQLite
    default does not exist yet (nothing is created by a report)."""
    from pathway import settings

    path = settings.var_dir().absolute() / settings.STATISTICS_FILE
    if settings.statistics_dsn() is None and not path.exists():
        raise BadInput(
            f"no statistics ledger at {path}: start the service (bin/serve) so that cases "
            f"write to it, and run `pathway statistics backfill` once for older cases"
        )
    return settings.statistics_ledger()


Show = Callable[["Cell", int], str]
"""How a count is printed: its value, or ``<k`` if it is suppressed (``--public``)."""


def _plain(cell: Cell, value: int) -> str:
    return str(value)


def _persons_lines(label: str, persons: Persons, at: Cell, show: Show) -> list[str]:
    ages = persons.by_gender_age

    def n(*key: str) -> str:
        value = getattr(persons, key[0]) if len(key) == 1 else getattr(ages, key[1])
        return show((*at, *key), value)

    lines = [
        f"  {label}: {n('persons')} person(s): {n('victims')} victim(s), "
        f"{n('accompanying_children')} accompanying child(ren)",
        f"    women {n('by_gender_age', 'female_adult')}, "
        f"girls {n('by_gender_age', 'female_minor')}, "
        f"men {n('by_gender_age', 'male_adult')}, boys {n('by_gender_age', 'male_minor')}, "
        f"other or unknown gender: adults {n('by_gender_age', 'other_or_unknown_adult')}, "
        f"minors {n('by_gender_age', 'other_or_unknown_minor')}",
    ]
    for title, key in (
        ("victims' citizenship", "victims_by_citizenship"),
        ("children's citizenship", "children_by_citizenship"),
    ):
        if counts := getattr(persons, key):
            lines.append(f"    {title}: " + _counts(counts, (*at, key), show))
    return lines


def _counts(counts: dict[str, int], at: Cell, show: Show) -> str:
    return ", ".join(f"{key} {show((*at, key), value)}" for key, value in counts.items())


def _programme_lines(title: str, figures: ProgrammeYear, at: str, show: Show) -> list[str]:
    lines = [title]
    for label, measure in (
        ("entered in the year", "entered"),
        ("continuing from earlier years", "continuing"),
        ("active in the year", "active"),
    ):
        lines += _persons_lines(label, getattr(figures, measure), (at, measure), show)
    lines.append("  exits: " + (_counts(figures.exits, (at, "exits"), show) or "none"))
    services = _counts(figures.services, (at, "services"), show)
    lines.append("  services (persons): " + (services or "none"))
    return lines


_AGES = (
    ("female_adult", "women"),
    ("female_minor", "girls"),
    ("male_adult", "men"),
    ("male_minor", "boys"),
    ("other_or_unknown_adult", "other or unknown gender: adults"),
    ("other_or_unknown_minor", "minors"),
)


def _interview_lines(interviews: Interviews, show: Show) -> list[str]:
    """P1 in the seed's words: interviews, with and without suspicion, by gender × age and
    citizenship."""
    at: Cell = ("asylum_procedure_interviews",)
    ages = interviews.by_gender_age
    lines = [
        f"  interviews in the year: {show((*at, 'interviews'), interviews.interviews)}: "
        f"with suspicion of trafficking {show((*at, 'with_suspicion'), interviews.with_suspicion)}"
        f", without {show((*at, 'without_suspicion'), interviews.without_suspicion)}",
        "    "
        + ", ".join(
            f"{label} {show((*at, 'by_gender_age', key), getattr(ages, key))}"
            for key, label in _AGES
        ),
    ]
    if interviews.by_citizenship:
        by = _counts(interviews.by_citizenship, (*at, "by_citizenship"), show)
        lines.append(f"    citizenship: {by}")
    return lines


def _participant_lines(label: str, people: Participants, at: Cell, show: Show) -> list[str]:
    """X1 in the seed's shape: "seven adult women (six Slovenian and one BiH citizen)"."""
    ages = people.by_gender_age
    cells = []
    for key, name in _AGES:
        cell = f"{name} {show((*at, 'by_gender_age', key), getattr(ages, key))}"
        if cross := people.by_gender_age_citizenship.get(key):
            cell += f" ({_counts(cross, (*at, 'by_gender_age_citizenship', key), show)})"
        cells.append(cell)
    lines = [f"  {label}: {show((*at, 'persons'), people.persons)} person(s)"]
    lines.append("    " + ", ".join(cells))
    if people.by_citizenship:
        lines.append(
            f"    citizenship: {_counts(people.by_citizenship, (*at, 'by_citizenship'), show)}"
        )
    return lines


def _exit_programme_lines(figures: ExitProgrammeYear, show: Show) -> list[str]:
    at = "prostitution_exit"
    lines = ["Support for persons in prostitution and in leaving it (X1)"]
    for label, measure in (
        ("enrolled in the year", "entered"),
        ("continuing from earlier years", "continuing"),
        ("active in the year", "active"),
    ):
        lines += _participant_lines(label, getattr(figures, measure), (at, measure), show)
    sessions = _counts(figures.sessions, (at, "sessions"), show)
    lines.append("  counselling sessions: " + (sessions or "none"))
    lines.append("  exits: " + (_counts(figures.exits, (at, "exits"), show) or "none"))
    return lines


def render_annual(report: AnnualReport, show: Show = _plain) -> str:
    """The annual report as a table for people: one paragraph per section; ``show`` prints
    each count (``<k`` for a suppressed one under ``--public``)."""
    lines = [f"Annual report {report.year} (from the statistics ledger)", "", "Identification"]
    lines += _persons_lines("identified in the year", report.identified, ("identified",), show)
    for title, at, figures in (
        ("Crisis accommodation (K1)", "crisis_accommodation", report.crisis_accommodation),
        ("Safe accommodation (S1)", "safe_accommodation", report.safe_accommodation),
        ("Reintegration (I1)", "reintegration", report.reintegration),
    ):
        lines += ["", *_programme_lines(title, figures, at, show)]
    lines += ["", "All programmes"]
    lines += _persons_lines(
        "distinct persons in any programme", report.all_programmes, ("all_programmes",), show
    )
    lines += ["", "Asylum-procedure interviews (P1, PATS)"]
    lines += _interview_lines(report.asylum_procedure_interviews, show)
    lines += ["", *_exit_programme_lines(report.prostitution_exit, show)]
    return "\n".join(lines) + "\n"


def annual_years(text: str | None) -> range:
    """``--year``: one calendar year (``2026``) or an inclusive range (``2024-2026``), each
    from 1900 to 9999; :class:`BadInput` naming ``--year`` otherwise."""
    if text is None:
        raise BadInput("pathway report annual needs --year YYYY (or a range, YYYY-YYYY)")
    first, _, last = text.strip().partition("-")
    try:
        years = range(int(first), int(last or first) + 1)
    except ValueError:
        raise BadInput(f"--year: expected YYYY or YYYY-YYYY, got {text!r}") from None
    if not years or not all(1900 <= y <= 9999 for y in (years[0], years[-1])):
        raise BadInput(
            f"--year: expected years from 1900 to 9999, the first not after the last, got {text!r}"
        )
    return years


def _annual_options(args: argparse.Namespace) -> tuple[range, int]:
    """The years and the k of ``report annual``; :class:`BadInput` naming the option."""
    from pathway.domain.suppression import DEFAULT_K

    years = annual_years(args.year)
    if args.k is not None and not args.public:
        raise BadInput("pathway report annual: --k N goes with --public")
    k = DEFAULT_K if args.k is None else args.k
    if k < 2:
        raise BadInput(f"pathway report annual: --k must be at least 2, got {k}")
    if len(years) > 1 and args.format == "html":
        raise BadInput(
            "pathway report annual: --format html is one page per year: give one --year YYYY"
        )
    return years, k


def _csv_rows(report: AnnualReport, show: Show) -> list[list[str]]:
    """``section, measure, key, value`` per count (``value`` as ``show`` prints it)."""
    from pathway.domain.annual import flatten

    rows = []
    for section, measure, key, value in flatten(report):
        where = (
            (section,)
            if section in ("identified", "all_programmes", "asylum_procedure_interviews")
            else (section, measure)
        )
        rows.append([section, measure, key, show((*where, *key.split(".")), value)])
    return rows


async def _annual(args: argparse.Namespace, out: TextIO) -> int:
    """One year's report, or each year's of a range (``--year 2024-2026``) one after the
    other: the table's paragraphs in turn, a JSON array of reports (each valid against the
    schema), CSV rows with the year first; not HTML (one page is one year). Progress per year
    on a terminal."""
    import asyncio

    from pathway.domain.annual import annual_report
    from pathway.domain.suppression import public_report, suppressed_cells

    years, k = _annual_options(args)
    several = len(years) > 1
    ledger = _open_ledger_to_read()
    records = await asyncio.to_thread(ledger.read, until_year=years[-1])
    # One year needs no progress: a string buffer is no terminal.
    progress = Progress(args.stderr if several else io.StringIO())
    documents: list[object] = []
    writer = csv.writer(out, lineterminator="\n")
    if args.format == "csv":
        writer.writerow([*(["year"] if several else []), "section", "measure", "key", "value"])
    for n, year in enumerate(years, start=1):
        progress.show(f"report: year {year} ({n} of {len(years)})")
        report = annual_report(records, year)
        hidden = suppressed_cells(report, k) if args.public else frozenset()

        def show(cell: Cell, value: int, hidden: frozenset[Cell] = hidden) -> str:
            return f"<{k}" if cell in hidden else str(value)

        if args.format == "json":
            documents.append(
                public_report(report, k) if args.public else report.model_dump(mode="json")
            )
        elif args.format == "html":
            from pathway.statistics_html import render_annual_html

            out.write(render_annual_html(report, hidden, k if args.public else None))
        elif args.format == "csv":
            writer.writerows(
                [*([str(year)] if several else []), *row] for row in _csv_rows(report, show)
            )
        else:
            out.write(("\n" if n > 1 else "") + render_annual(report, show))
    progress.done()
    if args.format == "json":
        write_json(documents if several else documents[0], out)
    return EXIT_OK


async def _report_command(args: argparse.Namespace, out: TextIO) -> int:
    """``report YEAR`` (from the cases, as before) or ``report annual --year YYYY``."""
    if args.what == "annual":
        return await _annual(args, out)
    try:
        args.year = int(args.what)
    except ValueError:
        raise BadInput(f"report: expected a year or 'annual', got {args.what!r}") from None
    return await _report(args, out)


# -- backfill (issue 15 item 1) -------------------------------------------------------------------


async def backfill_registers(client: Client, recorder: StatisticsRecorder) -> tuple[int, int, int]:
    """Store the facts of each programme register in use (P1, X1;
    :func:`~pathway.domain.ledger.register_facts`, the keys the register workflow writes
    under, so nothing is stored twice): a register still running under code from before the
    patch ``programme-statistics-ledger`` writes nothing until its next run. Returns
    ``(registers, facts, new records)``."""
    import asyncio

    from pathway.domain.ledger import StatisticsBatch, register_facts

    registers = facts = new = 0
    for state in await _registers(client):
        batch = StatisticsBatch(facts=register_facts(state))
        registers += 1
        facts += len(batch.facts)
        new += await asyncio.to_thread(recorder.store, batch)
    return registers, facts, new


async def _backfill(args: argparse.Namespace, out: TextIO) -> int:
    """Walk every current case once (erased episodes skipped) and store its facts, then the
    programme registers'; show progress on a terminal only (issue 15 item 6)."""
    import asyncio

    import structlog

    from pathway import settings
    from pathway.activities.statistics import StatisticsRecorder
    from pathway.domain.ledger import StatisticsBatch, statistics_facts

    secret = settings.ledger_secret(create=settings.statistics_dsn() is None)
    recorder = StatisticsRecorder(settings.statistics_ledger(), secret)
    client = await connect(args)
    progress = Progress(args.stderr)
    cases = skipped = facts = new = 0
    async for state in _walk_cases(client):
        if state is None:
            skipped += 1
            continue
        batch = StatisticsBatch(facts=statistics_facts(state))
        cases += 1
        facts += len(batch.facts)
        new += await asyncio.to_thread(recorder.store, batch)
        progress.show(f"backfill: {cases} case(s) read, {new} new record(s)")
    progress.done()
    registers, register_facts, register_new = await backfill_registers(client, recorder)
    facts += register_facts
    new += register_new
    structlog.stdlib.get_logger("pathway.statistics").info(
        "statistics backfilled",
        cases=cases,
        registers=registers,
        facts=facts,
        new=new,
        skipped_erased=skipped,
    )
    out.write(
        f"backfilled {cases} case episode(s) and {registers} programme register(s): "
        f"{facts} fact(s), {new} new record(s), {skipped} erased episode(s) skipped\n"
    )
    return EXIT_OK


def add_commands(sub: Commands) -> None:
    """Register ``report`` and ``statistics backfill``."""
    report = sub.add_parser(
        "report",
        help="yearly statistics: `report YEAR` from the cases, `report annual --year YYYY` "
        "from the statistics ledger (aggregates)",
    )
    report.set_defaults(uses_state=True)
    report.add_argument(
        "what", metavar="YEAR|annual", help="a calendar year (e.g. 2026), or 'annual'"
    )
    report.add_argument(
        "--year",
        metavar="YYYY[-YYYY]",
        help="annual: the calendar year, e.g. 2026, or a range of years, e.g. 2024-2026 (each "
        "year's report in turn; progress on a terminal)",
    )
    report.add_argument(
        "--format",
        choices=("table", "json", "csv", "html"),
        default="table",
        help="annual: a table for people (default), JSON (docs/annual-report.schema.json), CSV, "
        "or one self-contained HTML page of bar charts",
    )
    report.add_argument(
        "--public",
        action="store_true",
        help="annual: for publication: counts from 1 to k-1 shown as <k, with complementary "
        "suppression so that none can be recovered from totals (docs/statistics.md)",
    )
    report.add_argument(
        "--k",
        type=int,
        metavar="N",
        help="annual --public: the threshold (at least 2; default 5)",
    )
    report.set_defaults(handler=_report_command)
    statistics = sub.add_parser("statistics", help="the statistics ledger")
    commands = statistics.add_subparsers(dest="statistics_command", required=True)
    backfill = commands.add_parser(
        "backfill",
        help="store every current case's statistics in the ledger, once (idempotent)",
    )
    backfill.set_defaults(uses_state=True, handler=_backfill)
