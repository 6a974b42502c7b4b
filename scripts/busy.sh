#!/usr/bin/env bash
# Run a command on a busy machine: N CPU-burning processes (default 2) beside it, stopped when
# the command ends (also on Ctrl-C or failure). CI's machine is busy too; this is how the suite
# is shown not to depend on an idle one.
#
#   scripts/busy.sh bin/test                 # the whole suite with two burners
#   BURNERS=3 scripts/busy.sh bin/test tests/test_gateway.py
set -euo pipefail
n="${BURNERS:-2}"
pids=()
stop_burners() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait "${pids[@]}" 2>/dev/null || true
}
trap stop_burners EXIT
for _ in $(seq "$n"); do
    # A busy loop in its own process; `exec` so the pid is the burner itself.
    bash -c 'exec python3 -c "while True: pass"' &
    pids+=("$!")
done
echo "busy.sh: $n CPU burners running (pids ${pids[*]})" >&2
start=$(date +%s)
set +e
"$@"
code=$?
set -e
echo "busy.sh: '$*' exited $code after $(( $(date +%s) - start )) s beside $n burners;" \
     "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exit "$code"
