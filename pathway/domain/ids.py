"""Pseudonymous case IDs: no name, birth date or document number ever appears in one."""

from __future__ import annotations

import base64
import hashlib
import hmac

CASE_ID_PREFIX = "case-"


def case_id_for(subject_ref: str, pepper: bytes) -> str:
    """The case ID of the person the identifying authority calls ``subject_ref``.

    A keyed hash (HMAC-SHA256 with a secret pepper): the same person always gets the same case
    (so two identifications of one person meet in one workflow), and without the pepper the ID
    reveals nothing about the reference it came from.
    """
    normalised = " ".join(subject_ref.split()).casefold().encode()
    digest = hmac.new(pepper, normalised, hashlib.sha256).digest()
    return CASE_ID_PREFIX + base64.b32encode(digest[:15]).decode().lower()
