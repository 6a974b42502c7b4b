"""Request bodies read within a size limit, so a huge body is refused before it is in memory.

Shared by the event gateway and the codec server. Errors are :class:`~pathway.web.problems.Problem`
answers: 413 (too large), 415 (not JSON), 400 (not valid JSON); their texts never quote the body.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from pathway.web.problems import Problem

__all__ = ["is_json", "read_body", "read_json"]


def _too_large(limit: int) -> Problem:
    return Problem(413, "payload-too-large", "request body too large", f"at most {limit} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing one over ``limit`` bytes (413) without reading it all into memory:
    at once if its ``Content-Length`` says so, else as soon as the stream passes the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def is_json(request: Request) -> bool:
    """The body is declared ``application/json`` or ``application/<something>+json``."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def read_json(
    request: Request, limit: int, *, media_detail: str = "send application/json"
) -> Any:
    """The body parsed as JSON: 415 (with ``media_detail``) unless it is declared JSON, 413 over
    ``limit`` bytes, 400 if it does not parse."""
    if not is_json(request):
        raise Problem(415, "unsupported-media-type", "unsupported media type", media_detail)
    body = await read_body(request, limit)
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        # The parser's message may quote the body: a fixed one instead.
        raise Problem(
            400, "malformed-request", "malformed request", "the body is not valid JSON"
        ) from None
