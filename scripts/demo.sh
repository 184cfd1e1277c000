#!/usr/bin/env bash
# The otto demo (make demo): a fleet of 20 simulated ESP32 modules, each with
# its own flash file, the real device agent and an emulated STM32 behind it
# on a serial line (a pseudo-terminal), updated by a real ottod through a
# real Mosquitto, all on loopback.
#   v1.0.0 everywhere -> job: module v1.1.0 + MCU 2.0.0 (5 modules lose
#   power mid-download, 3 mid-relay to the MCU; they resume) -> all
#   SUCCEEDED -> job v1.2.0 whose self-test fails -> every device rolls
#   back, the job shows FAILED with the reason -> a forged v9.9.9 signed by
#   an attacker's key: ottod refuses it, and when a (simulated) compromised
#   ottod pushes it anyway every device refuses it, bad_signature -> final
#   tables. Releases are signed with a release key made for the run.
# Secure by default: ottod init's CA, broker ACLs and HTTPS; a certificate
# per device; signed firmware.
# Everything it starts is stopped, everything it makes is removed, at exit.
set -euo pipefail
BUILD="$(cd "${1:-build}" && pwd)"
OTTO="$BUILD/otto"; SIM="$BUILD/otto-sim"; OTTOD="$BUILD/ottod"
[ -x "$OTTO" ] && [ -x "$SIM" ] && [ -x "$OTTOD" ] || { echo "demo: build first (make demo does)"; exit 1; }
. "$(dirname "$0")/services.sh"
e2e_init
work="$E2E_DIR"
N=${DEMO_DEVICES:-20}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$work/||g; s|$BUILD/||g"; "$@" 2>&1 | sed "s|$work/||g"; }

step "Set up a secure deployment (ottod init), start Mosquitto and ottod on free loopback ports"
start_secure
sed "s|$work/||g" "$E2E_DIR/init.out"
echo "broker 127.0.0.1:$BROKER_PORT: TLS, a certificate per client, each device confined to its own topics"
echo "ottod $OTTO_URL: HTTPS; the CLI reads OTTO_URL, OTTO_TOKEN and OTTO_CA from data/otto.env"

step "Build the firmware: factory v1.0.0, v1.1.0, v1.2.0 whose self-test will fail, and MCU firmware 2.0.0"
run "$OTTO" image build --project demo --version 1.0.0 --size 256K -o "$work/v1.0.0.bin"
run "$OTTO" image build --project demo --version 1.1.0 --secure-version 1 --size 1M -o "$work/v1.1.0.bin"
run "$OTTO" image build --project demo --version 1.2.0 --secure-version 1 --size 1M --selftest fail -o "$work/v1.2.0.bin"
mcu_image 65536 "$work/mcu-2.0.0.bin"
echo "mcu-2.0.0.bin: 64 KiB for the STM32F103 behind each module"

step "Register $N modules; each gets its own key and certificate (CN = its thing name)"
things=$(fleet_things 24:0a:c4:00 "$N")
mkdir -p "$work/creds"
"$OTTO" device add $things --group demo --product demo --cert-out "$work/creds" | sed "s|$work/||g" | head -3
echo "..."

step "Power on $N modules on v1.0.0, MCUs on 1.0.0 (downloads at 512 KiB/s; 5 will lose power mid-download, 3 mid-relay; every MCU once mid-write)"
"$SIM" fleet --count "$N" --dir "$work/fleet" --factory "$work/v1.0.0.bin" --product demo \
    --trust "${OTTO_SIGN_KEY%.pem}.pub.pem" --creds "$work/creds" \
    --mqtt "127.0.0.1:$BROKER_PORT" --rate 512K --cuts 5 --relay-cuts 3 --mcu-cut-op 100 --seed 7 --things-file "$work/things" \
    -v >"$work/fleet.out" 2>"$work/fleet.log" &
FLEET=$!
E2E_PIDS+=("$FLEET")
wait_for test -s "$work/things"

