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
# a smaller flash with its own table; the default table does not fit in it
printf 'nvs,data,nvs,,0x4000\notadata,data,ota,,0x2000\nfactory,app,factory,,512K\nota_0,app,ota_0,,512K\nota_1,app,ota_1,,512K\n' > "$t/small.csv"
"$SIM" mkflash -o "$t/small.img" --factory "$t/f.bin" --flash-size 2M --csv "$t/small.csv" >/dev/null
[ "$(stat -c %s "$t/small.img")" = 2097152 ] || fail "flash size"
"$SIM" ota --flash "$t/small.img" "$t/v11.bin" > "$t/out"; expect "selected ota_0"
"$SIM" boot --flash "$t/small.img" --run > "$t/out"; expect "marked VALID"
set +e; "$SIM" mkflash -o "$t/x.img" --factory "$t/f.bin" --flash-size 2M 2> "$t/out"; rc=$?; set -e
[ $rc = 1 ] || fail "default table on 2M must fail"; expect "past the end"
echo "cli sim: 1 passed, 0 failed"
