#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine if needed, builds the flagship example and runs it:
# Fashion-MNIST, NNGP/NTK kernel regression against trained finite networks at growing widths.
# It writes results/fashion_mnist.png and the CSV files behind it (--out-dir to change the
# folder). Options go to the example (--help lists them); the build folder is
# $TANGENT_BUILD_DIR (default: build).
#   scripts/run-example.sh [example options...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${TANGENT_BUILD_DIR:-build}
scripts/setup-debian.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$(nproc)" --target fashion_mnist
"$build/examples/fashion_mnist" "$@"
