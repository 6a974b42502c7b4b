# Sourced by bin/serve and bin/test: make ./.venv and install the project with pinned versions
# (pyproject.toml pins direct dependencies, constraints.txt every transitive one). Installs only
# from the package registry; reinstalls only when pyproject.toml or constraints.txt changed.
ensure_venv() {
    local extras="$1"
    local python="${PYTHON:-python3}"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
        echo "Pathway needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
        exit 1
    }
    [ -x .venv/bin/python ] || "$python" -m venv .venv
    local stamp
    stamp="$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)${extras}"
    if [ "$(cat .venv/.pathway-installed 2>/dev/null)" != "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --disable-pip-version-check \
            -c constraints.txt -e ".${extras}"
        echo "$stamp" > .venv/.pathway-installed
    fi
}
