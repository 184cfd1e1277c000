#!/usr/bin/env bash
# Delta updates in the fleet: devices say in their hello the SHA-256 of the
# image they run; a job holds its executions while ottod makes, in the
# background, a patch from each such image it holds to the job's; a device
# whose image has one downloads the patch (statusDetails.delta_bytes), the
# others the full image. Half the fleet runs 1.0.0 (the server has it),
# half 0.9.0 (it does not). A release uploaded later has its patch from
# what the devices run made at once. The same for the MCU behind each
# module, from the MCU image the module last relayed.
. "$(dirname "$0")/lib.sh"
e2e_init
start_secure
N=3
# 1.1.0 is 1.0.0's payload with a few hundred bytes changed and 2 KiB added: a release
python3 - "$E2E_DIR" <<'PY'
import os, random, sys
d = sys.argv[1]
r = random.Random(20)
p1 = bytes(r.getrandbits(8) for _ in range(48 * 1024))
p2 = bytearray(p1)
for _ in range(300):
    p2[r.randrange(len(p2))] ^= 1 << r.randrange(8)
p2[20000:20000] = bytes(r.getrandbits(8) for _ in range(2048))
open(os.path.join(d, "p100"), "wb").write(p1)
open(os.path.join(d, "p110"), "wb").write(bytes(p2))
open(os.path.join(d, "p090"), "wb").write(bytes(r.getrandbits(8) for _ in range(40 * 1024)))
PY
"$OTTO" image build --version 1.0.0 --project lamp --payload "$E2E_DIR/p100" -o "$E2E_DIR/v100.bin" >/dev/null
"$OTTO" image build --version 0.9.0 --project lamp --payload "$E2E_DIR/p090" -o "$E2E_DIR/v090.bin" >/dev/null
"$OTTO" image build --version 1.1.0 --project lamp --secure-version 1 --payload "$E2E_DIR/p110" -o "$E2E_DIR/v110.bin" >/dev/null
F100=$("$OTTO" fw upload -q "$E2E_DIR/v100.bin")   # the base the server holds
F110=$("$OTTO" fw upload -q "$E2E_DIR/v110.bin")
size=$(stat -c %s "$E2E_DIR/v110.bin")

fleet_bg 24:0a:c4:20:a0 "$E2E_DIR/v100.bin"
A=$(tr "\n" " " <"$E2E_DIR/things"); FA=$FLEET
fleet_bg 24:0a:c4:20:b0 "$E2E_DIR/v090.bin"
B=$(tr "\n" " " <"$E2E_DIR/things")
"$OTTO" device add $A $B --group g20 --product lamp >/dev/null
# every device's hello has said what it runs
wait_for sh -c "for t in $A $B; do '$OTTO' device show \$t --json | grep -q '\"sha256\"' || exit 1; done"
check "each device's hello named its image's SHA-256" \
    test "$("$OTTO" device show "$(echo $A | cut -d' ' -f1)" --json | jget "d['images']['esp32']")" = \
    "$(sha256sum "$E2E_DIR/v100.bin" | cut -d' ' -f1)"

J=$("$OTTO" job create --group g20 --fw "$F110" -q)
timeout 120 "$OTTO" job watch "$J" --interval 0.5 >/dev/null
st=$("$OTTO" job show "$J" --json)
check "all $((2 * N)) devices SUCCEEDED" test "$(echo "$st" | jget "d['counts']['SUCCEEDED']")" = $((2 * N))
took=$(echo "$st" | jget "sorted(e['thingName'] for e in d['executions'] if 'delta_bytes' in e['statusDetails'])")
check "the devices on 1.0.0 took the patch, the ones on 0.9.0 the full image" \
    test "$took" = "$(python3 -c "import json,sys; print(json.dumps(sorted(sys.argv[1:])))" $A)"
pbytes=$(echo "$st" | jget "max(int(e['statusDetails']['delta_bytes']) for e in d['executions'] if 'delta_bytes' in e['statusDetails'])")
check "... a patch of $pbytes bytes for a $size-byte image (under a fifth)" test "$pbytes" -lt $((size / 5))
grep -q "delta d-.*: $F100 -> $F110, $pbytes bytes" "$E2E_DIR/ottod.log"
check "ottod made it in the background, once, and said so" test "$(grep -c "delta d-.*: $F100 -> $F110" "$E2E_DIR/ottod.log")" = 1
check "... the job held its devices until then" grep -q "its delta patches are made: released" "$E2E_DIR/ottod.log"
check "otto fw deltas lists it" sh -c "'$OTTO' fw deltas $F110 | grep -q \"$F100 .*$F110 .*$pbytes\""
check "otto job show says what the patches saved" \
    sh -c "'$OTTO' job show $J | grep -q '^delta: *esp32: $N devices took a patch: $((N * pbytes)) bytes instead of $((N * size))'"
