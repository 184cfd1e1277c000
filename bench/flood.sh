#!/usr/bin/env bash
# One device floods its job topics with 20,000 "get" requests (QoS 0, as
# fast as mosquitto_pub sends them); how long does another device wait for
# its reply meanwhile? Each figure is the median of 7 requests of another
# thing sent 50 ms into a flood (a fresh MQTT client each, as mqreq is, so
# connect time is in every figure), and of 7 with no flood, with ottod's
# per-thing budget (default, 20/s) and without it.
# Over TLS as deployed (each device its own certificate); TRANSPORT=plain
# for the labelled plain-TCP rows.
# Prints Markdown rows "| case | median reply | ratio to idle |".
set -euo pipefail
. "$(dirname "$0")/../scripts/services.sh"
TRANSPORT=${TRANSPORT:-tls}
[ "$TRANSPORT" = plain ] && E2E_PLAIN=1   # plain TCP and --insecure, as its rows say
T=$([ "$TRANSPORT" = plain ] && echo "plain TCP" || echo "TLS")
MQREQ=${MQREQ:-$BUILD/tests/mqreq}
say() { echo "flood: $*" >&2; }
one() { # one get of thing $1, in tenths of ms
    local t=$(date +%s%N)
    "$MQREQ" -p "$BROKER_PORT" $(thing_creds "$1") -t "\$aws/things/$1/jobs/get" -m '{}' -w 20 >/dev/null
    echo $(( ($(date +%s%N) - t) / 100000 ))
}
median_ms() { # median_ms THING [flood]: 7 samples
    for _ in $(seq 1 7); do
        if [ "${2:-}" = flood ]; then
            flood
            sleep 0.05
            one "$1"
            wait "$FLOOD"
            sleep 1 # let ottod drain what is left
        else
            one "$1"
        fi
    done | sort -n | sed -n 4p | awk '{printf "%.1f", $1 / 10}'
}
flood() {
    seq 20000 | sed 's/.*/{"clientToken":"flood"}/' | \
        mosquitto_pub -p "$BROKER_PORT" $(mqtls 24:0a:c4:ff:ff:ff) -V mqttv5 -q 0 -l -t '$aws/things/24:0a:c4:ff:ff:ff/jobs/get' &
    FLOOD=$!
}
run() { # run NAME [ottod flags]
    local name=$1; shift
    unset DATA HTTP_PORT BROKER_PORT E2E_SECURE
    e2e_init
    start_broker
    start_ottod --log-level warn "$@"
    "$OTTO" device add 24:0a:c4:00:00:01 24:0a:c4:ff:ff:ff >/dev/null
    idle=$(median_ms 24:0a:c4:00:00:01)
    busy=$(median_ms 24:0a:c4:00:00:01 flood)
    th=$(curl -s "$OTTO_URL/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["mqttThrottled"])')
    say "$name: idle $idle ms, flood $busy ms, $th dropped"
    printf '| %s, %s | %s ms (idle %s ms) | %.2f | %s of 7 x 20,000 |\n' "$name" "$T" "$busy" "$idle" \
        "$(python3 -c "print($busy / $idle)")" "$th"
    stop_ottod
    stop_broker
    rm -rf "$E2E_DIR"
}
run "per-thing budget (default 20/s)"
run "no budget (--mqtt-rate 100000)" --mqtt-rate 100000
