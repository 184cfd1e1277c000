#!/usr/bin/env bash
# Secure by default, measured: the same work over TLS (ottod init's CA, a
# certificate per device, the broker's ACL, HTTPS, signed download links)
# and, labelled, over plain TCP (--insecure), in the same run.
#   - N devices connecting at once (otto-sim fleet): time until every one
#     has said hello through the broker to ottod, so handshakes a second;
#   - a fleet of 100 updating a 1 MiB image: devices/min;
#   - HTTPS downloads of 1 MiB: ottod against nginx with the same
#     certificate and the same file, as a ratio.
# Prints Markdown rows "| measurement | TLS | plain TCP | TLS/plain |".
#   bash bench/tls.sh [N]        (default 1000)
set -euo pipefail
. "$(dirname "$0")/../scripts/services.sh"
N=${1:-1000}
CONNS=${CONNS:-16}; DUR=${SECONDS_EACH:-8}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
say() { echo "tls: $*" >&2; }
e2e_init
"$OTTO" image build --version 1.0.0 --project bench --size 128K -o "$E2E_DIR/v100.bin" >/dev/null
"$OTTO" image build --version 1.1.0 --project bench --secure-version 1 --size 1M -o "$E2E_DIR/v110.bin" >/dev/null

# hellos LOG N: wait until N devices have said hello; print the seconds it took.
hellos() {
    local t0=$1 n=$2 log=$3
    for _ in $(seq 1200); do
        [ "$(grep -c ' hello: ' "$log")" -ge "$n" ] && break
        sleep 0.1
    done
    [ "$(grep -c ' hello: ' "$log")" -ge "$n" ] || { echo "tls bench: not every device connected" >&2; exit 1; }
    python3 -c "import time; print('%.2f' % ((time.time_ns() - $t0) / 1e9))"
}

# connect LABEL ARGS...: N devices power on at once; CONNECT_S: seconds until
# all said hello. The fleet stays up as FLEET.
connect() {
    local label=$1 d="$E2E_DIR/c-$1"
    shift
    "$BUILD/otto-sim" fleet --count "$N" --dir "$d" --factory "$E2E_DIR/v100.bin" --prefix "24:0a:c4:7$label" \
        --mqtt "127.0.0.1:$BROKER_PORT" --things-file "$d.things" --duration 0.1 "$@" >/dev/null 2>&1 || true
    : >"$E2E_DIR/ottod.log.mark"
    local before; before=$(grep -c ' hello: ' "$E2E_DIR/ottod.log" || true)
    local t0; t0=$(date +%s%N)
    "$BUILD/otto-sim" fleet --count "$N" --dir "$d" --prefix "24:0a:c4:7$label" --mqtt "127.0.0.1:$BROKER_PORT" \
        --trust "${OTTO_SIGN_KEY%.pem}.pub.pem" "$@" >"$d.out" 2>"$d.log" &
    FLEET=$!
    E2E_PIDS+=("$FLEET")
    CONNECT_S=$(hellos "$t0" $((before + N)) "$E2E_DIR/ottod.log")
}

# ---- TLS: the deployment ottod init makes
say "TLS: ottod init, Mosquitto, ottod; $N device certificates"
BROKER_MAX_QUEUED=0 start_secure --log-level info --http-threads 4 --http-per-ip 4096 --link-ttl 3600
mkdir -p "$E2E_DIR/creds"
things=$(fleet_things 24:0a:c4:71 "$N")
t0=$(date +%s%N)
"$OTTO" device add $things --group tls --product bench --cert-out "$E2E_DIR/creds" -q
issue_s=$(python3 -c "print('%.1f' % (($(date +%s%N) - $t0) / 1e9))")
say "$N devices connect over TLS"
connect 1 --creds "$E2E_DIR/creds"
tls_s=$CONNECT_S
kill "$FLEET"; wait "$FLEET" 2>/dev/null || true

