#!/usr/bin/env bash
# The device core on Cortex-M under QEMU, with semihosting: built from
# tests/target/ with arm-none-eabi-gcc and newlib, the project's own
# start-up and linker scripts, and SHA-256/MD5 from Debian's mbedtls source
# package built for the target (fetched with apt-get source into the build
# directory, never committed). Three programs:
#   test_target.elf  Cortex-M4 (mps2-an386), unaligned accesses trapped:
#                    the core's checks, an A/B update and an agent update
#                    cut at flash operations, instructions per byte;
#   unit_target.elf  the same board: the host's cmocka suites, unchanged;
#   test_m0.elf      Cortex-M0 with 16 KiB of RAM (microbit): what fits.
# Exit status: the target's (0 all passed).
#   scripts/target.sh OTTO_BIN [OUT_DIR] [fault|perf|unit|m0|check]
#   fault: only the deliberate misaligned access (the runner exits 3);
#   check (make test): all three, then that a misaligned LDR faults on both
#   cores, so a pass is known not to come from a trap switched off; then
#   the instructions per byte of the hot paths (QEMU -icount: figures).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
otto="$1"; out="${2:-$here/build-target}"; mode="${3:-}"
CC=arm-none-eabi-gcc
for t in "$CC" qemu-system-arm python3; do
  command -v "$t" >/dev/null || { echo "target: $t is missing (scripts/deps.sh)" >&2; exit 1; }
done
mkdir -p "$out"

# Debian's mbedtls, for the target: the source package, unpacked once.
mb="$out/mbedtls"
if [ ! -f "$mb/library/sha256.c" ]; then
  echo "target: fetching Debian's mbedtls source package" >&2
  (cd "$out" && rm -rf src && mkdir src && cd src && apt-get source --download-only mbedtls >/dev/null 2>&1) ||
    { echo "target: apt-get source mbedtls failed (scripts/deps.sh adds the deb-src line)" >&2; exit 1; }
  rm -rf "$mb" && mkdir -p "$mb"
  tar xzf "$out"/src/mbedtls_*.orig.tar.gz -C "$mb" --strip-components=1
fi

# Two real app images, made by the host tool, as C arrays.
"$otto" image build --version 1.0.0 --project target --size 16K -o "$out/v100.bin" >/dev/null
"$otto" image build --version 1.1.0 --project target --secure-version 1 --size 24K -o "$out/v110.bin" >/dev/null
python3 - "$out" <<'PY'
import sys
out = sys.argv[1]
with open(out + "/images.c", "w") as c, open(out + "/images.h", "w") as h:
    h.write("#include <stdint.h>\n")
    c.write('#include "images.h"\n')
    for name in ("v100", "v110"):
        data = open("%s/%s.bin" % (out, name), "rb").read()
        h.write("extern const uint8_t img_%s[];\nextern const uint32_t img_%s_len;\n" % (name, name))
        c.write("const uint8_t img_%s[] = {%s};\nconst uint32_t img_%s_len = %d;\n" %
                (name, ",".join(str(b) for b in data), name, len(data)))
PY

mkdir -p "$out/inc" && ln -sf /usr/include/jsmn.h "$out/inc/jsmn.h"
FLAGS=(-mcpu=cortex-m4 -mthumb -mfloat-abi=soft -mno-unaligned-access -Os -g -ffunction-sections -fdata-sections
       -Wall -Wextra -Werror -I "$here/include" -I "$here/device" -I "$mb/include" -isystem "$out/inc" -I "$out"
       -I "$here/tests/target")
