#!/usr/bin/env bash
# Jobs that update the MCU behind each module: a fleet of simulated modules,
# each with an emulated STM32 (ROM bootloader on a real pseudo-terminal),
# against a real Mosquitto and ottod. A job with both an esp32 and an stm32
# entry under power cuts during the MCU image's download (staging) and
# during the relay over the serial line: every MCU ends with the new image,
# every module with its new firmware, and the job says how each went; the
# MCUs themselves lose power once, mid-write. Then
# an MCU-only job, the same again (already running), an older MCU image
# (REJECTED), an image for another part (REJECTED once the agent knows its
# MCU, FAILED at Get ID before, nothing erased either way), a module
# whose MCU never answers (FAILED, the module's own
# firmware untouched), a read-protected MCU (FAILED, or unprotected when
# allowed), a module without an MCU (REJECTED), and ELF/HEX
# files refused as MCU firmware at upload.
. "$(dirname "$0")/lib.sh"
e2e_init
start_secure             # TLS, a certificate per device
SIM=$BUILD/otto-sim
N=6
"$OTTO" image build --version 1.0.0 --project lamp --size 120K -o "$E2E_DIR/v100.bin" >/dev/null
"$OTTO" image build --version 1.1.0 --project lamp --size 160K -o "$E2E_DIR/v110.bin" >/dev/null
"$OTTO" image build --version 1.2.0 --project lamp --size 160K -o "$E2E_DIR/v120.bin" >/dev/null
mcu_image 48000 "$E2E_DIR/mcu200.bin"
mcu_image 30000 "$E2E_DIR/mcu210.bin"
mcu_image 20000 "$E2E_DIR/mcu190.bin"
mcufw() { "$OTTO" fw upload -q "$1" --ota-type stm32 --product lamp --version "$2" "${@:3}"; }
F110=$("$OTTO" fw upload -q "$E2E_DIR/v110.bin"); F120=$("$OTTO" fw upload -q "$E2E_DIR/v120.bin")
M200=$(mcufw "$E2E_DIR/mcu200.bin" 2.0.0); M210=$(mcufw "$E2E_DIR/mcu210.bin" 2.1.0)
M190=$(mcufw "$E2E_DIR/mcu190.bin" 1.9.0)

