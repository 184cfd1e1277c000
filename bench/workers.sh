#!/usr/bin/env bash
# The job API's write and read rates on each store: SQLite (one ottod),
# PostgreSQL with one ottod, and PostgreSQL with two ottod workers
# splitting the devices by partition (docs/scaling.md). Plain TCP
# (--insecure), as the single-node goals are stated; N devices (default
# 10,000) each walk one job (start-next, update IN_PROGRESS, update
# SUCCEEDED), then 10 gets each, 64 requests in flight from one
# connection (mqbench). Also ottod's CPU time per request, from /proc.
# Prints "| store | walk | get | CPU |" rows on stdout; progress on stderr.
#   bash bench/workers.sh [sqlite|pg|pg2 ...]
set -euo pipefail
. "$(dirname "$0")/../scripts/services.sh"
E2E_PLAIN=1
MQBENCH=${MQBENCH:-$BUILD/mqbench}
N=${N:-10000}
WINDOW=${WINDOW:-64}
MODES=("$@"); [ ${#MODES[@]} -gt 0 ] || MODES=(sqlite pg pg2)
say() { echo "workers: $*" >&2; }
cpu_ms() { # user + system CPU of the pids, in ms
    local p t=0
    for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
    echo $((t * 1000 / $(getconf CLK_TCK)))
}

for mode in "${MODES[@]}"; do
    (
        e2e_init
        [ "$mode" = sqlite ] || export OTTO_DB=pg
        BROKER_MAX_QUEUED=0 start_broker
        start_ottod --log-level warn >/dev/null
        pids=("$OTTOD_PID")
        if [ "$mode" = pg2 ]; then
            mkdir -p "$E2E_DIR/data-b"
            "$OTTOD" --data "$E2E_DIR/data-b" --mqtt "127.0.0.1:$BROKER_PORT" --http "127.0.0.1:$(free_port)" \
                --insecure --db "$PG_URL" --log-level warn 2>>"$E2E_DIR/ottod-b.log" &
            pids+=($!)
            E2E_PIDS+=($!)
            sleep 3 # both hold their partitions (rebalanced each second)
        fi
        "$OTTO" image build --version 2.0.0 --project bench -o "$E2E_DIR/fw.bin" >/dev/null
        FW=$("$OTTO" fw upload -q "$E2E_DIR/fw.bin")
        say "$mode: $N devices"
        python3 -c "for i in range($N): print('gw:%06d' % i)" | register_devices gw bench
        J=$("$OTTO" job create --group gw --fw "$FW" -q)
        c0=$(cpu_ms "${pids[@]}")
        read -r reqs secs rej < <("$MQBENCH" load -p "$BROKER_PORT" -x gw -d "$N" -c "$WINDOW" -m walk -j "$J")
        c1=$(cpu_ms "${pids[@]}")
        [ "$rej" = 0 ] || { echo "$mode: $rej requests rejected" >&2; exit 1; }
        walk=$(python3 -c "print(round($reqs / $secs))")
        walk_cpu=$(python3 -c "print('%.3f' % (($c1 - $c0) / $reqs))")
        state=$("$OTTO" job show "$J" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
        [ "$state" = COMPLETED ] || { echo "$mode: job not COMPLETED after the walk: $state" >&2; exit 1; }
        read -r reqs secs rej < <("$MQBENCH" load -p "$BROKER_PORT" -x gw -d "$N" -c "$WINDOW" -m get)
        c2=$(cpu_ms "${pids[@]}")
        get=$(python3 -c "print(round($reqs / $secs))")
        get_cpu=$(python3 -c "print('%.3f' % (($c2 - $c1) / $reqs))")
        case $mode in
            sqlite) what="SQLite, one ottod" ;;
            pg) what="PostgreSQL, one ottod" ;;
            pg2) what="PostgreSQL, two ottod workers (partitions)" ;;
        esac
        printf '| %s | %s | %s | %s / %s |\n' "$what" "$walk" "$get" "$walk_cpu" "$get_cpu"
    )
done
