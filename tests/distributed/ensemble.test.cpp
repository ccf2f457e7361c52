// distributed::gradient_descent_mse_ensemble against tangent::gradient_descent_mse_ensemble on one
// process, on the same network and inputs: test and training-set means and covariances, NNGP and
// NTK modes, at t = 0, finite times and t = ∞, to 1e-10 relative; a singular kernel (ridgeless,
// the pseudoinverse); small kernels on every grid shape; bad input refused on every process.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "tangent/distributed.hpp"
#include "tangent/tangent.hpp"

#include "support/inputs.hpp"

namespace {

using tangent::Get;
using tangent::Index;
using tangent::Matrix;
namespace td = tangent::distributed;

// The largest difference over the largest entry of `expected`, or over `scale` where the expected
// entries are far below the terms they are computed from (a covariance at t = ∞ is K_** minus a
// nearly equal product; its rounding error is relative to K_**, not to the difference).
// CHECK, not REQUIRE: a process that left the test case would leave the others waiting.
double relative_difference(const Matrix<double>& a, const Matrix<double>& expected,
                           double scale = 0) {
  CHECK(a.rows() == expected.rows());
  CHECK(a.cols() == expected.cols());
  if (a.rows() != expected.rows() || a.cols() != expected.cols()) return 1.0;
  const double difference = (a - expected).cwiseAbs().maxCoeff();
  const double denominator = std::max(scale, expected.cwiseAbs().maxCoeff());
  return denominator > 0 ? difference / denominator : difference;  // zero expected: absolute
}

Matrix<double> replicated(const std::optional<td::BlockCyclicMatrix>& m) {
  CHECK(m.has_value());
  return m ? m->replicated() : Matrix<double>();
}

const auto net = tangent::serial(tangent::Dense{.width = 64, .w_std = 1.5, .b_std = 0.1},
                                 tangent::ReLU{}, tangent::Dense{.width = 64, .w_std = 1.3},
                                 tangent::ReLU{}, tangent::Dense{.width = 1, .b_std = 0.05});

/// Every mode's test and training-set means and covariances at `times`, distributed against one
/// process, on `grid`.
void check_against_single_process(const td::Grid& grid, const Matrix<double>& train,
                                  const Matrix<double>& test, const Matrix<double>& y,
                                  const tangent::MseOptions& options,
                                  const std::vector<double>& times) {
  const auto single = tangent::gradient_descent_mse_ensemble(net, train, y, options);
  const std::vector<tangent::Posterior> expected =
      single.predict(test, times, Get::nngp | Get::ntk, true);
  const std::vector<tangent::Posterior> expected_train =
      single.predict_train(times, Get::nngp | Get::ntk, true);
  const double test_scale = tangent::nngp(net, test).cwiseAbs().maxCoeff();
  const double train_scale = tangent::nngp(net, train).cwiseAbs().maxCoeff();

  auto ensemble = td::gradient_descent_mse_ensemble(td::kernels(net, train, grid), y, options);
  const td::Kernels k_test_train = td::kernels(net, test, train, grid);
  const td::BlockCyclicMatrix k_test_test = td::nngp(net, test, grid);
  const std::vector<td::Posterior> got = ensemble.predict(times, k_test_train, k_test_test);
  const std::vector<td::Posterior> got_train =
      ensemble.predict_train(times, Get::nngp | Get::ntk, true);
  REQUIRE(got.size() == times.size());
  REQUIRE(got_train.size() == times.size());
  for (std::size_t i = 0; i < times.size(); ++i) {
    INFO("t = " << times[i]);
    CHECK(relative_difference(got[i].nngp.mean, expected[i].nngp.mean) < 1e-10);
    CHECK(relative_difference(got[i].ntk.mean, expected[i].ntk.mean) < 1e-10);
    CHECK(relative_difference(replicated(got[i].nngp.covariance), expected[i].nngp.covariance,
                              test_scale) < 1e-10);
    CHECK(relative_difference(replicated(got[i].ntk.covariance), expected[i].ntk.covariance,
                              test_scale) < 1e-10);
    CHECK(relative_difference(got_train[i].nngp.mean, expected_train[i].nngp.mean) < 1e-10);
    CHECK(relative_difference(got_train[i].ntk.mean, expected_train[i].ntk.mean) < 1e-10);
    CHECK(relative_difference(replicated(got_train[i].nngp.covariance),
                              expected_train[i].nngp.covariance, train_scale) < 1e-10);
    CHECK(relative_difference(replicated(got_train[i].ntk.covariance),
                              expected_train[i].ntk.covariance, train_scale) < 1e-10);
  }
}

}  // namespace

