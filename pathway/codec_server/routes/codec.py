"""``/decode`` and ``/encode``: Temporal's remote codec protocol.

Both take and return ``{"payloads": [...]}`` (protobuf JSON of
``temporal.api.common.v1.Payloads``). Decoding is authorised per case: every encrypted payload
names its key, the key names its case, and the server's :class:`~pathway.codec_server.CaseAccess`
grants the caller, for each case, whole payloads (operators), payloads filtered by the read
matrix (members: :mod:`pathway.codec_server.views`), or nothing (docs/rules.md "Access", R6).
A request naming any case granted nothing is refused whole (403, the same answer whether the
case exists or not); an erased case is 410 to those who may learn of the erasure. Payloads keep
their count and order. Only operators encode.

Errors and audit lines name principals, case IDs (pseudonyms) and counts only, never what a
payload holds.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time.
import asyncio
import json
from collections.abc import Iterable
from typing import Final

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from pathway.access.credentials import Principal
from pathway.codec_server.case_access import Grant
from pathway.codec_server.context import CodecContext
from pathway.codec_server.dependencies import Caller, Codec, Namespace, Operator
from pathway.codec_server.views import PLACEHOLDER, filtered
from pathway.metrics.http import record_decode
from pathway.privacy.codec import META_KEY_ID, is_encrypted
from pathway.privacy.keys import CaseErased, PrivacyError, UnknownKey, scope_of
from pathway.web.bodies import read_body
from pathway.web.problems import Problem

__all__ = ["MAX_BODY_BYTES", "router"]

log = structlog.stdlib.get_logger("pathway.codec_server")

router = APIRouter()

#: Temporal limits one payload to 2 MB and one gRPC message to 4 MB; a batch of a whole history's
#: payloads stays well below this. Bigger bodies are refused before they are read into memory.
MAX_BODY_BYTES: Final = 16 * 1024 * 1024


# -- the payloads in a request and an answer ----------------------------------------------------
async def payloads_in(request: Request) -> list[Payload]:
    """The body's payloads: 413 over :data:`MAX_BODY_BYTES`, 400 if it is not ``Payloads``."""
    body = await read_body(request, MAX_BODY_BYTES)
    try:
        raw = json.loads(body)
        if not isinstance(raw, dict):
            raise TypeError("not an object")
        # Unknown fields are ignored so that a newer UI's additions do not break decoding.
        message = json_format.ParseDict(raw, Payloads(), ignore_unknown_fields=True)
    except (ValueError, TypeError, json_format.ParseError, RecursionError):
        # The parser's message may quote the input: the caller gets a fixed one instead.
        raise Problem(
            400,
            "",
            "malformed request",
            'expected JSON {"payloads": [{"metadata": {...}, "data": "..."}]}',
        ) from None
    return list(message.payloads)


def payloads_answer(payloads: Iterable[Payload]) -> JSONResponse:
    return JSONResponse({"payloads": [json_format.MessageToDict(p) for p in payloads]})


def case_of(payload: Payload) -> str | None:
    """The case (key scope) an encrypted payload names; None for a plain payload. 422 if it
    names no valid key."""
    if not is_encrypted(payload):
        return None
    try:
        return scope_of(payload.metadata.get(META_KEY_ID, b"").decode("utf-8"))
    except (UnknownKey, UnicodeDecodeError):
        raise Problem(
            422,
            "",
            "payload cannot be decoded",
            "an encrypted payload does not name a valid key",
        ) from None


def case_ids_of(payloads: Iterable[Payload]) -> list[str]:
    """The case (key scope) of every encrypted payload; plain payloads name none."""
    return sorted({case for case in map(case_of, payloads) if case is not None})


# -- refusals -----------------------------------------------------------------------------------
def erased(
    principal: Principal, case_ids: list[str], namespace: str | None, event: str = "decode failed"
) -> Problem:
    log.info(
        event,
        principal=principal.name,
        role=principal.role,
        case_ids=case_ids,
        namespace=namespace,
        refusal="case erased",
    )
    return Problem(
        410,
        "",
        "case erased",
        "the case's data key was destroyed: its payloads can never be read",
        case_ids=case_ids,
    )


