#!/usr/bin/env bash
# Waves with gates (rolloutWaves, otto's, beyond AWS): a job split into
# waves releases each only once the one before reached its success
# threshold; a wave's error threshold pauses the whole job, and the waves
# after it never see the release; successAction PAUSE waits for otto job
# resume; a wave that ended below its threshold waits for otto job
# next-wave. otto job show gives each wave's size, state and counts. A
# continuous job reaches a thing that registers on first contact into its
# group (ottod --register-group).
. "$(dirname "$0")/lib.sh"
e2e_init
start_secure --minute-seconds 6
N=20
rollout_images lamp 64K
F110=$FW_GOOD FBAD=$FW_BAD
show() { "$OTTO" job show "$1" --json; }
paused() { [ "$(show "$1" | jget "d['rollout']['paused']")" = True ]; }
# sees THING JOB: the thing's pending list has the job (within 10 s)
sees() { for _ in $(seq 40); do mq "$1" get | grep -q "\"jobId\":\"$2\"" && return 0; sleep 0.25; done; return 1; }

fleet_bg 24:0a:c4:18 "$E2E_DIR/v100.bin"
"$OTTO" device add $(cat "$E2E_DIR/things") --group g18 --product lamp >/dev/null

# ---- refusals say what a wave is
out=$("$OTTO" job create --group g18 --fw "$F110" --waves 5,abc 2>&1)
check "--waves 5,abc: refused, saying what a wave is" sh -c "echo \"\$1\" | grep -q \"'abc' is not a count\"" _ "$out"
out=$("$OTTO" job create --group g18 --fw "$F110" --rollout-waves '{"waves":[{"count":5,"percentage":10}]}' 2>&1)
check "a wave with a count and a percentage: refused" sh -c "echo \"\$1\" | grep -q 'each wave is one of count, percentage or group'" _ "$out"
out=$("$OTTO" job create --group g18 --fw "$F110" --waves 5 --wave-success 101 2>&1)
check "a success threshold of 101 %: refused, naming the limit" sh -c "echo \"\$1\" | grep -q 'successThresholdPercentage, 0 to 100'" _ "$out"

# ---- a release that fails its self-test: wave 1's failures pause the job
J1=$("$OTTO" job create --group g18 --fw "$FBAD" --waves 4,50% --wave-error 50 -q)
wait_for paused "$J1"
st=$(show "$J1")
why=$(echo "$st" | jget "d['rollout']['pauseReason']")
check "wave 1's failures paused the job, saying why ($why)" \
    sh -c "echo \"\$1\" | grep -q '^paused: wave 1 failed [2-4] of 4 (.*error threshold 50.00%)'" _ "$why"
check "... only wave 1's 4 devices got the release" test "$(echo "$st" | jget "d['rollout']['released']")" = 4
check "... the job has three waves: 4, half of the 16 left, and the rest" \
    test "$(echo "$st" | jget "[w['size'] for w in d['rollout']['waves']]")" = "[4, 8, 8]"
check "... waves 2 and 3 WAITING, none of theirs released" \
    test "$(echo "$st" | jget "[(w['state'], w['released']) for w in d['rollout']['waves'][1:]]")" = \
    "[[\"WAITING\", 0], [\"WAITING\", 0]]"
"$OTTO" job show "$J1" >"$E2E_DIR/show1.txt"
check "otto job show lists each wave with its counts" grep -q "^wave 1 .*RUNNING .*next 4 .*4 devices" "$E2E_DIR/show1.txt"
check "... and why the job paused" grep -q "^why: *paused: wave 1 failed" "$E2E_DIR/show1.txt"
"$OTTO" job cancel "$J1" >/dev/null
wait_for sh -c "[ \"\$('$OTTO' job show $J1 --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[\"counts\"].get(\"IN_PROGRESS\", 0) + d[\"counts\"].get(\"QUEUED\", 0))')\" = 0 ]"

