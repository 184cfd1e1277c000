#!/usr/bin/env bash
# otto key gen / fw sign / fw verify against openssl, both ways: otto's keys
# are openssl's, otto's signatures verify with openssl, openssl's with otto;
# a changed file or another key does not verify.
set -euo pipefail
OTTO="$1"
t="$(mktemp -d)"; trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
command -v openssl >/dev/null || fail "openssl is missing (scripts/deps.sh)"

"$OTTO" key gen -o "$t/k.pem" >/dev/null
[ -f "$t/k.pub.pem" ] || fail "no public key beside the private one"
[ "$(stat -c %a "$t/k.pem")" = 600 ] || fail "the private key is not mode 0600"
openssl pkey -in "$t/k.pem" -noout -check >/dev/null 2>&1 || fail "openssl does not read the private key"
openssl pkey -pubin -in "$t/k.pub.pem" -noout -text 2>/dev/null | grep -q "prime256v1\|P-256" || fail "not a P-256 public key"
"$OTTO" key gen -o "$t/k.pem" >/dev/null 2>&1 && fail "a key was overwritten"

head -c 100000 /dev/urandom > "$t/fw.bin"
"$OTTO" fw sign "$t/fw.bin" --key "$t/k.pem" -o "$t/fw.sig" >/dev/null
openssl dgst -sha256 -verify "$t/k.pub.pem" -signature "$t/fw.sig" "$t/fw.bin" | grep -q "Verified OK" \
  || fail "openssl does not verify otto's signature"
openssl asn1parse -inform DER -in "$t/fw.sig" >/dev/null || fail "the signature is not DER"
openssl dgst -sha256 -sign "$t/k.pem" -out "$t/fw.osig" "$t/fw.bin"
"$OTTO" fw verify "$t/fw.bin" --sig "$t/fw.osig" --pub "$t/k.pub.pem" >/dev/null \
  || fail "otto does not verify openssl's signature"
"$OTTO" fw verify "$t/fw.bin" --sig "$t/fw.sig" --pub "$t/k.pub.pem" >/dev/null || fail "otto does not verify its own"

# one bit flipped (writing a fixed byte would change nothing 1 time in 256)
python3 -c "import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[5000] ^= 1; open(sys.argv[1], 'wb').write(b)" "$t/fw.bin"
if "$OTTO" fw verify "$t/fw.bin" --sig "$t/fw.sig" --pub "$t/k.pub.pem" >/dev/null 2>&1; then
  fail "a changed file verified"
fi
"$OTTO" key gen -o "$t/other.pem" >/dev/null
openssl dgst -sha256 -sign "$t/k.pem" -out "$t/fw.sig" "$t/fw.bin"
if "$OTTO" fw verify "$t/fw.bin" --sig "$t/fw.sig" --pub "$t/other.pub.pem" >/dev/null 2>&1; then
  fail "another key verified"
fi
rc=0; "$OTTO" fw verify "$t/fw.bin" --sig "$t/fw.sig" --pub "$t/other.pub.pem" >/dev/null 2>&1 || rc=$?
[ $rc = 1 ] || fail "a bad signature should exit 1, got $rc"
echo "ok: otto key gen, fw sign and fw verify interoperate with openssl"
