// Speed of finite-network training (`tangent::train`, full-batch gradient descent), per step:
//   train_cnn<H>    two 3×3 SAME Conv(64) + ReLU blocks, Flatten, Dense(10) on N H×H×3 images:
//                   activations of tens of MB per layer, where glibc would map (and fault in)
//                   every buffer afresh at each step if train() did not keep them;
//   train_fc        three Dense(width) + ReLU layers and Dense(10) on a thin batch of N samples
//                   of dimension 784, on one thread and on all (the third argument): products
//                   too small to share well, where the threads must at least not cost time.
//
//   ./train_bench --benchmark_filter='train_cnn<16>/N:256$'
//   ./train_bench --benchmark_filter='train_fc'
//   ./train_bench --smoke                                  every benchmark once at a tiny size

#include <cmath>
#include <random>
#include <sys/resource.h>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <tangent/tangent.hpp>

#include "bench_common.hpp"

namespace {

constexpr tangent::Index kSteps = 5;

double minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_minflt);
}

/// Times train() over kSteps steps; `faults/step` counts the page faults of a step once the
/// first two have allocated everything (what re-mapping buffers at each step would cost): from
/// the callback before step 2's update to the one after the last step, kSteps − 2 steps (the
/// callback runs after each forward pass, so the window holds as many forward as backward
/// passes).
template <class Net, class Input, class Shape>
void train_steps(benchmark::State& state, const Net& net, const Input& x, const Shape& shape,
                 const Eigen::MatrixXd& y) {
  std::mt19937_64 rng(3);
  const auto initial = tangent::init(net, rng, shape);
  tangent::TrainOptions options{.learning_rate = 0.1, .steps = kSteps};
  for (auto _ : state) {
    const auto trained = tangent::train(net, initial, x, y, options);
    benchmark::DoNotOptimize(&trained);
    benchmark::ClobberMemory();
  }
  state.counters["steps/s"] = bench::rate(static_cast<double>(kSteps));
  double settled = 0;
  double last = 0;
  options.on_step = [&](tangent::Index step, double) {
    if (step == 2) settled = minor_faults();
    if (step == kSteps) last = minor_faults();
  };
  (void)tangent::train(net, initial, x, y, options);
  state.counters["faults/step"] = (last - settled) / static_cast<double>(kSteps - 2);
}

template <Eigen::Index Side>
void train_cnn(benchmark::State& state) {
  using namespace tangent;
  const Index n = state.range(0);
  const Conv conv{.channels = 64,
                  .filter = {3, 3},
                  .padding = Padding::same,
                  .w_std = std::sqrt(2.0),
                  .b_std = 0.05};
  const auto net = serial(conv, ReLU{}, conv, ReLU{}, Flatten{}, Dense{.width = 10});
  const Eigen::MatrixXd flat = bench::normal_matrix(n, Side * Side * 3, 7);
  train_steps(state, net, images(flat, Side, Side, 3), image_shape(Side, Side, 3),
              bench::normal_matrix(n, 10, 8));
  state.SetLabel(bench::label());
}

void train_fc(benchmark::State& state) {
  using namespace tangent;
  const Index n = state.range(0);
  const Index width = state.range(1);
  [[maybe_unused]] const int threads = static_cast<int>(state.range(2));
#if defined(_OPENMP)
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
#endif
  const Dense dense{.width = width, .w_std = std::sqrt(2.0), .b_std = 0.05};
  const auto net = serial(dense, ReLU{}, dense, ReLU{}, dense, ReLU{}, Dense{.width = 10});
  train_steps(state, net, bench::normal_matrix(n, 784, 7), Index{784},
              bench::normal_matrix(n, 10, 8));
  state.SetLabel(bench::label());
#if defined(_OPENMP)
  omp_set_num_threads(saved);
#endif
}

void register_all(bool smoke) {
  bench::add("train_cnn<16>", train_cnn<16>, bench::sizes(smoke, 4, {256, 1024}));
  auto* fc = benchmark::RegisterBenchmark("train_fc", train_fc);
  fc->ArgNames({"N", "width", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
  for (const tangent::Index width : bench::sizes(smoke, 16, {128, 1024})) {
    for (const tangent::Index n : bench::sizes(smoke, 4, {8, 32, 128})) {
      fc->Args({n, width, 1});
      if (bench::threads() > 1) fc->Args({n, width, bench::threads()});
    }
  }
}

}  // namespace

TANGENT_BENCH_MAIN(register_all)
