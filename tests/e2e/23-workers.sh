#!/usr/bin/env bash
# Several ottod workers on one PostgreSQL and one broker, behind haproxy:
# each with its own data directory and MQTT identity (ottod init --worker);
# one leads (pacing, timeouts, patches), the others serve; firmware uploaded
# to one is downloaded from another (fetched from PostgreSQL); device
# requests are shared between them ($share/ottod/...); two requests of one
# device given to two workers run one after the other. Then a paced rollout
# to a simulated fleet while a worker is killed with SIGKILL and restarted:
# once a worker that does not lead, once the leader. Every device ends
# SUCCEEDED, no execution is notified, started or counted twice, each
# device's replies come in version order, and the rate holds within 10 %.
# The fleet is N devices (default 200; the 1,000-device run is
# `make workers-kill`, N=1000).
. "$(dirname "$0")/lib.sh"
e2e_init
command -v haproxy >/dev/null || bail "haproxy is needed (scripts/deps.sh)"
export OTTO_DB=pg
MIN_S=6
N=${N:-200}
RATE=${RATE:-$((N / 4))} # a minute (of MIN_S seconds): each rollout takes about 24 s
LB_PORT=$(free_port)
PUBLIC=https://localhost:$LB_PORT
start_secure --minute-seconds $MIN_S --public-url "$PUBLIC"
HTTP_A=$HTTP_PORT
URL_A=$OTTO_URL

# ---- worker b: its own identity, data directory and HTTP port
"$OTTOD" init --data "$DATA" --worker b >"$E2E_DIR/init-b.out" || bail "ottod init --worker b: $(cat "$E2E_DIR/init-b.out")"
kill -HUP "$BROKER_PID" # the broker reads worker b's ACL lines
sleep 0.5
HTTP_B=$(free_port)
URL_B=https://localhost:$HTTP_B
DATA_B=$E2E_DIR/data-b
mkdir -p "$DATA_B"
cp "$DATA/admin.token" "$DATA/links.key" "$DATA_B/" # the deployment's secrets, as copied to another host
start_b() {
    "$OTTOD" --config "$DATA/ottod-b.conf" --data "$DATA_B" --http "127.0.0.1:$HTTP_B" --db "$PG_URL" \
        --minute-seconds $MIN_S --public-url "$PUBLIC" 2>>"$E2E_DIR/ottod-b.log" &
    B_PID=$!
    E2E_PIDS+=("$B_PID")
    wait_for curl -sf "$URL_B/healthz"
}
start_a() {
    start_ottod --minute-seconds $MIN_S --public-url "$PUBLIC" >/dev/null
}
start_b || bail "worker b did not start: $(tail -5 "$E2E_DIR/ottod-b.log")"
check "worker a leads (once-only work)" grep -q "leading: this worker" "$E2E_DIR/ottod.log"
check "worker b serves and says who leads" grep -q "another worker leads" "$E2E_DIR/ottod-b.log"
check "both split device requests by partition" \
    sh -c "grep -q 'split with the other workers by partition' '$E2E_DIR/ottod.log' && grep -q 'split with the other workers by partition' '$E2E_DIR/ottod-b.log'"
wait_for sh -c "tail -n 3 '$E2E_DIR/ottod.log' '$E2E_DIR/ottod-b.log' >/dev/null; grep -q 'devices of 32 of 64, 2 workers live' '$E2E_DIR/ottod.log' && grep -q 'devices of 32 of 64, 2 workers live' '$E2E_DIR/ottod-b.log'"
check "... 32 of the 64 partitions each, within seconds of b's start" \
    sh -c "grep -q 'devices of 32 of 64, 2 workers live' '$E2E_DIR/ottod.log' && grep -q 'devices of 32 of 64, 2 workers live' '$E2E_DIR/ottod-b.log'"

# ---- haproxy in front of both (TLS passes through; health by /healthz)
cat >"$E2E_DIR/haproxy.cfg" <<EOF
global
  maxconn 4096
defaults
  mode tcp
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 3
  option redispatch
frontend downloads
  bind 127.0.0.1:$LB_PORT
  default_backend workers
backend workers
  balance roundrobin
  option httpchk GET /healthz
  default-server check check-ssl verify none inter 300ms fall 1 rise 2
  server a 127.0.0.1:$HTTP_A
  server b 127.0.0.1:$HTTP_B
EOF
haproxy -f "$E2E_DIR/haproxy.cfg" -db >"$E2E_DIR/haproxy.log" 2>&1 &
HAPROXY_PID=$!
E2E_PIDS+=("$HAPROXY_PID")
wait_for curl -sf "$PUBLIC/healthz" || bail "haproxy did not start: $(cat "$E2E_DIR/haproxy.log")"

