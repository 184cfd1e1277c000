#!/usr/bin/env bash
# MCU relay throughput: `otto mcu flash` (device/relay over device/mcu, AN3155:
# the relay a device runs) into the STM32
# emulator whose line is paced like a real UART at 115200 and 921600 baud,
# 8E1 (11 bits a byte). The line's own limit is baud/11 bytes per second in
# one direction; the ratio shows what the protocol's turnarounds cost.
# Prints Markdown rows.
set -euo pipefail
. "$(dirname "$0")/../scripts/services.sh"
e2e_init
mcu_image 65536 "$E2E_DIR/fw.bin"
for baud in 115200 921600; do
    for mode in write verify; do
        rm -f "$E2E_DIR/tty" "$E2E_DIR/mcu.bin"
        "$BUILD/otto-sim" stm32 --pty "$E2E_DIR/tty" --flash "$E2E_DIR/mcu.bin" --baud "$baud" 2>/dev/null &
        EMU=$!
        E2E_PIDS+=("$EMU")
        wait_for test -L "$E2E_DIR/tty"
        extra=(--no-verify); [ $mode = verify ] && extra=()
        t0=$(date +%s%N)
        "$OTTO" mcu flash "$E2E_DIR/fw.bin" --port "$E2E_DIR/tty" --baud "$baud" "${extra[@]}" >/dev/null
        t1=$(date +%s%N)
        kill "$EMU"; wait "$EMU" 2>/dev/null || true
        python3 - "$baud" "$mode" "$t0" "$t1" <<'PY'
import sys
baud, mode, t0, t1 = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = (t1 - t0) / 1e9
rate = 65536 / s
limit = baud / 11
what = "erase + write" if mode == "write" else "erase + write + read-back verify"
print(f"| {baud} 8E1 | 64 KiB, {what} | {s:.2f} s | {rate:.0f} B/s | {limit:.0f} B/s | {rate / limit:.2f} |")
PY
    done
done
