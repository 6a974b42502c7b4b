"""Hypothesis profiles: a CI run's outcome is decided by the code, never by a stored example
database. Loaded by ``conftest.py`` before any test module is imported."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

#: ``ci`` (the default, also on a developer's machine): derandomised, no example database, so
#: every run of ``bin/test`` generates the same examples and a red run can be repeated exactly.
#: ``long`` (``bin/test-long``): twenty times the examples, random, with the local database, to
#: look for new counterexamples; any it finds is then pinned with ``@example`` in the test.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)
settings.register_profile(
    "long",
    max_examples=2000,
    deadline=None,
    print_blob=True,
    database=DirectoryBasedExampleDatabase(Path(__file__).parent.parent / ".hypothesis"),
    suppress_health_check=[HealthCheck.too_slow],
)

#: ``mutation`` (``scripts/mutation.sh``): ``ci`` exactly, but mutmut runs the same tests again
#: in one process (once to learn which tests reach which function, then once per mutant), on
#: new instances of their classes, which Hypothesis's ``differing_executors`` check refuses.
#: With no example database and derandomised generation there is nothing for it to protect.
settings.register_profile(
    "mutation",
    parent=settings.get_profile("ci"),
    suppress_health_check=[HealthCheck.differing_executors],
)


def load_profile() -> None:
    """``$PATHWAY_HYPOTHESIS_PROFILE`` (default ``ci``); pytest's ``--hypothesis-profile``
    still overrides it."""
    settings.load_profile(os.environ.get("PATHWAY_HYPOTHESIS_PROFILE", "ci"))


def examples(ci: int) -> int:
    """``ci`` examples in the default profile, twenty times as many in the ``long`` one."""
    return ci * 20 if settings.get_current_profile_name() == "long" else ci
