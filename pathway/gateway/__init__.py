"""The event gateway: HTTP in front of the case workflows for NGO and authority systems.

``create_gateway_app`` builds the ASGI app; ``serve_gateway`` serves it in the caller's event
loop; ``load_authenticator`` reads who may call it from the environment; the authorisation
matrices live in :mod:`pathway.gateway.access`. See docs/gateway.md.
"""

from pathway.gateway._ratelimit import RateLimiter
from pathway.gateway.access import READ_MATRIX, SEND_MATRIX, case_view, may_read, may_send
from pathway.gateway.app import GatewaySettings, create_gateway_app
from pathway.gateway.identity import (
    Authenticator,
    AuthUnavailable,
    GatewayConfigError,
    JwtSettings,
    JwtVerifier,
    is_production,
    load_authenticator,
)
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
