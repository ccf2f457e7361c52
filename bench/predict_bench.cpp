// Speed of predictions at many training times, next to their floor: one symmetric
// eigendecomposition of the same N × N train-train kernel, measured in the same binary (LAPACK
// dsyevd when tangent found LAPACKE, else Eigen). Divide the two times; absolute times are
// noisy on shared machines.
//
//   ./predict_bench --benchmark_filter='N:4000'
//   ./predict_bench --smoke                     both benchmarks once at a tiny size

#include <vector>

#include <tangent/tangent.hpp>

#include "bench_common.hpp"

namespace {

constexpr Eigen::Index kTest = 1000;   // test points
constexpr Eigen::Index kOutputs = 10;  // one-hot classes
constexpr int kTimes = 100;

struct Problem {
  Eigen::MatrixXd k_train_train, k_test_train, y;
};

Problem problem(Eigen::Index n) {
  std::srand(11);
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(n + kTest, 64);
  const auto net = tangent::serial(tangent::Dense{.width = 512, .w_std = 1.4, .b_std = 0.1},
                                   tangent::ReLU{}, tangent::Dense{.w_std = 1.4, .b_std = 0.1});
  const Eigen::MatrixXd k = tangent::ntk(net, x);
  return {k.topLeftCorner(n, n), k.bottomLeftCorner(kTest, n),
          Eigen::MatrixXd::Random(n, kOutputs)};
}

std::vector<double> times() {
  std::vector<double> t;
  for (int i = 0; i < kTimes; ++i) t.push_back(0.1 * i * i);
  return t;
}

void eigendecomposition_floor(benchmark::State& state) {
  const Problem p = problem(state.range(0));
  for (auto _ : state) {
    Eigen::VectorXd values;
    Eigen::MatrixXd vectors;
    tangent::detail::symmetric_eigen(p.k_train_train, values, &vectors);
    benchmark::DoNotOptimize(vectors.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(bench::label() + (tangent::detail::kUsesLapacke ? ", LAPACKE" : ", Eigen"));
}

/// The whole prediction: decomposition, then test and train outputs at 100 times.
void gradient_descent_mse_100_times(benchmark::State& state) {
  const Problem p = problem(state.range(0));
  const std::vector<double> t = times();
  for (auto _ : state) {
    const auto predictor = tangent::gradient_descent_mse(p.k_train_train, p.y);
    const auto test = predictor.test(t, p.k_test_train);
    const auto train = predictor.train(t);
    benchmark::DoNotOptimize(test.back().data());
    benchmark::DoNotOptimize(train.back().data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(bench::label() + (tangent::detail::kUsesLapacke ? ", LAPACKE" : ", Eigen"));
}

void add(const char* name, void (*f)(benchmark::State&), bool smoke) {
  auto* b = benchmark::RegisterBenchmark(name, f);
  b->ArgName("N")->Unit(benchmark::kMillisecond)->UseRealTime();
  for (const Eigen::Index n : bench::sizes(smoke, 200, {2000, 4000, 8000})) b->Arg(n);
}

void register_all(bool smoke) {
  add("eigendecomposition_floor", eigendecomposition_floor, smoke);
  add("gradient_descent_mse_100_times", gradient_descent_mse_100_times, smoke);
}

}  // namespace

TANGENT_BENCH_MAIN(register_all)
