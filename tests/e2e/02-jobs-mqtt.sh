#!/usr/bin/env bash
# The AWS IoT Jobs MQTT API through a real broker, with mqreq playing the
# devices: the whole lifecycle with `otto job watch`, rejected replies, a
# notify-next-only client, an offline device with several queued jobs and
# supersede, and a job cancelled while a device is in progress.
. "$(dirname "$0")/lib.sh"
# Over TLS as deployed (ottod init): each raw client is a device with its own
# certificate, and a device has one connection at a time (its CN is its id).
e2e_init
start_secure --minute-seconds 1
T1=24:0a:c4:00:00:01; T2=24:0a:c4:00:00:02; T3=24:0a:c4:00:00:03

"$OTTO" image build --version 1.1.0 --project lamp -o "$E2E_DIR/a.bin" >/dev/null
"$OTTO" image build --version 1.2.0 --project lamp -o "$E2E_DIR/c.bin" >/dev/null
mcu_image 3000 "$E2E_DIR/mcu.bin"
FA=$("$OTTO" fw upload -q "$E2E_DIR/a.bin")
FC=$("$OTTO" fw upload -q "$E2E_DIR/c.bin")
FM=$("$OTTO" fw upload -q "$E2E_DIR/mcu.bin" --ota-type stm32 --product lamp --version 2.0.0)
"$OTTO" device add $T1 $T2 --group demo >/dev/null
"$OTTO" device add $T3 --group lab >/dev/null

