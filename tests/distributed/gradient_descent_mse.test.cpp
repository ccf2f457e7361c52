// distributed::gradient_descent_mse against tangent::gradient_descent_mse on one process, on the
// same kernels: test outputs at finite and infinite times to 1e-10 relative, by the Cholesky and
// the eigendecomposition routes, ridge and ridgeless on a singular kernel.
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tangent/distributed.hpp"
#include "tangent/tangent.hpp"

#include "support/inputs.hpp"

namespace {

using tangent::Index;
using tangent::Matrix;
namespace td = tangent::distributed;

// CHECK, not REQUIRE: a process that left the test case would leave the others waiting.
double relative_difference(const Matrix<double>& a, const Matrix<double>& b) {
  CHECK(a.rows() == b.rows());
  CHECK(a.cols() == b.cols());
  if (a.rows() != b.rows() || a.cols() != b.cols()) return 1.0;
  return (a - b).cwiseAbs().maxCoeff() / b.cwiseAbs().maxCoeff();
}

const auto net = tangent::serial(tangent::Dense{.width = 64, .w_std = 1.5, .b_std = 0.1},
                                 tangent::ReLU{}, tangent::Dense{.width = 64, .w_std = 1.3},
                                 tangent::ReLU{}, tangent::Dense{.width = 1, .b_std = 0.05});

}  // namespace

TEST_CASE("distributed gradient descent predictions equal the single-process ones",
          "[distributed]") {
  const Matrix<double> train = tangent::test::normal_inputs(90, 6, 1);
  const Matrix<double> test = tangent::test::normal_inputs(37, 6, 2);
  const Matrix<double> y = tangent::test::normal_inputs(90, 3, 3);
  const auto k_train = tangent::ntk(net, train);
  const auto k_test = tangent::ntk(net, test, train);
  const tangent::MseOptions options{.learning_rate = 0.5, .diag_reg = 1e-3};
  const auto single = tangent::gradient_descent_mse(k_train, y, options);
  td::Grid grid(MPI_COMM_WORLD);
  td::Kernels train_kernels = td::kernels(net, train, grid);
  const td::Kernels test_kernels = td::kernels(net, test, train, grid);
  auto predictor = td::gradient_descent_mse(std::move(train_kernels.ntk), y, options);
  // t = ∞ first: the Cholesky route, as on one process.
  const Matrix<double> at_infinity = predictor.test(tangent::infinite_time, test_kernels.ntk);
  CHECK(predictor.uses_cholesky());
  CHECK(relative_difference(at_infinity, single.test(tangent::infinite_time, k_test)) < 1e-10);
  CHECK(predictor.test(0.0, test_kernels.ntk).isZero(0.0));
  for (const double t : {0.3, 20.0, 1e4}) {
    INFO("t = " << t);
    CHECK(relative_difference(predictor.test(t, test_kernels.ntk), single.test(t, k_test)) < 1e-10);
  }
  // After a finite time, t = ∞ from the eigendecomposition.
  CHECK_FALSE(predictor.uses_cholesky());
  CHECK(relative_difference(predictor.test(tangent::infinite_time, test_kernels.ntk), at_infinity) <
        1e-10);
  const tangent::Spectrum& spectrum = predictor.spectrum();
  CHECK(relative_difference(spectrum.values, single.spectrum().values) < 1e-12);
}

