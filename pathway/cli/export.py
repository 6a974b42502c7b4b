"""``pathway export htcds --year YYYY [--format csv|json] [--k [N]]``: the year's victims in the
Human Trafficking Case Data Standard's fields and code lists, from the statistics ledger alone
(issue 15 item 4; :mod:`pathway.htcds`, docs/statistics.md). No personal identifier, no date;
``--k`` alone k-anonymises with the CTDC's k (11), ``--k N`` with N."""

from __future__ import annotations

import argparse
import asyncio
import csv
from typing import TextIO

from pathway.cli._common import EXIT_OK, BadInput, Commands, write_json


async def _htcds(args: argparse.Namespace, out: TextIO) -> int:
    from pathway import settings
    from pathway.cli.report import annual_years
    from pathway.htcds import COLUMNS, htcds_rows

    if args.year is None:
        raise BadInput("pathway export htcds needs --year YYYY")
    annual_years(str(args.year))  # 1900 to 9999, as the annual report's (BadInput naming --year)
    if args.k is not None and args.k < 2:
        raise BadInput(f"pathway export htcds: --k must be at least 2, got {args.k}")
    path = settings.var_dir().absolute() / settings.STATISTICS_FILE
    if settings.statistics_dsn() is None and not path.exists():
        raise BadInput(
            f"no statistics ledger at {path}: start the service (bin/serve) so that cases "
            f"write to it, and run `pathway statistics backfill` once for older cases"
        )
    ledger = settings.statistics_ledger()
    records = await asyncio.to_thread(ledger.read, until_year=args.year)
    rows = htcds_rows(records, args.year, args.k)
    if args.format == "json":
        write_json(rows, out)
    else:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return EXIT_OK


def add_commands(sub: Commands) -> None:
    """Register ``export htcds``."""
    from pathway.htcds import CTDC_K

    export = sub.add_parser("export", help="exports for others (aggregated, anonymised)")
    commands = export.add_subparsers(dest="export_command", required=True)
    htcds = commands.add_parser(
        "htcds",
        help="the year's victims in the Human Trafficking Case Data Standard (no identifiers)",
    )
    htcds.set_defaults(uses_state=True, handler=_htcds)
    htcds.add_argument("--year", type=int, help="the calendar year, e.g. 2026")
    htcds.add_argument(
        "--format",
        choices=("csv", "json"),
        default="csv",
        help="csv (one row per victim, the HTCDS columns) or json (a list of objects)",
    )
    htcds.add_argument(
        "--k",
        type=int,
        nargs="?",
        const=CTDC_K,
        metavar="N",
        help=f"k-anonymise: --k alone uses the CTDC's k ({CTDC_K}), --k N uses N (at least 2)",
    )
