#pragma once
/// @file
/// Kernel regression at t = ∞ by preconditioned conjugate gradients: α = K̃⁻¹·y with K̃ = K + r·I,
/// for when a factorisation's N³/3 flops are too slow or its storage too large. Each iteration
/// costs one product of the kernel with the N × outputs block of search directions (memory-bound:
/// it reads the kernel once, whatever the number of outputs), so the solve costs iterations × one
/// pass over the kernel, and needs the kernel's storage plus O(N·(outputs + rank)).
///
/// The kernel is anything that satisfies `KernelOperator`: a stored matrix in double or float
/// (`StoredKernel`; float storage halves the memory and the traffic of each product, whose
/// accumulation stays in double), or an operator that computes its products another way (tiles
/// recomputed on the fly, a distributed matrix).
///
/// Outputs are independent systems with one shared product per iteration (the columns run in
/// lockstep, each with its own step lengths), preconditioned by P = L·Lᵀ + r·I, L the rank-k
/// partial pivoted Cholesky factor of K (Harbrecht, Peters & Schneider 2012; Gardner et al.
/// 2018, GPyTorch): it captures the kernel's largest eigen-directions, so the preconditioned
/// system's eigenvalues lie in [1, 1 + λ_max(K − L·Lᵀ)/r] and the iterations grow with the
/// square root of that, not of κ(K̃). P⁻¹ is applied through an orthonormal basis W of L's
/// columns, P⁻¹·v = v/r + W·diag(1/(r + s) − 1/r)·Wᵀ·v with s the eigenvalues of Lᵀ·L, which
/// stays exact for small r where Woodbury's formula loses digits.
///
/// Stopping: every output's relative residual ‖y − K̃·α‖/‖y‖ at or below `tolerance`, recomputed
/// from α at the end (the recursive residual drifts). The error of α is then at most
/// κ(K̃)·tolerance relative, plus the κ(K̃)·ε that every solver shares.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/QR>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/progress.hpp"
#include "tangent/predict/spectrum.hpp"

