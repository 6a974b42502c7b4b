"""Files that hold secrets or personal data (credentials, the ID pepper, master keys, the key
store, the Temporal database, outbox files): private to the account that runs the service.

- Every file is created with mode 0600 and every directory with 0700, whatever the process's
  umask (:func:`write_secret`, :func:`create_private_file`, :func:`open_private_append`,
  :func:`private_dir`); files that a child process or a library creates itself get their mode
  from :data:`PRIVATE_UMASK` (:func:`private_umask`).
- Secrets are written in one step (:func:`write_secret`), so no reader ever sees half of one.
- :func:`require_private` refuses files and directories that group or others may use, with one
  line naming each and the ``chmod`` that fixes it: a key that others could read may already have
  been copied, so it is reported, never silently tightened.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Final

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "PRIVATE_UMASK",
    "OpenToOthers",
    "create_private_file",
    "fsync_directory",
    "open_private_append",
    "open_to_others",
    "private_dir",
    "private_umask",
    "require_private",
    "write_secret",
]

PRIVATE_FILE_MODE: Final = 0o600
PRIVATE_DIR_MODE: Final = 0o700
#: The umask under which whatever a process or its children create is private to its owner.
PRIVATE_UMASK: Final = 0o077
#: Permission bits for the group and for others.
_GROUP_OTHER: Final = 0o077


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

    Replacing a file keeps who reads it: a symlink is followed (its target is replaced), and
    the file's owner and group are kept where this process may set them (root, for a file of
    the service's user: review of 2026-12-01, ``pathway credentials remove`` run as root left
    the service unable to reload the file, and a revoked token in force). The mode is always
    0600. Returns False if ``replace`` is false and ``path`` exists; raises :class:`OSError`.
    """
    if path.is_symlink():
        path = path.resolve()  # its target, existing or not (a link to where it will be)
    before = path.stat() if replace and path.exists() else None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, PRIVATE_FILE_MODE)
        if before is not None:
            with contextlib.suppress(PermissionError):
                os.chown(tmp, before.st_uid, before.st_gid)
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


def private_dir(path: Path) -> Path:
    """``path`` as a directory, created with mode 0700 if missing, and so are its missing
    parents (``mkdir -p`` would give them the umask's mode: ``var/`` made on the way to
    ``var/master-keys/`` would be 0755). An existing directory is left as it is:
    :func:`require_private` checks it."""
    if not path.is_dir():
        if path.parent != path:
            private_dir(path.parent)
        path.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    return path


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (then it is left untouched).

    For a file another library opens by name and would otherwise create with its own mode:
    SQLite creates a database 0644 (less the umask), and its ``-wal`` and ``-shm`` files take
    the database file's mode, so a database created here first keeps all three private.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    os.close(fd)


def open_private_append(path: Path) -> BinaryIO:
    """``path`` opened for appending in binary, created with mode 0600 if missing."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    return os.fdopen(fd, "ab")


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """While the block runs, whatever this process (and any child it starts) creates is private
    to its owner: the umask gains :data:`PRIVATE_UMASK` (stricter bits already set stay). The
    umask belongs to the whole process; the previous one is restored on the way out."""
    previous = os.umask(PRIVATE_UMASK)
    os.umask(previous | PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def open_to_others(paths: Iterable[Path]) -> list[tuple[Path, int]]:
    """Those of ``paths`` that exist and that the group or others may read, write or enter,
    each with its permission bits (a symbolic link counts as what it points to)."""
    found: list[tuple[Path, int]] = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & _GROUP_OTHER:
            found.append((path, mode))
    return found


class OpenToOthers(PermissionError):
    """Files or directories holding secrets may be used by other accounts than the service's.

    The message is one line naming each (with its mode) and the ``chmod`` commands that fix it.
    """

    def __init__(self, exposed: list[tuple[Path, int]]) -> None:
        self.paths = [path for path, _ in exposed]
        named = ", ".join(f"{path} (mode {mode:04o})" for path, mode in exposed)
        directories = [shlex.quote(str(path)) for path in self.paths if path.is_dir()]
        files = [shlex.quote(str(path)) for path in self.paths if not path.is_dir()]
        fixes = [f"`chmod 700 {' '.join(directories)}`"] if directories else []
        fixes += [f"`chmod 600 {' '.join(files)}`"] if files else []
        verb = "is" if len(exposed) == 1 else "are"
        super().__init__(
            f"{named} {verb} open to other users, but must be private to the account that runs "
            f"Pathway (they hold keys or secrets): run {' and '.join(fixes)}, then try again"
        )


def require_private(paths: Iterable[Path]) -> None:
    """Raise :class:`OpenToOthers` if the group or others may use any of ``paths`` that exist."""
    exposed = open_to_others(paths)
    if exposed:
        raise OpenToOthers(exposed)
