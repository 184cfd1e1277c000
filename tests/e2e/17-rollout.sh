#!/usr/bin/env bash
# Rollouts that cannot take down a fleet (AWS's jobExecutionsRolloutConfig
# and abortConfig): a job paced at its maximumPerMinute reaches the fleet at
# that rate, measured in the server's time, and an execution not released
# yet does not exist for its device (get, start-next, $next, JOB/get); a
# release whose self-test fails everywhere is aborted at 10 % failures after
# 5 executed, and the devices it had not reached never see it; kill -9 of
# ottod mid-rollout loses and repeats nothing, and the rate goes on; a
# FAILED execution is retried as a new one, a REJECTED one never; a
# continuous job reaches a device added to its group later; a paced job
# pauses and resumes; maintenance windows (cron, UTC) gate releases; a job
# waits for its startTime (SCHEDULED) and ends at its endTime; templates
# carry a job's settings. ottod runs
# with a 6-second "minute" (--minute-seconds, test-only) for rates and timers.
. "$(dirname "$0")/lib.sh"
e2e_init
MIN_S=6
start_secure --minute-seconds $MIN_S
N=40
rollout_images lamp 64K
F110=$FW_GOOD FBAD=$FW_BAD
show() { "$OTTO" job show "$1" --json; }

fleet_bg 24:0a:c4:17 "$E2E_DIR/v100.bin"
LATE=24:0a:c4:17:ff:ff   # released last (thing order), played by mqreq
"$OTTO" device add $(cat "$E2E_DIR/things") $LATE --group g17 --product lamp >/dev/null

# ---- refusals name AWS's limits
out=$("$OTTO" job create --group g17 --fw "$F110" --max-per-minute 1001 2>&1)
check "maximumPerMinute 1001: refused, naming the limit" sh -c "echo '$out' | grep -q '1 to 1000'"
out=$("$OTTO" job create --group g17 --fw "$F110" --abort-config \
    '{"criteriaList":[{"failureType":"FAILED","action":"CANCEL","thresholdPercentage":10.999,"minNumberOfExecutedThings":5}]}' 2>&1)
check "thresholdPercentage 10.999: refused, naming the limit" sh -c "echo '$out' | grep -q 'two decimals'"

# ---- pacing: 24 a minute (4 a second here) to 41 things
RATE=24
J=$("$OTTO" job create --group g17 --fw "$F110" --max-per-minute $RATE -q)
r=$(mq $LATE get)
check "a thing the rollout has not reached: its pending list is empty" \
    sh -c "echo '$r' | grep -q '\"inProgressJobs\":\[\],\"queuedJobs\":\[\]'"
r=$(mq $LATE start-next)
check "... start-next gives it nothing" sh -c "echo '$r' | grep -q '^accepted' && ! echo '$r' | grep -q '\"execution\"'"
r=$(mq $LATE "$J/get")
check "... and the execution by its id does not exist for it (ResourceNotFound)" \
    sh -c "echo '$r' | grep -q 'ResourceNotFound'"
