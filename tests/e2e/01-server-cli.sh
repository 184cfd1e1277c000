#!/usr/bin/env bash
# ottod start-up (config file, flags, token), the otto CLI's commands, exit
# codes and errors, the REST API's error bodies, and a clean SIGTERM stop.
. "$(dirname "$0")/lib.sh"
e2e_init

# ---- ottod's own command line
check "ottod --help exits 0" sh -c "'$OTTOD' --help >/dev/null"
"$OTTOD" --bogus >/dev/null 2>&1; check "ottod with a bad flag exits 2" test $? -eq 2
"$OTTOD" >/dev/null 2>&1; check "ottod without --data exits 2" test $? -eq 2
"$OTTOD" --data "$E2E_DIR/plain" 2>"$E2E_DIR/err.txt"; rc=$?
check "no TLS set up and no --insecure: refused, pointing at ottod init ($rc)" \
    sh -c "[ $rc -eq 2 ] && grep -q 'ottod init' '$E2E_DIR/err.txt'"
echo "nonsense line" >"$E2E_DIR/bad.conf"
"$OTTOD" --config "$E2E_DIR/bad.conf" --data "$E2E_DIR/x" 2>"$E2E_DIR/err.txt"
check "a bad config file names its line" grep -q "bad.conf:1" "$E2E_DIR/err.txt"

# ---- --insecure, by name: runs plain, and says so loudly
P=$(free_port)
printf 'mqtt = 127.0.0.1:%s\nhttp = 127.0.0.1:%s\ninsecure = yes\n' "$(free_port)" "$P" >"$E2E_DIR/plain.conf"
"$OTTOD" --config "$E2E_DIR/plain.conf" --data "$E2E_DIR/plain" 2>"$E2E_DIR/plain.log" &
PLAIN=$!
E2E_PIDS+=("$PLAIN")
wait_for curl -sf "http://127.0.0.1:$P/healthz" -o /dev/null
check "insecure = yes in a config file: plain HTTP, logged as INSECURE" grep -q "WARN.*INSECURE" "$E2E_DIR/plain.log"
kill "$PLAIN"; wait "$PLAIN" 2>/dev/null

# ---- start from a config file (ottod init's, plus a line); flags add to it
secure_init
start_broker
cp "$DATA/ottod.conf" "$E2E_DIR/ottod.conf"
echo "log_level = debug" >>"$E2E_DIR/ottod.conf"
"$OTTOD" --config "$E2E_DIR/ottod.conf" --data "$DATA" 2>>"$E2E_DIR/ottod.log" &
OTTOD_PID=$!
E2E_PIDS+=("$OTTOD_PID")
. "$DATA/otto.env"
export CURL_CA_BUNDLE=$OTTO_CA
wait_for curl -sf "$OTTO_URL/healthz" || bail "ottod did not start"
check "operator token file is mode 0600" test "$(stat -c %a "$DATA/admin.token")" = 600
check "log_level = debug from the file applied" grep -q "DEBUG" "$E2E_DIR/ottod.log"
trust_release_key
check "/healthz says ok with the broker up" sh -c "curl -sf '$OTTO_URL/healthz' | grep -q '\"ok\"'"
"$OTTOD" --data "$DATA" 2>"$E2E_DIR/err.txt"
check "a second ottod on the same data dir is refused" grep -q "another ottod" "$E2E_DIR/err.txt"

# ---- credentials and reachability
OTTO_TOKEN= "$OTTO" fw ls >/dev/null 2>&1; check "no token: exit 2" test $? -eq 2
"$OTTO" fw ls --token wrong >/dev/null 2>"$E2E_DIR/err.txt"; rc=$?
check "wrong token: exit 3" test $rc -eq 3
check "wrong token: says so" grep -q "refused the token" "$E2E_DIR/err.txt"
"$OTTO" fw ls --url "http://127.0.0.1:$(free_port)" >/dev/null 2>&1; check "unreachable server: exit 3" test $? -eq 3
for c in "fw" "fw upload" "device" "device add" "group" "job" "job create" "job watch"; do
    check "otto $c --help" sh -c "'$OTTO' $c --help >/dev/null"
done

