"""The gateway's OpenAPI document (``/openapi.json``): the error answers each kind of route
documents, the request bodies (read by the routes themselves, so described here), and the
JSON Schemas of the events and of the problem format, added to the document's components."""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_openapi

from pathway.domain.events import EVENT_ADAPTER, Identified
from pathway.web.problems import ProblemDetails, problem_response

__all__ = ["AUTH_ERRORS", "CASE_ERRORS", "EVENT_ERRORS", "openapi_document", "request_body"]

_REF: Final = "#/components/schemas/{model}"

#: Every route behind the door: who is calling, how often, and whether they could be checked.
AUTH_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: problem_response("No or an unknown token"),
    400: problem_response("More than one Authorization header"),
    429: problem_response(
        "Too many requests from this organisation, or (type busy) more events for the case "
        "at once than it takes: nothing recorded, send again (see Retry-After)"
    ),
    503: problem_response(
        "Temporal or the identity provider is unreachable (see "
        "Retry-After); an event's outcome is then unknown: send it again"
    ),
    504: problem_response(
        "Temporal is up but did not answer in time (type outcome-unknown): an event may or "
        "may not have been recorded, send it again with the same event_id (see Retry-After)"
    ),
}
#: Routes that read or write one case.
CASE_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    **AUTH_ERRORS,
    403: problem_response("The caller's role may not do this (rule ACCESS)"),
    404: problem_response(
        "No such case, or the caller is not a member of it, or (for all but operators) it "
        "was erased: the same answer for each"
    ),
    410: problem_response("The case was erased (operators only)"),
}
#: Routes that take an event.
EVENT_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    **CASE_ERRORS,
    400: problem_response("The body is not JSON, or more than one Authorization header"),
    409: problem_response("The event broke a rule (rule, field) and changed nothing"),
    413: problem_response("The body is too large"),
    415: problem_response("The body is not application/json"),
    422: problem_response("The event is malformed (errors: field and message)"),
}


def request_body(schema: str) -> dict[str, Any]:
    """The ``openapi_extra`` of a route whose JSON body is the component ``schema``."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }


def _components() -> dict[str, Any]:
    """JSON Schemas of the request bodies and the problem format, for the OpenAPI document."""
    union = EVENT_ADAPTER.json_schema(ref_template=_REF)
    schemas: dict[str, Any] = dict(union.pop("$defs", {}))
    schemas["CaseEvent"] = union
    for model in (Identified, ProblemDetails):
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """``app``'s document, made once: its routes, and the schemas above in its components."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(
            jsonable_encoder(_components())
        )
        app.openapi_schema = schema
    return app.openapi_schema
