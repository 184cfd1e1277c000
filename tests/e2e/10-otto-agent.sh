#!/usr/bin/env bash
# otto-agent, the Linux port's agent program, updating itself against a real
# Mosquitto and ottod: its flash is a file standing in for the partition, a
# shell loop plays the supervisor (restart on exit status 10, as the systemd
# unit in docs/ does). A release whose --selftest command fails is rolled
# back and reported FAILED. The application's nvs partition is untouched.
. "$(dirname "$0")/lib.sh"
e2e_init
start_secure             # TLS: the gateway has its own certificate
AGENT=$BUILD/otto-agent
THING=24:0a:c4:10:00:01
"$OTTO" image build --version 1.0.0 --project gw --size 100K -o "$E2E_DIR/v100.bin" >/dev/null
"$OTTO" image build --version 1.1.0 --project gw --secure-version 1 --size 300K -o "$E2E_DIR/v110.bin" >/dev/null
"$OTTO" image build --version 1.2.0 --project gw --secure-version 1 --size 200K -o "$E2E_DIR/v120.bin" >/dev/null
"$BUILD/otto-sim" mkflash -o "$E2E_DIR/gw.img" --factory "$E2E_DIR/v100.bin" >/dev/null || bail "mkflash"
# The application's own NVS data: otto must never write there.
NVS_OFF=$((0x9000)); NVS_LEN=$((0x4000))
head -c $NVS_LEN /dev/urandom > "$E2E_DIR/nvs.bin"
dd if="$E2E_DIR/nvs.bin" of="$E2E_DIR/gw.img" bs=4096 seek=$((NVS_OFF / 4096)) conv=notrunc status=none
mkdir -p "$E2E_DIR/creds"
"$OTTO" device add "$THING" --group gw --product gw --cert-out "$E2E_DIR/creds" >/dev/null

# The supervisor: start it again whenever it asks (exit 10), stop otherwise.
(
    while :; do
        "$AGENT" --flash "$E2E_DIR/gw.img" --thing "$THING" --mqtt "127.0.0.1:$BROKER_PORT" --product gw \
            --trust "${OTTO_SIGN_KEY%.pem}.pub.pem" --ca "$E2E_DIR/creds/ca.crt" \
            --cert "$E2E_DIR/creds/$THING.crt" --key "$E2E_DIR/creds/$THING.key" \
            --checkpoint 16384 --selftest 'test "$OTTO_VERSION" != 1.2.0' -v
        rc=$?
        echo "supervisor: otto-agent exited $rc" >&2
        [ $rc = 10 ] || exit $rc
    done
) 2>"$E2E_DIR/agent.log" &
SUP=$!
E2E_PIDS+=("$SUP")
wait_for grep -q "runs 1.0.0 from factory" "$E2E_DIR/agent.log"

F110=$("$OTTO" fw upload -q "$E2E_DIR/v110.bin")
J=$("$OTTO" job create --device "$THING" --fw "$F110" -q)
timeout 60 "$OTTO" job watch "$J" --interval 0.2 >/dev/null; rc=$?
check "otto-agent updated itself: SUCCEEDED" test "$rc" = 0
check "it restarted through the supervisor (exit 10)" grep -q "otto-agent exited 10" "$E2E_DIR/agent.log"
check "the new image ran its self-test and confirmed itself" grep -q "self-test passed: 1.1.0 confirmed" "$E2E_DIR/agent.log"
check "the registry has 1.1.0" \
    test "$("$OTTO" device show "$THING" --json | jget "d['versions']['esp32']")" = 1.1.0

F120=$("$OTTO" fw upload -q "$E2E_DIR/v120.bin")
J=$("$OTTO" job create --device "$THING" --fw "$F120" -q)
timeout 60 "$OTTO" job watch "$J" --interval 0.2 >/dev/null
check "a release whose self-test fails: FAILED selftest_failed" \
    test "$("$OTTO" job show "$J" --json | jget "d['executions'][0]['statusDetails']['reason']")" = selftest_failed
check "... it rolled back to 1.1.0" grep -q "runs 1.1.0 from ota_0" <(tail -n 5 "$E2E_DIR/agent.log")

kill -TERM "$(pgrep -f "otto-agent --flash $E2E_DIR/gw.img")" 2>/dev/null
wait "$SUP"; rc=$?
check "SIGTERM: a clean stop, exit 0" test "$rc" = 0
check "the application's nvs partition is byte for byte as it was" \
    cmp -s <(dd if="$E2E_DIR/gw.img" bs=4096 skip=$((NVS_OFF / 4096)) count=$((NVS_LEN / 4096)) status=none) "$E2E_DIR/nvs.bin"
e2e_done
