#!/usr/bin/env bash
# A data directory made by the previous release (ottod 0.1, schema 1:
# tests/data/ottod-0.1.sql, dumped from a real one) is opened in place by
# this ottod: devices, firmware, the job and its executions are all there,
# the running execution can finish, and the schema version is today's. A
# data directory from a newer ottod is refused and left untouched. The old
# release ran without TLS: `ottod init` on its directory makes it secure,
# keeping the store and the operator's token.
. "$(dirname "$0")/lib.sh"
if [ "${OTTO_DB:-}" = pg ]; then
    echo "skip: an older release's SQLite data directory; PostgreSQL's migrations run in every PostgreSQL test"
    exit 77
fi
e2e_init
DATA=$E2E_DIR/data
mkdir -p "$DATA/artifacts/ba"
echo 0123456789abcdef0123456789abcdef >"$DATA/admin.token"   # the old release's token
python3 - "$(dirname "$0")/../data/ottod-0.1.sql" "$DATA/otto.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[2]); c.executescript(open(sys.argv[1]).read()); c.commit()
PY
# The artifact, made again by the same command (the image builder is deterministic).
"$OTTO" image build --version 1.1.0 --project lamp --secure-version 1 --size 64K -o "$E2E_DIR/v110.bin" >/dev/null
SHA=$(sha256sum "$E2E_DIR/v110.bin" | cut -d' ' -f1)
[ "$SHA" = ba4c6a7597277e4e35de785e5c64d44d6895cdd9a9a44e4d403c74cea37efd1e ] || bail "the image builder no longer makes the same bytes"
cp "$E2E_DIR/v110.bin" "$DATA/artifacts/ba/$SHA"
start_secure                  # ottod init on the old directory, then both services
check "ottod init kept the old store and the operator's token" \
    sh -c "[ \"\$OTTO_TOKEN\" = 0123456789abcdef0123456789abcdef ] && grep -q '^export OTTO_TOKEN=0123456789abcdef0123456789abcdef' '$DATA/otto.env'"
J=job-prev-1
count() { "$OTTO" job show $J --json | jget "d['counts'].get('$1', 0)"; }
check "the old job is there, with its description" \
    test "$("$OTTO" job show $J --json | jget "d['description']")" = "made by the previous release"
check "... and its executions: 1 SUCCEEDED, 1 IN_PROGRESS, 1 QUEUED" \
    test "$(count SUCCEEDED).$(count IN_PROGRESS).$(count QUEUED)" = 1.1.1
check "the devices and their group" test "$("$OTTO" device ls --json | jget "len([x for x in d if 'attic' in x['groups']])")" = 3
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Range: bytes=0-99' "$("$OTTO" fw link fw-ba4c6a759727 --thing 24:0a:c4:12:00:02)")
check "its firmware downloads, over HTTPS with a link ($code)" test "$code" = 206
r=$(mq 24:0a:c4:12:00:02 "$J/update" '{"status":"SUCCEEDED"}')
check "the execution that was running finishes" sh -c "echo '$r' | grep -q ^accepted"
schema() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select value from meta where key=\"schema\"").fetchone()[0])' "$DATA/otto.db"; }
check "the schema is upgraded to today's (9: signing keys, tokens and the audit log, job configurations, templates, waves, deltas, online, hardware)" test "$(schema)" = 9
cols=$(python3 -c 'import sqlite3,sys; print(",".join(r[1] for r in sqlite3.connect(sys.argv[1]).execute("pragma table_info(jobs)")))' "$DATA/otto.db")
check "... the old job has an empty configuration column ($cols)" sh -c "echo '$cols' | grep -q ',config$' && '$OTTO' job show job-prev-1 --json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(\"rollout\" in d)'"
tables=$(python3 -c 'import sqlite3,sys; print(",".join(r[0] for r in sqlite3.connect(sys.argv[1]).execute("select name from sqlite_master where type=\"table\" and name in (\"signing_keys\",\"tokens\",\"audit\",\"job_templates\") order by name")))' "$DATA/otto.db")
check "... with the tables each step adds ($tables)" test "$tables" = "audit,job_templates,signing_keys,tokens"
stop_ottod

# From a newer ottod: refused, untouched.
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("update meta set value=\"99\" where key=\"schema\""); c.commit()' "$DATA/otto.db"
"$OTTOD" --data "$DATA" 2>"$E2E_DIR/newer.log"
rc=$?
check "a data directory from a newer ottod: refused (exit $rc)" test "$rc" -ne 0
check "... saying so" grep -q "made by a newer ottod" "$E2E_DIR/newer.log"
check "... and its schema is still 99" test "$(schema)" = 99
e2e_done
