#!/usr/bin/env bash
# Firmware download throughput: ottod's /fw/ID against nginx serving the very
# same file, in the same run, with wrk at the same concurrency on loopback.
# Prints Markdown rows "| size, connections | ottod | nginx | ottod/nginx |".
#   bash bench/download.sh [SIZE_KIB...]     (default 64 1024 4096)
# Env: CONNS (default 16), SECONDS_EACH (default 8), THREADS (default 2),
# OTTO_DB=pg (ottod's store on a PostgreSQL of the run's own).
set -euo pipefail
. "$(dirname "$0")/../scripts/services.sh"
E2E_PLAIN=1   # plain TCP and --insecure, as this row is labelled (TLS rows: bench/tls.sh)
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(64 1024 4096)
CONNS=${CONNS:-16}; DUR=${SECONDS_EACH:-8}; THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "download bench: wrk is missing (bash scripts/deps.sh)" >&2; exit 1; }
say() { echo "download: $*" >&2; }

e2e_init
start_broker
start_ottod --log-level warn --http-threads "$THREADS"

# nginx with as many workers as ottod has HTTP threads, sendfile on, no logs.
mkdir -p "$E2E_DIR/www/fw"
start_nginx "$E2E_DIR/www" "$THREADS"
mibps() { wrk_mibps "$1" "$THREADS" "$CONNS" "$DUR"; }

for kib in "${SIZES[@]}"; do
    "$OTTO" image build --version "3.0.$kib" --project bench --size "${kib}K" -o "$E2E_DIR/fw-$kib.bin" >/dev/null
    id=$("$OTTO" fw upload -q "$E2E_DIR/fw-$kib.bin")
    cp "$E2E_DIR/fw-$kib.bin" "$E2E_DIR/www/fw/$id"
    # Same bytes from both, or the comparison means nothing.
    cmp -s <(curl -sf "$OTTO_URL/fw/$id") <(curl -sf "http://127.0.0.1:$NPORT/fw/$id") ||
        { echo "ottod and nginx serve different bytes" >&2; exit 1; }
    say "$kib KiB, $CONNS connections, ${DUR}s each"
    o=$(mibps "$OTTO_URL/fw/$id")
    n=$(mibps "http://127.0.0.1:$NPORT/fw/$id")
    printf '| %s KiB, %s connections%s | %s MiB/s | %s MiB/s | %s |\n' "$kib" "$CONNS" \
        "$([ "${OTTO_DB:-}" = pg ] && echo ", ottod on PostgreSQL")" "$o" "$n" \
        "$(python3 -c "print('%.2f' % ($o / $n) if $n else 'n/a')")"
done