# The fleet update over TLS: 100 of them, a 1 MiB image.
FW=$("$OTTO" fw upload -q "$E2E_DIR/v110.bin")
fleet_update() { # fleet_update LABEL PREFIX ARGS...: 100 devices take FW; devices/min
    local label=$1 prefix=$2 d="$E2E_DIR/u-$1"
    shift 2
    "$BUILD/otto-sim" fleet --count 100 --dir "$d" --factory "$E2E_DIR/v100.bin" --prefix "$prefix" --no-mcu \
        --mqtt "127.0.0.1:$BROKER_PORT" --things-file "$d.things" --duration 0.1 "$@" >/dev/null 2>&1 || true
    "$BUILD/otto-sim" fleet --count 100 --dir "$d" --prefix "$prefix" --no-mcu --mqtt "127.0.0.1:$BROKER_PORT" \
        --trust "${OTTO_SIGN_KEY%.pem}.pub.pem" "$@" >"$d.out" 2>"$d.log" &
    FLEET=$!
    E2E_PIDS+=("$FLEET")
    sleep 3
    local t0 J; t0=$(date +%s%N)
    J=$("$OTTO" job create --group "$label" --fw "$FW" -q)
    "$OTTO" job watch "$J" --interval 0.5 --timeout 600 >/dev/null || { echo "tls bench: job $J did not succeed" >&2; exit 1; }
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    kill "$FLEET"; wait "$FLEET" 2>/dev/null || true
    echo $(( 100 * 60000 / (ms + 1) ))
}
uthings=$(fleet_things 24:0a:c4:72 100)
"$OTTO" device add $uthings --group u-tls --product bench --cert-out "$E2E_DIR/creds" -q
say "100 devices update 1 MiB over TLS"
tls_fleet=$(fleet_update u-tls 24:0a:c4:72 --creds "$E2E_DIR/creds")

# HTTPS downloads: ottod (a link minted for a device) against nginx, same certificate.
say "HTTPS downloads, 1 MiB, $CONNS connections: ottod and nginx"
D=24:0a:c4:73:00:01
"$OTTO" device add $D --product bench --cert-out "$E2E_DIR/creds" -q
"$OTTO" job create --device $D --fw "$FW" -q >/dev/null
link=$(mosquitto_rr -h 127.0.0.1 -p "$BROKER_PORT" --cafile "$OTTO_CA" --cert "$E2E_DIR/creds/$D.crt" \
    --key "$E2E_DIR/creds/$D.key" -t "\$aws/things/$D/jobs/\$next/get" -e "\$aws/things/$D/jobs/\$next/get/accepted" \
    -m '{"clientToken":"b"}' -W 5 | python3 -c 'import json,sys; print(json.load(sys.stdin)["execution"]["jobDocument"]["firmware"][0]["url"])')
mkdir -p "$E2E_DIR/www/fw"
cp "$E2E_DIR/v110.bin" "$E2E_DIR/www/fw/$FW"
start_nginx "$E2E_DIR/www" 4 "$DATA/tls/server.crt" "$DATA/tls/server.key"
cmp -s <(curl -sf --cacert "$OTTO_CA" "$link") <(curl -sf --cacert "$OTTO_CA" "https://127.0.0.1:$NPORT/fw/$FW") ||
    { echo "tls bench: ottod and nginx serve different bytes" >&2; exit 1; }
mibps() { wrk_mibps "$1" 2 "$CONNS" "$DUR"; }
o_tls=$(mibps "$link")
n_tls=$(mibps "https://127.0.0.1:$NPORT/fw/$FW")
stop_ottod
stop_broker

# ---- plain TCP, labelled: the same, --insecure
say "plain TCP (--insecure): $N devices connect"
unset DATA BROKER_PORT HTTP_PORT E2E_SECURE CURL_CA_BUNDLE SSL_CERT_FILE OTTO_CA
export E2E_PLAIN=1
DATA=$E2E_DIR/plain
BROKER_MAX_QUEUED=0 start_broker
start_ottod --log-level info --http-threads 4 --http-per-ip 4096
connect 2
plain_s=$CONNECT_S
kill "$FLEET"; wait "$FLEET" 2>/dev/null || true
FW=$("$OTTO" fw upload -q "$E2E_DIR/v110.bin")
"$OTTO" device add $(fleet_things 24:0a:c4:74 100) --group u-plain --product bench -q
say "100 devices update 1 MiB over plain TCP"
plain_fleet=$(fleet_update u-plain 24:0a:c4:74)

rate() { python3 -c "print('%.0f' % ($N / $1))"; }
printf '| %s devices connect at once, until each has said hello (handshakes/s) | %s s (%s/s) | %s s (%s/s) | %s |\n' \
    "$N" "$tls_s" "$(rate "$tls_s")" "$plain_s" "$(rate "$plain_s")" "$(python3 -c "print('%.2f' % ($tls_s / $plain_s))")"
printf '| 100 devices update a 1 MiB image (devices/min) | %s | %s | %s |\n' "$tls_fleet" "$plain_fleet" \
    "$(python3 -c "print('%.2f' % ($tls_fleet / $plain_fleet))")"
printf '| 1 MiB downloads, %s connections: ottod over HTTPS (signed link) / nginx over HTTPS, same certificate | %s MiB/s | nginx %s MiB/s | ottod/nginx %s |\n' \
    "$CONNS" "$o_tls" "$n_tls" "$(python3 -c "print('%.2f' % ($o_tls / $n_tls))")"
printf '| issuing %s device certificates (otto device add --cert-out) | %s s | | |\n' "$N" "$issue_s"
