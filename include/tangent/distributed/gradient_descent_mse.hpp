#pragma once
/// @file
/// `distributed::gradient_descent_mse`: the test outputs of gradient-flow training on the MSE
/// (tangent::gradient_descent_mse, with its conventions: K̃ = K + r·I, r from diag_reg, s = η·t/n,
/// the same pseudoinverse cutoff) from a train-train kernel spread over a process grid.
///
///   f_test(t) = K_*·V·diag((1 − e^{−λs})/λ)·Vᵀ·y,   and at t = ∞ K_*·K̃⁻¹·y (ridge) or K_*·K̃⁺·y.
///
/// Routes, as on one process: outputs at t = ∞ alone by ScaLAPACK's Cholesky factorisation
/// (pdpotrf, then pdpotrs) where K̃ is safely positive definite (its reciprocal condition
/// estimate, pdpocon, above 10× the cutoff), any other time by the eigendecomposition (pdsyevd),
/// which then serves every later time. Only the N × N matrices are distributed: the kernel, and
/// the eigenvectors beside it on the eigendecomposition route. Vectors (N × outputs) are
/// replicated, and each product with a distributed matrix is one local GEMM and one sum over the
/// grid (replicated.hpp): every process gets the same outputs, bit for bit.
///
/// K is taken as symmetric and not checked (distributed::kernels makes it exactly so): the
/// Cholesky route reads its upper triangle, the eigendecomposition its lower one.

#include <algorithm>
#include <climits>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tangent/distributed/agreement.hpp"
#include "tangent/distributed/grid.hpp"
#include "tangent/distributed/matrix.hpp"
#include "tangent/distributed/replicated.hpp"
#include "tangent/distributed/scalapack.hpp"
#include "tangent/predict/cholesky.hpp"
#include "tangent/predict/gradient_descent_mse.hpp"
#include "tangent/predict/gradient_flow.hpp"
#include "tangent/predict/spectrum.hpp"

namespace tangent::distributed {

namespace detail {

/// Sets the diagonal of a distributed square matrix to `d` (replicated).
inline void set_diagonal(BlockCyclicMatrix& a, const Eigen::VectorXd& d) {
  auto local = a.local();
  for (Index c = 0; c < local.cols(); ++c) {
    for (Index r = 0; r < local.rows(); ++r) {
      if (a.global_row(r) == a.global_col(c)) local(r, c) = d[a.global_row(r)];
    }
  }
}

}  // namespace detail

/// The predictor of `distributed::gradient_descent_mse`. Every call is collective over the grid.
class GradientDescentMse {
 public:
  GradientDescentMse(BlockCyclicMatrix&& k_train_train, const Matrix<double>& y_train,
                     const MseOptions& options)
      : kernel_(std::move(k_train_train)), y_(y_train), learning_rate_(options.learning_rate) {
    const Grid& grid = kernel_.grid();
    detail::require_replicated(grid, kFunction, "y_train", y_, [&](const auto& y) {
      tangent::detail::require_all_finite(kFunction, "y_train", y);
    });
    diagonal_ = detail::replicated_diagonal(kernel_);
    detail::agreed(grid.comm(), [&] {
      tangent::detail::require_learning_rate(kFunction, learning_rate_);
      if (kernel_.rows() != kernel_.cols()) {
        tangent::detail::fail(kFunction, "k_train_train is " + std::to_string(kernel_.rows()) +
                                             " × " + std::to_string(kernel_.cols()) +
                                             "; it must be square");
      }
      if (y_.rows() != kernel_.rows() || y_.cols() < 1) {
        tangent::detail::fail(kFunction, "y_train is " + std::to_string(y_.rows()) + " × " +
                                             std::to_string(y_.cols()) + " but the kernel is " +
                                             std::to_string(kernel_.rows()) + " × " +
                                             std::to_string(kernel_.cols()));
      }
      tangent::detail::require_all_finite(kFunction, "k_train_train", kernel_.local());
    });
    detail::agreed(grid.comm(), [&] {
      using tangent::detail::kTrainTrain;
      tangent::detail::require_kernel_scale(kFunction, kTrainTrain, diagonal_);
      relative_ =
          tangent::detail::relative_cutoff(kFunction, options.eigenvalue_cutoff, kernel_.rows());
      tangent::detail::require_nonnegative_diagonal(kFunction, kTrainTrain, diagonal_, relative_);
      ridge_ = tangent::detail::checked_ridge(
          kFunction, options.diag_reg, options.diag_reg_absolute_scale,
          tangent::detail::mean_diagonal(diagonal_), diagonal_.maxCoeff());
    });
    diagonal_.array() += ridge_;
    detail::set_diagonal(kernel_, diagonal_);
  }