TEST_CASE("the distributed ensemble's means and covariances equal the single-process ones",
          "[distributed]") {
  const Matrix<double> train = tangent::test::normal_inputs(70, 6, 40);
  const Matrix<double> test = tangent::test::normal_inputs(23, 6, 41);
  const Matrix<double> y = tangent::test::normal_inputs(70, 2, 42);
  const tangent::MseOptions options{.learning_rate = 1.5, .diag_reg = 1e-3};
  td::Grid grid(MPI_COMM_WORLD);
  check_against_single_process(grid, train, test, y, options,
                               {0.0, 0.7, 25.0, tangent::infinite_time});

  SECTION("at t = 0 the means are zero and the covariances the priors'") {
    auto ensemble = td::gradient_descent_mse_ensemble(td::kernels(net, train, grid), y, options);
    const td::Kernels k_test_train = td::kernels(net, test, train, grid);
    const Matrix<double> prior = tangent::nngp(net, test);
    const td::Posterior at_start = ensemble.predict(0.0, k_test_train, td::nngp(net, test, grid));
    CHECK(at_start.nngp.mean.isZero(0.0));
    CHECK(at_start.ntk.mean.isZero(0.0));
    CHECK(relative_difference(replicated(at_start.nngp.covariance), prior) < 1e-12);
    CHECK(relative_difference(replicated(at_start.ntk.covariance), prior) < 1e-12);
    // Means alone, one mode: no covariance made.
    const td::Posterior means = ensemble.predict(3.0, k_test_train, Get::ntk);
    CHECK(means.ntk.mean.rows() == 23);
    CHECK_FALSE(means.ntk.covariance.has_value());
    CHECK(means.nngp.mean.size() == 0);
    // An NTK in other blocks (made apart from the NNGP) is brought to the NNGP's blocks.
    const td::BlockCyclicMatrix k_test_test = td::nngp(net, test, grid);
    td::Kernels apart{td::nngp(net, train, grid),
                      td::BlockCyclicMatrix::from_replicated(grid, tangent::ntk(net, train), 7)};
    auto relaid = td::gradient_descent_mse_ensemble(std::move(apart), y, options);
    const td::Posterior expected = ensemble.predict(3.0, k_test_train, k_test_test, Get::ntk);
    const td::Posterior got = relaid.predict(3.0, k_test_train, k_test_test, Get::ntk);
    CHECK(relative_difference(got.ntk.mean, expected.ntk.mean) < 1e-10);
    CHECK(relative_difference(replicated(got.ntk.covariance), replicated(expected.ntk.covariance),
                              prior.cwiseAbs().maxCoeff()) < 1e-10);
    // Training-set means alone, no covariance made.
    const td::Posterior train_means = ensemble.predict_train(3.0, Get::nngp);
    CHECK(train_means.nngp.mean.rows() == 70);
    CHECK_FALSE(train_means.nngp.covariance.has_value());
    // The NTK's eigenvalues, as on one process.
    const auto single = tangent::gradient_descent_mse(tangent::ntk(net, train), y, options);
    CHECK(relative_difference(ensemble.spectrum(Get::ntk).values, single.spectrum().values) <
          1e-12);
  }
}

