#!/usr/bin/env bash
# ottod against a careless or hostile client (the server probe's defects):
# D4 a retained MQTT request is ignored, never replayed at ottod's restart;
# D5 a partial upload left by a crash is removed at start-up;
# D2 a cancel reason that would not fit is refused, not cut.
# D1 one client address holding 4,200 half-open connections (a byte a
#    second on some) does not stop /healthz or downloads for anyone else;
# D6 a client cannot forge a log line, and aborted connections are counted;
# D7 a NUL (%00, \u0000) never cuts a name; D8 invalid UTF-8 is refused;
# D10 executionNumber past INT32_MAX is refused; D11 trailing garbage too.
# (D2's report-keeping and D3's firmware-in-use rule: tests/unit/test_jobs.c.)
. "$(dirname "$0")/lib.sh"
# Over TLS as deployed: each raw MQTT client is a device with its own
# certificate; raw HTTP clients speak TLS (python's ssl) once connected.
e2e_init
start_secure
T=24:0a:c4:11:00:01
"$OTTO" image build --version 1.1.0 --project lamp -o "$E2E_DIR/a.bin" >/dev/null
"$OTTO" image build --version 1.2.0 --project lamp -o "$E2E_DIR/b.bin" >/dev/null
FA=$("$OTTO" fw upload -q "$E2E_DIR/a.bin"); FB=$("$OTTO" fw upload -q "$E2E_DIR/b.bin")
"$OTTO" device add $T --product lamp >/dev/null
status() { "$OTTO" job show "$1" --json | jget "d['executions'][0]['status']"; }

# D4: a retained start-next, then a job; ottod restarts and must not act on it.
JA=$("$OTTO" job create --device $T --fw "$FA" -q)
mosquitto_pub -p "$BROKER_PORT" $(mqtls $T) -V mqttv5 -q 1 -r -t "\$aws/things/$T/jobs/start-next" -m '{}'
sleep 0.5
check "a retained start-next is not acted on" test "$(status "$JA")" = QUEUED
stop_ottod
start_ottod
sleep 1
check "... nor replayed when ottod restarts" test "$(status "$JA")" = QUEUED
check "... and said once in the log" grep -q "ignoring a retained request" "$E2E_DIR/ottod.log"
mosquitto_pub -p "$BROKER_PORT" $(mqtls $T) -V mqttv5 -q 1 -r -t "\$aws/things/$T/jobs/start-next" -n
r=$(mq $T start-next)
check "a live start-next still works" sh -c "echo '$r' | grep -q '\"status\":\"IN_PROGRESS\"'"

# D5: what a crash mid-upload leaves in DATA/tmp is gone after a start.
stop_ottod -9
head -c 100000 /dev/urandom > "$DATA/tmp/upload-Ab12Cd"
start_ottod
check "a partial upload left by a crash is removed at start-up" test ! -e "$DATA/tmp/upload-Ab12Cd"
check "... and the log says so" grep -q "removed 1 partial upload" "$E2E_DIR/ottod.log"

# D2: an operator's cancel reason longer than the room kept for it is refused.
"$OTTO" device add 24:0a:c4:11:00:02 --product lamp >/dev/null
JB=$("$OTTO" job create --device 24:0a:c4:11:00:02 --fw "$FB" -q)
LONG=$(printf 'r%.0s' $(seq 1 300))
code=$(curl -s -o "$E2E_DIR/cancel.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $OTTO_TOKEN" \
    -d "{\"reason\":\"$LONG\"}" "$OTTO_URL/api/v1/jobs/$JB/cancel")
check "a 300-byte cancel reason: 400, not cut" test "$code" = 400
check "... the job still runs" test "$(status "$JB")" = QUEUED

api() { curl -s -o "$E2E_DIR/api.json" -w '%{http_code}' -H "Authorization: Bearer $OTTO_TOKEN" "$@"; }

# D7: %00 in a path, \u0000 in JSON.
"$OTTO" device add 24:0a:c4:11:00:07 --product lamp >/dev/null
code=$(api -X DELETE "$OTTO_URL/api/v1/devices/24:0a:c4:11:00:07%00x")
check "DELETE .../X%00x is not a DELETE of X ($code)" sh -c "[ $code != 200 ] && '$OTTO' device show 24:0a:c4:11:00:07 >/dev/null"
code=$(api -d '{"thing":"24:0a:c4:11:00:07\u0000evil","product":"other"}' "$OTTO_URL/api/v1/devices")
check "a thing name with \\u0000: 400" test "$code" = 400
check "... and the device X kept its product" \
    test "$("$OTTO" device show 24:0a:c4:11:00:07 --json | jget "d['product']")" = lamp
