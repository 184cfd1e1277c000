#!/usr/bin/env bash
# ottod job benchmarks, through a real Mosquitto on loopback:
#   1. register N devices (bulk REST), create one job for all of them, and
#      time until a subscriber has received every notify-next (N = 10,000
#      and 100,000 by default);
#   2. MQTT job requests per second: 10,000 devices each doing start-next,
#      update IN_PROGRESS, update SUCCEEDED (writes), then "get" (reads),
#      64 requests in flight from one connection.
# Over TLS as deployed (ottod init; the load generators have client
# certificates the ACL lets play every device); TRANSPORT=plain for the
# labelled plain-TCP rows (--insecure).
# Prints one "| what | figure |" Markdown row per measurement on stdout;
# progress goes to stderr.
#   [TRANSPORT=tls|plain] bash bench/jobs.sh [N...]
set -euo pipefail
. "$(dirname "$0")/../scripts/services.sh"
TRANSPORT=${TRANSPORT:-tls}
[ "$TRANSPORT" = plain ] && E2E_PLAIN=1   # plain TCP and --insecure, as its rows say
T=$([ "$TRANSPORT" = plain ] && echo "plain TCP" || echo "TLS")
MQBENCH=${MQBENCH:-$BUILD/mqbench}
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000)
WINDOW=${WINDOW:-64}
say() { echo "jobs ($T): $*" >&2; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
row() { printf '| %s, %s | %s |\n' "$1" "$T" "$2"; }

e2e_init
BROKER_MAX_QUEUED=0 start_broker     # no per-client cap: all N must arrive
start_ottod --log-level warn
"$OTTO" image build --version 2.0.0 --project bench -o "$E2E_DIR/fw.bin" >/dev/null
FW=$("$OTTO" fw upload -q "$E2E_DIR/fw.bin")

declare -A JOB
for n in "${SIZES[@]}"; do
    g="g$n"
    say "registering $n devices in group $g"
    t0=$(ms)
    python3 -c "for i in range($n): print('$g:%06d' % i)" | register_devices "$g" bench
    t1=$(ms)
    row "register $n devices (REST, 10k per request)" "$((t1 - t0)) ms ($(( n * 1000 / (t1 - t0 + 1) )) devices/s)"

    rm -f "$E2E_DIR/ready"
    "$MQBENCH" count -p "$BROKER_PORT" $(loadgen otto-bench-count) -n "$n" -r "$E2E_DIR/ready" -w 600 >"$E2E_DIR/count" &
    CPID=$!
    wait_for test -e "$E2E_DIR/ready" || { echo "subscriber did not start" >&2; exit 1; }
    say "creating a job for $n devices"
    s0=$(date +%s%N)
    JOB[$n]=$("$OTTO" job create --group "$g" --fw "$FW" -q)
    s1=$(date +%s%N)
    wait $CPID || { echo "not every notification arrived: $(cat "$E2E_DIR/count")" >&2; exit 1; }
    read -r _first last got <"$E2E_DIR/count"
    create=$(( (s1 - s0) / 1000000 )); all=$(( (last - s0) / 1000000 ))
    row "job for $n devices: created (REST reply)" "$create ms"
    row "job for $n devices: all $got notify-next received" "$all ms ($(( got * 1000 / (all + 1) )) notifications/s)"
done

n=${SIZES[0]}
say "MQTT request rate: $n devices walk their job (3 requests each), $WINDOW in flight"
read -r reqs secs rej < <("$MQBENCH" load -p "$BROKER_PORT" $(loadgen otto-bench-load) -x "g$n" -d "$n" -c "$WINDOW" -m walk -j "${JOB[$n]}")
[ "$rej" = 0 ] || { echo "$rej requests rejected" >&2; exit 1; }
walk_rate=$(python3 -c "print(round($reqs / $secs))")
row "MQTT start-next + 2 updates ($reqs requests, $WINDOW in flight)" "$walk_rate requests/s"
state=$("$OTTO" job show "${JOB[$n]}" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
[ "$state" = COMPLETED ] || { echo "job not COMPLETED after the walk: $state" >&2; exit 1; }

say "MQTT request rate: $n devices x 10 get"
read -r reqs secs rej < <("$MQBENCH" load -p "$BROKER_PORT" $(loadgen otto-bench-load) -x "g$n" -d "$n" -c "$WINDOW" -m get)
get_rate=$(python3 -c "print(round($reqs / $secs))")
row "MQTT get ($reqs requests, $WINDOW in flight)" "$get_rate requests/s"

# The ceiling: the broker alone, with a responder that answers at once and
# stores nothing (mqbench echo) in ottod's place.
stop_ottod
rm -f "$E2E_DIR/echo-ready"
"$MQBENCH" echo -p "$BROKER_PORT" $(loadgen otto-bench-echo) -r "$E2E_DIR/echo-ready" -w 600 &
ECHO=$!
E2E_PIDS+=("$ECHO")
wait_for test -e "$E2E_DIR/echo-ready" || { echo "echo responder did not start" >&2; exit 1; }
say "the broker alone: the same walk and gets against a responder that stores nothing"
read -r reqs secs rej < <("$MQBENCH" load -p "$BROKER_PORT" $(loadgen otto-bench-load) -x "e$n" -d "$n" -c "$WINDOW" -m walk -j ceiling)
ceil_walk=$(python3 -c "print(round($reqs / $secs))")
row "... the same walk, broker alone (ceiling): ottod reaches $(python3 -c "print('%.2f' % ($walk_rate / $ceil_walk))") of it" "$ceil_walk requests/s"
read -r reqs secs rej < <("$MQBENCH" load -p "$BROKER_PORT" $(loadgen otto-bench-load) -x "e$n" -d "$n" -c "$WINDOW" -m get)
ceil_get=$(python3 -c "print(round($reqs / $secs))")
row "... the same gets, broker alone (ceiling): ottod reaches $(python3 -c "print('%.2f' % ($get_rate / $ceil_get))") of it" "$ceil_get requests/s"
kill "$ECHO" 2>/dev/null; wait "$ECHO" 2>/dev/null || true
