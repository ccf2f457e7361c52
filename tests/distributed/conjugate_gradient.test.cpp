// distributed::conjugate_gradient: the stated residual, recomputed here from the whole kernel on
// one process, and agreement with a direct solve within what that residual allows.

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "tangent/distributed.hpp"
#include "tangent/tangent.hpp"

#include "support/inputs.hpp"

namespace {

using tangent::Index;
using tangent::Matrix;
namespace td = tangent::distributed;

const auto net = tangent::serial(tangent::Dense{.width = 64, .w_std = 1.5, .b_std = 0.1},
                                 tangent::Erf{}, tangent::Dense{.width = 64, .w_std = 1.3},
                                 tangent::ReLU{}, tangent::Dense{.width = 1});

}  // namespace

TEST_CASE("distributed conjugate gradients reach their stated residual", "[distributed]") {
  const Matrix<double> train = tangent::test::normal_inputs(150, 5, 11);
  const Matrix<double> test = tangent::test::normal_inputs(30, 5, 12);
  const Matrix<double> y = tangent::test::normal_inputs(150, 4, 13);
  const tangent::CgOptions options{.diag_reg = 1e-3, .tolerance = 1e-10, .preconditioner_rank = 20};
  td::Grid grid(MPI_COMM_WORLD);
  const td::Kernels k = td::kernels(net, train, grid);
  const td::Kernels k_test = td::kernels(net, test, train, grid);
  const tangent::CgSolution solution = td::conjugate_gradient(k.ntk, y, options);
  REQUIRE(solution.converged);
  CHECK(solution.preconditioner_rank == 20);
  // The residual from the whole kernel, independently of the operator's products.
  Matrix<double> regularized = tangent::ntk(net, train);
  const double ridge = 1e-3 * regularized.diagonal().mean();
  CHECK(solution.ridge == Approx(ridge).epsilon(1e-14));
  regularized.diagonal().array() += ridge;
  const Matrix<double> residual = y - regularized * solution.weights;
  for (Index j = 0; j < y.cols(); ++j) {
    CHECK(residual.col(j).norm() / y.col(j).norm() <= 1e-10 * 1.01);
    CHECK(solution.relative_residuals[j] <= 1e-10);
  }
  // Against the direct solve: the error is at most κ(K̃)·tolerance relative.
  const Eigen::LLT<Matrix<double>> direct(regularized);
  const Matrix<double> alpha = direct.solve(y);
  const Eigen::SelfAdjointEigenSolver<Matrix<double>> eigen(regularized);
  const double condition = eigen.eigenvalues().maxCoeff() / eigen.eigenvalues().minCoeff();
  CHECK((solution.weights - alpha).norm() / alpha.norm() <= condition * 1e-10);
  const Matrix<double> mean = td::predict_mean(k_test.ntk, solution);
  const Matrix<double> expected = tangent::ntk(net, test, train) * alpha;
  CHECK((mean - expected).norm() / expected.norm() <= condition * 1e-10);
  // Every process holds the same answer, bit for bit.
  Matrix<double> first = solution.weights;
  MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  CHECK((first.array() == solution.weights.array()).all());
}

TEST_CASE("distributed conjugate gradients refuse bad input on every process", "[distributed]") {
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  td::Grid grid(MPI_COMM_WORLD);
  const td::Kernels k = td::kernels(net, tangent::test::normal_inputs(40, 3, 14), grid);
  Matrix<double> y = tangent::test::normal_inputs(40, 2, 15);
  CHECK_THROWS_WITH(td::conjugate_gradient(k.ntk, y, {.diag_reg = 0.0}),
                    Catch::Contains("diag_reg must be finite and positive"));
  if (size > 1) {
    if (rank == size - 1) y(3, 0) += 1.0;
    CHECK_THROWS_WITH(td::conjugate_gradient(k.ntk, y, {.diag_reg = 1e-3}),
                      Catch::Contains("differs from rank 0's copy"));
  }
}

TEST_CASE("a tiled kernel computes the stored kernel's products without storing it",
          "[distributed]") {
  const Matrix<double> train = tangent::test::normal_inputs(130, 5, 16);
  const Matrix<double> y = tangent::test::normal_inputs(130, 3, 17);
  td::Grid grid(MPI_COMM_WORLD);
  const td::Kernels k = td::kernels(net, train, grid);
  for (const tangent::Get which : {tangent::Get::nngp, tangent::Get::ntk}) {
    const Matrix<double> single =
        which == tangent::Get::ntk ? tangent::ntk(net, train) : tangent::nngp(net, train);
    const td::TiledKernel tiled(net, train, grid, which);
    CHECK(tiled.size() == 130);
    // The diagonal tiles are those of tangent::kernels: the same bits.
    CHECK((tiled.diagonal().array() == single.diagonal().array()).all());
    Matrix<double> product;
    tiled.apply(y, product);
    const Matrix<double> expected = single * y;
    CHECK((product - expected).cwiseAbs().maxCoeff() <= 1e-13 * expected.cwiseAbs().maxCoeff());
    Eigen::VectorXd column;
    tiled.column(17, column);
    CHECK((column - single.col(17)).cwiseAbs().maxCoeff() <=
          1e-14 * single.col(17).cwiseAbs().maxCoeff());
  }
  const td::TiledKernel tiled(net, train, grid);
  const tangent::CgOptions options{.diag_reg = 1e-3, .tolerance = 1e-10, .preconditioner_rank = 20};
  const tangent::CgSolution free = tangent::conjugate_gradient(tiled, y, options);
  const tangent::CgSolution stored = td::conjugate_gradient(k.ntk, y, options);
  REQUIRE(free.converged);
  Matrix<double> regularized = tangent::ntk(net, train);
  regularized.diagonal().array() += free.ridge;
  const Matrix<double> residual = y - regularized * free.weights;
  for (Index j = 0; j < y.cols(); ++j) {
    CHECK(residual.col(j).norm() / y.col(j).norm() <= 1e-10 * 1.01);
  }
  CHECK(std::abs(free.iterations - stored.iterations) <= 2);
  CHECK_THROWS_WITH(td::TiledKernel(net, train, grid, tangent::Get::ntkgp),
                    Catch::Contains("which must be Get::nngp or Get::ntk"));
}

