#!/usr/bin/env bash
# Backup and restore: `otto admin backup` during a paced rollout (the
# database snapshot taken online, with the files, the CA and its key, the
# secrets and the configuration), then the server is lost (kill -9) and
# `ottod restore` brings it back into a new data directory, started on
# another HTTPS port. The fleet finishes its rollout against the restored
# server: every device SUCCEEDED, on the new release, with the
# certificates it had (no device asked for new credentials), the same
# admin token, the same signing keys.
. "$(dirname "$0")/lib.sh"
if [ "${OTTO_DB:-}" = pg ]; then
    echo "skip: on PostgreSQL the database is backed up with pg_dump (the backup carries the files)"
    exit 77
fi
e2e_init
start_secure --minute-seconds 6
N=20
rollout_images lamp 64K
fleet_bg 24:0a:c4:25 "$E2E_DIR/v100.bin"
"$OTTO" device add $(cat "$E2E_DIR/things") --group g25 --product lamp >/dev/null
J=$("$OTTO" job create --group g25 --fw "$FW_GOOD" --max-per-minute 12 -q) # 2 a second on the 6 s minute
ok_count() { "$OTTO" job show "$J" --json | jget "d['counts']['SUCCEEDED']"; }
wait_for sh -c "[ \$('$OTTO' job show $J --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"counts\"][\"SUCCEEDED\"])') -ge 4 ]"

# ---- the backup, mid-rollout
code=$(curl -s -o /dev/null -w "%{http_code}" -X POST -H "Authorization: Bearer $("$OTTO" token create --name ops \
    --role operator -q)" "$OTTO_URL/api/v1/admin/backup")
check "an operator token may not take a backup (403)" test "$code" = 403
before=$(ok_count)
out=$("$OTTO" admin backup "$E2E_DIR/otto-backup.tar.gz")
after=$(ok_count)
echo "$out"
check "otto admin backup wrote the file, mode 0600" test "$(stat -c %a "$E2E_DIR/otto-backup.tar.gz")" = 600
check "... and said what it holds: $N devices, 2 firmware, 1 job, $N executions, 1 signing key, 1 token" \
    sh -c "echo \"\$1\" | grep -q 'firmware 2 devices $N jobs 1 executions $N signingKeys 1 tokens 1'" _ "$out"
check "the rollout went on meanwhile ($before, then $after of $N SUCCEEDED)" test "$after" -lt $N
check "the backup was audited" sh -c "'$OTTO' audit | grep -q 'POST /api/v1/admin/backup'"
tar -tzf "$E2E_DIR/otto-backup.tar.gz" >"$E2E_DIR/list"
check "... it holds the manifest first, the database, the CA key, the link secret, the admin token, the artifacts" \
    sh -c "head -1 '$E2E_DIR/list' | grep -qx otto-backup.json && for f in otto.db tls/ca.key links.key admin.token ottod.conf mosquitto.conf; do grep -qx \$f '$E2E_DIR/list' || exit 1; done && grep -q '^artifacts/' '$E2E_DIR/list'"
check "... and not the live database, its lock or scratch space" sh -c "! grep -Eq '^(otto.db-wal|ottod.lock|tmp/)' '$E2E_DIR/list'"

certs() { "$OTTO" audit --max 1000 | grep -c '/cert'; }
certs_before=$(certs)
# ---- the server is lost; restored elsewhere
kill -9 "$OTTOD_PID"
wait "$OTTOD_PID" 2>/dev/null
DATA2="$E2E_DIR/restored"
mkdir -p "$DATA2" && touch "$DATA2/x"
check "restore into a directory that is not empty: refused" sh -c "! '$OTTOD' restore '$E2E_DIR/otto-backup.tar.gz' --data '$DATA2' 2>/dev/null"
rm -rf "$DATA2"
head -c 5000 "$E2E_DIR/otto-backup.tar.gz" >"$E2E_DIR/cut.tar.gz"
check "a backup cut short: refused, saying so" \
    sh -c "'$OTTOD' restore '$E2E_DIR/cut.tar.gz' --data '$E2E_DIR/cut' 2>&1 | grep -q 'damaged\|incomplete'"
out=$("$OTTOD" restore "$E2E_DIR/otto-backup.tar.gz" --data "$DATA2") || bail "restore failed: $out"
echo "$out"
check "ottod restore counted what came back as the manifest did" \
    sh -c "echo \"\$1\" | grep -q 'devices $N jobs 1 executions $N' && ! echo \"\$1\" | grep -q manifest" _ "$out"
check "the CA key, the admin token and the link secret are the same bytes" \
    sh -c "cmp -s '$DATA/tls/ca.key' '$DATA2/tls/ca.key' && cmp -s '$DATA/admin.token' '$DATA2/admin.token' && cmp -s '$DATA/links.key' '$DATA2/links.key'"
check "the configuration names the new directory, never the old" \
    sh -c "grep -q '$DATA2/' '$DATA2/ottod.conf' && ! grep -q '$DATA/' '$DATA2/ottod.conf' '$DATA2/mosquitto.conf'"
check "secrets stay private: the directory 0700, the CA key 0600" \
    sh -c "[ \$(stat -c %a '$DATA2') = 700 ] && [ \$(stat -c %a '$DATA2/tls/ca.key') = 600 ]"
P2=$(free_port)
"$OTTOD" --data "$DATA2" --http "127.0.0.1:$P2" --public-url "https://localhost:$P2" --minute-seconds 6 \
    2>>"$E2E_DIR/ottod2.log" &
OTTOD_PID=$!
E2E_PIDS+=("$OTTOD_PID")
export OTTO_URL="https://localhost:$P2"
wait_for curl -sf "$OTTO_URL/healthz" || bail "the restored ottod did not start: $(tail -5 "$E2E_DIR/ottod2.log")"
check "the same admin token works on the restored server" sh -c "'$OTTO' job show $J >/dev/null"

# ---- the fleet finishes against it
timeout 180 "$OTTO" job watch "$J" --interval 0.5 >/dev/null
st=$("$OTTO" job show "$J" --json)
check "every one of the $N devices SUCCEEDED" test "$(echo "$st" | jget "d['counts']['SUCCEEDED']")" = $N
check "... those after the backup through the restored server" grep -q "IN_PROGRESS -> SUCCEEDED" "$E2E_DIR/ottod2.log"
stop_fleet
check "... and runs 1.1.0" test "$(awk 'NR > 1 && $2 == "1.1.0"' "$E2E_DIR/fleet.out" | wc -l)" = $N
check "no device was given a certificate since ($certs_before at manufacture): the same CA, their own credentials" \
    test "$(certs)" = "$certs_before"
check "the signing key came back (firmware uploads are still checked against it)" \
    sh -c "'$OTTO' key list | grep -q release"
e2e_done
