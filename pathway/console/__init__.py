"""The caseworker's console (issue 17): server-rendered pages the event gateway serves itself
under ``/console``, for people at the organisations rather than their systems.

Sign-in is the gateway's own authentication (:class:`pathway.access.identity.Authenticator`):
an organisation's API token, or a JWT from the deployment's identity provider, typed into the
sign-in form once, or the identity provider's own sign-in page (OpenID Connect,
:mod:`pathway.console.oidc`, where ``PATHWAY_OIDC_*`` is set); the browser then holds a
signed session cookie (:class:`pathway.access.credentials.SessionSigner`: principal, role,
expiry; HttpOnly, SameSite=Strict, Secure except on localhost). Every form carries a CSRF
token bound to the cookie it is posted with (:mod:`pathway.console.session`). Every page is
``no-store`` and names no personal data.

Settings (read only by :func:`console_settings`): ``PATHWAY_CONSOLE_SECRET`` (64 hex digits;
default: the file ``var/console-secret``, made on first use), the key that signs sessions and
CSRF tokens.
"""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from pathway.access.credentials import SessionSigner
from pathway.access.identity import GatewayConfigError
from pathway.console import programmes, recording, routes, sign_in_oidc
from pathway.console.oidc import OidcClient
from pathway.console.settings import ConsoleSettings, console_settings

__all__ = ["ConsoleSettings", "console_settings", "mount_console"]


def mount_console(app: FastAPI, settings: ConsoleSettings | None = None) -> None:
    """Serve the console on ``app`` (the gateway, whose context it uses) under ``/console``,
    its stylesheet under ``/console/static``. ``settings``: :func:`console_settings` if None.
    The pages (:mod:`~pathway.console.routes`) and the event forms built on them
    (:mod:`~pathway.console.recording`, issue 17 item 4) are joined here, so that neither
    module imports the other's user."""
    settings = settings or console_settings()
    app.state.console = settings
    app.state.console_sessions = SessionSigner(settings.secret, ttl=settings.session_ttl)
    # Sign-in with the organisation's identity provider, where configured (PATHWAY_OIDC_*).
    app.state.console_oidc = _oidc_client(app, settings)
    app.mount("/console/static", StaticFiles(directory=routes.STATIC_DIR), name="console-static")
    app.add_exception_handler(routes.Throttled, routes.throttled_page)
    app.include_router(routes.router)
    app.include_router(sign_in_oidc.router)
    app.include_router(recording.router)
    app.include_router(programmes.router)  # the programme registers (issue 17 item 5)


def _oidc_client(app: FastAPI, settings: ConsoleSettings) -> OidcClient | None:
    """The OIDC sign-in's client, None where it is not configured. Its ID tokens are checked
    by the gateway's JWT verifier (``app.state.gateway``), which must be there and name the
    same issuer: :class:`GatewayConfigError` otherwise (the settings model ensures it for a
    configuration from the environment)."""
    if settings.oidc is None:
        return None
    verifier = app.state.gateway.authenticator.jwt
    if verifier is None or verifier.settings.issuer != settings.oidc.issuer:
        raise GatewayConfigError(
            "OIDC sign-in needs the gateway to verify JWTs of its provider "
            "(PATHWAY_JWKS_URL, PATHWAY_JWT_ISSUER, PATHWAY_JWT_AUDIENCE, PATHWAY_JWT_ROLE_CLAIM)"
        )
    return OidcClient(settings.oidc, settings.secret)