# ---- lifecycle: T1 listens for notify-next, gets the document, reports
"$MQREQ" -p "$BROKER_PORT" $(thing_creds $T1) -s "\$aws/things/$T1/jobs/notify-next" -n 1 -w 10 -r "$E2E_DIR/ready" >"$E2E_DIR/notify.txt" &
LISTEN=$!
wait_for test -e "$E2E_DIR/ready" || bail "listener not ready"
J1=$("$OTTO" job create --group demo --fw "$FA" -q)
wait $LISTEN; check "notify-next arrives on job creation" test $? -eq 0
check "notify-next carries the job document" grep -q "\"jobId\":\"$J1\".*\"jobDocument\":{\"product\":\"lamp\"" "$E2E_DIR/notify.txt"
URL=$(sed 's/^[^ ]* //' "$E2E_DIR/notify.txt" | jget "d['execution']['jobDocument']['firmware'][0]['url']")
curl -sf "$URL" -o "$E2E_DIR/got.bin"
check "the document's url serves the firmware" cmp -s "$E2E_DIR/got.bin" "$E2E_DIR/a.bin"
"$OTTO" job watch "$J1" --interval 0.2 >"$E2E_DIR/watch.txt" &
WATCH=$!
r=$(mq $T1 start-next '{"clientToken":"tok-1","statusDetails":{"step":"download"},"stepTimeoutInMinutes":60}')
check "start-next accepted with the token echoed" sh -c "echo '$r' | grep -q '^accepted .*\"clientToken\":\"tok-1\"'"
check "start-next: IN_PROGRESS" test "$(echo "${r#accepted }" | jget "d['execution']['status']")" = IN_PROGRESS
r=$(mq $T1 "$J1/update" '{"status":"IN_PROGRESS","statusDetails":{"bytes":"4096"},"expectedVersion":2}')
check "progress update accepted" sh -c "echo '$r' | grep -q '^accepted'"
r=$(mq $T1 "$J1/update" '{"status":"SUCCEEDED","expectedVersion":2}')
check "stale expectedVersion: VersionMismatch with the state" sh -c "echo '$r' | grep -q '^rejected .*VersionMismatch.*executionState'"
r=$(mq $T1 "$J1/update" '{"status":"SUCCEEDED","expectedVersion":3,"statusDetails":{"version":"1.1.0"},"includeJobExecutionState":true}')
check "SUCCEEDED accepted" sh -c "echo '$r' | grep -q '^accepted .*\"status\":\"SUCCEEDED\"'"
r=$(mq $T1 "$J1/update" '{"status":"IN_PROGRESS"}')
check "after SUCCEEDED: InvalidStateTransition" sh -c "echo '$r' | grep -q InvalidStateTransition"
r=$(mq $T1 "$J1/get")
check "describe a finished execution: TerminalStateReached" sh -c "echo '$r' | grep -q TerminalStateReached"
r=$(mq $T2 "$J1/update" '{"status":"FAILED","statusDetails":{"reason":"md5 mismatch"}}')
wait $WATCH; rc=$?
check "job watch exits 4 when a device failed" test $rc -eq 4
check "job watch printed progress" grep -q "SUCCEEDED 1" "$E2E_DIR/watch.txt"
check "job COMPLETED" test "$("$OTTO" job show "$J1" --json | jget "d['status']")" = COMPLETED
check "statusDetails kept" test "$("$OTTO" job show "$J1" --json | jget "[e['statusDetails'].get('reason') for e in d['executions'] if e['thingName']=='$T2'][0]")" = "md5 mismatch"

# ---- rejected paths through the broker
r=$(mq $T1 bogus); check "InvalidTopic" sh -c "echo '$r' | grep -q '^rejected .*InvalidTopic'"
r=$(mq $T1 get 'not json'); check "InvalidJson" sh -c "echo '$r' | grep -q '^rejected .*InvalidJson'"
r=$(mq $T1 "$J1/update" '{"status":"DONE"}'); check "InvalidRequest" sh -c "echo '$r' | grep -q '^rejected .*InvalidRequest'"
r=$(mq $T1 "nosuchjob/get"); check "ResourceNotFound" sh -c "echo '$r' | grep -q '^rejected .*ResourceNotFound'"
r=$(mq $T1 get '{"clientToken":"x"}'); check "empty pending list" sh -c "echo '$r' | grep -q '\"inProgressJobs\":\[\],\"queuedJobs\":\[\]'"

# ---- a client that subscribes only to notify-next (FreeRTOS OTA style)
J2=$("$OTTO" job create --device $T3 --fw "$FA" -q)
"$MQREQ" -p "$BROKER_PORT" $(thing_creds $T3) -s "\$aws/things/$T3/jobs/notify-next" -n 1 -w 10 \
    -t "\$aws/things/$T3/jobs/\$next/get" -m '{"clientToken":"1:'$T3'"}' >"$E2E_DIR/n3.txt"
check "\$next/get answer mirrored on notify-next" grep -q "\"jobId\":\"$J2\"" "$E2E_DIR/n3.txt"

# ---- an offline device: three jobs queue up, the newer esp32 job supersedes
"$OTTO" device add 24:0a:c4:00:00:09 --group offline >/dev/null
JA=$("$OTTO" job create --group offline --fw "$FA" -q)
JB=$("$OTTO" job create --group offline --fw "$FM" -q)
JC=$("$OTTO" job create --group offline --fw "$FC" -q)
check "older esp32 job superseded (CANCELED)" test "$("$OTTO" job show "$JA" --json | jget "d['executions'][0]['status']")" = CANCELED
check "supersede reason names the new job" test "$("$OTTO" job show "$JA" --json | jget "d['executions'][0]['statusDetails']['supersededBy']")" = "$JC"
r=$(mq 24:0a:c4:00:00:09 get)
check "the device then gets stm32 and esp32 1.2.0 in creation order" \
    test "$(echo "${r#accepted }" | jget "','.join(j['jobId'] for j in d['queuedJobs'])")" = "$JB,$JC"
r=$(mq 24:0a:c4:00:00:09 start-next)
check "start-next gives the oldest first" test "$(echo "${r#accepted }" | jget "d['execution']['jobId']")" = "$JB"

# ---- cancel while a device is in progress
J4=$("$OTTO" job create --group demo --fw "$FC" -q)
mq $T1 start-next >/dev/null
"$OTTO" job cancel "$J4" -q
check "cancel: queued device CANCELED" test "$("$OTTO" job show "$J4" --json | jget "[e['status'] for e in d['executions'] if e['thingName']=='$T2'][0]")" = CANCELED
check "cancel: in-progress device keeps going" test "$("$OTTO" job show "$J4" --json | jget "[e['status'] for e in d['executions'] if e['thingName']=='$T1'][0]")" = IN_PROGRESS
J5=$("$OTTO" job create --group demo --fw "$FA" -q)
mq $T2 start-next >/dev/null
"$MQREQ" -p "$BROKER_PORT" $(thing_creds $T2) -s "\$aws/things/$T2/jobs/notify-next" -n 1 -w 10 -r "$E2E_DIR/ready5" >"$E2E_DIR/n5.txt" &
LISTEN=$!
wait_for test -e "$E2E_DIR/ready5"
"$OTTO" job cancel "$J5" --force -q
wait $LISTEN; check "cancel --force: the running device is told (notify-next)" test $? -eq 0
r=$(mq $T2 "$J5/update" '{"status":"SUCCEEDED"}')
check "cancel --force: a late SUCCEEDED is refused" sh -c "echo '$r' | grep -q InvalidStateTransition"

# ---- step timeout (a 'minute' is 1 s in this test)
J6=$("$OTTO" job create --device $T3 --fw "$FC" -q)
mq $T3 start-next '{"stepTimeoutInMinutes":1}' >/dev/null
exec_status() { "$OTTO" job show "$1" --json | jget "d['executions'][0]['status']"; }
for _ in $(seq 80); do [ "$(exec_status "$J6")" = TIMED_OUT ] && break; sleep 0.1; done
check "step timeout: TIMED_OUT" test "$(exec_status "$J6")" = TIMED_OUT
e2e_done
