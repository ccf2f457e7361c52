// Speed of predictions next to their floors, measured in the same binary (LAPACK when tangent
// found LAPACKE, else Eigen); divide the times, since absolute times are noisy on shared machines.
//   - at many training times, against one symmetric eigendecomposition of the same N × N kernel;
//   - gp_inference means at t = ∞ (NNGP and NTK, one ridge), against two Cholesky solves of the
//     same systems, and against the same predictor on the eigendecomposition route;
//   - test outputs for 20 ridges, against one eigendecomposition;
//   - the log marginal likelihood (alone, and with its gradient) against a Cholesky solve, and
//     leave-one-out for 20 ridges against one eigendecomposition;
//   - conjugate gradients on a float-stored kernel: one product against the double kernel's
//     dgemm, and a whole solve against the Cholesky route;
//   - the ensemble's mean and covariance at N = 10,000 and NTK regression at N = 30,000 (time
//     and peak memory; run each alone with --benchmark_filter, they take minutes).
//
//   ./predict_bench --benchmark_filter='N:4000'
//   ./predict_bench --smoke                     every benchmark once at a tiny size

#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include <tangent/tangent.hpp>

#include "bench_common.hpp"

namespace {

constexpr Eigen::Index kTest = 1000;   // test points
constexpr Eigen::Index kOutputs = 10;  // one-hot classes
constexpr int kTimes = 100;

struct Problem {
  Eigen::MatrixXd k_train_train, k_test_train, y;  // the NTK
  tangent::Kernels train, test_train;              // NNGP and NTK
};

Problem problem(Eigen::Index n) {
  std::srand(11);
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(n + kTest, 64);
  const auto net = tangent::serial(tangent::Dense{.width = 512, .w_std = 1.4, .b_std = 0.1},
                                   tangent::ReLU{}, tangent::Dense{.w_std = 1.4, .b_std = 0.1});
  const tangent::Kernels k = tangent::kernels(net, x);
  return {k.ntk.topLeftCorner(n, n),
          k.ntk.bottomLeftCorner(kTest, n),
          Eigen::MatrixXd::Random(n, kOutputs),
          {k.nngp.topLeftCorner(n, n), k.ntk.topLeftCorner(n, n)},
          {k.nngp.bottomLeftCorner(kTest, n), k.ntk.bottomLeftCorner(kTest, n)}};
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
  state.SetLabel(bench::label() + (tangent::build::lapacke ? ", LAPACKE" : ", Eigen"));
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
  state.SetLabel(bench::label() + (tangent::build::lapacke ? ", LAPACKE" : ", Eigen"));
}

constexpr double kRidge = 1e-4;

/// The floor of exact inference at t = ∞: for the NNGP and the NTK, copy K + r·I, factorise it,
/// solve for y, and multiply by the test-train kernel.
void cholesky_floor(benchmark::State& state) {
  const Problem p = problem(state.range(0));
  for (auto _ : state) {
    for (const auto* k : {&p.train.nngp, &p.train.ntk}) {
      Eigen::MatrixXd a = *k;
      a.diagonal().array() += kRidge * k->trace() / static_cast<double>(k->rows());
      tangent::detail::cholesky_in_place(a, nullptr);  // dpotrf alone: no condition estimate
      Eigen::MatrixXd alpha = p.y;
      tangent::detail::cholesky_solve_in_place(tangent::CholeskyFactor{std::move(a), 0}, alpha);
      const Eigen::MatrixXd mean = tangent::detail::product(
          k == &p.train.nngp ? p.test_train.nngp : p.test_train.ntk, alpha);
      benchmark::DoNotOptimize(mean.data());
    }
    benchmark::ClobberMemory();
  }
  state.SetLabel(bench::label() + (tangent::build::lapacke ? ", LAPACKE" : ", Eigen"));
}

/// gp_inference's NNGP and NTK means at t = ∞ with a ridge: the Cholesky route.
void gp_inference_means(benchmark::State& state) {
  const Problem p = problem(state.range(0));
  for (auto _ : state) {
    const auto gp = tangent::gp_inference(p.train, p.y, tangent::GpOptions{.diag_reg = kRidge});
    const tangent::Posterior post = gp.predict(p.test_train);
    benchmark::DoNotOptimize(post.ntk.mean.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(bench::label());
}

/// The same predictions by the eigendecomposition route (a one-ridge sweep takes it).
void gp_inference_means_eigen_route(benchmark::State& state) {
  const Problem p = problem(state.range(0));
  for (auto _ : state) {
    const auto gp = tangent::gp_inference(p.train, p.y).with_diag_reg(kRidge);
    const tangent::Posterior post = gp.predict(p.test_train);
    benchmark::DoNotOptimize(post.ntk.mean.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(bench::label());
}

/// Test outputs at t = ∞ for 20 ridges from 1e-6 to 1 of the mean eigenvalue: one
/// eigendecomposition, one product K_*d·V, then 20 small products.
void ridge_sweep_20(benchmark::State& state) {
  const Problem p = problem(state.range(0));
  std::vector<double> ridges;
  for (int i = 0; i < 20; ++i) ridges.push_back(std::pow(10.0, -6.0 + 6.0 * i / 19.0));
  for (auto _ : state) {
    const auto predictor = tangent::gradient_descent_mse(p.k_train_train, p.y);
    const auto out = predictor.test_ridges(ridges, tangent::infinite_time, p.k_test_train);
    benchmark::DoNotOptimize(out.back().data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(bench::label());
}

/// The floor of a marginal likelihood: copy K + r·I, factorise it and solve for y (one kernel).
void likelihood_floor(benchmark::State& state) {
  const Problem p = problem(state.range(0));
  for (auto _ : state) {
    Eigen::MatrixXd a = p.k_train_train;
    a.diagonal().array() += kRidge * a.trace() / static_cast<double>(a.rows());
    tangent::detail::cholesky_in_place(a, nullptr);
    Eigen::MatrixXd alpha = p.y;
    tangent::detail::cholesky_solve_in_place(tangent::CholeskyFactor{std::move(a), 0}, alpha);
    benchmark::DoNotOptimize(alpha.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(bench::label() + (tangent::build::lapacke ? ", LAPACKE" : ", Eigen"));
}

/// log p(Y) of the NTK with a ridge (10 outputs), and with its gradient (K̃⁻¹ too).
void log_marginal_likelihood(benchmark::State& state) {
  const Problem p = problem(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        tangent::log_marginal_likelihood(p.k_train_train, p.y, {.diag_reg = kRidge}));
  }
  state.SetLabel(bench::label());
}

void log_marginal_likelihood_gradient(benchmark::State& state) {
  const Problem p = problem(state.range(0));
  for (auto _ : state) {
    const tangent::MarginalLikelihoodGradient g =
        tangent::log_marginal_likelihood_gradient(p.k_train_train, p.y, {.diag_reg = kRidge});
    benchmark::DoNotOptimize(g.kernel.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(bench::label());
}

/// The LOO error at one ridge with its gradient (the fit's LOO objective): the likelihood
/// gradient's factorisation and inverse plus a symmetric rank-N product.
void leave_one_out_gradient(benchmark::State& state) {
  const Problem p = problem(state.range(0));
  for (auto _ : state) {
    const tangent::LeaveOneOutGradient g =
        tangent::leave_one_out_gradient(p.k_train_train, p.y, {.diag_reg = kRidge});
    benchmark::DoNotOptimize(g.kernel.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(bench::label());
}

/// Leave-one-out, GCV and the marginal likelihood for 20 ridges from 1e-6 to 1 (relative): one
/// eigendecomposition where refitting by Cholesky would cost 20 likelihood floors.
void leave_one_out_20(benchmark::State& state) {
  const Problem p = problem(state.range(0));
  std::vector<double> ridges;
  for (int i = 0; i < 20; ++i) ridges.push_back(std::pow(10.0, -6.0 + 6.0 * i / 19.0));
  for (auto _ : state) {
    const tangent::LeaveOneOut loo = tangent::leave_one_out(p.k_train_train, p.y, ridges);
    benchmark::DoNotOptimize(loo.error.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(bench::label());
}

/// One conjugate-gradient product K·P (N × 10 outputs) with K stored as float, widened and
/// accumulated in double; counter: its time over the double kernel's dgemm (dgemm), measured in
/// the same run.
void cg_product_float(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  std::srand(13);
  Eigen::MatrixXd k = Eigen::MatrixXd::Random(n, n);
  k = (k + k.transpose()).eval();
  const Eigen::MatrixXf stored = k.cast<float>();
  const Eigen::MatrixXd directions = Eigen::MatrixXd::Random(n, kOutputs);
  Eigen::MatrixXd product;
  const double dgemm = bench::fastest_seconds(
      [&] { tangent::StoredKernel<double>(k).apply(directions, product); }, 5);
  for (auto _ : state) {
    tangent::StoredKernel<float>(stored).apply(directions, product);
    benchmark::DoNotOptimize(product.data());
    benchmark::ClobberMemory();
  }
  state.counters["dgemm"] = bench::ratio_to(dgemm);
  state.SetLabel(bench::label());
}

/// Means at t = ∞ with a ridge by conjugate gradients on the NTK stored as float (rank-256
/// preconditioner, tolerance 1e-8). Counters: iterations (iters), the time over the Cholesky
/// route's on the double kernel in the same run (chol), and the test means' largest difference
/// from the Cholesky route's, relative to their largest entry (diff).
void conjugate_gradient_float(benchmark::State& state) {
  const Problem p = problem(state.range(0));
  const Eigen::MatrixXf stored = p.k_train_train.cast<float>();
  const Eigen::MatrixXf stored_test = p.k_test_train.cast<float>();
  Eigen::MatrixXd by_cholesky;
  const double cholesky = bench::fastest_seconds(
      [&] {
        const auto flow = tangent::gradient_descent_mse(p.k_train_train, p.y, {.diag_reg = kRidge});
        by_cholesky = flow.test(tangent::infinite_time, p.k_test_train);
      },
      1);
  Eigen::MatrixXd mean;
  tangent::Index iterations = 0;
  for (auto _ : state) {
    const tangent::CgSolution cg =
        tangent::conjugate_gradient(stored, p.y, {.diag_reg = kRidge, .tolerance = 1e-8});
    mean = tangent::predict_mean(stored_test, cg);
    iterations = cg.iterations;
    benchmark::DoNotOptimize(mean.data());
    benchmark::ClobberMemory();
  }
  state.counters["iters"] = static_cast<double>(iterations);
  state.counters["chol"] = bench::ratio_to(cholesky);
  state.counters["diff"] =
      (mean - by_cholesky).cwiseAbs().maxCoeff() / by_cholesky.cwiseAbs().maxCoeff();
  state.SetLabel(bench::label());
}

/// The ensemble's mean and covariance on 2,000 test points at t = 10, 100 and ∞, NNGP and NTK
/// modes, from given kernels (the predictor's own work; kernels of random 784-feature inputs).
/// Counters: the time in units of one eigendecomposition of the same kernel measured just
/// before (eig), and the peak memory added by the prediction in units of N²·8 bytes (n2), on
/// top of the two train-train kernels it is handed (NaN where peak RSS cannot be reset).
void ensemble_cov_3_times(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  constexpr Eigen::Index test = 2000;
  std::srand(13);
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(n + test, 784);
  const auto net = tangent::serial(tangent::Dense{.width = 512, .w_std = 1.4, .b_std = 0.1},
                                   tangent::ReLU{}, tangent::Dense{.w_std = 1.4, .b_std = 0.1});
  const tangent::Kernels train = tangent::kernels(net, x.topRows(n));
  const tangent::Kernels test_train = tangent::kernels(net, x.bottomRows(test), x.topRows(n));
  const Eigen::MatrixXd test_test = tangent::nngp(net, x.bottomRows(test));
  const Eigen::MatrixXd y = Eigen::MatrixXd::Random(n, kOutputs);
  const double eig = bench::fastest_seconds(
      [&] {
        Eigen::VectorXd values;
        Eigen::MatrixXd vectors;
        tangent::detail::symmetric_eigen(train.ntk, values, &vectors);
      },
      1);
  const std::vector<double> times{10.0, 100.0, tangent::infinite_time};
  const double n2 = static_cast<double>(n) * static_cast<double>(n) * 8;
  const bool measured = bench::reset_peak_rss();
  for (auto _ : state) {
    tangent::Kernels owned = train;  // handed over below, as gradient_descent_mse_ensemble does
    bench::reset_peak_rss();
    const double before = bench::peak_rss_since_reset();
    {
      const tangent::detail::FlowState<> flow("bench", std::move(owned), y, 0.0, false, 0.0);
      for (const tangent::Get mode : {tangent::Get::nngp, tangent::Get::ntk}) {
        const auto post = tangent::detail::test_posterior(flow, mode, times, test_train, test_test);
        benchmark::DoNotOptimize(post.back().covariance.data());
      }
    }
    state.counters["n2"] = measured ? (bench::peak_rss_since_reset() - before) / n2
                                    : std::numeric_limits<double>::quiet_NaN();
  }
  state.counters["eig"] = bench::ratio_to(eig);
  state.SetLabel(bench::label() + (tangent::build::lapacke ? ", LAPACKE" : ", Eigen"));
}

/// NTK regression means at t = ∞ on N training points of 784 features (Fashion-MNIST's size),
/// 2,000 test points, the way a user at scale writes it: the train-train NTK handed to
/// gradient_descent_mse, which factorises it in its own storage. Counters: the peak memory of the
/// whole run (kernels included) in units of N²·8 bytes (n2), and the seconds of the kernels
/// (kernel_s) and of the solve (solve_s).
void ntk_regression_at_scale(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  constexpr Eigen::Index test = 2000;
  std::srand(17);
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(n, 784);
  const Eigen::MatrixXd x_test = Eigen::MatrixXd::Random(test, 784);
  const Eigen::MatrixXd y = Eigen::MatrixXd::Random(n, kOutputs);
  const auto net = tangent::serial(tangent::Dense{.width = 512, .w_std = 1.4, .b_std = 0.1},
                                   tangent::ReLU{}, tangent::Dense{.width = 512, .w_std = 1.4},
                                   tangent::ReLU{}, tangent::Dense{.w_std = 1.4, .b_std = 0.1});
  const double n2 = static_cast<double>(n) * static_cast<double>(n) * 8;
  const bool measured = bench::reset_peak_rss();
  for (auto _ : state) {
    bench::reset_peak_rss();
    const double before = bench::peak_rss_since_reset();
    const auto start = std::chrono::steady_clock::now();
    auto predictor = tangent::gradient_descent_mse(tangent::ntk(net, x), y,
                                                   tangent::MseOptions{.diag_reg = 1e-4});
    const Eigen::MatrixXd k_test_train = tangent::ntk(net, x_test, x);
    const auto kernels_done = std::chrono::steady_clock::now();
    const Eigen::MatrixXd mean = predictor.test(tangent::infinite_time, k_test_train);
    const auto stop = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(mean.data());
    state.counters["kernel_s"] = std::chrono::duration<double>(kernels_done - start).count();
    state.counters["solve_s"] = std::chrono::duration<double>(stop - kernels_done).count();
    state.counters["n2"] = measured ? (bench::peak_rss_since_reset() - before) / n2
                                    : std::numeric_limits<double>::quiet_NaN();
  }
  state.SetLabel(bench::label() + (tangent::build::lapacke ? ", LAPACKE" : ", Eigen"));
}

void add(const char* name, void (*f)(benchmark::State&), bool smoke) {
  auto* b = benchmark::RegisterBenchmark(name, f);
  b->ArgName("N")->Unit(benchmark::kMillisecond)->UseRealTime();
  for (const Eigen::Index n : bench::sizes(smoke, 200, {2000, 4000, 8000})) b->Arg(n);
}

void register_all(bool smoke) {
  add("eigendecomposition_floor", eigendecomposition_floor, smoke);
  add("gradient_descent_mse_100_times", gradient_descent_mse_100_times, smoke);
  add("cholesky_floor", cholesky_floor, smoke);
  add("gp_inference_means", gp_inference_means, smoke);
  add("gp_inference_means_eigen_route", gp_inference_means_eigen_route, smoke);
  add("ridge_sweep_20", ridge_sweep_20, smoke);
  add("likelihood_floor", likelihood_floor, smoke);
  add("log_marginal_likelihood", log_marginal_likelihood, smoke);
  add("log_marginal_likelihood_gradient", log_marginal_likelihood_gradient, smoke);
  add("leave_one_out_gradient", leave_one_out_gradient, smoke);
  add("leave_one_out_20", leave_one_out_20, smoke);
  add("cg_product_float", cg_product_float, smoke);
  add("conjugate_gradient_float", conjugate_gradient_float, smoke);
  // Run alone (its memory counter is the process's peak): --benchmark_filter=ensemble_cov
  auto* b = benchmark::RegisterBenchmark("ensemble_cov_3_times", ensemble_cov_3_times);
  b->ArgName("N")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
  for (const Eigen::Index n : bench::sizes(smoke, 200, {10000})) b->Arg(n);
  // 7.2 GB and a few minutes at N = 30,000: --benchmark_filter=ntk_regression_at_scale
  auto* scale = benchmark::RegisterBenchmark("ntk_regression_at_scale", ntk_regression_at_scale);
  scale->ArgName("N")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
  for (const Eigen::Index n : bench::sizes(smoke, 200, {30000})) scale->Arg(n);
}

}  // namespace

TANGENT_BENCH_MAIN(register_all)
