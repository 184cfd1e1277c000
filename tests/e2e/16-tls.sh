#!/usr/bin/env bash
# Secure by default, with real clients (mosquitto_pub/_sub, curl): ottod
# init sets up the CA, the broker (TLS, a certificate per client, CN as
# username and client id, an ACL per device) and HTTPS; a client without a
# certificate is refused; device A's certificate sees nothing of device B's
# jobs and cannot change them; devices with their own certificates update
# over MQTT/TLS and HTTPS downloads; a device can keep its key (CSR).
. "$(dirname "$0")/lib.sh"
e2e_init
start_secure --no-deltas   # links to full images expire (deltas: e2e 20)
check "ottod init wrote mosquitto.conf with TLS, certificates required, the CN as username and id" \
    sh -c "grep -q '^require_certificate true' '$DATA/mosquitto.conf' && grep -q '^use_identity_as_username true' '$DATA/mosquitto.conf' && grep -q '^use_username_as_clientid true' '$DATA/mosquitto.conf' && grep -q '^allow_anonymous false' '$DATA/mosquitto.conf'"
check "... the CA key and the token readable by their owner only" \
    sh -c "[ \$(stat -c %a '$DATA/tls/ca.key') = 600 ] && [ \$(stat -c %a '$DATA/admin.token') = 600 ] && [ \$(stat -c %a '$DATA/otto.env') = 600 ]"
check "... and the server certificate names 127.0.0.1 and localhost, never 0.0.0.0" \
    sh -c "openssl x509 -in '$DATA/tls/server.crt' -noout -ext subjectAltName | grep -q 'DNS:localhost, IP Address:127.0.0.1'"
out=$("$OTTOD" init --data "$DATA" --mqtt 127.0.0.1:1 --http 127.0.0.1:2 2>&1); rc=$?
check "a second init changes nothing ($rc)" sh -c "[ $rc -ne 0 ] && echo '$out' | grep -q 'set up already'"
# The user's own CA: accepted when it can be one, refused saying why otherwise.
U=$E2E_DIR/own; mkdir -p "$U"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$U/ca.key" -subj "/CN=Own CA" \
    -days 3650 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign -out "$U/ca.pem" 2>/dev/null
openssl x509 -in "$U/ca.pem" -outform DER -out "$U/ca.der"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$U/leaf.key" -subj "/CN=leaf" \
    -days 30 -addext basicConstraints=critical,CA:FALSE -out "$U/leaf.pem" 2>/dev/null
out=$("$OTTOD" init --data "$U/d1" --mqtt 127.0.0.1:1 --http 127.0.0.1:2 --ca "$U/ca.der" --ca-key "$U/ca.key" 2>&1)
check "ottod init --ca with the user's CA (DER): the server certificate chains to it" \
    sh -c "openssl verify -CAfile '$U/ca.pem' '$U/d1/tls/server.crt' >/dev/null && openssl verify -CAfile '$U/ca.pem' '$U/d1/tls/ottod.crt' >/dev/null"
"$OTTOD" init --data "$U/d2" --mqtt 127.0.0.1:1 --http 127.0.0.1:2 --ca "$U/leaf.pem" --ca-key "$U/leaf.key" \
    >"$U/out" 2>&1; rc=$?
check "... a certificate that is not a CA: refused, saying so ($rc)" \
    sh -c "[ $rc -ne 0 ] && grep -q 'not a CA certificate' '$U/out' && [ ! -e '$U/d2/tls/ca.key' ]"
"$OTTOD" init --data "$U/d3" --mqtt 127.0.0.1:1 --http 127.0.0.1:2 --ca "$U/ca.pem" --ca-key "$U/leaf.key" \
    >"$U/out" 2>&1; rc=$?
check "... a CA with another key: refused, saying so ($rc)" \
    sh -c "[ $rc -ne 0 ] && grep -q 'private key is not this certificate' '$U/out'"

check "ottod says it runs TLS on both sides" grep -q "broker 127.0.0.1:$BROKER_PORT (TLS), https" "$E2E_DIR/ottod.log"

