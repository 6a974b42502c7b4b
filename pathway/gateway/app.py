"""The event gateway: NGO and authority systems send events and read what concerns them over
HTTP, without access to Temporal (a Temporal namespace is no authorisation boundary).

Every request is authenticated (:mod:`pathway.gateway.identity`), rate-limited per
organisation, and authorised against the two matrices of :mod:`pathway.gateway.access`. An
event is answered only once its case's workflow accepted or rejected it (a Temporal Update), so
"accepted" means durably recorded; when Temporal cannot be reached the answer is 503 with
``Retry-After`` and nothing was applied; a repeat of an ``event_id`` returns the first result.
Errors are ``application/problem+json`` (RFC 9457) naming the rule or the field.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time,
# and they name dependencies local to create_gateway_app.
import asyncio
import json
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, TypeVar

import structlog
from fastapi import Depends, FastAPI, Query, Request, Response, Security
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from pathway import search_attributes
from pathway.auth import Principal
from pathway.cases import EventRejected, UnknownCase, case_state, open_case, record_event
from pathway.domain.config import CaseConfig
from pathway.domain.events import (
    EVENT_ADAPTER,
    BaseEvent,
    CaseEvent,
    Identified,
    parse_event,
    validation_problems,
)
from pathway.domain.ids import case_id_for
from pathway.domain.organisations import CASE_TASK_QUEUE, Organisation
from pathway.domain.state import CaseState, DeadlineKind, ObligationKind, Phase
from pathway.gateway._problems import (
    FieldError,
    Problem,
    ProblemDetails,
    problem_response,
    unavailable,
)
from pathway.gateway._ratelimit import RateLimiter
from pathway.gateway.access import (
    case_view,
    may_read,
    may_read_cases,
    may_send,
    summary_view,
    timeline_view,
)
from pathway.gateway.identity import (
    Authenticator,
    AuthUnavailable,
    GatewayConfigError,
    is_production,
)
from pathway.privacy.codec import CaseCodec
from pathway.privacy.keys import CaseErased

__all__ = ["GatewaySettings", "create_gateway_app"]

log = structlog.stdlib.get_logger(__name__)

T = TypeVar("T")

#: Case IDs are ``case-`` and lower-case base32 (children's cases add ``-<label>``). Anything
#: else cannot be a case: 404 without asking Temporal.
_CASE_ID: Final = re.compile(r"case-[a-z0-9][a-z0-9-]{0,150}")
_ANALYST: Final = Organisation.ANALYST.value
_REF: Final = "#/components/schemas/{model}"
_NEVER: Final = datetime.max.replace(tzinfo=UTC)
_UNKNOWN_OUTCOME: Final = ("try again later; an event whose answer this is may or may not have "
                           "been recorded: send it again with the same event_id")
#: Where the gateway serves Swagger UI's own files (from the fastapi-swagger package): the /docs
#: page loads nothing from anywhere else, so it works offline and behind any firewall.
_DOCS_STATIC: Final = "/docs/static"
#: The browser may load the /docs page's parts only from the gateway (Swagger UI's start-up
#: script is inline, and its stylesheet embeds data: images).
_DOCS_CSP: Final = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
                    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                    "frame-ancestors 'none'")


@dataclass(frozen=True, kw_only=True)
class GatewaySettings:
    """What the gateway needs besides its Temporal client and authenticator."""

    #: The secret behind case IDs (``PATHWAY_ID_PEPPER``): shared by every client of a
    #: deployment, or one person would get two cases.
    pepper: bytes
    #: The task queue the case workflows are started on (the case worker's).
    task_queue: str = CASE_TASK_QUEUE
    #: Periods for newly opened cases.
    case_config: CaseConfig = field(default_factory=CaseConfig)
    #: Largest request body accepted (an event is a few kB).
    max_body_bytes: int = 64 * 1024
    #: Per-organisation token bucket: average requests per second, and the burst allowed.
    rate_per_second: float = 10.0
    burst: int = 60
    #: How long a request waits for Temporal before answering 503 (the outcome of an event is
    #: then unknown: send it again with the same event_id).
    temporal_timeout: float = 10.0
    #: The ``Retry-After`` of a 503.
    retry_after_seconds: int = 5
    #: At most this many cases in one obligations answer (``truncated`` says when more match).
    obligations_limit: int = 200
    #: Cases queried at once for the obligations answer.
    obligations_concurrency: int = 8

    def __post_init__(self) -> None:
        # The task queue goes into a visibility query between single quotes.
        if not re.fullmatch(r"[\w.:/-]+", self.task_queue):
            raise GatewayConfigError("task queue names may hold only letters, digits, . : / -")
        if self.max_body_bytes < 1024 or self.temporal_timeout <= 0:
            raise GatewayConfigError("max_body_bytes must be >= 1024, temporal_timeout > 0")
        if self.rate_per_second <= 0 or self.burst < 1:
            raise GatewayConfigError("the rate must be positive and the burst at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "GatewaySettings":
        """From ``PATHWAY_ID_PEPPER`` (or ``var/id-pepper``), ``PATHWAY_CASE_CONFIG`` and
        ``PATHWAY_GATEWAY_RATE`` / ``_BURST`` / ``_MAX_BODY`` / ``_TEMPORAL_TIMEOUT``.

        Reads ``os.environ`` through :mod:`pathway.settings` for the pepper and case config."""
        from pathway import settings

        env = os.environ if environ is None else environ
        numbers: dict[str, Any] = {}
        for name, key, kind in (("PATHWAY_GATEWAY_RATE", "rate_per_second", float),
                                ("PATHWAY_GATEWAY_BURST", "burst", int),
                                ("PATHWAY_GATEWAY_MAX_BODY", "max_body_bytes", int),
                                ("PATHWAY_GATEWAY_TEMPORAL_TIMEOUT", "temporal_timeout", float)):
            if value := env.get(name):
                try:
                    numbers[key] = kind(value)
                except ValueError:
                    raise GatewayConfigError(f"{name} must be a number") from None
        if (is_production(env) and not env.get("PATHWAY_ID_PEPPER")
                and not (settings.var_dir() / "id-pepper").exists()):
            # A pepper of its own would give every person a second case: in production it
            # must be the deployment's, never a fresh one.
            raise GatewayConfigError(
                "PATHWAY_MODE=production needs the deployment's PATHWAY_ID_PEPPER")
        return cls(pepper=settings.id_pepper(), case_config=settings.case_config(), **numbers)


# -- answers (documented in the OpenAPI) --------------------------------------------------------
class SummaryView(BaseModel):
    """Where the case stands after the event (only the parts the caller may read)."""

    case_id: str
    phase: Phase | None = None
    open_obligations: list[dict[str, Any]] | None = None
    upcoming_deadlines: list[dict[str, Any]] | None = None


class EventAnswer(BaseModel):
    """An accepted event. ``duplicate`` marks a repeat of an ``event_id``: the first result."""

    event_id: str
    event_type: str
    duplicate: bool
    summary: SummaryView


class OpenedCase(EventAnswer):
    """The case an identification opened (or, on a repeat, had opened)."""

    case_id: str


class TimelineAnswer(BaseModel):
    case_id: str
    timeline: list[dict[str, Any]] = Field(
        description="Entries with the fields the caller's role may read")


class OwnObligation(BaseModel):
    id: str
    kind: ObligationKind
    rule: str
    action: str
    due_at: datetime | None
    escalated: bool


class RemindedDeadline(BaseModel):
    kind: DeadlineKind
    rule: str
    due_at: datetime
    next_reminder_at: datetime | None = Field(
        description="The next reminder to this organisation, if one is still to come")


class CaseObligations(BaseModel):
    case_id: str
    obligations: list[OwnObligation]
    deadlines: list[RemindedDeadline]


class ObligationsAnswer(BaseModel):
    """Open obligations of one organisation, and deadlines it is reminded of, across cases."""

    organisation: Organisation
    cases: list[CaseObligations]
    truncated: bool = Field(description="More cases matched than one answer holds")


_AUTH_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: problem_response("No or an unknown token"),
    429: problem_response("Too many requests from this organisation (see Retry-After)"),
    503: problem_response("Temporal or the identity provider is unreachable (see "
                          "Retry-After); an event's outcome is then unknown: send it again"),
}
_CASE_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    **_AUTH_ERRORS,
    403: problem_response("The caller's role may not do this (rule ACCESS)"),
    404: problem_response("No such case, or the caller is not involved in it"),
    410: problem_response("The case was erased"),
}
_EVENT_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    **_CASE_ERRORS,
    400: problem_response("The body is not JSON"),
    409: problem_response("The event broke a rule (rule, field) and changed nothing"),
    413: problem_response("The body is too large"),
    415: problem_response("The body is not application/json"),
    422: problem_response("The event is malformed (errors: field and message)"),
}


def _body(schema: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}}


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


def _swagger_ui_files() -> Path:
    """The directory of Swagger UI's dist files (``swagger-ui-bundle.js``, ``swagger-ui.css``,
    ``favicon-32x32.png``) as the fastapi-swagger package installs them."""
    return Path(str(resources.files("fastapi_swagger") / "resources"))


# -- the app ----------------------------------------------------------------------------------
def create_gateway_app(*, client: Client, authenticator: Authenticator,
                       settings: GatewaySettings) -> FastAPI:
    """The gateway as an ASGI app, in front of the case workflows reached through ``client``
    (which must carry the project's encrypting data converter)."""
    limiter = RateLimiter(settings.rate_per_second, settings.burst)
    bearer = HTTPBearer(auto_error=False, scheme_name="bearer", description=(
        "An organisation's API token, or a JWT from the deployment's identity provider."))
    app = FastAPI(
        title="Pathway event gateway",
        version="1",
        description=(
            "Send case events and read what concerns your organisation. Every error is "
            "application/problem+json (RFC 9457) with `rule`, `field` or `errors`. See "
            "docs/gateway.md."),
        # /docs is the route below, with Swagger UI served by the gateway itself (FastAPI's
        # own page loads Swagger UI from a third-party host).
        openapi_url="/openapi.json", docs_url=None, redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )

    # -- errors ---------------------------------------------------------------------------------
    @app.exception_handler(Problem)
    async def _on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _on_http_error(request: Request, exc: Exception) -> Response:
        # Unknown paths, wrong methods: the same format as everything else.
        assert isinstance(exc, StarletteHTTPException)
        return Problem(exc.status_code, "", str(exc.detail),
                       headers=dict(exc.headers or {})).response()

    @app.exception_handler(RequestValidationError)
    async def _on_invalid_parameters(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [FieldError(field=".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]),
                             message=str(e["msg"])).model_dump()
                  for e in exc.errors()]
        return Problem(422, "invalid-request", "invalid request parameters",
                       field=errors[0]["field"] if errors else None, errors=errors).response()

    @app.middleware("http")
    async def _audit(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                     ) -> Response:
        # One line per request: who, which route, what came of it. Never a body, a query
        # string or a header value.
        started = time.perf_counter()
        request.state.audit = {}
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            principal: Principal | None = getattr(request.state, "principal", None)
            route = request.scope.get("route")
            log.info("gateway request", method=request.method,
                     route=getattr(route, "path", None), status=status,
                     principal=principal.name if principal else None,
                     role=principal.role if principal else None,
                     duration_ms=round((time.perf_counter() - started) * 1000, 1),
                     **request.state.audit)

    # -- who is calling -------------------------------------------------------------------------
    async def caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> Principal:
        if credentials is None:
            raise Problem(401, "authentication-required", "authentication required",
                          "send Authorization: Bearer <token>")
        try:
            principal = await authenticator.authenticate(credentials.credentials)
        except AuthUnavailable:
            raise unavailable("authentication-unavailable",
                              "authentication temporarily unavailable",
                              settings.retry_after_seconds,
                              "the identity provider's keys cannot be fetched") from None
        if principal is None:
            log.warning("gateway authentication failed",
                        client=request.client.host if request.client else None)
            raise Problem(401, "authentication-required", "authentication failed",
                          "the token is unknown, expired or not for this service")
        request.state.principal = principal
        wait = limiter.take(principal.role)
        if wait is not None:
            raise Problem(429, "rate-limited", "too many requests",
                          f"at most {settings.rate_per_second:g} requests per second on "
                          f"average for {principal.role}", headers={"Retry-After": str(wait)})
        return principal

    async def case_reader(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        if not may_read_cases(principal.role):
            raise Problem(403, "forbidden", "not allowed", f"role {principal.role} reads "
                          "aggregates only, never a case", rule="ACCESS")
        return principal

    # -- Temporal -------------------------------------------------------------------------------
    async def temporal(call: Awaitable[T], detail: str = _UNKNOWN_OUTCOME) -> T:
        """``call`` within the gateway's patience; Temporal trouble becomes a 503."""
        try:
            async with asyncio.timeout(settings.temporal_timeout):
                return await call
        except (TimeoutError, RPCError, RuntimeError, WorkflowUpdateRPCTimeoutOrCancelledError,
                WorkflowQueryFailedError) as err:
            log.error("temporal unavailable", error=type(err).__name__,
                      status=getattr(getattr(err, "status", None), "name", None))
            raise unavailable("temporal-unavailable", "the case service is unavailable",
                              settings.retry_after_seconds, detail) from None

    def erased(case_id: str) -> bool:
        codec = client.data_converter.payload_codec
        return isinstance(codec, CaseCodec) and codec.store.is_destroyed(case_id)

    def gone(case_id: str) -> Problem:
        return Problem(410, "case-erased", "case erased",
                       "the case was erased: nothing about it can be read or recorded",
                       case_id=case_id)

    def not_found(case_id: str) -> Problem:
        # The same answer whether the case does not exist or the caller is not involved in
        # it, so that case existence does not leak.
        return Problem(404, "not-found", "no such case", case_id=case_id)

    def check_case_id(request: Request, case_id: str) -> None:
        if not _CASE_ID.fullmatch(case_id):
            # Not even echoed: whatever the caller put in the path stays out of the answer.
            raise Problem(404, "not-found", "no such case")
        request.state.audit["case_id"] = case_id
        if erased(case_id):
            raise gone(case_id)

    async def readable_state(request: Request, principal: Principal, case_id: str
                             ) -> CaseState:
        check_case_id(request, case_id)
        try:
            state = await temporal(case_state(client, case_id))
        except UnknownCase:
            raise not_found(case_id) from None
        except CaseErased:
            raise gone(case_id) from None
        if not principal.is_operator and principal.organisation not in state.involved():
            raise not_found(case_id)
        return state

    # -- bodies ---------------------------------------------------------------------------------
    async def read_json(request: Request) -> Any:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise Problem(415, "unsupported-media-type", "unsupported media type",
                          "send the event as application/json")
        limit = settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Problem(413, "payload-too-large", "request body too large",
                          f"at most {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Problem(413, "payload-too-large", "request body too large",
                              f"at most {limit} bytes")
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks))
        except (ValueError, RecursionError):
            # The parser's message may quote the body: a fixed one instead.
            raise Problem(400, "malformed-request", "malformed request",
                          "the body is not valid JSON") from None

    def parse(data: Any) -> CaseEvent:
        try:
            return parse_event(data)
        except ValidationError as err:
            errors = [FieldError(field=where, message=message).model_dump()
                      for where, message in validation_problems(err)]
            raise Problem(422, "invalid-event", "invalid event",
                          "the event does not match its type's schema",
                          field=errors[0]["field"] if errors else None,
                          errors=errors) from None

    def check_sender(request: Request, principal: Principal, event: BaseEvent) -> None:
        request.state.audit["event_type"] = event.type
        if event.organisation.value != principal.role:
            raise Problem(403, "forbidden", "not allowed",
                          f"the event names organisation {event.organisation.value}, but the "
                          f"caller acts for {principal.role}: nobody sends as someone else",
                          rule="ACCESS", field="organisation")
        if not may_send(principal.role, event.type):
            raise Problem(403, "forbidden", "not allowed",
                          f"role {principal.role} may not send {event.type} events",
                          rule="ACCESS", field="type")

    def rejected(err: EventRejected, case_id: str | None = None) -> Problem:
        return Problem(409, "event-rejected", "event rejected", err.reason, rule=err.rule,
                       field=err.field, case_id=case_id)

    def unprocessable(request: Request, err: WorkflowUpdateFailedError) -> Problem:
        # The case refused the event for a reason that is no rule (a fault in the domain's
        # checks): nothing was applied, and sending it again will not help.
        log.error("event refused without a rule", error=type(err.cause).__name__,
                  **request.state.audit)
        return Problem(422, "event-unprocessable", "event cannot be processed",
                       "the case could not process this event; nothing was recorded")

    # -- routes ---------------------------------------------------------------------------------
    # The API's documentation needs no token, like the OpenAPI document it renders.
    app.mount(_DOCS_STATIC, StaticFiles(directory=_swagger_ui_files()), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - API documentation",
            swagger_js_url=f"{root}{_DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{_DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{_DOCS_STATIC}/favicon-32x32.png",
            # Swagger UI would otherwise send the document's URL to an online validator.
            swagger_ui_parameters={"validatorUrl": None})
        page.headers["Content-Security-Policy"] = _DOCS_CSP
        return page

    @app.get("/healthz", tags=["service"], summary="The gateway process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"], summary="Temporal is reachable",
             responses={503: problem_response("Temporal is unreachable")})
    async def readyz() -> dict[str, str]:
        await temporal(client.workflow_service.get_system_info(
            GetSystemInfoRequest(), retry=False,
            timeout=timedelta(seconds=min(settings.temporal_timeout, 5.0))),
            "Temporal cannot be reached")
        return {"status": "ready"}

    @app.post(
        "/v1/cases", tags=["cases"], status_code=201,
        summary="Open a case with an identification (R1)",
        description="Starts the person's case, or joins it if another identification of the "
        "same `subject_ref` got there first (then 409, rule CASE, with the `case_id`). A "
        "repeat of an `event_id` answers 200 with the first result.",
        openapi_extra=_body("Identified"),
        responses={201: {"model": OpenedCase, "description": "The case was opened"},
                   200: {"model": OpenedCase, "description": "A repeat: the first result"},
                   **_EVENT_ERRORS},
    )
    async def post_case(request: Request,
                        principal: Annotated[Principal, Depends(case_reader)]) -> Response:
        event = parse(await read_json(request))
        if not isinstance(event, Identified):
            raise Problem(422, "invalid-event", "invalid event",
                          "a case is opened by an 'identified' event (R1); other events go "
                          "to /v1/cases/{case_id}/events", field="type")
        check_sender(request, principal, event)
        case_id = case_id_for(event.subject_ref, settings.pepper)
        request.state.audit["case_id"] = case_id
        if erased(case_id):
            raise gone(case_id)
        try:
            case_id, result = await temporal(open_case(
                client, event, pepper=settings.pepper, config=settings.case_config,
                task_queue=settings.task_queue))
        except EventRejected as err:
            # Both identifications name the same person: the second caller learns the case.
            raise rejected(err, case_id if err.rule == "CASE" else None) from None
        except WorkflowUpdateFailedError as err:
            raise unprocessable(request, err) from None
        except CaseErased:
            raise gone(case_id) from None
        body = {"case_id": case_id, "event_id": result.event_id,
                "event_type": result.event_type, "duplicate": result.duplicate,
                "summary": summary_view(result.summary, principal.role)}
        return JSONResponse(body, status_code=200 if result.duplicate else 201,
                            headers={"Location": f"/v1/cases/{case_id}"})

    @app.post(
        "/v1/cases/{case_id}/events", tags=["cases"],
        summary="Send one event to a case",
        description="Answers once the case's workflow accepted the event (durably recorded) "
        "or rejected it (409 with the rule and field; nothing changed). The event's "
        "`organisation` must be the caller's. A repeat of an `event_id` answers the first "
        "result.",
        openapi_extra=_body("CaseEvent"),
        responses={200: {"model": EventAnswer, "description": "Accepted (or a repeat)"},
                   **_EVENT_ERRORS},
    )
    async def post_event(request: Request, case_id: str,
                         principal: Annotated[Principal, Depends(case_reader)]) -> Response:
        check_case_id(request, case_id)
        event = parse(await read_json(request))
        if isinstance(event, Identified):
            raise Problem(422, "invalid-event", "invalid event",
                          "an identification opens a case: POST it to /v1/cases", field="type")
        check_sender(request, principal, event)
        try:
            result = await temporal(record_event(client, case_id, event))
        except EventRejected as err:
            raise rejected(err) from None
        except WorkflowUpdateFailedError as err:
            raise unprocessable(request, err) from None
        except CaseErased:
            raise gone(case_id) from None
        except UnknownCase:
            # Never opened, or closed (its workflow has completed). Only those who may read a
            # closed case learn that it is closed.
            state = await readable_state(request, principal, case_id)
            if state.phase is Phase.CLOSED:
                raise Problem(409, "event-rejected", "event rejected", "the case is closed",
                              rule="CASE", field="type") from None
            raise not_found(case_id) from None
        body = {"event_id": result.event_id, "event_type": result.event_type,
                "duplicate": result.duplicate,
                "summary": summary_view(result.summary, principal.role)}
        return JSONResponse(body)

    @app.get(
        "/v1/cases/{case_id}", tags=["cases"],
        summary="The case, as the caller's role may see it",
        description="Only organisations involved in the case (and operators) read it; each "
        "role sees the fields the read matrix grants it (docs/gateway.md).",
        responses={200: {"description": "The case's readable fields",
                         "content": {"application/json": {"schema": {"type": "object"}}}},
                   **_CASE_ERRORS},
    )
    async def get_case(request: Request, case_id: str,
                       principal: Annotated[Principal, Depends(case_reader)]) -> Response:
        state = await readable_state(request, principal, case_id)
        return JSONResponse(case_view(state, principal.role))

    @app.get(
        "/v1/cases/{case_id}/timeline", tags=["cases"],
        summary="Who did what when in the case, as the caller's role may see it",
        response_model=TimelineAnswer, responses=_CASE_ERRORS,
    )
    async def get_timeline(request: Request, case_id: str,
                           principal: Annotated[Principal, Depends(case_reader)]) -> TimelineAnswer:
        state = await readable_state(request, principal, case_id)
        return TimelineAnswer(case_id=case_id, timeline=timeline_view(state, principal.role))

    @app.get(
        "/v1/obligations", tags=["obligations"],
        summary="Open obligations and upcoming deadlines of an organisation, across cases",
        description="Cases are found through the `PathwayObligationOwners` search attribute: "
        "those where the organisation owns an open obligation. Deadlines listed are those of "
        "these cases whose reminders go to the organisation. Organisations see their own; "
        "operators name one in `organisation`.",
        response_model=ObligationsAnswer,
        responses={**_CASE_ERRORS, 422: problem_response("Invalid parameters")},
    )
    async def get_obligations(
        request: Request, principal: Annotated[Principal, Depends(caller)],
        organisation: Annotated[Organisation | None, Query(
            description="Whose obligations (operators only; others see their own)")] = None,
    ) -> ObligationsAnswer:
        if principal.role == _ANALYST:
            raise Problem(403, "forbidden", "not allowed",
                          "analysts read aggregates only", rule="ACCESS")
        if principal.is_operator:
            if organisation is None:
                raise Problem(422, "invalid-request", "organisation required",
                              "operators name the organisation", field="organisation")
            org = organisation
        else:
            assert isinstance(principal.organisation, Organisation)
            if organisation not in (None, principal.organisation):
                raise Problem(403, "forbidden", "not allowed",
                              "an organisation reads only its own obligations",
                              rule="ACCESS", field="organisation")
            org = principal.organisation
        return await obligations_of(org)

    async def obligations_of(org: Organisation) -> ObligationsAnswer:
        query = (f"{search_attributes.OBLIGATION_OWNERS.name} = '{org.value}' "
                 f"AND ExecutionStatus = 'Running' AND TaskQueue = '{settings.task_queue}'")
        limit = settings.obligations_limit

        async def listed() -> list[str]:
            return [execution.id async for execution in
                    client.list_workflows(query, limit=limit + 1)]

        case_ids = await temporal(listed())
        gate = asyncio.Semaphore(settings.obligations_concurrency)

        async def one(case_id: str) -> CaseObligations | None:
            async with gate:
                if erased(case_id):
                    return None
                try:
                    state = await temporal(case_state(client, case_id))
                except (UnknownCase, CaseErased):
                    return None  # closed or erased since the listing
            return _obligations_in(state, org)

        found = await asyncio.gather(*(one(case_id) for case_id in case_ids[:limit]))
        cases = sorted((c for c in found if c is not None), key=_earliest)
        return ObligationsAnswer(organisation=org, cases=cases, truncated=len(case_ids) > limit)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                jsonable_encoder(_components()))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _obligations_in(state: CaseState, org: Organisation) -> CaseObligations | None:
    obligations = [
        OwnObligation(id=o.id, kind=o.kind, rule=o.rule, action=o.action, due_at=o.due_at,
                      escalated=o.escalated_at is not None)
        for o in state.open_obligations if o.owner is org
    ]
    deadlines = []
    if may_read(org.value, "deadlines"):
        for deadline in state.deadlines.values():
            ours = [r for r in deadline.reminders
                    if org in r.recipients or (r.lead_ngo and org is state.lead_ngo)]
            if ours:
                deadlines.append(RemindedDeadline(
                    kind=deadline.kind, rule=deadline.rule, due_at=deadline.due_at,
                    next_reminder_at=min((r.at for r in ours if not r.sent), default=None)))
    if not obligations and not deadlines:
        return None
    deadlines.sort(key=lambda d: (d.due_at, d.kind))
    return CaseObligations(case_id=state.case_id, obligations=obligations, deadlines=deadlines)


def _earliest(entry: CaseObligations) -> tuple[datetime, str]:
    """Sort key: the case whose first due date comes soonest first (undated ones last)."""
    dues = [o.due_at for o in entry.obligations if o.due_at is not None]
    dues += [d.due_at for d in entry.deadlines]
    return min(dues, default=_NEVER), entry.case_id
