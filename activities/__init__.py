"""The activities, where the project's top level names them. They live in
:mod:`pathway.activities` and are installed with the package; this folder only re-exports them
(it is not installed, and nothing in the package imports it)."""

from pathway.activities.notify import Notifier
from pathway.activities.retention import RetentionSweeper

__all__ = ["Notifier", "RetentionSweeper"]
