"""Files that hold secrets (credentials, the ID pepper, master keys): mode 0600 from the moment
they exist, written in one step, so no reader ever sees a half-written secret and no umask ever
makes one readable by others."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["fsync_directory", "write_secret"]


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where a directory cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_secret(path: Path, text: str, *, replace: bool) -> bool:
    """Write ``text`` to ``path`` in one step: a temporary file beside it (mode 0600, synced),
    then renamed over ``path`` (``replace``) or linked to it only if ``path`` does not exist
    yet. Readers see the old file or the new one, never part of one.

    Returns False if ``replace`` is false and ``path`` exists; raises :class:`OSError`.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
        fsync_directory(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
