#!/usr/bin/env bash
# The device agent's cost on a Cortex-M4 (arm-none-eabi-gcc -Os): code of
# agent + jobdoc + json + kv, and the RAM of its structs, next to the AWS IoT
# OTA + Jobs libraries' published sizes for the same job (-Os: OTA about
# 11.6 KiB, Jobs about 6.0 KiB; neither includes a key-value store).
# Prints a Markdown table.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
CC=arm-none-eabi-gcc
command -v $CC >/dev/null || { echo "agent_size: $CC missing (bash scripts/deps.sh)" >&2; exit 1; }
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
mkdir -p "$out/inc"
ln -s /usr/include/mbedtls "$out/inc/mbedtls"
ln -s /usr/include/jsmn.h "$out/inc/jsmn.h"
FLAGS=(-Os -mcpu=cortex-m4 -mthumb -ffreestanding -std=c99 -ffunction-sections -fdata-sections
       -I "$here/include" -I "$here/device" -isystem "$out/inc")
text=0
rows=""
for m in agent agent_judge agent_fetch agent_mcu agent_report record jobdoc json kv; do
  $CC "${FLAGS[@]}" -c "$here/device/$m.c" -o "$out/$m.o"
  t=$(arm-none-eabi-size "$out/$m.o" | awk 'NR==2 {print $1}')
  text=$((text + t))
  rows+="| $m | $t |"$'\n'
done
# RAM: the structs a product allocates (statically) for the agent.
cat >"$out/ram.c" <<'C'
#include "otto/agent.h"
#include "otto/kv.h"
otto_agent_t agent_ram;
otto_kv_t kv_ram;
C
$CC "${FLAGS[@]}" -c "$out/ram.c" -o "$out/ram.o"
ram() { printf '%d' "0x$(arm-none-eabi-nm -S "$out/ram.o" | awk -v s="$1" '$4 == s {print $2}')"; }
agent=$(ram agent_ram); kv=$(ram kv_ram)
stack=$(for m in agent agent_judge agent_fetch agent_mcu agent_report; do
  $CC "${FLAGS[@]}" -fstack-usage -c "$here/device/$m.c" -o "$out/s_$m.o"; done
  cat "$out"/s_*.su | awk '{print $(NF-1)}' | sort -n | tail -1)
echo "| module (Cortex-M4, -Os) | .text bytes |"
echo "|---|---:|"
printf '%s' "$rows"
echo "| **otto agent (its five modules) + record + jobdoc + json + kv** | **$text ($(awk -v t=$text 'BEGIN{printf "%.1f", t/1024}') KiB)** |"
echo "| AWS IoT OTA + Jobs libraries, published (-Os) | 17.6 KiB (11.6 + 6.0), without a key-value store |"
echo
echo "| RAM | bytes |"
echo "|---|---:|"
echo "| otto_agent_t (job, OTA writer, MD5 + SHA-256 contexts, JSON tokens, out buffers) | $agent |"
echo "| otto_kv_t | $kv |"
echo "| deepest agent stack frame | ${stack:-?} |"
echo
echo "ratio of code: otto / AWS = $(awk -v t=$text 'BEGIN{printf "%.2f", t/(17.6*1024)}')"