# ---- a good release in three waves: each only after the one before succeeded
J2=$("$OTTO" job create --group g18 --fw "$F110" --waves 4,50% -q)
timeout 180 "$OTTO" job watch "$J2" --interval 0.5 >/dev/null
st=$(show "$J2")
check "all $N devices SUCCEEDED, wave by wave" test "$(echo "$st" | jget "d['counts']['SUCCEEDED']")" = $N
check "... in waves of 4, 8 and 8" test "$(echo "$st" | jget "[w['size'] for w in d['rollout']['waves']]")" = "[4, 8, 8]"
gaps=$(echo "$st" | python3 -c "
import json, sys
d = json.load(sys.stdin)
ex = d['executions']
out = []
for k in (2, 3):
    first = min(e['queuedAt'] for e in ex if e['wave'] == k)
    done = max(e['lastUpdatedAt'] for e in ex if e['wave'] == k - 1)
    out.append(first - done)
print(' '.join(map(str, out)))")
check "... each wave released after the last of the one before succeeded (gaps: $gaps s)" \
    sh -c "for g in $gaps; do [ \$g -ge 0 ] || exit 1; done"
stop_fleet
check "... and the whole fleet runs 1.1.0" test "$(grep -c ' 1\.1\.0 ' "$E2E_DIR/fleet.out")" = $N

# ---- successAction PAUSE, a wave short of its threshold, otto job next-wave
# (things with no device behind them, played by mqreq)
P=(24:0a:c4:18:f0:01 24:0a:c4:18:f0:02 24:0a:c4:18:f0:03 24:0a:c4:18:f0:04 24:0a:c4:18:f0:05 24:0a:c4:18:f0:06)
"$OTTO" device add "${P[@]}" --group g18p --product lamp >/dev/null
J3=$("$OTTO" job create --group g18p --fw "$F110" --waves 2,2 --wave-pause -q)
sees "${P[1]}" "$J3" || bail "wave 1 of $J3 never released"
for t in "${P[0]}" "${P[1]}"; do mq "$t" "$J3/update" '{"status":"SUCCEEDED"}' >/dev/null; done
wait_for paused "$J3"
why=$(show "$J3" | jget "d['rollout']['pauseReason']")
check "wave 1 at its threshold waits for the operator (successAction PAUSE: $why)" \
    sh -c "echo \"\$1\" | grep -q 'wave 1 reached its success threshold'" _ "$why"
check "... wave 2's things do not see the job" sh -c "! echo \"\$1\" | grep -q '$J3'" _ "$(mq "${P[2]}" get)"
"$OTTO" job resume "$J3" >/dev/null
check "otto job resume: wave 2 released" sees "${P[3]}" "$J3"
for t in "${P[2]}" "${P[3]}"; do mq "$t" "$J3/update" '{"status":"FAILED"}' >/dev/null; done
wait_for paused "$J3"
why=$(show "$J3" | jget "d['rollout']['pauseReason']")
check "wave 2 ended below its threshold: paused for otto job next-wave ($why)" \
    sh -c "echo \"\$1\" | grep -q 'wave 2 ended with 0 of 2 succeeded.*next-wave'" _ "$why"
"$OTTO" job next-wave "$J3" >/dev/null
check "otto job next-wave: wave 3 released" sees "${P[5]}" "$J3"
out=$("$OTTO" job next-wave "$J3" 2>&1)
check "next-wave on the last wave: refused, saying so" sh -c "echo \"\$1\" | grep -q \"wave 3 is the job's last\"" _ "$out"

# ---- a continuous job reaches a device registering on first contact into its group
stop_ottod
start_ottod --register-group field
JC=$("$OTTO" job create --group field --fw "$F110" --target-selection CONTINUOUS -q)
NEW=24:0a:c4:18:fe:01
r=$(mq $NEW get)
check "a thing unknown to ottod, on its first request, has the continuous job of group field" \
    sh -c "echo \"\$1\" | grep -q '\"jobId\":\"$JC\"'" _ "$r"
check "... registered on first contact into the group (ottod --register-group)" \
    sh -c "'$OTTO' device show $NEW --json | grep -q '\"field\"'"
e2e_done
