"""What the gateway runs with: its settings (:class:`GatewaySettings`, from the environment or
given), and what every request reaches (:class:`GatewayContext`: the Temporal client, the
authenticator, the settings, the rate limiter and the cases' lanes, kept on
``app.state.gateway``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from temporalio.client import Client

from pathway.access.identity import Authenticator, GatewayConfigError
from pathway.clients.cases import case_standing, case_state
from pathway.domain.config import CaseConfig
from pathway.domain.organisations import CASE_TASK_QUEUE
from pathway.domain.state import CaseStanding, CaseState
from pathway.gateway._lanes import CaseLanes
from pathway.gateway._ratelimit import RateLimiter
from pathway.gateway._reads import SharedReads
from pathway.privacy.codec import CaseCodec
from pathway.privacy.keys import KeyStore

__all__ = ["GatewayContext", "GatewaySettings"]


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
    #: How long a request waits for Temporal's answer (after its turn in the case's lane)
    #: before answering 504 outcome-unknown, or 503 if Temporal cannot be reached (the outcome
    #: of an event is then unknown: send it again with the same event_id). Also the longest
    #: wait for a turn in the lane (then 429 busy, nothing sent).
    temporal_timeout: float = 10.0
    #: The ``Retry-After`` of a 503 and a 504.
    retry_after_seconds: int = 5
    #: Events of one case with Temporal at once from this process: below Temporal's limit of
    #: in-flight updates per workflow (10 by default), which would refuse the rest.
    case_in_flight: int = 8
    #: Events of one case waiting their turn beyond those; any more are answered 429 busy.
    case_queue: int = 64
    #: The ``Retry-After`` of a 429 busy.
    busy_retry_after_seconds: int = 1
    #: At most this many cases in one obligations answer (``truncated`` says when more match).
    obligations_limit: int = 200
    #: Cases queried at once for the obligations answer.
    obligations_concurrency: int = 8
    #: Seconds a ``404`` for a case takes at least (API and console alike): a non-member's
    #: refusal of a case that exists is decided after reading it, one of a case that never was
    #: sooner; the floor hides the difference (docs/gateway.md). 0: no floor.
    not_found_floor: float = 0.25

    def __post_init__(self) -> None:
        # The task queue goes into a visibility query between single quotes.
        if not re.fullmatch(r"[\w.:/-]+", self.task_queue):
            raise GatewayConfigError("task queue names may hold only letters, digits, . : / -")
        if self.max_body_bytes < 1024 or self.temporal_timeout <= 0:
            raise GatewayConfigError("max_body_bytes must be >= 1024, temporal_timeout > 0")
        if self.rate_per_second <= 0 or self.burst < 1:
            raise GatewayConfigError("the rate must be positive and the burst at least 1")
        if self.case_in_flight < 1 or self.case_queue < 0:
            raise GatewayConfigError("case_in_flight must be at least 1, case_queue at least 0")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        """From ``PATHWAY_ID_PEPPER`` (or ``var/id-pepper``), ``PATHWAY_CASE_CONFIG`` and
        ``PATHWAY_GATEWAY_RATE`` / ``_BURST`` / ``_MAX_BODY`` / ``_TEMPORAL_TIMEOUT`` /
        ``_CASE_IN_FLIGHT`` / ``_CASE_QUEUE``.

        Reads ``os.environ`` through :mod:`pathway.settings` for the pepper and case config."""
        from pathway import settings

        given = settings.of(environ)
        if (
            given.production
            and given.id_pepper is None
            and not (settings.var_dir() / "id-pepper").exists()
        ):
            # A pepper of its own would give every person a second case: in production it
            # must be the deployment's, never a fresh one.
            raise GatewayConfigError(
                "PATHWAY_MODE=production needs the deployment's PATHWAY_ID_PEPPER"
            )
        return cls(
            pepper=settings.id_pepper(),
            case_config=settings.case_config(),
            rate_per_second=given.gateway_rate,
            burst=given.gateway_burst,
            max_body_bytes=given.gateway_max_body,
            temporal_timeout=given.gateway_temporal_timeout,
            case_in_flight=given.gateway_case_in_flight,
            case_queue=given.gateway_case_queue,
        )


@dataclass(frozen=True, kw_only=True)
class GatewayContext:
    """One gateway app's Temporal client (with the project's encrypting data converter),
    authenticator, settings, per-organisation rate limiter, per-case lanes and the reads of
    case states and standings in flight (shared by the requests that ask meanwhile)."""

    client: Client
    authenticator: Authenticator
    settings: GatewaySettings
    limiter: RateLimiter
    lanes: CaseLanes
    states: SharedReads[str, CaseState]
    #: Keyed by (case ID, organisation): the check before an event (issue 14).
    standings: SharedReads[tuple[str, str], CaseStanding]

    @classmethod
    def create(
        cls, *, client: Client, authenticator: Authenticator, settings: GatewaySettings
    ) -> GatewayContext:
        return cls(
            client=client,
            authenticator=authenticator,
            settings=settings,
            limiter=RateLimiter(settings.rate_per_second, settings.burst),
            lanes=CaseLanes(settings.case_in_flight, settings.case_queue),
            states=SharedReads(lambda case_id: case_state(client, case_id)),
            standings=SharedReads(lambda key: case_standing(client, *key)),
        )

    def _key_store(self) -> KeyStore | None:
        """The key store behind the client's codec (None without the project's codec)."""
        codec = self.client.data_converter.payload_codec
        return codec.store if isinstance(codec, CaseCodec) else None

    def erased(self, case_id: str) -> bool:
        """The case's key is destroyed (known locally, without asking Temporal)."""
        store = self._key_store()
        return store is not None and store.is_destroyed(case_id)

    def former_members(self, case_id: str) -> frozenset[str]:
        """The organisations that held a role in the erased case (empty otherwise)."""
        store = self._key_store()
        return frozenset() if store is None else store.former_members(case_id)