namespace tangent {

/// A symmetric positive semi-definite N × N kernel as the conjugate-gradient solve sees it:
/// its size, its diagonal, one column at a time (for the preconditioner), and its product with an
/// N × m block (`out` comes sized N × m). Every value in double.
template <class Op>
concept KernelOperator = requires(const Op& op, Index j, const Matrix<double>& block,
                                  Matrix<double>& out, Eigen::VectorXd& column) {
  { op.size() } -> std::convertible_to<Index>;
  { op.diagonal() } -> std::convertible_to<Eigen::VectorXd>;
  op.column(j, column);
  op.apply(block, out);
};

namespace detail {
inline namespace TANGENT_SOLVER_ABI {
inline namespace TANGENT_PARALLEL_ABI {

/// out ← a·b for a float matrix `a` and a double `b`, accumulated in double. Threads take strips
/// of 1,024 rows; a strip is widened 4 columns at a time into a buffer that stays in cache, and
/// each widened group updates the strip's accumulator with 4 FMAs per load and store. The
/// product is memory-bound, so reading 4 bytes per entry instead of 8 is the gain: at N = 12,000
/// with 10 outputs, 82 ms against 95 ms for the double matrix's dgemm (AVX-512, 2 cores; 131 ms
/// without -march flags, where the widening runs on SSE2). Shorter strips read each column in
/// pieces that prefetching does not follow across pages (256 rows: 1.3× slower); widened
/// 256 × 256 panels through Eigen's GEMM, which packs them again, ran at 2.4× the double time.
/// Each strip sums its columns in order, so the result does not depend on the thread count.
template <class DerivedA>
void widened_product(const Eigen::MatrixBase<DerivedA>& a, const Matrix<double>& b,
                     Matrix<double>& out) {
  constexpr Index strip = 1024;
  constexpr Index group = 4;
  const Index rows = a.rows();
  const Index inner = a.cols();
  const Index outputs = b.cols();
  const Index strips = (rows + strip - 1) / strip;
  out.resize(rows, outputs);
  TANGENT_OMP(parallel) {
    Eigen::Matrix<double, Eigen::Dynamic, group> wide(strip, group);
    Matrix<double> sum(strip, outputs);
    TANGENT_OMP(for schedule(static))
    for (Index p = 0; p < strips; ++p) {
      const Index r0 = p * strip;
      const Index h = std::min(strip, rows - r0);
      auto acc = sum.topRows(h);
      acc.setZero();
      Index c = 0;
      for (; c + group <= inner; c += group) {
        wide.topRows(h) = a.block(r0, c, h, group).template cast<double>();
        for (Index j = 0; j < outputs; ++j) {
          acc.col(j) += wide.col(0).head(h) * b(c, j) + wide.col(1).head(h) * b(c + 1, j) +
                        wide.col(2).head(h) * b(c + 2, j) + wide.col(3).head(h) * b(c + 3, j);
        }
      }
      for (; c < inner; ++c) {
        wide.col(0).head(h) = a.col(c).segment(r0, h).template cast<double>();
        for (Index j = 0; j < outputs; ++j) acc.col(j) += wide.col(0).head(h) * b(c, j);
      }
      out.middleRows(r0, h) = acc;
    }
  }
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace TANGENT_SOLVER_ABI
}  // namespace detail

inline namespace TANGENT_SOLVER_ABI {
inline namespace TANGENT_PARALLEL_ABI {

/// A kernel held as a symmetric matrix of double or float (not copied: the matrix must outlive
/// the operator). Products accumulate in double.
template <class T>
class StoredKernel {
  static_assert(std::is_same_v<T, double> || std::is_same_v<T, float>,
                "TANGENT: A STORED KERNEL IS A MATRIX OF double OR float.");

 public:
  explicit StoredKernel(const Matrix<T>& k) : k_(&k) {}

  Index size() const { return k_->rows(); }
  Eigen::VectorXd diagonal() const { return k_->diagonal().template cast<double>(); }
  void column(Index j, Eigen::VectorXd& out) const { out = k_->col(j).template cast<double>(); }
  void apply(const Matrix<double>& block, Matrix<double>& out) const {
    if constexpr (std::is_same_v<T, double>) {
      out = detail::product(*k_, block);
    } else {
      detail::widened_product(*k_, block, out);
    }
  }
  const Matrix<T>& matrix() const { return *k_; }

 private:
  const Matrix<T>* k_;
};

}  // namespace TANGENT_PARALLEL_ABI

/// Options of `conjugate_gradient`.
struct CgOptions {
  /// r = diag_reg·tr(K)/N added to the diagonal (neural-tangents' convention); must be > 0:
  /// ridgeless regression is a pseudoinverse (`gradient_descent_mse`, `gp_inference`).
  double diag_reg = 0.0;
  bool diag_reg_absolute_scale = false;  ///< r = diag_reg itself
  double tolerance = 1e-10;              ///< on each output's ‖y − K̃·α‖/‖y‖
  Index max_iterations = 0;              ///< 0: min(N, 1000)
  /// Rank of the partial pivoted Cholesky preconditioner (0: none); fewer columns are taken
  /// when the kernel's remaining diagonal falls below ε·tr(K) first.
  Index preconditioner_rank = 256;
  /// Told iterations done out of `max_iterations`, on the calling thread; the last call has
  /// done == total, whenever the solve stops. Throwing stops the solve.
  ProgressCallback progress = {};
};

/// The solve's answer and how it got there.
struct CgSolution {
  Matrix<double> weights;              ///< α = K̃⁻¹·y, N × outputs: test means are K_*d·α
  Eigen::VectorXd relative_residuals;  ///< ‖y − K̃·α‖/‖y‖ per output, recomputed from α
  Index iterations = 0;
  bool converged = false;         ///< every residual at or below the tolerance
  Index preconditioner_rank = 0;  ///< columns the preconditioner took
  double ridge = 0;               ///< the absolute r
};

}  // namespace TANGENT_SOLVER_ABI

namespace detail {
inline namespace TANGENT_SOLVER_ABI {

/// P = L·Lᵀ + r·I from the rank-k partial pivoted Cholesky factor L of K, applied as
/// P⁻¹·v = v/r + W·diag(1/(r + s) − 1/r)·Wᵀ·v (file comment).
class PivotedCholeskyPreconditioner {
 public:
  template <KernelOperator Op>
  PivotedCholeskyPreconditioner(const Op& k, Index rank, double ridge) {
    const Index n = k.size();
    Eigen::VectorXd remaining = k.diagonal();
    // Columns stop when what is left of the diagonal is rounding: the factor is then K itself.
    const double floor = std::numeric_limits<double>::epsilon() * std::max(remaining.sum(), 0.0);
    Matrix<double> l(n, std::min(rank, n));
    Eigen::VectorXd column(n);
    Index taken = 0;
    for (; taken < l.cols(); ++taken) {
      Index pivot = 0;
      const double largest = remaining.maxCoeff(&pivot);
      if (!(largest > floor) || remaining.sum() <= floor) break;
      k.column(pivot, column);
      // The pivot's column of the Schur complement K − L·Lᵀ, scaled by its root.
      column.noalias() -= l.leftCols(taken) * l.row(pivot).head(taken).transpose();
      column /= std::sqrt(largest);
      l.col(taken) = column;
      remaining -= column.cwiseAbs2();
      remaining[pivot] = 0;
      remaining = remaining.cwiseMax(0.0);
    }
    rank_ = taken;
    // The part of K that L misses acts on the rest of the space like its mean eigenvalue
    // tr(K − L·Lᵀ)/N: σ = r + that mean. With σ = r alone, a kernel whose tail eigenvalues lie
    // far above the ridge would leave them all at λ/r in P⁻¹·K̃ — worse than no preconditioner.
    shift_ = ridge + remaining.sum() / static_cast<double>(n);
    if (taken == 0) return;
    // W = Q·U, with L = Q·R (thin) and R·Rᵀ = U·diag(s)·Uᵀ, so L·Lᵀ = W·diag(s)·Wᵀ.
    const Eigen::HouseholderQR<Matrix<double>> qr(l.leftCols(taken));
    const Matrix<double> r = qr.matrixQR().topRows(taken).template triangularView<Eigen::Upper>();
    const Eigen::SelfAdjointEigenSolver<Matrix<double>> eig(r * r.transpose());
    basis_ = qr.householderQ() * Matrix<double>::Identity(n, taken);
    basis_ = (basis_ * eig.eigenvectors()).eval();
    shrink_ = (shift_ + eig.eigenvalues().cwiseMax(0.0).array()).inverse() - 1.0 / shift_;
  }

  Index rank() const { return rank_; }
  /// σ: P = L·Lᵀ + σ·I.
  double shift() const { return shift_; }

  /// z ← P⁻¹·v.
  void apply(const Matrix<double>& v, Matrix<double>& z) const {
    z = v / shift_;
    if (rank_ == 0) return;
    const Matrix<double> projected = basis_.transpose() * v;
    z.noalias() += basis_ * (shrink_.asDiagonal() * projected);
  }

 private:
  double shift_ = 0;
  Index rank_ = 0;
  Matrix<double> basis_;    // W, N × rank, orthonormal columns
  Eigen::VectorXd shrink_;  // 1/(r + s) − 1/r
};

inline Eigen::VectorXd column_norms(const Matrix<double>& m) {
  return m.colwise().norm().transpose();
}

/// Column-wise dot products aᵀb.
inline Eigen::VectorXd column_dots(const Matrix<double>& a, const Matrix<double>& b) {
  return a.cwiseProduct(b).colwise().sum().transpose();
}

}  // namespace TANGENT_SOLVER_ABI
}  // namespace detail

inline namespace TANGENT_SOLVER_ABI {

/// α = (K + r·I)⁻¹·y by preconditioned conjugate gradients on the kernel operator `k` (see the
/// file comment). Throws for a kernel or y with the wrong shape or non-finite values, for
/// diag_reg ≤ 0, and when K̃ proves not positive definite (a direction with pᵀK̃p ≤ 0).
/// Running out of iterations is not an error: the answer says `converged` = false and how far
/// each output got.
template <KernelOperator Op, class Derived>
CgSolution conjugate_gradient(const Op& k, const Eigen::MatrixBase<Derived>& y_train,
                              const CgOptions& options = {}) {
  constexpr std::string_view function = "conjugate_gradient";
  const Index n = k.size();
  if (n == 0) detail::fail(function, "the train-train kernel is empty");
  const Matrix<double> y = y_train.template cast<double>();
  detail::require_all_finite(function, "y_train", y);
  if (y.rows() != n) {
    detail::fail(function, "y_train has " + std::to_string(y.rows()) +
                               " rows but the train-train " + "kernel is " + std::to_string(n) +
                               "×" + std::to_string(n));
  }
  if (y.cols() == 0) detail::fail(function, "y_train has no columns");
  if (!(options.diag_reg > 0) || !std::isfinite(options.diag_reg)) {
    detail::fail(function, "diag_reg must be finite and positive, got " +
                               detail::show(options.diag_reg) +
                               " (ridgeless regression is a pseudoinverse: gradient_descent_mse or "
                               "gp_inference)");
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
  if (!diagonal.allFinite() || (diagonal.array() < 0).any()) {
    detail::fail(function, "the train-train kernel's diagonal must be finite and non-negative");
  }
  CgSolution out;
  out.ridge = detail::ridge_of(options.diag_reg, options.diag_reg_absolute_scale,
                               diagonal.sum() / static_cast<double>(n));
  if (!(out.ridge > 0))
    detail::fail(function, "the ridge is 0: the kernel's diagonal is all zeros");
  const Index max_iterations =
      options.max_iterations > 0 ? options.max_iterations : std::min<Index>(n, 1000);

  // K̃·block.
  Matrix<double> product(n, y.cols());
  const auto apply = [&](const Matrix<double>& block) {
    k.apply(block, product);
    product += out.ridge * block;
    if (!product.allFinite()) detail::fail(function, "the kernel's product has non-finite values");
  };

  const detail::PivotedCholeskyPreconditioner preconditioner(k, options.preconditioner_rank,
                                                             out.ridge);
  out.preconditioner_rank = preconditioner.rank();
  const Eigen::VectorXd y_norms = detail::column_norms(y);
  const auto relative = [&](const Eigen::VectorXd& norms) {
    Eigen::VectorXd r(norms.size());
    for (Index j = 0; j < r.size(); ++j) r[j] = y_norms[j] > 0 ? norms[j] / y_norms[j] : 0.0;
    return r;
  };

  out.weights.setZero(n, y.cols());
  Matrix<double> residual = y;
  Matrix<double> z;
  preconditioner.apply(residual, z);
  Matrix<double> direction = z;
  Eigen::VectorXd rz = detail::column_dots(residual, z);
  Eigen::VectorXd progress_of = relative(detail::column_norms(residual));
  const auto all_converged = [&](const Eigen::VectorXd& r) {
    return (r.array() <= options.tolerance).all();
  };

  detail::ProgressMeter meter(options.progress, max_iterations);
  while (!all_converged(progress_of) && out.iterations < max_iterations) {
    apply(direction);
    const Eigen::VectorXd curvature = detail::column_dots(direction, product);
    for (Index j = 0; j < y.cols(); ++j) {
      // A converged output stays where it is.
      if (progress_of[j] <= options.tolerance) continue;
      if (!(curvature[j] > 0)) {
        detail::fail(function,
                     "the regularised kernel is not positive definite (a search direction "
                     "p with pᵀ(K + r·I)p = " +
                         detail::show(curvature[j]) + ")");
      }
      const double step = rz[j] / curvature[j];
      out.weights.col(j) += step * direction.col(j);
      residual.col(j) -= step * product.col(j);
    }
    ++out.iterations;
    progress_of = relative(detail::column_norms(residual));
    meter.finished(1);
    if (meter.stopped()) break;
    preconditioner.apply(residual, z);
    const Eigen::VectorXd rz_next = detail::column_dots(residual, z);
    for (Index j = 0; j < y.cols(); ++j) {
      const double beta = rz[j] > 0 ? rz_next[j] / rz[j] : 0.0;
      direction.col(j) = z.col(j) + beta * direction.col(j);
    }
    rz = rz_next;
  }
  meter.finish();

  apply(out.weights);
  out.relative_residuals = relative(detail::column_norms(y - product));
  out.converged = all_converged(out.relative_residuals);
  return out;
}

/// The same on a stored kernel (double or float).
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

}  // namespace TANGENT_SOLVER_ABI
}  // namespace tangent
