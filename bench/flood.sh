#!/usr/bin/env bash
# One device floods its job topics with 20,000 "get" requests; how long do
# the other devices wait for their replies meanwhile? Each figure is the
# median of 30 requests of another thing (a fresh MQTT client each, as
# mqreq is, so connect time is in every figure), idle and during the flood,
# with ottod's per-thing budget (default, 20/s) and without it.
# Prints Markdown rows "| case | median reply | ratio to idle |".
set -euo pipefail
. "$(dirname "$0")/../scripts/services.sh"
MQREQ=${MQREQ:-$BUILD/tests/mqreq}
say() { echo "flood: $*" >&2; }
median_ms() { # 30 gets of thing $1, in ms each
    local t
    for _ in $(seq 1 30); do
        t=$(date +%s%N)
        "$MQREQ" -p "$BROKER_PORT" -t "\$aws/things/$1/jobs/get" -m '{}' -w 10 >/dev/null
        echo $(( ($(date +%s%N) - t) / 100000 ))
    done | sort -n | sed -n 15p | awk '{printf "%.1f", $1 / 10}'
}
flood() {
    seq 20000 | sed 's/.*/{"clientToken":"flood"}/' | \
        mosquitto_pub -p "$BROKER_PORT" -V mqttv5 -q 1 -l -t '$aws/things/24:0a:c4:ff:ff:ff/jobs/get' &
    FLOOD=$!
}
run() { # run NAME [ottod flags]
    local name=$1; shift
    unset DATA HTTP_PORT BROKER_PORT
    e2e_init
    start_broker
    start_ottod --log-level warn "$@"
    "$OTTO" device add 24:0a:c4:00:00:01 24:0a:c4:ff:ff:ff >/dev/null
    idle=$(median_ms 24:0a:c4:00:00:01)
    flood
    busy=$(median_ms 24:0a:c4:00:00:01)
    wait "$FLOOD"
    th=$(curl -s "$OTTO_URL/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["mqttThrottled"])')
    say "$name: idle $idle ms, flood $busy ms, $th dropped"
    printf '| %s | %s ms (idle %s ms) | %.2f | %s of 20,000 |\n' "$name" "$busy" "$idle" \
        "$(python3 -c "print($busy / $idle)")" "$th"
    stop_ottod
    stop_broker
    rm -rf "$E2E_DIR"
}
run "per-thing budget (default 20/s)"
run "no budget (--mqtt-rate 100000)" --mqtt-rate 100000
