#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine if needed, builds tangent with its tests, and runs them all.
#   scripts/run-tests.sh [build-dir]          (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
scripts/setup-debian.sh
jobs=$(nproc)
# Asked for explicitly, so that a missing Catch2 or Google Benchmark fails here instead of
# leaving them out.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTANGENT_BUILD_TESTS=ON \
  -DTANGENT_BUILD_BENCHMARKS=ON -DTANGENT_BUILD_EXAMPLES=ON
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" -j "$jobs" --output-on-failure
