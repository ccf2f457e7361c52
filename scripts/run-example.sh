#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine if needed, builds the flagship example and runs it.
#   scripts/run-example.sh [build-dir]        (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
scripts/setup-debian.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$(nproc)" --target relu_kernels
"$build/examples/relu_kernels"
