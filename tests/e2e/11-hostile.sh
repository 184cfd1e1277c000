#!/usr/bin/env bash
# ottod against a careless or hostile client (the server probe's defects):
# D4 a retained MQTT request is ignored, never replayed at ottod's restart;
# D5 a partial upload left by a crash is removed at start-up;
# D2 a cancel reason that would not fit is refused, not cut.
# (D2's report-keeping and D3's firmware-in-use rule: tests/unit/test_jobs.c.)
. "$(dirname "$0")/lib.sh"
e2e_init
start_broker
start_ottod
T=24:0a:c4:11:00:01
"$OTTO" image build --version 1.1.0 --project lamp -o "$E2E_DIR/a.bin" >/dev/null
"$OTTO" image build --version 1.2.0 --project lamp -o "$E2E_DIR/b.bin" >/dev/null
FA=$("$OTTO" fw upload -q "$E2E_DIR/a.bin"); FB=$("$OTTO" fw upload -q "$E2E_DIR/b.bin")
"$OTTO" device add $T --product lamp >/dev/null
status() { "$OTTO" job show "$1" --json | jget "d['executions'][0]['status']"; }

# D4: a retained start-next, then a job; ottod restarts and must not act on it.
JA=$("$OTTO" job create --device $T --fw "$FA" -q)
mosquitto_pub -p "$BROKER_PORT" -V mqttv5 -q 1 -r -t "\$aws/things/$T/jobs/start-next" -m '{}'
sleep 0.5
check "a retained start-next is not acted on" test "$(status "$JA")" = QUEUED
stop_ottod
start_ottod
sleep 1
check "... nor replayed when ottod restarts" test "$(status "$JA")" = QUEUED
check "... and said once in the log" grep -q "ignoring a retained request" "$E2E_DIR/ottod.log"
mosquitto_pub -p "$BROKER_PORT" -V mqttv5 -q 1 -r -t "\$aws/things/$T/jobs/start-next" -n
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
e2e_done
