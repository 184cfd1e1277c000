#!/usr/bin/env bash
# The device core's hot paths on a Cortex-M4 (QEMU mps2-an386, -icount:
# virtual time counts instructions): instructions per byte or per operation,
# as Markdown rows, beside the flash sizes of make size.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
BUILD=${BUILD:-$here/build}
echo "target: building and running the device core on the Cortex-M4" >&2
bash "$here/scripts/target.sh" "$BUILD/otto" "$BUILD/target" perf 2>&1 |
    sed -n 's/^perf: \(.*\): \([0-9]*\) instructions per \(.*\)$/| \1 | \2 instructions per \3 |/p'
