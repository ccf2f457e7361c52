#!/usr/bin/env bash
# Runs README.md's Install section as a new user would, in an empty folder with an empty $HOME
# (so neither an earlier install nor CMake's user package registry can help): a checkout of
# tangent at ./tangent, the section's commands as written (but the apt-get line, which
# scripts/setup-debian.sh has done), my_project/CMakeLists.txt from the section's cmake block (plus
# one line that tells main.cpp the block links tangent::data) and main.cpp from
# tests/package/consumer. Passes when the program prints "consumer ok".
#   readme_install.sh README SOURCE_DIR WORK_DIR CXX MAIN_CPP
set -euo pipefail
readme=$1
source_dir=$2
work=$3
export CXX=$4
main=$5

# The lines of the first ```LANG block after the line holding MARKER.
block() {
  awk -v marker="$1" -v fence="\`\`\`$2" '
    index($0, marker) { found = 1; next }
    found && !inside && $0 == fence { inside = 1; next }
    inside && $0 == "```" { exit }
    inside { print }' "$readme"
}

rm -rf "$work"
mkdir -p "$work/home" "$work/my_project"
ln -s "$source_dir" "$work/tangent"
block "<!-- install:commands -->" sh | grep -v '^sudo apt-get' > "$work/commands.sh" || true
block "<!-- install:consumer -->" cmake > "$work/my_project/CMakeLists.txt"
for file in "$work/commands.sh" "$work/my_project/CMakeLists.txt"; do
  if [ ! -s "$file" ]; then
    echo "README.md's Install section lost a marked block: $file is empty" >&2
    exit 1
  fi
done
echo 'target_compile_definitions(my_program PRIVATE CONSUMER_USES_DATA)' \
  >> "$work/my_project/CMakeLists.txt"
cp "$main" "$work/my_project/main.cpp"
cd "$work"
export HOME="$work/home"
bash -euxo pipefail commands.sh
./my_project-build/my_program
