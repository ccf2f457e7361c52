// Speed of the fully connected kernel recursion (NNGP and NTK together), next to its floor: the
// bare product x1·x2ᵀ of the same shape and scalar at the machine's best GEMM rate, measured in
// the same binary.
//
// Counters:
//   entries/s  Gram-matrix entries per second of wall time (N1·N2 per NTK, not per triangle);
//   x_gemm     wall time per iteration divided by the fastest full GEMM x1·x2ᵀ measured right
//              before it: the best of three by Eigen and, when tangent found OpenBLAS, three by
//              its dgemm/sgemm (1.0 = as fast as that floor);
//   x_syrk     same-input only: wall time divided by half that GEMM's time, the symmetric
//              rank-k update's floor (a Gram matrix of one input needs half the products) at
//              the same rate;
//   blas/eigen OpenBLAS's GEMM time over Eigen's (below 1: OpenBLAS is the faster here);
//   rss/io     peak RSS of the process divided by the bytes of inputs plus outputs. The peak is
//              process-wide, so this is meaningful only when one benchmark runs alone, e.g.
//                ./kernel_bench --benchmark_filter='fc<3, double, same>/N:8000$'
//
//   ./kernel_bench --benchmark_filter='N:2000'      one size
//   ./kernel_bench --smoke                           every benchmark once at a tiny size
//   ./kernel_bench --benchmark_filter='activation'   the activations against each other
//   ./kernel_bench --benchmark_filter='derivatives'  kernel_derivatives against kernels()
//   OPENBLAS_NUM_THREADS=1 ./kernel_bench --benchmark_filter=tile_gemm
//                                                    one tile: Eigen, dgemm, dsyrk

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <numbers>
#include <string>
#include <string_view>
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
  const bench::GemmFloor gemm = bench::fastest_gemm(x1, Same ? x1 : x2);
  for (auto _ : state) {
    tangent::BasicKernels<S> k = Same ? tangent::kernels(net, x1) : tangent::kernels(net, x1, x2);
    benchmark::DoNotOptimize(k.ntk.data());
    benchmark::ClobberMemory();
  }
  state.counters["entries/s"] = bench::rate(static_cast<double>(n * n));
  state.counters["x_gemm"] = bench::ratio_to(gemm.best());
  if constexpr (Same) state.counters["x_syrk"] = bench::ratio_to(gemm.best() / 2);
  if (gemm.blas > 0) state.counters["blas/eigen"] = gemm.blas / gemm.eigen;
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

/// One tile's GEMM as the sweep runs it (256 × 784 times 784 × 256, one thread: the tile loop is
/// the parallel region) by Eigen, and by OpenBLAS's dgemm and, for a diagonal tile, dsyrk when
/// tangent found it: which library the tiles should use. Argument: 0 Eigen, 1 dgemm, 2 dsyrk.
void tile_gemm(benchmark::State& state) {
  constexpr Eigen::Index tile = 256;
  const tangent::Matrix<double> a = inputs<double>(tile, kFeatures, 7);
  const tangent::Matrix<double> bt = inputs<double>(tile, kFeatures, 8).transpose();
  tangent::Matrix<double> c(tile, tile);
  [[maybe_unused]] const int n = static_cast<int>(tile);
  [[maybe_unused]] const int d = static_cast<int>(kFeatures);
  const tangent::detail::SerialEigenScope serial;  // one thread, as inside the tile loop
  for (auto _ : state) {
    switch (state.range(0)) {
      case 0:
        c.noalias() = a * bt;
        break;
#if defined(TANGENT_HAS_CBLAS)
      case 1:
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, d, 1.0, a.data(), n, bt.data(),
                    d, 0.0, c.data(), n);
        break;
      case 2:
        cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, n, d, 1.0, a.data(), n, 0.0, c.data(),
                    n);
        break;
#endif
      default:
        state.SkipWithError("OpenBLAS not found");
        return;
    }
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      bench::rate(2.0 * tile * tile * kFeatures / (state.range(0) == 2 ? 2 : 1));
  state.SetLabel(bench::label());
}