# ---- firmware
"$OTTO" image build --version 1.1.0 --project lamp -o "$E2E_DIR/v11.bin" >/dev/null
FW=$("$OTTO" fw upload -q "$E2E_DIR/v11.bin")
check "upload prints an id" test -n "$FW"
check "same upload again: same id" test "$("$OTTO" fw upload "$E2E_DIR/v11.bin" --json | jget "d['id']")" = "$FW"
check "version read from the image" test "$("$OTTO" fw show "$FW" --json | jget "d['version']")" = 1.1.0
check "product defaults to the project" test "$("$OTTO" fw show "$FW" --json | jget "d['product']")" = lamp
"$OTTO" fw upload "$E2E_DIR/v11.bin" --descriptor '{"product":"lamp","firmware":[{"ota_type":"esp32","md5":"00000000000000000000000000000000"}]}' 2>"$E2E_DIR/err.txt"
rc=$?; check "wrong md5 in descriptor: exit 1" test $rc -eq 1
check "wrong md5: says md5 mismatch" grep -q "md5 mismatch" "$E2E_DIR/err.txt"
head -c 5000 /dev/urandom >"$E2E_DIR/junk.bin"
"$OTTO" fw upload "$E2E_DIR/junk.bin" --descriptor '{"product":"lamp","firmware":[{"ota_type":"esp32"}]}' 2>"$E2E_DIR/err.txt"
rc=$?; check "junk as esp32: refused by the server (exit 1)" test $rc -eq 1
check "junk as esp32: says it is not an app image" grep -q "not a valid ESP32 app image" "$E2E_DIR/err.txt"
"$OTTO" fw upload "$E2E_DIR/junk.bin" 2>/dev/null; check "junk without a type: usage error" test $? -eq 2
"$OTTO" fw upload "$E2E_DIR/junk.bin" --ota-type stm32 --product lamp --version 2.0.0 2>"$E2E_DIR/err.txt"
rc=$?; check "junk as stm32: refused, no vector table (exit 1)" sh -c "test $rc = 1 && grep -q 'no vector table' '$E2E_DIR/err.txt'"
mcu_image 5000 "$E2E_DIR/mcu.bin"
MCU=$("$OTTO" fw upload -q "$E2E_DIR/mcu.bin" --ota-type stm32 --product lamp --version 2.0.0 --part-id 0X410)
check "stm32 application with its type, product, version and part" test -n "$MCU"
check "... part_id kept, in lower case" sh -c "'$OTTO' fw show '$MCU' --json | grep -qE '\"part_id\":[[:space:]]*\"0x410\"'"
"$OTTO" fw upload "$E2E_DIR/mcu.bin" --ota-type stm32 --product lamp --version 2.0.1 --part-id 0x999 2>"$E2E_DIR/err.txt"
rc=$?; check "an unknown part_id: refused, saying what it wants" sh -c "test $rc = 1 && grep -q 'part_id must name an STM32 part' '$E2E_DIR/err.txt'"
{ printf '\000\300\000\040\001\001\000\010'; head -c 4000 /dev/urandom; } >"$E2E_DIR/rc.bin"
"$OTTO" fw upload "$E2E_DIR/rc.bin" --ota-type stm32 --product lamp --version 2.0.2 --part-id 0x410 2>"$E2E_DIR/err.txt"
rc=$?; check "an image whose stack is past the part's SRAM: refused" sh -c "test $rc = 1 && grep -q 'built for another part' '$E2E_DIR/err.txt'"
cat >"$E2E_DIR/desc.json" <<JSON
{"product": "lamp", "group": "beta", "firmware": [
  {"ota_type": "esp32", "url": "https://example.invalid/a.bin", "md5": "$(md5sum <"$E2E_DIR/v11.bin" | cut -c1-32)"},
  {"ota_type": "stm32", "url": "https://example.invalid/b.bin", "md5": "ffffffffffffffffffffffffffffffff", "notes": "kept"}]}
JSON
"$OTTO" image build --version 1.1.1 --project lamp -o "$E2E_DIR/v111.bin" >/dev/null
"$OTTO" fw upload "$E2E_DIR/v11.bin" --descriptor "@$E2E_DIR/desc.json" >/dev/null 2>"$E2E_DIR/err.txt"
check "same bytes, other descriptor: refused (exists)" grep -q "already stored" "$E2E_DIR/err.txt"
"$OTTO" fw upload "$E2E_DIR/v111.bin" --descriptor "@$E2E_DIR/desc.json" 2>"$E2E_DIR/err.txt" >/dev/null
check "multi-entry descriptor without this file's md5: refused" grep -q "none has this file" "$E2E_DIR/err.txt"
check "fw ls lists both" test "$("$OTTO" fw ls -q | wc -l)" -eq 2

