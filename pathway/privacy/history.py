"""Decoding a stored case history (for export, audit and erasure checks)."""

from __future__ import annotations

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import Client
from temporalio.converter import PayloadCodec

from pathway.privacy.codec import CaseCodec


async def decode_history(history: History, codec: PayloadCodec) -> History:
    """A copy of ``history`` with every payload decoded; raises the codec's error (e.g.
    ``CaseErased``) if any payload cannot be. Read as data: Temporal's own plain payloads
    (search attributes, patch markers) are kept as they are."""
    if isinstance(codec, CaseCodec):
        codec = codec.lenient()
    copy = History()
    copy.CopyFrom(history)
    payloads: list[Payload] = []
    collect_payloads(copy, payloads)
    decoded = await codec.decode(payloads)
    for target, plain in zip(payloads, decoded, strict=True):
        target.CopyFrom(plain)
    return copy


def collect_payloads(message: Message, out: list[Payload]) -> None:
    """Every ``Payload`` inside ``message``, in order (for decoding or inspection)."""
    if isinstance(message, Payload):
        out.append(message)
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            for item in value.values():
                if isinstance(item, Message):
                    collect_payloads(item, out)
        elif field.is_repeated:
            for item in value:
                collect_payloads(item, out)
        else:
            collect_payloads(value, out)


async def fetch_decoded_history(
    client: Client, case_id: str, *, run_id: str | None = None
) -> History:
    """Fetch the history of the case's run ``run_id`` (its current run if None; issue 12:
    name the run you mean) from Temporal and decode it with the client's codec."""
    codec = client.data_converter.payload_codec
    history = await client.get_workflow_handle(case_id, run_id=run_id).fetch_history()
    raw = History(events=history.events)
    if codec is None:
        return raw
    return await decode_history(raw, codec)
