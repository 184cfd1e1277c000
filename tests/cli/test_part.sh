#!/usr/bin/env bash
# otto part gen/show against an independent reference: the packing that
# ESP-IDF's generator uses ('<2sBBLL16sL' entries, EB EB + 14 x FF + MD5,
# 0xFF to 0xC00), computed here in Python from the explicit layouts.
set -euo pipefail
OTTO="$1"
t="$(mktemp -d)"; trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

ref() { # ref OUT "name type sub off size flags" ...
  python3 - "$@" <<'PY'
import hashlib, struct, sys
out = sys.argv[1]
b = b''
for row in sys.argv[2:]:
    n, ty, st, off, sz, fl = row.split()
    b += struct.pack('<2sBBLL16sL', b'\xaa\x50', int(ty, 0), int(st, 0), int(off, 0), int(sz, 0), n.encode(), int(fl, 0))
b += b'\xeb\xeb' + b'\xff' * 14 + hashlib.md5(b).digest()
b += b'\xff' * (0xC00 - len(b))
open(out, 'wb').write(b)
PY
}

# ESP-IDF's partitions_singleapp.csv (the seed's table without OTA)
cat > "$t/single.csv" <<'CSV'
# Name,   Type, SubType, Offset,  Size, Flags
# Note: if you have increased the bootloader size, make sure to update the offsets to avoid overlap
nvs,      data, nvs,     0x9000,  0x6000,
phy_init, data, phy,     0xf000,  0x1000,
factory,  app,  factory, 0x10000, 1M,
CSV
ref "$t/single.ref" "nvs 1 2 0x9000 0x6000 0" "phy_init 1 1 0xf000 0x1000 0" "factory 0 0 0x10000 0x100000 0"

# ESP-IDF's partitions_two_ota.csv (the seed's OTA table)
cat > "$t/two_ota.csv" <<'CSV'
# Name,   Type, SubType, Offset,   Size, Flags
nvs,      data, nvs,     0x9000,  0x4000,
otadata,  data, ota,     0xd000,  0x2000,
phy_init, data, phy,     0xf000,  0x1000,
factory,  app,  factory, 0x10000,  1M,
ota_0,    app,  ota_0,   0x110000, 1M,
ota_1,    app,  ota_1,   0x210000, 1M,
CSV
ref "$t/two_ota.ref" "nvs 1 2 0x9000 0x4000 0" "otadata 1 0 0xd000 0x2000 0" "phy_init 1 1 0xf000 0x1000 0" \
  "factory 0 0 0x10000 0x100000 0" "ota_0 0 0x10 0x110000 0x100000 0" "ota_1 0 0x11 0x210000 0x100000 0"

# DESIGN.md's layout, written with empty offsets (filled by the alignment rules)
cat > "$t/design.csv" <<'CSV'
nvs,      data, nvs,     ,  0x4000,
otadata,  data, ota,     ,  0x2000,
phy_init, data, phy,     ,  0x1000,
factory,  app,  factory, ,  1M,
ota_0,    app,  ota_0,   ,  1M,
ota_1,    app,  ota_1,   ,  1M,
mcufw,    data, 0x40,    ,  944K,
ottokv,   data, ottokv,  ,  16K,
CSV
ref "$t/design.ref" "nvs 1 2 0x9000 0x4000 0" "otadata 1 0 0xd000 0x2000 0" "phy_init 1 1 0xf000 0x1000 0" \
  "factory 0 0 0x10000 0x100000 0" "ota_0 0 0x10 0x110000 0x100000 0" "ota_1 0 0x11 0x210000 0x100000 0" \
  "mcufw 1 0x40 0x310000 0xec000 0" "ottokv 1 0x41 0x3fc000 0x4000 0"

for n in single two_ota design; do
  "$OTTO" part gen "$t/$n.csv" -o "$t/$n.bin" --flash-size 4MB >/dev/null
  cmp "$t/$n.bin" "$t/$n.ref" || fail "$n: bytes differ from the reference"
  "$OTTO" part show "$t/$n.bin" > "$t/$n.txt"
  grep -q "MD5 ok" "$t/$n.txt" || fail "$n: show did not check the MD5"
done
head -c 16 "$t/two_ota.bin" | od -An -tx1 | tr -s ' ' | grep -q "aa 50 01 02 00 90 00 00 00 40 00 00 6e 76 73 00" \
  || fail "two_ota: first bytes"
grep -q "^mcufw  *mcufw  *0x310000 *0xec000" <("$OTTO" part show "$t/design.bin" | sed 's/data  *//') \
  || fail "design: show output (mcufw)"
grep -q "^ottokv  *ottokv  *0x3fc000 *0x4000" <("$OTTO" part show "$t/design.bin" | sed 's/data  *//') \
  || fail "design: show output (ottokv)"
# round trip through --csv
"$OTTO" part show --csv "$t/design.bin" > "$t/rt.csv"
"$OTTO" part gen "$t/rt.csv" -o "$t/rt.bin" >/dev/null
cmp "$t/rt.bin" "$t/design.bin" || fail "csv round trip"
# --no-md5
"$OTTO" part gen "$t/two_ota.csv" -o "$t/nomd5.bin" --no-md5 >/dev/null
[ "$(head -c 194 "$t/nomd5.bin" | tail -c 2 | od -An -tx1 | tr -d ' ')" = "ffff" ] || fail "--no-md5"

# bad inputs: exit 1 and the CSV line number in the message
bad() { # bad "csv text" "expected message part"
  printf '%s\n' "$1" > "$t/bad.csv"
  set +e; "$OTTO" part gen "$t/bad.csv" -o "$t/bad.bin" 2> "$t/err"; rc=$?; set -e
  [ $rc = 1 ] || fail "expected exit 1 for: $1 (got $rc)"
  grep -q -- "$2" "$t/err" || fail "message for '$1': $(cat "$t/err")"
}
bad $'nvs, data, nvs, 0x9000, 0x6000\nfactory, app, factory, 0x10000, 1M\nota_0, app, ota_0, 0x100000, 1M' "bad.csv: line 3: partitions overlap"
bad $'# c\nfactory, app, factory, 0x18000, 1M' "line 2: partition 'factory': offset 0x18000 is not aligned to 0x10000"
bad $'nvs, data, nvs, , 0x4000\nnvs, data, phy, , 0x1000' "line 2: duplicate partition name 'nvs'"
bad $'x, data, wat, , 0x4000' "line 1: partition 'x': unknown subtype 'wat'"
bad $'x, blob, nvs, , 0x4000' "unknown type 'blob'"
rows=""; for i in $(seq 1 95); do rows+="p$i, data, fat, , 4K"$'\n'; done
bad "$rows" "95 partitions plus the MD5 entry do not fit"
set +e; "$OTTO" part gen "$t/two_ota.csv" -o "$t/x.bin" --flash-size 2MB 2>"$t/err"; rc=$?; set -e
[ $rc = 1 ] && grep -q "past the end" "$t/err" || fail "flash size check"
set +e; "$OTTO" part gen 2>/dev/null; rc=$?; set -e
[ $rc = 2 ] || fail "usage exit code"
"$OTTO" part gen --help | grep -q "usage: otto part gen" || fail "--help"
printf 'garbage' > "$t/g.bin"
set +e; "$OTTO" part show "$t/g.bin" 2>"$t/err"; rc=$?; set -e
[ $rc = 1 ] && grep -q "not a valid partition table" "$t/err" || fail "show of garbage"
echo "cli part: 1 passed, 0 failed"