code=$(printf '{"thing":"t-nul"}\x00junk' | api -H 'Content-Type: application/json' --data-binary @- "$OTTO_URL/api/v1/devices")
check "a raw NUL in a body: 400" test "$code" = 400
code=$(api -o /dev/null "$(sed "s|/fw/$FA?|/fw/$FA%00?|" <<<"$("$OTTO" fw link "$FA" --thing $T)")")
check "GET /fw/{id}%00 (with {id}'s link) does not serve {id} ($code)" test "$code" = 403

# D11 and D8: exact JSON, in UTF-8.
code=$(api -d '{"thing":"t-trail"} trailing garbage' "$OTTO_URL/api/v1/devices")
check "trailing garbage after the object: 400 invalid_json" sh -c "[ $code = 400 ] && grep -q invalid_json '$E2E_DIR/api.json'"
code=$(api -d '{"thing":"t-two"}{"b":2}' "$OTTO_URL/api/v1/devices")
check "two objects: 400" test "$code" = 400
code=$(printf '{"thing":"t-utf","product":"la\xff\xfemp"}' | api --data-binary @- "$OTTO_URL/api/v1/devices")
check "invalid UTF-8: 400" test "$code" = 400
check "... none of them was registered" sh -c "! '$OTTO' device show t-trail >/dev/null 2>&1 && ! '$OTTO' device show t-two >/dev/null 2>&1 && ! '$OTTO' device show t-utf >/dev/null 2>&1"
r=$(mq $T "$JA/update" '{"status":"IN_PROGRESS"} x')
check "MQTT: trailing garbage is InvalidJson" sh -c "echo '$r' | grep -q InvalidJson"

# D8: what does not fit is refused, never cut.
code=$(api -d '{"thing":"t-prod","product":"'"$(printf 'p%.0s' $(seq 1 100))"'"}' "$OTTO_URL/api/v1/devices")
check "a product of 100 characters: 400" test "$code" = 400
code=$(api -d '{"thing":"t-prod2","product":"lamp with spaces"}' "$OTTO_URL/api/v1/devices")
check "a product with spaces: 400" test "$code" = 400
DESC=$(python3 -c 'print("é" * 200)')
code=$(api -d '{"targets":{"devices":["24:0a:c4:11:00:07"]},"firmware":["'"$FA"'"],"description":"'"$DESC"'"}' \
    "$OTTO_URL/api/v1/jobs")
check "a description of 400 bytes: 400, not cut inside a character" test "$code" = 400
G=$(python3 -c 'import json; print(json.dumps({"thing": "t-groups", "groups": ["g%d" % i for i in range(16)]}))')
code=$(api -d "$G" "$OTTO_URL/api/v1/devices")
check "a device in 16 groups: 400" test "$code" = 400
mosquitto_pub -p "$BROKER_PORT" $(mqtls 24:0a:c4:11:00:08) -V mqttv5 -q 1 -t 'otto/things/24:0a:c4:11:00:08/hello' \
    -m '{"product":"lamp","versions":{"esp32":"'"$(printf 'v%.0s' $(seq 1 40))"'"}}'
sleep 0.5
check "a hello with a 40-character version: not stored" sh -c "! '$OTTO' device show 24:0a:c4:11:00:08 >/dev/null 2>&1"
python3 - "$OTTO_URL" "$OTTO_TOKEN" > "$E2E_DIR/utf8.txt" <<'PY'
import json, sys, urllib.request
for what in ("devices", "jobs"):
    r = urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/api/v1/" + what + "?maxResults=1000",
                                                      headers={"Authorization": "Bearer " + sys.argv[2]}))
    json.loads(r.read().decode("utf-8", "strict"))
print("ok")
PY
check "the device and job lists are strict UTF-8 JSON" test "$(cat "$E2E_DIR/utf8.txt")" = ok

# D10: executionNumber is an int32.
r=$(mq $T "$JA/update" '{"status":"IN_PROGRESS","executionNumber":2147483648}')
check "executionNumber 2147483648: rejected InvalidRequest" sh -c "echo '$r' | grep -q InvalidRequest"

# D6: a newline in what a device says cannot start a log line of its own.
mosquitto_pub -p "$BROKER_PORT" $(mqtls 24:0a:c4:11:00:66) -V mqttv5 -q 1 -t 'otto/things/24:0a:c4:11:00:66/hello' \
    -m '{"product":"lamp\n2026-12-01T00:00:00.000Z ERROR store: database is corrupt (forged line)"}'
sleep 0.5
check "no forged line in the log" sh -c "! grep -q '^2026-12-01T00:00:00.000Z ERROR' '$E2E_DIR/ottod.log'"