# HTTPS only, checked against the deployment's CA.
check "HTTPS with the CA: /healthz answers" curl -sf --cacert "$OTTO_CA" "$OTTO_URL/healthz" -o /dev/null
check "... without it the certificate is refused" sh -c "! env -u CURL_CA_BUNDLE curl -sf '$OTTO_URL/healthz' -o /dev/null 2>/dev/null"
check "... and plain HTTP gets no answer" sh -c "! curl -sf 'http://127.0.0.1:$HTTP_PORT/healthz' -o /dev/null 2>/dev/null"
check "the CLI reaches it with otto.env alone" sh -c "'$OTTO' device ls >/dev/null"

# Floods over TLS: clients that stall in the handshake, or send garbage in
# place of one, from many addresses, must not take either listener down.
python3 - "$HTTP_PORT" "$BROKER_PORT" > "$E2E_DIR/flood.txt" <<'PY' &
import socket, sys, time
held = []
for port in map(int, sys.argv[1:3]):
    for i in range(60):                      # half a TLS hello, then silence
        s = socket.socket(); s.bind(("127.0.0.%d" % (10 + i % 40), 0)); s.connect(("127.0.0.1", port))
        s.sendall(b"\x16\x03\x01\x00\xa0\x01\x00\x00"); held.append(s)
    for i in range(60):                      # not TLS at all
        s = socket.socket(); s.connect(("127.0.0.1", port)); s.sendall(b"GET / HTTP/1.1\r\n\r\n" * 4); held.append(s)
print(len(held), flush=True)
time.sleep(6)                                # held while the checks below run
PY
FLOOD=$!
sleep 2
code=$(curl -s --cacert "$OTTO_CA" -o /dev/null -w '%{http_code}' --max-time 5 "$OTTO_URL/healthz")
check "HTTPS answers while $(cat "$E2E_DIR/flood.txt") half-open and garbage TLS connections were held ($code)" test "$code" = 200
mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" --cafile "$OTTO_CA" --cert "$DATA/tls/ottod.crt" \
    --key "$DATA/tls/ottod.key" -i probe -t '$aws/things/none/jobs/x' -W 1 -C 1 >/dev/null 2>&1; rc=$?
check "... and the broker still takes a TLS client (exit $rc: timed out waiting, not refused)" test "$rc" = 27
check "... both checked while the flood was held" kill -0 "$FLOOD"
wait "$FLOOD"

# Operators with roles: viewers read, operators run jobs, admins manage.
VIEW=$("$OTTO" token create --name ci-viewer --role viewer 2>/dev/null)
OPER=$("$OTTO" token create --name ci-operator --role operator --expires 30d 2>/dev/null)
check "otto token create prints a token once" test "${#VIEW}" = 64
check "... and the server keeps only its hash" python3 -c "
import hashlib, sys, glob
tok, rows = sys.argv[1], sys.argv[2].split()
assert rows == [hashlib.sha256(tok.encode()).hexdigest()], rows
for f in glob.glob(sys.argv[3] + '/**', recursive=True):
    try:
        assert tok.encode() not in open(f, 'rb').read(), f
    except IsADirectoryError:
        pass