TEST_CASE("distributed training outputs, several times and initial outputs as on one process",
          "[distributed]") {
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const Matrix<double> train = tangent::test::normal_inputs(70, 5, 30);
  const Matrix<double> test = tangent::test::normal_inputs(25, 5, 31);
  const Matrix<double> y = tangent::test::normal_inputs(70, 2, 32);
  const Matrix<double> f_train_0 = 0.3 * tangent::test::normal_inputs(70, 2, 33);
  const Matrix<double> f_test_0 = 0.3 * tangent::test::normal_inputs(25, 2, 34);
  const tangent::MseOptions options{.learning_rate = 2.0, .diag_reg = 1e-3};
  const auto single = tangent::gradient_descent_mse(tangent::ntk(net, train), y, options);
  const Matrix<double> k_test = tangent::ntk(net, test, train);
  td::Grid grid(MPI_COMM_WORLD);
  const td::BlockCyclicMatrix k_test_d = td::ntk(net, test, train, grid);
  auto predictor = td::gradient_descent_mse(td::ntk(net, train, grid), y, options);
  // t = ∞ alone: the Cholesky route, where the training outputs have reached y.
  CHECK(predictor.train(tangent::infinite_time, f_train_0) == y);
  CHECK(predictor.uses_cholesky());
  CHECK(relative_difference(predictor.test(tangent::infinite_time, k_test_d, f_train_0, f_test_0),
                            single.test(tangent::infinite_time, k_test, f_train_0, f_test_0)) <
        1e-10);
  // Several times in one call, from the eigendecomposition; t = 0 gives f₀ exactly.
  const std::vector<double> times{0.0, 0.5, 30.0, tangent::infinite_time};
  const std::vector<Matrix<double>> f_test = predictor.test(times, k_test_d, f_train_0, f_test_0);
  const std::vector<Matrix<double>> f_train = predictor.train(times, f_train_0);
  const std::vector<Matrix<double>> expected_test = single.test(times, k_test, f_train_0, f_test_0);
  const std::vector<Matrix<double>> expected_train = single.train(times, f_train_0);
  REQUIRE(f_test.size() == times.size());
  REQUIRE(f_train.size() == times.size());
  CHECK(f_test[0] == f_test_0);
  CHECK(f_train[0] == f_train_0);
  for (std::size_t i = 0; i < times.size(); ++i) {
    INFO("t = " << times[i]);
    CHECK(relative_difference(f_test[i], expected_test[i]) < 1e-10);
    CHECK(relative_difference(f_train[i], expected_train[i]) < 1e-10);
  }
  CHECK_FALSE(predictor.uses_cholesky());
  // One time alone, without initial outputs: zero, as on one process.
  CHECK(relative_difference(predictor.train(5.0), single.train(5.0)) < 1e-10);
  // Bad initial outputs and times, refused on every process.
  CHECK_THROWS_WITH(predictor.test(1.0, k_test_d, f_train_0, f_train_0),
                    Catch::Contains("f_test_0 is 70 × 2 but the outputs are 25 × 2"));
  CHECK_THROWS_WITH(predictor.train(std::vector<double>{}), Catch::Contains("times is empty"));
  if (size > 1) {
    Matrix<double> spoiled = f_train_0;
    if (rank == size - 1) spoiled(3, 1) += 1e-9;
    CHECK_THROWS_WITH(predictor.train(1.0, spoiled),
                      Catch::Contains("f_train_0 on rank " + std::to_string(size - 1) +
                                      " differs from rank 0's copy"));
    const std::vector<double> mine =
        rank == 0 ? std::vector<double>{1.0, 2.0} : std::vector<double>{1.0};
    CHECK_THROWS_WITH(predictor.test(mine, k_test_d), Catch::Contains("times is 1 × 1 on rank"));
  }
}

TEST_CASE("distributed eigendecompositions of small kernels on every grid", "[distributed]") {
  // Blocks of 16 (tile_side) leave some processes with one short block or none: ScaLAPACK's
  // workspace query is too small there (see gradient_descent_mse.hpp).
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::vector<std::pair<int, int>> shapes{{1, size}};
  if (size > 1) shapes.emplace_back(size, 1);
  if (size == 4) shapes.emplace_back(2, 2);
  for (const Index n : {5, 17, 24, 40}) {
    const Matrix<double> train = tangent::test::normal_inputs(n, 3, 20);
    const Matrix<double> test = tangent::test::normal_inputs(7, 3, 21);
    const Matrix<double> y = tangent::test::normal_inputs(n, 2, 22);
    const auto single =
        tangent::gradient_descent_mse(tangent::ntk(net, train), y, {.diag_reg = 1e-2});
    const Matrix<double> expected = single.test(3.0, tangent::ntk(net, test, train));
    for (const auto& [rows, cols] : shapes) {
      if (n < rows || n < cols) continue;
      INFO("N = " << n << ", grid " << rows << " × " << cols);
      td::Grid grid(MPI_COMM_WORLD, rows, cols);
      auto predictor = td::gradient_descent_mse(td::ntk(net, train, grid), y, {.diag_reg = 1e-2});
      CHECK(relative_difference(predictor.test(3.0, td::ntk(net, test, train, grid)), expected) <
            1e-10);
    }
  }
}

