"""The console's settings, read in one place (:func:`console_settings`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from pathway.access.credentials import SESSION_TTL
from pathway.console.oidc import OidcSettings

__all__ = ["KEY_ENV", "KEY_FILE", "ConsoleSettings", "console_settings"]

#: The key that signs the console's sessions and CSRF tokens: 64 hex digits.
KEY_ENV: Final = "PATHWAY_CONSOLE_SECRET"
#: Its file in the state directory when the variable is unset (made, 0600, if missing).
KEY_FILE: Final = "console-secret"


@dataclass(frozen=True, kw_only=True)
class ConsoleSettings:
    """``secret``: 32 bytes signing sessions and CSRF tokens (shared by every gateway process
    of a deployment, so a session survives a restart); ``session_ttl``: how long a sign-in
    lasts; ``oidc``: sign-in with the organisation's identity provider
    (:mod:`pathway.console.oidc`), None where it is not configured."""

    secret: bytes
    session_ttl: timedelta = SESSION_TTL
    oidc: OidcSettings | None = None


def console_settings() -> ConsoleSettings:
    """From ``PATHWAY_CONSOLE_SECRET``, else ``var/console-secret`` (made if missing), and
    ``PATHWAY_OIDC_*`` (with ``PATHWAY_JWT_ISSUER``: :meth:`OidcSettings.from_settings`).
    Raises :class:`pathway.settings.StateError` (one line naming the variable or file) if it
    is malformed or unreadable."""
    from pathway import settings

    return ConsoleSettings(
        secret=settings._state_secret(KEY_ENV, KEY_FILE, "console secret", create=True),
        oidc=OidcSettings.from_settings(settings.current()),
    )
