#!/usr/bin/env bash
# All of ottod's benchmarks, as one Markdown report on stdout (progress on
# stderr). Figures, not pass/fail: run on an idle machine and compare runs
# made on the same one.
#   bash bench/run.sh            (make bench does this after building)
set -euo pipefail
here=$(dirname "$0")
echo "## otto benchmarks"
echo
echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), mosquitto $(mosquitto -h 2>/dev/null | head -1 | awk '{print $3}'), everything on loopback."
echo
echo "### Jobs and the MQTT job API (ottod + Mosquitto): TLS as deployed, then plain TCP (--insecure, comparable with earlier runs)"
echo
echo "| measurement | figure |"
echo "|---|---|"
TRANSPORT=tls bash "$here/jobs.sh"
TRANSPORT=plain bash "$here/jobs.sh"
echo
echo "### Another device's reply during one device's flood of 20,000 requests (TLS, then plain TCP)"
echo
echo "| ottod | median reply during the flood | ratio to idle | requests dropped |"
echo "|---|---|---|---|"
TRANSPORT=tls bash "$here/flood.sh"
TRANSPORT=plain bash "$here/flood.sh"
echo
echo "### Several workers: the job API on each store (plain TCP, --insecure; 10,000 devices, 64 requests in flight)"
echo
echo "| store | start-next + 2 updates, requests/s | get, requests/s | ottod CPU ms per request (walk / get) |"
echo "|---|---|---|---|"
bash "$here/workers.sh"
echo
echo "### Retention: a year of weekly releases to 10,000 devices (ottod's test clock; plain TCP, --insecure)"
echo
echo "| when | store |"
echo "|---|---|"
bash "$here/retention.sh"
echo
echo "### Firmware downloads: ottod against nginx, same file, same wrk load (plain HTTP, --insecure; HTTPS rows below)"
echo
echo "| file, concurrency | ottod | nginx | ottod/nginx |"
echo "|---|---|---|---|"
bash "$here/download.sh"
OTTO_DB=pg bash "$here/download.sh" 64 1024
echo
echo "### Fleet update: simulated devices running the real agent (otto-sim fleet; plain TCP, --insecure; TLS rows below)"
echo
echo "| fleet | result | job created to COMPLETED | rate |"
echo "|---|---|---|---|"
bash "$here/fleet.sh"
echo
echo "### Secure by default: TLS (ottod init, a certificate per device) against plain TCP (--insecure)"
echo
echo "| measurement | TLS | plain TCP | TLS/plain |"
echo "|---|---|---|---|"
bash "$here/tls.sh"
echo
echo "### Rollouts on 1,000 simulated devices (TLS; ottod's minute is 6 s here, --minute-seconds)"
echo
echo "| measurement | configured | measured | measured/configured |"
echo "|---|---|---|---|"
bash "$here/rollout.sh"
echo
echo "### Delta patches on real release pairs (../shared/delta-corpus): otto delta against bsdiff 4.3, zstd -19 --long=27 --patch-from, xdelta3 -9"
echo
echo "| pair | new image | otto patch | bsdiff | otto/bsdiff | zstd/bsdiff | xdelta3/bsdiff | time to make: otto / bsdiff | otto apply (host) |"
echo "|---|---:|---:|---:|---:|---:|---:|---|---:|"
bash "$here/delta.sh"
echo
echo "### The web console with 100,000 devices (HTTPS as deployed; median of 20 requests, Chromium median of 5)"
echo
echo "| request | median | p95 |"
echo "|---|---|---|"
bash "$here/console.sh"
echo
echo "### Signature checks on a 1 MiB image (the device's code on this host; median of 20)"
echo
echo "| check | otto (mbedTLS) | OpenSSL EVP_DigestVerify | otto/OpenSSL |"
echo "|---|---|---|---|"
bash "$here/verify.sh"
echo
echo "### The device agent on a Cortex-M4"
echo
bash "$here/agent_size.sh"
echo
echo "| hot path, run on QEMU's Cortex-M4 (mps2-an386) | instructions |"
echo "|---|---|"
bash "$here/target.sh"
echo
echo "### MCU relay over UART (AN3155), emulator line paced at the baud rate"
echo
echo "| line | transfer | time | throughput | line limit (baud/11) | ratio |"
echo "|---|---|---|---|---|---|"
bash "$here/mcu.sh"
