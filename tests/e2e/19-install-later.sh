#!/usr/bin/env bash
# Download now, install later (installConfig, otto's, beyond AWS): devices
# download and check the release at once, report "downloaded" and keep
# running the old image until the server says "install": "NOW" in their
# execution — on otto job install, or when an install window opens (cron,
# UTC, on ottod's clock; the device needs none). A power cut while waiting
# loses nothing: the image is installed from flash, never downloaded again.
. "$(dirname "$0")/lib.sh"
e2e_init
start_secure
N=6
rollout_images lamp 64K
show() { "$OTTO" job show "$1" --json; }
running() { "$OTTO" device show "$1" --json | jget "d['versions'].get('esp32', '?')"; }
downloaded() { [ "$(show "$1" | jget "d['install']['downloaded']")" = "$2" ]; }
fleet_bg 24:0a:c4:19 "$E2E_DIR/v100.bin"
mapfile -t T <"$E2E_DIR/things"
A=("${T[@]:0:3}") B=("${T[@]:3:3}")
"$OTTO" device add "${A[@]}" --group g19a --product lamp >/dev/null
"$OTTO" device add "${B[@]}" --group g19b --product lamp >/dev/null

out=$("$OTTO" job create --group g19a --fw "$FW_GOOD" --install-window 'cron(0 3 ? * * *) 0' 2>&1)
check "an install window of 0 minutes: refused, naming the limit" \
    sh -c "echo \"\$1\" | grep -q 'installConfig.installWindows.durationInMinutes: 1 to 1430'" _ "$out"

# ---- otto job install: downloaded and checked at once, installed when told
JA=$("$OTTO" job create --group g19a --fw "$FW_GOOD" --install-later -q)
check "the devices download and check the release, and say so (downloaded: 3)" wait_for downloaded "$JA" 3
st=$(show "$JA")
check "... their executions IN_PROGRESS, step downloaded" \
    test "$(echo "$st" | jget "sorted(set((e['status'], e['statusDetails'].get('step')) for e in d['executions']))")" \
    = '[["IN_PROGRESS", "downloaded"]]'
check "... the job tells them WAIT" test "$(echo "$st" | jget "d['install']['signal']")" = WAIT
check "... and they still run 1.0.0" sh -c "for t in ${A[*]}; do [ \"\$('$OTTO' device show \$t --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"versions\"][\"esp32\"])')\" = 1.0.0 ] || exit 1; done"
"$OTTO" job show "$JA" >"$E2E_DIR/showA.txt"
check "otto job show says so" grep -q "^install: *later; 3 downloaded and waiting; devices told WAIT (until otto job install)" "$E2E_DIR/showA.txt"

# a power cut of the whole fleet while they wait (kill -9: the flash files stay)
kill -9 "$FLEET"; wait "$FLEET" 2>/dev/null
mark=$(wc -l <"$E2E_DIR/fleet.log")
"$BUILD/otto-sim" fleet --count "$N" --dir "$E2E_DIR/fleet" --prefix 24:0a:c4:19 \
    --mqtt "127.0.0.1:$BROKER_PORT" --product lamp --trust "${OTTO_SIGN_KEY%.pem}.pub.pem" \
    --creds "$E2E_DIR/creds" -v >"$E2E_DIR/fleet.out" 2>>"$E2E_DIR/fleet.log" &
FLEET=$!; E2E_PIDS+=("$FLEET")
wait_for sh -c "tail -n +$((mark + 1)) '$E2E_DIR/fleet.log' | grep -c 'agent downloaded' | grep -qx 3"
check "after the power cut they boot 1.0.0 again, still waiting (agent downloaded)" \
    test "$(tail -n +$((mark + 1)) "$E2E_DIR/fleet.log" | grep -c 'running 1.0.0.*agent downloaded')" = 3
"$OTTO" job install "$JA" >/dev/null
timeout 60 "$OTTO" job watch "$JA" --interval 0.5 >/dev/null
check "otto job install: all 3 installed and SUCCEEDED" test "$(show "$JA" | jget "d['counts']['SUCCEEDED']")" = 3
check "... running 1.1.0" sh -c "for t in ${A[*]}; do [ \"\$('$OTTO' device show \$t --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"versions\"][\"esp32\"])')\" = 1.1.0 ] || exit 1; done"
refetch=$(tail -n +$((mark + 1)) "$E2E_DIR/fleet.log" | grep -c 'download from byte' || true)
check "... from what they had in flash: no download after the power cut ($refetch)" test "$refetch" = 0

# ---- an install window (cron, UTC) on ottod's test clock: WAIT until 03:00, then NOW
stop_ottod
start_ottod --clock-start 2026-12-05T02:59:00Z --clock-speed 6
JB=$("$OTTO" job create --group g19b --fw "$FW_GOOD" --install-window 'cron(0 3 ? * * *) 30' -q)
check "before 03:00 on ottod's clock the devices download and wait" wait_for downloaded "$JB" 3
st=$(show "$JB")
check "... the window still closed when they have (premise), signal WAIT" \
    test "$(echo "$st" | jget "[d['install']['windowOpen'], d['install']['signal']]")" = '[false, "WAIT"]'
timeout 60 "$OTTO" job watch "$JB" --interval 0.5 >/dev/null
st=$(show "$JB")
check "at 03:00 the window opens and all 3 install (SUCCEEDED)" test "$(echo "$st" | jget "d['counts']['SUCCEEDED']")" = 3
check "... no sooner: each ended at 03:00 or later on ottod's clock" \
    test "$(echo "$st" | jget "min(e['lastUpdatedAt'] for e in d['executions']) >= 1796439600")" = True
grep -q "install: NOW (3 devices told)" "$E2E_DIR/ottod.log"
check "... told by ottod when the window opened" test $? = 0
e2e_done
