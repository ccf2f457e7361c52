#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine if needed, builds tangent with its tests, and runs them all.
#   scripts/run-tests.sh [build-dir]          (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
scripts/setup-debian.sh
jobs=$(nproc)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" -j "$jobs" --output-on-failure