" "$VIEW" "$(store_q "select hash from tokens where name = 'ci-viewer'")" "$DATA"
code=$(curl -s --cacert "$OTTO_CA" -o /dev/null -w '%{http_code}' "$OTTO_URL/api/v1/devices")
check "no token: 401 ($code)" test "$code" = 401
code=$(curl -s --cacert "$OTTO_CA" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $VIEW" "$OTTO_URL/api/v1/devices")
check "a viewer reads devices ($code)" test "$code" = 200
out=$(OTTO_TOKEN=$VIEW "$OTTO" job create --device 24:0a:c4:16:00:01 --fw fw-none 2>&1); rc=$?
check "a viewer cannot create a job: 403, saying why ($rc)" sh -c "[ $rc -ne 0 ] && echo '$out' | grep -q 'viewer token may not'"
out=$(OTTO_TOKEN=$OPER "$OTTO" device add 24:0a:c4:16:00:77 2>&1); rc=$?
check "an operator cannot add devices ($rc)" sh -c "[ $rc -ne 0 ] && echo '$out' | grep -q 'operator token may not'"
out=$(OTTO_TOKEN=$OPER "$OTTO" token list 2>&1); rc=$?
check "... nor list tokens ($rc)" test "$rc" -ne 0
"$OTTO" token revoke ci-viewer >/dev/null
code=$(curl -s --cacert "$OTTO_CA" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $VIEW" "$OTTO_URL/api/v1/devices")
check "a revoked token: 401 ($code)" test "$code" = 401
check "the audit log names who did what: the operator's refused device add" \
    sh -c "'$OTTO' audit | grep -E 'ci-operator +403 +POST /api/v1/devices'"
check "... and the admin's token revocation" sh -c "'$OTTO' audit | grep -E 'admin +200 +POST /api/v1/tokens/ci-viewer/revoke +ci-viewer'"

# Devices A and B (live), C (registered, no agent running).
A=24:0a:c4:16:00:01; B=24:0a:c4:16:00:02; C=24:0a:c4:16:00:99
mkdir -p "$E2E_DIR/creds"
"$OTTO" device add $A $B $C --group g16 --product lamp --cert-out "$E2E_DIR/creds" >/dev/null
check "otto device add --cert-out: a key, a certificate (CN = thing) and the CA" \
    sh -c "[ \$(stat -c %a '$E2E_DIR/creds/$A.key') = 600 ] && openssl x509 -in '$E2E_DIR/creds/$A.crt' -noout -subject | grep -q 'CN = $A' && openssl verify -CAfile '$E2E_DIR/creds/ca.crt' '$E2E_DIR/creds/$A.crt' >/dev/null"
# A CSR: the device's key never leaves it.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$E2E_DIR/own.key" \
    -subj "/CN=24:0a:c4:16:00:03" -out "$E2E_DIR/own.csr" 2>/dev/null
mkdir -p "$E2E_DIR/own"
"$OTTO" device add 24:0a:c4:16:00:03 --cert-out "$E2E_DIR/own" --csr "$E2E_DIR/own.csr" >/dev/null
check "--csr: the certificate is for the device's own key, and no key is written" \
    sh -c "[ ! -e '$E2E_DIR/own/24:0a:c4:16:00:03.key' ] && [ \"\$(openssl x509 -in '$E2E_DIR/own/24:0a:c4:16:00:03.crt' -noout -pubkey)\" = \"\$(openssl pkey -in '$E2E_DIR/own.key' -pubout)\" ]"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$E2E_DIR/x.key" \
    -subj "/CN=$B" -out "$E2E_DIR/x.csr" 2>/dev/null
out=$("$OTTO" device cert 24:0a:c4:16:00:03 --cert-out "$E2E_DIR/own" --csr "$E2E_DIR/x.csr" 2>&1); rc=$?
check "a CSR naming another thing is refused ($rc)" sh -c "[ $rc -ne 0 ] && echo '$out' | grep -q 'not for'"

# Renewal before expiry keeps the device's key: a new certificate only.
cp "$E2E_DIR/creds/$C.crt" "$E2E_DIR/c-old.crt"
"$OTTO" device cert $C --cert-out "$E2E_DIR/creds" --renew >"$E2E_DIR/renew.out"
check "otto device cert --renew: a new certificate ($(cat "$E2E_DIR/renew.out"))" \
    sh -c "! cmp -s '$E2E_DIR/c-old.crt' '$E2E_DIR/creds/$C.crt' && openssl verify -CAfile '$E2E_DIR/creds/ca.crt' '$E2E_DIR/creds/$C.crt' >/dev/null"
check "... for the key the device already has" \
    sh -c "[ \"\$(openssl x509 -in '$E2E_DIR/creds/$C.crt' -noout -pubkey)\" = \"\$(openssl x509 -in '$E2E_DIR/c-old.crt' -noout -pubkey)\" ]"
"$OTTO" device cert 24:0a:c4:16:00:55 --cert-out "$E2E_DIR/creds" --renew >/dev/null 2>"$E2E_DIR/err.txt"; rc=$?
check "... and --renew without a key to renew says so ($rc)" sh -c "[ $rc -ne 0 ] && grep -q 'no key of' '$E2E_DIR/err.txt'"

# The broker: no certificate, no entry.
mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" --cafile "$OTTO_CA" -t '#' -W 2 >/dev/null 2>&1; rc=$?
check "a client without a certificate is refused ($rc)" test "$rc" -ne 0
check "... in the TLS handshake" grep -q "peer did not return a certificate" "$E2E_DIR/mosquitto.log"

# A listens to every device's job topics while B runs a job, and meddles with C's.
sub_a() { mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" --cafile "$E2E_DIR/creds/ca.crt" \
    --cert "$E2E_DIR/creds/$A.crt" --key "$E2E_DIR/creds/$A.key" "$@"; }
sub_a -t '$aws/things/+/jobs/#' -v -W 30 > "$E2E_DIR/a-sees.txt" 2>&1 &
SUBA=$!
E2E_PIDS+=("$SUBA")
"$OTTO" image build --version 1.0.0 --project lamp --size 40K -o "$E2E_DIR/v1.bin" >/dev/null
"$OTTO" image build --version 1.1.0 --project lamp --size 200K -o "$E2E_DIR/v2.bin" >/dev/null
F=$("$OTTO" fw upload -q "$E2E_DIR/v2.bin")
N=1
"$BUILD/otto-sim" device --thing "$B" --flash "$E2E_DIR/b.img" --factory "$E2E_DIR/v1.bin" \
    --mqtt "127.0.0.1:$BROKER_PORT" --product lamp --trust "${OTTO_SIGN_KEY%.pem}.pub.pem" \
    --creds "$E2E_DIR/creds" -v >"$E2E_DIR/b.out" 2>"$E2E_DIR/b.log" &
DEVB=$!
E2E_PIDS+=("$DEVB")
JB=$("$OTTO" job create --device "$B" --fw "$F" -q)
timeout 60 "$OTTO" job watch "$JB" --interval 0.2 >/dev/null; rc=$?
check "B, with its own certificate, updates over MQTT/TLS and an HTTPS download ($rc)" test "$rc" = 0
check "... its download was HTTPS" grep -q "GET https://" "$E2E_DIR/b.log"
JC=$("$OTTO" job create --device "$C" --fw "$F" -q)
"$OTTO" job create --device "$A" --fw "$F" -q >/dev/null  # A's own notification: its subscription is live
sleep 1
# (A's publishes below connect as A too, which ends the listening session: one
# connection per identity, as the CN is the client id.)
kill "$SUBA" 2>/dev/null; wait "$SUBA" 2>/dev/null
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" --cafile "$E2E_DIR/creds/ca.crt" --cert "$E2E_DIR/creds/$A.crt" \
    --key "$E2E_DIR/creds/$A.key" -q 1 -t "\$aws/things/$C/jobs/$JC/update" \
    -m '{"status":"SUCCEEDED","expectedVersion":1,"statusDetails":{"reason":"forged"}}'
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" --cafile "$E2E_DIR/creds/ca.crt" --cert "$E2E_DIR/creds/$A.crt" \
    --key "$E2E_DIR/creds/$A.key" -q 1 -i "$C" -t "\$aws/things/$C/jobs/$JC/update" \
    -m '{"status":"SUCCEEDED","expectedVersion":1}'
sleep 1
st=$("$OTTO" job show "$JC" --json | jget "d['executions'][0]['status']")
check "A publishing on C's update topic (even claiming C's client id) changes nothing: $st" test "$st" = QUEUED
check "A's subscription was live: it got its own job notification" grep -q "^\$aws/things/$A/jobs/notify-next" "$E2E_DIR/a-sees.txt"
check "A, subscribed to every device's job topics, saw none of B's traffic" sh -c "! grep -q '$B' '$E2E_DIR/a-sees.txt'"
check "... and none of C's" sh -c "! grep -q '$C' '$E2E_DIR/a-sees.txt'"
kill "$DEVB" 2>/dev/null; wait "$DEVB" 2>/dev/null

# Download links: minted for the device that asked, expiring, checked.
link=$(grep -o '"url":"[^"]*' "$E2E_DIR/a-sees.txt" | head -1 | cut -d'"' -f4)
check "the job document's link names the device, an expiry and a MAC" \
    sh -c "echo '$link' | grep -q '?thing=$A&expires=[0-9]*&sig=[0-9a-f]\{32\}$'"
code=$(curl -s --cacert "$OTTO_CA" -o /dev/null -w '%{http_code}' "$link")
check "... and serves the bytes while it lives ($code)" test "$code" = 200
get() { curl -s --cacert "$OTTO_CA" "$1" | head -c 300 | tr -c '[:print:]' ' '; curl -s --cacert "$OTTO_CA" -o /dev/null -w ' %{http_code}' "$1"; }
out=$(get "${link%%\?*}")
check "the bare firmware URL: 403, saying why ($out)" sh -c "echo '$out' | grep -q 'not signed.* 403$'"
out=$(get "${link/thing=$A/thing=$B}")
check "the link with another thing: 403 ($out)" sh -c "echo '$out' | grep -q 'altered.* 403$'"
exp=$(echo "$link" | sed 's/.*expires=\([0-9]*\).*/\1/')
out=$(get "${link/expires=$exp/expires=$((exp + 86400))}")
check "the link with a later expiry: 403 ($out)" sh -c "echo '$out' | grep -q 'altered.* 403$'"

# Links that live 3 s: a device is frozen (SIGSTOP) for 4 s right after its
# download began, so when its connection breaks later (--drops 1, at some
# fraction of the bytes) its link is stale by construction: it is refused,
# asks for the job again and resumes where it was.
stop_ottod
"$OTTOD" --data "$DATA" "${OTTOD_DB_ARGS[@]}" --no-deltas --link-ttl 3 2>>"$E2E_DIR/ottod.log" &
OTTOD_PID=$!
E2E_PIDS+=("$OTTOD_PID")
wait_for curl -sf --cacert "$OTTO_CA" "$OTTO_URL/healthz" -o /dev/null
"$OTTO" image build --version 1.2.0 --project lamp --size 600K -o "$E2E_DIR/v3.bin" >/dev/null
F3=$("$OTTO" fw upload -q "$E2E_DIR/v3.bin")
"$BUILD/otto-sim" device --thing "$B" --flash "$E2E_DIR/b.img" --mqtt "127.0.0.1:$BROKER_PORT" --product lamp \
    --trust "${OTTO_SIGN_KEY%.pem}.pub.pem" --creds "$E2E_DIR/creds" --rate 100K --drops 1 -v \
    >"$E2E_DIR/b2.out" 2>"$E2E_DIR/b2.log" &
DEVB=$!
E2E_PIDS+=("$DEVB")
JB=$("$OTTO" job create --device "$B" --fw "$F3" -q)
wait_for grep -q "GET https://.*$F3" "$E2E_DIR/b2.log"
kill -STOP "$DEVB"
sleep 4
kill -CONT "$DEVB"
timeout 90 "$OTTO" job watch "$JB" --interval 0.5 >/dev/null; rc=$?
check "a download whose link expired mid-way still completes ($rc)" test "$rc" = 0
check "... the server refused the stale link" grep -q "download answered HTTP 403" "$E2E_DIR/b2.log"
check "... and the device resumed with a fresh one, not from 0" grep -qE "GET https://.*sig=[0-9a-f]+ from [1-9]" "$E2E_DIR/b2.log"
old=$(grep -o 'GET https://[^ ]*' "$E2E_DIR/b2.log" | head -1 | cut -c5-)
out=$(get "$old")
check "that first link, now expired: 403, saying so ($out)" sh -c "echo '$out' | grep -q 'expired.* 403$'"

# Revocation: B is connected; within seconds of otto device revoke it is
# dropped, kept out, and gets no new certificate.
check "the broker loaded otto's revocation plugin" grep -q "otto: 0 revoked devices" "$E2E_DIR/mosquitto.log"
"$OTTO" device revoke "$B" >/dev/null
check "otto device revoke: the broker has the list within 3 s" \
    sh -c "for i in \$(seq 30); do grep -q 'otto: 1 revoked device' '$E2E_DIR/mosquitto.log' && exit 0; sleep 0.1; done; exit 1"
check "... and B's live connection is dropped" \
    sh -c "for i in \$(seq 30); do grep -q 'MQTT connection lost' '$E2E_DIR/b2.log' && exit 0; sleep 0.1; done; exit 1"
kill "$DEVB" 2>/dev/null; wait "$DEVB" 2>/dev/null
sub_b() { mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" --cafile "$E2E_DIR/creds/ca.crt" \
    --cert "$E2E_DIR/creds/$B.crt" --key "$E2E_DIR/creds/$B.key" "$@"; }
sub_b -t "\$aws/things/$B/jobs/#" -v -W 4 > "$E2E_DIR/b-sees.txt" 2>&1 &
SUBB=$!
sleep 1
JR=$("$OTTO" job create --device "$B" --fw "$F" -q)
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" --cafile "$E2E_DIR/creds/ca.crt" --cert "$E2E_DIR/creds/$B.crt" \
    --key "$E2E_DIR/creds/$B.key" -q 1 -t "\$aws/things/$B/jobs/$JR/update" -m '{"status":"IN_PROGRESS","expectedVersion":1}' 2>/dev/null
wait "$SUBB" 2>/dev/null
check "revoked B receives nothing, even on its own topics" sh -c "! grep -q notify '$E2E_DIR/b-sees.txt'"
st=$("$OTTO" job show "$JR" --json | jget "d['executions'][0]['status']")
check "... and what it publishes changes nothing ($st)" test "$st" = QUEUED
out=$("$OTTO" device cert "$B" --cert-out "$E2E_DIR/creds" 2>&1); rc=$?
check "... nor does it get a new certificate ($rc)" sh -c "[ $rc -ne 0 ] && echo '$out' | grep -q revoked"
kill "$DEVB" 2>/dev/null; wait "$DEVB" 2>/dev/null

# Another worker has an MQTT identity of its own (ottod init --worker).
stop_ottod
"$OTTOD" init --data "$DATA" --worker w2 >"$E2E_DIR/w2.out" 2>&1
check "ottod init --worker w2: its own certificate (CN ottod-w2)" \
    sh -c "openssl x509 -in '$DATA/tls/ottod-w2.crt' -noout -subject | grep -q 'CN *= *ottod-w2' && openssl verify -CAfile '$DATA/tls/ca.crt' '$DATA/tls/ottod-w2.crt' >/dev/null"
check "... its lines in the ACL and a config naming its certificate" \
    sh -c "grep -qx 'user ottod-w2' '$DATA/acl' && grep -q '^mqtt_cert = .*/tls/ottod-w2.crt' '$DATA/ottod-w2.conf'"
kill -HUP "$BROKER_PID"
sleep 0.5
"$OTTOD" --config "$DATA/ottod-w2.conf" "${OTTOD_DB_ARGS[@]}" 2>>"$E2E_DIR/w2.log" &
OTTOD_PID=$!
E2E_PIDS+=("$OTTOD_PID")
wait_for grep -q "mqtt: connected" "$E2E_DIR/w2.log"
check "the worker connects to the broker as ottod-w2" \
    sh -c "for i in \$(seq 30); do grep -q \"as ottod-w2 .*u'ottod-w2'\" '$E2E_DIR/mosquitto.log' && exit 0; sleep 0.1; done; exit 1"
r=$(mq "$A" get)
check "... and serves the devices' job requests" sh -c "echo '$r' | grep -q '^accepted'"
e2e_done