  /// Test outputs at time t (`infinite_time` allowed) for the test-train kernel `k_test_train`
  /// (N_test × N, on the same grid), starting from zero outputs: N_test × outputs, replicated.
  Matrix<double> test(double t, const BlockCyclicMatrix& k_test_train) {
    // Every process must ask for the same time: each takes its route from it.
    double range[2] = {t, -t};  // the largest t and −(the smallest)
    double s = 0;
    MPI_Allreduce(MPI_IN_PLACE, range, 2, MPI_DOUBLE, MPI_MAX, kernel_.grid().comm());
    detail::agreed(kernel_.grid().comm(), [&] {
      s = tangent::detail::flow_time(kFunction, t, learning_rate_, y_.size());
      if (range[0] != -range[1]) {
        tangent::detail::fail(kFunction, "the processes ask for different times t (from " +
                                             tangent::detail::show(-range[1]) + " to " +
                                             tangent::detail::show(range[0]) + ")");
      }
      if (&k_test_train.grid() != &kernel_.grid()) {
        tangent::detail::fail(kFunction, "k_test_train lies on another grid than k_train_train");
      }
      if (k_test_train.cols() != y_.rows()) {
        tangent::detail::fail(kFunction, "k_test_train has " + std::to_string(k_test_train.cols()) +
                                             " columns but there are " + std::to_string(y_.rows()) +
                                             " training points");
      }
      tangent::detail::require_all_finite(kFunction, "k_test_train", k_test_train.local());
    });
    if (t == infinite_time && !vectors_ && !cholesky_tried_) try_cholesky();
    if (t == infinite_time && cholesky_safe_) {
      return detail::times_replicated(k_test_train, cholesky_solve(y_), false);
    }
    const Spectrum& spectrum = eigendecomposition();
    const Matrix<double> projected = detail::times_replicated(*vectors_, y_, true);
    const Matrix<double> weighted = tangent::detail::gain(spectrum, s).asDiagonal() * projected;
    return detail::times_replicated(k_test_train,
                                    detail::times_replicated(*vectors_, weighted, false), false);
  }

  /// The eigenvalues of K̃ with the pseudoinverse cutoff, computed on first use. Its `vectors()`
  /// are empty: the eigenvectors stay distributed, beside the kernel.
  const Spectrum& spectrum() { return eigendecomposition(); }

  /// Whether outputs at t = ∞ come from the Cholesky factorisation.
  bool uses_cholesky() const { return cholesky_safe_; }

 private:
  static constexpr std::string_view kFunction = "distributed::gradient_descent_mse";

  int n() const { return static_cast<int>(kernel_.rows()); }

  /// pdpotrf on the upper triangle; kept when its condition estimate is safely above the cutoff.
  /// Otherwise the diagonal is restored: the strict lower triangle still holds K̃.
  void try_cholesky() {
    cholesky_tried_ = true;
    const int size = n();
    const int one = 1;
    // pdlansy's workspace for the 1-norm: 2·Nq0 + Np0 + LDW (its documentation), which
    // 2·(largest local side + block) + N + 64 covers; pdlansy does not check it.
    const Index side = std::max(kernel_.local().rows(), kernel_.local().cols()) + kernel_.block();
    std::vector<double> norm_work;
    detail::agreed(kernel_.grid().comm(), [&] {
      norm_work.resize(static_cast<std::size_t>(2 * side + kernel_.rows() + 64));
    });
    const double norm = pdlansy_("1", "U", &size, kernel_.data(), &one, &one, kernel_.descriptor(),
                                 norm_work.data(), 1, 1);
    int info = 0;
    pdpotrf_("U", &size, kernel_.data(), &one, &one, kernel_.descriptor(), &info, 1);
    double reciprocal_condition = 0;
    if (info == 0) {
      double work_size = 0;
      int iwork_size = 0;
      const int query = -1;
      pdpocon_("U", &size, kernel_.data(), &one, &one, kernel_.descriptor(), &norm,
               &reciprocal_condition, &work_size, &query, &iwork_size, &query, &info, 1);
      std::vector<double> work;
      std::vector<int> iwork;
      detail::agreed(kernel_.grid().comm(), [&] {
        work.resize(static_cast<std::size_t>(work_size) + 1);
        iwork.resize(static_cast<std::size_t>(iwork_size) + 1);
      });
      const int lwork = static_cast<int>(work.size());
      const int liwork = static_cast<int>(iwork.size());
      pdpocon_("U", &size, kernel_.data(), &one, &one, kernel_.descriptor(), &norm,
               &reciprocal_condition, work.data(), &lwork, iwork.data(), &liwork, &info, 1);
    }
    cholesky_safe_ =
        info == 0 && reciprocal_condition > tangent::detail::kCholeskyMargin * relative_;
    if (!cholesky_safe_) detail::set_diagonal(kernel_, diagonal_);
  }