wait_for sh -c "[ \$('$OTTO' job show $J --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"rollout\"][\"waiting\"])') = 0 ]"
check "otto job show says the rollout's state" sh -c "'$OTTO' job show $J | grep -q '^rollout: *41 released, 0 waiting'"
r=$(mq $LATE get)
check "released at last, the thing sees it" sh -c "echo '$r' | grep -q '\"jobId\":\"$J\"'"
mq $LATE "$J/update" '{"status":"SUCCEEDED"}' >/dev/null
timeout 120 "$OTTO" job watch "$J" --interval 0.5 >/dev/null
check "every device of the paced job SUCCEEDED" test "$(show "$J" | jget "d['counts']['SUCCEEDED']")" = 41
measured=$(show "$J" | python3 -c "
import json, sys
d = json.load(sys.stdin)
t = sorted(e['queuedAt'] for e in d['executions'])
print('%.1f' % ((len(t) - 1) / (t[-1] - t[0]) * $MIN_S))")
check "measured release rate $measured a minute, configured $RATE (within 10 %)" \
    python3 -c "import sys; sys.exit(0 if abs($measured - $RATE) <= 0.10 * $RATE else 1)"
echo "rollout: configured $RATE/min, measured $measured/min over 41 releases (server time, $MIN_S-second minutes)"

# ---- kill -9 of ottod mid-rollout: it goes on at its rate, nothing twice, nothing lost
"$OTTO" image build --version 1.1.1 --project lamp --secure-version 1 --size 64K -o "$E2E_DIR/v111.bin" >/dev/null
F111=$("$OTTO" fw upload -q "$E2E_DIR/v111.bin")
J3=$("$OTTO" job create --group g17 --fw "$F111" --max-per-minute $RATE -q)
wait_for sh -c "[ \$('$OTTO' job show $J3 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"rollout\"][\"released\"])') -ge 12 ]"
stop_ottod -9
before=$(store_q "select count(*) from executions e join jobs j on j.seq = e.job_seq where j.id = '$J3' and e.queued_at > 0")
sleep 2
start_ottod --minute-seconds $MIN_S
wait_for sh -c "[ \$('$OTTO' job show $J3 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"rollout\"][\"waiting\"])') = 0 ]"
mq $LATE "$J3/update" '{"status":"SUCCEEDED"}' >/dev/null
timeout 120 "$OTTO" job watch "$J3" --interval 0.5 >/dev/null
st=$(show "$J3")
check "killed after $before releases: all 41 SUCCEEDED after the restart" test "$(echo "$st" | jget "d['counts']['SUCCEEDED']")" = 41
check "... each thing exactly one execution (none released or started twice)" \
    test "$(echo "$st" | jget "len(d['executions'])").$(echo "$st" | jget "max(e['executionNumber'] for e in d['executions'])")" = 41.1
# queuedAt is in whole seconds, and the releases after the restart span
# only about 7 of them: the measured rate is given with the range that one
# second at either end allows, and the configured rate must fall in it
# (widened by 10 %).
read -r after lo hi < <(echo "$st" | python3 -c "
import json, sys
t = sorted(e['queuedAt'] for e in json.load(sys.stdin)['executions'])[$before:]
n, span = len(t) - 1, t[-1] - t[0]
print('%.1f %.1f %.1f' % (n / span * $MIN_S, n / (span + 1) * $MIN_S, n / max(span - 1, 1) * $MIN_S))")
check "... and the releases after the restart ran at $after a minute ($lo-$hi at one-second resolution; configured $RATE, within 10 %)" \
    python3 -c "import sys; sys.exit(0 if 0.9 * $lo <= $RATE <= 1.1 * $hi else 1)"

# ---- pause and resume a paced job (things with no device behind them)
"$OTTO" device add $(fleet_things 24:0a:c4:17:e0 30) --group g17p --product lamp >/dev/null
JP=$("$OTTO" job create --group g17p --fw "$F111" --max-per-minute 60 -q)
sleep 2
"$OTTO" job pause "$JP" >/dev/null
r0=$(show "$JP" | jget "d['rollout']['released']")
sleep 3
r1=$(show "$JP" | jget "d['rollout']['released']")
check "otto job pause: nothing more is released ($r0, then $r1 3 s later)" test "$r0" = "$r1"
check "... and otto job show says so" sh -c "'$OTTO' job show $JP | grep -q 'PAUSED'"
"$OTTO" job resume "$JP" >/dev/null
sleep 1.5
r2=$(show "$JP" | jget "d['rollout']['released']")
check "otto job resume: releases go on at the rate, no burst ($r1, then $r2 1.5 s later at 10 a second)" \
    sh -c "[ $r2 -gt $r1 ] && [ $r2 -le $((r1 + 18)) ]"
out=$("$OTTO" job pause "$J" 2>&1)
check "a finished job does not pause, saying why" sh -c "echo '$out' | grep -q 'only a job in progress with a rollout rate or waves'"
"$OTTO" job cancel "$JP" >/dev/null

# ---- job templates: a job's settings by name, the job's own flags win
"$OTTO" job template create paced --fw "$F111" --max-per-minute 30 --abort-config \
    '{"criteriaList":[{"failureType":"ALL","action":"CANCEL","thresholdPercentage":50,"minNumberOfExecutedThings":10}]}' >/dev/null
check "otto job template list shows it" sh -c "'$OTTO' job template list | grep -q '^paced .*maximumPerMinute.*30'"
"$OTTO" device add 24:0a:c4:17:c0:01 --group g17t >/dev/null
JT=$("$OTTO" job create --group g17t --template paced -q)
check "a job from the template carries its firmware, rollout and abort" \
    test "$(show "$JT" | jget "[d['firmware'][0], d['jobExecutionsRolloutConfig']['maximumPerMinute'], d['abortConfig']['criteriaList'][0]['failureType']]")" = "[\"$F111\", 30, \"ALL\"]"
JT2=$("$OTTO" job create --group g17t --template paced --max-per-minute 12 -q)
check "... and the job's own flags win" test "$(show "$JT2" | jget "d['jobExecutionsRolloutConfig']['maximumPerMinute']")" = 12
"$OTTO" job create --group g17t --template nosuch >/dev/null 2>"$E2E_DIR/err.txt"
check "an unknown template is refused by name" grep -q "no job template 'nosuch'" "$E2E_DIR/err.txt"
"$OTTO" job template create timed --fw "$F111" --scheduling-config '{"startTime":"2027-01-01T00:00"}' >/dev/null 2>"$E2E_DIR/err.txt"
check "a template with a startTime is refused (as AWS's)" grep -q "no startTime or endTime" "$E2E_DIR/err.txt"
"$OTTO" job cancel "$JT" >/dev/null; "$OTTO" job cancel "$JT2" >/dev/null

# ---- maintenance windows (cron, UTC): released only inside one
W1=24:0a:c4:17:d0:01; W2=24:0a:c4:17:d0:02
"$OTTO" device add $W1 --group g17w1 >/dev/null
"$OTTO" device add $W2 --group g17w2 >/dev/null
t2=$(date -u -d '+2 hours' +%s)
later=$(date -u -d "@$t2" '+%M %H'); before=$(date -u -d '-1 minute' '+%M %H')
JW1=$("$OTTO" job create --group g17w1 --fw "$F111" -q --scheduling-config \
    "{\"maintenanceWindows\":[{\"startTime\":\"cron($later ? * * *)\",\"durationInMinutes\":1}]}")
JW2=$("$OTTO" job create --group g17w2 --fw "$F111" -q --scheduling-config \
    "{\"maintenanceWindows\":[{\"startTime\":\"cron($before ? * * *)\",\"durationInMinutes\":5}]}")
sleep 2.5
r1=$(mq $W1 get); r2=$(mq $W2 get)
check "a window two hours ahead: the job does not exist for the device yet" sh -c "! echo '$r1' | grep -q '$JW1'"
check "... otto job show says the window is closed" sh -c "'$OTTO' job show $JW1 | grep -q 'maintenance window closed'"
opens=$(date -u -d "@$t2" '+%Y-%m-%dT%H:%MZ')
check "... and when the next one opens ($opens)" \
    sh -c "'$OTTO' job show $JW1 | grep -q '^next: *releases go on when the next maintenance window opens, at $opens'"
check "a window open now (from a minute ago, 5 minutes): released at once" sh -c "echo '$r2' | grep -q '\"jobId\":\"$JW2\"'"
"$OTTO" job create --group g17w1 --fw "$F111" --scheduling-config \
    '{"maintenanceWindows":[{"startTime":"cron(0 2 * * SAT *)","durationInMinutes":60}]}' >/dev/null 2>"$E2E_DIR/err.txt"
check "a cron with a day of month and a day of week: refused as AWS does" grep -q "is ?, the other not" "$E2E_DIR/err.txt"
"$OTTO" job cancel "$JW1" >/dev/null; "$OTTO" job cancel "$JW2" >/dev/null

# ---- abort: the release fails its self-test on every device
J2=$("$OTTO" job create --group g17 --fw "$FBAD" --max-per-minute 30 --abort-config \
    '{"criteriaList":[{"failureType":"FAILED","action":"CANCEL","thresholdPercentage":10,"minNumberOfExecutedThings":5}]}' -q)
wait_for sh -c "'$OTTO' job show $J2 --json | grep -q '\"status\":[[:space:]]*\"CANCELED\"'"
sleep 3   # what was in flight ends
st=$(show "$J2")
reason=$(echo "$st" | jget "d['reason']")
check "the job aborted itself, saying why ($reason)" sh -c "echo '$reason' | grep -q '^aborted: FAILED 100.00% of [5-9] executed (threshold 10.00% after 5)'"
failed=$(echo "$st" | jget "d['counts']['FAILED']")
started=$(echo "$st" | jget "sum(1 for e in d['executions'] if e.get('startedAt'))")
canceled=$(echo "$st" | jget "d['counts']['CANCELED']")
check "only the in-flight devices beyond the threshold got it ($started started, $failed failed, abort at 5)" \
    sh -c "[ $started -le 12 ] && [ $failed -ge 5 ]"
check "every other device's execution CANCELED without starting ($canceled)" test "$((canceled + started))" = 41
echo "abort: $started of 41 devices got the failing release, $failed failed, overshoot $((started - 5)) beyond the 5 the criterion needed"

# ---- retries: FAILED once more as a new execution; REJECTED never
R1=24:0a:c4:17:00:01; R2=24:0a:c4:17:00:02
"$OTTO" device add $R1 $R2 $LATE --group g17r >/dev/null
J4=$("$OTTO" job create --group g17r --fw "$FBAD" --job-executions-retry-config \
    '{"criteriaList":[{"failureType":"FAILED","numberOfRetries":1}]}' -q)
mq $LATE start-next >/dev/null
mq $LATE "$J4/update" '{"status":"REJECTED","statusDetails":{"reason":"test"}}' >/dev/null
timeout 120 "$OTTO" job watch "$J4" --interval 0.5 >/dev/null
st=$(show "$J4")
check "retry: each failing device tried twice (executions 1 and 2 FAILED)" \
    test "$(echo "$st" | jget "sorted((e['thingName'][-2:], e['executionNumber'], e['status']) for e in d['executions'] if e['thingName'] != '$LATE')")" = \
    '[["01", 1, "FAILED"], ["01", 2, "FAILED"], ["02", 1, "FAILED"], ["02", 2, "FAILED"]]'
check "... a REJECTED execution is never retried" \
    test "$(echo "$st" | jget "[e['status'] for e in d['executions'] if e['thingName'] == '$LATE']")" = '["REJECTED"]'
check "... and the job COMPLETED once the retries ran out" test "$(echo "$st" | jget "d['status']")" = COMPLETED

# ---- a continuous job reaches a device that joins its group later
NEW=24:0a:c4:17:fe:01
J5=$("$OTTO" job create --group g17c --fw "$F111" --target-selection CONTINUOUS -q 2>&1)
check "a continuous job for a group with no devices yet is created ($J5)" sh -c "echo '$J5' | grep -q '^job-'"
r=$(mq $NEW get)
check "... a device outside the group does not see it" sh -c "! echo '$r' | grep -q '$J5'"
"$OTTO" device add $NEW --group g17c --product lamp >/dev/null
r=$(mq $NEW get)
check "... once added to the group it has the job, at once" sh -c "echo '$r' | grep -q '\"jobId\":\"$J5\"'"
mq $NEW "$J5/update" '{"status":"SUCCEEDED"}' >/dev/null
check "... which stays IN_PROGRESS for the next one to join" test "$(show "$J5" | jget "d['status']")" = IN_PROGRESS
"$OTTO" job create --group g17c --fw "$F111" --target-selection SOMETIMES >/dev/null 2>"$E2E_DIR/err.txt"
check "targetSelection other than CONTINUOUS or SNAPSHOT: refused, saying so" grep -q "CONTINUOUS or SNAPSHOT" "$E2E_DIR/err.txt"
stop_fleet
check "... and the whole fleet runs 1.1.1 (those that got 1.2.0 rolled back)" \
    test "$(grep -c ' 1\.1\.1 ' "$E2E_DIR/fleet.out")" = $N

# ---- the test clock (--clock-start, --clock-speed): a Saturday-night window in seconds
stop_ottod
start_ottod --clock-start 2026-12-05T01:59:30Z --clock-speed 20
check "ottod says loudly that its clock is a test clock" grep -q "WARN.*TEST CLOCK" "$E2E_DIR/ottod.log"
W3=24:0a:c4:17:d0:03
"$OTTO" device add $W3 --group g17w3 >/dev/null
JW3=$("$OTTO" job create --group g17w3 --fw "$F111" -q --scheduling-config \
    '{"maintenanceWindows":[{"startTime":"cron(0 2 ? * SAT *)","durationInMinutes":30}]}')
r=$(mq $W3 get)
check "before 02:00 UTC on the test clock's Saturday: not released" sh -c "! echo '$r' | grep -q '$JW3'"
created=$(show "$JW3" | jget "d['createdAt']")
check "... and the job's time is the test clock's ($created, 2026-12-05T01:59Z)" \
    sh -c "[ $created -ge 1796435970 ] && [ $created -lt 1796436000 ]"
sleep 3   # 60 seconds of the test clock
r=$(mq $W3 get)
check "at 02:00 the window opens and the device has it" sh -c "echo '$r' | grep -q '\"jobId\":\"$JW3\"'"

# ---- a job's own startTime and endTime, on a test clock 600 times as fast
stop_ottod
start_ottod --clock-start 2026-12-05T10:00:00Z --clock-speed 600
S1=24:0a:c4:17:d0:04
"$OTTO" device add $S1 --group g17s >/dev/null
out=$("$OTTO" job create --group g17s --fw "$F111" --scheduling-config '{"startTime":"2026-12-05T10:10"}' 2>&1)
check "a startTime 10 minutes ahead: refused (AWS: 30 minutes at least)" sh -c "echo '$out' | grep -q '30 minutes to a year'"
JS=$("$OTTO" job create --group g17s --fw "$F111" -q --scheduling-config \
    '{"startTime":"2026-12-05T10:40","endTime":"2026-12-05T11:20","endBehavior":"CANCEL"}')
check "before its startTime the job is SCHEDULED" test "$(show "$JS" | jget "d['status']")" = SCHEDULED
check "... otto job show says when it starts" sh -c "'$OTTO' job show $JS | grep -q '^next: *releases start at 2026-12-05T10:40Z'"
r=$(mq $S1 get)
check "... and does not exist for its device" sh -c "! echo '$r' | grep -q '$JS'"
sleep 5   # 50 minutes of the test clock: past 10:40
r=$(mq $S1 get)
check "past its startTime it is IN_PROGRESS and the device has it" \
    sh -c "[ \"\$('$OTTO' job show $JS --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"status\"])')\" = IN_PROGRESS ] && echo '$r' | grep -q '\"jobId\":\"$JS\"'"
sleep 4   # past 11:20
st=$(show "$JS")
check "at its endTime (endBehavior CANCEL) the job is CANCELED, saying why" \
    sh -c "[ '$(echo "$st" | jget "d['status']")' = CANCELED ] && echo '$(echo "$st" | jget "d['reason']")' | grep -q 'endTime reached'"
e2e_done
