"""``pathway retention sweep [--dry-run]``: run the retention sweep now (issue 12 item 5).

Operators only (token in ``PATHWAY_TOKEN``; anyone else exit 6, before anything is read). It
runs the same sweep as the hourly ``pathway-retention`` schedule
(:func:`pathway.privacy.erasure.erase_expired`, with ``PATHWAY_RETENTION_DAYS``) in this
process, against the deployment's key store, and prints each episode erased (or, with
``--dry-run``, due and left alone): case ID, episode, the run ID found closed and when it
closed. No personal data: the IDs are pseudonyms.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from pathway.cli._common import EXIT_OK, Commands, connect, local_time, operator, write_json


async def _sweep(args: argparse.Namespace, out: TextIO) -> int:
    from pathway import settings
    from pathway.activities.retention import SweepRequest, sweep
    from pathway.temporal_connection import default_keystore

    retention = settings.retention()  # a malformed setting is exit 2 before anything else
    operator()
    store = default_keystore()
    client = await connect(args)
    report = await sweep(client, store, SweepRequest(retention=retention, dry_run=args.dry_run))
    if args.json:
        write_json(report.model_dump(mode="json"), out)
        return EXIT_OK
    verb = "would erase" if args.dry_run else "erased"
    for e in report.episodes:
        out.write(
            f"{verb} {e.case_id} episode {e.episode} run {e.run_id or '-'}"
            f" closed {local_time(e.closed_at)}\n"
        )
    out.write(f"{report.erased} episode(s) {verb}\n")
    return EXIT_OK


def add_commands(sub: Commands) -> None:
    """Register ``retention sweep``."""
    retention = sub.add_parser("retention", help="retention of closed cases (operator only)")
    retention.set_defaults(uses_state=True)
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    run = retention_sub.add_parser(
        "sweep",
        help="erase now every episode closed longer than the retention period (operator only; "
        "token in $PATHWAY_TOKEN)",
    )
    run.add_argument(
        "--dry-run", action="store_true", help="only list what is due; destroy nothing"
    )
    run.add_argument("--json", action="store_true", help="machine-readable output")
    run.set_defaults(handler=_sweep)
