"""What protects ``POST /login`` besides the token itself (:class:`SignIn`):

- **Same origin only.** A browser posting the sign-in form names the page it comes from in
  ``Origin`` (or, failing that, ``Referer``); only the codec server's own origin is accepted
  (:func:`origin_of`), so another site cannot sign a visitor's browser in (as anyone) behind
  their back. A request naming neither is refused too: every browser sends ``Origin`` with a
  form post, and scripts authenticate with a bearer token instead of signing in.
- **Few failed attempts.** After :attr:`FailedAttempts.limit` failed sign-ins from one source
  address within :attr:`FailedAttempts.window`, that address is answered 429 with
  ``Retry-After`` (no token is even looked at) until the oldest failure leaves the window; a
  successful sign-in clears its failures. The count is kept in this process's memory only: a
  restart forgets it, and several codec server processes each count on their own. Behind a
  reverse proxy every request comes from the proxy's address, so the limit then holds for all
  callers together. The source address is the connection's peer: no proxy header is believed
  (:func:`pathway.web.serving.serve_app`), so a client cannot name a new address per attempt.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final
from urllib.parse import urlsplit

from pathway.access.credentials import SessionSigner

__all__ = ["FailedAttempts", "SignIn", "origin_of"]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def origin_of(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an http(s) URL or origin, the port made explicit and the
    host lower-cased; None for anything else (``null``, a malformed value, another scheme)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


class FailedAttempts:
    """Failed sign-ins per source address over a sliding window, in this process's memory.

    At most ``sources`` addresses are remembered; beyond that the one whose last failure is
    oldest is forgotten first, so a flood from many addresses cannot exhaust memory.
    """

    def __init__(
        self,
        *,
        limit: int = 5,
        window: timedelta = timedelta(minutes=5),
        sources: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window.total_seconds()
        self._sources = sources
        self._clock = clock
        # Source -> times of its failures still in the window, oldest first; the sources in
        # the order of their last failure.
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, source: str, now: float) -> deque[float]:
        failures = self._failures.get(source, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, source: str) -> int | None:
        """Seconds until ``source`` may try again (at least 1), or None if it may now."""
        now = self._clock()
        failures = self._recent(source, now)
        if len(failures) < self.limit:
            return None
        # The attempt that would be the limit-th most recent one leaves the window then.
        frees_at = failures[-self.limit] + self.window
        return max(1, math.ceil(frees_at - now))

    def failed(self, source: str) -> None:
        """Count a failed sign-in from ``source``."""
        now = self._clock()
        failures = self._recent(source, now)
        failures.append(now)
        self._failures[source] = failures
        self._failures.move_to_end(source)
        while len(self._failures) > self._sources:
            self._failures.popitem(last=False)

    def succeeded(self, source: str) -> None:
        """A successful sign-in from ``source``: its failures are forgotten."""
        self._failures.pop(source, None)


@dataclass(frozen=True, kw_only=True)
class SignIn:
    """How the codec server signs browsers in.

    ``own_origin`` is the origin the sign-in page is served from (``pathway dev``: its codec
    server's address); None takes it from each request (its scheme and ``Host``), which is right
    unless a proxy in front changes either. ``sessions`` signs the session cookies (a random
    secret per process by default); ``secure_cookies`` forces their ``Secure`` flag (None: as
    the request's scheme); ``attempts`` counts failed sign-ins.
    """

    own_origin: str | None = None
    sessions: SessionSigner = field(default_factory=SessionSigner)
    secure_cookies: bool | None = None
    attempts: FailedAttempts = field(default_factory=FailedAttempts)
