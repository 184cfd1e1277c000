# Helpers for the end-to-end tests: the services (scripts/services.sh), ok/FAIL
# bookkeeping, a JSON getter and mq, one device request over MQTT.
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/services.sh"

# Test bookkeeping: ok/fail lines and a summary.
E2E_FAILS=0
E2E_OKS=0
ok() { E2E_OKS=$((E2E_OKS + 1)); echo "ok   - $*"; }
not_ok() { E2E_FAILS=$((E2E_FAILS + 1)); echo "FAIL - $*"; }
check() { # check "what" command...
    local what=$1; shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}
e2e_done() {
    echo "$E2E_OKS passed, $E2E_FAILS failed"
    if [ "$E2E_FAILS" -ne 0 ]; then
        echo "--- ottod log (tail) ---"; tail -n 40 "$E2E_DIR/ottod.log" 2>/dev/null
        exit 1
    fi
}

# Read JSON on stdin and print a Python expression over it as d,
# e.g.  otto job show J --json | jget "d['counts']['SUCCEEDED']"
jget() {
    python3 -c 'import json, sys; d = json.load(sys.stdin); v = eval(sys.argv[1]); print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$1"
}

MQREQ=${MQREQ:-$BUILD/tests/mqreq}
# mq THING LEAF [PAYLOAD]: one jobs request as a device (with its own
# certificate); prints "accepted {...}".
mq() {
    "$MQREQ" -p "$BROKER_PORT" $(thing_creds "$1") -t "\$aws/things/$1/jobs/$2" -m "${3:-{\}}" -w "${MQ_WAIT:-5}"
}

# fleet_bg PREFIX FACTORY ARGS...: `otto-sim fleet` of $N modules (product
# lamp) in the background as $FLEET; its table in $E2E_DIR/fleet.out, its log
# in fleet.log, the thing names in things (waited for).
fleet_bg() {
    local prefix=$1 factory=$2 creds=()
    shift 2
    rm -f "$E2E_DIR/things"
    if [ -n "${E2E_SECURE:-}" ]; then # a certificate per device, as registered at manufacture
        mkdir -p "$E2E_DIR/creds"
        "$OTTO" device add $(fleet_things "$prefix" "$N") \
            --product lamp --cert-out "$E2E_DIR/creds" -q
        creds=(--creds "$E2E_DIR/creds")
    fi
    "$BUILD/otto-sim" fleet --count "$N" --dir "$E2E_DIR/fleet" --factory "$factory" --prefix "$prefix" \
        --mqtt "127.0.0.1:$BROKER_PORT" --product lamp --things-file "$E2E_DIR/things" \
        --trust "${OTTO_SIGN_KEY%.pem}.pub.pem" "${creds[@]}" \
        -v "$@" >"$E2E_DIR/fleet.out" 2>>"$E2E_DIR/fleet.log" &
    FLEET=$!
    E2E_PIDS+=("$FLEET")
    wait_for test -s "$E2E_DIR/things"
}
stop_fleet() { kill "$FLEET"; wait "$FLEET" 2>/dev/null; }

# Stop the test here with a message.
bail() { echo "Bail out! $*"; exit 1; }