# D9: the statuses the docs promise; an oversized body refused before it is read.
code=$(api -H 'Content-Type: application/octet-stream' --data-binary @"$E2E_DIR/a.bin" "$OTTO_URL/api/v1/firmware")
check "an upload that is not multipart: 415 ($code)" test "$code" = 415
code=$(api -H 'Content-Type: multipart/form-data' --data-binary @"$E2E_DIR/a.bin" "$OTTO_URL/api/v1/firmware")
check "multipart without a boundary: 400, not 500 ($code)" test "$code" = 400
head -c 70000 /dev/zero | tr '\0' ' ' > "$E2E_DIR/bigdesc.json"; echo '{}' >> "$E2E_DIR/bigdesc.json"
code=$(api -F "descriptor=<$E2E_DIR/bigdesc.json" -F "file=@$E2E_DIR/a.bin" "$OTTO_URL/api/v1/firmware")
check "a descriptor over 64 KiB: 413 about the descriptor" sh -c "[ $code = 413 ] && grep -q descriptor '$E2E_DIR/api.json'"
code=$(api -F 'descriptor={"product":"p","firmware":[{"ota_type":"bin","size":"352"}]}' -F "file=@$E2E_DIR/a.bin" \
    "$OTTO_URL/api/v1/firmware")
check "\"size\": \"352\" is a type error: 400 invalid ($code)" sh -c "[ $code = 400 ] && grep -q '\"invalid\"' '$E2E_DIR/api.json'"
t0=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OTTO_TOKEN" -H 'Content-Length: 200000000' \
    -H 'Content-Type: multipart/form-data; boundary=x' -X POST --data-binary @"$E2E_DIR/a.bin" -m 5 "$OTTO_URL/api/v1/firmware")
check "an upload that says it is 200 MB: 413 at once, unread ($code)" test "$code" = 413
check "... and nothing left in DATA/tmp" test -z "$(ls "$DATA/tmp")"

# Lists are paged AWS's way; otto follows the pages.
for i in $(seq 1 2500); do printf '24:0a:c4:99:%02x:%02x\n' $((i >> 8)) $((i & 255)); done | register_devices many lamp
api "$OTTO_URL/api/v1/devices?group=many" >/dev/null
check "GET /devices: a page of 100 (the default) and a nextToken" \
    test "$(jget "str(len(d['devices'])) + str('nextToken' in d)" < "$E2E_DIR/api.json")" = 100True
python3 - "$OTTO_URL" "$OTTO_TOKEN" >"$E2E_DIR/pages.txt" <<'PY'
import json, sys, urllib.parse, urllib.request
url, tok = sys.argv[1], sys.argv[2]; seen = []; token = None; pages = 0
while True:
    q = {"group": "many", "maxResults": "700"}
    if token: q["nextToken"] = token
    r = urllib.request.urlopen(urllib.request.Request(url + "/api/v1/devices?" + urllib.parse.urlencode(q),
                                                      headers={"Authorization": "Bearer " + tok}))
    d = json.load(r); pages += 1; seen += [x["thing"] for x in d["devices"]]; token = d.get("nextToken")
    if not token: break
print(pages, len(seen), len(set(seen)), seen == sorted(seen))
PY
check "following nextToken: 4 pages of up to 700, 2,500 devices, each once, in order" \
    test "$(cat "$E2E_DIR/pages.txt")" = "4 2500 2500 True"
check "otto device ls follows the pages" test "$("$OTTO" device ls --group many -q | wc -l)" = 2500
code=$(api "$OTTO_URL/api/v1/devices?maxResults=1001")
check "maxResults over 1000: 400" test "$code" = 400
NJ=$("$OTTO" job ls -q | wc -l)
api "$OTTO_URL/api/v1/jobs?maxResults=$((NJ - 1))" >/dev/null
tok=$(jget "d.get('nextToken', '')" < "$E2E_DIR/api.json")
check "GET /jobs?maxResults=$((NJ - 1)) of $NJ: that many and a nextToken" \
    test "$(jget "len(d['jobs'])" < "$E2E_DIR/api.json").$([ -n "$tok" ] && echo y)" = "$((NJ - 1)).y"
api "$OTTO_URL/api/v1/jobs?maxResults=$((NJ - 1))&nextToken=$tok" >/dev/null
check "... the next page holds the rest (1 job) and no token" \
    test "$(jget "str(len(d['jobs'])) + str('nextToken' in d)" < "$E2E_DIR/api.json")" = 1False
code=$(api "$OTTO_URL/api/v1/jobs?nextToken=zz")
check "a nextToken this server never gave: 400" test "$code" = 400

