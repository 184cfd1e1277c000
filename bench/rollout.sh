#!/usr/bin/env bash
# Rollouts on a fleet of 1,000 simulated devices (otto-sim fleet, the real
# agent, TLS as deployed), ottod on a 6-second "minute" (--minute-seconds):
#   1. an exponential rollout (60 a minute, doubling every 200 notified, up
#      to 480) of a good release: the configured against the measured rate
#      at each step, from ottod's own log of each second's releases (the
#      first and last second of a step are partial and left out); the
#      broker is restarted mid-rollout, so every device reconnects;
#   2. a release whose self-test fails on every device, the same ramp, and
#      an abort at 10 % FAILED after 50 executed: when it aborted, how many
#      devices got the release beyond the 50 (the overshoot), and that the
#      rest never started it.
# Prints Markdown rows "| measurement | configured | measured | ratio |".
set -euo pipefail
. "$(dirname "$0")/../scripts/services.sh"
N=${N:-1000}
MIN_S=6
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
say() { echo "rollout: $*" >&2; }
e2e_init
start_secure --minute-seconds $MIN_S --log-level info --http-threads 4 --http-per-ip 4096
rollout_images bench 16K
GOOD=$FW_GOOD BAD=$FW_BAD
say "$N device certificates, then $N devices connect over TLS"
mkdir -p "$E2E_DIR/creds"
"$OTTO" device add $(fleet_things 24:0a:c4:a0 "$N") --group fleet --product bench --cert-out "$E2E_DIR/creds" -q
"$BUILD/otto-sim" fleet --count "$N" --dir "$E2E_DIR/fleet" --factory "$E2E_DIR/v100.bin" --prefix 24:0a:c4:a0 \
    --mqtt "127.0.0.1:$BROKER_PORT" --product bench --no-mcu --trust "${OTTO_SIGN_KEY%.pem}.pub.pem" \
    --creds "$E2E_DIR/creds" >"$E2E_DIR/fleet.out" 2>"$E2E_DIR/fleet.log" &
FLEET=$!
E2E_PIDS+=("$FLEET")
for _ in $(seq 600); do [ "$(grep -c ' hello: ' "$E2E_DIR/ottod.log")" -ge "$N" ] && break; sleep 0.2; done
RAMP='{"maximumPerMinute":480,"exponentialRate":{"baseRatePerMinute":60,"incrementFactor":2.0,"rateIncreaseCriteria":{"numberOfNotifiedThings":200}}}'

# steps JOB_SEQ: "configured measured" per step of the ramp, from the log
steps() {
    grep "job seq $1 rollout: released" "$E2E_DIR/ottod.log" | python3 -c "
import re, sys
ticks = [(int(m.group(1)), float(m.group(2))) for m in (re.search(r'released (\d+) at (\d+) a minute', l) for l in sys.stdin) if m]
# group consecutive ticks by the rate they released at; drop each step's first and last tick
runs = []
for n, r in ticks:
    if runs and runs[-1][0] == r: runs[-1][1].append(n)
    else: runs.append((r, [n]))
for r, ns in runs:
    inner = ns[1:-1]
    if len(inner) >= 2:
        print('%.0f %.1f %d' % (r, sum(inner) / len(inner) * $MIN_S, len(inner)))  # a tick is a second
"
}
seq_of() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select seq from jobs where id = ?', (sys.argv[2],)).fetchone()[0])" "$DATA/otto.db" "$1"; }

say "1. exponential rollout of a good release to $N devices; the broker restarts mid-way"
J=$("$OTTO" job create --group fleet --fw "$GOOD" --job-executions-rollout-config "$RAMP" -q)
sleep 12
stop_broker
sleep 1
start_broker
timeout 600 "$OTTO" job watch "$J" --interval 1 --timeout 600 >/dev/null || { say "job $J did not succeed"; exit 1; }
steps "$(seq_of "$J")" | while read -r conf meas ticks; do
    printf '| ramp step at %s a minute (%s seconds measured) | %s | %s | %s |\n' "$conf" "$ticks" "$conf" "$meas" \
        "$(python3 -c "print('%.3f' % ($meas / $conf))")"
done
ok=$("$OTTO" job show "$J" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"]["SUCCEEDED"])')
printf '| devices updated, the broker restarted mid-rollout | %s | %s | %s |\n' "$N" "$ok" "$(python3 -c "print('%.3f' % ($ok / $N))")"

say "2. a release that fails its self-test, the same ramp, abort at 10 % FAILED after 50 executed"
J2=$("$OTTO" job create --group fleet --fw "$BAD" --job-executions-rollout-config "$RAMP" --abort-config \
    '{"criteriaList":[{"failureType":"FAILED","action":"CANCEL","thresholdPercentage":10,"minNumberOfExecutedThings":50}]}' -q)
for _ in $(seq 600); do
    "$OTTO" job show "$J2" --json | grep -q '"status":[[:space:]]*"CANCELED"' && break
    sleep 0.5
done
sleep 5 # the in-flight devices end
"$OTTO" job show "$J2" --json > "$E2E_DIR/j2.json"
read -r started failed canceled released reason < <(python3 -c "
import json
d = json.load(open('$E2E_DIR/j2.json'))
ex = d['executions']
print(sum(1 for e in ex if e.get('startedAt')), d['counts']['FAILED'], d['counts']['CANCELED'],
      d['rollout']['released'], d.get('reason', '').replace(' ', '_'))")
say "aborted: $reason"
printf '| abort at 10 %% FAILED after 50 executed: devices that got the failing release | 50 | %s | %s |\n' "$started" \
    "$(python3 -c "print('%.2f' % ($started / 50))")"
printf '| ... released before the abort / never started (CANCELED) | - | %s / %s | - |\n' "$released" "$canceled"
kill "$FLEET" 2>/dev/null; wait "$FLEET" 2>/dev/null || true