TEST_CASE("distributed conjugate gradients on a float kernel solve its system in double",
          "[distributed]") {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const Index n = 150;
  const Matrix<double> train = tangent::test::normal_inputs(n, 5, 18);
  const Matrix<double> test = tangent::test::normal_inputs(30, 5, 19);
  const Matrix<double> y = tangent::test::normal_inputs(n, 3, 20);
  const double tolerance = 1e-10;
  const tangent::CgOptions options{
      .diag_reg = 1e-3, .tolerance = tolerance, .preconditioner_rank = 20};
  // What the processes should find, from the whole float kernel on one process: the system
  // solved is the float kernel's, widened exactly to double.
  const Matrix<float> single = tangent::ntk<float>(net, train);
  Matrix<double> widened = single.cast<double>();
  const double ridge = 1e-3 * widened.diagonal().mean();
  widened.diagonal().array() += ridge;
  const Eigen::SelfAdjointEigenSolver<Matrix<double>> eigen(widened);
  const double condition = eigen.eigenvalues().maxCoeff() / eigen.eigenvalues().minCoeff();
  const tangent::CgSolution one = tangent::conjugate_gradient(single, y, options);
  Matrix<double> exact = tangent::ntk(net, train);
  // Rounding K to float moves α by at most κ·δ/(1 − κ·δ) relative, δ = ‖ΔK‖₂/λ_max(K̃) (bounded
  // here with ‖ΔK‖_F), when κ·δ < 1.
  const double rounding = (exact - single.cast<double>()).norm() / eigen.eigenvalues().maxCoeff();
  REQUIRE(rounding > 0);
  REQUIRE(condition * rounding < 0.5);
  exact.diagonal().array() += ridge;
  const Matrix<double> alpha = exact.llt().solve(y);
  const Matrix<double> k_test = tangent::ntk<float>(net, test, train).cast<double>();
  std::vector<std::pair<int, int>> shapes{{1, size}};
  if (size > 1) shapes.emplace_back(size, 1);
  for (const auto& [rows, cols] : shapes) {
    INFO("grid " << rows << " × " << cols);
    td::Grid grid(MPI_COMM_WORLD, rows, cols);
    const td::BasicBlockCyclicMatrix<float> k = td::ntk<float>(net, train, grid);
    const tangent::CgSolution solution = td::conjugate_gradient(k, y, options);
    CHECK(solution.converged);
    CHECK(solution.ridge == Approx(ridge).epsilon(1e-14));
    // The stated residual, recomputed here by another summation: they differ by at most
    // N·ε·‖|K̃|·|α|‖/‖y‖ per output.
    const Matrix<double> residual = y - widened * solution.weights;
    const Matrix<double> magnitude = widened.cwiseAbs() * solution.weights.cwiseAbs();
    for (Index j = 0; j < y.cols(); ++j) {
      const double summation = static_cast<double>(n) * std::numeric_limits<double>::epsilon() *
                               magnitude.col(j).norm() / y.col(j).norm();
      CHECK(solution.relative_residuals[j] <= tolerance);
      CHECK(residual.col(j).norm() / y.col(j).norm() <= tolerance + summation);
    }
    // The same solve on one process: both within κ(K̃)·tolerance of the exact solution.
    CHECK((solution.weights - one.weights).norm() / one.weights.norm() <=
          2 * condition * tolerance);
    CHECK((solution.weights - alpha).norm() / alpha.norm() <=
          condition * rounding / (1 - condition * rounding) + condition * tolerance);
    // Every process holds the same answer, bit for bit: they took the same decisions.
    Matrix<double> first = solution.weights;
    MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
    CHECK((first.array() == solution.weights.array()).all());
    // Test means: the float test kernel widened and summed in double, as K_*·α here up to the
    // summation order, N·ε·|K_*|·|α| entry by entry.
    const Matrix<double> mean = td::predict_mean(td::ntk<float>(net, test, train, grid), solution);
    const Matrix<double> bound = static_cast<double>(n) * std::numeric_limits<double>::epsilon() *
                                 (k_test.cwiseAbs() * solution.weights.cwiseAbs());
    CHECK(((mean - k_test * solution.weights).cwiseAbs().array() <= bound.array()).all());
  }
}
