#!/usr/bin/env bash
# Installs the Debian 12 packages reasonsaver needs to build and run (as root, or via sudo);
# `scripts/install-deps.sh --test` also those its test suite needs. Does nothing when they are all
# present already.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  stunnel4 openssl  # the TLS proxy for a rediss:// Redis (hiredis 0.14 has no TLS), test CAs
  libzmq3-dev libmsgpack-dev libhiredis-dev libcurl4-openssl-dev libjansson-dev libfyaml-dev
  libmicrohttpd-dev libcmocka-dev libxxhash-dev libpcre2-dev libssl-dev libopenblas-dev
  libzstd-dev  # record compression (coordinator/recpack.c), .zst datasets (common/dsource.c)
  zlib1g-dev libcsv-dev  # .gz datasets (common/dsource.c), CSV and TSV datasets (common/csvrec.c)
  redis-server
  python3  # the build registers the integration tests with it (tests/CMakeLists.txt)
)
TEST_PACKAGES=(
  clang libfuzzer-14-dev libclang-rt-14-dev  # the fuzz targets (tests/fuzz/, RS_FUZZ=ON)
  python3-xxhash python3-zmq python3-msgpack python3-yaml tmux iproute2
  zstd  # decompresses stored records independently of the coordinator (test_compact_records)
  systemd  # systemd-analyze verify/security for the deploy/systemd units
  chromium  # headless: the report.html rendering test and the viewer's page tests
  libxml2-utils  # xmllint: the JUnit file checked against tests/integration/junit.xsd
)
[ "${1:-}" = "--test" ] && PACKAGES+=("${TEST_PACKAGES[@]}")

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "install-deps: missing packages (${missing[*]}); run this script as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
