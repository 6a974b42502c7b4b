"""Long commands (``pathway statistics backfill``, ``pathway report YEAR`` over every case) show
their progress on a terminal and stay quiet otherwise (issue 15 item 6): the ``Progress`` they
share, on a real pseudo-terminal (``os.openpty``) and on a pipe."""

from __future__ import annotations

import io
import os

from pathway.cli.report import Progress


def read_all(fd: int) -> bytes:
    """Everything written to the terminal so far (the master side; non-blocking)."""
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_progress_on_a_terminal() -> None:
    """On a pty the line is rewritten in place (``\\r``) and ended once."""
    master, slave = os.openpty()
    try:
        with open(slave, "w", encoding="utf-8", closefd=False) as terminal:
            assert terminal.isatty()
            progress = Progress(terminal)
            progress.show("backfill: 1 case(s) read, 2 new record(s)")
            progress.show("backfill: 2 case(s) read, 4 new record(s)")
            progress.done()
        shown = read_all(master)
    finally:
        os.close(master)
        os.close(slave)
    assert b"\rbackfill: 1 case(s) read" in shown
    assert b"\rbackfill: 2 case(s) read, 4 new record(s)" in shown
    assert shown.endswith((b"\n", b"\r\n"))


def test_quiet_on_a_pipe_or_a_file() -> None:
    """Not a terminal: nothing at all is written."""
    read, write = os.pipe()
    try:
        with open(write, "w", encoding="utf-8", closefd=False) as pipe:
            progress = Progress(pipe)
            progress.show("report: 3 case(s) read, 0 erased skipped")
            progress.done()
        os.close(write)
        write = -1
        assert os.read(read, 4096) == b""
    finally:
        os.close(read)
        if write != -1:
            os.close(write)
    buffer = io.StringIO()
    Progress(buffer).show("x")
    assert buffer.getvalue() == ""
