// Speed of the fully connected kernel recursion, next to its floor: the bare GEMM x·xᵀ of the
// same shape, measured in the same binary. Counters: kernel entries per second, and the time
// relative to the GEMM (run both and divide; absolute times are noisy on shared machines).
//
//   ./kernel_bench --benchmark_filter='N:2000'

#include <utility>

#include <benchmark/benchmark.h>

#include <tangent/tangent.hpp>

namespace {

Eigen::MatrixXd inputs(Eigen::Index n, Eigen::Index d) {
  std::srand(7);
  return Eigen::MatrixXd::Random(n, d);
}

template <std::size_t... Is>
auto relu_net(std::index_sequence<Is...>) {
  return tangent::serial(
      tangent::Dense{.width = 512, .w_std = 1.4, .b_std = 0.1},
      ((void)Is, tangent::serial(tangent::ReLU{},
                                 tangent::Dense{.width = 512, .w_std = 1.4, .b_std = 0.1}))...);
}

template <std::size_t Depth>
void fc_relu_kernels(benchmark::State& state) {
  const Eigen::MatrixXd x = inputs(state.range(0), state.range(1));
  const auto net = relu_net(std::make_index_sequence<Depth>{});
  for (auto _ : state) {
    tangent::Kernels k = tangent::kernels(net, x);
    benchmark::DoNotOptimize(k.ntk.data());
    benchmark::ClobberMemory();
  }
  state.counters["entries/s"] = benchmark::Counter(static_cast<double>(x.rows() * x.rows()),
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

void gemm_floor(benchmark::State& state) {
  const Eigen::MatrixXd x = inputs(state.range(0), state.range(1));
  Eigen::MatrixXd g(x.rows(), x.rows());
  for (auto _ : state) {
    g.noalias() = x * x.transpose();
    benchmark::DoNotOptimize(g.data());
    benchmark::ClobberMemory();
  }
  state.counters["entries/s"] = benchmark::Counter(static_cast<double>(x.rows() * x.rows()),
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(gemm_floor)
    ->ArgNames({"N", "d"})
    ->Args({500, 784})
    ->Args({2000, 784})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(fc_relu_kernels<1>)
    ->ArgNames({"N", "d"})
    ->Args({500, 784})
    ->Args({2000, 784})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(fc_relu_kernels<3>)
    ->ArgNames({"N", "d"})
    ->Args({500, 784})
    ->Args({2000, 784})
    ->Unit(benchmark::kMillisecond);
