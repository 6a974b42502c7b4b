"""What every request to the codec server reaches (:class:`CodecContext`, kept on
``app.state.codec``): the codec, the tokens, the session signer, the web UI's origin and the
case access policy."""

from __future__ import annotations

from dataclasses import dataclass

from pathway.access.credentials import Credentials, SessionSigner
from pathway.codec_server.case_access import CaseAccess
from pathway.privacy.codec import CaseCodec

__all__ = ["CodecContext"]


@dataclass(frozen=True, kw_only=True)
class CodecContext:
    """The codec server's parts, as :func:`~pathway.codec_server.app.create_codec_app` was
    given them."""

    codec: CaseCodec
    credentials: Credentials
    #: The web UI's origin: the only one whose browser requests are answered, and the only one
    #: from which a session cookie counts.
    allowed_origin: str
    case_access: CaseAccess
    sessions: SessionSigner
    #: Forces the session cookie's ``Secure`` flag; None: it follows the request's scheme.
    secure_cookies: bool | None = None
