#!/bin/sh
# Run once by the postgres image, when its data directory is new: the statistics ledger's own
# role and database (docs/statistics.md), apart from Temporal's. The password comes from the
# environment (LEDGER_DB_PASSWORD, from .env), never from this file.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v ledger_password="$LEDGER_DB_PASSWORD" <<'SQL'
CREATE ROLE pathway_ledger LOGIN PASSWORD :'ledger_password';
CREATE DATABASE pathway_statistics OWNER pathway_ledger;
SQL
