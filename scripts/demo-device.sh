#!/usr/bin/env bash
# Inside one device (make demo-device): one simulated ESP32 module, its flash a file.
#   factory v1.0.0 -> OTA v1.1.0 -> reboot -> self-test -> confirmed
#   -> power cut in the middle of the next download -> still v1.1.0
#   -> OTA v1.2.0 whose self-test fails -> rolled back to v1.1.0
#   -> a downgrade below the anti-rollback counter is refused.
# Everything it makes lives in a temporary directory that is removed at exit.
set -euo pipefail
BUILD="${1:-build}"
OTTO="$BUILD/otto"; SIM="$BUILD/otto-sim"
[ -x "$OTTO" ] && [ -x "$SIM" ] || { echo "demo: build first (make demo does)"; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$work/||g; s|$BUILD/||g"; "$@" 2>&1 | sed "s|$work/||g" || true; }

step "Build three firmware images (real ESP32 app images with descriptor and SHA-256)"
run "$OTTO" image build --project demo --version 1.0.0 --secure-version 0 --size 256K -o "$work/factory.bin"
run "$OTTO" image build --project demo --version 1.1.0 --secure-version 1 --size 256K -o "$work/v1.1.0.bin"
run "$OTTO" image build --project demo --version 1.2.0 --secure-version 1 --size 256K --selftest fail -o "$work/v1.2.0-bad.bin"

step "Make the device: 4 MiB flash with partition table, factory app, blank otadata"
run "$SIM" mkflash -o "$work/dev.img" --factory "$work/factory.bin"
run "$OTTO" part show "$work/dev.img"

step "Power on: blank otadata, so the bootloader starts the factory app"
run "$SIM" boot --flash "$work/dev.img" --run

step "The app downloads v1.1.0 into the free slot; header checked first, verified from flash, selected (NEW)"
run "$SIM" ota --flash "$work/dev.img" "$work/v1.1.0.bin"

step "Reboot: NEW -> PENDING_VERIFY; the app's self-test passes; it confirms itself and raises the eFuse"
run "$SIM" boot --flash "$work/dev.img" --run

step "Next update, but the power is cut (torn write) in the middle of the download"
run "$SIM" ota --flash "$work/dev.img" "$work/v1.2.0-bad.bin" --cut-at 30 --cut-mode torn --seed 7
run "$SIM" boot --flash "$work/dev.img" --run

step "Retry: v1.2.0 lands, boots PENDING_VERIFY, fails its self-test and rolls back"
run "$SIM" ota --flash "$work/dev.img" "$work/v1.2.0-bad.bin"
run "$SIM" boot --flash "$work/dev.img" --run

step "A downgrade below the anti-rollback counter is refused before a byte is written"
run "$SIM" ota --flash "$work/dev.img" "$work/factory.bin"

step "Power-cut sweep: cut at every flash write of both updates, clean and torn"
run "$BUILD/tests/powercut_sweep" --image-size 32K --seeds 1
printf '\nDone: v1.1.0 runs, confirmed; the failed v1.2.0 was rolled back; nothing left behind.\n'
