"""The payload codec: AES-256-GCM under the case's own data key.

Temporal tells the codec which workflow a payload belongs to (its serialization context); the
workflow ID is the case ID, so each case's inputs, results, update arguments, query answers,
activity arguments and failures are sealed under that case's key, and destroying the key erases
them all. Of a case's episodes (issue 12), each has its own key: a payload a case run made is
sealed under its own run's episode's key (the episode it stamps, :mod:`pathway.privacy.sealing`),
anything else under the current episode's. The key ID travels in the payload metadata, so
decoding needs no context (the codec server decodes what the web UI sends it). A payload that
fails authentication, or names a key that does not exist, fails closed with a clear error;
nothing is ever returned unverified.

A case's data key is made when something is first encoded for it: the identification that
opens it (update-with-start), or the start of a linked case. Inside :func:`existing_keys_only`
(an event sent to a case that must already exist) nothing makes a key: encoding for a scope
without one raises :class:`NoDataKey`, so a request about an unknown case leaves no trace in
the key store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)

from pathway.domain.ids import CASE_ID_PREFIX
from pathway.privacy.keys import (
    NONCE_BYTES,
    CaseErased,
    DataKey,
    KeyStore,
    PrivacyError,
    TamperedPayload,
    UnknownKey,
    case_of,
    episode_number,
    episode_scope,
    key_id_for,
    scope_of,
)
from pathway.privacy.sealing import META_EPISODE, stamped_episode

log = structlog.stdlib.get_logger("pathway.codec")

ENCODING = b"binary/pathway-encrypted"
META_KEY_ID = "pathway-key-id"
META_CIPHER = "pathway-cipher"
CIPHER = b"AES-256-GCM"
#: The key scope of payloads that belong to no workflow (none of a case's data goes here).
SERVICE_SCOPE = "pathway-service"


#: False inside :func:`existing_keys_only`: encoding uses a scope's key only if it exists.
_MAKE_KEYS: ContextVar[bool] = ContextVar("pathway_codec_make_keys", default=True)


class NoDataKey(PrivacyError):
    """Nothing is encoded for a scope without a data key outside an opening: the case was
    never opened here."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"{scope} has no data key (never opened)")
        self.scope = scope


@contextlib.contextmanager
def existing_keys_only() -> Iterator[None]:
    """Inside (this task and what it starts), the codec encodes only under data keys that
    exist, and raises :class:`NoDataKey` instead of making one (for an event to a case, which
    an identification must have opened)."""
    token = _MAKE_KEYS.set(False)
    try:
        yield
    finally:
        _MAKE_KEYS.reset(token)


def _existing_key(store: KeyStore, scope: str) -> DataKey:
    """The key of ``scope``'s current episode (issue 12), if it has one; never makes one."""
    try:
        key = store.current_key(scope)
    except UnknownKey:
        raise NoDataKey(scope) from None
    if key is None or case_of(key.scope) != scope:
        raise NoDataKey(scope)
    return key


def _aad(key_id: bytes) -> bytes:
    # Binds the ciphertext to its key ID and cipher: moving it under another ID fails.
    return b"pathway/v1|" + CIPHER + b"|" + key_id


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCODING


#: What a plain (unencrypted) payload decodes to in a refusing codec: an encoding no payload
#: converter knows, so converting it fails. The SDK then rejects an update whose argument it is
#: (nothing reaches the history) and drops a signal; a query fails.
REFUSED_PLAINTEXT = b"binary/pathway-refused-plaintext"