/// Inputs whose rows share a mean direction: row = m + noise·ε with m and ε uniform on [−1, 1]
/// entrywise, scaled to norm √d, so two rows correlate by about 1/(1 + noise²) (0.94 for noise
/// 0.25), as images of one dataset share much of their mean image.
Eigen::MatrixXd correlated_inputs(Eigen::Index n, double noise) {
  std::srand(9);
  const Eigen::RowVectorXd mean = Eigen::RowVectorXd::Random(kFeatures);
  Eigen::MatrixXd x = noise * Eigen::MatrixXd::Random(n, kFeatures);
  x.rowwise() += mean;
  return x.rowwise().normalized() * std::sqrt(static_cast<double>(kFeatures));
}

/// Dense-φ-Dense-φ-Dense-φ-Dense (width 512), same-input, float64: the cost of one activation
/// against another in the network (a numerical Tanh against the closed-form Erf, a
/// user's lane form against the built-in it copies). `Noise` < 0: the uniform inputs of `fc`;
/// else `correlated_inputs` with that noise (in hundredths).
template <class A, int Noise>
void fc3_activation(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Eigen::MatrixXd x =
      Noise < 0 ? inputs<double>(n, kFeatures, 7) : correlated_inputs(n, Noise / 100.0);
  const tangent::Dense dense{.width = 512, .w_std = 1.5, .b_std = 0.05};
  const A act{};
  const auto net = tangent::serial(dense, act, dense, act, dense, act, dense);
  tangent::reset_numerical_statistics();
  for (auto _ : state) {
    tangent::Kernels k = tangent::kernels(net, x);
    benchmark::DoNotOptimize(k.ntk.data());
    benchmark::ClobberMemory();
  }
  // The numerical engine's expensive events per call (0 for closed forms): coefficient sets
  // computed (cache misses; the cache persists across iterations) and pairs on the 2-D rule.
  const tangent::NumericalStatistics events = tangent::numerical_statistics();
  const auto per_call = [&](std::uint64_t count) {
    return static_cast<double>(count) / static_cast<double>(state.iterations());
  };
  state.counters["sets"] = per_call(events.coefficient_sets);
  state.counters["2d_pairs"] = per_call(events.two_dimensional);
  state.counters["entries/s"] = bench::rate(static_cast<double>(n * n));
  state.SetLabel(bench::label());
}

/// tangent::Erf written as a user would, with a lane form (`lanes = true`): the same arithmetic
/// through the public lane helpers, so it should cost what the built-in costs.
struct UserErf {
  static constexpr std::string_view name = "UserErf";
  static constexpr bool lanes = true;
  template <class S>
  S value(S x) const {
    return std::erf(x);
  }
  template <class S>
  S derivative(S x) const {
    return S(2) / std::sqrt(std::numbers::pi_v<S>) * std::exp(-x * x);
  }
  template <class V>
  tangent::Moments<V> moments(V q11, V q12, V q22) const {
    using S = tangent::detail::scalar_t<V>;
    namespace d = tangent::detail;
    const V r = d::hypot_v(V(d::sqrt_v(V(S(1) + S(2) * (q11 + q22)))),
                           V(S(2) * d::covariance_sqrt_determinant(q11, q12, q22)));
    return {V((S(2) / std::numbers::pi_v<S>)*d::atan2_v(V(S(2) * q12), r)),
            V((S(4) / std::numbers::pi_v<S>) / r)};
  }
  template <class S>
  S variance(S q) const {
    return moments(q, q, q).expect;
  }
  void validate(const tangent::LayerSite&) const {}
};

/// The same without `lanes`: the sweep runs it lane by lane.
struct UserErfScalar : UserErf {
  static constexpr bool lanes = false;
};

