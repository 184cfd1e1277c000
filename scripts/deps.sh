#!/usr/bin/env bash
# Installs every Debian package otto's build, demo, tests and benchmarks need.
# Idempotent: packages already present are skipped, so a second run is quick.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config python3
  gcc-arm-none-eabi libnewlib-arm-none-eabi   # device/ size build (Cortex-M4)
  libmbedtls-dev libjsmn-dev                  # device core: crypto, job JSON
  libcmocka-dev                               # unit tests
  clang libclang-rt-14-dev                    # libFuzzer targets (make fuzz)
  libcjson-dev libssl-dev libsqlite3-dev      # server and CLI
  openssl                                     # signatures made by openssl (tests)
  libmicrohttpd-dev libcurl4-openssl-dev      # HTTP server / device HTTP
  mosquitto mosquitto-clients libmosquitto-dev mosquitto-dev   # broker; its plugin headers (revocation)
  stm32flash socat                            # MCU relay interop
  libdivsufsort-dev                           # delta generation
  curl
  wrk nginx-light                             # benchmarks (make bench)
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
