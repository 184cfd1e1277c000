#!/usr/bin/env bash
# otto delta against bsdiff, zstd --patch-from and xdelta3 on every pair of
# the delta corpus (real ESP32 and STM32 releases, read where they are kept;
# never copied here): patch sizes as ratios to bsdiff's, time to make
# (otto vs bsdiff), time to apply on this host, and the decoder's RAM.
# Each of otto's patches is applied back and compared. Markdown rows on
# stdout, progress on stderr.
#   BUILD=build bash bench/delta.sh   (make bench runs it)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$here/build}
OTTO=$BUILD/otto
CORPUS=${OTTO_DELTA_CORPUS:-$here/../shared/delta-corpus}
if [ ! -f "$CORPUS/SHA256SUMS" ]; then
  echo "| (no delta corpus at $CORPUS: skipped) | | | | | | | | |"
  exit 0
fi
for t in bsdiff bspatch zstd xdelta3; do
  command -v $t >/dev/null || { echo "delta bench: $t missing (scripts/deps.sh)" >&2; exit 1; }
done
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
# the median of 3 runs of a command, in seconds
med3() { { secs "$@"; secs "$@"; secs "$@"; } | sort -n | sed -n 2p; }
ratios=()
while read -r dir a b; do
  A=$CORPUS/$dir/$a.bin B=$CORPUS/$dir/$b.bin
  echo "delta bench: $dir $a -> $b" >&2
  t_otto=$(med3 "$OTTO" delta make "$A" "$B" -o "$w/p.otdl")
  t_bsdiff=$(med3 bsdiff "$A" "$B" "$w/p.bsdiff")
  t_apply=$(med3 "$OTTO" delta apply "$A" "$w/p.otdl" -o "$w/back.bin")
  cmp -s "$w/back.bin" "$B" || { echo "delta bench: $a -> $b did not round trip" >&2; exit 1; }
  zstd -q -f -19 --long=27 --patch-from="$A" "$B" -o "$w/p.zst"
  xdelta3 -9 -f -e -s "$A" "$B" "$w/p.xd3"
  n=$(stat -c %s "$B") o=$(stat -c %s "$w/p.otdl") bs=$(stat -c %s "$w/p.bsdiff")
  z=$(stat -c %s "$w/p.zst") x=$(stat -c %s "$w/p.xd3")
  r=$(echo "$o / $bs" | bc -l)
  ratios+=("$r")
  printf '| %s %s→%s | %d | %d (%.1f %%) | %d | **%.3f** | %.2f | %.2f | %.2f s / %.2f s = %.2f | %.3f s |\n' \
    "$dir" "$a" "$b" "$n" "$o" "$(echo "100 * $o / $n" | bc -l)" "$bs" "$r" "$(echo "$z / $bs" | bc -l)" \
    "$(echo "$x / $bs" | bc -l)" "$t_otto" "$t_bsdiff" "$(echo "$t_otto / $t_bsdiff" | bc -l)" "$t_apply"
done <<'PAIRS'
wled-esp32 0.14.1 0.14.2
wled-esp32 0.14.2 0.14.3
wled-esp32 0.14.3 0.14.4
wled-esp32 0.14.4 0.15.0
wled-esp32 0.14.2 0.14.4
marlin-skr-mini-e3-v2 2.0.6 2.0.6.1
marlin-skr-mini-e3-v2 2.0.6.1 2.0.7.2
marlin-skr-mini-e3-v2 2.0.6 2.0.7.2
PAIRS
sorted=$(printf '%s\n' "${ratios[@]}" | sort -n)
median=$(echo "$sorted" | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}')
worst=$(echo "$sorted" | tail -1)
ram=$(bash "$here/scripts/size.sh" 2>/dev/null | sed -n 's/.*otto_delta_t \([0-9]*\) B.*/\1/p')
printf '| **all pairs** | | median otto/bsdiff **%.3f**, worst %.3f | | | | | | decoder RAM on Cortex-M4: **%s B** (otto_delta_t, fixed) |\n' \
  "$median" "$worst" "${ram:-?}"
