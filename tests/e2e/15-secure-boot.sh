#!/usr/bin/env bash
# ESP32 Secure Boot v2 through the whole chain: ottod stores an image with
# its signature sector (and refuses bytes after an image that are not one),
# the job carries it, and a fleet whose eFuse holds the Secure Boot key
# (otto-sim fleet --secure-boot-key) installs it; an image whose block
# another key made is refused by every device (bad_signature) and each
# stays on its running image.
. "$(dirname "$0")/lib.sh"
e2e_init
start_secure             # TLS, a certificate per device
N=2
"$OTTO" key gen -o "$E2E_DIR/sb.pem" >/dev/null
"$OTTO" key gen --type rsa3072 -o "$E2E_DIR/other.pem" >/dev/null
for v in 1.0.0 1.1.0 1.2.0; do
    "$OTTO" image build --version $v --project lamp --size 40K -o "$E2E_DIR/v$v.bin" >/dev/null
done
"$OTTO" image sign --secure-boot-v2 --key "$E2E_DIR/sb.pem" "$E2E_DIR/v1.0.0.bin" -o "$E2E_DIR/f.bin" >/dev/null
"$OTTO" image sign --secure-boot-v2 --key "$E2E_DIR/sb.pem" "$E2E_DIR/v1.1.0.bin" -o "$E2E_DIR/v1.1.0.sb.bin" >/dev/null
"$OTTO" image sign --secure-boot-v2 --key "$E2E_DIR/other.pem" "$E2E_DIR/v1.2.0.bin" -o "$E2E_DIR/v1.2.0.other.bin" >/dev/null
reason() { "$OTTO" job show "$1" --json | jget "','.join(sorted(set(e['statusDetails'].get('reason', '') for e in d['executions'])))"; }

{ cat "$E2E_DIR/v1.1.0.bin"; head -c 8192 /dev/zero; } > "$E2E_DIR/garbage.bin"
out=$("$OTTO" fw upload "$E2E_DIR/garbage.bin" 2>&1); rc=$?
check "bytes after an image that are not a signature sector: refused at upload ($rc)" \
    sh -c "[ $rc -ne 0 ] && echo '$out' | grep -q 'not a Secure Boot v2 signature sector'"
F1=$("$OTTO" fw upload -q "$E2E_DIR/v1.1.0.sb.bin")
check "an image with its Secure Boot v2 sector: stored whole" \
    test "$("$OTTO" fw show "$F1" --json | jget "d['size']")" = "$(stat -c %s "$E2E_DIR/v1.1.0.sb.bin")"
F2=$("$OTTO" fw upload -q "$E2E_DIR/v1.2.0.other.bin")

fleet_bg 24:0a:c4:15:01 "$E2E_DIR/f.bin" --secure-boot-key "$E2E_DIR/sb.pub.pem"
"$OTTO" device add $(cat "$E2E_DIR/things") --group g15 --product lamp >/dev/null
J=$("$OTTO" job create --group g15 --fw "$F2" -q)
timeout 60 "$OTTO" job watch "$J" --interval 0.2 >/dev/null
check "a block made by a key not in eFuse: every device refuses it (bad_signature)" test "$(reason "$J")" = bad_signature
J=$("$OTTO" job create --group g15 --fw "$F1" -q)
timeout 60 "$OTTO" job watch "$J" --interval 0.2 >/dev/null; rc=$?
check "signed with the eFuse key: every device SUCCEEDED ($rc)" test "$rc" = 0
stop_fleet
check "... and runs 1.1.0" test "$(grep -c ' 1\.1\.0 ' "$E2E_DIR/fleet.out")" = $N
check "the devices logged in with their certificates (the CN is the broker's username) and downloaded over HTTPS" \
    sh -c "grep -q \"u'24:0a:c4:15:01:00:01'\" '$E2E_DIR/mosquitto.log' && grep -q 'GET https://' '$E2E_DIR/fleet.log'"
e2e_done