async def check_access(
    codec: CodecContext, principal: Principal, case_ids: list[str], namespace: str | None
) -> dict[str, Grant]:
    """What ``principal`` may decode of each case (:class:`Grant`). 403 naming the cases it
    is granted nothing of (the same answer for a case that does not exist, one it is no member
    of and one erased that it was no member of); else 410 for a case erased that it may learn
    of; 503 if that cannot be decided (fail closed)."""
    try:
        grants = await asyncio.gather(
            *(codec.case_access.grant(principal, case_id) for case_id in case_ids)
        )
    except Exception as err:
        # Fail closed: when the decision cannot be made, nothing is decoded.
        log.error(
            "decode refused",
            principal=principal.name,
            role=principal.role,
            case_ids=case_ids,
            namespace=namespace,
            refusal="access check failed",
            error=type(err).__name__,
        )
        raise Problem(503, "", "access check unavailable", "try again later") from None
    granted = dict(zip(case_ids, grants, strict=True))
    refused = [case_id for case_id, grant in granted.items() if grant is Grant.NONE]
    if refused:
        log.warning(
            "decode refused",
            principal=principal.name,
            role=principal.role,
            case_ids=refused,
            namespace=namespace,
            refusal=f"role {principal.role} may decode nothing of these cases",
        )
        raise Problem(
            403,
            "",
            "not allowed to decode these cases",
            "no member of these cases, or no such cases",
            case_ids=refused,
        )
    gone = [case_id for case_id, grant in granted.items() if grant is Grant.ERASED]
    if gone:
        raise erased(principal, gone, namespace)
    return granted


async def decoded(
    codec: CodecContext,
    principal: Principal,
    payloads: list[Payload],
    case_ids: list[str],
    namespace: str | None,
) -> list[Payload]:
    """``payloads`` decoded: 422 for a tampered payload or an unknown key. A case erased since
    its grant is asked again: 410 for those who may learn of it, else the refusal of
    :func:`check_access`."""
    try:
        return await codec.codec.decode(payloads)
    except CaseErased as err:
        await check_access(codec, principal, [err.scope], namespace)
        raise erased(principal, [err.scope], namespace) from None
    except PrivacyError as err:
        # TamperedPayload or UnknownKey; their messages name key IDs only, still not sent.
        log.warning(
            "decode failed",
            principal=principal.name,
            role=principal.role,
            case_ids=case_ids,
            namespace=namespace,
            refusal=type(err).__name__,
        )
        raise Problem(
            422,
            "",
            "payload cannot be decoded",
            "a payload failed authentication or names an unknown key",
        ) from None


# -- the routes ---------------------------------------------------------------------------------
@router.post("/decode")
async def decode(
    request: Request, principal: Caller, codec: Codec, namespace: Namespace
) -> JSONResponse:
    payloads = await payloads_in(request)
    case_ids = case_ids_of(payloads)
    grants = await check_access(codec, principal, case_ids, namespace)
    plain = await decoded(codec, principal, payloads, case_ids, namespace)
    # Each payload as its case's grant allows: a member's filtered by the read matrix.
    shown = [
        filtered(decoded_payload, principal.role)
        if (case := case_of(sealed)) is not None and grants[case] is Grant.FILTERED
        else decoded_payload
        for sealed, decoded_payload in zip(payloads, plain, strict=True)
    ]
    log.info(
        "payloads decoded",
        principal=principal.name,
        role=principal.role,
        case_ids=case_ids,
        payload_count=len(payloads),
        filtered=sorted(case for case, grant in grants.items() if grant is Grant.FILTERED),
        withheld_count=sum(p is PLACEHOLDER for p in shown),
        namespace=namespace,
    )
    record_decode(request, principal.role, len(payloads))
    return payloads_answer(shown)


@router.post("/encode")
async def encode(
    request: Request, principal: Operator, codec: Codec, namespace: Namespace
) -> JSONResponse:
    payloads = await payloads_in(request)
    try:
        encoded = await codec.codec.encode(payloads)
    except CaseErased as err:
        raise erased(principal, [err.scope], namespace, "encode failed") from None
    log.info(
        "payloads encoded",
        principal=principal.name,
        role=principal.role,
        key_scope=codec.codec.scope,
        payload_count=len(payloads),
        namespace=namespace,
    )
    return payloads_answer(encoded)