fleet() { fleet_bg 24:0a:c4:09 "$E2E_DIR/v100.bin" --checkpoint 8K "$@"; }
job() { "$OTTO" job create --group g9 -q "$@"; }
watch() { timeout 120 "$OTTO" job watch "$1" --interval 0.2 >/dev/null; }
count() { "$OTTO" job show "$1" --json | jget "d['counts']['$2']"; }
details() { # details JOB KEY: the set of statusDetails[KEY] over the executions
    "$OTTO" job show "$1" --json | jget "','.join(sorted(set(e['statusDetails'].get('$2', '') for e in d['executions'])))"
}
mcu_has() { # mcu_has FILE: every emulated MCU's flash starts with FILE
    local f n=0
    for f in "$E2E_DIR"/fleet/*.mcu; do
        cmp -s <(head -c "$(stat -c %s "$1")" "$f") "$1" && n=$((n + 1))
    done
    test "$n" = $N
}

# The MCU takes raw bytes at its flash's first address: the build's ELF or
# HEX output is refused at upload, with what to do instead.
printf '\177ELF\001\001\001' >"$E2E_DIR/app.elf"; head -c 4000 /dev/urandom >>"$E2E_DIR/app.elf"
printf ':020000040800F2\n:10000000' >"$E2E_DIR/app.hex"
for f in app.elf app.hex; do
    "$OTTO" fw upload "$E2E_DIR/$f" --ota-type stm32 --product lamp --version 3.0.0 >"$E2E_DIR/up.out" 2>&1; rc=$?
    check "an stm32 upload of $f is refused with how to convert it" \
        sh -c "test $rc = 1 && grep -q 'objcopy -O binary' '$E2E_DIR/up.out'"
done

fleet --cuts 2 --relay-cuts 3 --mcu-cut-op 30 --seed 5
"$OTTO" device add $(cat "$E2E_DIR/things") --group g9 --product lamp >/dev/null
J=$(job --fw "$F110" --fw "$M200")
watch "$J"; rc=$?
check "esp32 + stm32 under power cuts: every device SUCCEEDED" test "$rc.$(count "$J" SUCCEEDED)" = "0.$N"
check "... status details: stm32 updated" test "$(details "$J" stm32)" = updated
check "... status details: esp32 updated" test "$(details "$J" esp32)" = updated
check "... every MCU's flash holds the new image" mcu_has "$E2E_DIR/mcu200.bin"
check "power was cut during the relay ($(grep -c 'POWER CUT during relaying' "$E2E_DIR/fleet.log"))" \
    test "$(grep -c 'POWER CUT during relaying' "$E2E_DIR/fleet.log")" -ge 2
check "... and during staging or the download" grep -qE "POWER CUT during (staging|downloading)" "$E2E_DIR/fleet.log"
runs() { grep -c 'MCU runs its application' "$E2E_DIR/fleet.log"; }
check "every MCU was let run its new application (BOOT0 low)" \
    test "$(grep 'MCU runs its application' "$E2E_DIR/fleet.log" | awk '{ print $2 }' | sort -u | wc -l)" = $N
check "the registry knows both versions" \
    test "$("$OTTO" device show 24:0a:c4:09:00:01 --json | jget "d['versions']['esp32'] + '/' + d['versions']['stm32']")" = 1.1.0/2.0.0

J=$(job --fw "$M210")
watch "$J"
check "MCU-only job: SUCCEEDED everywhere" test "$(count "$J" SUCCEEDED)" = $N
check "... the MCUs hold 2.1.0" mcu_has "$E2E_DIR/mcu210.bin"
check "... and the registry knows, without a reboot" \
    test "$("$OTTO" device show 24:0a:c4:09:00:02 --json | jget "d['versions']['stm32']")" = 2.1.0
J=$(job --fw "$M210")
watch "$J"
check "the same again: SUCCEEDED already_running" test "$(count "$J" SUCCEEDED).$(details "$J" reason)" = "$N.already_running"
J=$(job --fw "$M190")
watch "$J"
check "an older MCU image: REJECTED outdated" test "$(count "$J" REJECTED).$(details "$J" reason)" = "$N.outdated"
mcu_image 20000 "$E2E_DIR/f407.bin"
R0=$(runs)
J=$(job --fw "$(mcufw "$E2E_DIR/f407.bin" 2.2.0 --part-id 0x413)")
watch "$J"
check "an MCU image for another part (F407 on F103s the agents have met): REJECTED mcu_wrong_part" \
    test "$(count "$J" REJECTED).$(details "$J" reason)" = "$N.mcu_wrong_part"
check "... before its download: the MCUs were not even reset" test "$(( $(runs) - R0 ))" = 0
check "... and still hold 2.1.0" mcu_has "$E2E_DIR/mcu210.bin"
stop_fleet
check "after all that, every module runs 1.1.0 and every MCU 2.1.0" \
    test "$(grep -cE ' 1\.1\.0 +2\.1\.0 ' "$E2E_DIR/fleet.out")" = $N
check "... each MCU running its application, not halted in its bootloader" \
    test "$(awk 'NR > 1 && $7 == "app"' "$E2E_DIR/fleet.out" | wc -l)" = $N
check "... though each MCU lost power mid-write once" \
    test "$(awk 'NR > 1 { s += $6 } END { print s }' "$E2E_DIR/fleet.out")" = $N

# one_device NAME ARGS...: a single simulated module as $DEV; its table in NAME.out
one_device() {
    local name=$1
    shift
    rm -f "$E2E_DIR/things"
    mkdir -p "$E2E_DIR/creds"
    "$OTTO" device add "$name" --product lamp --cert-out "$E2E_DIR/creds" -q
    "$SIM" device --flash "$E2E_DIR/$name.img" --thing "$name" --factory "$E2E_DIR/v100.bin" \
        --mqtt "127.0.0.1:$BROKER_PORT" --product lamp --things-file "$E2E_DIR/things" -v "$@" \
        --creds "$E2E_DIR/creds" \
        --trust "${OTTO_SIGN_KEY%.pem}.pub.pem" >"$E2E_DIR/$name.out" 2>>"$E2E_DIR/$name.log" &
    DEV=$!
    E2E_PIDS+=("$DEV")
    wait_for test -s "$E2E_DIR/things"
}

# A module whose MCU never answers: the job fails with the reason, and the
# module's own firmware is left alone (the MCU goes first).
one_device mute-1 --mcu-mute
J=$("$OTTO" job create --device mute-1 --fw "$F120" --fw "$M200" -q)
watch "$J"
check "an MCU that never answers: FAILED mcu_no_answer" test "$(count "$J" FAILED).$(details "$J" reason)" = "1.mcu_no_answer"
check "... stm32 failed, esp32 not started" test "$(details "$J" stm32)/$(details "$J" esp32)" = failed/not_started
check "... with the reason in words" sh -c "'$OTTO' job show '$J' --json | grep -q 'does not answer 0x7F'"
kill "$DEV"; wait "$DEV" 2>/dev/null
check "... and the module still runs 1.0.0" grep -qE "mute-1 +1\.0\.0 " "$E2E_DIR/mute-1.out"

# A module that has never relayed learns its MCU's part from Get ID: an
# image for another part FAILS there, before anything is erased, and the
# MCU runs its application again; the module's own firmware is left alone.
one_device wp-1
J=$("$OTTO" job create --device wp-1 --fw "$F120" --fw "$(mcufw "$E2E_DIR/f407.bin" 2.2.0 --part-id 0x413)" -q)
watch "$J"
check "an MCU image for another part, first met at Get ID: FAILED mcu_wrong_part" \
    test "$(count "$J" FAILED).$(details "$J" reason)" = "1.mcu_wrong_part"
check "... stm32 failed, esp32 not started" test "$(details "$J" stm32)/$(details "$J" esp32)" = failed/not_started
kill "$DEV"; wait "$DEV" 2>/dev/null
check "... the MCU was let run its application again" grep -q "wp-1 MCU runs its application" "$E2E_DIR/wp-1.log"
check "... and the module still runs 1.0.0" grep -qE "wp-1 +1\.0\.0 " "$E2E_DIR/wp-1.out"

# A read-protected MCU (RDP level 1): FAILED mcu_protected, nothing erased,
# unless the agent is allowed to unprotect it (which erases its flash).
one_device rdp-1 --mcu-rdp
J=$("$OTTO" job create --device rdp-1 --fw "$F120" --fw "$M200" -q)
watch "$J"
check "a read-protected MCU: FAILED mcu_protected" test "$(count "$J" FAILED).$(details "$J" reason)" = "1.mcu_protected"
check "... saying why" sh -c "'$OTTO' job show '$J' --json | grep -q 'read-protected (RDP level 1); unprotecting'"
kill "$DEV"; wait "$DEV" 2>/dev/null
one_device rdp-2 --mcu-rdp --mcu-unprotect
J=$("$OTTO" job create --device rdp-2 --fw "$F120" --fw "$M200" -q)
watch "$J"
check "... allowed to unprotect it: SUCCEEDED" test "$(count "$J" SUCCEEDED)" = 1
check "... the MCU holds the image" cmp -s <(head -c 48000 "$E2E_DIR/rdp-2.mcu") "$E2E_DIR/mcu200.bin"
kill "$DEV"; wait "$DEV" 2>/dev/null

# A module with no MCU behind it refuses the MCU's part of a job.
one_device solo-1 --no-mcu
J=$("$OTTO" job create --device solo-1 --fw "$F120" --fw "$M200" -q)
watch "$J"
check "a module without an MCU: REJECTED no_mcu" test "$(count "$J" REJECTED).$(details "$J" reason)" = "1.no_mcu"
kill "$DEV"; wait "$DEV" 2>/dev/null
e2e_done
