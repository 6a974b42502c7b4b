""":func:`create_codec_app` puts the codec server together: the context every request reaches
(:mod:`pathway.codec_server.context`, on ``app.state.codec``), CORS for the web UI's origin, the
problem handlers (:mod:`pathway.web.problems`) and the routers (:mod:`pathway.codec_server.routes`,
with their dependencies in :mod:`pathway.codec_server.dependencies`); :func:`serve_codec` serves
it."""

from __future__ import annotations

import asyncio
from typing import Final

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from pathway.access.credentials import Credentials
from pathway.codec_server.case_access import CaseAccess
from pathway.codec_server.context import CodecContext
from pathway.codec_server.routes import codec as codec_routes
from pathway.codec_server.routes import health, login
from pathway.codec_server.sign_in import SignIn
from pathway.metrics import http as metrics
from pathway.privacy.codec import CaseCodec
from pathway.web.problems import install_problem_handlers
from pathway.web.serving import listen, serve_app

__all__ = ["create_codec_app", "serve_codec"]

_ALLOWED_HEADERS: Final = ("Authorization", "Content-Type", "X-Namespace")


def create_codec_app(
    *,
    codec: CaseCodec,
    credentials: Credentials,
    allowed_origin: str,
    case_access: CaseAccess,
    sign_in: SignIn | None = None,
) -> FastAPI:
    """The codec server as an ASGI app.

    ``allowed_origin`` is the web UI's origin (e.g. ``http://127.0.0.1:8233``): the only one
    whose browser requests are answered, and the only one from which a session cookie counts.
    ``sign_in`` (:class:`~pathway.codec_server.sign_in.SignIn`) says how browsers sign in: the
    server's own origin, which alone may post the sign-in form (by default each request's
    own), the session signer (by default a per-process random secret), whether cookies are
    forced ``Secure`` (SameSite=None then; by default as the request's scheme, so plain-HTTP
    development gets a SameSite=Lax cookie: the UI and this server on one host are the same
    site, whatever their ports) and the count of failed sign-ins per address.
    """
    sign_in = sign_in or SignIn()
    # redirect_slashes=False: no Location built from the caller's Host header (as the gateway).
    app = FastAPI(
        title="Pathway codec server",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
    )
    app.state.codec = CodecContext(
        codec=codec,
        credentials=credentials,
        allowed_origin=allowed_origin,
        case_access=case_access,
        sessions=sign_in.sessions,
        secure_cookies=sign_in.secure_cookies,
    )
    app.state.sign_in = sign_in
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[allowed_origin],
        allow_credentials=True,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=list(_ALLOWED_HEADERS),
    )
    install_problem_handlers(app, challenge="Bearer")
    for router in (health.router, codec_routes.router, login.router):
        app.include_router(router)
    # /metrics: requests by route and status, decodes by role (docs/metrics.md).
    metrics.install(app, "codec_server")
    return app


async def serve_codec(app: FastAPI, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve ``app`` on ``host:port`` until ``stop`` is set, then shut down gracefully.

    Raises :class:`OSError` if the address cannot be bound.
    """
    await serve_app(app, listen(host, port), stop, name="codec server", graceful_seconds=5)
