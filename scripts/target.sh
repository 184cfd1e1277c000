#!/usr/bin/env bash
# The device core on a Cortex-M4 under QEMU (mps2-an386), unaligned
# accesses trapped: build tests/target/ with arm-none-eabi-gcc and newlib,
# the project's own start-up and linker script, and SHA-256/MD5 from
# Debian's mbedtls source package built for the target (fetched with
# apt-get source into the build directory, never committed); then run it
# with semihosting. Exit status: the target's (0 all passed).
#   scripts/target.sh OTTO_BIN [OUT_DIR] [fault|check]
#   fault: only the deliberate misaligned access (the runner exits 3);
#   check (make test): the tests, then that the trap did catch a misaligned
#   LDR, so a pass is known not to come from a trap switched off; then the
#   instructions per byte of the hot paths (QEMU -icount: figures, not checks).
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
objs=()     # test_target.elf: the core, its own checks, the agent's update
common=()   # both programs: the device core, mbedTLS's hashes, start-up and libc
mbflags=()
for f in "${FLAGS[@]}"; do case "$f" in -W*) ;; *) mbflags+=("$f") ;; esac; done
for src in "$mb"/library/{sha256,md5,platform_util}.c; do
  o="$out/mb-$(basename "$src" .c).o"; "$CC" "${mbflags[@]}" -w -c "$src" -o "$o"; common+=("$o")
done
for src in "$here"/device/*.c; do
  o="$out/dev-$(basename "$src" .c).o"; "$CC" "${FLAGS[@]}" -std=c99 -c "$src" -o "$o"; common+=("$o")
done
tobj() { # tobj LIST SRC: the runner's own code, its object added to the array LIST
  local -n list=$1
  # libc.c is memcpy itself: the compiler must not turn its loops into calls to it.
  local o="$out/t-$(basename "$2" .c).o"
  "$CC" "${FLAGS[@]}" -std=gnu99 -fno-tree-loop-distribute-patterns -fno-builtin -c "$2" -o "$o"
  list+=("$o")
}
for src in startup libc; do tobj common "$here/tests/target/$src.c"; done
for src in "$here/tests/target/test_target.c" "$out/images.c"; do tobj objs "$src"; done
link() { # link ELF OBJS...
  local elf=$1; shift
  "$CC" -mcpu=cortex-m4 -mthumb -mfloat-abi=soft -nostartfiles --specs=nano.specs -Wl,--gc-sections \
    -T "$here/tests/target/mps2.ld" -o "$out/$elf" "$@" -lc -lgcc
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

run() { # run [fault|perf|unit]
  local elf=test_target.elf
  [ "${1:-}" = unit ] && elf=unit_target.elf
  local a=(-M mps2-an386 -nographic -monitor none -serial none -kernel "$out/$elf"
           -semihosting-config "enable=on,target=native,arg=test_target${1:+,arg=$1}")
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
check)
  run
  run unit
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
