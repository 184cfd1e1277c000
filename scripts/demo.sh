#!/usr/bin/env bash
# The local A/B demo: one simulated ESP32 module, its flash a file.
#   factory v1.0.0 -> OTA v1.1.0 -> reboot -> self-test -> confirmed
#   -> power cut in the middle of the next download -> still v1.1.0
#   -> OTA v1.2.0 whose self-test fails -> rolled back to v1.1.0
#   -> a downgrade below the anti-rollback counter is refused.
# Everything it makes lives in a temporary directory that is removed at exit.
set -euo pipefail
BUILD="${1:-build}"
OTTO="$BUILD/otto"; SIM="$BUILD/otto-sim"
[ -x "$OTTO" ] && [ -x "$SIM" ] || { echo "demo: build first (make demo does)"; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$work/||g; s|$BUILD/||g"; "$@" 2>&1 | sed "s|$work/||g" || true; }

step "Build three firmware images (real ESP32 app images with descriptor and SHA-256)"
run "$OTTO" image build --project demo --version 1.0.0 --secure-version 0 --size 256K -o "$work/factory.bin"
run "$OTTO" image build --project demo --version 1.1.0 --secure-version 1 --size 256K -o "$work/v1.1.0.bin"
run "$OTTO" image build --project demo --version 1.2.0 --secure-version 1 --size 256K --selftest fail -o "$work/v1.2.0-bad.bin"

step "Make the device: 4 MiB flash with partition table, factory app, blank otadata"
run "$SIM" mkflash -o "$work/dev.img" --factory "$work/factory.bin"
run "$OTTO" part show "$work/dev.img"

step "Power on: blank otadata, so the bootloader starts the factory app"
run "$SIM" boot --flash "$work/dev.img" --run

step "The app downloads v1.1.0 into the free slot; header checked first, verified from flash, selected (NEW)"
run "$SIM" ota --flash "$work/dev.img" "$work/v1.1.0.bin"

step "Reboot: NEW -> PENDING_VERIFY; the app's self-test passes; it confirms itself and raises the eFuse"
run "$SIM" boot --flash "$work/dev.img" --run

step "Next update, but the power is cut (torn write) in the middle of the download"
run "$SIM" ota --flash "$work/dev.img" "$work/v1.2.0-bad.bin" --cut-at 30 --cut-mode torn --seed 7
run "$SIM" boot --flash "$work/dev.img" --run

step "Retry: v1.2.0 lands, boots PENDING_VERIFY, fails its self-test and rolls back"
run "$SIM" ota --flash "$work/dev.img" "$work/v1.2.0-bad.bin"
run "$SIM" boot --flash "$work/dev.img" --run

step "A downgrade below the anti-rollback counter is refused before a byte is written"
run "$SIM" ota --flash "$work/dev.img" "$work/factory.bin"

step "Power-cut sweep: cut at every flash write of both updates, clean and torn"
run "$BUILD/tests/powercut_sweep" --image-size 32K --seeds 1
# ---- the server side ------------------------------------------------------
BUILD="$(cd "$BUILD" && pwd)"
. "$(dirname "$0")/services.sh"
e2e_init; trap 'e2e_cleanup; rm -rf "$work"' EXIT
MQREQ="$BUILD/tests/mqreq"
dev() { # dev THING LEAF [PAYLOAD]: one AWS IoT Jobs request, as the device would send it
    printf '$ device %s -> $aws/things/%s/jobs/%s %s\n' "$1" "$1" "$2" "${3:-}"
    "$MQREQ" -p "$BROKER_PORT" -t "\$aws/things/$1/jobs/$2" -m "${3:-{\}}" -w 5 | cut -c1-160
}

step "The server: a real Mosquitto and ottod on free loopback ports"
start_broker
start_ottod
echo "ottod at $OTTO_URL (token in its data dir), broker on 127.0.0.1:$BROKER_PORT"

step "Operator: upload v1.1.0 (descriptor read from the image), register two devices, start a job"
run "$OTTO" fw upload "$work/v1.1.0.bin"
FW=$("$OTTO" fw upload -q "$work/v1.1.0.bin")
run "$OTTO" device add 24:0a:c4:00:00:01 24:0a:c4:00:00:02 --group lobby --product demo
JOB=$("$OTTO" job create --group lobby --fw "$FW" --description "demo 1.1.0" -q)
echo "job $JOB"

step "Device 1 speaks the AWS IoT Jobs protocol: start-next, then download with a resume, then report"
dev 24:0a:c4:00:00:01 start-next '{"clientToken":"d1"}'
curl -s -r 0-65535 -o "$work/part" "$OTTO_URL/fw/$FW"
curl -s -r 65536- "$OTTO_URL/fw/$FW" >>"$work/part"
cmp -s "$work/part" "$work/v1.1.0.bin" && echo "downloaded in two Range requests: identical to v1.1.0.bin ($(stat -c %s "$work/part") bytes)"
dev 24:0a:c4:00:00:01 "$JOB/update" '{"status":"IN_PROGRESS","statusDetails":{"step":"verify"},"expectedVersion":2}'
dev 24:0a:c4:00:00:01 "$JOB/update" '{"status":"SUCCEEDED","expectedVersion":3}'
dev 24:0a:c4:00:00:01 "$JOB/update" '{"status":"FAILED"}'

step "Operator: job status (device 2 is still offline, its execution stays QUEUED)"
run "$OTTO" job show "$JOB"
run "$OTTO" job cancel "$JOB" --reason "demo over"

printf '\nDemo done: v1.1.0 runs, confirmed; the failed v1.2.0 was rolled back; the server ran a job; nothing left behind.\n'

