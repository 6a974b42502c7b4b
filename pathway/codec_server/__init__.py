"""The codec server: Temporal's remote codec protocol, so the web UI and CLI show case data to
those allowed to read it, and to no one else.

``POST /decode`` and ``POST /encode`` take and return ``{"payloads": [...]}`` (protobuf JSON of
``temporal.api.common.v1.Payloads``). Callers authenticate with ``Authorization: Bearer <token>``
(the CLI) or with a session cookie from ``/login`` (the web UI, whose codec settings must
include cross-origin credentials: ``pathway dev`` configures its UI so; docs/privacy.md).

Decoding is authorised per case: every encrypted payload names its key, the key names its case,
and :class:`CaseAccess` grants the principal (:class:`Grant`) whole payloads (operators), each
payload filtered by the gateway's read matrix (members of the case: :mod:`.views`; what it cannot
filter field by field, or the role may not see, becomes one fixed placeholder), or nothing
(everyone else, with the same answer whether the case exists or not); docs/rules.md "Access",
R6, docs/privacy.md "Who sees what".

Nothing a payload contains ever reaches a response other than the decoded payloads themselves,
nor any log line: errors and audit lines name principals, case IDs (pseudonyms) and counts only.

The parts: :mod:`.app` (:func:`create_codec_app`, :func:`serve_codec`), :mod:`.server` (the
deployment's codec server for a Temporal client, as ``pathway dev`` and ``pathway codec-server``
run it: :func:`~.server.case_codec_app`, :func:`~.server.run_codec_server`), :mod:`.context` (what
every request reaches), :mod:`.dependencies` (the caller, from a token or a session cookie sent
from the UI's origin), :mod:`.case_access` (what a principal may decode of a case), :mod:`.views`
(a member's view of each decoded payload) and the routers in
:mod:`.routes` (``/decode`` and ``/encode``, ``/login`` and ``/logout``, ``/healthz``), with
:mod:`.sign_in` guarding ``/login`` (same origin only, failed attempts throttled). Errors
are ``application/problem+json`` (:mod:`pathway.web.problems`).
"""

from pathway.codec_server.app import create_codec_app, serve_codec
from pathway.codec_server.case_access import (
    CaseAccess,
    ErasureRecords,
    Grant,
    MemberRoles,
    RoleCaseAccess,
)
from pathway.codec_server.dependencies import SESSION_COOKIE
from pathway.codec_server.sign_in import FailedAttempts, SignIn

__all__ = [
    "SESSION_COOKIE",
    "CaseAccess",
    "ErasureRecords",
    "FailedAttempts",
    "Grant",
    "MemberRoles",
    "RoleCaseAccess",
    "SignIn",
    "create_codec_app",
    "serve_codec",
]
