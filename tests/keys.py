"""A test-only key store: data keys derived from a fixed secret, so the replay corpus in
tests/histories/ (recorded with it) decrypts on any machine. Never used outside tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pathway.privacy.keys import KEY_BYTES, CaseErased, DataKey, key_id_for, scope_of

TEST_SECRET = b"pathway test-only key material: never for real cases"


class DerivedKeyStore:
    """Data key = HKDF(test secret, scope). Destroying a key works for the process's lifetime."""

    def __init__(self, secret: bytes = TEST_SECRET) -> None:
        self._secret = secret
        self._destroyed: dict[str, frozenset[str]] = {}

    def data_key(self, scope: str) -> DataKey:
        if scope in self._destroyed:
            raise CaseErased(scope)
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_BYTES,
            salt=None,
            info=b"pathway-test-data-key|" + scope.encode(),
        )
        return DataKey(key_id_for(scope), scope, hkdf.derive(self._secret))

    def data_key_by_id(self, key_id: str) -> DataKey:
        return self.data_key(scope_of(key_id))

    def destroy(self, scope: str, former_members: Iterable[str] = ()) -> bool:
        fresh = scope not in self._destroyed
        if fresh:
            self._destroyed[scope] = frozenset(former_members)
        return fresh

    def is_destroyed(self, scope: str) -> bool:
        return scope in self._destroyed

    def former_members(self, scope: str) -> frozenset[str]:
        return self._destroyed.get(scope, frozenset())

    @contextmanager
    def erasures_undone(self) -> Iterator[None]:
        """Inside, keys may be destroyed; after, exactly those destroyed before are (test-only:
        case IDs derive from fixed subject refs, and the replay corpus holds the same cases)."""
        before = dict(self._destroyed)
        try:
            yield
        finally:
            self._destroyed = before


TEST_KEYS = DerivedKeyStore()
