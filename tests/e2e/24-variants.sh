#!/usr/bin/env bash
# Hardware variants: each device says in its hello what it is (chip, flash,
# smallest OTA slot, MCU staging partition, MCU); the registry keeps it;
# a job's --where aims it at a variant, a firmware never goes to a device
# it cannot fit, and otto job create says how many targets were left out
# and why. A continuous job judges a device joining its group the same
# way. Three variants: modules with an STM32F103 behind them, modules
# without an MCU (small flash), and a device on smaller slots (512 KiB,
# an ESP32-S3, speaking by hand).
. "$(dirname "$0")/lib.sh"
e2e_init
start_secure
N=3
"$OTTO" image build --version 1.0.0 --project lamp --size 64K -o "$E2E_DIR/v100.bin" >/dev/null
"$OTTO" image build --version 1.1.0 --project lamp --secure-version 1 --size 600K -o "$E2E_DIR/v110.bin" >/dev/null
"$OTTO" image build --version 1.2.0 --project lamp --secure-version 1 --size 64K -o "$E2E_DIR/v120.bin" >/dev/null
F110=$("$OTTO" fw upload -q "$E2E_DIR/v110.bin")
F120=$("$OTTO" fw upload -q "$E2E_DIR/v120.bin")
size=$(stat -c %s "$E2E_DIR/v110.bin")

fleet_bg 24:0a:c4:24:a0 "$E2E_DIR/v100.bin"
A=$(tr "\n" " " <"$E2E_DIR/things"); A1=$(echo $A | cut -d' ' -f1)
fleet_bg 24:0a:c4:24:b0 "$E2E_DIR/v100.bin" --no-mcu --small-flash
B=$(tr "\n" " " <"$E2E_DIR/things"); B1=$(echo $B | cut -d' ' -f1)
S=24:0a:c4:24:c0:01
"$OTTO" device add $S --product lamp >/dev/null
"$OTTO" device add $A $B $S --group g24 >/dev/null
hello() { mosquitto_pub -p "$BROKER_PORT" $(mqtls $S) -V mqttv5 -q 1 -t "otto/things/$S/hello" -m "$1"; }
hello '{"product":"lamp","versions":{"esp32":"1.0.0"},"hw":{"chip":9,"chip_rev":2,"flash":4194304,"slot":524288}}'
hw() { "$OTTO" device show "$1" --json | jget "d['hw']"; }
WAIT_S=30 wait_for sh -c "for t in $A $B $S; do '$OTTO' device show \$t --json | grep -q '\"slot\"' || exit 1; done"

check "a module says what it is: esp32, 4 MiB flash, 1 MiB slots, 944 KiB MCU staging, an STM32F103" \
    test "$(hw "$A1")" = '{"chip": "esp32", "chip_rev": 300, "flash": 4194304, "slot": 1048576, "mcufw": 966656, "mcu": "stm32f103"}'
check "a module without an MCU on 2.1 MiB of flash: no mcufw, no mcu" \
    test "$(hw "$B1")" = '{"chip": "esp32", "chip_rev": 300, "flash": 2179072, "slot": 1048576}'
check "the hand-made device: chip 9 is named esp32s3" \
    test "$("$OTTO" device show $S --json | jget "d['hw']['chip']")" = esp32s3
check "otto device show prints it" sh -c "'$OTTO' device show $A1 | grep -q '^hardware: chip=esp32 chip_rev=300 flash=4194304 slot=1048576 mcufw=966656 mcu=stm32f103'"
hello '{"product":"lamp","versions":{"esp32":"1.0.0"},"hw":{"slot":"big"}}'
sleep 0.5
check "a hello whose hw.slot is not a number: refused whole, what was stored stays" \
    test "$("$OTTO" device show $S --json | jget "d['hw']['slot']")" = 524288

# ---- filters that say what is wrong
out=$("$OTTO" job create --group g24 --fw "$F110" --where 'colour=red' 2>&1)
check "--where on a key otto does not know: refused, naming the keys" \
    sh -c "echo \"\$1\" | grep -q \"no key 'colour' (chip, chip_rev, flash, slot, mcufw, mcu)\"" _ "$out"
