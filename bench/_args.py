"""Argument types the bench's commands share (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse

from bench._procs import MODES, Mode


def count(text: str) -> int:
    """An argparse type: a whole number above 0 (a count of cases, senders or rounds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not above 0")
    return value


def modes_arg(text: str) -> tuple[Mode, ...]:
    """An argparse type: dev server modes, comma-separated, each one of ``MODES``, none twice."""
    modes: list[Mode] = []
    for mode in text.split(","):
        if mode not in MODES:
            raise argparse.ArgumentTypeError(f"{mode!r} is not one of {', '.join(MODES)}")
        if mode in modes:
            raise argparse.ArgumentTypeError(f"{mode!r} is named twice")
        modes.append(mode)
    return tuple(modes)
