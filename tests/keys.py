"""A test-only key store: data keys derived from a fixed secret, so the replay corpus in
tests/histories/ (recorded with it) decrypts on any machine. Never used outside tests.

It follows :class:`pathway.privacy.keys.KeyStore`, episodes included (issue 12): episode 1's key
derives from the case ID as it always did (the corpus decodes), a later episode's from its own
scope ``<case>/e<N>``. Episodes and destroyed keys live for the process's lifetime.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pathway.privacy.keys import (
    KEY_BYTES,
    CaseErased,
    DataKey,
    Episode,
    UnknownKey,
    case_of,
    episode_number,
    key_id_for,
    scope_of,
    stored_scope,
)

TEST_SECRET = b"pathway test-only key material: never for real cases"


class DerivedKeyStore:
    """Data key = HKDF(test secret, episode scope). Destroying a key works for the process's
    lifetime."""

    def __init__(self, secret: bytes = TEST_SECRET) -> None:
        self._secret = secret
        self._destroyed: dict[str, frozenset[str]] = {}
        self._episodes: dict[str, list[Episode]] = {}

    def _derive(self, scope: str) -> DataKey:
        if scope in self._destroyed:
            raise CaseErased(scope)
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_BYTES,
            salt=None,
            info=b"pathway-test-data-key|" + scope.encode(),
        )
        return DataKey(key_id_for(scope), scope, hkdf.derive(self._secret))

    def _current(self, scope: str) -> str | None:
        if case_of(scope) != scope:
            return stored_scope(scope)
        episodes = self._episodes.get(scope)
        return episodes[-1].scope if episodes else None

    def data_key(self, scope: str) -> DataKey:
        current = self._current(scope)
        if current is None:
            # Scopes destroyed before any episode was recorded (the corpus's cases) stay so.
            if scope in self._destroyed:
                raise CaseErased(scope)
            self._episodes[scope] = [Episode(scope, 1, datetime.now(UTC))]
            current = scope
        return self._derive(current)

    def current_key(self, scope: str) -> DataKey | None:
        current = self._current(scope)
        if current is None:
            if scope in self._destroyed:
                raise CaseErased(scope)
            return None
        return self._derive(current)

    def data_key_by_id(self, key_id: str) -> DataKey:
        scope = scope_of(key_id)
        known = self._episodes.get(case_of(scope), [])
        if episode_number(scope) > 1 and not any(e.scope == scope for e in known):
            raise UnknownKey(f"no data key {key_id}")
        return self._derive(scope)

    def episodes(self, case_id: str) -> list[Episode]:
        found = list(self._episodes.get(case_id, []))
        if not found and case_id in self._destroyed:
            found = [Episode(case_id, 1, datetime.now(UTC))]
        return [
            replace(e, erased_at=datetime.now(UTC)) if e.scope in self._destroyed else e
            for e in found
        ]

    def open_episode(
        self,
        case_id: str,
        *,
        after: int,
        closed_at: datetime | None = None,
        closed_run: str | None = None,
    ) -> Episode:
        episodes = self._episodes.setdefault(case_id, [])
        if not episodes and case_id in self._destroyed:
            episodes.append(Episode(case_id, 1, datetime.now(UTC)))
        if episodes and episodes[-1].number > after:
            return episodes[-1]
        if episodes:
            last = episodes[-1]
            episodes[-1] = replace(
                last,
                closed_at=last.closed_at or closed_at or datetime.now(UTC),
                closed_run=last.closed_run or closed_run,
            )
        episodes.append(Episode(case_id, len(episodes) + 1, datetime.now(UTC)))
        return episodes[-1]

    def destroy(self, scope: str, former_members: Iterable[str] = ()) -> bool:
        target = self._current(scope) or scope
        fresh = target not in self._destroyed
        if fresh:
            self._destroyed[target] = frozenset(former_members)
        return fresh

    def is_destroyed(self, scope: str) -> bool:
        return (self._current(scope) or scope) in self._destroyed

    def former_members(self, scope: str) -> frozenset[str]:
        if case_of(scope) != scope:
            return self._destroyed.get(stored_scope(scope), frozenset())
        scopes = [e.scope for e in self._episodes.get(scope, [])] or [scope]
        return frozenset().union(*(self._destroyed.get(s, frozenset()) for s in scopes))

    def episodes_closed_before(self, cutoff: datetime) -> list[Episode]:
        return [
            e
            for case_id in self._episodes
            for e in self.episodes(case_id)
            if not e.erased and e.closed_at is not None and e.closed_at < cutoff
        ]

    @contextmanager
    def erasures_undone(self) -> Iterator[None]:
        """Inside, keys may be destroyed and episodes opened; after, exactly those destroyed
        and opened before are (test-only: case IDs derive from fixed subject refs, and the
        replay corpus holds the same cases)."""
        before = dict(self._destroyed)
        episodes = {case: list(found) for case, found in self._episodes.items()}
        try:
            yield
        finally:
            self._destroyed = before
            self._episodes = episodes


TEST_KEYS = DerivedKeyStore()
