"""RFC 9457 problem details: every error an HTTP front of Pathway answers, in one format.

Shared by the event gateway and the codec server. A :class:`Problem` is raised anywhere in a
request and answered by the handlers :func:`install_problem_handlers` adds to an app, which also
answer unknown paths, wrong methods and invalid parameters in the same format.

Problem texts are written for the caller and hold no recorded fact about a person: rule IDs,
field paths, case IDs (pseudonyms) and fixed phrases only.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "BEARER_CHALLENGE",
    "PROBLEM_JSON",
    "TYPE_PREFIX",
    "FieldError",
    "Problem",
    "ProblemDetails",
    "field_errors",
    "install_problem_handlers",
    "problem_response",
    "unavailable",
]

PROBLEM_JSON: Final = "application/problem+json"
#: ``type`` URIs of Pathway's problems (the gateway's are documented in docs/gateway.md); a
#: problem without a slug is ``about:blank``, its status saying all there is.
TYPE_PREFIX: Final = "urn:pathway:problem:"
#: The ``WWW-Authenticate`` challenge of a 401 unless the app installs another.
BEARER_CHALLENGE: Final = 'Bearer realm="pathway"'


class FieldError(BaseModel):
    """One problem with one field of the request body."""

    field: str = Field(description="Dotted path into the body, e.g. person.citizenships.0")
    message: str


class ProblemDetails(BaseModel):
    """An error answer (RFC 9457), with Pathway's extension members."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="urn:pathway:problem:<slug>, or about:blank")
    title: str
    status: int
    detail: str | None = None
    rule: str | None = Field(
        default=None,
        description="rule ID (docs/rules.md) or service check (ACCESS, CASE, TIME, IDEMPOTENCY)",
    )
    field: str | None = Field(default=None, description="The field at fault, as a dotted path")
    errors: list[FieldError] | None = Field(default=None, description="Every field problem (422)")
    case_id: str | None = None


class Problem(Exception):
    """Raised anywhere in a request; answered as ``application/problem+json``.

    ``slug`` makes the ``type`` (``urn:pathway:problem:<slug>``; empty: ``about:blank``).
    ``extra`` members are added to the body, those that are None left out.
    """

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = {key: value for key, value in extra.items() if value is not None}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_PREFIX + self.slug if self.slug else "about:blank",
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extra)
        return body

    def response(self, challenge: str = BEARER_CHALLENGE) -> JSONResponse:
        """The answer; a 401 carries ``WWW-Authenticate: <challenge>`` unless its headers
        name one already."""
        headers = dict(self.headers)
        if self.status == 401:
            headers.setdefault("WWW-Authenticate", challenge)
        return JSONResponse(
            self.body(), status_code=self.status, media_type=PROBLEM_JSON, headers=headers
        )


def unavailable(slug: str, title: str, retry_after: int, detail: str | None = None) -> Problem:
    """A 503 that tells the caller when to try again."""
    return Problem(503, slug, title, detail, headers={"Retry-After": str(retry_after)})


def field_errors(problems: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """``(field, message)`` pairs as the ``errors`` member of a 422."""
    return [FieldError(field=where, message=message).model_dump() for where, message in problems]


def problem_response(description: str) -> dict[str, Any]:
    """The OpenAPI ``responses`` entry of an error status (the app adds the ``ProblemDetails``
    schema to the document's components)."""
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
    }


# -- handlers ----------------------------------------------------------------------------------
async def _on_problem(request: Request, exc: Exception, *, challenge: str) -> Response:
    assert isinstance(exc, Problem)
    return exc.response(challenge)


async def _on_http_error(request: Request, exc: Exception, *, challenge: str) -> Response:
    # Unknown paths, wrong methods: the same format as everything else (a 405 keeps its Allow).
    assert isinstance(exc, StarletteHTTPException)
    return Problem(exc.status_code, "", str(exc.detail), headers=dict(exc.headers or {})).response(
        challenge
    )


async def _on_invalid_parameters(request: Request, exc: Exception, *, challenge: str) -> Response:
    # Query and path parameters FastAPI validated; the field path leaves out where it was
    # ("query", "path"), unless that is all there is.
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(
        [
            (".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), str(e["msg"]))
            for e in exc.errors()
        ]
    )
    return Problem(
        422,
        "invalid-request",
        "invalid request parameters",
        field=errors[0]["field"] if errors else None,
        errors=errors,
    ).response(challenge)


def install_problem_handlers(app: FastAPI, *, challenge: str = BEARER_CHALLENGE) -> None:
    """Answer :class:`Problem`, HTTP errors (unknown path, wrong method) and invalid request
    parameters as problems; ``challenge`` is the ``WWW-Authenticate`` of a 401."""
    app.add_exception_handler(Problem, partial(_on_problem, challenge=challenge))
    app.add_exception_handler(StarletteHTTPException, partial(_on_http_error, challenge=challenge))
    app.add_exception_handler(
        RequestValidationError, partial(_on_invalid_parameters, challenge=challenge)
    )