core() { # core LIST PREFIX CFLAGS...: mbedTLS's hashes and the device core, added to the array LIST
  local -n into=$1
  local pre=$2 f src o mbf=()
  shift 2
  for f in "$@"; do case "$f" in -W*) ;; *) mbf+=("$f") ;; esac; done
  for src in "$mb"/library/{sha256,md5,platform_util}.c; do
    o="$out/$pre-mb-$(basename "$src" .c).o"; "$CC" "${mbf[@]}" -w -c "$src" -o "$o"; into+=("$o")
  done
  for src in "$here"/device/*.c; do
    o="$out/$pre-dev-$(basename "$src" .c).o"; "$CC" "$@" -std=c99 -c "$src" -o "$o"; into+=("$o")
  done
}
objs=()     # test_target.elf: the core, its own checks, the agent's update
common=()   # both Cortex-M4 programs: the device core, mbedTLS's hashes, start-up and libc
core common m4 "${FLAGS[@]}"
tobj() { # tobj LIST SRC: the runner's own code, its object added to the array LIST
  local -n list=$1
  # libc.c is memcpy itself: the compiler must not turn its loops into calls to it.
  local o="$out/t-$(basename "$2" .c).o"
  "$CC" "${FLAGS[@]}" -std=gnu99 -fno-tree-loop-distribute-patterns -fno-builtin -c "$2" -o "$o"
  list+=("$o")
}
for src in startup libc; do tobj common "$here/tests/target/$src.c"; done
for src in "$here/tests/target/test_target.c" "$out/images.c"; do tobj objs "$src"; done
link() { # link ELF OBJS... (LD_CPU, LD_SCRIPT: the board; Cortex-M4 on mps2 by default)
  local elf=$1; shift
  "$CC" -mcpu="${LD_CPU:-cortex-m4}" -mthumb -mfloat-abi=soft -nostartfiles --specs=nano.specs -Wl,--gc-sections \
    -L "$here/tests/target" -T "$here/tests/target/${LD_SCRIPT:-mps2.ld}" -o "$out/$elf" "$@" -lc -lgcc
  arm-none-eabi-size "$out/$elf" | tail -1 | awk -v e="$elf" '{print "target: " e " text " $1 " data " $2 " bss " $3}' >&2
}
link test_target.elf "${common[@]}" "${objs[@]}"

# The host's unit suites as they are, on cmocka.h's harness, with the
# simulated flash (RAM only), the image builder and the CSV reader.
uobjs=()
for src in sys stdio cmocka; do tobj uobjs "$here/tests/target/$src.c"; done
UFLAGS=("${FLAGS[@]}" -std=gnu99 -I "$here/tests/unit" -I "$here/tests/powercut" -I "$here/sim/hw" -I "$here/host" -I "$here/ports/linux")
"$CC" "${UFLAGS[@]}" -c "$here/tests/target/unit_main.c" -o "$out/t-unit_main.o"; uobjs+=("$out/t-unit_main.o")
for t in part otadata boot image ota kv jobdoc stage mcu agent agent_power; do
  o="$out/u-$t.o"; "$CC" "${UFLAGS[@]}" -Dmain=unit_$t -c "$here/tests/unit/test_$t.c" -o "$o"; uobjs+=("$o")
done
for src in tests/unit/fixtures tests/unit/an3155_double tests/powercut/agent_world sim/hw/simflash sim/hw/simdev host/imgbuild host/partcsv; do
  o="$out/u-$(basename "$src").o"; "$CC" "${UFLAGS[@]}" -c "$here/$src.c" -o "$o"; uobjs+=("$o")
done
link unit_target.elf "${common[@]}" "${uobjs[@]}"

# What fits a Cortex-M0 with 16 KiB of RAM (QEMU microbit): the core and
# the checks that need no flash model in RAM. ARMv6-M has no unaligned
# access at all: every misaligned word or halfword access faults.
m0=()
M0FLAGS=()
for f in "${FLAGS[@]}"; do [ "$f" = -mcpu=cortex-m4 ] && M0FLAGS+=(-mcpu=cortex-m0) || M0FLAGS+=("$f"); done
core m0 m0 "${M0FLAGS[@]}"
for src in startup libc test_target; do
  o="$out/m0-t-$src.o"
  "$CC" "${M0FLAGS[@]}" -DOTTO_TARGET_SMALL -std=gnu99 -fno-tree-loop-distribute-patterns -fno-builtin \
    -c "$here/tests/target/$src.c" -o "$o"; m0+=("$o")
done
"$CC" "${M0FLAGS[@]}" -c "$out/images.c" -o "$out/m0-images.o"; m0+=("$out/m0-images.o")
LD_CPU=cortex-m0 LD_SCRIPT=microbit.ld link test_m0.elf "${m0[@]}"

run() { # run [fault|perf|unit|m0|m0-fault]
  local elf=test_target.elf machine=mps2-an386
  [ "${1:-}" = unit ] && elf=unit_target.elf
  case "${1:-}" in m0*) elf=test_m0.elf machine=microbit ;; esac
  local a=(-M "$machine" -nographic -monitor none -serial none -kernel "$out/$elf"
           -semihosting-config "enable=on,target=native,arg=test_target${1:+,arg=${1#m0-}}")
  local rc=0
  [ "${1:-}" = perf ] && a+=(-icount shift=0) # virtual time counts instructions
  timeout 300 qemu-system-arm "${a[@]}" || rc=$?
  [ "$rc" = 124 ] && echo "target: QEMU timed out (a hang counts as a failure)" >&2
  return "$rc"
}
case "$mode" in
fault) run fault ;;
perf) run perf ;;
unit) run unit ;;
m0) run m0 ;;
check)
  run
  run unit
  run m0
  rc=0; run m0-fault >"$out/fault-m0.txt" 2>&1 || rc=$?
  cat "$out/fault-m0.txt"
  if [ "$rc" = 3 ] && grep -q "FAULT: HardFault" "$out/fault-m0.txt"; then
    echo "target: the Cortex-M0 faults on a misaligned LDR (HardFault; the runner exited 3)"
  else
    echo "target: FAILED: a misaligned LDR on the Cortex-M0 did not fault as it must (exit $rc)" >&2
    exit 1
  fi
  rc=0; run fault >"$out/fault.txt" 2>&1 || rc=$?
  cat "$out/fault.txt"
  if [ "$rc" = 3 ] && grep -q "FAULT: UsageFault (unaligned access)" "$out/fault.txt"; then
    echo "target: the unaligned-access trap works (a misaligned LDR faulted; the runner exited 3)"
    run perf
  else
    echo "target: FAILED: a misaligned LDR did not fault as it must (exit $rc)" >&2
    exit 1
  fi ;;
*) run ;;
esac
