#!/usr/bin/env bash
# The MCU relay (device/relay over device/mcu, via `otto mcu flash`) against the STM32 emulator
# on a pseudo-terminal: a clean erase/write/verify/go, then the same with
# each injected fault (dropped bytes, corrupted bytes, NACKs, slow erases,
# ACKs lost after a block was programmed, the MCU losing power mid-write or
# mid-erase, BUSY bytes before ACKs),
# also on an F407 (Extended Erase, sectors), which must all end with the
# right image in the MCU's flash; and an MCU
# that never answers, which must fail with a reason.
. "$(dirname "$0")/lib.sh"
e2e_init
SIM=$BUILD/otto-sim
mcu_image 12000 "$E2E_DIR/fw.bin"
emu() {
    rm -f "$E2E_DIR/tty" "$E2E_DIR/mcu.bin"
    "$SIM" stm32 --pty "$E2E_DIR/tty" --flash "$E2E_DIR/mcu.bin" --seed 7 "$@" 2>>"$E2E_DIR/emu.log" &
    EMU=$!
    E2E_PIDS+=("$EMU")
    wait_for test -L "$E2E_DIR/tty"
}
relay() { timeout 120 "$OTTO" mcu flash "$E2E_DIR/fw.bin" --port "$E2E_DIR/tty" --retries 10 "$@" >"$E2E_DIR/out" 2>&1; }
landed() { cmp -s <(head -c 12000 "$E2E_DIR/mcu.bin") "$E2E_DIR/fw.bin"; }

for fault in "" "--drop 0.002" "--corrupt 0.002" "--nack 0.05" "--erase-ms 30" "--lose-write-ack 0.2" \
    "--part f407" "--part f407 --nack 0.05" "--cut-op 3" "--cut-op 20" "--part f407 --cut-op 1" \
    "--part f407 --cut-op 30" "--busy"; do
    emu $fault
    relay --go; rc=$?
    check "relay ${fault:-without faults}: done" test $rc = 0
    check "relay ${fault:-without faults}: the image is in the MCU's flash" landed
    kill "$EMU"; wait "$EMU" 2>/dev/null
done
# The emulator, like real STM32 flash, refuses to program a word twice: a
# block whose ACK was lost after it was programmed must be read, not resent.
check "lost write ACKs: blocks were programmed once each (none refused)" \
    sh -c "grep 'stm32:' '$E2E_DIR/emu.log' | sed -n 6p | grep -q '(0 refused'"
# The MCU lost power in those runs (a torn page, sector or block), and the
# relay went on from where it was.
check "brown-outs: the MCUs did lose power mid-operation" \
    sh -c "grep 'stm32:' '$E2E_DIR/emu.log' | sed -n '9,12p' | grep -c ' 1 power cuts' | grep -qx 4"

# Not an application for the start of flash (no vector table): refused
# before a page is erased; --any flashes it anyway.
emu
relay
head -c 6000 /dev/urandom >"$E2E_DIR/junk.bin"
timeout 60 "$OTTO" mcu flash "$E2E_DIR/junk.bin" --port "$E2E_DIR/tty" >"$E2E_DIR/out" 2>&1; rc=$?
check "a file without a vector table: exit 1, saying why" sh -c "test $rc = 1 && grep -q 'vector table' '$E2E_DIR/out'"
check "... and the MCU's application is untouched" landed
timeout 60 "$OTTO" mcu flash "$E2E_DIR/junk.bin" --port "$E2E_DIR/tty" --any >"$E2E_DIR/out" 2>&1; rc=$?
check "... --any flashes it" bash -c "test $rc = 0 && cmp -s <(head -c 6000 '$E2E_DIR/mcu.bin') '$E2E_DIR/junk.bin'"
kill "$EMU"; wait "$EMU" 2>/dev/null

# Built for a part with more SRAM (stack pointer 0x2000C000: 48 KiB, an
# F103RC) than this F103C8 has (20 KiB): refused; an F407 takes it.
{ printf '\000\300\000\040\001\001\000\010'; head -c 5992 /dev/urandom; } >"$E2E_DIR/rc.bin"
emu
timeout 60 "$OTTO" mcu flash "$E2E_DIR/rc.bin" --port "$E2E_DIR/tty" >"$E2E_DIR/out" 2>&1; rc=$?
check "an image for a part with more SRAM: exit 1, saying why" sh -c "test $rc = 1 && grep -q 'built for another part' '$E2E_DIR/out'"
kill "$EMU"; wait "$EMU" 2>/dev/null
emu --part f407
timeout 60 "$OTTO" mcu flash "$E2E_DIR/rc.bin" --port "$E2E_DIR/tty" >"$E2E_DIR/out" 2>&1; rc=$?
check "... an F407 (128 KiB) takes it" test $rc = 0
kill "$EMU"; wait "$EMU" 2>/dev/null

# A read-protected MCU (RDP level 1) is refused untouched, unless the user
# allows the unprotect, which erases all of its flash. Its flash file: an
# older application, then the option bytes with RDP set.
mcu_image 9000 "$E2E_DIR/old.bin"
emu_rdp() {
    emu
    kill "$EMU"; wait "$EMU" 2>/dev/null
    python3 -c "
d = bytearray(open('$E2E_DIR/old.bin', 'rb').read().ljust(131072, b'\xff')) + b'\x00' + b'\xff' * 15
open('$E2E_DIR/mcu.bin', 'wb').write(d)"
    rm -f "$E2E_DIR/tty"
    "$SIM" stm32 --pty "$E2E_DIR/tty" --flash "$E2E_DIR/mcu.bin" 2>>"$E2E_DIR/emu.log" &
    EMU=$!
    E2E_PIDS+=("$EMU")
    wait_for test -L "$E2E_DIR/tty"
}
emu_rdp
relay --go; rc=$?
check "a read-protected MCU: exit 1, saying why" sh -c "test $rc = 1 && grep -q 'read-protected (RDP level 1)' '$E2E_DIR/out'"
check "... and its application is untouched" cmp -s <(head -c 9000 "$E2E_DIR/mcu.bin") "$E2E_DIR/old.bin"
relay --go --unprotect; rc=$?
check "... --unprotect: done" test $rc = 0
check "... the image is in the MCU's flash" landed
kill "$EMU"; wait "$EMU" 2>/dev/null
emu_rdp
check "otto mcu unprotect: done" sh -c "'$OTTO' mcu unprotect --port '$E2E_DIR/tty' | grep -q 'read protection removed'"
check "... the flash erased" sh -c "python3 -c \"import sys; sys.exit(open('$E2E_DIR/mcu.bin','rb').read()[:131072] != b'\\xff' * 131072)\""
check "... and no longer read-protected" sh -c "! '$OTTO' mcu info --port '$E2E_DIR/tty' | grep -q 'read-protected'"
kill "$EMU"; wait "$EMU" 2>/dev/null

emu --mute
relay; rc=$?
check "an MCU that never answers: exit 1" test $rc = 1
check "... with the reason" grep -q "does not answer 0x7F" "$E2E_DIR/out"
e2e_done
