#!/usr/bin/env bash
# Secure Boot v2 against images ESP-IDF's espsecure.py signed (read from the
# fixtures directory, never copied here): otto verifies every one with its
# key, refuses the forged one, computes the eFuse key digests espsecure
# computes, lays out its own sector byte for byte as espsecure does (all but
# the randomized signature and the CRC over it), and a simulated device with
# those keys in eFuse installs them. Exit 77 (skipped) without the fixtures.
set -euo pipefail
OTTO="$1"; SIM="$2"; F="$3"
[ -f "$F/SHA256SUMS" ] || { echo "skipped: no Secure Boot v2 fixtures at $F"; exit 77; }
t="$(mktemp -d)"; trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
(cd "$F" && sha256sum --quiet -c SHA256SUMS) || fail "the fixtures do not match their SHA256SUMS"

for f in app.rsa.bin:rsa3072 app.ecdsa.bin:ecdsa256 app-odd.ecdsa.bin:ecdsa256 app.rsa2.bin:rsa3072 app.rsa2.bin:rsa3072-b; do
  img=${f%%:*}; key=${f##*:}
  "$OTTO" image info "$F/$img" --trust "$F/$key.pub.pem" | grep -q "VERIFIES with a trusted key" \
    || fail "$img does not verify with $key"
  "$OTTO" image info "$F/$img" --trust "$F/$key.pub.pem" >/dev/null || fail "$img: exit status"
done
if "$OTTO" image info "$F/app.rsa.bin" --trust "$F/ecdsa256.pub.pem" >/dev/null; then fail "another key verified"; fi
if "$OTTO" image info "$F/app.rsa.forged.bin" --trust "$F/rsa3072.pub.pem" >/dev/null 2>&1; then fail "forged accepted"; fi
ok "every espsecure-signed fixture verifies with its key; the forged one and a wrong key do not"

# eFuse digests: what otto burns is what espsecure digest_sbv2_public_key wrote.
"$SIM" mkflash -o "$t/d0.img" --factory "$F/app.bin" --secure-boot-key "$F/rsa3072.pub.pem" \
  --secure-boot-key "$F/ecdsa256.pub.pem" > "$t/burn.txt"
for k in rsa3072 ecdsa256; do
  want=$(od -An -v -tx1 "$F/$k.digest.bin" | tr -d ' \n')
  grep -q "$want" "$t/burn.txt" || fail "$k: eFuse digest differs from espsecure's ($want)"
done
ok "eFuse key digests equal espsecure digest_sbv2_public_key's"

# otto's sector against espsecure's, byte for byte outside the signature.
layout() { # layout OURS THEIRS SIGLO SIGHI: differing bytes only in [SIGLO, SIGHI) and the CRC of each block
  local base=$(( $(stat -c %s "$2") - 4096 ))
  { cmp -l "$1" "$2" || true; } | awk -v b="$base" -v lo="$3" -v hi="$4" '
    { o = $1 - 1; r = (o - b) % 1216; if (o < b || o - b >= 3 * 1216 || !((r >= lo && r < hi) || (r >= 1196 && r < 1200))) { print o; bad = 1; exit } }
    END { exit bad }' >/dev/null || fail "$1: layout differs from $2 outside the signature"
}
"$OTTO" image sign --secure-boot-v2 --key "$F/rsa3072.pem" "$F/app.bin" -o "$t/rsa.bin" >/dev/null
"$OTTO" image sign --secure-boot-v2 --key "$F/ecdsa256.pem" "$F/app.bin" -o "$t/ec.bin" >/dev/null
"$OTTO" image sign --secure-boot-v2 --key "$F/ecdsa256.pem" "$F/app-odd.bin" -o "$t/odd.bin" >/dev/null
"$OTTO" image sign --secure-boot-v2 --key "$F/rsa3072.pem" --key "$F/rsa3072-b.pem" "$F/app.bin" -o "$t/rsa2.bin" >/dev/null
layout "$t/rsa.bin" "$F/app.rsa.bin" 812 1196
layout "$t/ec.bin" "$F/app.ecdsa.bin" 101 165
layout "$t/odd.bin" "$F/app-odd.ecdsa.bin" 101 165
layout "$t/rsa2.bin" "$F/app.rsa2.bin" 812 1196
cmp -s "$t/rsa.bin" "$F/app.rsa.bin" && fail "the comparison compared nothing (identical RSA-PSS signatures?)"
ok "otto's sectors match espsecure's byte for byte but for the (randomized) signatures"

# A device with the fixture keys in eFuse takes espsecure's images.
"$OTTO" image sign --secure-boot-v2 --key "$F/ecdsa256.pem" "$F/app-odd.bin" -o "$t/factory.bin" >/dev/null
"$SIM" mkflash -o "$t/d.img" --factory "$t/factory.bin" --secure-boot-key "$F/rsa3072.pub.pem" \
  --secure-boot-key "$F/ecdsa256.pub.pem" >/dev/null
out=$("$SIM" ota --flash "$t/d.img" "$F/app.rsa.forged.bin" 2>&1) && fail "forged installed: $out"
"$SIM" ota --flash "$t/d.img" "$F/app.rsa.bin" | grep -q "selected ota_0" || fail "app.rsa.bin refused"
"$SIM" boot --flash "$t/d.img" --run | grep -q "v1.3.0 self-test passed" || fail "app.rsa.bin did not boot"
"$SIM" ota --flash "$t/d.img" "$F/app.ecdsa.bin" | grep -q "selected ota_1" || fail "app.ecdsa.bin refused"
ok "a device with the fixture keys in eFuse installs and boots espsecure's images, not the forged one"
