#!/usr/bin/env bash
# Installs the Debian packages tangent needs to build its tests, benchmarks and examples, when
# they are missing. Safe to run again: it does nothing when everything is there.
#   scripts/setup-debian.sh [extra packages...]
set -euo pipefail

packages=(cmake make g++ libeigen3-dev catch2 libbenchmark-dev liblapacke-dev libopenblas-dev
          libcli11-dev zlib1g-dev gnuplot-nox dataset-fashion-mnist liblbfgspp-dev
          libopenmpi-dev libscalapack-openmpi-dev "$@")

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "tangent: installing missing Debian packages: ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "tangent: run as root or install sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
