#!/usr/bin/env bash
# Cross-compile the device core for Cortex-M4 (arm-none-eabi-gcc -Os) and
# print .text/.data/.bss and the deepest stack frame per module, plus a
# Markdown table. With --check, also fail if the core pulls in malloc, free
# or printf (the core must not). mbedTLS itself is not counted: a product
# links the copy its SDK ships (ESP-IDF has one in ROM).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
check=0
[ "${1:-}" = "--check" ] && check=1

CC=arm-none-eabi-gcc
if ! command -v "$CC" >/dev/null; then
  echo "size: $CC not found; run scripts/deps.sh" >&2
  exit 1
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# Only mbedTLS's headers from the host, never the host's libc headers.
mkdir -p "$out/inc"
ln -s /usr/include/mbedtls "$out/inc/mbedtls"
ln -s /usr/include/jsmn.h "$out/inc/jsmn.h"

FLAGS=(-Os -mcpu=cortex-m4 -mthumb -ffreestanding -std=c99 -Wall -Wextra -Werror
       -ffunction-sections -fdata-sections -fstack-usage
       -I "$here/include" -I "$here/device" -isystem "$out/inc")

mods=()
for src in "$here"/device/*.c; do
  m="$(basename "$src" .c)"
  mods+=("$m")
  (cd "$out" && "$CC" "${FLAGS[@]}" -c "$src" -o "$m.o")
done

printf '\n| module | .text | .data | .bss | max stack frame |\n|---|---:|---:|---:|---:|\n' > "$out/table.md"
tt=0; td=0; tb=0
printf '%-10s %8s %8s %8s %10s\n' module text data bss stack
for m in "${mods[@]}"; do
  read -r t d b _ < <(arm-none-eabi-size "$out/$m.o" | tail -1)
  st="$(awk '{print $(NF-1)}' "$out/$m.su" | sort -n | tail -1)"
  printf '%-10s %8d %8d %8d %10s\n' "$m" "$t" "$d" "$b" "${st:-0}"
  printf '| %s | %d | %d | %d | %s |\n' "$m" "$t" "$d" "$b" "${st:-0}" >> "$out/table.md"
  tt=$((tt+t)); td=$((td+d)); tb=$((tb+b))
done
printf '%-10s %8d %8d %8d\n' total "$tt" "$td" "$tb"
printf '| **total** | **%d** | **%d** | **%d** | |\n' "$tt" "$td" "$tb" >> "$out/table.md"
cat "$out/table.md"

# What a device pays: the core linked from the entry points a device calls
# (scripts/size_device.c) with --gc-sections, and with link-time optimisation.
link() { # link OUT [extra flags]
  local o=$1; shift
  mkdir -p "$out/$o"
  for src in "$here"/device/*.c "$here/scripts/size_device.c"; do
    "$CC" "${FLAGS[@]}" "$@" -c "$src" -o "$out/$o/$(basename "$src" .c).o"
  done
  "$CC" -Os "$@" -mcpu=cortex-m4 -mthumb -nostdlib -nostartfiles -Wl,--gc-sections \
    -Wl,--unresolved-symbols=ignore-all -Wl,-e,_start -o "$out/$o.elf" "$out/$o"/*.o
  arm-none-eabi-size "$out/$o.elf" | awk 'NR==2 {print $1}'
}
echo
echo "linked as a device uses it (entry points of scripts/size_device.c, --gc-sections): $(link gc) B .text;" \
     "with -flto: $(link lto -flto) B"

# RAM the caller gives the core: the agent, and the delta decoder's all
# (state, models, buffers: a fixed size, at most 32 KiB).
(cd "$out" && "$CC" "${FLAGS[@]}" -c "$here/scripts/size_ram.c" -o ram.o)
ram() { printf "%d" "0x$(arm-none-eabi-nm -S "$out/ram.o" | awk -v s="$1" '$4 == s {print $2}')"; }
agent_ram=$(ram size_of_agent) delta_ram=$(ram size_of_delta)
echo "RAM on Cortex-M4: otto_agent_t $agent_ram B; otto_delta_t $delta_ram B (the delta decoder's whole working memory)"

if [ $check = 1 ]; then
  bad="$(arm-none-eabi-nm -u "$out"/*.o | awk '{print $2}' | grep -E '^(malloc|calloc|realloc|free|printf|sprintf|fprintf|puts)$' | sort -u || true)"
  if [ -n "$bad" ]; then
    echo "size: FAIL: the device core calls: $bad" >&2
    exit 1
  fi
  if [ "$td" -ne 0 ] || [ "$tb" -ne 0 ]; then
    echo "size: FAIL: the device core has global state (.data $td, .bss $tb)" >&2
    exit 1
  fi
  if [ "$delta_ram" -gt 32768 ]; then
    echo "size: FAIL: the delta decoder needs $delta_ram B of RAM, over 32 KiB" >&2
    exit 1
  fi
  echo "size: ok: no malloc/free/printf, no global state, delta decoder in $delta_ram B"
fi
