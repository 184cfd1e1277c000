#!/usr/bin/env bash
# Recalling a release that confirmed itself: the fleet took 1.1.0
# (secure_version 1, the anti-rollback eFuse raised); sending 1.0.0 again
# is refused by the devices (outdated). otto fw recall takes 1.0.0's build,
# makes it 1.1.1 with secure_version 1, signs and uploads it and creates a
# job for every device that runs 1.1.0: each ends on 1.0.0's code, as
# 1.1.1, SUCCEEDED.
. "$(dirname "$0")/lib.sh"
e2e_init
start_secure
N=3
"$OTTO" image build --version 1.0.0 --project lamp --size 64K -o "$E2E_DIR/v100.bin" >/dev/null
"$OTTO" image build --version 1.1.0 --project lamp --secure-version 1 --size 64K -o "$E2E_DIR/v110.bin" >/dev/null
F100=$("$OTTO" fw upload -q "$E2E_DIR/v100.bin")
F110=$("$OTTO" fw upload -q "$E2E_DIR/v110.bin")
fleet_bg 24:0a:c4:27 "$E2E_DIR/v100.bin"
THINGS=$(cat "$E2E_DIR/things"); T1=$(echo $THINGS | cut -d' ' -f1)
"$OTTO" device add $THINGS --group g27 --product lamp >/dev/null
J=$("$OTTO" job create --group g27 --fw "$F110" -q)
timeout 120 "$OTTO" job watch "$J" --interval 0.5 >/dev/null
check "the fleet took 1.1.0 (the release to recall)" test "$("$OTTO" job show "$J" --json | jget "d['counts']['SUCCEEDED']")" = $N

# the premise: the old image cannot simply be sent again
J0=$("$OTTO" job create --device "$T1" --fw "$F100" -q)
timeout 60 "$OTTO" job watch "$J0" --interval 0.5 >/dev/null || true
check "sending 1.0.0 again: the device refuses it (REJECTED outdated)" \
    test "$("$OTTO" job show "$J0" --json | jget "d['executions'][0]['status'] + ' ' + d['executions'][0]['statusDetails'].get('reason', '')")" = "REJECTED outdated"

out=$("$OTTO" fw recall "$F110" --version 1.0.5 2>&1) && bad=0 || bad=1
check "a recall version not above 1.1.0: refused, saying why" \
    sh -c "[ $bad = 1 ] && echo \"\$1\" | grep -q 'must be above 1.1.0'" _ "$out"
out=$("$OTTO" fw recall "$F110")
echo "$out"
FR=$(echo "$out" | sed -n 1p | cut -d' ' -f1); JR=$(echo "$out" | sed -n 2p | cut -d' ' -f1)
check "otto fw recall: 1.0.0's build as 1.1.1, secure_version 1, a job for the $N devices on 1.1.0" \
    sh -c "echo \"\$1\" | grep -q \"1.0.0's build as 1.1.1 (secure_version 1)\" && echo \"\$1\" | grep -q '$N devices that run 1.1.0'" _ "$out"
check "... the new firmware is signed, like any other" \
    sh -c "'$OTTO' fw show $FR --json | grep -q sig-sha256-ecdsa"
timeout 120 "$OTTO" job watch "$JR" --interval 0.5 >/dev/null
check "every device SUCCEEDED on the recall" test "$("$OTTO" job show "$JR" --json | jget "d['counts']['SUCCEEDED']")" = $N
stop_fleet
check "... and runs 1.1.1" test "$(awk 'NR > 1 && $2 == "1.1.1"' "$E2E_DIR/fleet.out" | wc -l)" = $N
"$OTTO" fw link "$FR" --thing "$T1" -q >"$E2E_DIR/link"
curl -sf -o "$E2E_DIR/recall.bin" "$(cat "$E2E_DIR/link")"
check "... which is 1.0.0's code: every byte but the descriptor's version and the checksums" python3 - "$E2E_DIR/v100.bin" "$E2E_DIR/recall.bin" <<'PY'
import sys
a, b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
# descriptor: secure_version at 36, version at 48..80; checksum and SHA-256: the last 33 bytes
same = len(a) == len(b) and a[:36] == b[:36] and a[40:48] == b[40:48] and a[80:-33] == b[80:-33]
sys.exit(0 if same and b[48:53] == b"1.1.1" and b[36] == 1 else 1)
PY
e2e_done
