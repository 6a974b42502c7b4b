"""The codec server: Temporal's remote codec protocol, so the web UI and CLI show case data to
those allowed to read it, and to no one else.

``POST /decode`` and ``POST /encode`` take and return ``{"payloads": [...]}`` (protobuf JSON of
``temporal.api.common.v1.Payloads``). Callers authenticate with ``Authorization: Bearer <token>``
(the CLI) or with a session cookie from ``/login`` (the web UI, whose codec settings must
include cross-origin credentials: ``pathway dev`` configures its UI so; docs/privacy.md).

Decoding is authorised per case: every encrypted payload names its key, the key names its case,
and :class:`CaseAccess` decides whether the principal may read that case whole (docs/rules.md
"Access", R6). The web UI shows whole payloads, so roles that may only see filtered views (police)
or aggregates (analysts) are refused here and read through their own views instead.

Nothing a payload contains ever reaches a response other than the decoded payloads themselves,
nor any log line: errors and audit lines name principals, case IDs (pseudonyms) and counts only.

The parts: :mod:`.app` (:func:`create_codec_app`, :func:`serve_codec`), :mod:`.context` (what
every request reaches), :mod:`.dependencies` (the caller, from a token or a session cookie sent
from the UI's origin), :mod:`.case_access` (who may read a case whole) and the routers in
:mod:`.routes` (``/decode`` and ``/encode``, ``/login`` and ``/logout``, ``/healthz``), with
:mod:`.sign_in` guarding ``/login`` (same origin only, failed attempts throttled). Errors
are ``application/problem+json`` (:mod:`pathway.web.problems`).
"""

from pathway.codec_server.app import create_codec_app, serve_codec
from pathway.codec_server.case_access import CaseAccess, Involved, Members, RoleCaseAccess
from pathway.codec_server.dependencies import SESSION_COOKIE
from pathway.codec_server.sign_in import FailedAttempts, SignIn

__all__ = [
    "SESSION_COOKIE",
    "CaseAccess",
    "FailedAttempts",
    "Involved",
    "Members",
    "RoleCaseAccess",
    "SignIn",
    "create_codec_app",
    "serve_codec",
]
