#!/usr/bin/env bash
# Add histories to the replay corpus (tests/histories/*.json) from the scenario tests.
#
# Run it with every workflow change, so the corpus gains histories recorded by the new code. It
# only ever ADDS files: a history already in the corpus stands for cases that are running under
# older code right now, so it is restored byte for byte after the run. A change that no longer
# replays one needs workflow.patched, never a re-recording (docs/versioning.md). To retire a
# history on purpose, delete it in its own reviewed commit that says why no such case can run.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=tests/histories
kept="$(mktemp -d)"
trap 'rm -rf "$kept"' EXIT
mkdir -p "$corpus"
cp -p "$corpus"/*.json "$kept"/ 2>/dev/null || true

PATHWAY_RECORD_HISTORIES=1 .venv/bin/pytest -q -p no:cacheprovider tests/test_case_workflow.py \
    tests/test_continue_as_new.py tests/test_children_scenarios.py

for old in "$kept"/*.json; do
    [ -e "$old" ] || continue
    cp -p "$old" "$corpus/$(basename "$old")"
done
echo "added to the corpus (commit these):"
for recorded in "$corpus"/*.json; do
    [ -e "$kept/$(basename "$recorded")" ] || echo "  $recorded"
done
