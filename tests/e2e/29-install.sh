#!/usr/bin/env bash
# The install as docs/operations.md shows it, into a throw-away root:
# scripts/install.sh adds the system user otto to that root's passwd,
# installs the programs, runs ottod init, gives the data directory to
# otto (secrets 0600, only what the broker reads in the mosquitto group)
# and writes the two systemd units. systemd does not run here, so the test
# runs the units' commands as the units would (their User, Group, UMask),
# in a mount namespace of its own where the root's /usr/local and
# /var/lib/otto are where the units say; then a device updates through
# them over TLS. The namespace has its own PIDs: when the test ends,
# everything started in it ends too.
. "$(dirname "$0")/lib.sh"
if [ "${OTTO_DB:-}" = pg ]; then
    echo "skip: the install's store is SQLite, its default (PostgreSQL: ottod.conf's db)"
    exit 77
fi
if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
    echo "skip: installing as system services needs root and a mount namespace"
    exit 77
fi
e2e_init
R="$E2E_DIR/root"
mkdir -p "$R/etc"
cp /etc/passwd /etc/group /etc/shadow /etc/gshadow "$R/etc/" 2>/dev/null || cp /etc/passwd /etc/group "$R/etc/"
P1=$(free_port) P2=$(free_port)
out=$(bash "$(dirname "$0")/../../scripts/install.sh" --build "$BUILD" --root "$R" --mqtt "127.0.0.1:$P1" \
    --http "127.0.0.1:$P2" --public-url "https://localhost:$P2" --name localhost 2>&1) || bail "install failed: $out"
echo "$out"
check "a system user otto in the root's passwd (no login, a system uid), none on this machine" \
    sh -c "awk -F: '\$1 == \"otto\" && \$3 < 1000 && \$7 == \"/usr/sbin/nologin\"' '$R/etc/passwd' | grep -q . && ! grep -q '^otto:' /etc/passwd"
uid=$(awk -F: '$1 == "otto" {print $3}' "$R/etc/passwd"); gid=$(awk -F: '$1 == "otto" {print $4}' "$R/etc/passwd")
D="$R/var/lib/otto"
check "the data directory is otto's, 0750, the broker's group may enter" \
    test "$(stat -c '%u %a %G' "$D")" = "$uid 750 mosquitto"
check "the CA key, the admin token and otto.env: otto's alone (0600)" \
    test "$(stat -c '%u%a' "$D/tls/ca.key" "$D/admin.token" "$D/otto.env" | sort -u)" = "${uid}600"
check "what the broker reads is in its group, 0640: its certificate and key, the CA, the ACL, its config" \
    test "$(stat -c '%G %a' "$D/tls/server.key" "$D/tls/ca.crt" "$D/acl" "$D/mosquitto.conf" | sort -u)" = "mosquitto 640"
check "nothing in the data directory is readable by others" test -z "$(find "$D" -perm /o=r)"
check "the configuration names /var/lib/otto, not the staging root" \
    sh -c "grep -q '/var/lib/otto/tls' '$D/ottod.conf' && ! grep -rq '$R' '$D'"
unit() { sed -n "s/^$2=//p" "$R/etc/systemd/system/$1"; }
check "otto.service runs ottod as otto, hardened, with only its data directory writable" \
    sh -c "[ '$(unit otto.service User)' = otto ] && [ '$(unit otto.service ProtectSystem)' = strict ] && [ '$(unit otto.service ReadWritePaths)' = /var/lib/otto ] && [ '$(unit otto.service NoNewPrivileges)' = yes ]"
check "otto-mosquitto.service runs the broker as mosquitto with ottod init's configuration" \
    test "$(unit otto-mosquitto.service User) $(unit otto-mosquitto.service ExecStart)" = "mosquitto /usr/sbin/mosquitto -c /var/lib/otto/mosquitto.conf"
check "the broker loads otto's revocation plugin from where it was installed" \
    grep -q '^plugin /usr/local/lib/otto/mosquitto_otto.so' "$D/mosquitto.conf"

# ---- the units' commands, as the units run them, where they say
muid=$(id -u mosquitto); mgid=$(id -g mosquitto)
cat >"$E2E_DIR/ns.sh" <<NS
set -e
mount --bind "$R/usr/local" /usr/local
mount -t tmpfs otto-e2e /var/lib
mkdir -p /var/lib/otto && mount --bind "$D" /var/lib/otto
umask $(unit otto.service UMask)
setpriv --reuid=$muid --regid=$mgid --clear-groups $(unit otto-mosquitto.service ExecStart) 2>>"$E2E_DIR/mosquitto.log" &
sleep 0.5
setpriv --reuid=$uid --regid=$gid --clear-groups $(unit otto.service ExecStart) 2>>"$E2E_DIR/ottod.log" &
wait
NS
unshare -m --pid --fork --kill-child bash "$E2E_DIR/ns.sh" &
E2E_PIDS+=($!)
BROKER_PORT=$P1
export OTTO_URL="https://localhost:$P2" OTTO_TOKEN=$(cat "$D/admin.token") OTTO_CA="$D/tls/ca.crt"
export CURL_CA_BUNDLE=$OTTO_CA SSL_CERT_FILE=$OTTO_CA
DATA=$D # the CA, for device certificates made here
E2E_SECURE=1
wait_for curl -sf "$OTTO_URL/healthz" || bail "ottod did not start as the unit runs it: $(tail -3 "$E2E_DIR/ottod.log")"
uids() { ps -o uid= -p "$(pgrep -d, -f "$1")" | tr -d ' ' | sort -u; } # this test's, not other tests' running beside it
check "ottod runs as otto" test "$(uids "ottod --data /var/lib/otto")" = "$uid"
check "the broker runs as mosquitto" test "$(uids "mosquitto -c /var/lib/otto/mosquitto.conf")" = "$muid"
trust_release_key
N=2
"$OTTO" image build --version 1.0.0 --project lamp --size 64K -o "$E2E_DIR/v100.bin" >/dev/null
"$OTTO" image build --version 1.1.0 --project lamp --size 64K -o "$E2E_DIR/v110.bin" >/dev/null
F=$("$OTTO" fw upload -q "$E2E_DIR/v110.bin")
fleet_bg 24:0a:c4:29 "$E2E_DIR/v100.bin"
"$OTTO" device add $(cat "$E2E_DIR/things") --group g29 >/dev/null
J=$("$OTTO" job create --group g29 --fw "$F" -q)
timeout 120 "$OTTO" job watch "$J" --interval 0.5 >/dev/null
check "devices update through the installed services over TLS" \
    test "$("$OTTO" job show "$J" --json | jget "d['counts']['SUCCEEDED']")" = $N
check "what ottod wrote since is otto's and private (UMask 0077)" \
    test -z "$(find "$D" -newer "$D/ottod.conf" -type f \( ! -user "$uid" -o -perm /o=r \) )"
e2e_done