TEST_CASE(
    "the distributed ensemble's NTK means at t = ∞ take the Cholesky route, as on one process",
    "[distributed]") {
  const Matrix<double> train = tangent::test::normal_inputs(60, 5, 53);
  const Matrix<double> test = tangent::test::normal_inputs(17, 5, 54);
  const Matrix<double> y = tangent::test::normal_inputs(60, 2, 55);
  const tangent::MseOptions options{.diag_reg = 1e-3};
  const auto single = tangent::gradient_descent_mse_ensemble(net, train, y, options);
  td::Grid grid(MPI_COMM_WORLD);
  auto ensemble = td::gradient_descent_mse_ensemble(td::kernels(net, train, grid), y, options);
  const td::Kernels k_test_train = td::kernels(net, test, train, grid);
  // Cholesky: the training outputs have reached y exactly, as on one process.
  CHECK(ensemble.predict_train(tangent::infinite_time, Get::ntk).ntk.mean == y);
  CHECK(
      relative_difference(ensemble.predict(tangent::infinite_time, k_test_train, Get::ntk).ntk.mean,
                          single.predict(test, tangent::infinite_time, Get::ntk).ntk.mean) < 1e-10);
  // Covariances then decompose the NTK (its lower triangle survived the factor in the upper).
  const tangent::Posterior expected = single.predict(test, tangent::infinite_time, Get::ntk, true);
  const td::Posterior got =
      ensemble.predict(tangent::infinite_time, k_test_train, td::nngp(net, test, grid), Get::ntk);
  CHECK(relative_difference(got.ntk.mean, expected.ntk.mean) < 1e-10);
  CHECK(relative_difference(replicated(got.ntk.covariance), expected.ntk.covariance,
                            tangent::nngp(net, test).cwiseAbs().maxCoeff()) < 1e-10);
}

TEST_CASE("the distributed ensemble on a singular kernel takes the pseudoinverse",
          "[distributed]") {
  Matrix<double> train = tangent::test::normal_inputs(50, 4, 43);
  train.row(9) = train.row(3);  // equal samples: both kernels have a zero eigenvalue
  train.row(30) = train.row(3);
  const Matrix<double> test = tangent::test::normal_inputs(19, 4, 44);
  const Matrix<double> y = tangent::test::normal_inputs(50, 1, 45);
  td::Grid grid(MPI_COMM_WORLD);
  check_against_single_process(grid, train, test, y, {.learning_rate = 1.0},
                               {2.0, tangent::infinite_time});
}

TEST_CASE("the distributed ensemble on small kernels and every grid shape", "[distributed]") {
  // Blocks of 16 leave some processes with one short block or none, and pdgemm with empty parts.
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::vector<std::pair<int, int>> shapes{{1, size}};
  if (size > 1) shapes.emplace_back(size, 1);
  if (size == 4) shapes.emplace_back(2, 2);
  for (const Index n : {5, 17, 40}) {
    const Matrix<double> train = tangent::test::normal_inputs(n, 3, 46);
    const Matrix<double> test = tangent::test::normal_inputs(7, 3, 47);
    const Matrix<double> y = tangent::test::normal_inputs(n, 2, 48);
    for (const auto& [rows, cols] : shapes) {
      if (n < rows || n < cols) continue;
      INFO("N = " << n << ", grid " << rows << " × " << cols);
      td::Grid grid(MPI_COMM_WORLD, rows, cols);
      check_against_single_process(grid, train, test, y, {.diag_reg = 1e-2},
                                   {4.0, tangent::infinite_time});
    }
  }
}