class CaseCodec(PayloadCodec, WithSerializationContext):
    """Encrypts every payload under the data key of the workflow it belongs to: the key of the
    case's current episode (issue 12; :meth:`KeyStore.data_key`). Decodes each payload under
    the key its metadata names, whichever episode that is.

    With ``refuse_plaintext`` (every worker and client of the service: :func:`data_converter
    <pathway.temporal_connection.data_converter>`), a payload that is not encrypted is not
    believed: it decodes to :data:`REFUSED_PLAINTEXT`, which nothing converts. Whoever can
    reach Temporal without the key store (``temporal workflow update`` from a shell, the web
    UI without the codec server) cannot hand a case an event, or any input, the service did
    not seal: such an update is rejected and records nothing (issue 11). Histories are read as
    data with :meth:`lenient` (Temporal's own plain payloads there, such as search attributes
    and patch markers, stay as they are)."""

    def __init__(
        self, store: KeyStore, scope: str = SERVICE_SCOPE, *, refuse_plaintext: bool = False
    ) -> None:
        self.store = store
        self.scope = scope
        self.refuse_plaintext = refuse_plaintext

    def with_context(self, context: SerializationContext) -> CaseCodec:
        workflow_id = getattr(context, "workflow_id", None)
        return CaseCodec(
            self.store, workflow_id or SERVICE_SCOPE, refuse_plaintext=self.refuse_plaintext
        )

    def lenient(self) -> CaseCodec:
        """This codec, passing plain payloads through (for reading histories as data)."""
        return CaseCodec(self.store, self.scope)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        sealed = []
        keys: dict[int | None, DataKey] = {}
        for stamped in payloads:
            episode = self._episode_of(stamped)
            payload = stamped
            if META_EPISODE in stamped.metadata:
                payload = Payload()  # the stamp never leaves the worker, not even sealed
                payload.CopyFrom(stamped)
                del payload.metadata[META_EPISODE]
            if episode not in keys:
                keys[episode] = await self._key(episode)
            sealed.append(self._seal(keys[episode], payload))
        return sealed

    def _in_case(self) -> bool:
        """Whether this codec works for a case (its context is a case's workflow)."""
        return self.scope.startswith(CASE_ID_PREFIX) and case_of(self.scope) == self.scope

    def _episode_of(self, payload: Payload) -> int | None:
        """The episode whose key seals ``payload``: the one its workflow stamped on it
        (:mod:`pathway.privacy.sealing`), in a case's context only; None for the case's current
        episode."""
        return stamped_episode(payload) if self._in_case() else None

    async def _key(self, episode: int | None) -> DataKey:
        """The data key to seal under: episode ``episode`` of this case (raises
        :class:`~pathway.privacy.keys.CaseErased` when it was erased, ``UnknownKey`` when it
        was never opened), or the scope's current one (made on first use unless inside
        :func:`existing_keys_only`)."""
        # Reading a key is a microsecond call while the key store is unchanged (it holds what
        # it read): no thread hop (issue 14). Making one writes and syncs: off the event loop.
        if episode is not None:
            return self.store.data_key_by_id(key_id_for(episode_scope(self.scope, episode)))
        if not _MAKE_KEYS.get():
            return _existing_key(self.store, self.scope)
        key = self.store.current_key(self.scope)
        if key is None:
            key = await asyncio.to_thread(self.store.data_key, self.scope)
        return key

    @staticmethod
    def _seal(key: DataKey, payload: Payload) -> Payload:
        key_id = key.key_id.encode()
        # A fresh random 96-bit nonce per payload: with one key per case the number of
        # messages per key stays far below the 2^32 that NIST SP 800-38D allows.
        nonce = os.urandom(NONCE_BYTES)
        data = nonce + AESGCM(key.material).encrypt(
            nonce, payload.SerializeToString(), _aad(key_id)
        )
        return Payload(
            metadata={"encoding": ENCODING, META_KEY_ID: key_id, META_CIPHER: CIPHER},
            data=data,
        )

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [await self._decode_one(p) if is_encrypted(p) else self._plain(p) for p in payloads]

    def _plain(self, payload: Payload) -> Payload:
        if not self.refuse_plaintext:
            return payload
        # Categories only: the payload itself is not logged (it may hold anything).
        log.warning("plain payload refused", scope=self.scope)
        return Payload(metadata={"encoding": REFUSED_PLAINTEXT})

    def _sealed_for_another_case(self, key_id: bytes) -> bool:
        """In a case's context, a payload sealed under another case's key: a copy taken from
        that case's history, handed to this one (review of issue 11)."""
        if not self.refuse_plaintext or not self.scope.startswith(CASE_ID_PREFIX):
            return False
        try:
            return case_of(scope_of(key_id.decode())) != case_of(self.scope)
        except (UnknownKey, UnicodeDecodeError):
            return True

    async def _decode_one(self, payload: Payload) -> Payload:
        try:
            return self._open(payload)
        except (TamperedPayload, UnknownKey, UnicodeDecodeError, DecodeError) as err:
            if not self._refuses_forgeries():
                raise
            refusal = type(err).__name__
        except CaseErased as err:
            if not self._refuses_forgeries() or self._is_current_episode(err.scope):
                raise  # the case itself is erased: its run is stopped, its replay refused
            refusal = type(err).__name__
        # A payload nobody could have sealed for this case (forged, or from an erased earlier
        # episode), reaching a case's worker: refused as a plain one is, so that a signal
        # carrying it is dropped and an update rejected, and the case goes on (review of issue
        # 11: a forged signal once failed every workflow task of the case for good).
        log.warning("payload that does not open refused", scope=self.scope, error=refusal)
        return Payload(metadata={"encoding": REFUSED_PLAINTEXT})

    def _refuses_forgeries(self) -> bool:
        """A service worker's or client's codec in a case's context (``refuse_plaintext``)."""
        return self.refuse_plaintext and self._in_case()

    def _is_current_episode(self, scope: str) -> bool:
        """``scope`` is this case's newest episode (or the case never had another)."""
        episodes = self.store.episodes(self.scope)
        return not episodes or episode_number(scope) >= episodes[-1].number

    def _open(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(META_KEY_ID, b"")
        if payload.metadata.get(META_CIPHER) != CIPHER or not key_id:
            raise TamperedPayload("encrypted payload without a valid key ID or cipher")
        if self._sealed_for_another_case(key_id):
            # Refused as a plain payload is: an update carrying it is rejected, records nothing.
            log.warning("payload sealed for another case refused", scope=self.scope)
            return Payload(metadata={"encoding": REFUSED_PLAINTEXT})
        key = self.store.data_key_by_id(key_id.decode())  # held in memory: no thread hop
        data = payload.data
        try:
            plain = AESGCM(key.material).decrypt(
                data[:NONCE_BYTES], data[NONCE_BYTES:], _aad(key_id)
            )
        except InvalidTag as err:
            raise TamperedPayload(
                f"payload under key {key_id.decode()} failed authentication"
            ) from err
        opened = Payload.FromString(plain)
        if self.refuse_plaintext and self._in_case():
            # Which episode sealed it: a case run refuses another episode's payload
            # (pathway.privacy.sealing, EpisodeSealingPayloadConverter.from_payloads).
            opened.metadata[META_EPISODE] = str(episode_number(scope_of(key_id.decode()))).encode()
        return opened
