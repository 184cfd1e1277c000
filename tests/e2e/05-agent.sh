#!/usr/bin/env bash
# The device agent end to end: a fleet of simulated modules (otto-sim fleet,
# the real agent over libmosquitto and libcurl) against a real Mosquitto and
# a real ottod. A full update with power cuts mid-download (they resume), a
# self-test failure (rolled back, FAILED with the reason), a wrong-chip image
# and an outdated one (REJECTED), a file corrupted on the server (MD5
# mismatch: FAILED, slot not switched), an anti-rollback downgrade refused,
# and a job canceled mid-download.
. "$(dirname "$0")/lib.sh"
e2e_init
start_secure --no-deltas # TLS, a certificate per device; full images (deltas: e2e 20)
SIM=$BUILD/otto-sim
N=8
"$OTTO" image build --version 1.0.0 --project lamp --size 200K -o "$E2E_DIR/v100.bin" >/dev/null
"$OTTO" image build --version 1.1.0 --project lamp --secure-version 1 --size 512K -o "$E2E_DIR/v110.bin" >/dev/null
"$OTTO" image build --version 1.2.0 --project lamp --secure-version 1 --size 300K --selftest fail -o "$E2E_DIR/bad.bin" >/dev/null
"$OTTO" image build --version 1.3.0 --project lamp --secure-version 1 --chip esp32s3 -o "$E2E_DIR/s3.bin" >/dev/null
"$OTTO" image build --version 1.4.0 --project lamp --secure-version 1 --size 300K -o "$E2E_DIR/v140.bin" >/dev/null
"$OTTO" image build --version 1.5.0 --project lamp --secure-version 1 --size 1M -o "$E2E_DIR/v150.bin" >/dev/null
"$OTTO" image build --version 1.6.0 --project lamp --secure-version 1 --size 200K -o "$E2E_DIR/v160.bin" >/dev/null
"$OTTO" image build --version 1.7.0 --project lamp --secure-version 0 --size 200K -o "$E2E_DIR/v170.bin" >/dev/null
up() { "$OTTO" fw upload -q "$1"; }
F110=$(up "$E2E_DIR/v110.bin"); FBAD=$(up "$E2E_DIR/bad.bin"); FS3=$(up "$E2E_DIR/s3.bin")
F140=$(up "$E2E_DIR/v140.bin"); F150=$(up "$E2E_DIR/v150.bin"); F160=$(up "$E2E_DIR/v160.bin")
F100=$("$OTTO" fw upload -q "$E2E_DIR/v100.bin")

fleet() { fleet_bg 24:0a:c4:05 "$E2E_DIR/v100.bin" --checkpoint 16K "$@"; }
job() { "$OTTO" job create --group g5 --fw "$1" -q; }
watch() { timeout 90 "$OTTO" job watch "$1" --interval 0.2 >/dev/null; }
count() { "$OTTO" job show "$1" --json | jget "d['counts']['$2']"; }
reasons() { "$OTTO" job show "$1" --json | jget "','.join(sorted(set(e['statusDetails'].get('reason', '') for e in d['executions'])))"; }

fleet --cuts 4 --seed 3
"$OTTO" device add $(cat "$E2E_DIR/things") --group g5 --product lamp >/dev/null
J=$(job "$F110")
watch "$J"; rc=$?
check "update with 4 power cuts: every device SUCCEEDED" test "$rc.$(count "$J" SUCCEEDED)" = "0.$N"
check "the cut devices resumed (statusDetails.resumes)" \
    test "$("$OTTO" job show "$J" --json | jget "sum(1 for e in d['executions'] if int(e['statusDetails'].get('resumes', '0')) > 0)")" -ge 3
check "the registry learned the new version (hello after reboot)" \
    test "$("$OTTO" device show 24:0a:c4:05:00:01 --json | jget "d['versions']['esp32']")" = 1.1.0
check "resumes started past byte 0" grep -qE "GET .* from [1-9][0-9]*$" "$E2E_DIR/fleet.log"

J=$(job "$FBAD"); watch "$J"
check "self-test failure: every device FAILED" test "$(count "$J" FAILED)" = $N
check "... with reason selftest_failed" test "$(reasons "$J")" = selftest_failed

J=$(job "$FS3"); watch "$J"
check "wrong chip: REJECTED wrong_chip" test "$(count "$J" REJECTED).$(reasons "$J")" = "$N.wrong_chip"
J=$(job "$("$OTTO" fw upload -q "$E2E_DIR/v170.bin")"); watch "$J"
check "secure_version below the eFuse: REJECTED downgrade_refused" test "$(count "$J" REJECTED).$(reasons "$J")" = "$N.downgrade_refused"
J=$(job "$F100"); watch "$J"
check "older than running: REJECTED outdated" test "$(count "$J" REJECTED).$(reasons "$J")" = "$N.outdated"

# Corrupt the stored file behind ottod's back: devices must notice.
ART=$(find "$DATA/artifacts" -name "$("$OTTO" fw show "$F140" --json | jget "d['sha256']")")
printf 'XXXX' | dd of="$ART" bs=1 seek=100000 conv=notrunc status=none
J=$(job "$F140"); watch "$J"
check "file changed on the server: FAILED md5_mismatch" test "$(count "$J" FAILED).$(reasons "$J")" = "$N.md5_mismatch"
stop_fleet
check "after all that, every device still runs 1.1.0" test "$(grep -c ' 1\.1\.0 ' "$E2E_DIR/fleet.out")" = $N

# Cancel in the middle of slow downloads; the next job still works.
fleet --rate 200K
J=$(job "$F150")
wait_for grep -q "GET .*$F150" "$E2E_DIR/fleet.log"
sleep 1
"$OTTO" job cancel "$J" --force >/dev/null
check "canceled mid-download: all CANCELED" test "$(count "$J" CANCELED)" = $N
J=$(job "$F160")
check "the next job runs after the cancel" sh -c "timeout 60 '$OTTO' job watch '$J' --interval 0.2 >/dev/null"
stop_fleet
check "... every device ends on 1.6.0, none ran the canceled 1.5.0" test "$(grep -c ' 1\.6\.0 ' "$E2E_DIR/fleet.out")" = $N
check "power cuts were real: the fleet counted them" \
    test "$(grep -c 'POWER CUT' "$E2E_DIR/fleet.log")" -ge 4
e2e_done