# ---- artifacts: uploaded to a, downloaded from b
rollout_images lamp 64K
F110=$FW_GOOD
sha=$(sha256sum "$E2E_DIR/v110.bin" | cut -d' ' -f1)
# a device's link (signed links: on with HTTPS), asked for at b
link=$(OTTO_URL=$URL_B "$OTTO" fw link "$F110" --thing 24:0a:c4:23:00:01 | grep -o '/fw/.*')
got=$(curl -sf "$URL_B$link" | sha256sum | cut -d' ' -f1)
check "firmware uploaded to worker a downloads from worker b, byte for byte" test "$got" = "$sha"
check "... b fetched it from the shared store" grep -q "fetched artifacts/$sha from the shared store" "$E2E_DIR/ottod-b.log"
check "worker b lists what a stored" sh -c "OTTO_URL=$URL_B '$OTTO' fw ls | grep -q '$F110'"

# ---- device requests: shared between the two
for i in $(seq 10 49); do thing_creds "24:0a:c4:23:00:$i" >/dev/null; done # made one at a time (the CA's serial file)
pids=()
for i in $(seq 10 49); do
    mq "24:0a:c4:23:00:$i" get >/dev/null &
    pids+=($!)
done
wait "${pids[@]}"
scrape_gets() {
    curl -sf -H "Authorization: Bearer $OTTO_TOKEN" "$1/metrics" |
        awk '/^otto_mqtt_requests_total\{type="get"\}/ {print $2}'
}
ga=$(scrape_gets "$URL_A")
gb=$(scrape_gets "$URL_B")
check "40 devices' requests: both workers answered some (a $ga, b $gb)" \
    sh -c "[ '${ga:-0}' -gt 0 ] && [ '${gb:-0}' -gt 0 ] && [ $((ga + gb)) -ge 40 ]"

# ---- the rollout under kill -9: a fleet of N behind haproxy, the CLI too
export OTTO_URL=$PUBLIC # REST through the balancer: any worker answers
loadgen watcher >/dev/null
mosquitto_sub -h localhost -p "$BROKER_PORT" $(mqtls watcher) -V 5 -q 1 -F '%U %t %p' \
    -t '$aws/things/+/jobs/notify-next' -t '$aws/things/+/jobs/+/update' -t '$aws/things/+/jobs/+/update/accepted' \
    -t '$aws/things/+/jobs/$next/get/accepted' \
    >"$E2E_DIR/capture.txt" 2>"$E2E_DIR/capture.err" &
E2E_PIDS+=($!)
fleet_bg 24:0a:c4:23 "$E2E_DIR/v100.bin" --no-mcu --poll 5
wait_for sh -c "[ \$(grep -c . '$E2E_DIR/things') -ge $N ]" || bail "the fleet did not name its $N devices"
"$OTTO" device add $(cat "$E2E_DIR/things") --group g23 --product lamp >/dev/null
# every device up (its birth message) before the job: a hello answers with
# the next job on notify-next too, which is not a second notification
online() { store_q 'select count(*) from devices where online = 1'; }
for _ in $(seq 240); do [ "$(online)" -ge "$N" ] && break; sleep 0.5; done
[ "$(online)" -ge "$N" ] || bail "the fleet did not come up: $(online) of $N online"
show() { "$OTTO" job show "$1" --json; }
leads() { # leads LOG: the worker of that log leads now (its last word on it)
    grep -E "leading: this worker|no longer leading|another worker leads" "$1" | tail -n 1 | grep -q "leading: this worker"
}
released() { show "$1" | jget "d['rollout']['released']"; }

