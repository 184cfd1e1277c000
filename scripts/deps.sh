#!/usr/bin/env bash
# Installs every Debian package otto's build, demo, tests and benchmarks need.
# Idempotent: packages already present are skipped, so a second run is quick.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config python3
  gcc-arm-none-eabi libnewlib-arm-none-eabi   # device/ size build (Cortex-M4)
  qemu-system-arm                             # device core run on a Cortex-M4 (scripts/target.sh)
  libmbedtls-dev libjsmn-dev                  # device core: crypto, job JSON
  libcmocka-dev                               # unit tests
  clang libclang-rt-14-dev                    # libFuzzer targets (make fuzz)
  libcjson-dev libssl-dev libsqlite3-dev      # server and CLI
  libarchive-dev                              # ottod's backups (otto admin backup, ottod restore)
  libpq-dev postgresql                        # ottod --db postgresql://; its tests start a real server
  haproxy                                     # several ottod workers behind one address (tests/e2e/23-workers.sh)
  openssl                                     # signatures made by openssl (tests)
  libmicrohttpd-dev libcurl4-openssl-dev      # HTTP server / device HTTP
  mosquitto mosquitto-clients libmosquitto-dev mosquitto-dev   # broker; its plugin headers (revocation)
  stm32flash socat                            # MCU relay interop
  libdivsufsort-dev                           # delta generation
  curl
  wrk nginx-light                             # benchmarks (make bench)
  bsdiff xdelta3 zstd                         # the delta bench's peers (bench/delta.sh)
  chromium                                    # the web console's browser tests (tests/e2e/22-console.sh)
  prometheus                                  # promtool, and a real scrape of /metrics (tests/e2e/21-metrics.sh)
)
# The console's libraries and playwright-core come from npm at build time
# (web/package-lock.json): Node.js 20 or newer with npm. This kind of
# machine ships one; elsewhere Debian's nodejs and npm are installed.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PKGS+=(nodejs npm)
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# scripts/target.sh builds Debian's mbedtls source package for the Cortex-M
# (apt-get source, into the build directory): that needs a deb-src line.
src=/etc/apt/sources.list.d/otto-deb-src.sources
fresh_src=0
if ! grep -rqs "^Types:.*deb-src\|^deb-src " /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deps: adding a deb-src line for Debian's source packages ($src)"
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
    $SUDO tee "$src" >/dev/null
  fresh_src=1
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  [ "$fresh_src" = 1 ] && $SUDO apt-get update -qq
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
