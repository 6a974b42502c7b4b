#!/usr/bin/env bash
# Mutation testing of the domain core (issue 13; docs/mutation.md): mutmut changes
# pathway/domain/ one small edit at a time (a `<` for a `<=`, a constant plus one, a dropped
# argument) and runs the pure domain tests ([tool.mutmut] in pyproject.toml) against each
# change. A mutant the tests notice is killed; one they do not notice survives. Prints the score
# per module and overall (killed / total) and every mutant that was not killed; exits 1 when
# the score is below THRESHOLD percent (default 95). Not part of bin/test: all of
# pathway/domain/ (about 5,500 mutants) takes hours on two cores, so run it module by module.
#
#   scripts/mutation.sh                                   # everything, threshold 95
#   scripts/mutation.sh 90                                # threshold 90
#   scripts/mutation.sh 95 'pathway.domain.calendar.*'    # one module (mutmut's name patterns)
#   scripts/mutation.sh --diff 95 'pathway.domain.rules.residence.*'   # and each survivor's diff
#
# Each run starts from a fresh `mutants/` (mutmut keeps results there to resume a run; a score
# is only ever one run's, over the code and tests as they are now). It runs at the lowest CPU
# priority, and Hypothesis in its `mutation` profile (tests/profiles.py: the `ci` one,
# derandomised and without an example database): the same code and tests give the same score
# every time.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(nice)" -lt 19 ]; then
    exec nice -n 19 "$0" "$@"
fi
diffs=0
if [ "${1:-}" = "--diff" ]; then
    diffs=1
    shift
fi
threshold="${1:-95}"
shift || true
case "$threshold" in
    '' | *[!0-9.]*)
        echo "usage: scripts/mutation.sh [--diff] [THRESHOLD] [MUTANT_PATTERN...]" >&2
        exit 2
        ;;
esac
. bin/_venv.sh
ensure_venv "[dev]"
export PATHWAY_HYPOTHESIS_PROFILE=mutation  # tests/profiles.py: `ci`, run again in one process
rm -rf mutants
start=$(date +%s)
.venv/bin/mutmut run --max-children "${MUTATION_JOBS:-2}" "$@"
echo
echo "== mutmut results (every mutant checked and not killed) =="
.venv/bin/mutmut results | grep -v ': not checked$' || true
if [ "$diffs" = 1 ]; then
    .venv/bin/mutmut results | grep -v ': not checked$' | sed -n 's/^ *\([^:]*\): .*/\1/p' |
        while read -r name; do
            echo "== $name"
            .venv/bin/mutmut show "$name"
        done
fi
echo
if commit="$(git rev-parse --short HEAD 2>/dev/null)"; then
    git diff --quiet HEAD -- pathway/domain tests || commit="$commit + uncommitted changes"
else
    commit="not a git checkout"
fi
echo "== score ($commit; $(date -u +%Y-%m-%d); $(( $(date +%s) - start )) s) =="
exec .venv/bin/python - "$threshold" "$@" <<'EOF'
"""The score from mutmut's own records (mutants/**/*.py.meta): per module and overall."""

import fnmatch
import json
import sys
from pathlib import Path

from mutmut.stats import status_by_exit_code

threshold, patterns = float(sys.argv[1]), sys.argv[2:]
#: A timeout counts as killed: the mutant made the tests run away. The script lists each one
#: (mutmut's `results`), so a timeout that only a busy machine caused is seen.
DETECTED = {"killed", "timeout"}
rows = []
for meta in sorted(Path("mutants").rglob("*.py.meta")):
    module = str(meta.relative_to("mutants"))[: -len(".meta")]
    statuses = [
        status_by_exit_code[code]
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items()
        if not patterns or any(fnmatch.fnmatch(name, p) for p in patterns)
    ]
    statuses = [s for s in statuses if s != "not checked"]
    if statuses:
        rows.append((module, sum(s in DETECTED for s in statuses), len(statuses)))
killed, total = sum(r[1] for r in rows), sum(r[2] for r in rows)
for module, k, t in rows:
    print(f"{module:48} {k:5} / {t:<5} {100 * k / t:6.1f} %")
if not total:
    print("no mutants were checked")
    sys.exit(1)
score = 100 * killed / total
print(f"{'overall':48} {killed:5} / {total:<5} {score:6.1f} %  (threshold {threshold:g} %)")
sys.exit(0 if score >= threshold else 1)
EOF
