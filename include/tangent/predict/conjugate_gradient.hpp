#pragma once
/// @file
/// Kernel regression at t = ∞ by preconditioned conjugate gradients: α = K̃⁻¹·y with K̃ = K + r·I,
/// for when a factorisation's N³/3 flops are too slow, its storage too large, or the kernel is
/// only an operator (`KernelOperator`: tiles recomputed on the fly, a distributed matrix, a
/// float matrix). Each iteration costs one product of the kernel with the N × outputs block of
/// search directions (memory-bound: it reads the kernel once, whatever the number of outputs),
/// and the solve needs the kernel plus 2·N·k doubles for a rank-k preconditioner and a few
/// N × outputs blocks.
///
/// Outputs are independent systems sharing each product (the columns run in lockstep, each with
/// its own step lengths; a converged column stops moving), preconditioned by the partial pivoted
/// Cholesky preconditioner of pivoted_cholesky.hpp.
///
/// Stopping: every output's relative residual ‖y − K̃·α‖/‖y‖ at or below `tolerance`. The
/// recursive residual the iteration updates drifts from the true one, so when it says converged
/// the true residual is computed from α; where that is still above the tolerance, it replaces the
/// recursive one and the iteration restarts from it (residual replacement, van der Vorst & Ye
/// 2000). The true residual cannot fall much below ε·κ(K̃) in double; a restart that does not
/// halve it ends the solve unconverged instead of spending the remaining iterations. With the
/// tolerance met, the error of α is at most κ(K̃)·tolerance relative (in 2-norm per output).

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/memory.hpp"
#include "tangent/core/progress.hpp"
#include "tangent/predict/kernel_operator.hpp"
#include "tangent/predict/pivoted_cholesky.hpp"
#include "tangent/predict/spectrum.hpp"