metric() { curl -sf -H "Authorization: Bearer $OTTO_TOKEN" "$OTTO_URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
check "/metrics: $N images made from a patch, $((N * (size - pbytes))) bytes saved, as the devices report" \
    test "$(metric otto_deltas_taken_total).$(metric otto_delta_bytes_saved_total)" = "$N.$((N * (size - pbytes)))"
check "... and at least $N patch downloads answered" test "$(metric otto_deltas_served_total)" -ge $N
check "the whole fleet says it runs 1.1.0" \
    sh -c "for t in $A $B; do [ \"\$('$OTTO' device show \$t --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"versions\"][\"esp32\"])')\" = 1.1.0 ] || exit 1; done"

# A release uploaded once devices run 1.1.0: its patch from 1.1.0 is made
# at once, before any job, and the job that follows holds nobody.
python3 - "$E2E_DIR" <<'PY'
import os, sys
d = sys.argv[1]
p = bytearray(open(os.path.join(d, "p110"), "rb").read())
p[1000:1010] = b"1.2.0 here"
open(os.path.join(d, "p120"), "wb").write(bytes(p))
PY
"$OTTO" image build --version 1.2.0 --project lamp --secure-version 1 --payload "$E2E_DIR/p120" -o "$E2E_DIR/v120.bin" >/dev/null
F120=$("$OTTO" fw upload -q "$E2E_DIR/v120.bin")
check "uploading 1.2.0 makes its patch from 1.1.0, which the devices run, before any job" \
    wait_for grep -q "delta d-.*: $F110 -> $F120" "$E2E_DIR/ottod.log"
held=$(grep -c "its delta patches are made: released" "$E2E_DIR/ottod.log")
J2=$("$OTTO" job create --group g20 --fw "$F120" -q)
timeout 120 "$OTTO" job watch "$J2" --interval 0.5 >/dev/null
st=$("$OTTO" job show "$J2" --json)
check "... the job for it held nobody, and every device took the patch" \
    sh -c "[ $(grep -c "its delta patches are made: released" "$E2E_DIR/ottod.log") = $held ] && [ \"\$1\" = $((2 * N)) ]" _ \
    "$(echo "$st" | jget "sum(1 for e in d['executions'] if e['status'] == 'SUCCEEDED' and 'delta_bytes' in e['statusDetails'])")"

# The MCU behind each module (an emulated STM32F103 on a pseudo-terminal):
# it was programmed at the factory, so the module holds no base and takes
# the first MCU image whole; it keeps that image, relayed and verified, in
# one half of mcufw, says so in its hello, and the next MCU release comes
# as a patch from it, staged in the other half and relayed.
mcu_image 40000 "$E2E_DIR/m200.bin"
python3 - "$E2E_DIR" <<'PY'
import os, random, sys
d = sys.argv[1]
r = random.Random(21)
m = bytearray(open(os.path.join(d, "m200.bin"), "rb").read())
m[15000:15000] = bytes(r.getrandbits(8) for _ in range(1500))
for _ in range(100):
    m[16500 + r.randrange(20000)] ^= 0x20
open(os.path.join(d, "m210.bin"), "wb").write(bytes(m))
PY
mcufw() { "$OTTO" fw upload -q "$1" --ota-type stm32 --product lamp --version "$2"; }
M200=$(mcufw "$E2E_DIR/m200.bin" 2.0.0)
J=$("$OTTO" job create --group g20 --fw "$M200" -q)
timeout 120 "$OTTO" job watch "$J" --interval 0.5 >/dev/null
st=$("$OTTO" job show "$J" --json)
check "MCU 2.0.0 on factory-programmed MCUs: SUCCEEDED everywhere, the full image (no base to patch)" \
    test "$(echo "$st" | jget "sum(1 for e in d['executions'] if e['status'] == 'SUCCEEDED' and 'stm32_delta_bytes' not in e['statusDetails'])")" = $((2 * N))
msha=$(sha256sum "$E2E_DIR/m200.bin" | cut -d' ' -f1)
check "... then every module's hello names 2.0.0 as its MCU base" \
    wait_for sh -c "for t in $A $B; do [ \"\$('$OTTO' device show \$t --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"images\"].get(\"stm32\",\"\"))')\" = $msha ] || exit 1; done"
M210=$(mcufw "$E2E_DIR/m210.bin" 2.1.0)
check "uploading MCU 2.1.0 makes its patch from 2.0.0" wait_for grep -q "delta d-.*: $M200 -> $M210" "$E2E_DIR/ottod.log"
J=$("$OTTO" job create --group g20 --fw "$M210" -q)
timeout 120 "$OTTO" job watch "$J" --interval 0.5 >/dev/null
st=$("$OTTO" job show "$J" --json)
mp=$(echo "$st" | jget "max([int(e['statusDetails'].get('stm32_delta_bytes', 0)) for e in d['executions']])")
msize=$(stat -c %s "$E2E_DIR/m210.bin")
check "MCU 2.1.0: every module took the patch ($mp bytes for a $msize-byte image)" \
    test "$(echo "$st" | jget "sum(1 for e in d['executions'] if e['status'] == 'SUCCEEDED' and 'stm32_delta_bytes' in e['statusDetails'])").$((mp < msize / 4))" = "$((2 * N)).1"
n=0; for f in "$E2E_DIR"/fleet/*.mcu; do cmp -s <(head -c "$msize" "$f") "$E2E_DIR/m210.bin" && n=$((n + 1)); done
check "... and every MCU's flash holds 2.1.0" test "$n" = $((2 * N))
check "otto job show says what the MCU patches saved" \
    sh -c "'$OTTO' job show $J | grep -q '^delta: *stm32: $((2 * N)) devices took a patch: $((2 * N * mp)) bytes instead of $((2 * N * msize))'"
stop_fleet; kill "$FA"; wait "$FA" 2>/dev/null
e2e_done
