"""RFC 9457 problem details: every error the gateway answers, in one format.

Problem texts are written for the caller and hold no recorded fact about a person: rule IDs,
field paths and fixed phrases only (a rejection's reason comes from the domain, which words
its reasons the same way).
"""

from __future__ import annotations

from typing import Any, Final

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON: Final = "application/problem+json"
#: ``type`` URIs of the gateway's problems (documented in docs/gateway.md).
TYPE_PREFIX: Final = "urn:pathway:problem:"


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
    rule: str | None = Field(default=None, description="SPEC rule ID or service check "
                             "(ACCESS, CASE, TIME, IDEMPOTENCY, ...)")
    field: str | None = Field(default=None, description="The field at fault, as a dotted path")
    errors: list[FieldError] | None = Field(default=None,
                                            description="Every field problem (422)")
    case_id: str | None = None


class Problem(Exception):
    """Raised anywhere in a request; answered as ``application/problem+json``."""

    def __init__(self, status: int, slug: str, title: str, detail: str | None = None, *,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = {key: value for key, value in extra.items() if value is not None}

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {
            "type": TYPE_PREFIX + self.slug if self.slug else "about:blank",
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extra)
        headers = dict(self.headers)
        if self.status == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="pathway"')
        return JSONResponse(body, status_code=self.status, media_type=PROBLEM_JSON,
                            headers=headers)


def unavailable(slug: str, title: str, retry_after: int, detail: str | None = None) -> Problem:
    """A 503 that tells the caller when to try again."""
    return Problem(503, slug, title, detail, headers={"Retry-After": str(retry_after)})


def problem_response(description: str) -> dict[str, Any]:
    """The OpenAPI ``responses`` entry of an error status (the schema is added to the
    components by the app)."""
    return {"description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}
