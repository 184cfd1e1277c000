#!/usr/bin/env bash
# Retention: on ottod's test clock (a day every 86 ms), jobs that ended
# long ago go with their executions, old audit entries go, and firmware
# that nothing uses goes with its file; what an unfinished job, a
# template or a device's running image needs stays. A dry run removes
# nothing; the leader prunes by itself every prune_hours.
. "$(dirname "$0")/lib.sh"
e2e_init
secure_init
start_broker
SPEED=1000000 # a day of ottod's clock every 86 ms
start_ottod --clock-start 2026-01-01T00:00:00Z --clock-speed $SPEED --prune-hours 0 \
    --retain-jobs 90 --retain-audit 30 --retain-firmware 30
days() { sleep "$(python3 -c "print($1 * 86400 / $SPEED)")"; }
for v in 1.0.0 1.1.0 1.2.0 1.3.0 1.4.0 1.5.0; do
    "$OTTO" image build --version $v --project lamp --size 8K -o "$E2E_DIR/v$v.bin" >/dev/null
done
F1=$("$OTTO" fw upload -q "$E2E_DIR/v1.0.0.bin")  # a job that completes
F2=$("$OTTO" fw upload -q "$E2E_DIR/v1.1.0.bin")  # a job that is canceled
F3=$("$OTTO" fw upload -q "$E2E_DIR/v1.2.0.bin")  # a job still in progress
F4=$("$OTTO" fw upload -q "$E2E_DIR/v1.3.0.bin")  # named by a template
F5=$("$OTTO" fw upload -q "$E2E_DIR/v1.4.0.bin")  # what device C runs
F6=$("$OTTO" fw upload -q "$E2E_DIR/v1.5.0.bin")  # never used
A=24:0a:c4:26:00:01 B=24:0a:c4:26:00:02 C=24:0a:c4:26:00:03
"$OTTO" device add $A $B $C --product lamp >/dev/null
mosquitto_pub -p "$BROKER_PORT" $(mqtls $C) -V mqttv5 -q 1 -t "otto/things/$C/hello" \
    -m '{"product":"lamp","versions":{"esp32":"1.4.0"},"sha256":{"esp32":"'"$(sha256sum "$E2E_DIR/v1.4.0.bin" | cut -d' ' -f1)"'"}}'
finish() { # THING JOB: the device takes its job (once released: its patch is made first) and reports SUCCEEDED
    for _ in $(seq 50); do mq "$1" start-next '{}' | grep -q "\"jobId\":\"$2\"" && break; sleep 0.2; done
    mq "$1" "$2/update" '{"status":"SUCCEEDED","expectedVersion":2}' >/dev/null
}
J1=$("$OTTO" job create --device $A --device $B --fw "$F1" -q)
finish $A "$J1"; finish $B "$J1"
J2=$("$OTTO" job create --device $A --device $B --fw "$F2" -q)
"$OTTO" job cancel "$J2" --force >/dev/null
J3=$("$OTTO" job create --device $A --fw "$F3" -q)
"$OTTO" job template create keep --fw "$F4" >/dev/null
check "J1 COMPLETED, J2 CANCELED, J3 IN_PROGRESS" \
    test "$("$OTTO" job show $J1 --json | jget "d['status']")/$("$OTTO" job show $J2 --json | jget "d['status']")/$("$OTTO" job show $J3 --json | jget "d['status']")" = COMPLETED/CANCELED/IN_PROGRESS

days 100
out=$("$OTTO" admin prune --dry-run)
echo "$out"
check "a dry run counts the 2 ended jobs with 4 executions, the old audit entries, the unused firmware" \
    sh -c "echo \"\$1\" | grep -q '^would remove 2 jobs with 4 executions, [1-9][0-9]* audit entries, 1 firmware'" _ "$out"
check "... and removes nothing" sh -c "'$OTTO' job show $J1 >/dev/null && '$OTTO' job show $J2 >/dev/null"

out=$("$OTTO" admin prune)
echo "$out"
check "prune: 2 jobs with 4 executions, the old audit entries, 3 firmware (those jobs' and 1.5.0, never used), their 2 patches" \
    sh -c "echo \"\$1\" | grep -q '^removed 2 jobs with 4 executions, [1-9][0-9]* audit entries, 3 firmware, 2 patches'" _ "$out"
gone() { "$OTTO" job show "$1" 2>&1 | grep -q "no job '$1'"; }
check "the jobs that ended are gone" sh -c "$(declare -f gone); OTTO='$OTTO'; gone $J1 && gone $J2"
check "the job in progress stays, with its execution" \
    test "$("$OTTO" job show "$J3" --json | jget "len(d['executions'])")" = 1
left=$("$OTTO" fw ls --json | jget "sorted(f['id'] for f in d)")
check "firmware kept: the unfinished job's, the template's, the one device C runs" \
    test "$left" = "$(python3 -c "import json,sys; print(json.dumps(sorted(sys.argv[1:])))" "$F3" "$F4" "$F5")"
sha1=$(sha256sum "$E2E_DIR/v1.0.0.bin" | cut -d' ' -f1)
check "... and the removed firmware's file is gone" test ! -e "$DATA/artifacts/${sha1:0:2}/$sha1"
check "a second prune finds nothing" sh -c "'$OTTO' admin prune | grep -q '^removed 0 jobs with 0 executions, 0 audit entries, 0 firmware, 0 patches'"

# ---- on its own: the leader prunes every prune_hours
"$OTTO" job cancel "$J3" --force >/dev/null
kill "$OTTOD_PID"; wait "$OTTOD_PID" 2>/dev/null
start_ottod --clock-start 2026-07-01T00:00:00Z --clock-speed $SPEED --prune-hours 24 \
    --retain-jobs 90 --retain-audit 30 --retain-firmware 30
WAIT_S=30 wait_for grep -q "pruned: 1 jobs with 1 executions" "$E2E_DIR/ottod.log"
check "the leader pruned by itself: the canceled job went" gone "$J3"
check "... and 1.2.0 with it, once no job used it" \
    test "$("$OTTO" fw ls --json | jget "sorted(f['id'] for f in d)")" = "$(python3 -c "import json,sys; print(json.dumps(sorted(sys.argv[1:])))" "$F4" "$F5")"
e2e_done
