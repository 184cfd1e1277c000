#!/usr/bin/env bash
# Signature checks on a 1 MiB image: bench/verify.c (built as verify_bench).
set -euo pipefail
BUILD=${BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
echo "verify: 1 MiB image, job signature and Secure Boot v2 blocks" >&2
OTTO="$BUILD/otto" "$BUILD/verify_bench" "$t"