TEST_CASE("distributed ridgeless predictions on a singular kernel take the pseudoinverse",
          "[distributed]") {
  Matrix<double> train = tangent::test::normal_inputs(60, 4, 4);
  train.row(7) = train.row(2);  // two equal samples: K has a zero eigenvalue
  train.row(31) = train.row(2);
  const Matrix<double> test = tangent::test::normal_inputs(20, 4, 5);
  Matrix<double> y = tangent::test::normal_inputs(60, 1, 6);
  const auto single = tangent::gradient_descent_mse(tangent::nngp(net, train), y);
  const Matrix<double> expected =
      single.test(tangent::infinite_time, tangent::nngp(net, test, train));
  td::Grid grid(MPI_COMM_WORLD);
  td::Kernels train_kernels = td::kernels(net, train, grid);
  const td::Kernels test_kernels = td::kernels(net, test, train, grid);
  auto predictor = td::gradient_descent_mse(std::move(train_kernels.nngp), y);
  CHECK(relative_difference(predictor.test(tangent::infinite_time, test_kernels.nngp), expected) <
        1e-10);
  CHECK_FALSE(predictor.uses_cholesky());
  CHECK(predictor.spectrum().values[0] <= predictor.spectrum().zero_below);
}

TEST_CASE("distributed gradient descent refuses bad input on every process", "[distributed]") {
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const Matrix<double> train = tangent::test::normal_inputs(30, 3, 7);
  td::Grid grid(MPI_COMM_WORLD);
  Matrix<double> y = tangent::test::normal_inputs(30, 2, 8);
  if (rank == size - 1) y(4, 1) = std::numeric_limits<double>::infinity();
  td::Kernels k = td::kernels(net, train, grid);
  CHECK_THROWS_WITH(td::gradient_descent_mse(std::move(k.ntk), y),
                    Catch::Contains("y_train has a non-finite value"));
  td::Kernels again = td::kernels(net, train, grid);
  auto predictor =
      td::gradient_descent_mse(std::move(again.ntk), tangent::test::normal_inputs(30, 2, 8));
  CHECK_THROWS_WITH(predictor.test(-1.0, again.nngp), Catch::Contains("time t must be"));
  if (size > 1) {
    CHECK_THROWS_WITH(predictor.test(rank == 0 ? 1.0 : 2.0, again.nngp),
                      Catch::Contains("times on rank 1 differs from rank 0's copy"));
  }
  const td::Kernels wrong = td::kernels(net, tangent::test::normal_inputs(12, 3, 9), grid);
  CHECK_THROWS_WITH(predictor.test(1.0, wrong.ntk), Catch::Contains("training points"));
  // A NaN in one process's part of the kernel; y of another shape on one process.
  td::BlockCyclicMatrix spoiled = td::ntk(net, train, grid);
  // On the last process that holds entries (blocks of 16 leave a third process none).
  const int holder = spoiled.local().size() > 0 ? rank : -1;
  int last_holder = -1;
  MPI_Allreduce(&holder, &last_holder, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == last_holder) spoiled.local()(0, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(
      td::gradient_descent_mse(std::move(spoiled), tangent::test::normal_inputs(30, 2, 8)),
      Catch::Contains("k_train_train has a non-finite value"));
  if (size > 1) {
    const Matrix<double> other = tangent::test::normal_inputs(30, rank == size - 1 ? 3 : 2, 8);
    CHECK_THROWS_WITH(td::gradient_descent_mse(td::ntk(net, train, grid), other),
                      Catch::Contains("y_train is 30 × 3 on rank"));
  }
}
