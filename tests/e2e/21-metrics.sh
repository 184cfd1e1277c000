#!/usr/bin/env bash
# Prometheus metrics: ottod's /metrics over HTTPS with a viewer token as a
# bearer token (none: 401), in the text format that promtool accepts; a
# real Prometheus (Debian's) scrapes it as docs/operations.md says, and
# after a fleet update its queries return what happened: every execution
# SUCCEEDED, the devices connected (their birth messages; 0 once the fleet
# is gone, by their wills), the MQTT updates and the download bytes. The
# Grafana dashboard's queries parse; --log-format json writes one object a
# line, with the job and thing as fields.
. "$(dirname "$0")/lib.sh"
e2e_init
command -v prometheus >/dev/null && command -v promtool >/dev/null || bail "prometheus and promtool are needed (scripts/deps.sh)"
start_secure
N=4
"$OTTO" image build --version 1.0.0 --project lamp --size 64K -o "$E2E_DIR/v100.bin" >/dev/null
"$OTTO" image build --version 1.1.0 --project lamp --size 80K -o "$E2E_DIR/v110.bin" >/dev/null
F110=$("$OTTO" fw upload -q "$E2E_DIR/v110.bin")
size=$(stat -c %s "$E2E_DIR/v110.bin")
"$OTTO" token create --name prometheus --role viewer --json | jget "d['token']" >"$E2E_DIR/viewer.token"
scrape() { curl -sf -H "Authorization: Bearer $(cat "$E2E_DIR/viewer.token")" "$OTTO_URL/metrics"; }
metric() { # metric 'name{labels}': its value in one scrape ("" when absent)
    scrape | python3 -c '
import sys
want = sys.argv[1]
for line in sys.stdin:
    if line.startswith(want + " "):
        print(line.split()[-1]); break' "$1"
}

check "no token: 401" test "$(curl -s -o /dev/null -w '%{http_code}' "$OTTO_URL/metrics")" = 401
check "a viewer token scrapes it" sh -c "curl -sf -H 'Authorization: Bearer $(cat "$E2E_DIR/viewer.token")' '$OTTO_URL/metrics' | grep -q '^# TYPE otto_mqtt_requests_total counter'"

# Prometheus, scraping every second over HTTPS with the viewer token
PROM_PORT=$(free_port)
cat >"$E2E_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: ottod
    scheme: https
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: $E2E_DIR/viewer.token
    tls_config:
      ca_file: $OTTO_CA
    static_configs:
      - targets: ['localhost:$HTTP_PORT']
