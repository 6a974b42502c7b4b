"""``pathway credentials add|remove|list``: the access tokens of the gateway and the codec server,
kept as SHA-256 hashes in the credentials file (local administration: no operator token)."""

from __future__ import annotations

import argparse
from typing import Final, TextIO

from pathway.cli._common import (
    EXIT_OK,
    BadInput,
    Commands,
    credentials_file,
    printable,
    write_json,
)

_FILE_HELP: Final = (
    "credentials file (default: $PATHWAY_CREDENTIALS, else $PATHWAY_VAR/credentials.toml, "
    "the one `pathway dev` uses)"
)


def _add(args: argparse.Namespace, out: TextIO) -> int:
    """``pathway credentials add ROLE [--name NAME] [--file FILE]``: the token alone on
    stdout, what was done on stderr; :class:`BadInput` for a bad role, name or file."""
    from pathway.access.credentials import OPERATOR, CredentialsError, add_token

    path = credentials_file(args)
    new_file = not path.exists()
    try:
        entry, token = add_token(path, args.role, args.name)
    except CredentialsError as err:
        raise BadInput(printable(err)) from err
    out.write(token + "\n")  # alone on stdout: TOKEN=$(pathway credentials add caritas)
    note: TextIO = args.stderr
    note.write(
        f"added {printable(entry.name)} (role {entry.role}) to {printable(path)}; the "
        "token above is shown only this once (only its hash is kept): hand it to its "
        "holder; a running service accepts it at once\n"
    )
    if new_file and entry.role != OPERATOR:
        note.write(
            "that file is new and has no operator token: add one with "
            "`pathway credentials add operator`\n"
        )
    return EXIT_OK


def _remove(args: argparse.Namespace, out: TextIO) -> int:
    """``pathway credentials remove NAME [--file FILE]``: revoke a token; what was done on
    stderr; :class:`BadInput` for an unknown name, the last entry or a broken file."""
    from pathway.access.credentials import CredentialsError, remove_token

    path = credentials_file(args)
    try:
        entry = remove_token(path, args.name)
    except CredentialsError as err:
        raise BadInput(printable(err)) from err
    note: TextIO = args.stderr
    note.write(
        f"removed {printable(entry.name)} (role {entry.role}) from {printable(path)}: a running "
        "service refuses its token, and ends the browser sessions signed in with it, at their "
        "next request\n"
    )
    return EXIT_OK


def _list(args: argparse.Namespace, out: TextIO) -> int:
    """``pathway credentials list [--file FILE] [--json]``: name and role of every entry,
    never a hash; :class:`BadInput` for a missing or broken file."""
    from pathway.access.credentials import Credentials, CredentialsError

    path = credentials_file(args)
    if not path.exists():
        raise BadInput(
            f"credentials file {path} does not exist: `pathway dev` creates it on "
            "its first start, and so does `pathway credentials add`"
        )
    try:
        entries = Credentials.load(path).tokens
    except CredentialsError as err:
        raise BadInput(printable(err)) from err
    if args.json:
        write_json([{"name": e.name, "role": str(e.role)} for e in entries], out)
        return EXIT_OK
    width = max(len(e.name) for e in entries)
    for e in entries:
        out.write(f"{printable(e.name):<{width}}  {e.role}\n")
    return EXIT_OK


def add_commands(sub: Commands) -> None:
    """Register ``credentials add``, ``credentials remove`` and ``credentials list``."""
    from pathway.access.credentials import ROLES

    creds = sub.add_parser(
        "credentials",
        help="access tokens: add one for an organisation, list them",
        description="Access tokens for the gateway and the codec server, kept as SHA-256 "
        "hashes in the credentials file. These are local administration commands: they need "
        "write (add) or read (list) access to that file, not an operator token "
        "(PATHWAY_TOKEN); whoever can write the file can already add tokens to it.",
    )
    creds_sub = creds.add_subparsers(dest="credentials_command", required=True)
    add = creds_sub.add_parser(
        "add",
        help="create a token for a role and print it once",
        description="Create a new random token for ROLE and print it once, alone on stdout "
        "(TOKEN=$(pathway credentials add caritas)); the explanation goes to stderr. Only its "
        "SHA-256 is stored, in the credentials file (written in one step, mode 0600). A "
        "running `pathway dev` or `pathway gateway` accepts it at once, without a restart. "
        "Needs write access to the file, not PATHWAY_TOKEN. Exit 2 for an unknown role, a "
        "bad or taken name, or a broken file.",
    )
    add.add_argument(
        "role", metavar="ROLE", help=f"an organisation or operator: {', '.join(ROLES)}"
    )
    add.add_argument(
        "--name",
        default=None,
        help="who or which system holds it, shown in audit lines (default "
        "ROLE-N, the first free number); letters, digits, spaces and _ . @ ' -",
    )
    add.add_argument("--file", default=None, help=_FILE_HELP)
    add.set_defaults(handler=_add)
    remove = creds_sub.add_parser(
        "remove",
        help="revoke a token: remove its entry",
        description="Remove the entry NAME from the credentials file (written in one step, "
        "mode 0600): a running `pathway dev`, `pathway gateway` or codec server refuses its "
        "token at once and ends the browser sessions signed in with it at their next request. "
        "Exit 2 for an unknown name, the file's last entry, or a broken file.",
    )
    remove.add_argument("name", metavar="NAME", help="the entry's name, as `list` shows it")
    remove.add_argument("--file", default=None, help=_FILE_HELP)
    remove.set_defaults(handler=_remove)
    list_ = creds_sub.add_parser(
        "list", help="name and role of every token (never a hash or a token)"
    )
    list_.add_argument("--file", default=None, help=_FILE_HELP)
    list_.add_argument("--json", action="store_true", help="print the list as JSON")
    list_.set_defaults(handler=_list)
