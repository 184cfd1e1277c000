#!/usr/bin/env bash
# Signing keys on devices change only by key updates a key they already
# trust signed: a fleet provisioned with the release key learns a new key
# from a job (endorsed by the release key) together with firmware signed by
# the new one, then revokes the release key; a self-endorsed key, and
# firmware signed by a revoked key, are refused with their reasons; the
# list survives a power cycle (manufacture's --trust does not bring the old
# key back); the hello says the policy and the keys.
. "$(dirname "$0")/lib.sh"
e2e_init
start_secure             # TLS, a certificate per device; trusts this run's release key
N=2
for v in 1.0.0 1.1.0 1.2.0 1.3.0 1.4.0; do
    "$OTTO" image build --version $v --project lamp --size 40K -o "$E2E_DIR/v$v.bin" >/dev/null
done
REL="$OTTO_SIGN_KEY"
keyid() { openssl pkey -pubin -in "${1%.pem}.pub.pem" -outform DER | tail -c 65 | sha256sum | cut -c1-16; }
reason() { "$OTTO" job show "$1" --json | jget "','.join(sorted(set(e['statusDetails'].get('reason', '') for e in d['executions'])))"; }
run_job() { # run_job ARGS...: create a job for the group, wait for it to end, print its id
    local j
    j=$("$OTTO" job create --group g14 -q "$@") || return 1
    timeout 60 "$OTTO" job watch "$j" --interval 0.2 >/dev/null
    echo "$j"
}

fleet_bg 24:0a:c4:14:01 "$E2E_DIR/v1.0.0.bin"
"$OTTO" device add $(cat "$E2E_DIR/things") --group g14 --product lamp >/dev/null
wait_for grep -q "hello: .*signatures required, keys \[\"$(keyid "$REL")\"\]" "$E2E_DIR/ottod.log"
check "hello: signatures required, the release key's id" \
    grep -q "hello: .*signatures required, keys \[\"$(keyid "$REL")\"\]" "$E2E_DIR/ottod.log"

"$OTTO" key gen -o "$E2E_DIR/new.pem" >/dev/null
"$OTTO" key trust "$E2E_DIR/new.pub.pem" --name new >/dev/null
F11=$(OTTO_SIGN_KEY= "$OTTO" fw upload -q "$E2E_DIR/v1.1.0.bin" --sign "$E2E_DIR/new.pem")
J=$(run_job --fw "$F11")
check "firmware signed by a key the devices do not trust yet: bad_signature" test "$(reason "$J")" = bad_signature

# A key cannot vouch for itself.
"$OTTO" key update --add "$E2E_DIR/new.pub.pem" --key "$E2E_DIR/new.pem" -o "$E2E_DIR/self.json" >/dev/null
J=$(run_job --fw "$F11" --key-update "$E2E_DIR/self.json")
check "a key update signed by the new key itself: bad_key_update" test "$(reason "$J")" = bad_key_update

# The server refuses a key update no key it trusts signed.
"$OTTO" key gen -o "$E2E_DIR/rogue.pem" >/dev/null
"$OTTO" key update --add "$E2E_DIR/rogue.pub.pem" --key "$E2E_DIR/rogue.pem" -o "$E2E_DIR/rogue.json" >/dev/null
out=$("$OTTO" job create --group g14 --fw "$F11" --key-update "$E2E_DIR/rogue.json" 2>&1); rc=$?
check "ottod refuses a key update its keys did not sign ($rc)" sh -c "[ $rc -ne 0 ] && echo '$out' | grep -q 'not signed by a key this server trusts'"

# Rotation: the release key endorses the new one; the firmware is signed with the new one.
"$OTTO" key update --add "$E2E_DIR/new.pub.pem" --key "$REL" -o "$E2E_DIR/add.json" >/dev/null
J=$(run_job --fw "$F11" --key-update "$E2E_DIR/add.json")
check "add the new key (endorsed by the release key) + firmware it signed: updated" test "$(reason "$J")" = updated
doc=$("$OTTO" job show "$J" --json | jget "d['document']['keyUpdates'][0]['op']")
check "... the job document carries the key update" test "$doc" = add
wait_for grep -q "keys \[\"$(keyid "$REL")\",\"$(keyid "$E2E_DIR/new.pem")\"\]" "$E2E_DIR/ottod.log"
check "... and the devices' hello now lists both keys" \
    grep -q "keys \[\"$(keyid "$REL")\",\"$(keyid "$E2E_DIR/new.pem")\"\]" "$E2E_DIR/ottod.log"

# Revocation of the release key, signed by the new one.
"$OTTO" key update --revoke "$REL" --key "$E2E_DIR/new.pem" -o "$E2E_DIR/rev.json" >/dev/null
F12=$(OTTO_SIGN_KEY= "$OTTO" fw upload -q "$E2E_DIR/v1.2.0.bin" --sign "$E2E_DIR/new.pem")
J=$(run_job --fw "$F12" --key-update "$E2E_DIR/rev.json")
check "revoke the release key (signed by the new one) + 1.2.0: updated" test "$(reason "$J")" = updated
F13=$("$OTTO" fw upload -q "$E2E_DIR/v1.3.0.bin")      # signed with the release key, still trusted by ottod
J=$(run_job --fw "$F13")
check "firmware signed by the revoked release key: devices refuse it (bad_signature)" test "$(reason "$J")" = bad_signature
"$OTTO" key update --revoke "$E2E_DIR/new.pub.pem" --key "$E2E_DIR/new.pem" -o "$E2E_DIR/last.json" >/dev/null
F14=$(OTTO_SIGN_KEY= "$OTTO" fw upload -q "$E2E_DIR/v1.4.0.bin" --sign "$E2E_DIR/new.pem")
J=$(run_job --fw "$F14" --key-update "$E2E_DIR/last.json")
check "revoking a device's last key: refused (last_key)" test "$(reason "$J")" = last_key

# Power cycle: what manufacture provisioned (--trust release) does not come back.
stop_fleet
fleet_bg 24:0a:c4:14:01 "$E2E_DIR/v1.0.0.bin"
J=$(run_job --fw "$F13")
check "after a power cycle the release key is still revoked (bad_signature)" test "$(reason "$J")" = bad_signature
J=$(run_job --fw "$F14")
check "... and the new key still trusted (updated)" test "$(reason "$J")" = updated
stop_fleet
check "every device ends on 1.4.0" test "$(grep -c ' 1\.4\.0 ' "$E2E_DIR/fleet.out")" = $N

check "the devices logged in with their certificates (the CN is the broker's username) and downloaded over HTTPS" \
    sh -c "grep -q \"u'24:0a:c4:14:01:00:01'\" '$E2E_DIR/mosquitto.log' && grep -q 'GET https://' '$E2E_DIR/fleet.log'"
# The server side of a revocation: otto key revoke.
"$OTTO" key revoke release >/dev/null
out=$("$OTTO" job create --group g14 --fw "$F13" 2>&1); rc=$?
check "otto key revoke: ottod takes no new job for that key's firmware ($rc)" sh -c "[ $rc -ne 0 ]"
e2e_done
