#!/usr/bin/env bash
# What including tangent costs the compiler: user+sys CPU seconds and peak resident memory of
# compiling (-c) five translation units, each set against <Eigen/Dense> alone with the same
# compiler and flags, since Eigen is the floor every tangent user already pays:
#   1. <Eigen/Dense> alone (the baseline)      3. <tangent/tangent.hpp> alone (the umbrella)
#   2. <tangent/kernels.hpp> alone             4. a small kernel program (kernels.hpp, Dense, ReLU)
#   5. a small research program: the umbrella, kernels and a t = ∞ gradient-descent prediction
# Measured with GNU time (/usr/bin/time, Debian package `time`) for g++ and clang++, whichever
# are installed. Prints a Markdown table (the README's compile-cost numbers come from it);
# progress goes to stderr. Peak MB is MiB (GNU time's %M KiB / 1024).
#   scripts/compile-cost.sh [--repeat N] [--compiler g++|clang++|all] [--flags "-O2 ..."]
# --repeat N (default 3): the minimum CPU time and the maximum memory of N compiles each (the
#   minimum drops noise from other work on the machine; memory barely varies, the maximum is safe).
# --flags replaces -O3; the rest (-std=c++20 -fopenmp -ffp-contract=off, and the LAPACKE and CBLAS
#   definitions when lapacke.h is installed) is what the CMake target builds with, so it stays.
# Runs one compiler at a time: parallel compiles would contend for memory and skew both numbers.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The header comment is the help text.
usage() { sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }

repeat=3
which_compiler=all
opt_flags=-O3
while (($#)); do
  case $1 in
    --repeat) repeat=${2:?--repeat needs a count}; shift 2 ;;
    --compiler) which_compiler=${2:?--compiler needs g++, clang++ or all}; shift 2 ;;
    --flags) opt_flags=${2?--flags needs a string}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "compile-cost: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
if ! [[ $repeat =~ ^[1-9][0-9]*$ ]]; then
  echo "compile-cost: --repeat takes a positive count, got '$repeat'" >&2
  exit 2
fi

case $which_compiler in
  all) wanted=(g++ clang++) ;;
  g++ | clang++) wanted=("$which_compiler") ;;
  *) echo "compile-cost: --compiler takes g++, clang++ or all, got '$which_compiler'" >&2; exit 2 ;;
esac
compilers=()
for cxx in "${wanted[@]}"; do
  if command -v "$cxx" > /dev/null; then
    # clang++ finds omp.h only with libomp-dev: without it, -fopenmp cannot compile tangent.
    if echo '#include <omp.h>' | "$cxx" -fopenmp -x c++ -fsyntax-only - 2> /dev/null; then
      compilers+=("$cxx")
    else
      echo "compile-cost: $cxx -fopenmp finds no omp.h (Debian: libomp-dev), skipped" >&2
      [[ $which_compiler == all ]] || exit 1
    fi
  elif [[ $which_compiler != all ]]; then
    echo "compile-cost: $cxx is not installed" >&2
    exit 1
  fi
