#!/usr/bin/env bash
# The concurrency test (tests/unit/concurrency.test.cpp) built alone with ThreadSanitizer and run:
# several user threads call the library at once, and any data race fails it. OpenMP is off (GCC's
# libgomp is not instrumented, so TSan would report its own synchronisation) and the eigensolver
# is Eigen's (OpenBLAS is not instrumented either): what is checked is tangent's code.
#   scripts/thread-sanitizer.sh [build-dir]          (default: build-tsan)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-tsan}
mkdir -p "$out"
printf '#define CATCH_CONFIG_MAIN\n#include <catch2/catch.hpp>\n' > "$out/catch_main.cpp"
"${CXX:-g++}" -std=c++20 -O1 -g -fsanitize=thread -Wall -Wextra -Werror \
  -I include -I tests -isystem /usr/include/eigen3 \
  tests/unit/concurrency.test.cpp "$out/catch_main.cpp" -o "$out/concurrency_tsan"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" "$out/concurrency_tsan"
