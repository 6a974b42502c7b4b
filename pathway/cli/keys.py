"""``pathway keys new-master|rewrap``: rotate the master key and re-wrap the data keys."""

from __future__ import annotations

import argparse
from typing import TextIO

from pathway.cli._common import EXIT_OK, Commands


def _new_master(args: argparse.Namespace, out: TextIO) -> int:
    from pathway import settings
    from pathway.privacy.keys import create_master_key

    key_id = create_master_key(settings.var_dir() / "master-keys")
    out.write(
        f"{key_id}\nnew data keys are wrapped with it from the next start; run "
        "`pathway keys rewrap` to move the existing ones\n"
    )
    return EXIT_OK


def _rewrap(args: argparse.Namespace, out: TextIO) -> int:
    from pathway.temporal_connection import default_keystore

    store = default_keystore()
    moved = store.rewrap_all()
    out.write(f"re-wrapped {moved} data keys under {store.ring.newest_id}\n")
    for master_id, count in sorted(store.master_key_use().items()):
        out.write(f"  {master_id}: {count} data keys\n")
    return EXIT_OK


def add_commands(sub: Commands) -> None:
    """Register ``keys new-master`` and ``keys rewrap``."""
    keys = sub.add_parser("keys", help="master keys: rotate and re-wrap data keys")
    keys.set_defaults(uses_state=True)
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    new_master = keys_sub.add_parser("new-master", help="create a new master key file")
    new_master.set_defaults(handler=_new_master)
    rewrap = keys_sub.add_parser("rewrap", help="re-wrap every data key with the newest master")
    rewrap.set_defaults(handler=_rewrap)