TEST_CASE("the distributed ensemble refuses bad input on every process", "[distributed]") {
  const Matrix<double> train = tangent::test::normal_inputs(30, 3, 49);
  const Matrix<double> test = tangent::test::normal_inputs(12, 3, 50);
  const Matrix<double> y = tangent::test::normal_inputs(30, 2, 51);
  td::Grid grid(MPI_COMM_WORLD);
  auto ensemble = td::gradient_descent_mse_ensemble(td::kernels(net, train, grid), y);
  const td::Kernels k_test_train = td::kernels(net, test, train, grid);
  const td::BlockCyclicMatrix k_test_test = td::nngp(net, test, grid);
  CHECK_THROWS_WITH(ensemble.predict(1.0, k_test_train, Get::ntkgp),
                    Catch::Contains("get must be Get::nngp, Get::ntk or both"));
  CHECK_THROWS_WITH(ensemble.predict(1.0, k_test_train, k_test_train.nngp),
                    Catch::Contains("nngp_test_test is 12 × 30 but must be 12 × 12"));
  Matrix<double> lopsided = tangent::nngp(net, test);
  lopsided(2, 5) += 1e-3;
  CHECK_THROWS_WITH(
      ensemble.predict(1.0, k_test_train,
                       td::BlockCyclicMatrix::from_replicated(grid, lopsided, k_test_test.block())),
      Catch::Contains("nngp_test_test is not symmetric"));
  // A test-test kernel in other blocks than the train-train kernels' is redistributed.
  const tangent::Posterior single =
      tangent::gradient_descent_mse_ensemble(net, train, y).predict(test, 1.0, Get::nngp, true);
  const td::Posterior relaid = ensemble.predict(
      1.0, k_test_train, td::BlockCyclicMatrix::from_replicated(grid, tangent::nngp(net, test), 5),
      Get::nngp);
  CHECK(relative_difference(replicated(relaid.nngp.covariance), single.nngp.covariance,
                            tangent::nngp(net, test).cwiseAbs().maxCoeff()) < 1e-10);
  CHECK_THROWS_WITH(ensemble.predict_train(-1.0), Catch::Contains("time t must be"));
  CHECK_THROWS_WITH(ensemble.spectrum(Get::nngp | Get::ntk), Catch::Contains("one mode"));
  // Symmetric to rounding is symmetric, as on one process.
  Matrix<double> rounded = tangent::nngp(net, test);
  rounded(2, 5) *= 1 + 1e-15;
  CHECK_NOTHROW(ensemble.predict(
      1.0, k_test_train, td::BlockCyclicMatrix::from_replicated(grid, rounded, 5), Get::nngp));
  // Requests and sizes that differ on one process, a NaN on one process: refused on all.
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) {
    const bool last = rank == size - 1;
    CHECK_THROWS_WITH(ensemble.predict_train(1.0, last ? Get::ntk : Get::nngp, true),
                      Catch::Contains("get (with the covariances asked) on rank") &&
                          Catch::Contains("differs from rank 0's copy"));
    CHECK_THROWS_WITH(ensemble.predict_train(1.0, Get::nngp, last),
                      Catch::Contains("differs from rank 0's copy"));
    const Index test_size = last ? 11 : 12;
    const td::BlockCyclicMatrix smaller = td::BlockCyclicMatrix::from_replicated(
        grid, tangent::nngp(net, test).topLeftCorner(test_size, test_size), k_test_test.block());
    CHECK_THROWS_WITH(ensemble.predict(1.0, k_test_train, smaller),
                      Catch::Contains("nngp_test_test's size on rank"));
  }
  td::BlockCyclicMatrix spoiled = td::nngp(net, test, grid);
  // On the last process that holds entries.
  const int holder = spoiled.local().size() > 0 ? rank : -1;
  int last_holder = -1;
  MPI_Allreduce(&holder, &last_holder, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == last_holder) spoiled.local()(0, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(ensemble.predict(1.0, k_test_train, spoiled),
                    Catch::Contains("nngp_test_test has a non-finite value"));
  // The two train-train kernels must have the same size (each is checked against y_train).
  td::Kernels mismatched = td::kernels(net, train, grid);
  mismatched.ntk = td::ntk(net, tangent::test::normal_inputs(31, 3, 52), grid);
  CHECK_THROWS_WITH(td::gradient_descent_mse_ensemble(std::move(mismatched), y),
                    Catch::Contains("k_train_train.ntk is 31 × 31"));
}

TEST_CASE("a distributed ensemble whose kernel is refused by its eigendecomposition says so again",
          "[distributed]") {
  // 2·11ᵀ − I: a unit diagonal, but an eigenvalue −1 (and 2N − 1).
  const Index n = 20;
  const Matrix<double> indefinite = 2 * Matrix<double>::Ones(n, n) - Matrix<double>::Identity(n, n);
  td::Grid grid(MPI_COMM_WORLD);
  auto ensemble = td::gradient_descent_mse_ensemble(
      td::Kernels{td::BlockCyclicMatrix::from_replicated(grid, indefinite, 16),
                  td::BlockCyclicMatrix::from_replicated(grid, indefinite, 16)},
      tangent::test::normal_inputs(n, 1, 56));
  CHECK_THROWS_WITH(ensemble.predict_train(1.0, Get::ntk),
                    Catch::Contains("k_train_train.ntk is not positive semidefinite"));
  // pdsyevd consumed the kernel: the predictor refuses to answer rather than read what is left.
  CHECK_THROWS_WITH(ensemble.predict_train(1.0, Get::ntk), Catch::Contains("make a new predictor"));
}
