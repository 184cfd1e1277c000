# Start a real Mosquitto and a real ottod on free loopback ports, and stop
# them by pid. Shared by the demo, the end-to-end tests and the benchmarks.
#
#   . scripts/services.sh
#   e2e_init                 # temp dir in $E2E_DIR, everything stopped at exit
#   start_broker             # sets BROKER_PORT, BROKER_PID
#   start_ottod [flags...]   # sets OTTO_URL, OTTO_TOKEN, OTTOD_PID, DATA
#   start_secure [flags...]  # both
#   stop_ottod [-9]
#   start_postgres           # sets PG_URL, PG_PID (OTTO_DB=pg: start_ottod does it)
#
# Secure by default: the first start runs ottod init (a CA, TLS, a
# certificate per client, the ACL) and both services run as it set them up.
# E2E_PLAIN=1 before starting gives plain TCP, an anonymous broker and
# ottod --insecure, for the benchmark rows labelled so.
#   register_devices GROUP PRODUCT < names
#
# Binaries come from $BUILD (default build/).

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$E2E_ROOT/build}
OTTO=${OTTO:-$BUILD/otto}
OTTOD=${OTTOD:-$BUILD/ottod}
E2E_PIDS=()
E2E_MOUNTS=()
E2E_PG_DIRS=()