# rollout JOB VICTIM: kill -9 VICTIM (a or b) a third of the way, restart
# it, wait for the end, then check what the issue asks.
rollout() {
    local j=$1 victim=$2 i before
    wait_for sh -c "[ \$('$OTTO' job show $j --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"rollout\"][\"released\"])') -ge $((N / 3)) ]"
    before=$(released "$j")
    local who=$victim
    if [ "$victim" = leader ]; then
        who=a
        leads "$E2E_DIR/ottod-b.log" && who=b
    fi
    if [ "$who" = a ]; then stop_ottod -9; else kill -9 "$B_PID"; wait "$B_PID" 2>/dev/null; fi
    KILLED_AT=$before
    sleep 2
    if [ "$who" = a ]; then start_a; else start_b; fi
    # to the end: one short request a second through the balancer (a
    # connection to a worker being killed fails that second only)
    for _ in $(seq 300); do
        [ "$(timeout 10 "$OTTO" job show "$j" --json 2>/dev/null | jget "d['counts']['SUCCEEDED']" 2>/dev/null)" = "$N" ] && break
        sleep 1
    done
    local st
    st=$(show "$j")
    check "[$3] killed worker $who after $before of $N releases: every device SUCCEEDED" \
        test "$(echo "$st" | jget "d['counts']['SUCCEEDED']")" = "$N"
    check "[$3] ... counted once: the job's counts add up to $N" \
        test "$(echo "$st" | jget "sum(v for k, v in d['counts'].items() if k != 'total')")" = "$N"
    check "[$3] ... each device one execution, executionNumber 1 (none started twice)" \
        test "$(echo "$st" | jget "len(d['executions'])").$(echo "$st" | jget "max(e['executionNumber'] for e in d['executions'])")" = "$N.1"
    echo "$st" >"$E2E_DIR/job-$j.json"
    python3 - "$E2E_DIR/capture.txt" "$j" "$E2E_DIR/job-$j.json" >"$E2E_DIR/capture-$j.out" <<'PY'
import json, sys
cap, job, final = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
notified, asked, accepted = {}, {}, {}
for line in open(cap):
    _, _, line = line.partition(" ")  # the time it came
    topic, _, payload = line.rstrip("\n").partition(" ")
    thing = topic.split("/")[2]
    try:
        d = json.loads(payload)
    except ValueError:
        continue
    if topic.endswith("/notify-next") or topic.endswith("/$next/get/accepted"):
        # told of the job while it waits for it; a hello after the reboot is
        # answered with the execution IN_PROGRESS, which is no second notice,
        # and an answer to the device's own $next/get is mirrored onto
        # notify-next (docs/api.md): a reply, not a notice either
        ex = d.get("execution") or {}
        if ex.get("jobId") == job and ex.get("status") == "QUEUED":
            notified[thing] = notified.get(thing, 0) + (1 if topic.endswith("/notify-next") else -1)
    elif topic.endswith("/%s/update" % job):
        d.pop("clientToken", None)
        asked.setdefault(thing, []).append((d.get("expectedVersion"), d.get("status"), json.dumps(d, sort_keys=True)))
    elif topic.endswith("/%s/update/accepted" % job):
        accepted[thing] = accepted.get(thing, 0) + 1
order = {"IN_PROGRESS": 0, "SUCCEEDED": 1}
bad, lost = [], 0
for e in final["executions"]:
    t, us = e["thingName"], asked.get(e["thingName"], [])
    # versions only go up, the status never back; the final version counts
    # each update the device made at most once (a retry, the same request
    # again after its reply was lost, is not a second one and must not be
    # applied as one), and at least every update it was told is accepted.
    # A progress report sent in the second a dead worker's devices wait for
    # their new one is lost unanswered (the agent does not wait for those;
    # it waits for, and repeats, the start and the result): counted apart.
    ok = all((a[0] is None or b[0] is None or a[0] <= b[0]) and order.get(a[1], 9) <= order.get(b[1], 9)
             for a, b in zip(us, us[1:]))
    distinct = sum(1 for i, u in enumerate(us) if i == 0 or u[2] != us[i - 1][2])
    applied = e["versionNumber"] - 1
    if not ok or not accepted.get(t, 0) <= applied <= distinct or us[-1][1] != "SUCCEEDED":
        bad.append(t)
    lost += distinct - applied
print(sum(1 for c in notified.values() if c > 0), max(notified.values() or [0]), sum(1 for c in notified.values() if c > 1), len(bad),
      sum(accepted.values()), sum(len(u) for u in asked.values()), lost)
for t in bad[:5]:
    print(t, asked.get(t), accepted.get(t), [e["versionNumber"] for e in final["executions"] if e["thingName"] == t],
          file=sys.stderr)
PY
    read -r nn nmax ntwice nbad nacc nask nlost <"$E2E_DIR/capture-$j.out"
    check "[$3] ... no execution notified twice ($nn devices told of it QUEUED, at most $nmax each; the others found it polling)" \
        test "$ntwice" = 0
    check "[$3] ... every execution's history in order: versions up, status forward, no update counted twice, every accepted one counted ($nacc accepted of $nask asked, retries included; $nlost unanswered progress reports lost with the worker)" \
        test "$nbad" = 0
    # the rate, in server time: queuedAt is in whole seconds, so the range
    # one second at either end allows must hold the configured rate (10 %)
    read -r r lo hi < <(echo "$st" | python3 -c "
import json, sys
t = sorted(e['queuedAt'] for e in json.load(sys.stdin)['executions'])
n, span = len(t) - 1, t[-1] - t[0]
print('%.1f %.1f %.1f' % (n / span * $MIN_S, n / (span + 1) * $MIN_S, n / max(span - 1, 1) * $MIN_S))")
    check "[$3] ... released at $r a minute over the whole rollout ($lo-$hi at one-second resolution; configured $RATE, within 10 %)" \
        python3 -c "import sys; sys.exit(0 if 0.9 * $lo <= $RATE <= 1.1 * $hi else 1)"
    echo "workers: $3: killed $who after $before releases; $nn notified (max $nmax), $nacc accepted updates in order, $nlost progress reports lost unanswered; rate $r/min (configured $RATE)"
}

J1=$("$OTTO" job create --group g23 --fw "$F110" --max-per-minute "$RATE" -q)
rollout "$J1" b "a worker that does not lead"
"$OTTO" image build --version 1.1.1 --project lamp --secure-version 1 --size 64K -o "$E2E_DIR/v111.bin" >/dev/null
F111=$("$OTTO" fw upload -q "$E2E_DIR/v111.bin")
J2=$("$OTTO" job create --group g23 --fw "$F111" --max-per-minute "$RATE" -q)
rollout "$J2" leader "the leader"
check "the lead moved to the worker that lived, within seconds" \
    sh -c "grep -q 'leading: this worker now' '$E2E_DIR/ottod-b.log' || grep -q 'leading: this worker now' '$E2E_DIR/ottod.log'"
stop_fleet

e2e_done