out=$("$OTTO" job create --group g24 --fw "$F110" --where 'chip>esp32' 2>&1)
check "--where chip>esp32: refused (names compare with = or !=)" sh -c "echo \"\$1\" | grep -q 'chip compares with = or != only'" _ "$out"
out=$("$OTTO" job create --group g24 --fw "$F120" --where 'slot>=2M' 2>&1) && bad=0 || bad=1
check "a filter no device passes: no job, saying why" \
    sh -c "[ $bad = 1 ] && echo \"\$1\" | grep -q 'every target was left out: 7 slot >= 2097152 does not hold'" _ "$out"

# ---- a job for the modules with an F103: the others are left out, and why
out=$("$OTTO" job create --group g24 --fw "$F110" --where 'mcu=stm32f103 and slot>=512K')
J=$(echo "$out" | head -1 | cut -d' ' -f1)
check "otto job create says who is left out and why" sh -c "echo \"\$1\" | grep -q '^left out 4 targets:'" _ "$out"
check "... 3 modules that report no MCU" sh -c "echo \"\$1\" | grep -q ' 3  does not report its mcu (where mcu=stm32f103 and slot>=512K)'" _ "$out"
check "... 1 device whose slot the $size-byte image does not fit (the fit needs no filter)" \
    sh -c "echo \"\$1\" | grep -q '1  the esp32 image ($size bytes) is larger than its OTA slot (524288 bytes) (e.g. $S)'" _ "$out"
timeout 120 "$OTTO" job watch "$J" --interval 0.5 >/dev/null
st=$("$OTTO" job show "$J" --json)
check "the job reached the $N F103 modules only, all SUCCEEDED" \
    test "$(echo "$st" | jget "sorted(e['thingName'] for e in d['executions'] if e['status'] == 'SUCCEEDED')")" = \
    "$(python3 -c "import json,sys; print(json.dumps(sorted(sys.argv[1:])))" $A)"
check "... and nothing was offered to the others" test "$(echo "$st" | jget "len(d['executions'])")" = $N
out=$("$OTTO" job create --device $S --fw "$F110" 2>&1) && bad=0 || bad=1
check "naming the small device alone: refused, the image would not fit" \
    sh -c "[ $bad = 1 ] && echo \"\$1\" | grep -q 'larger than its OTA slot'" _ "$out"
code=$(curl -s -o "$E2E_DIR/r.json" -w "%{http_code}" -H "Authorization: Bearer $OTTO_TOKEN" \
    -d '{"targets":{"groups":["g24"]},"firmware":["'"$F120"'"],"where":"slot>>1"}' "$OTTO_URL/api/v1/jobs")
check "REST: a malformed where is a 400 that says so" sh -c "[ $code = 400 ] && grep -q 'where: ' '$E2E_DIR/r.json'"

# ---- a continuous job for modules without an MCU: of two devices joining its group, one is taken
J2=$("$OTTO" job create --group g24new --fw "$F120" --target-selection CONTINUOUS --where 'mcu!=stm32f103 and chip=esp32' -q)
"$OTTO" device add "$A1" "$B1" --group g24new >/dev/null
wait_for grep -q "job=$J2 thing=$A1 joined a target group: left out" "$E2E_DIR/ottod.log"
check "the F103 module joining its group is left out, the log says why" \
    grep -q "job=$J2 thing=$A1 joined a target group: left out, mcu != stm32f103 does not hold" "$E2E_DIR/ottod.log"
# an execution SUCCEEDED (not the counts' key, always there); a patch is made first, then the download and the reboot
WAIT_S=60 wait_for sh -c "'$OTTO' job show $J2 --json | grep -Eq '\"status\":[[:space:]]*\"SUCCEEDED\"'"
check "... the module without one takes the job" \
    test "$("$OTTO" job show "$J2" --json | jget "[(e['thingName'], e['status']) for e in d['executions']]")" = \
    "[[\"$B1\", \"SUCCEEDED\"]]"
e2e_done
