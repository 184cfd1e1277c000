#!/usr/bin/env bash
# with-postgres.sh CMD...: run CMD with a real PostgreSQL server of its own
# (scripts/services.sh start_postgres), its URI in OTTO_TEST_DB and PG_URL;
# the server is stopped, and its directory removed, when CMD ends.
set -uo pipefail
. "$(dirname "$0")/../scripts/services.sh"
e2e_init
start_postgres || exit 1
export OTTO_TEST_DB=$PG_URL PG_URL
"$@"
