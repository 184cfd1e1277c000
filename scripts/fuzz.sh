#!/usr/bin/env bash
# Build the libFuzzer targets in tests/fuzz with clang and run each for
# SECONDS (default 30), starting from a small generated corpus.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-30}"
out="$here/build-fuzz"
mkdir -p "$out"
CFLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -I "$here/include" -I "$here/device" -I "$here/host")
dev=("$here"/device/*.c)
for t in part image partcsv; do
  extra=()
  [ $t = partcsv ] && extra=("$here/host/partcsv.c")
  clang "${CFLAGS[@]}" "$here/tests/fuzz/fuzz_$t.c" "${dev[@]}" "${extra[@]}" -lmbedcrypto -o "$out/fuzz_$t"
done
# seed corpora: real tables, images and CSV made by the project's own tools
make -s -C "$here" build >/dev/null
mkdir -p "$out/corpus_part" "$out/corpus_image" "$out/corpus_partcsv"
printf 'nvs,data,nvs,0x9000,0x4000\notadata,data,ota,,0x2000\nfactory,app,factory,,1M\n' > "$out/corpus_partcsv/a.csv"
"$here/build/otto" part gen "$out/corpus_partcsv/a.csv" -o "$out/corpus_part/a.bin" >/dev/null
"$here/build/otto" image build --version 1 --project p -o "$out/corpus_image/a.bin" >/dev/null
for t in part image partcsv; do
  echo "fuzz_$t: ${secs}s"
  if ! "$out/fuzz_$t" -max_total_time="$secs" -max_len=8192 "$out/corpus_$t" > "$out/fuzz_$t.log" 2>&1; then
    grep -E "ERROR|SUMMARY" "$out/fuzz_$t.log" || tail -20 "$out/fuzz_$t.log"
    echo "fuzz_$t found a crash (log: build-fuzz/fuzz_$t.log)"
    exit 1
  fi
  grep -E "Done [0-9]+ runs" "$out/fuzz_$t.log"
done