# mcu_image SIZE FILE: an STM32 application of SIZE bytes for 0x08000000: a
# vector table (stack pointer 0x20005000, reset handler 0x08000101), then
# random bytes. What the MCU relay accepts as an application.
mcu_image() {
    { printf '\000\120\000\040\001\001\000\010'; head -c $(($1 - 8)) /dev/urandom; } >"$2"
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

e2e_cleanup() {
    local pid
    for pid in "${E2E_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${E2E_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    for m in "${E2E_MOUNTS[@]}"; do # filesystems a test made for itself (a small tmpfs)
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    if [ -n "${E2E_KEEP:-}" ]; then
        echo "kept $E2E_DIR ${E2E_PG_DIRS[*]}" >&2
    else
        rm -rf "$E2E_DIR" "${E2E_PG_DIRS[@]}"
    fi
    return 0    # callers may run under set -e; cleanup never fails the run
}

e2e_init() {
    E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/otto-e2e.XXXXXX")
    trap e2e_cleanup EXIT
    trap 'exit 130' INT TERM
}

# Wait until "$@" succeeds (up to $WAIT_S seconds, default 10).
wait_for() {
    local i
    for i in $(seq $((${WAIT_S:-10} * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# connected_clients: how many TCP connections the broker has accepted and
# holds (established, on BROKER_PORT), from /proc/net/tcp{,6}.
connected_clients() {
    awk -v p="$(printf '%04X' "$BROKER_PORT")" \
        'FNR > 1 { split($2, a, ":"); if (a[2] == p && $4 == "01") n++ } END { print n + 0 }' /proc/net/tcp /proc/net/tcp6
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_broker() {
    if [ -z "${E2E_PLAIN:-}" ]; then
        secure_init || return 1
        mosquitto -c "$DATA/mosquitto.conf" 2>>"$E2E_DIR/mosquitto.log" &
    else
        BROKER_PORT=${BROKER_PORT:-$(free_port)}
        cat >"$E2E_DIR/mosquitto.conf" <<CONF
listener $BROKER_PORT 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages ${BROKER_MAX_QUEUED:-100000}
max_inflight_messages 1000
set_tcp_nodelay true
log_dest file $E2E_DIR/mosquitto.log
CONF
        # As root, Mosquitto drops privileges unless told not to; the log must
        # stay writable in our temp dir.
        [ "$(id -u)" = 0 ] && echo "user root" >>"$E2E_DIR/mosquitto.conf"
        mosquitto -c "$E2E_DIR/mosquitto.conf" 2>>"$E2E_DIR/mosquitto.log" &
    fi
    BROKER_PID=$!
    E2E_PIDS+=("$BROKER_PID")
    wait_for port_open "$BROKER_PORT" || { echo "mosquitto did not start" >&2; cat "$E2E_DIR/mosquitto.log" >&2; return 1; }
}

# secure_init: what a user's deployment is, once per run: ottod init in DATA
# (CA, certificates, ACL, mosquitto.conf, ottod.conf, otto.env) on free
# ports. Sets DATA, BROKER_PORT, HTTP_PORT, E2E_SECURE.
secure_init() {
    [ -n "${E2E_SECURE:-}" ] && return 0
    DATA=${DATA:-$E2E_DIR/data}
    BROKER_PORT=${BROKER_PORT:-$(free_port)}
    HTTP_PORT=${HTTP_PORT:-$(free_port)}
    "$OTTOD" init --data "$DATA" --mqtt "127.0.0.1:$BROKER_PORT" --http "127.0.0.1:$HTTP_PORT" \
        --name localhost >"$E2E_DIR/init.out" || { cat "$E2E_DIR/init.out" >&2; return 1; }
    # Our temp dir is not the broker user's to read: as root, stay root.
    [ "$(id -u)" = 0 ] && echo "user root" >>"$DATA/mosquitto.conf"
    # Loopback tuning, as the plain broker's (not security settings).
    printf 'log_dest file %s\nmax_queued_messages %s\nmax_inflight_messages 1000\nset_tcp_nodelay true\n' \
        "$E2E_DIR/mosquitto.log" "${BROKER_MAX_QUEUED:-100000}" >>"$DATA/mosquitto.conf"
    E2E_SECURE=1
}

# start_secure [ottod flags...]: the broker and ottod, as ottod init set
# them up; the CLI set up from otto.env (OTTO_URL/OTTO_TOKEN/OTTO_CA).
start_secure() {
    start_broker && start_ottod "$@"
}

# thing_creds THING: a certificate for THING issued by the deployment's CA
# (as a manufacturer with its own CA would), whether or not ottod knows the
# device; prints mqreq's TLS flags for it ("" on a plain run).
# rollout_images PROJECT SIZE: a factory image (v100.bin, 1.0.0), a good
# release (1.1.0, uploaded: $FW_GOOD) and one whose self-test fails
# (1.2.0, uploaded: $FW_BAD) in $E2E_DIR, for the rollout tests and bench.
rollout_images() {
    "$OTTO" image build --version 1.0.0 --project "$1" --size "$2" -o "$E2E_DIR/v100.bin" >/dev/null
    "$OTTO" image build --version 1.1.0 --project "$1" --secure-version 1 --size "$2" -o "$E2E_DIR/v110.bin" >/dev/null
    "$OTTO" image build --version 1.2.0 --project "$1" --secure-version 1 --size "$2" --selftest fail \
        -o "$E2E_DIR/bad.bin" >/dev/null
    FW_GOOD=$("$OTTO" fw upload -q "$E2E_DIR/v110.bin")
    FW_BAD=$("$OTTO" fw upload -q "$E2E_DIR/bad.bin")
}

thing_creds() {
    [ -n "${E2E_SECURE:-}" ] || return 0
    local d="$E2E_DIR/creds" f
    f="$d/$(printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_')"
    if [ ! -f "$f.crt" ]; then
        mkdir -p "$d"
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$f.key" \
            -subj "/CN=$1" 2>/dev/null |
            openssl x509 -req -CA "$DATA/tls/ca.crt" -CAkey "$DATA/tls/ca.key" -CAcreateserial \
                -days 1 -out "$f.crt" 2>/dev/null || return 1
    fi
    echo "-A $DATA/tls/ca.crt -C $f.crt -K $f.key"
}

# loadgen NAME: TLS flags (mqreq/mqbench) for a load generator playing many
# devices from one connection: a client certificate with CN NAME, which the
# broker's ACL lets use every thing's job topics (a line added by name, the
# broker told to reload it). "" on a plain run.
loadgen() {
    [ -n "${E2E_SECURE:-}" ] || return 0
    if ! grep -qx "user $1" "$DATA/acl"; then
        printf '\n# a load generator of the tests and benchmarks, by name\nuser %s\ntopic readwrite $aws/things/#\n' \
            "$1" >>"$DATA/acl"
        [ -n "${BROKER_PID:-}" ] && kill -HUP "$BROKER_PID" 2>/dev/null && sleep 0.3
    fi
    thing_creds "$1"
}

# mqtls THING: mosquitto_pub/_sub's TLS flags for THING ("" on a plain run).
mqtls() {
    local a
    a=$(thing_creds "$1") || return 1
    [ -n "$a" ] && set -- $a && echo "--cafile $2 --cert $4 --key $6"
    return 0
}

# fleet_things PREFIX N: the thing names otto-sim fleet --prefix PREFIX
# --count N gives its devices (PREFIX:00:01 ...), for certificates made
# before the fleet starts.
fleet_things() {
    local i
    for i in $(seq 1 "$2"); do printf '%s:%02x:%02x ' "$1" $((i >> 8)) $((i & 255)); done
}

# start_nginx ROOT WORKERS [CERT KEY]: nginx serving ROOT on a free loopback
# port (NPORT), sendfile on, no logs; over TLS with CERT and KEY. For the
# download benchmarks: the peer ottod is measured against.
start_nginx() {
    local root=$1 workers=$2 cert=${3:-} key=${4:-}
    local nginx; nginx=$(command -v nginx || echo /usr/sbin/nginx)
    [ -x "$nginx" ] || { echo "nginx is missing (bash scripts/deps.sh)" >&2; return 1; }
    NPORT=$(free_port)
    mkdir -p "$E2E_DIR/nginx"
    cat >"$E2E_DIR/nginx/nginx.conf" <<CONF
worker_processes $workers;
pid $E2E_DIR/nginx/nginx.pid;
error_log $E2E_DIR/nginx/error.log warn;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $E2E_DIR/nginx/body;
    proxy_temp_path $E2E_DIR/nginx/proxy;
    fastcgi_temp_path $E2E_DIR/nginx/fastcgi;
    uwsgi_temp_path $E2E_DIR/nginx/uwsgi;
    scgi_temp_path $E2E_DIR/nginx/scgi;
    server {
        listen 127.0.0.1:$NPORT${cert:+ ssl};
        ${cert:+ssl_certificate $cert; ssl_certificate_key $key;}
        root $root;
        default_type application/octet-stream;
    }
}
CONF
    "$nginx" -p "$E2E_DIR/nginx" -c "$E2E_DIR/nginx/nginx.conf" -g 'daemon off;' 2>>"$E2E_DIR/nginx/error.log" &
    E2E_PIDS+=("$!")
    wait_for port_open "$NPORT" || { echo "nginx did not start" >&2; cat "$E2E_DIR/nginx/error.log" >&2; return 1; }
}

# wrk_mibps URL THREADS CONNS SECONDS: wrk's Transfer/sec in MiB/s.
wrk_mibps() {
    wrk -t "$2" -c "$3" -d "${4}s" "$1" | awk '
        /Transfer\/sec/ { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v);
                          f = (u == "GB") ? 1024 : (u == "MB") ? 1 : (u == "KB") ? 1/1024 : 1/1048576;
                          printf "%.0f\n", v * f }'
}

stop_broker() {
    kill "$BROKER_PID" 2>/dev/null
    wait "$BROKER_PID" 2>/dev/null
}

# start_postgres: a real PostgreSQL server in a temporary directory on a
# free loopback port, for ottod --db. PostgreSQL refuses to run as root, so
# as root the cluster belongs to, and the server runs as, nobody.
# Sets PG_URL, PG_PID, PG_DIR.
start_postgres() {
    local bin as=()
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -x "$bin/postgres" ] || { echo "no PostgreSQL server (scripts/deps.sh installs postgresql-15)" >&2; return 1; }
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/otto-pg.XXXXXX")
    PG_PORT=$(free_port)
    if [ "$(id -u)" = 0 ]; then
        chown nobody "$PG_DIR"
        as=(setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env)
    fi
    "${as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U otto --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
    "${as[@]}" "$bin/postgres" -D "$PG_DIR/data" -p "$PG_PORT" -k "$PG_DIR" -c listen_addresses=127.0.0.1 \
        -c max_connections=${PG_MAX_CONNECTIONS:-100} -c shared_buffers=128MB \
        >"$PG_DIR/postgres.log" 2>&1 &
    PG_PID=$!
    E2E_PIDS+=("$PG_PID")
    PG_URL="postgresql://otto@127.0.0.1:$PG_PORT/postgres"
    wait_for "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" ||
        { echo "postgres did not start" >&2; cat "$PG_DIR/postgres.log" >&2; return 1; }
    E2E_PG_DIRS+=("$PG_DIR")
}

# store_q SQL: one query on ottod's store, whichever it is (DATA/otto.db,
# or the test's PostgreSQL); rows as "a|b".
store_q() {
    if [ "${OTTO_DB:-}" = pg ]; then
        psql -X -qAt "$PG_URL" -c "$1"
    else
        python3 -c 'import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print("|".join(map(str, r)))' "$DATA/otto.db" "$1"
    fi
}

start_ottod() {
    DATA=${DATA:-$E2E_DIR/data}
    if [ "${OTTO_DB:-}" = pg ] && [ -z "${PG_URL:-}" ]; then
        start_postgres || return 1
    fi
    OTTOD_DB_ARGS=() # for tests that start ottod themselves
    if [ "${OTTO_DB:-}" = pg ]; then
        OTTOD_DB_ARGS=(--db "$PG_URL")
        set -- --db "$PG_URL" "$@"
    fi
    if [ -n "${E2E_SECURE:-}" ]; then
        "$OTTOD" --data "$DATA" "$@" 2>>"$E2E_DIR/ottod.log" &
    else
        HTTP_PORT=${HTTP_PORT:-$(free_port)}
        "$OTTOD" --data "$DATA" --mqtt "127.0.0.1:$BROKER_PORT" --http "127.0.0.1:$HTTP_PORT" --insecure \
            "$@" 2>>"$E2E_DIR/ottod.log" &
    fi
    OTTOD_PID=$!
    E2E_PIDS+=("$OTTOD_PID")
    if [ -n "${E2E_SECURE:-}" ]; then
        . "$DATA/otto.env"
        # every curl and python client of the run trusts the deployment's CA
        export CURL_CA_BUNDLE=$OTTO_CA SSL_CERT_FILE=$OTTO_CA
    else
        export OTTO_URL="http://127.0.0.1:$HTTP_PORT"
    fi
    wait_for curl -sf "$OTTO_URL/healthz" || { echo "ottod did not start" >&2; cat "$E2E_DIR/ottod.log" >&2; return 1; }
    OTTO_TOKEN=$(cat "$DATA/admin.token")
    export OTTO_TOKEN
    trust_release_key
}

# Signed firmware by default: a release key for this run, trusted by the
# running ottod; otto fw upload signs with it (OTTO_SIGN_KEY).
trust_release_key() {
    if [ -z "${OTTO_SIGN_KEY:-}" ] || [ ! -f "$OTTO_SIGN_KEY" ]; then
        "$OTTO" key gen -o "$E2E_DIR/release.pem" >/dev/null
        export OTTO_SIGN_KEY="$E2E_DIR/release.pem"
    fi
    "$OTTO" key trust "${OTTO_SIGN_KEY%.pem}.pub.pem" --name release >/dev/null 2>&1 || true
}

stop_ottod() {
    kill "${1:--TERM}" "$OTTOD_PID" 2>/dev/null
    wait "$OTTOD_PID" 2>/dev/null
    return 0
}

# register_devices GROUP PRODUCT < names: thing names, one a line, into the
# registry through the bulk REST call, 10,000 a request.
register_devices() {
    python3 -c '
import json, sys
g, product, out = sys.argv[1], sys.argv[2], sys.argv[3]
names = [t.strip() for t in sys.stdin if t.strip()]
for c in range(0, len(names), 10000):
    with open("%s.%06d.json" % (out, c // 10000), "w") as f:
        json.dump({"devices": [{"thing": t, "product": product, "groups": [g]} for t in names[c:c + 10000]]}, f)
' "$1" "$2" "$E2E_DIR/devs" || return 1
    local f
    for f in "$E2E_DIR"/devs.*.json; do
        curl -sf -H "Authorization: Bearer $OTTO_TOKEN" --data-binary @"$f" "$OTTO_URL/api/v1/devices" >/dev/null || return 1
        rm -f "$f"
    done
}
