"""How long a process may hold an unwrapped data key (issue 14; docs/privacy.md "Held keys and
cached workflows"): the default, the bounds and their check, shared by the key store
(:mod:`pathway.privacy.keys`) and the settings (:mod:`pathway.settings`). A module of its own
with no imports from the project, so that the settings can read it without importing the key
store, which reads the settings."""

from __future__ import annotations

#: How long an unwrapped data key is held at most, by default (``PATHWAY_DATA_KEY_HOLD_SECONDS``):
#: five minutes; the bounds every value must keep (more than 0, at most an hour).
DEFAULT_KEY_HOLD_SECONDS = 300.0
MAX_KEY_HOLD_SECONDS = 3600.0


class KeyHoldOutOfRange(ValueError):
    """A data key hold (``PATHWAY_DATA_KEY_HOLD_SECONDS``) that is not a number of seconds more
    than 0 and at most :data:`MAX_KEY_HOLD_SECONDS`. ``field`` names the setting; the message
    names it and the rule, never anything else."""

    field = "PATHWAY_DATA_KEY_HOLD_SECONDS"

    def __init__(self) -> None:
        super().__init__(
            f"{self.field} must be a number of seconds more than 0 and at most "
            f"{MAX_KEY_HOLD_SECONDS:g} (default {DEFAULT_KEY_HOLD_SECONDS:g}): how long an "
            "unwrapped data key may stay in a process's memory"
        )


def key_hold_seconds(value: object) -> float:
    """``value`` as a data key hold in seconds: a real number (not a bool), more than 0 and at
    most :data:`MAX_KEY_HOLD_SECONDS` (a longer hold keeps an erased case's key in an idle
    process's memory for longer; issue 14). Raises :class:`KeyHoldOutOfRange` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise KeyHoldOutOfRange
    seconds = float(value)
    if not 0 < seconds <= MAX_KEY_HOLD_SECONDS:  # NaN fails too
        raise KeyHoldOutOfRange
    return seconds