done
if ((${#compilers[@]} == 0)); then
  echo "compile-cost: neither g++ nor clang++ is installed" >&2
  exit 1
fi
# The shell's `time` keyword reports no memory: GNU time's %M (peak RSS) is the point.
if [[ ! -x /usr/bin/time ]]; then
  echo "compile-cost: needs GNU time at /usr/bin/time (Debian: apt-get install time)" >&2
  exit 1
fi

read -r -a opt <<< "$opt_flags"
flags=(-std=c++20 "${opt[@]}" -fopenmp -ffp-contract=off)
# As the CMake target defines them: they switch predictions to LAPACKE/CBLAS code paths, which
# compile differently from Eigen's solvers.
if [[ -e /usr/include/lapacke.h ]]; then
  flags+=(-DTANGENT_HAS_LAPACKE)
  # OpenBLAS's cblas.h: CMake adds CBLAS when libopenblas is found next to LAPACKE.
  if [[ -e /usr/include/cblas.h || -e /usr/include/x86_64-linux-gnu/cblas.h ]]; then
    flags+=(-DTANGENT_HAS_CBLAS)
  fi
fi
includes=(-I"$root/include" -isystem /usr/include/eigen3)

work=$(mktemp -d "${TMPDIR:-/tmp}/tangent-compile-cost.XXXXXX")
trap 'rm -rf "$work"' EXIT

units=(eigen_dense kernels_header umbrella_header kernel_program research_program)
# The backquotes are Markdown code spans for the table, not command substitutions.
# shellcheck disable=SC2016
declare -A label=(
  [eigen_dense]='`<Eigen/Dense>`'
  [kernels_header]='`<tangent/kernels.hpp>`'
  [umbrella_header]='`<tangent/tangent.hpp>`'
  [kernel_program]='kernel program (`kernels.hpp`, `dense.hpp`, `abrelu.hpp`)'
  [research_program]='research program (`tangent.hpp`, kernels + prediction)'
)

echo '#include <Eigen/Dense>' > "$work/eigen_dense.cpp"
echo '#include <tangent/kernels.hpp>' > "$work/kernels_header.cpp"
echo '#include <tangent/tangent.hpp>' > "$work/umbrella_header.cpp"

# What a user writes first: one fully connected ReLU network's kernels (README, Layers).
# kernels.hpp declares no layer, so Dense's and ReLU's own headers come with it: the least a
# kernel program can include.
cat > "$work/kernel_program.cpp" << 'EOF'
#include <iostream>

#include <tangent/activations/abrelu.hpp>
#include <tangent/kernels.hpp>
#include <tangent/layers/dense.hpp>

int main() {
  const auto net = tangent::serial(tangent::Dense{.width = 512, .w_std = 1.5, .b_std = 0.05},
                                   tangent::ReLU{}, tangent::Dense{.w_std = 1.5, .b_std = 0.05},
                                   tangent::ReLU{}, tangent::Dense{.w_std = 1.5});
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(64, 10);
  std::cout << tangent::kernels(net, x).ntk.sum() << '\n';
}
EOF

# The umbrella and a prediction (README, Predictions): the factorisations' code is compiled here.
cat > "$work/research_program.cpp" << 'EOF'
#include <iostream>

#include <tangent/tangent.hpp>

int main() {
  const auto net = tangent::serial(tangent::Dense{.width = 512, .w_std = 1.5, .b_std = 0.05},
                                   tangent::ReLU{}, tangent::Dense{.w_std = 1.5, .b_std = 0.05},
                                   tangent::ReLU{}, tangent::Dense{.w_std = 1.5});
  const Eigen::MatrixXd x_train = Eigen::MatrixXd::Random(64, 10);
  const Eigen::MatrixXd y_train = Eigen::MatrixXd::Random(64, 1);
  const Eigen::MatrixXd x_test = Eigen::MatrixXd::Random(16, 10);
  const tangent::Kernels k = tangent::kernels(net, x_train);
  const auto flow = tangent::gradient_descent_mse(k.ntk, y_train);
  const Eigen::MatrixXd f_train = flow.train(tangent::infinite_time);
  const Eigen::MatrixXd f_test =
      flow.test(tangent::infinite_time, tangent::ntk(net, x_test, x_train));
  std::cout << (f_train - y_train).norm() << ' ' << f_test.sum() << '\n';
}
EOF

isa=avx2
if grep -qw avx512f /proc/cpuinfo; then isa=avx512f; fi
model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

echo "CPU: ${model:-unknown} ($isa); $(nproc) cores available"
echo "flags: ${flags[*]} -I<repo>/include -isystem /usr/include/eigen3 -c"
echo "each: minimum CPU time (user+sys) and maximum peak RSS of $repeat compiles"
echo
echo '| compiler | unit | CPU s | peak MB | CPU × Eigen | memory × Eigen |'
echo '|---|---|---:|---:|---:|---:|'

for cxx in "${compilers[@]}"; do
  version=$("$cxx" --version | head -n 1 | grep -oE '[0-9]+\.[0-9]+(\.[0-9]+)?' | head -n 1)
  base_cpu=
  base_kib=
  for unit in "${units[@]}"; do
    best_cpu=
    max_kib=0
    for ((run = 1; run <= repeat; run++)); do
      echo "compile-cost: $cxx $unit ($run/$repeat)" >&2
      if ! /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
        "$cxx" "${flags[@]}" "${includes[@]}" -c "$work/$unit.cpp" -o "$work/$unit.o" \
        2> "$work/stderr"; then
        echo "compile-cost: $cxx failed on $unit:" >&2
        cat "$work/stderr" >&2
        exit 1
      fi
      # GNU time may put a warning line first; its numbers are on the last line.
      read -r _ user sys kib < <(tail -n 1 "$work/time")
      cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
      if [[ -z $best_cpu ]] || awk -v a="$cpu" -v b="$best_cpu" 'BEGIN { exit !(a < b) }'; then
        best_cpu=$cpu
      fi
      if ((kib > max_kib)); then max_kib=$kib; fi
    done
    if [[ $unit == eigen_dense ]]; then
      base_cpu=$best_cpu
      base_kib=$max_kib
    fi
    awk -v cxx="$cxx $version" -v unit="${label[$unit]}" -v cpu="$best_cpu" -v kib="$max_kib" \
      -v bcpu="$base_cpu" -v bkib="$base_kib" 'BEGIN {
        cr = bcpu > 0 ? sprintf("%.2f", cpu / bcpu) : "n/a"
        printf "| %s | %s | %.2f | %.0f | %s | %.2f |\n", cxx, unit, cpu, kib / 1024, cr, kib / bkib
      }'
  done
done
