#!/usr/bin/env bash
# Installs what is missing, builds the normal and the ASan+UBSan trees, and runs every test
# (unit and integration) in both under ctest; then builds the fuzz tree (clang, libFuzzer: only the
# common library and tests/fuzz/) and runs each fuzz target for a fixed number of executions.
# Exit status is ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
jobs=$(nproc)
scripts/build.sh build
scripts/build.sh build-asan -DRS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
echo "== tests: normal build"
ctest --test-dir build --output-on-failure -j "$jobs"
echo "== tests: ASan+UBSan build"
ctest --test-dir build-asan --output-on-failure -j "$jobs"
echo "== tests: fuzz targets (libFuzzer, ASan+UBSan)"
scripts/build.sh build-fuzz -DRS_FUZZ=ON -DCMAKE_C_COMPILER=clang
ctest --test-dir build-fuzz --output-on-failure -j "$jobs"
