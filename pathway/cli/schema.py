"""``pathway schema``: the JSON Schema of every event type, as ``case open`` and ``case event``
read them."""

from __future__ import annotations

import argparse
from typing import TextIO

from pathway.cli._common import EXIT_OK, Commands, write_json
from pathway.domain.events import EVENT_ADAPTER


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    schema = EVENT_ADAPTER.json_schema()
    write_json(schema, out)
    return EXIT_OK


def add_commands(sub: Commands) -> None:
    """Register ``schema``."""
    schema = sub.add_parser("schema", help="JSON Schema of every event type")
    schema.set_defaults(handler=_schema)