EOF
promtool check config "$E2E_DIR/prometheus.yml" >"$E2E_DIR/promtool-config.out" 2>&1
check "promtool accepts the documented scrape config" test $? = 0
prometheus --config.file="$E2E_DIR/prometheus.yml" --storage.tsdb.path="$E2E_DIR/prom" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$E2E_DIR/prometheus.log" 2>&1 &
E2E_PIDS+=($!)
query() { # query PROMQL: the first value of an instant query ("" when none)
    curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
wait_for sh -c "curl -sf 'http://127.0.0.1:$PROM_PORT/-/ready' >/dev/null"
check "Prometheus scrapes ottod (target up)" wait_for sh -c "[ \"\$(curl -sf 'http://127.0.0.1:$PROM_PORT/api/v1/query' --data-urlencode 'query=up{job=\"ottod\"}' | python3 -c 'import json,sys; r=json.load(sys.stdin)[\"data\"][\"result\"]; print(r[0][\"value\"][1] if r else \"\")')\" = 1 ]"

fleet_bg 24:0a:c4:21 "$E2E_DIR/v100.bin"
"$OTTO" device add $(cat "$E2E_DIR/things") --group g21 --product lamp >/dev/null
check "the fleet's birth messages: $N devices connected" wait_for sh -c "[ \"\$(curl -sf -H 'Authorization: Bearer $(cat "$E2E_DIR/viewer.token")' '$OTTO_URL/metrics' | grep '^otto_devices_connected ' | cut -d' ' -f2)\" = $N ]"
J=$("$OTTO" job create --group g21 --fw "$F110" -q)
timeout 120 "$OTTO" job watch "$J" --interval 0.5 >/dev/null
check "the update: $N SUCCEEDED" test "$("$OTTO" job show "$J" --json | jget "d['counts']['SUCCEEDED']")" = $N

scrape >"$E2E_DIR/metrics.txt"
promtool check metrics <"$E2E_DIR/metrics.txt" >"$E2E_DIR/promtool.out" 2>&1
check "promtool check metrics passes" test $? = 0
check "... executions by status and reason" grep -q "^otto_executions{status=\"SUCCEEDED\",reason=\"updated\"} $N$" "$E2E_DIR/metrics.txt"
check "... MQTT updates counted, with a latency histogram" \
    sh -c "[ \$(grep '^otto_mqtt_requests_total{type=\"update\"}' '$E2E_DIR/metrics.txt' | cut -d' ' -f2) -ge $((2 * N)) ] &&
           grep -q '^otto_mqtt_request_duration_seconds_bucket{type=\"update\",le=\"+Inf\"}' '$E2E_DIR/metrics.txt'"
check "... download bytes: at least the $N images" \
    test "$(grep '^otto_download_bytes_total ' "$E2E_DIR/metrics.txt" | cut -d' ' -f2)" -ge $((N * size))
check "... HTTP requests by route and code" grep -q '^otto_http_requests_total{route="/fw/{id}",code="200"}' "$E2E_DIR/metrics.txt"
check "... job notifications and store latency" \
    sh -c "grep -q '^otto_job_notifications_total [1-9]' '$E2E_DIR/metrics.txt' && grep -q '^otto_store_statement_duration_seconds_count [1-9]' '$E2E_DIR/metrics.txt'"

check "Prometheus: otto_executions{status=\"SUCCEEDED\"} = $N" \
    wait_for sh -c "[ \"\$(curl -sf 'http://127.0.0.1:$PROM_PORT/api/v1/query' --data-urlencode 'query=sum(otto_executions{status=\"SUCCEEDED\"})' | python3 -c 'import json,sys; r=json.load(sys.stdin)[\"data\"][\"result\"]; print(r[0][\"value\"][1] if r else \"\")')\" = $N ]"
check "Prometheus: otto_devices_connected = $N" test "$(query otto_devices_connected)" = $N
check "Prometheus: the update's MQTT requests, as a rate" \
    sh -c "python3 -c 'import sys; sys.exit(0 if float(sys.argv[1] or 0) > 0 else 1)' '$(query 'sum(increase(otto_mqtt_requests_total{type="update"}[1m]))')'"
stop_fleet
check "the fleet gone: its wills say so (0 connected)" wait_for sh -c "[ \"\$(curl -sf -H 'Authorization: Bearer $(cat "$E2E_DIR/viewer.token")' '$OTTO_URL/metrics' | grep '^otto_devices_connected ' | cut -d' ' -f2)\" = 0 ]"
check "... and the registry: offline, last seen" \
    test "$("$OTTO" device show "$(head -1 "$E2E_DIR/things")" --json | jget "str(d['online']) + str(d['lastSeen'] > 0)")" = FalseTrue
python3 - "$(dirname "$0")/../../docs/grafana-dashboard.json" "$E2E_DIR/dashboard-rules.yml" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
exprs = [t["expr"] for p in d["panels"] for t in p["targets"]]
with open(sys.argv[2], "w") as f:
    f.write("groups:\n- name: dashboard\n  rules:\n")
    for i, e in enumerate(exprs):
        f.write("  - record: otto_dashboard_%d\n    expr: %s\n" % (i, json.dumps(e)))
PY
promtool check rules "$E2E_DIR/dashboard-rules.yml" >"$E2E_DIR/promtool-rules.out" 2>&1
check "the Grafana dashboard's queries parse (promtool: $(grep -o '[0-9]* rules found' "$E2E_DIR/promtool-rules.out"))" test $? = 0
check "... and its key ones answer from this Prometheus" \
    sh -c "[ -n \"\$(curl -sf 'http://127.0.0.1:$PROM_PORT/api/v1/query' --data-urlencode 'query=histogram_quantile(0.95, sum by (le, type) (rate(otto_mqtt_request_duration_seconds_bucket[5m])))' | grep -o '\"type\":\"update\"')\" ]"

# Logs for shippers: ottod again, --log-format json: every line one object
kill "$OTTOD_PID"; wait "$OTTOD_PID" 2>/dev/null
: >"$E2E_DIR/ottod.log"
start_ottod --log-format json
J2=$("$OTTO" job create --device "$(head -1 "$E2E_DIR/things")" --fw "$F110" -q)
"$OTTO" job cancel "$J2" --force >/dev/null
check "--log-format json: every line is a JSON object with ts, level and msg" python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines
for l in lines:
    o = json.loads(l)
    assert {"ts", "level", "msg"} <= set(o), l' "$E2E_DIR/ottod.log"
check "... a line about a job names its job and thing as fields" python3 -c '
import json, sys
assert any(o.get("job", "").startswith("job-") and o.get("thing") == sys.argv[2]
           for o in map(json.loads, open(sys.argv[1]).read().splitlines()))' "$E2E_DIR/ottod.log" "$(head -1 "$E2E_DIR/things")"
e2e_done
