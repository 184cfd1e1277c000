#!/usr/bin/env bash
# otto image restamp: a real ESP-IDF build (WLED, 5 segments, from the
# delta corpus) given another version and secure_version: the device
# core's checker accepts the result, and only the descriptor's two fields,
# the checksum and the appended SHA-256 changed. An image signed for
# Secure Boot v2 (an espsecure.py fixture) loses its signature block, and
# says so.
set -euo pipefail
OTTO="$1" CORPUS="$2" FIXTURES="$3"
t="$(mktemp -d)"; trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
W="$CORPUS/wled-esp32/0.14.1.bin"
[ -f "$W" ] || { echo "skip: no $W"; exit 77; }
"$OTTO" image restamp "$W" --version 0.14.9 --secure-version 2 -o "$t/r.bin" >/dev/null || fail restamp
"$OTTO" image info "$t/r.bin" >"$t/info"
grep -q "version         0.14.9" "$t/info" && grep -q "secure_version  2" "$t/info" &&
    grep -q "check           ok: magic, segments, checksum and SHA-256 verified" "$t/info" || fail "info: $(cat "$t/info")"
python3 - "$W" "$t/r.bin" <<'PY' || fail "bytes other than the descriptor's fields and the checksums changed"
import sys
a, b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
assert len(a) == len(b)
diff = [i for i in range(len(a)) if a[i] != b[i]]
allowed = set(range(36, 40)) | set(range(48, 80)) | set(range(len(a) - 33, len(a)))
assert diff and set(diff) <= allowed, [i for i in diff if i not in allowed][:5]
PY
"$OTTO" image restamp "$W" --version 0.14.9 -o "$t/k.bin" >/dev/null
grep -q "secure_version  0" <("$OTTO" image info "$t/k.bin") || fail "without --secure-version the image's is kept"
S="$FIXTURES/secure-boot-v2/app.rsa.bin"
if [ -f "$S" ]; then
    out=$("$OTTO" image restamp "$S" --version 9.9.9 -o "$t/s.bin")
    echo "$out" | grep -q "the signature block after it was left out: sign again" || fail "SBv2: $out"
    [ "$(stat -c %s "$t/s.bin")" -lt "$(stat -c %s "$S")" ] || fail "SBv2: the block is still there"
fi
set +e; head -c 100 "$W" >"$t/short.bin"; "$OTTO" image restamp "$t/short.bin" --version 1 -o "$t/x" 2>/dev/null; rc=$?; set -e
[ $rc = 1 ] || fail "a truncated image must be refused"
echo "cli restamp: 1 passed, 0 failed"
