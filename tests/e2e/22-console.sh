#!/usr/bin/env bash
# The web console in a real browser: ottod (HTTPS, tokens), Mosquitto and a
# simulated fleet as for every e2e test; Debian's Chromium, headless, driven
# by playwright-core (tests/web/console.test.mjs, node's test runner). Log
# in; the fleet page lists the fleet; upload a signed image; create a job
# with a rate from the console, pause and resume it, watch it finish live;
# a viewer sees no button that would fail; no console errors. Screenshots
# of each page land in $BUILD/artifacts/console/ (console-pg/ on PostgreSQL).
. "$(dirname "$0")/lib.sh"
e2e_init
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || bail "Chromium is needed ($CHROMIUM; scripts/deps.sh installs it)"
[ -d "$BUILD/web-npm/node_modules/playwright-core" ] || bail "playwright-core is needed (the build's npm ci: $BUILD/web-npm)"
# A test-only minute of 12 s: the job's rate of 6 a minute releases one
# device every 2 s, so it can be paused mid-rollout and still end quickly.
start_secure --minute-seconds 12
N=6
"$OTTO" image build --version 1.0.0 --project lamp --size 64K -o "$E2E_DIR/v100.bin" >/dev/null
"$OTTO" image build --version 1.1.0 --project lamp --size 72K -o "$E2E_DIR/v110.bin" >/dev/null
openssl dgst -sha256 -sign "$OTTO_SIGN_KEY" -out "$E2E_DIR/v110.sig" "$E2E_DIR/v110.bin"
fleet_bg 24:0a:c4:22 "$E2E_DIR/v100.bin"
"$OTTO" device add $(cat "$E2E_DIR/things") --group g22 --product lamp >/dev/null
"$OTTO" token create --name console-viewer --role viewer --json | jget "d['token']" >"$E2E_DIR/viewer.token"
wait_for sh -c "'$OTTO' device show '$(head -1 "$E2E_DIR/things")' --json | grep -q '\"online\": *true'"

SHOTS=$BUILD/artifacts/console${OTTO_DB:+-$OTTO_DB} # its own per backend: both may run at once
rm -rf "$SHOTS"
OTTO_URL=$OTTO_URL ADMIN_TOKEN=$OTTO_TOKEN VIEWER_TOKEN=$(cat "$E2E_DIR/viewer.token") WEB_NPM=$BUILD/web-npm \
    SHOTS=$SHOTS FW_FILE=$E2E_DIR/v110.bin FW_SIG=$E2E_DIR/v110.sig GROUP=g22 N=$N \
    FIRST=$(head -1 "$E2E_DIR/things") CHROMIUM=$CHROMIUM \
    timeout 300 node --test --test-reporter=spec "$(dirname "$0")/../web/console.test.mjs" >"$E2E_DIR/node.out" 2>&1
rc=$?
sed 's/^/    /' "$E2E_DIR/node.out"
check "the browser tests pass (node --test: $(grep -E '^. (pass|fail) ' "$E2E_DIR/node.out" | tr '\n' ' '))" test $rc = 0
for s in overview fleet firmware new-job job-paused job viewer-firmware; do
    check "screenshot $s.png" test -s "$SHOTS/$s.png"
done
check "the fleet runs 1.1.0, as the console showed" \
    test "$("$OTTO" device show "$(head -1 "$E2E_DIR/things")" --json | jget "d['versions']['esp32']")" = 1.1.0
stop_fleet
e2e_done