  /// K̃⁻¹·b from the Cholesky factor, replicated.
  Matrix<double> cholesky_solve(const Matrix<double>& b) const {
    std::optional<BlockCyclicMatrix> rhs;
    detail::agreed(kernel_.grid().comm(), [&] {
      rhs.emplace(BlockCyclicMatrix::from_replicated(kernel_.grid(), b, kernel_.block()));
    });
    const int size = n();
    const int outputs = static_cast<int>(b.cols());
    const int one = 1;
    int info = 0;
    pdpotrs_("U", &size, &outputs, kernel_.data(), &one, &one, kernel_.descriptor(), rhs->data(),
             &one, &one, rhs->descriptor(), &info, 1);
    detail::agreed(kernel_.grid().comm(), [&] {
      if (info != 0) {
        tangent::detail::fail(kFunction,
                              "ScaLAPACK's pdpotrs failed (info " + std::to_string(info) + ")");
      }
    });
    return rhs->replicated();
  }

  /// pdsyevd of K̃ (its lower triangle), which it consumes; the eigenvectors are kept beside it.
  const Spectrum& eigendecomposition() {
    if (vectors_) return spectrum_;
    // A Cholesky factor took the upper triangle and the diagonal; the lower one is still K̃.
    if (cholesky_safe_) detail::set_diagonal(kernel_, diagonal_);
    cholesky_safe_ = false;
    const int size = n();
    const int one = 1;
    Eigen::VectorXd values;
    detail::agreed(kernel_.grid().comm(), [&] {
      vectors_.emplace(kernel_.grid(), kernel_.rows(), kernel_.cols(), kernel_.block());
      values.resize(kernel_.rows());
    });
    double work_size = 0;
    int iwork_size = 0;
    const int query = -1;
    int info = 0;
    pdsyevd_("V", "L", &size, kernel_.data(), &one, &one, kernel_.descriptor(), values.data(),
             vectors_->data(), &one, &one, vectors_->descriptor(), &work_size, &query, &iwork_size,
             &query, &info, 1, 1);
    // ScaLAPACK 2.2's query asks for too little: with exactly that, pdormtr refuses its workspace
    // (parameter 16) on small matrices and pdsyevd returns wrong eigenvectors with info = 0, or
    // pdlasrt fails on one process and the others hang (Reference-ScaLAPACK/scalapack#74). What
    // pdormtr needs on top, from its documentation: max(N, NP·(NB + NQ)) +
    // max(NB·(NB − 1)/2, (NP + NQ)·NB) + NB², NP × NQ the local part.
    const Index np = kernel_.local().rows();
    const Index nq = kernel_.local().cols();
    const Index nb = kernel_.block();
    const Index extra = std::max(kernel_.rows(), np * (nb + nq)) +
                        std::max(nb * (nb - 1) / 2, (np + nq) * nb) + nb * nb;
    std::vector<double> work;
    std::vector<int> iwork;
    detail::agreed(kernel_.grid().comm(), [&] {
      const double total = work_size + static_cast<double>(extra) + 1;
      if (total > INT_MAX) {
        tangent::detail::fail(kFunction,
                              "pdsyevd's workspace exceeds 2^31 − 1 entries on one "
                              "process; use more processes");
      }
      work.resize(static_cast<std::size_t>(total));
      iwork.resize(static_cast<std::size_t>(std::max(iwork_size, 1)));
    });
    const int lwork = static_cast<int>(work.size());
    const int liwork = static_cast<int>(iwork.size());
    pdsyevd_("V", "L", &size, kernel_.data(), &one, &one, kernel_.descriptor(), values.data(),
             vectors_->data(), &one, &one, vectors_->descriptor(), work.data(), &lwork,
             iwork.data(), &liwork, &info, 1, 1);
    detail::agreed(kernel_.grid().comm(), [&] {
      if (info != 0) {
        tangent::detail::fail(kFunction,
                              "ScaLAPACK's pdsyevd failed (info " + std::to_string(info) + ")");
      }
      tangent::detail::require_positive_semidefinite(kFunction, tangent::detail::kTrainTrain,
                                                     values, relative_, ridge_);
    });
    spectrum_.values = std::move(values);
    spectrum_.relative_cutoff = relative_;
    spectrum_.zero_below = relative_ * std::max(spectrum_.values.maxCoeff(), 0.0);
    return spectrum_;
  }

  BlockCyclicMatrix kernel_;  ///< K̃; then its Cholesky factor or what pdsyevd leaves
  Matrix<double> y_;
  double learning_rate_;
  double relative_ = 0;
  double ridge_ = 0;
  Eigen::VectorXd diagonal_;  ///< K̃'s diagonal
  bool cholesky_tried_ = false;
  bool cholesky_safe_ = false;
  std::optional<BlockCyclicMatrix> vectors_;
  Spectrum spectrum_;
};

/// Predictions of gradient-flow training on the MSE with the distributed kernel `k_train_train`
/// (N × N, usually the NTK; taken over) and targets `y_train` (N × outputs, the same on every
/// process). Collective.
inline GradientDescentMse gradient_descent_mse(BlockCyclicMatrix&& k_train_train,
                                               const Matrix<double>& y_train,
                                               const MseOptions& options = {}) {
  return GradientDescentMse(std::move(k_train_train), y_train, options);
}

}  // namespace tangent::distributed
