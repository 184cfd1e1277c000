#!/usr/bin/env bash
# Signed firmware on the server: the trusted keys (otto key trust|list|
# revoke), signatures checked at upload (made by otto or by openssl), the
# signature in every job document entry as AWS carries it
# ("sig-sha256-ecdsa"), jobs refused for unsigned firmware unless the
# operator says --allow-unsigned (and the job records it), and a revoked
# key's firmware refused for new jobs.
. "$(dirname "$0")/lib.sh"
e2e_init
start_secure             # TLS, a certificate per device; trusts this run's release key
T=24:0a:c4:13:00:01
"$OTTO" device add $T --product lamp >/dev/null
for v in 1.1.0 1.2.0 1.3.0 1.4.0; do
    "$OTTO" image build --version $v --project lamp --size 64K -o "$E2E_DIR/v$v.bin" >/dev/null
done
check "the run's release key is trusted" sh -c "'$OTTO' key list | grep -q '^release  *trusted'"

F1=$("$OTTO" fw upload -q "$E2E_DIR/v1.1.0.bin")
J=$("$OTTO" job create --device $T --fw "$F1" -q)
sig=$("$OTTO" job show "$J" --json | jget "d['document']['firmware'][0].get('sig-sha256-ecdsa', '')")
check "signed at upload: the job document carries sig-sha256-ecdsa" test -n "$sig"
echo "$sig" | base64 -d > "$E2E_DIR/doc.sig"
check "... which verifies with openssl against the release key" \
    sh -c "openssl dgst -sha256 -verify '${OTTO_SIGN_KEY%.pem}.pub.pem' -signature '$E2E_DIR/doc.sig' '$E2E_DIR/v1.1.0.bin' | grep -q OK"

# A signature made by openssl is as good.
openssl dgst -sha256 -sign "$OTTO_SIGN_KEY" -out "$E2E_DIR/v2.sig" "$E2E_DIR/v1.2.0.bin"
F2=$(OTTO_SIGN_KEY= "$OTTO" fw upload -q "$E2E_DIR/v1.2.0.bin" --sig "$E2E_DIR/v2.sig")
check "a signature made by openssl is accepted" sh -c "'$OTTO' job create --device $T --fw '$F2' -q >/dev/null"

# A key the server does not trust: refused at upload.
"$OTTO" key gen -o "$E2E_DIR/rogue.pem" >/dev/null
out=$("$OTTO" fw upload "$E2E_DIR/v1.3.0.bin" --sign "$E2E_DIR/rogue.pem" 2>&1); rc=$?
check "signed by an untrusted key: refused at upload ($rc)" sh -c "[ $rc -ne 0 ] && echo '$out' | grep -q 'does not verify'"
# The right signature for other bytes: refused too.
out=$(OTTO_SIGN_KEY= "$OTTO" fw upload "$E2E_DIR/v1.3.0.bin" --sig "$E2E_DIR/v2.sig" 2>&1); rc=$?
check "a signature of other bytes: refused ($rc)" test "$rc" -ne 0

# Unsigned: stored, but no job takes it unless the operator says so.
F3=$(OTTO_SIGN_KEY= "$OTTO" fw upload -q "$E2E_DIR/v1.3.0.bin")
out=$("$OTTO" job create --device $T --fw "$F3" 2>&1); rc=$?
check "a job for unsigned firmware: refused, saying why ($rc)" sh -c "[ $rc -ne 0 ] && echo '$out' | grep -q 'not signed'"
J3=$("$OTTO" job create --device $T --fw "$F3" --allow-unsigned -q)
check "--allow-unsigned lets it through, and the job records it" \
    test "$("$OTTO" job show "$J3" --json | jget "d['targets'].get('allowUnsigned')")" = True

# Devices verify too: they trust the release key only (otto-sim --trust).
N=2
"$OTTO" image build --version 1.0.0 --project lamp --size 32K -o "$E2E_DIR/v100.bin" >/dev/null
fleet_bg 24:0a:c4:13:01 "$E2E_DIR/v100.bin"
"$OTTO" device add $(cat "$E2E_DIR/things") --group g13 --product lamp >/dev/null
reason() { "$OTTO" job show "$1" --json | jget "','.join(sorted(set(e['statusDetails'].get('reason', '') for e in d['executions'])))"; }
J=$("$OTTO" job create --group g13 --fw "$F3" --allow-unsigned -q)
timeout 60 "$OTTO" job watch "$J" --interval 0.2 >/dev/null
check "unsigned firmware let through by the server: the devices refuse it (unsigned)" test "$(reason "$J")" = unsigned
"$OTTO" key gen -o "$E2E_DIR/second.pem" >/dev/null
"$OTTO" key trust "$E2E_DIR/second.pub.pem" >/dev/null
F4=$(OTTO_SIGN_KEY= "$OTTO" fw upload -q "$E2E_DIR/v1.4.0.bin" --sign "$E2E_DIR/second.pem")
J=$("$OTTO" job create --group g13 --fw "$F4" -q)
timeout 60 "$OTTO" job watch "$J" --interval 0.2 >/dev/null
check "signed by a key the server trusts but the devices do not: refused (bad_signature)" test "$(reason "$J")" = bad_signature
J=$("$OTTO" job create --group g13 --fw "$F2" -q)
timeout 60 "$OTTO" job watch "$J" --interval 0.2 >/dev/null; rc=$?
check "signed by the key they trust: every device SUCCEEDED" test "$rc" = 0
stop_fleet
check "... and each refused image left it on its running one until then" test "$(grep -c ' 1\.2\.0 ' "$E2E_DIR/fleet.out")" = $N

check "the devices logged in with their certificates (the CN is the broker's username) and downloaded over HTTPS" \
    sh -c "grep -q \"u'24:0a:c4:13:01:00:01'\" '$E2E_DIR/mosquitto.log' && grep -q 'GET https://' '$E2E_DIR/fleet.log'"
# Revoked: its firmware is refused for new jobs, and so are its new uploads.
"$OTTO" key revoke release >/dev/null
check "otto key list shows it revoked" sh -c "'$OTTO' key list | grep -q '^release  *revoked'"
out=$("$OTTO" job create --device $T --fw "$F1" 2>&1); rc=$?
check "a revoked key's firmware: no new job ($rc)" sh -c "[ $rc -ne 0 ] && echo '$out' | grep -q 'not trusted any more'"
out=$("$OTTO" fw upload "$E2E_DIR/v1.4.0.bin" 2>&1); rc=$?
check "a revoked key's new upload: refused ($rc)" test "$rc" -ne 0
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OTTO_TOKEN" \
    -d '{"name":"bad","pem":"not a key"}' "$OTTO_URL/api/v1/keys")
check "trusting something that is not a P-256 public key: 400" test "$code" = 400
e2e_done