# One thing flooding its job topics is throttled and counted; the others are served.
th() { curl -s "$OTTO_URL/healthz" | jget "d['mqttThrottled']"; }
before=$(th)
seq 3000 | sed 's/.*/{"clientToken":"flood"}/' | \
    mosquitto_pub -p "$BROKER_PORT" $(mqtls 24:0a:c4:11:0f:0f) -V mqttv5 -q 1 -l -t '$aws/things/24:0a:c4:11:0f:0f/jobs/get'
t0=$(date +%s%N)
r=$(mq 24:0a:c4:11:00:07 get)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "during one thing's flood of 3,000 requests another is answered (${ms} ms)" sh -c "echo '$r' | grep -q ^accepted"
wait_for sh -c "[ \$(curl -s '$OTTO_URL/healthz' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"mqttThrottled\"])') -ge 2800 ]"
check "the flood was held to its budget: $(( $(th) - before )) of 3,000 dropped" test $(( $(th) - before )) -ge 2800
check "... and said once in the log" test "$(grep -c 'over its request budget' "$E2E_DIR/ottod.log")" = 1

# Auto-registration has a rate: 500 new names at once are not 500 rows at once.
MQBENCH=${MQBENCH:-$BUILD/mqbench}
t0=$(date +%s)
"$MQBENCH" load -p "$BROKER_PORT" $(loadgen otto-loadgen) -x reg -d 500 -m get -w 30 >/dev/null
secs=$(( $(date +%s) - t0 + 1 ))
n=$("$OTTO" device ls --json | jget "len([x for x in d if x['thing'].startswith('reg:')])")
deferred=$(curl -s "$OTTO_URL/healthz" | jget "d['registrationsDeferred']")
check "500 new things in ${secs} s: $n registered (at most 100 a second), $deferred requests of the others deferred" \
    sh -c "[ $n -le $((100 * (secs + 1))) ] && [ $deferred -gt 0 ]"

# D1: 4,200 half-open connections from one client address (127.0.0.2).
python3 - "$HTTP_PORT" >"$E2E_DIR/flood.txt" <<'PY' &
import resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
port = int(sys.argv[1]); socks = []; refused = 0
for _ in range(4200):
    try:
        s = socket.socket(); s.bind(("127.0.0.2", 0)); s.connect(("127.0.0.1", port))
        s.sendall(b"\x16\x03\x01\x00\xa0\x01\x00\x00")   # half a TLS hello, never finished
        socks.append(s)
    except OSError:
        refused += 1
time.sleep(4)
closed = 0
for s in socks:
    s.setblocking(False)
    try:
        closed += s.recv(1) == b""
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
print(len(socks), refused, closed)
PY
FLOOD=$!
sleep 2
code=$(curl -m 3 -s -o /dev/null -w '%{http_code}' "$OTTO_URL/healthz")
check "during the flood /healthz answers ($code)" test "$code" = 200
code=$(curl -m 3 -s -o /dev/null -w '%{http_code}' -H 'Range: bytes=0-99' "$("$OTTO" fw link "$FA" --thing $T)")
check "... and downloads go on ($code)" test "$code" = 206
wait $FLOOD
read -r held refused closed < "$E2E_DIR/flood.txt"
check "the flooding address was held to its limit (of $held opened, $closed closed by ottod)" \
    test "$closed" -ge $((held - 64))
check "libmicrohttpd's complaints are counted, not a line each" \
    test "$(grep -c 'http:' "$E2E_DIR/ottod.log")" -lt 10

# A deadline for request headers: a byte a second is not a request.
python3 - "$HTTP_PORT" > "$E2E_DIR/slow.txt" <<'PY'
import os, socket, ssl, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.settimeout(5)
s = ssl.create_default_context(cafile=os.environ["OTTO_CA"]).wrap_socket(s, server_hostname="127.0.0.1")
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
try:
    for ch in b"X-S: " + b"a" * 7:               # one byte a second, 12 s in all
        s.sendall(bytes([ch])); time.sleep(1)
    s.sendall(b"\r\n\r\n")
    print(s.recv(64).split(b" ")[1].decode())
except (BrokenPipeError, ConnectionResetError, socket.timeout, IndexError, ssl.SSLError):
    print("closed")
PY
r=$(cat "$E2E_DIR/slow.txt")
check "headers a byte a second: refused within the deadline ($r)" sh -c "[ '$r' = 408 ] || [ '$r' = closed ]"
codes=$(curl -s -o /dev/null -o /dev/null -w '%{http_code} ' "$OTTO_URL/healthz" "$OTTO_URL/healthz")
check "two requests on one kept-alive connection: both answered ($codes)" test "$codes" = "200 200 "

