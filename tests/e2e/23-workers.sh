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
# The fleet is N devices (default 300; the 1,000-device run is
# `make workers-kill`, N=1000).
. "$(dirname "$0")/lib.sh"
e2e_init
command -v haproxy >/dev/null || bail "haproxy is needed (scripts/deps.sh)"
export OTTO_DB=pg
MIN_S=6
N=${N:-300}
RATE=${RATE:-$((N * 2))} # a minute (of MIN_S seconds): the rollout takes about 30 s
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

e2e_done
