#!/usr/bin/env bash
# A full disk: ottod's data directory on a 24 MiB filesystem of the test's
# own (a tmpfs), filled to the last byte mid-rollout. Uploads are refused
# with a clear error (507, before a byte is stored); device reports either
# still commit or are refused and repeated by the device, never
# acknowledged and lost; when space returns ottod goes on by itself (no
# restart): every device SUCCEEDED once, and uploads work again.
. "$(dirname "$0")/lib.sh"
e2e_init
mkdir -p "$E2E_DIR/data"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=24m otto-e2e "$E2E_DIR/data" 2>/dev/null; then
    echo "skip: mounting a small tmpfs needs root"
    exit 77
fi
E2E_MOUNTS+=("$E2E_DIR/data")
start_secure
N=3
"$OTTO" image build --version 1.0.0 --project lamp --size 64K -o "$E2E_DIR/v100.bin" >/dev/null
"$OTTO" image build --version 1.1.0 --project lamp --secure-version 1 --size 64K -o "$E2E_DIR/v110.bin" >/dev/null
"$OTTO" image build --version 1.2.0 --project lamp --secure-version 1 --size 64K -o "$E2E_DIR/v120.bin" >/dev/null
F110=$("$OTTO" fw upload -q "$E2E_DIR/v110.bin")
fleet_bg 24:0a:c4:28 "$E2E_DIR/v100.bin"
"$OTTO" device add $(cat "$E2E_DIR/things") --group g28 --product lamp >/dev/null
stop_fleet # the devices are off while the job is made and the disk fills
J=$("$OTTO" job create --group g28 --fw "$F110" -q)

# fill the disk to the last byte
dd if=/dev/zero of="$DATA/filler" bs=1M 2>/dev/null || true
while head -c 4096 /dev/zero >>"$DATA/filler" 2>/dev/null; do :; done
check "the data directory's disk is full (df: $(df -B1 --output=avail "$DATA" | tail -1 | tr -d ' ') bytes free)" \
    test "$(df -B1 --output=avail "$DATA" | tail -1 | tr -d ' ')" -lt 4096
out=$("$OTTO" fw upload "$E2E_DIR/v120.bin" 2>&1) && bad=0 || bad=1
check "an upload is refused, saying the disk is full (HTTP 507)" \
    sh -c "[ $bad = 1 ] && echo \"\$1\" | grep -q \"the data directory's disk is full.*(HTTP 507)\"" _ "$out"
check "... and left nothing behind in tmp/" test -z "$(ls "$DATA/tmp")"

# the fleet powers on and works through its job while the disk is full
"$BUILD/otto-sim" fleet --count "$N" --dir "$E2E_DIR/fleet" --prefix 24:0a:c4:28 --mqtt "127.0.0.1:$BROKER_PORT" \
    --product lamp --trust "${OTTO_SIGN_KEY%.pem}.pub.pem" --creds "$E2E_DIR/creds" -v \
    >"$E2E_DIR/fleet.out" 2>>"$E2E_DIR/fleet.log" &
FLEET=$!
E2E_PIDS+=("$FLEET")
sleep 6
full=$(grep -c "the disk is full" "$E2E_DIR/ottod.log" || true)
done_full=$("$OTTO" job show "$J" --json | jget "d['counts']['SUCCEEDED']")
echo "while full: $full commits refused, $done_full of $N devices SUCCEEDED"
check "while full, each commit either went through or was refused and said so ($full refused, $done_full SUCCEEDED)" \
    test "$full" -gt 0 -o "$done_full" = "$N"

# space returns: no restart
rm -f "$DATA/filler"
timeout 120 "$OTTO" job watch "$J" --interval 0.5 >/dev/null
st=$("$OTTO" job show "$J" --json)
check "space back: every device SUCCEEDED, without restarting ottod" test "$(echo "$st" | jget "d['counts']['SUCCEEDED']")" = $N
check "... each execution once (executionNumber 1)" \
    test "$(echo "$st" | jget "sorted(set(e['executionNumber'] for e in d['executions']))")" = "[1]"
stop_fleet
check "... and the devices run 1.1.0" test "$(awk 'NR > 1 && $2 == "1.1.0"' "$E2E_DIR/fleet.out" | wc -l)" = $N
check "uploads work again" sh -c "'$OTTO' fw upload -q '$E2E_DIR/v120.bin' | grep -q '^fw-'"
e2e_done
