"""One way to reach Temporal, with the project's data converter, for every client and worker."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from pathway.privacy.codec import CaseCodec
from pathway.privacy.keys import KeyStore, MasterKeyRing, SqliteKeyStore
from pathway.privacy.sealing import EpisodeSealingPayloadConverter
from pathway.settings import var_dir

DEFAULT_TARGET = "127.0.0.1:7233"
DEFAULT_NAMESPACE = "default"


def default_keystore(directory: Path | None = None) -> SqliteKeyStore:
    """The embedded default's key store: ``var/keys.db``, master keys in ``var/master-keys/``
    (or ``PATHWAY_MASTER_KEYS``)."""
    base = directory or var_dir()
    return SqliteKeyStore(base / "keys.db", MasterKeyRing.from_env_or_dir(base / "master-keys"))


def data_converter(store: KeyStore | None = None) -> DataConverter:
    """The SDK's pydantic converter with every payload encrypted under its case's key (a case
    run's under its own episode's: :mod:`pathway.privacy.sealing`), and
    failures (messages and stack traces) encoded into payloads too, so they are encrypted.
    A payload that arrives unencrypted is refused (:class:`CaseCodec` ``refuse_plaintext``)."""
    return dataclasses.replace(
        pydantic_data_converter,
        # Stamps each payload a case run makes with its episode, whose key the codec seals it
        # under (issues 11 and 12).
        payload_converter_class=EpisodeSealingPayloadConverter,
        payload_codec=CaseCodec(
            store if store is not None else default_keystore(), refuse_plaintext=True
        ),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(
    target: str | None = None,
    namespace: str | None = None,
    store: KeyStore | None = None,
    *,
    lazy: bool = False,
    use_config: bool = True,
) -> Client:
    """Connect to Temporal with the encrypting data converter. Every process connects through
    here, the same way (:mod:`pathway.temporal_config`, docs/operations.md): ``target`` and
    ``namespace`` if given, else ``PATHWAY_TEMPORAL_ADDRESS`` / ``PATHWAY_NAMESPACE``, else the
    SDK's own configuration (``TEMPORAL_*`` variables over a profile of ``temporal.toml``:
    address, namespace, TLS, mTLS client certificate, API key, gRPC metadata), else
    ``127.0.0.1:7233`` / ``default``. ``use_config=False``: none of the SDK's configuration
    (a server this process started itself, such as ``pathway dev``'s, which has no TLS).
    ``lazy``: connect on first use, so a server can start (and answer 503) while Temporal is
    still down.

    Raises :class:`pathway.temporal_config.TemporalConfigError` (one line naming the setting)
    for a setting that cannot work, before anything connects; ``RuntimeError`` (the SDK's) if
    Temporal cannot be reached or refuses the TLS handshake."""
    from pathway.temporal_config import load_connection

    connection = load_connection(target, namespace, use_config=use_config)
    return await Client.connect(
        connection.target,
        namespace=connection.namespace,
        api_key=connection.api_key,
        tls=connection.tls,
        rpc_metadata=connection.rpc_metadata,
        data_converter=data_converter(store),
        lazy=lazy,
    )
