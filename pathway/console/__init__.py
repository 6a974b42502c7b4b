"""The caseworker's console (issue 17): server-rendered pages the event gateway serves itself
under ``/console``, for people at the organisations rather than their systems.

Sign-in is the gateway's own authentication (:class:`pathway.access.identity.Authenticator`):
an organisation's API token, or a JWT from the deployment's identity provider, typed into the
sign-in form once; the browser then holds a signed session cookie
(:class:`pathway.access.credentials.SessionSigner`: principal, role, expiry; HttpOnly,
SameSite=Strict, Secure except on localhost). Every form carries a CSRF token bound to the
cookie it is posted with (:mod:`pathway.console.session`). Every page is ``no-store`` and names
no personal data.

Settings (read only by :func:`console_settings`): ``PATHWAY_CONSOLE_SECRET`` (64 hex digits;
default: the file ``var/console-secret``, made on first use), the key that signs sessions and
CSRF tokens.
"""

from pathway.console.routes import mount_console
from pathway.console.settings import ConsoleSettings, console_settings

__all__ = ["ConsoleSettings", "console_settings", "mount_console"]
