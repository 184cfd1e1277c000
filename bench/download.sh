#!/usr/bin/env bash
# Firmware download throughput: ottod's /fw/ID against nginx serving the very
# same file, in the same run, with wrk at the same concurrency on loopback.
# Prints Markdown rows "| size, connections | ottod | nginx | ottod/nginx |".
#   bash bench/download.sh [SIZE_KIB...]     (default 64 1024 4096)
# Env: CONNS (default 16), SECONDS_EACH (default 8), THREADS (default 2).
set -euo pipefail
. "$(dirname "$0")/../scripts/services.sh"
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(64 1024 4096)
CONNS=${CONNS:-16}; DUR=${SECONDS_EACH:-8}; THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "download bench: wrk is missing (bash scripts/deps.sh)" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "download bench: nginx is missing (bash scripts/deps.sh)" >&2; exit 1; }
say() { echo "download: $*" >&2; }

e2e_init
start_broker
start_ottod --log-level warn --http-threads "$THREADS"

# nginx with as many workers as ottod has HTTP threads, sendfile on, no logs.
NPORT=$(free_port)
mkdir -p "$E2E_DIR/www/fw" "$E2E_DIR/nginx"
cat >"$E2E_DIR/nginx/nginx.conf" <<CONF
worker_processes $THREADS;
pid $E2E_DIR/nginx/nginx.pid;
error_log $E2E_DIR/nginx/error.log warn;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $E2E_DIR/nginx/body;
    proxy_temp_path $E2E_DIR/nginx/proxy;
    fastcgi_temp_path $E2E_DIR/nginx/fastcgi;
    uwsgi_temp_path $E2E_DIR/nginx/uwsgi;
    scgi_temp_path $E2E_DIR/nginx/scgi;
    server {
        listen 127.0.0.1:$NPORT;
        root $E2E_DIR/www;
        default_type application/octet-stream;
    }
}
CONF
"$NGINX" -p "$E2E_DIR/nginx" -c "$E2E_DIR/nginx/nginx.conf" -g 'daemon off;' 2>>"$E2E_DIR/nginx/error.log" &
E2E_PIDS+=("$!")
wait_for port_open "$NPORT" || { echo "nginx did not start" >&2; cat "$E2E_DIR/nginx/error.log" >&2; exit 1; }

# wrk's "Transfer/sec" in MiB/s.
mibps() {
    wrk -t "$THREADS" -c "$CONNS" -d "${DUR}s" "$1" | awk '
        /Transfer\/sec/ { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v);
                          f = (u == "GB") ? 1024 : (u == "MB") ? 1 : (u == "KB") ? 1/1024 : 1/1048576;
                          printf "%.0f\n", v * f }'
}

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
    printf '| %s KiB, %s connections | %s MiB/s | %s MiB/s | %s |\n' "$kib" "$CONNS" "$o" "$n" \
        "$(python3 -c "print('%.2f' % ($o / $n) if $n else 'n/a')")"
done
