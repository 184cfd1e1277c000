#!/usr/bin/env bash
# Retention over a simulated year: 10,000 devices (mqbench plays them over
# one MQTT connection) take a weekly release for 52 weeks: each week a
# firmware upload, a job for all of them, and every device's start-next,
# IN_PROGRESS and SUCCEEDED (30,000 requests). ottod's test clock runs a
# week every WEEK_S seconds; its leader prunes by the default rules (jobs
# 90 days after they ended, unused firmware after 30) once a (virtual)
# day. Prints the store's size and rows at weeks 13, 26, 39 and 52 and
# how long each prune took, as Markdown rows.
#   [N=10000] [WEEKS=52] [WEEK_S=6] bash bench/retention.sh
set -euo pipefail
. "$(dirname "$0")/../scripts/services.sh"
E2E_PLAIN=1 # plain TCP, as the rows say: the store is what is measured
N=${N:-10000} WEEKS=${WEEKS:-52} WEEK_S=${WEEK_S:-6}
MQBENCH=${MQBENCH:-$BUILD/mqbench}
say() { echo "retention: $*" >&2; }
e2e_init
BROKER_MAX_QUEUED=0 start_broker
start_ottod --log-level info --clock-start 2026-01-05T00:00:00Z --clock-speed $((604800 / WEEK_S)) --no-deltas
python3 -c "for i in range($N): print('r:%06d' % i)" | register_devices r bench
db_mb() { du -cm "$DATA"/otto.db* | tail -1 | cut -f1; }
rows() { python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro", uri=True); print(" ".join(str(c.execute("select count(*) from "+t).fetchone()[0]) for t in ("jobs","executions","firmware")))' "$DATA/otto.db"; }
t0=$(date +%s%N)
for ((w = 1; w <= WEEKS; w++)); do
    "$OTTO" image build --version "1.$w.0" --project bench --size 16K -o "$E2E_DIR/fw.bin" >/dev/null
    F=$("$OTTO" fw upload -q "$E2E_DIR/fw.bin")
    J=$("$OTTO" job create --group r --fw "$F" -q)
    read -r reqs _secs rej < <("$MQBENCH" load -p "$BROKER_PORT" -x r -d "$N" -c 64 -m walk -j "$J")
    [ "$rej" = 0 ] && [ "$reqs" = $((3 * N)) ] || { echo "week $w: $reqs requests, $rej rejected" >&2; exit 1; }
    [ "$("$OTTO" job show "$J" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = COMPLETED ] ||
        { echo "week $w: the job did not complete" >&2; exit 1; }
    if (( w % 13 == 0 )); then
        read -r jobs execs fws <<<"$(rows)"
        printf '| week %d of weekly releases to %d devices | %d MB database; %d jobs, %d executions, %d firmware kept |\n' \
            "$w" "$N" "$(db_mb)" "$jobs" "$execs" "$fws"
        say "week $w: $(db_mb) MB, $jobs jobs, $execs executions"
    fi
    # the next release a week after this one (in ottod's time)
    now=$(date +%s%N); due=$((t0 + w * WEEK_S * 1000000000))
    (( now < due )) && sleep "$(python3 -c "print(($due - $now) / 1e9)")"
    (( now > due + 1000000000 )) && say "week $w ran $(( (now - due) / 1000000 )) ms over its slot"
done
grep 'pruned:' "$E2E_DIR/ottod.log" | sed 's/.*pruned: //' >"$E2E_DIR/prunes"
n=$(grep -c . "$E2E_DIR/prunes" || true)
[ "$n" -gt 0 ] || { echo "ottod never pruned" >&2; exit 1; }
python3 - "$E2E_DIR/prunes" "$n" <<'PY'
import re, sys
ms = sorted(float(re.search(r"in (\d+) ms", l).group(1)) for l in open(sys.argv[1]) if "jobs with" in l)
ex = [int(m) for l in open(sys.argv[1]) for m in re.findall(r"jobs with (\d+) executions", l)]
print("| prunes over the year (the leader's, once a day) | %s runs that removed something; %d executions in all; median %.0f ms, worst %.0f ms |"
      % (sys.argv[2], sum(ex), ms[len(ms) // 2], ms[-1]))
PY
