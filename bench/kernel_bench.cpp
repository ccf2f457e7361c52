// Speed of the fully connected kernel recursion (NNGP and NTK together), next to its floor: the
// bare GEMM x1·x2ᵀ of the same shape and scalar, measured in the same binary.
//
// Counters:
//   entries/s  Gram-matrix entries per second of wall time (N1·N2 per NTK, not per triangle);
//   x_gemm     wall time per iteration divided by the fastest of three bare GEMMs measured right
//              before it (1.0 = as fast as the GEMM floor);
//   rss/io     peak RSS of the process divided by the bytes of inputs plus outputs. The peak is
//              process-wide, so this is meaningful only when one benchmark runs alone, e.g.
//                ./kernel_bench --benchmark_filter='fc<3, double, same>/N:8000$'
//
//   ./kernel_bench --benchmark_filter='N:2000'      one size
//   ./kernel_bench --smoke                           every benchmark once at a tiny size

#include <cstdlib>
#include <string>
#include <utility>

#include <tangent/tangent.hpp>

#include "bench_common.hpp"

namespace {

constexpr Eigen::Index kFeatures = 784;

template <class S>
tangent::Matrix<S> inputs(Eigen::Index n, Eigen::Index d, unsigned seed) {
  std::srand(seed);
  return Eigen::MatrixXd::Random(n, d).cast<S>();
}

template <std::size_t... Is>
auto relu_net(std::index_sequence<Is...>) {
  return tangent::serial(
      tangent::Dense{.width = 512, .w_std = 1.4, .b_std = 0.1},
      ((void)Is, tangent::serial(tangent::ReLU{},
                                 tangent::Dense{.width = 512, .w_std = 1.4, .b_std = 0.1}))...);
}

/// The same layers with each (ReLU, Dense) pair in a residual block: Dense, then Depth blocks
/// x + Dense(ReLU(x)), repeated at run time.
auto residual_net(std::size_t depth) {
  const tangent::Dense dense{.width = 512, .w_std = 1.4, .b_std = 0.1};
  return tangent::serial(dense, tangent::repeat(tangent::residual(tangent::ReLU{}, dense),
                                                static_cast<tangent::Index>(depth)));
}

template <std::size_t Depth, bool Residual>
auto network() {
  if constexpr (Residual) {
    return residual_net(Depth);
  } else {
    return relu_net(std::make_index_sequence<Depth>{});
  }
}

/// Depth ReLU layers, Depth + 1 Dense layers (as a chain, or with residual connections); NNGP and
/// NTK; same-input or cross (two different N×784 inputs).
template <std::size_t Depth, class S, bool Same, bool Residual = false>
void fc(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const tangent::Matrix<S> x1 = inputs<S>(n, kFeatures, 7);
  const tangent::Matrix<S> x2 = Same ? tangent::Matrix<S>() : inputs<S>(n, kFeatures, 8);
  const auto net = network<Depth, Residual>();
  const double io_bytes =
      static_cast<double>(sizeof(S)) *
      (2.0 * static_cast<double>(n * n) + static_cast<double>((Same ? 1 : 2) * n * kFeatures));
  double gemm = 0;
  {
    tangent::Matrix<S> g(n, n);
    const tangent::Matrix<S>& y = Same ? x1 : x2;
    gemm = bench::fastest_seconds([&] {
      g.noalias() = x1 * y.transpose();
      benchmark::DoNotOptimize(g.data());
    });
  }
  for (auto _ : state) {
    tangent::BasicKernels<S> k = Same ? tangent::kernels(net, x1) : tangent::kernels(net, x1, x2);
    benchmark::DoNotOptimize(k.ntk.data());
    benchmark::ClobberMemory();
  }
  state.counters["entries/s"] = bench::rate(static_cast<double>(n * n));
  state.counters["x_gemm"] = bench::ratio_to(gemm);
  state.counters["rss/io"] = bench::peak_rss_bytes() / io_bytes;
  state.SetLabel(bench::label());
}

/// The floor: x1·x2ᵀ (N×784 times 784×N) with Eigen, on the same threads.
template <class S>
void gemm_floor(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const tangent::Matrix<S> x = inputs<S>(n, kFeatures, 7);
  tangent::Matrix<S> g(n, n);
  for (auto _ : state) {
    g.noalias() = x * x.transpose();
    benchmark::DoNotOptimize(g.data());
    benchmark::ClobberMemory();
  }
  state.counters["entries/s"] = bench::rate(static_cast<double>(n * n));
  state.SetLabel(bench::label());
}

template <std::size_t Depth, class S>
void add_fc(const std::string& scalar, const std::vector<Eigen::Index>& ns) {
  const std::string prefix = "fc<" + std::to_string(Depth) + ", " + scalar;
  bench::add(prefix + ", same>", fc<Depth, S, true>, ns);
  bench::add(prefix + ", cross>", fc<Depth, S, false>, ns);
}

void register_all(bool smoke) {
  const auto ns = bench::sizes(smoke, 64, {1000, 2000, 4000, 8000, 10000});
  bench::add("gemm_floor<double>", gemm_floor<double>, ns);
  bench::add("gemm_floor<float>", gemm_floor<float>, ns);
  add_fc<1, double>("double", ns);
  add_fc<3, double>("double", ns);
  add_fc<10, double>("double", ns);
  add_fc<1, float>("float", ns);
  add_fc<3, float>("float", ns);
  add_fc<10, float>("float", ns);
  // Per layer, a residual block should cost what a chain's (ReLU, Dense) pair costs.
  bench::add("fc_residual<10, double, same>", fc<10, double, true, true>, ns);
}

}  // namespace

TANGENT_BENCH_MAIN(register_all)
