// The work of one kernel computation, for deterministic comparisons of two versions of tangent:
// instruction counts under valgrind, which, unlike wall time on a shared machine, do not move
// with the load. Built for the compiler's default target (no -march=native: valgrind cannot run
// AVX-512; add -mavx2 -mfma to count the AVX2 build). Sizes are small and d = 16, so that the
// layer recursion, not the GEMM, dominates.
//
//   OMP_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null
//       build/bench/work_count fc10      (one command line; prints "Collected : <instructions>")
//
// Cases: fc3, fc3cross, fc10 (ReLU chains of depth 3 and 10), cnn_flatten, myrtle_gap; and, when
// the headers have branching networks, residual10 (repeat(residual(ReLU, Dense), 10)),
// residual10_written (the ten blocks written out), chain10_repeat (repeat(serial(ReLU,
// Dense), 10)) and chain10_identity (an Identity in every block). The chain cases compile
// against older versions too, to compare before and after a change.

#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <utility>

#include <tangent/tangent.hpp>

namespace {

using namespace tangent;

const Dense dense{.width = 512, .w_std = 1.4, .b_std = 0.1};

template <std::size_t... Is>
auto chain(std::index_sequence<Is...>) {
  return serial(dense, ((void)Is, serial(ReLU{}, dense))...);
}

Eigen::MatrixXd inputs(Index n, Index d) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd x(n, d);
  for (Index c = 0; c < d; ++c) {
    for (Index r = 0; r < n; ++r) x(r, c) = normal(rng);
  }
  return x;
}

Conv conv() {
  return {.channels = 128,
          .filter = {3, 3},
          .padding = Padding::same,
          .w_std = 1.4142135623730951,
          .b_std = 0.05};
}

#if __has_include(<tangent/combinators/repeat.hpp>)
template <std::size_t... Is>
auto residuals_written(std::index_sequence<Is...>) {
  return serial(dense, ((void)Is, residual(ReLU{}, dense))...);
}
template <std::size_t... Is>
auto chain_with_identity(std::index_sequence<Is...>) {
  return serial(dense, ((void)Is, serial(Identity{}, ReLU{}, dense))...);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "";
  const Eigen::MatrixXd x = inputs(600, 16);
  double sum = 0;
  if (which == "fc3") sum = kernels(chain(std::make_index_sequence<3>{}), x).ntk.sum();
  if (which == "fc10") sum = kernels(chain(std::make_index_sequence<10>{}), x).ntk.sum();
  if (which == "fc3cross") {
    sum = kernels(chain(std::make_index_sequence<3>{}), inputs(400, 16), inputs(300, 16)).ntk.sum();
  }
  if (which == "cnn_flatten") {
    const Eigen::MatrixXd flat = inputs(10, 16 * 16 * 3);
    const auto net = serial(conv(), ReLU{}, conv(), ReLU{}, conv(), ReLU{}, conv(), ReLU{}, conv(),
                            ReLU{}, conv(), ReLU{}, conv(), ReLU{}, conv(), ReLU{}, conv(), ReLU{},
                            conv(), ReLU{}, Flatten{}, Dense{.width = 10});
    sum = kernels(net, images(flat, 16, 16, 3)).ntk.sum();
  }
  if (which == "myrtle_gap") {
    const Eigen::MatrixXd flat = inputs(10, 8 * 8 * 3);
    const AvgPool halve{.window = {2, 2}, .strides = {2, 2}};
    const auto net = serial(conv(), ReLU{}, conv(), ReLU{}, halve, conv(), ReLU{}, halve, conv(),
                            ReLU{}, GlobalAvgPool{}, Dense{.width = 10});
    sum = kernels(net, images(flat, 8, 8, 3)).ntk.sum();
  }
#if __has_include(<tangent/combinators/repeat.hpp>)
  if (which == "residual10")
    sum = kernels(serial(dense, repeat(residual(ReLU{}, dense), 10)), x).ntk.sum();
  if (which == "residual10_written")
    sum = kernels(residuals_written(std::make_index_sequence<10>{}), x).ntk.sum();
  if (which == "chain10_repeat")
    sum = kernels(serial(dense, repeat(serial(ReLU{}, dense), 10)), x).ntk.sum();
  if (which == "chain10_identity")
    sum = kernels(chain_with_identity(std::make_index_sequence<10>{}), x).ntk.sum();
#endif
  if (sum == 0) {
    std::cerr << "usage: work_count fc3|fc3cross|fc10|cnn_flatten|myrtle_gap|residual10|"
                 "residual10_written|chain10_repeat|chain10_identity\n";
    return 1;
  }
  std::cout << sum << "\n";
  return 0;
}
