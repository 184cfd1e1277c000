#!/usr/bin/env bash
# kill -9 of ottod in the middle of a job: nothing the server acknowledged is
# lost, nothing is applied twice, requests sent while it was down are
# answered after it comes back (the broker keeps its session), and a job for
# 2,000 devices created just before the kill is complete afterwards.
. "$(dirname "$0")/lib.sh"
# Over TLS as deployed; mqreq plays each device with its own certificate.
e2e_init
start_secure
T1=24:0a:c4:00:00:01; T2=24:0a:c4:00:00:02; T3=24:0a:c4:00:00:03
"$OTTO" image build --version 1.1.0 --project lamp -o "$E2E_DIR/a.bin" >/dev/null
FW=$("$OTTO" fw upload -q "$E2E_DIR/a.bin")
"$OTTO" device add $T1 $T2 $T3 --group demo >/dev/null
J=$("$OTTO" job create --group demo --fw "$FW" -q)
mq $T1 start-next >/dev/null
r=$(mq $T1 "$J/update" '{"status":"IN_PROGRESS","statusDetails":{"bytes":"65536"}}')
check "T1 in progress before the crash" sh -c "echo '$r' | grep -q ^accepted"

stop_ottod -9
check "ottod killed" sh -c "! kill -0 $OTTOD_PID 2>/dev/null"
# While it is down, T2 asks to start; the reply comes once ottod is back.
MQ_WAIT=20 mq $T2 start-next '{"clientToken":"while-down"}' >"$E2E_DIR/t2.txt" &
ASK=$!
sleep 1
start_ottod
wait $ASK; rc=$?
check "request sent while ottod was down is answered after restart" test $rc -eq 0
check "... with its client token" grep -q '"clientToken":"while-down"' "$E2E_DIR/t2.txt"

show() { "$OTTO" job show "$J" --json; }
check "still 3 executions, none duplicated" test "$(show | jget "len(d['executions'])")" = 3
check "T1 still IN_PROGRESS at version 3 with its details" \
    test "$(show | jget "[' '.join(map(str, (e['status'], e['versionNumber'], e['statusDetails']['bytes']))) for e in d['executions'] if e['thingName']=='$T1'][0]")" = 'IN_PROGRESS 3 65536'
check "T2 IN_PROGRESS" test "$(show | jget "[e['status'] for e in d['executions'] if e['thingName']=='$T2'][0]")" = IN_PROGRESS
check "T3 QUEUED" test "$(show | jget "[e['status'] for e in d['executions'] if e['thingName']=='$T3'][0]")" = QUEUED
r=$(mq $T1 "$J/update" '{"status":"SUCCEEDED","expectedVersion":3}')
check "T1 finishes with the version it knew" sh -c "echo '$r' | grep -q ^accepted"
# A device that did not see its reply sends the same update again.
r=$(mq $T1 "$J/update" '{"status":"SUCCEEDED"}')
check "a repeated SUCCEEDED is refused, not applied twice" sh -c "echo '$r' | grep -q InvalidStateTransition"
check "T1 version 4 exactly" test "$(show | jget "[e['versionNumber'] for e in d['executions'] if e['thingName']=='$T1'][0]")" = 4

# A big job acknowledged just before the crash is all there afterwards.
python3 -c 'import json; print(json.dumps({"devices": [{"thing": "aa:bb:cc:%02x:%02x:%02x" % (i >> 16, (i >> 8) & 255, i & 255), "groups": ["big"]} for i in range(2000)]}))' >"$E2E_DIR/big.json"
curl -sf -H "Authorization: Bearer $OTTO_TOKEN" -d @"$E2E_DIR/big.json" "$OTTO_URL/api/v1/devices" >/dev/null
JB=$("$OTTO" job create --group big --fw "$FW" -q)
stop_ottod -9
start_ottod
check "2000 executions after the crash" test "$("$OTTO" job show "$JB" --json | jget "d['counts']['QUEUED']")" = 2000
if [ "${OTTO_DB:-}" = pg ]; then # PostgreSQL's own check of the tables' indexes (amcheck)
    store_q "CREATE EXTENSION IF NOT EXISTS amcheck" >/dev/null
    check "the store is intact (amcheck over every index)" test "$(store_q "SELECT count(*) FROM (SELECT bt_index_check(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam WHERE n.nspname = 'public' AND a.amname = 'btree') x")" -gt 5
else
    check "the store is intact (integrity_check)" test "$(store_q 'pragma integrity_check')" = ok
fi
e2e_done
