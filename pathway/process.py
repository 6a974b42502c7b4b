"""What a long-running Pathway process needs from its operating system: stopping on a signal and
leaving with an exit code that tells the truth. Used by the workers, ``pathway dev``, the
gateway and the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from typing import NoReturn

import structlog

__all__ = ["exit_now", "install_stop_signals"]

log = structlog.stdlib.get_logger(__name__)


def install_stop_signals(stop: asyncio.Event) -> Callable[[], None]:
    """Set ``stop`` on SIGINT or SIGTERM; return a function that removes the handlers.

    Only the first signal is caught: a second Ctrl-C interrupts as usual, for when a clean
    shutdown hangs.
    """
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)
        installed.clear()

    def on_signal(sig: signal.Signals) -> None:
        log.info("stopping", signal=sig.name)
        stop.set()
        remove()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError, ValueError):
            # Windows, or not the main thread: the caller sets ``stop`` itself.
            continue
        installed.append(sig)
    return remove


def exit_now(code: int) -> NoReturn:
    """Flush stdout and stderr and end the process with ``code`` at once.

    The Temporal SDK's runtime threads can crash CPython's finalisation (sdk-python #300) and
    turn a clean exit into 134/139 (TEMPORAL-NOTES); leaving without finalisation keeps the exit
    code what the command meant. A reader that went away (``… | head``) is no error.
    """
    with contextlib.suppress(BrokenPipeError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)
