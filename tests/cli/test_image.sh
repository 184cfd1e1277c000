#!/usr/bin/env bash
# otto image build/info: round trip, JSON, and refusal of damaged images.
set -euo pipefail
OTTO="$1"
t="$(mktemp -d)"; trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$OTTO" image build --version 1.2.0 --secure-version 1 --project demo -o "$t/a.bin" | grep -q "demo 1.2.0" || fail build
"$OTTO" image info "$t/a.bin" > "$t/info"
grep -q "version         1.2.0" "$t/info" && grep -q "secure_version  1" "$t/info" && grep -q "check           ok" "$t/info" || fail info
"$OTTO" image build --version 2.0.0 --project demo --chip esp32s3 --size 64K --selftest fail -o "$t/b.bin" >/dev/null
[ "$(stat -c %s "$t/b.bin")" = 65536 ] || fail "--size"
"$OTTO" image info --json "$t/b.bin" > "$t/j"
python3 -c "import json,sys; d=json.load(open('$t/j')); assert d['valid'] and d['chip']=='esp32s3' and d['selftest']=='fail' and d['length']==65536, d" || fail json
set +e; "$OTTO" image info --chip esp32 "$t/b.bin" >/dev/null 2>&1; rc=$?; set -e
[ $rc = 1 ] || fail "wrong chip must fail"
printf 'hello, payload' > "$t/p"
"$OTTO" image build --version 1 --project p --payload "$t/p" -o "$t/c.bin" >/dev/null
grep -q "hello, payload" "$t/c.bin" || fail payload
head -c 300 "$t/a.bin" > "$t/trunc.bin"
set +e; "$OTTO" image info "$t/trunc.bin" > "$t/o" 2>&1; rc=$?; set -e
[ $rc = 1 ] && grep -Eq "FAILED|not a valid" "$t/o" || fail truncated
cp "$t/a.bin" "$t/flip.bin"; printf '\x00' | dd of="$t/flip.bin" bs=1 seek=80 conv=notrunc 2>/dev/null
set +e; "$OTTO" image info "$t/flip.bin" > "$t/o" 2>&1; rc=$?; set -e
[ $rc = 1 ] && grep -q "verification failed" "$t/o" || fail "bit flip: $(cat "$t/o")"
set +e; "$OTTO" image build --project x -o "$t/x" 2>/dev/null; rc=$?; set -e
[ $rc = 2 ] || fail "missing --version must be a usage error"
echo "cli image: 1 passed, 0 failed"
