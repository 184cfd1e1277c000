#!/usr/bin/env bash
# Fleet update time: N simulated devices (otto-sim fleet: the real agent,
# one process and event loop per 2,500 devices) on v1.0.0 take a job for a 1 MiB v1.1.0 from
# ottod through Mosquitto, all on loopback. Measures job creation until the
# job is COMPLETED (every device downloaded, verified, switched, rebooted,
# confirmed and reported SUCCEEDED); then 100 modules whose job also
# relays a 64 KiB image to the MCU behind each; with ottod's CPU time per
# device update (user + system, from /proc). Prints Markdown rows.
# Modules without an MCU get 2.1 MiB flash files (--small-flash).
#   bash bench/fleet.sh [N...]        (default 100 1000; `make fleet-10k`: 10000)
set -euo pipefail
. "$(dirname "$0")/../scripts/services.sh"
E2E_PLAIN=1   # plain TCP and --insecure, as this row is labelled (TLS rows: bench/tls.sh)
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(100 1000)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
say() { echo "fleet: $*" >&2; }
e2e_init
BROKER_MAX_QUEUED=0 start_broker
# One address (loopback) plays the whole fleet: lift the per-client limit
# that would otherwise hold it to 64 downloads at once.
start_ottod --log-level warn --http-threads 4 --http-per-ip 4096
"$OTTO" image build --version 1.0.0 --project bench --size 128K -o "$E2E_DIR/v100.bin" >/dev/null
"$OTTO" image build --version 1.1.0 --project bench --secure-version 1 --size 1M -o "$E2E_DIR/v110.bin" >/dev/null
FW=$("$OTTO" fw upload -q "$E2E_DIR/v110.bin")
MFW=$(mcu_image 65536 "$E2E_DIR/mcu.bin"; "$OTTO" fw upload -q "$E2E_DIR/mcu.bin" --ota-type stm32 --product bench --version 2.0.0)

# cpu_ms PID: the CPU time (user + system) the process has used, in ms
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"; }

# A fleet larger than PER_PROC devices is split over several otto-sim
# processes (each device holds a flash file and two sockets open; one
# process is held to the machine's descriptor limit, and one event loop to
# one core).
PER_PROC=${FLEET_PER_PROC:-2500}

# one_run N LABEL MCU_FLAG FW...: a fleet of N takes a job for FW...
one_run() {
    local n=$1 label=$2 mcu=$3
    shift 3
    local d="$E2E_DIR/f$n$mcu" fws=() pids=() procs k cnt small=""
    [ "$mcu" = --no-mcu ] && small=--small-flash # 2.1 MiB flash files: 10,000 fit the disk
    for f in "$@"; do fws+=(--fw "$f"); done
    procs=$(( (n + PER_PROC - 1) / PER_PROC ))
    share() { echo $(( $1 < procs - 1 ? PER_PROC : n - $1 * PER_PROC )); } # process k's devices
    say "$n devices ($label): provisioning flash files ($procs process(es))"
    mkdir -p "$d"
    : >"$d.things"
    for ((k = 0; k < procs; k++)); do
        cnt=$(share $k)
        "$BUILD/otto-sim" fleet --count "$cnt" --dir "$d/p$k" --factory "$E2E_DIR/v100.bin" --prefix "b$n$mcu-$k" $mcu $small \
            --mqtt "127.0.0.1:$BROKER_PORT" --things-file "$d/p$k.things" --duration 0.5 >/dev/null 2>"$d/p$k.prov" ||
            { echo "fleet: provisioning failed" >&2; tail -3 "$d/p$k.prov" >&2; exit 1; }
        cat "$d/p$k.things" >>"$d.things"
    done
    sync # the provisioning's writes on disk before the clock starts, not during the run
    for ((k = 0; k < procs; k++)); do
        cnt=$(share $k)
        "$BUILD/otto-sim" fleet --count "$cnt" --dir "$d/p$k" --prefix "b$n$mcu-$k" --mqtt "127.0.0.1:$BROKER_PORT" $mcu \
            --trust "${OTTO_SIGN_KEY%.pem}.pub.pem" \
            >"$d/p$k.out" 2>"$d/p$k.log" &
        pids+=($!)
        E2E_PIDS+=($!)
    done
    [ "$(wc -l <"$d.things")" -eq "$n" ] || { echo "fleet: $(wc -l <"$d.things") things provisioned, not $n" >&2; exit 1; }
    register_devices "g$n$mcu" bench <"$d.things"
    # every device connected and idle: as many MQTT clients as devices, plus ottod
    local t=0
    until [ "$(connected_clients)" -ge "$n" ] || [ $t -ge 600 ]; do sleep 1; t=$((t + 1)); done
    say "$n devices: $(connected_clients) clients on the broker; job for $label"
    t0=$(date +%s%N)
    c0=$(cpu_ms "$OTTOD_PID")
    J=$("$OTTO" job create --group "g$n$mcu" "${fws[@]}" -q)
    "$OTTO" job watch "$J" --interval 0.5 --timeout 1800 >"$d.watch" || { echo "job did not succeed everywhere" >&2; tail -3 "$d.watch" >&2; exit 1; }
    t1=$(date +%s%N)
    c1=$(cpu_ms "$OTTOD_PID")
    kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
    ms=$(( (t1 - t0) / 1000000 ))
    ok=$("$OTTO" job show "$J" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"]["SUCCEEDED"])')
    printf '| %s devices, %s | %s SUCCEEDED | %.1f s | %s devices/min; ottod %.2f CPU ms a device update |\n' "$n" \
        "$label" "$ok" "$(python3 -c "print($ms / 1000)")" "$(( ok * 60000 / (ms + 1) ))" \
        "$(python3 -c "print(($c1 - $c0) / max($ok, 1))")"
    rm -rf "$d"
}
for n in "${SIZES[@]}"; do
    one_run "$n" "1 MiB image" --no-mcu "$FW"
done
# With the MCU behind each module (an emulated STM32 on a pty, one thread each).
one_run 100 "1 MiB image + 64 KiB relayed to the MCU" "" "$FW" "$MFW"