step "Operator: upload v1.1.0 and MCU 2.0.0, update group 'demo' (the MCU goes first)"
run "$OTTO" fw upload "$work/v1.1.0.bin"
FW=$("$OTTO" fw upload -q "$work/v1.1.0.bin")
MFW=$("$OTTO" fw upload -q "$work/mcu-2.0.0.bin" --ota-type stm32 --product demo --version 2.0.0)
echo "$MFW (stm32 2.0.0)"
JOB=$("$OTTO" job create --group demo --fw "$FW" --fw "$MFW" --description "v1.1.0 + MCU 2.0.0 for everyone" -q)
echo "job $JOB"
"$OTTO" job watch "$JOB" --interval 0.3 || true

step "The power cuts, as the devices lived them"
grep -E "POWER CUT|from [1-9][0-9]*$" "$work/fleet.log" | sed -E 's/https?:[^ ]*/<url>/' | head -14
echo "devices that resumed a download: $("$OTTO" job show "$JOB" --json | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin)["executions"] if int(e["statusDetails"].get("resumes", "0")) > 0))')"

echo "one device's status details:"
"$OTTO" job show "$JOB" --json | python3 -c 'import json,sys; e=[x for x in json.load(sys.stdin)["executions"] if int(x["statusDetails"].get("resumes", "0"))][0]; print(" ", e["thingName"], json.dumps(e["statusDetails"]))'

step "Operator: v1.2.0, whose self-test fails on every device"
FW2=$("$OTTO" fw upload -q "$work/v1.2.0.bin")
JOB2=$("$OTTO" job create --group demo --fw "$FW2" --description "v1.2.0 (broken)" -q)
echo "job $JOB2"
"$OTTO" job watch "$JOB2" --interval 0.3 || echo "(job watch exits 4: not every device succeeded)"
run "$OTTO" job show "$JOB2"

step "A forged release: v9.9.9 signed by an attacker's key"
"$OTTO" key gen -o "$work/attacker.pem" >/dev/null
"$OTTO" image build --project demo --version 9.9.9 --secure-version 1 --size 256K -o "$work/v9.9.9.bin" >/dev/null
echo "ottod refuses it at upload (its signature does not verify with a key ottod trusts):"
run "$OTTO" fw upload "$work/v9.9.9.bin" --sign "$work/attacker.pem" || true
echo "A compromised server would take it anyway. Stand in for one: trust the attacker's key on ottod, and push it:"
"$OTTO" key trust "$work/attacker.pub.pem" --name attacker >/dev/null
FW3=$(OTTO_SIGN_KEY= "$OTTO" fw upload -q "$work/v9.9.9.bin" --sign "$work/attacker.pem")
JOB3=$("$OTTO" job create --group demo --fw "$FW3" --description "forged v9.9.9" -q)
"$OTTO" job watch "$JOB3" --interval 0.3 >/dev/null || true
"$OTTO" job show "$JOB3" --json | python3 -c 'import json,sys,collections; ex=json.load(sys.stdin)["executions"]; c=collections.Counter((e["status"], e["statusDetails"].get("reason","")) for e in ex); print("every device checked the signature with the keys it trusts:"); [print("  %d %s %s" % (n, s, r)) for (s, r), n in c.items()]; e=ex[0]; print("  e.g.", e["thingName"], json.dumps(e["statusDetails"]))'
"$OTTO" key revoke attacker >/dev/null

step "Stop the fleet: what each device runs now"
kill "$FLEET"; wait "$FLEET" 2>/dev/null || true
cat "$work/fleet.out"
printf '\nDemo done: %d modules on v1.1.0 and their MCUs on 2.0.0 after power cuts, a rolled-back v1.2.0 and a refused forged v9.9.9; everything stopped and removed.\n' "$N"
echo "(One device's A/B slots, otadata and power-cut sweep up close: make demo-device.)"