namespace tangent {

/// Options of `conjugate_gradient`.
struct CgOptions {
  /// r = diag_reg·tr(K)/N added to the diagonal (neural-tangents' convention); must be > 0:
  /// ridgeless regression is a pseudoinverse (`gradient_descent_mse`, `gp_inference`).
  double diag_reg = 0.0;
  bool diag_reg_absolute_scale = false;  ///< r = diag_reg itself
  /// On each output's ‖y − K̃·α‖/‖y‖; attainable down to about ε·κ(K̃).
  double tolerance = 1e-8;
  Index max_iterations = 0;  ///< 0: min(N, 1000)
  /// Columns of the partial pivoted Cholesky preconditioner (0: none); fewer are taken when the
  /// kernel's numerical rank is lower. Costs 2·N·k doubles and O(N·k²) flops to build.
  Index preconditioner_rank = 256;
  /// Told iterations done out of `max_iterations`, on the calling thread; when the solve
  /// returns, the last call had done == total. Throwing stops the solve, and the exception comes
  /// out of `conjugate_gradient`.
  ProgressCallback progress = {};
};

/// The solve's answer and how it got there.
struct CgSolution {
  Matrix<double> weights;              ///< α = K̃⁻¹·y, N × outputs: test means are K_*d·α
  Eigen::VectorXd relative_residuals;  ///< ‖y − K̃·α‖/‖y‖ per output, from α itself
  Index iterations = 0;                ///< kernel products of the iteration
  Index restarts = 0;                  ///< residual replacements
  bool converged = false;              ///< every residual at or below the tolerance
  Index preconditioner_rank = 0;       ///< columns the preconditioner took
  double ridge = 0;                    ///< the absolute r
};

namespace detail {
inline namespace TANGENT_SOLVER_ABI {

template <class S>
Eigen::VectorXd column_dots(const Matrix<S>& a, const Matrix<S>& b) {
  return a.cwiseProduct(b).colwise().sum().transpose();
}

}  // namespace TANGENT_SOLVER_ABI
}  // namespace detail

inline namespace TANGENT_SOLVER_PARALLEL_ABI {

/// α = (K + r·I)⁻¹·y by preconditioned conjugate gradients on the kernel operator `k` (see the
/// file comment). Throws `std::invalid_argument` for a kernel or y of the wrong shape or with
/// non-finite values, an operator whose columns or products have the wrong shape, bad options
/// (diag_reg ≤ 0 among them), and when K̃ proves not positive definite (a direction with
/// pᵀK̃p ≤ 0); `MemoryError` when the preconditioner and the vectors cannot fit. Running out of
/// iterations is not an error: the answer says `converged` = false and how far each output got.
template <KernelOperator Op, class Derived>
CgSolution conjugate_gradient(const Op& k, const Eigen::MatrixBase<Derived>& y_train,
                              const CgOptions& options = {}) {
  constexpr std::string_view function = "conjugate_gradient";
  const Index n = k.size();
  if (n <= 0) detail::fail(function, "the train-train kernel is empty");
  Matrix<double> y = y_train.template cast<double>();
  detail::require_all_finite(function, "y_train", y);
  if (y.rows() != n) {
    detail::fail(function, "y_train has " + std::to_string(y.rows()) +
                               " rows but the train-train kernel is " + std::to_string(n) + "×" +
                               std::to_string(n));
  }
  if (y.cols() == 0) detail::fail(function, "y_train has no columns");
  if (!(options.diag_reg > 0) || !std::isfinite(options.diag_reg)) {
    detail::fail(function, "diag_reg must be finite and positive, got " +
                               detail::show(options.diag_reg) +
                               " (ridgeless regression is a pseudoinverse: gradient_descent_mse "
                               "or gp_inference)");
  }
  if (!(options.tolerance > 0) || !(options.tolerance < 1)) {
    detail::fail(function, "tolerance must be in (0, 1), got " + detail::show(options.tolerance));
  }
  if (options.max_iterations < 0) {
    detail::fail(function,
                 "max_iterations must be ≥ 0, got " + std::to_string(options.max_iterations));
  }
  if (options.preconditioner_rank < 0) {
    detail::fail(function, "preconditioner_rank must be ≥ 0, got " +
                               std::to_string(options.preconditioner_rank));
  }
  const Eigen::VectorXd diagonal = k.diagonal();
  if (diagonal.size() != n) {
    detail::fail(function, "the kernel operator's diagonal has " + std::to_string(diagonal.size()) +
                               " entries, not " + std::to_string(n));
  }
  if (!diagonal.allFinite()) {
    detail::fail(function, "the train-train kernel's diagonal must be finite");
  }
  detail::require_nonnegative_diagonal(function, detail::kTrainTrain, diagonal, 0.0);
  detail::require_kernel_scale(function, detail::kTrainTrain, diagonal);
  const Index outputs = y.cols();
  // The preconditioner, and seven N × outputs blocks: y, α, residual, z, direction, product,
  // and the product's temporary.
  detail::require_memory(
      function,
      detail::PivotedCholeskyPreconditioner::bytes(n, options.preconditioner_rank) +
          7.0 * static_cast<double>(n) * static_cast<double>(outputs) * sizeof(double),
      "the conjugate-gradient solve (a rank-" + std::to_string(options.preconditioner_rank) +
          " preconditioner and " + std::to_string(outputs) + " outputs)",
      "a smaller preconditioner_rank needs 16·N bytes less per column");

  CgSolution out;
  out.ridge = detail::checked_ridge(function, options.diag_reg, options.diag_reg_absolute_scale,
                                    detail::mean_diagonal(diagonal), diagonal.maxCoeff());
  if (!(out.ridge > 0)) {
    detail::fail(function, "the relative ridge is 0: the kernel's diagonal is all zeros");
  }
  const Index max_iterations =
      options.max_iterations > 0 ? options.max_iterations : std::min<Index>(n, 1000);

  Matrix<double> product;  // K̃·block
  const auto apply = [&](const Matrix<double>& block) {
    k.apply(block, product);
    if (product.rows() != n || product.cols() != block.cols()) {
      detail::fail(function, "the kernel operator's product is " + std::to_string(product.rows()) +
                                 "×" + std::to_string(product.cols()) + ", not " +
                                 std::to_string(n) + "×" + std::to_string(block.cols()));
    }
    product += out.ridge * block;
    if (!product.allFinite()) detail::fail(function, "the kernel's product has non-finite values");
  };
  const Eigen::VectorXd y_norms = y.colwise().norm().transpose();
  const auto relative = [&](const Matrix<double>& residual) {
    Eigen::VectorXd r = residual.colwise().norm().transpose();
    for (Index j = 0; j < outputs; ++j) r[j] = y_norms[j] > 0 ? r[j] / y_norms[j] : 0.0;
    return r;
  };

  const detail::PivotedCholeskyPreconditioner preconditioner(
      function, k, diagonal, options.preconditioner_rank, out.ridge);
  out.preconditioner_rank = preconditioner.rank();

  out.weights.setZero(n, outputs);
  Matrix<double> residual = y;
  Eigen::VectorXd progress_of = relative(residual);
  Matrix<double> z;
  Matrix<double> direction;
  Eigen::VectorXd rz;
  // Search directions from the residual afresh (the start, and every restart); a converged
  // output gets none.
  const auto restart = [&] {
    preconditioner.apply(residual, z);
    direction = z;
    rz = detail::column_dots(residual, z);
    for (Index j = 0; j < outputs; ++j) {
      if (progress_of[j] <= options.tolerance) direction.col(j).setZero();
    }
  };
  restart();

  bool verified = false;  // out.relative_residuals belongs to the current weights
  double last_check = std::numeric_limits<double>::infinity();
  detail::ProgressMeter meter(options.progress, max_iterations);
  while (out.iterations < max_iterations) {
    if ((progress_of.array() <= options.tolerance).all()) {
      // The recursive residuals say converged: check the true ones.
      apply(out.weights);
      residual = y - product;
      out.relative_residuals = relative(residual);
      verified = true;
      const double worst = out.relative_residuals.maxCoeff();
      if (worst <= options.tolerance || !(worst < 0.5 * last_check)) break;
      last_check = worst;
      ++out.restarts;
      progress_of = out.relative_residuals;
      restart();
      continue;
    }
    apply(direction);
    const Eigen::VectorXd curvature = detail::column_dots(direction, product);
    for (Index j = 0; j < outputs; ++j) {
      if (progress_of[j] <= options.tolerance) continue;
      if (!(curvature[j] > 0)) {
        detail::fail(function,
                     "the regularised kernel is not positive definite (a search direction p "
                     "with pᵀ(K + r·I)p = " +
                         detail::show(curvature[j]) + ")");
      }
      const double step = rz[j] / curvature[j];
      out.weights.col(j) += step * direction.col(j);
      residual.col(j) -= step * product.col(j);
    }
    verified = false;
    ++out.iterations;
    meter.finished(1);
    if (meter.stopped()) break;
    progress_of = relative(residual);
    preconditioner.apply(residual, z);
    const Eigen::VectorXd rz_next = detail::column_dots(residual, z);
    for (Index j = 0; j < outputs; ++j) {
      if (progress_of[j] <= options.tolerance || !(rz[j] > 0)) {
        direction.col(j).setZero();
      } else {
        direction.col(j) = z.col(j) + (rz_next[j] / rz[j]) * direction.col(j);
      }
    }
    rz = rz_next;
  }
  meter.finish();
  if (!verified) {
    apply(out.weights);
    out.relative_residuals = relative(y - product);
  }
  out.converged = (out.relative_residuals.array() <= options.tolerance).all();
  return out;
}

/// The same on a stored kernel (double or float), checked symmetric and finite first.
template <class T, class Derived>
CgSolution conjugate_gradient(const Matrix<T>& k_train_train,
                              const Eigen::MatrixBase<Derived>& y_train,
                              const CgOptions& options = {}) {
  detail::require_symmetric("conjugate_gradient", "k_train_train", k_train_train);
  return conjugate_gradient(StoredKernel<T>(k_train_train), y_train, options);
}

/// Test means K_*d·α from the test-train kernel (double or float, N_test × N_train).
template <class T>
Matrix<double> predict_mean(const Matrix<T>& k_test_train, const CgSolution& solution) {
  if (k_test_train.cols() != solution.weights.rows()) {
    detail::fail("predict_mean", "k_test_train has " + std::to_string(k_test_train.cols()) +
                                     " columns but the solve had " +
                                     std::to_string(solution.weights.rows()) + " training points");
  }
  detail::require_all_finite("predict_mean", "k_test_train", k_test_train);
  if constexpr (std::is_same_v<T, double>) {
    return detail::product(k_test_train, solution.weights);
  } else {
    Matrix<double> mean;
    detail::widened_product(k_test_train, solution.weights, mean);
    return mean;
  }
}

}  // namespace TANGENT_SOLVER_PARALLEL_ABI
}  // namespace tangent