# ---- devices and groups
"$OTTO" device add 24:0a:c4:00:00:01 24:0a:c4:00:00:02 --group demo --product lamp >/dev/null
printf '# spares\n24:0a:c4:00:00:03\n\n24:0a:c4:00:00:04\n' >"$E2E_DIR/things.txt"
"$OTTO" device add --from "$E2E_DIR/things.txt" --group spare >/dev/null
"$OTTO" device add 24:0a:c4:00:00:01 --group spare >/dev/null
check "device ls --group demo" test "$("$OTTO" device ls --group demo -q | wc -l)" -eq 2
check "device ls --group spare" test "$("$OTTO" device ls --group spare -q | wc -l)" -eq 3
check "device in two groups" test "$("$OTTO" device show 24:0a:c4:00:00:01 --json | jget "','.join(d['groups'])")" = demo,spare
check "group ls" test "$("$OTTO" group ls --json | jget "len(d)")" -eq 2
"$OTTO" device add 'bad thing!' 2>/dev/null; check "bad thing name: exit 1" test $? -eq 1

# ---- jobs
JOB=$("$OTTO" job create --group demo --device 24:0a:c4:00:00:03 --fw "$FW" --fw "$MCU" -q --description "first")
check "job create prints an id" test -n "$JOB"
check "job has 3 executions" test "$("$OTTO" job show "$JOB" --json | jget "d['counts']['QUEUED']")" -eq 3
check "job document urls point at ottod" sh -c "'$OTTO' job show '$JOB' --json | grep -q '$OTTO_URL/fw/$FW'"
"$OTTO" job create --group nobody --fw "$FW" 2>"$E2E_DIR/err.txt"; rc=$?
check "job for an empty group: exit 1" test $rc -eq 1
check "job for an empty group: says so" grep -q "has no devices" "$E2E_DIR/err.txt"
"$OTTO" job create --fw "$FW" 2>/dev/null; check "job without targets: exit 2" test $? -eq 2
"$OTTO" fw rm "$FW" 2>"$E2E_DIR/err.txt"; rc=$?
check "fw rm while a job uses it: exit 1" test $rc -eq 1
check "fw rm refusal names the job" grep -q "$JOB" "$E2E_DIR/err.txt"
check "job ls" sh -c "'$OTTO' job ls | grep -q '$JOB'"
check "job cancel" sh -c "'$OTTO' job cancel '$JOB' --reason 'test over' >/dev/null"
check "job is CANCELED" test "$("$OTTO" job show "$JOB" --json | jget "d['status']")" = CANCELED
"$OTTO" job cancel "$JOB" 2>/dev/null; check "cancel twice: exit 1" test $? -eq 1
check "fw rm after cancel" sh -c "'$OTTO' fw rm '$FW' >/dev/null"
"$OTTO" fw show "$FW" 2>/dev/null; check "fw show after rm: exit 1" test $? -eq 1
check "artifact file removed" test -z "$(find "$DATA/artifacts" -name "$(cut -c4- <<<"$FW")*" -type f)"

# ---- REST error bodies
auth=(-H "Authorization: Bearer $OTTO_TOKEN")
code=$(curl -s -o "$E2E_DIR/r.json" -w '%{http_code}' "${auth[@]}" "$OTTO_URL/api/v1/nothing")
check "unknown endpoint: 404 with a JSON error" sh -c "[ $code = 404 ] && grep -q not_found '$E2E_DIR/r.json'"
code=$(curl -s -o "$E2E_DIR/r.json" -w '%{http_code}' "${auth[@]}" -d '{oops' "$OTTO_URL/api/v1/jobs")
check "bad JSON body: 400" test "$code" = 400
code=$(curl -s -o "$E2E_DIR/r.json" -w '%{http_code}' "${auth[@]}" -X PUT "$OTTO_URL/api/v1/jobs")
check "wrong method: 405" test "$code" = 405
code=$(curl -s -o "$E2E_DIR/r.json" -w '%{http_code}' "$OTTO_URL/api/v1/jobs")
check "no token: 401" test "$code" = 401

# ---- SIGTERM
kill -TERM "$OTTOD_PID"
for _ in $(seq 50); do kill -0 "$OTTOD_PID" 2>/dev/null || break; sleep 0.1; done
wait "$OTTOD_PID"; rc=$?
check "SIGTERM: ottod exits 0" test $rc -eq 0
check "SIGTERM: logged 'stopped'" grep -q "stopped" "$E2E_DIR/ottod.log"
e2e_done
