"""The event gateway: HTTP in front of the case workflows for NGO and authority systems.

``create_gateway_app`` builds the ASGI app; ``serve_gateway`` serves it in the caller's event
loop; ``load_authenticator`` reads who may call it from the environment. See docs/gateway.md.

- :mod:`~pathway.gateway.app`: ``create_gateway_app``, the audit line of every request
- :mod:`~pathway.gateway.context`: ``GatewaySettings``, and what every request reaches
- :mod:`~pathway.gateway.dependencies`: the caller, the case, Temporal's errors, the event
- :mod:`~pathway.gateway._lanes`: one lane per case, in which a burst of events waits its turn
- :mod:`~pathway.gateway.routes`: one router per resource (cases, obligations, health, docs)
- :mod:`~pathway.gateway.openapi`: the OpenAPI document's error answers and schemas
- :mod:`~pathway.access.identity`: API tokens and JWTs
- :mod:`~pathway.access.policy`: the two authorisation matrices and the views they allow
- :mod:`~pathway.gateway.server`: serving it with uvicorn

Problem answers and bounded bodies are the HTTP conventions of :mod:`pathway.web`.
"""

from pathway.access.identity import (
    Authenticator,
    AuthUnavailable,
    GatewayConfigError,
    JwtSettings,
    JwtVerifier,
    is_production,
    load_authenticator,
)
from pathway.access.policy import READ_MATRIX, SEND_MATRIX, case_view, may_read, may_send
from pathway.gateway._ratelimit import RateLimiter
from pathway.gateway.app import create_gateway_app
from pathway.gateway.context import GatewaySettings
from pathway.gateway.server import run_gateway, serve_gateway

__all__ = [
    "READ_MATRIX",
    "SEND_MATRIX",
    "AuthUnavailable",
    "Authenticator",
    "GatewayConfigError",
    "GatewaySettings",
    "JwtSettings",
    "JwtVerifier",
    "RateLimiter",
    "case_view",
    "create_gateway_app",
    "is_production",
    "load_authenticator",
    "may_read",
    "may_send",
    "run_gateway",
    "serve_gateway",
]
