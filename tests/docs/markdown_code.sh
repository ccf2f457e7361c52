#!/usr/bin/env bash
# Writes the ```cpp blocks of a Markdown file, in order, as one C++ translation unit, each after
# a #line directive so that the compiler's messages point into the Markdown file. Fails when the
# file has no such block or leaves one open. Rewrites OUTPUT only when it changes (no rebuild).
#   markdown_code.sh MARKDOWN OUTPUT
set -euo pipefail
markdown=$1
output=$2
awk -v file="$markdown" '
  BEGIN { print "// Generated from " file " by tests/docs/markdown_code.sh: edit the Markdown." }
  inside && $0 == "```" { inside = 0; next }
  inside { print; next }
  $0 == "```cpp" { inside = 1; blocks++; printf "#line %d \"%s\"\n", NR + 1, file; next }
  END {
    if (inside) { print file ": a ```cpp block is not closed" > "/dev/stderr"; exit 1 }
    if (blocks == 0) { print file " has no ```cpp block" > "/dev/stderr"; exit 1 }
  }' "$markdown" > "$output.tmp"
if cmp -s "$output.tmp" "$output"; then rm "$output.tmp"; else mv "$output.tmp" "$output"; fi
