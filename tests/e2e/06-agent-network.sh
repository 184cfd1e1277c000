#!/usr/bin/env bash
# The device agent when the world misbehaves: a device offline across three
# jobs (it installs only the newest), the broker restarted mid-update, the
# download connection dropped twice (ottod killed), and a file server that
# ignores Range while devices lose power (they start over, never splice).
. "$(dirname "$0")/lib.sh"
# Over TLS as deployed: a certificate per device, MQTT/TLS and HTTPS.
e2e_init
start_secure --no-deltas   # full-image downloads under network faults (deltas: e2e 20)
SIM=$BUILD/otto-sim
N=4
for v in 1.0.0:0 1.1.0:1 1.2.0:1 1.3.0:1 1.4.0:1 1.5.0:1 1.6.0:1; do
    "$OTTO" image build --version "${v%:*}" --project lamp --secure-version "${v#*:}" --size 768K \
        -o "$E2E_DIR/v${v%:*}.bin" >/dev/null
done
fw() { "$OTTO" fw upload -q "$E2E_DIR/v$1.bin"; }
fleet() { fleet_bg 24:0a:c4:06 "$E2E_DIR/v1.0.0.bin" --checkpoint 16K "$@"; }
watch() { timeout 120 "$OTTO" job watch "$1" --interval 0.2 >/dev/null; }
count() { "$OTTO" job show "$1" --json | jget "d['counts']['$2']"; }
things() { python3 -c "print(' '.join('24:0a:c4:06:00:%02x' % i for i in range(1, $N + 1)))"; }
"$OTTO" device add $(things) --group g6 --product lamp >/dev/null

# 1. Offline across three jobs: the older two are superseded on the server;
#    the device goes straight to the newest.
J1=$("$OTTO" job create --group g6 --fw "$(fw 1.1.0)" -q)
J2=$("$OTTO" job create --group g6 --fw "$(fw 1.2.0)" -q)
J3=$("$OTTO" job create --group g6 --fw "$(fw 1.3.0)" -q)
fleet
watch "$J3"; rc=$?
check "offline devices come up and take the newest job" test "$rc.$(count "$J3" SUCCEEDED)" = "0.$N"
check "the two older jobs were superseded (CANCELED)" test "$(count "$J1" CANCELED).$(count "$J2" CANCELED)" = "$N.$N"
check "each device downloaded one image, not three" test "$(grep -c 'GET ' "$E2E_DIR/fleet.log")" = $N

# 2. The broker restarts while devices download.
stop_fleet; fleet --rate 256K
J=$("$OTTO" job create --group g6 --fw "$(fw 1.4.0)" -q)
wait_for grep -q "GET .*$(fw 1.4.0)" "$E2E_DIR/fleet.log"
stop_broker
sleep 1.5
start_broker
watch "$J"; rc=$?
check "broker restarted mid-update: every device SUCCEEDED" test "$rc.$(count "$J" SUCCEEDED)" = "0.$N"

# 3. Every download connection breaks three times, and ottod itself is
#    killed and restarted once in the middle.
stop_fleet; fleet --rate 256K --drops 3
J=$("$OTTO" job create --group g6 --fw "$(fw 1.5.0)" -q)
wait_for grep -q "GET .*$(fw 1.5.0)" "$E2E_DIR/fleet.log"
sleep 1
stop_ottod -9
start_ottod --no-deltas
watch "$J"; rc=$?
check "connections broken 3 times, ottod killed once: every device SUCCEEDED" test "$rc.$(count "$J" SUCCEEDED)" = "0.$N"
check "... each device resumed at least 3 times" \
    test "$("$OTTO" job show "$J" --json | jget "min(int(e['statusDetails'].get('resumes', '0')) for e in d['executions'])")" -ge 3
check "... from where it was (Range requests past byte 0)" \
    test "$(grep -cE "GET .*$(fw 1.5.0)[^ ]* from [1-9]" "$E2E_DIR/fleet.log")" -ge $((3 * N))
stop_fleet

# 4. A file server that ignores Range (python's http.server answers 200,
#    over TLS with the deployment's server certificate), with power cuts
#    mid-download: devices must start over, never splice.
F=$(fw 1.6.0)
mkdir -p "$E2E_DIR/www/fw"
cp "$E2E_DIR/v1.6.0.bin" "$E2E_DIR/www/fw/$F"
WPORT=$(free_port)
python3 - "$WPORT" "$E2E_DIR/www" "$DATA/tls/server.crt" "$DATA/tls/server.key" >/dev/null 2>&1 <<'PY' &
import functools, http.server, ssl, sys
port, root, crt, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), h)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(crt, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
E2E_PIDS+=("$!")
wait_for port_open "$WPORT"
stop_ottod
start_ottod --no-deltas --public-url "https://127.0.0.1:$WPORT"
fleet --cuts $N --seed 5
J=$("$OTTO" job create --group g6 --fw "$F" -q)
watch "$J"; rc=$?
check "server without Range, power cuts: every device SUCCEEDED" test "$rc.$(count "$J" SUCCEEDED)" = "0.$N"
check "... having downloaded again from byte 0 (refetched)" \
    test "$("$OTTO" job show "$J" --json | jget "sum(1 for e in d['executions'] if int(e['statusDetails'].get('refetched', '0')) > 0)")" -ge 1
stop_fleet
check "every device ends on 1.6.0" test "$(grep -c ' 1\.6\.0 ' "$E2E_DIR/fleet.out")" = $N
e2e_done
