#!/usr/bin/env bash
# The local A/B demo through the real binaries: factory -> v1.1.0 confirmed
# -> v1.2.0 fails its self-test and rolls back; a downgrade is refused; a
# power cut in the middle of a download leaves the running image in charge.
set -euo pipefail
OTTO="$1"; SIM="$2"
t="$(mktemp -d)"; trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect() { grep -q -- "$1" "$t/out" || { cat "$t/out"; fail "expected '$1'"; }; }

"$OTTO" image build --version 1.0.0 --project demo --size 96K -o "$t/f.bin" >/dev/null
"$OTTO" image build --version 1.1.0 --secure-version 1 --project demo --size 96K -o "$t/v11.bin" >/dev/null
"$OTTO" image build --version 1.2.0 --secure-version 1 --project demo --size 96K --selftest fail -o "$t/v12.bin" >/dev/null
"$OTTO" image build --version 0.9.0 --project demo -o "$t/old.bin" >/dev/null
"$SIM" mkflash -o "$t/dev.img" --factory "$t/f.bin" >/dev/null

"$SIM" boot --flash "$t/dev.img" --run > "$t/out"; expect "boot: factory v1.0.0"
"$SIM" ota --flash "$t/dev.img" "$t/v11.bin" > "$t/out"; expect "selected ota_0"
"$SIM" boot --flash "$t/dev.img" --run > "$t/out"; expect "ota_0 v1.1.0"; expect "marked VALID (anti-rollback eFuse now 1)"
"$SIM" ota --flash "$t/dev.img" "$t/v12.bin" > "$t/out"; expect "selected ota_1"
"$SIM" boot --flash "$t/dev.img" --run > "$t/out"; expect "self-test FAILED -> marked INVALID"; expect "boot: ota_0 v1.1.0"
set +e; "$SIM" ota --flash "$t/dev.img" "$t/old.bin" > "$t/out"; rc=$?; set -e
[ $rc = 1 ] || fail "downgrade exit code $rc"; expect "REFUSED: secure version is below"
set +e; "$SIM" ota --flash "$t/dev.img" "$t/v11.bin" --cut-at 10 --cut-mode torn > "$t/out"; rc=$?; set -e
[ $rc = 3 ] || fail "cut exit code $rc"; expect "power cut at write #10"
"$SIM" boot --flash "$t/dev.img" --run > "$t/out"; expect "boot: ota_0 v1.1.0"
[ "$(cat "$t/dev.img.efuse")" = "0x00000001" ] || fail "eFuse file"
echo "cli sim: 1 passed, 0 failed"
