#!/usr/bin/env bash
# Re-record the replay corpus (tests/histories/*.json) from the scenario tests.
# Do this when a scenario is added; never to "fix" a replay failure: a history that no longer
# replays is a running case the change would strand (see docs/versioning.md in later work).
set -euo pipefail
cd "$(dirname "$0")/.."
PATHWAY_RECORD_HISTORIES=1 .venv/bin/pytest -q -p no:cacheprovider tests/test_case_workflow.py \
    tests/test_continue_as_new.py
ls -l tests/histories/