/// kernel_derivatives (NNGP, NTK and their derivatives in every hyperparameter) of the chain of
/// `fc` (Depth ReLU layers, Depth + 1 Dense layers with biases: 2·(Depth + 1) hyperparameters),
/// same-input, on N×Features inputs, against kernels() of the same network measured right
/// before it. Counters: x_kernels (time over the kernels' time) and target, the bound
/// 2 + 0.5·(number of hyperparameters) for it. With 784 features the input GEMM is a large part
/// of both; with 16 the layer recursion is nearly all of it.
template <std::size_t Depth, Eigen::Index Features>
void fc_derivatives(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const Eigen::MatrixXd x = inputs<double>(n, Features, 7);
  const auto net = network<Depth, false>();
  const double kernel_seconds = bench::fastest_seconds([&] {
    tangent::Kernels k = tangent::kernels(net, x);
    benchmark::DoNotOptimize(k.ntk.data());
  });
  std::size_t count = 0;
  for (auto _ : state) {
    tangent::KernelDerivatives d = tangent::kernel_derivatives(net, x);
    count = d.hyperparameters.size();
    benchmark::DoNotOptimize(d.d_ntk.back().data());
    benchmark::ClobberMemory();
  }
  state.counters["hyperparameters"] = static_cast<double>(count);
  state.counters["x_kernels"] = bench::ratio_to(kernel_seconds);
  state.counters["target"] = 2 + 0.5 * static_cast<double>(count);
  state.counters["entries/s"] = bench::rate(static_cast<double>(n * n));
  state.SetLabel(bench::label());
}

void add_activations(const std::vector<Eigen::Index>& ns) {
  bench::add("fc3_activation<ReLU>", fc3_activation<tangent::ReLU, -1>, ns);
  bench::add("fc3_activation<Erf>", fc3_activation<tangent::Erf, -1>, ns);
  bench::add("fc3_activation<UserErf, lanes>", fc3_activation<UserErf, -1>, ns);
  bench::add("fc3_activation<UserErf, lane by lane>", fc3_activation<UserErfScalar, -1>, ns);
  bench::add("fc3_activation<Gelu>", fc3_activation<tangent::Gelu, -1>, ns);
  bench::add("fc3_activation<Sin>", fc3_activation<tangent::Sin, -1>, ns);
  bench::add("fc3_activation<Gaussian>", fc3_activation<tangent::Gaussian, -1>, ns);
  bench::add("fc3_activation<Tanh>", fc3_activation<tangent::Tanh, -1>, ns);
  bench::add("fc3_activation<Erf, correlated 0.25>", fc3_activation<tangent::Erf, 25>, ns);
  bench::add("fc3_activation<Tanh, correlated 0.25>", fc3_activation<tangent::Tanh, 25>, ns);
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
  // 0: Eigen, 1: OpenBLAS dgemm, 2: OpenBLAS dsyrk (the argument is not a size here).
  benchmark::RegisterBenchmark("tile_gemm<256 x 784, one thread>", tile_gemm)
      ->ArgName("library")
      ->Arg(0)
      ->Arg(1)
      ->Arg(2)
      ->Unit(benchmark::kMillisecond);
  add_fc<1, double>("double", ns);
  add_fc<3, double>("double", ns);
  add_fc<10, double>("double", ns);
  add_fc<1, float>("float", ns);
  add_fc<3, float>("float", ns);
  add_fc<10, float>("float", ns);
  // Per layer, a residual block should cost what a chain's (ReLU, Dense) pair costs.
  bench::add("fc_residual<10, double, same>", fc<10, double, true, true>, ns);
  add_activations(bench::sizes(smoke, 64, {1000, 4000}));
  const auto derivative_ns = bench::sizes(smoke, 64, {1000, 2000, 4000});
  bench::add("fc_derivatives<3, d = 784>", fc_derivatives<3, kFeatures>, derivative_ns);
  bench::add("fc_derivatives<3, d = 16>", fc_derivatives<3, 16>, derivative_ns);
  bench::add("fc_derivatives<10, d = 784>", fc_derivatives<10, kFeatures>, derivative_ns);
}

}  // namespace

TANGENT_BENCH_MAIN(register_all)
