"""Pseudonymous case IDs: no name, birth date or document number ever appears in one.

Two kinds, one format (``case-`` and 24 lower-case base32 characters):

- a case opened by an identification: a keyed hash of the identifying authority's reference
  under the installation's pepper (:func:`case_id_for`);
- a case opened by another case (an accompanying child identified as a victim, R1): a keyed
  hash of the child's reference under the opening case's own random *link secret*
  (:func:`linked_case_id`). Nobody without that secret, which lives only in the opening case's
  encrypted state, can tell from either ID that the two cases are linked; the link itself is
  kept only in the encrypted state of both cases (``CaseState.linked_cases``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Final

CASE_ID_PREFIX = "case-"
#: What a case ID may look like: the prefix and lower-case letters, digits and hyphens (base32 in
#: every ID made now). Never a ``/``: ``<case>/e<N>`` addresses one episode's key, not a case.
CASE_ID_SHAPE: Final = re.compile(r"case-[a-z0-9-]{1,64}")

#: Domain separation of what a link secret keys: the child's case ID, and the child's own
#: link secret (so the two never coincide, and the child's secret differs from its parent's).
_LINKED_CASE: Final = b"pathway/linked-case-id\x00"
_LINKED_SECRET: Final = b"pathway/linked-case-secret\x00"


class NotACaseId(ValueError):
    """A value given as a case ID does not have a case ID's shape (:data:`CASE_ID_SHAPE`)."""

    def __init__(self, value: str) -> None:
        super().__init__("not a case ID (case-… as `pathway case open` printed it)")
        self.value = value


def is_case_id(value: str) -> bool:
    """Whether ``value`` has the shape of a case ID (:data:`CASE_ID_SHAPE`): what the CLI and
    erasure accept where they take a case, so an episode's address or a stray string never
    reaches the key store as one."""
    return CASE_ID_SHAPE.fullmatch(value) is not None


def _format(digest: bytes) -> str:
    return CASE_ID_PREFIX + base64.b32encode(digest[:15]).decode().lower()


def case_id_for(subject_ref: str, pepper: bytes) -> str:
    """The case ID of the person the identifying authority calls ``subject_ref``.

    A keyed hash (HMAC-SHA256 with a secret pepper): the same person always gets the same case
    (so two identifications of one person meet in one workflow), and without the pepper the ID
    reveals nothing about the reference it came from.
    """
    normalised = " ".join(subject_ref.split()).casefold().encode()
    return _format(hmac.new(pepper, normalised, hashlib.sha256).digest())


def linked_case_id(link_secret: str, child_ref: str) -> str:
    """The case ID of the accompanying child ``child_ref`` of the case whose link secret is
    ``link_secret`` (R1): ``case-`` + base32 of HMAC-SHA256(secret, label + child_ref), in the
    format of :func:`case_id_for`.

    Deterministic (the workflow's validator, its handler and every replay derive the same ID),
    independent of the opening case's ID, and different for two cases opened separately (each
    has its own random secret). ``child_ref`` is used exactly as recorded: two references the
    case tells apart give two IDs.
    """
    message = _LINKED_CASE + child_ref.encode()
    return _format(hmac.new(link_secret.encode(), message, hashlib.sha256).digest())


def linked_case_secret(link_secret: str, child_ref: str) -> str:
    """The link secret of the child's own case, derived from its parent's (64 hex characters):
    the child's case can open linked cases in turn, under a secret that differs from its
    parent's and from which the parent's cannot be computed."""
    message = _LINKED_SECRET + child_ref.encode()
    return hmac.new(link_secret.encode(), message, hashlib.sha256).hexdigest()
