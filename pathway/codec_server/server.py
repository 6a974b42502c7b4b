"""The codec server of a deployment: :func:`case_codec_app` builds it for a Temporal client
(``pathway dev`` and ``pathway codec-server`` alike), :func:`codec_credentials` reads who may
sign in, and :func:`run_codec_server` serves it on its own (``pathway codec-server``) until
SIGINT or SIGTERM.

Settings are read as the gateway reads them (docs/operations.md "Settings"): the key store and
master keys as every process does (:func:`pathway.temporal_connection.default_keystore`:
``var/keys.db``, ``PATHWAY_MASTER_KEYS`` or ``var/master-keys/``), the access tokens as the
gateway does (:func:`pathway.access.identity.load_authenticator`: ``PATHWAY_CREDENTIALS``, else
outside production ``var/credentials.toml``; in production no default), and Temporal through
:func:`pathway.temporal_connection.connect` (``TEMPORAL_*``, profiles). Nothing secret is
taken from the command line.
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

from fastapi import FastAPI
from temporalio.client import Client

from pathway import settings
from pathway.access.credentials import CREDENTIALS_ENV, Credentials, SessionSigner
from pathway.access.identity import MODE_ENV, GatewayConfigError, load_authenticator
from pathway.clients.cases import UnknownCase, episode_state
from pathway.codec_server.app import create_codec_app, serve_codec
from pathway.codec_server.case_access import RoleCaseAccess
from pathway.codec_server.sign_in import SignIn, origin_of
from pathway.domain.ids import CASE_ID_PREFIX
from pathway.domain.membership import MemberRole
from pathway.privacy.codec import CaseCodec
from pathway.privacy.keys import KeyStore

__all__ = [
    "case_codec_app",
    "codec_credentials",
    "member_roles_in_case",
    "run_codec_server",
    "web_origin",
]


async def member_roles_in_case(
    client: Client, episode: str, organisation: str
) -> frozenset[MemberRole]:
    """The roles ``organisation`` holds in ``episode`` of a case (``<case>/e<N>``, or a case ID
    for its current episode): now for the current episode, when it closed for an earlier one
    (issue 12; :func:`~pathway.clients.cases.episode_state`); empty: not a member, or no such
    case or episode (docs/rules.md "Access"). For the codec server (:class:`RoleCaseAccess`).
    Membership, not participation: having sent an event grants nothing. Raises ``CaseErased``
    for an erased case."""
    if not episode.startswith(CASE_ID_PREFIX):
        return frozenset()  # another workflow's payloads (a programme register): no case
    try:
        state = await episode_state(client, episode)
    except UnknownCase:
        return frozenset()
    return state.roles_of(organisation)


def web_origin(url: str) -> str:
    """``url`` as a browser's ``Origin``: ``scheme://host[:port]``, lower-case, the port only if
    it is not the scheme's default (``https://UI.example.org:443/`` ->
    ``https://ui.example.org``). Raises :class:`ValueError` naming the value for anything but an
    http(s) origin (a path, query or user name included)."""
    origin = origin_of(url)
    parts = url.strip().split("://", 1)
    rest = parts[1] if len(parts) == 2 else ""
    authority, _, path = rest.partition("/")
    if origin is None or path or "@" in authority or "?" in rest or "#" in rest:
        raise ValueError(f"{url!r} is not a web origin: expected http(s)://host[:port], no path")
    scheme, host, port = origin
    if ":" in host:
        host = f"[{host}]"  # IPv6
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" if port == default else f"{scheme}://{host}:{port}"


def codec_credentials(var_dir: Path) -> Credentials:
    """Who may sign in to the codec server: the access tokens the gateway reads
    (:func:`~pathway.access.identity.load_authenticator`: ``PATHWAY_CREDENTIALS``, else outside
    production ``var_dir/credentials.toml``, made on first use with one operator token printed
    once). Raises :class:`GatewayConfigError` (one line) in production without
    ``PATHWAY_CREDENTIALS``, for a broken file, or if only JWTs are configured (the codec server
    signs in with access tokens only)."""
    given = settings.current()
    if given.production and given.credentials is None:
        # Not the gateway's message: a JWKS alone does not do here.
        raise GatewayConfigError(
            f"{MODE_ENV}=production needs {CREDENTIALS_ENV} (a file of hashed tokens, "
            "`pathway credentials add`): the codec server signs in with access tokens only, "
            "and there are no default credentials in production"
        )
    credentials = load_authenticator(var_dir=var_dir).credentials
    if credentials is None:
        raise GatewayConfigError(
            f"the codec server signs in with access tokens only: set {CREDENTIALS_ENV} (a file "
            "of hashed tokens, `pathway credentials add`)"
        )
    return credentials


def case_codec_app(
    client: Client,
    store: KeyStore,
    credentials: Credentials,
    *,
    ui_origin: str,
    public_url: str | None = None,
) -> FastAPI:
    """The codec server of the deployment ``client`` reaches: payloads decoded with ``store``'s
    keys for those ``credentials`` name, per case as their organisation's membership allows
    (:func:`member_roles_in_case`), answering browsers from ``ui_origin`` (the web UI) only.

    ``public_url`` is the codec server's own origin as browsers reach it (the only page the
    sign-in form may be posted from); None: each request's own scheme and ``Host``, right only
    without a proxy in front. An ``https`` one makes the session cookie ``Secure``
    (SameSite=None), which a UI on another site needs."""
    secure = True if public_url is not None and public_url.startswith("https:") else None
    # One key for every replica (PATHWAY_CODEC_SECRET), else one per process.
    shared = settings.current().codec_secret
    sessions = SessionSigner(None if shared is None else bytes.fromhex(shared.get_secret_value()))
    return create_codec_app(
        codec=CaseCodec(store),
        credentials=credentials,
        allowed_origin=ui_origin,
        case_access=RoleCaseAccess(partial(member_roles_in_case, client), store),
        sign_in=SignIn(own_origin=public_url, secure_cookies=secure, sessions=sessions),
    )


async def run_codec_server(  # noqa: PLR0913 (keyword-only options after the address)
    host: str,
    port: int,
    *,
    ui_origin: str,
    credentials: Credentials,
    store: KeyStore,
    public_url: str | None = None,
    target: str | None = None,
    namespace: str | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """``pathway codec-server``: :func:`case_codec_app` on ``host:port`` until SIGINT, SIGTERM
    or ``stop``, then a graceful stop (requests in flight get 5 s).

    Temporal is connected lazily (as the gateway does), so the server starts, and ``/healthz``
    answers, while Temporal is still down; a decode then answers 503. Raises
    :class:`~pathway.temporal_config.TemporalConfigError` for a connection setting that cannot
    work, :class:`OSError` if the address cannot be bound."""
    from pathway.process import install_stop_signals
    from pathway.temporal_connection import connect

    client = await connect(target, namespace, store, lazy=True)
    app = case_codec_app(client, store, credentials, ui_origin=ui_origin, public_url=public_url)
    stop = stop or asyncio.Event()
    remove_signals = install_stop_signals(stop)
    try:
        await serve_codec(app, host, port, stop)
    finally:
        remove_signals()
