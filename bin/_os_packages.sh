# Sourced by bin/test: make sure the OS packages the tests need are installed. Today that is
# Chromium (Debian's `chromium`, with `fonts-liberation` so that pages render text), which the
# browser test of the gateway's /docs page drives through Playwright; Playwright never downloads
# a browser of its own; and PostgreSQL (Debian's `postgresql`: `initdb` and `pg_ctl`), which the
# statistics ledger's test starts (tests/test_ledger_postgres.py, issue 15). As root with
# apt-get it installs what is missing, quietly; otherwise it names the package to install and
# fails.
chromium_path() {
    if [ -x /usr/bin/chromium ]; then
        echo /usr/bin/chromium
    else
        command -v chromium || true
    fi
}

postgresql_initdb() {
    command -v initdb || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true
}

ensure_os_packages() {
    ensure_postgresql
    ensure_chromium
}

ensure_postgresql() {
    [ -n "$(postgresql_initdb)" ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing the OS package postgresql (statistics ledger tests)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get install -y -qq --no-install-recommends \
            postgresql >/dev/null
    fi
    [ -n "$(postgresql_initdb)" ] || {
        echo "The tests need PostgreSQL's initdb and pg_ctl: install the OS package postgresql (Debian/Ubuntu: apt-get install postgresql)" >&2
        exit 1
    }
}

ensure_chromium() {
    [ -n "$(chromium_path)" ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing the OS package chromium (browser tests)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get install -y -qq --no-install-recommends \
            chromium fonts-liberation >/dev/null
    fi
    [ -n "$(chromium_path)" ] || {
        echo "The tests need Chromium: install the OS package chromium (Debian/Ubuntu: apt-get install chromium fonts-liberation)" >&2
        exit 1
    }
}
