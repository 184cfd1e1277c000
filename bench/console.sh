#!/usr/bin/env bash
# The web console with 100,000 devices (N): ottod as deployed (HTTPS,
# tokens), the devices registered in one request, then given versions and
# connection states as a fleet would report them (one SQL update through
# SQLite, WAL, beside the running ottod). Measured: each API request the
# fleet and overview pages make (median of 20, curl's total time), and the
# fleet page in headless Chromium from signing in to its table drawn
# (median of 5). Prints Markdown rows "| request | median | p95 |".
set -euo pipefail
. "$(dirname "$0")/../scripts/services.sh"
N=${N:-100000}
say() { echo "console: $*" >&2; }
e2e_init
start_secure
say "registering $N devices"
python3 - "$N" "$E2E_DIR/devices.json" <<'PY'
import json, sys
n = int(sys.argv[1])
devs = [{"thing": "24:0a:%02x:%02x:%02x:%02x" % (i >> 24 & 255, i >> 16 & 255, i >> 8 & 255, i & 255),
         "product": "lamp", "groups": ["eu" if i % 2 else "us"]} for i in range(n)]
json.dump({"devices": devs}, open(sys.argv[2], "w"))
PY
curl -sf -H "Authorization: Bearer $OTTO_TOKEN" -H "Content-Type: application/json" \
    --data-binary @"$E2E_DIR/devices.json" "$OTTO_URL/api/v1/devices" >/dev/null
python3 - "$DATA/otto.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
db.execute("""UPDATE devices SET
  versions = json_object('esp32', CASE WHEN rowid % 10 < 7 THEN '1.1.0' WHEN rowid % 10 < 9 THEN '1.0.0' ELSE '0.9.0' END,
                         'stm32', CASE WHEN rowid % 4 = 0 THEN '2.1.0' ELSE '2.0.0' END),
  online = (rowid % 3 != 0), last_seen = strftime('%s', 'now') - (rowid % 86400)""")
db.commit()
PY
[ "$(curl -sf -H "Authorization: Bearer $OTTO_TOKEN" "$OTTO_URL/api/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["devices"])')" = "$N" ] ||
    { say "the fleet is not $N devices"; exit 1; }

# time REQUEST LABEL: the median and p95 of 20 requests, in ms
time_req() {
    local url=$1 label=$2 i
    for i in $(seq 20); do
        curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $OTTO_TOKEN" "$OTTO_URL$url"
    done | python3 -c '
import sys
t = sorted(float(x) * 1000 for x in sys.stdin)
print("| %s | %.1f ms | %.1f ms |" % (sys.argv[1], t[len(t) // 2], t[int(len(t) * 0.95) - 1]))' "$label"
}
last=$(python3 -c "n=$N-60; print('24:0a:%02x:%02x:%02x:%02x' % (n>>24&255, n>>16&255, n>>8&255, n&255))")
time_req "/api/v1/devices?maxResults=50&withCount=1" "fleet page 1 (50 of $N, with the count)"
time_req "/api/v1/devices?maxResults=50&withCount=1&nextToken=$last" "fleet, the last page"
time_req "/api/v1/devices?maxResults=50&withCount=1&q=ab:c" "fleet, search by name"
time_req "/api/v1/devices?maxResults=50&withCount=1&version=0.9.0" "fleet, filter by version (10 %)"
time_req "/api/v1/devices?maxResults=50&withCount=1&status=offline&group=eu" "fleet, offline in a group"
time_req "/api/v1/stats" "overview: versions, connected, failures"

if [ -x /usr/bin/chromium ] && [ -d "$BUILD/web-npm/node_modules/playwright-core" ]; then
    cat >"$E2E_DIR/page.mjs" <<'JS'
import { createRequire } from "node:module";
const { chromium } = createRequire(`${process.env.WEB_NPM}/`)("playwright-core");
const b = await chromium.launch({ executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"] });
const times = [];
for (let i = 0; i < 5; i++) {
  const ctx = await b.newContext({ ignoreHTTPSErrors: true });
  const p = await ctx.newPage();
  await p.goto(process.env.OTTO_URL + "/#/fleet");
  await p.fill("#token", process.env.OTTO_TOKEN);
  const t0 = Date.now();
  await p.click("#login-form button"); // signs in, then the fleet page
  await p.waitForSelector("#devices tbody tr:nth-child(50)");
  times.push(Date.now() - t0);
  await ctx.close();
}
await b.close();
times.sort((a, b) => a - b);
console.log(`| the fleet page in Chromium: sign in, then 50 rows drawn | ${times[2]} ms | ${times[4]} ms (max of 5) |`);
JS
    OTTO_URL=$OTTO_URL OTTO_TOKEN=$OTTO_TOKEN WEB_NPM=$BUILD/web-npm node "$E2E_DIR/page.mjs"
else
    say "no Chromium or playwright-core: the browser row is left out"
fi