# Behind a load balancer (127.0.0.3 trusted): a client is what it forwards.
stop_ottod
start_ottod --trusted-proxy 127.0.0.3 --http-per-ip 4
python3 - "$HTTP_PORT" "$OTTO_TOKEN" > "$E2E_DIR/proxy.txt" <<'PY'
import os, socket, ssl, sys, time
port, tok = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=os.environ["OTTO_CA"])
def conn(src, xff, finish):
    s = socket.socket(); s.bind((src, 0)); s.connect(("127.0.0.1", port)); s.settimeout(3)
    s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    body = b"" if not finish else b"{}"
    s.sendall(b"POST /api/v1/devices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok.encode() +
              b"\r\nX-Forwarded-For: 203.0.113.9, " + xff.encode() + b"\r\nContent-Length: 2\r\n\r\n" + body)
    return s
def status(s):
    try:
        return s.recv(64).split(b" ")[1].decode()
    except Exception:
        return "none"
held = [conn("127.0.0.3", "10.0.0.1", False) for _ in range(4)]   # 4 requests in flight for 10.0.0.1
time.sleep(0.5)
over = status(conn("127.0.0.3", "10.0.0.1", True))                 # a fifth: over its limit
other = status(conn("127.0.0.3", "10.0.0.2", True))                # another client through the proxy
many = [conn("127.0.0.3", "10.0.1.%d" % i, False) for i in range(12)]  # 12 more held through the proxy
time.sleep(0.5)
last = status(conn("127.0.0.3", "10.0.2.1", True))                 # the proxy is not held to 4 connections
print(over, other, last)
PY
read -r over other last < "$E2E_DIR/proxy.txt"
check "through the trusted proxy, a client's fifth request at once: 429 ($over)" test "$over" = 429
check "... while another client through it is served ($other)" test "$other" = 400
check "... and the proxy itself, holding 17 connections, is served on an 18th ($last)" test "$last" = 400

# The same load balancer speaking the PROXY protocol: the client is the
# header's, for the per-client connection limit too.
stop_ottod
start_ottod --trusted-proxy 127.0.0.3 --proxy-protocol --http-per-ip 4
python3 - "$HTTP_PORT" "$OTTO_TOKEN" > "$E2E_DIR/pp.txt" <<'PY'
import os, socket, ssl, struct, sys, time
port, tok = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=os.environ["OTTO_CA"])
def v1(client):
    return ("PROXY TCP4 %s 127.0.0.1 40000 %d\r\n" % (client, port)).encode()
def v2(client):
    addrs = socket.inet_aton(client) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", 40000, port)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(addrs)) + addrs
def conn(src, header, finish):   # the PROXY header in clear, then TLS
    s = socket.socket(); s.bind((src, 0)); s.connect(("127.0.0.1", port)); s.settimeout(3)
    try:
        s.sendall(header)
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    except (OSError, ssl.SSLError):
        return None
    s.sendall(b"POST /api/v1/devices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok.encode() +
              b"\r\nContent-Length: 2\r\n\r\n" + (b"{}" if finish else b""))
    return s
def status(s):
    if s is None:
        return "closed"
    try:
        return s.recv(64).split(b" ")[1].decode()
    except Exception:
        return "closed"
held = [conn("127.0.0.3", v1("10.0.0.1"), False) for _ in range(4)]   # 10.0.0.1 holds 4 connections
time.sleep(0.5)
over = status(conn("127.0.0.3", v1("10.0.0.1"), True))    # its fifth: refused at accept
other = status(conn("127.0.0.3", v2("10.0.0.2"), True))   # another client, in a v2 header
bad = status(conn("127.0.0.3", b"PROXY TCP4 nonsense\r\n", True))
none = status(conn("127.0.0.3", b"", True))               # no header at all from the proxy
direct = status(conn("127.0.0.1", b"", True))             # a client that is not the proxy
print(over, other, bad, none, direct)
PY
read -r over other bad none direct < "$E2E_DIR/pp.txt"
check "PROXY protocol: a client's fifth connection is refused ($over)" test "$over" = closed
check "... another client named in a v2 header is served ($other)" test "$other" = 400
check "... a malformed header closes the connection ($bad)" test "$bad" = closed
check "... so does a connection from the proxy without one ($none)" test "$none" = closed
check "... a client connecting directly is served as itself ($direct)" test "$direct" = 400
refused=$(curl -s "$OTTO_URL/healthz" | jget "d['http_refused']")
check "... and /healthz counted the three refusals, for those reasons ($refused)" test "$refused" = 3
e2e_done
