#!/usr/bin/env bash
# The STM32 bootloader emulator (otto-sim stm32) against the real stm32flash
# from Debian, over a pseudo-terminal: probe, erase + write + verify, read
# back identical, Go, mass erase, read protection on and off, on an F103
# and an F407 (Extended Erase, sectors); BUSY bytes before ACKs; and an MCU
# that never answers.
# stm32flash runs with -m 8n1: a pty cannot carry parity (the kernel clears
# PARENB on it); the protocol bytes are the same as 8E1.
. "$(dirname "$0")/lib.sh"
e2e_init
command -v stm32flash >/dev/null || bail "stm32flash is missing (bash scripts/deps.sh)"
SIM=$BUILD/otto-sim
emu() { # emu [options]: start the emulator on $E2E_DIR/tty
    rm -f "$E2E_DIR/tty"
    "$SIM" stm32 --pty "$E2E_DIR/tty" --flash "$E2E_DIR/mcu.bin" "$@" 2>>"$E2E_DIR/emu.log" &
    EMU=$!
    E2E_PIDS+=("$EMU")
    wait_for test -L "$E2E_DIR/tty"
}
flash() { timeout 60 stm32flash -b 115200 -m 8n1 "$@" "$E2E_DIR/tty" >>"$E2E_DIR/stm32flash.log" 2>&1; }
head -c 37000 /dev/urandom >"$E2E_DIR/fw.bin"

emu
check "stm32flash probes it: F10x medium density" sh -c "timeout 20 stm32flash -b 115200 -m 8n1 '$E2E_DIR/tty' 2>&1 | grep -q '0x0410 (STM32F10xxx Medium-density)'"
check "stm32flash erases, writes and verifies 37000 bytes" flash -w "$E2E_DIR/fw.bin" -v -S 0x08000000
check "stm32flash reads them back" flash -r "$E2E_DIR/rb.bin" -S 0x08000000:37000
check "... identical" cmp -s "$E2E_DIR/fw.bin" "$E2E_DIR/rb.bin"
check "only the pages the image needs were erased (37 of 128)" \
    test "$(python3 -c "d=open('$E2E_DIR/mcu.bin','rb').read(); print(sum(1 for p in range(128) if d[p*1024:(p+1)*1024] != b'\xff'*1024))")" = 37
check "Go to the application" flash -g 0x08000000
check "... which runs: the bootloader answers no more" \
    sh -c "! timeout 30 stm32flash -b 115200 -m 8n1 '$E2E_DIR/tty' >/dev/null 2>&1"
kill -USR1 "$EMU" # the reset button, BOOT0 high
sleep 0.2        # the bootloader starts (and drops what came before it)
check "reset with BOOT0 high: the bootloader answers again" \
    sh -c "timeout 20 stm32flash -b 115200 -m 8n1 '$E2E_DIR/tty' 2>&1 | grep -q '0x0410'"
check "mass erase" flash -o
blank() { python3 -c "import sys; sys.exit(open('$E2E_DIR/mcu.bin','rb').read()[:131072] != b'\xff' * 131072)"; }
check "... leaves the flash blank" blank
flash -w "$E2E_DIR/fw.bin" -S 0x08000000
check "read protection on (-j)" flash -j
check "... then stm32flash cannot read the flash" \
    sh -c "! timeout 30 stm32flash -b 115200 -m 8n1 -r '$E2E_DIR/rp.bin' -S 0x08000000:256 '$E2E_DIR/tty' >/dev/null 2>&1"
check "... and otto mcu info says it is read-protected" sh -c "'$OTTO' mcu info --port '$E2E_DIR/tty' | grep -q 'read-protected (RDP level 1)'"
check "read protection off (-k)" flash -k
check "... which erased the flash" blank
check "... and it reads again" flash -r "$E2E_DIR/rp.bin" -S 0x08000000:256
kill "$EMU"; wait "$EMU" 2>/dev/null

# The F4 profile: 1 MiB in 16/64/128 KiB sectors, Extended Erase (0x44).
rm -f "$E2E_DIR/mcu.bin"
emu --part f407
check "F407: stm32flash probes it" sh -c "timeout 20 stm32flash -b 115200 -m 8n1 '$E2E_DIR/tty' 2>&1 | grep -q '0x0413 (STM32F40xxx/41xxx)'"
check "F407: write + verify with Extended Erase" flash -w "$E2E_DIR/fw.bin" -v -S 0x08000000
check "F407: read back identical" sh -c "timeout 60 stm32flash -b 115200 -m 8n1 -r '$E2E_DIR/rb4.bin' -S 0x08000000:37000 '$E2E_DIR/tty' >/dev/null 2>&1 && cmp -s '$E2E_DIR/fw.bin' '$E2E_DIR/rb4.bin'"
kill "$EMU"; wait "$EMU" 2>/dev/null

# A newer bootloader says BUSY (0x76) while it erases or programs.
rm -f "$E2E_DIR/mcu.bin"
emu --busy
check "BUSY before ACKs: stm32flash writes and verifies" flash -w "$E2E_DIR/fw.bin" -v -S 0x08000000
kill "$EMU"; wait "$EMU" 2>/dev/null

emu --mute
check "an MCU that never answers: stm32flash gives up" sh -c "! timeout 60 stm32flash -b 115200 -m 8n1 '$E2E_DIR/tty' >/dev/null 2>&1"
e2e_done
