#pragma once
/// @file
/// `distributed::gradient_descent_mse`: the test and training-set outputs of gradient-flow
/// training on the MSE (tangent::gradient_descent_mse, with its conventions: K̃ = K + r·I, r from
/// diag_reg, s = η·t/n, the same pseudoinverse cutoff, initial outputs f₀) from a train-train
/// kernel spread over a process grid, at one time or several per call.
///
///   f_test(t)  = f_test,0 + K_*·V·diag((1 − e^{−λs})/λ)·Vᵀ·(y − f_train,0),
///                at t = ∞ K_*·K̃⁻¹·(y − f_train,0) (ridge) or with K̃⁺ (ridgeless);
///   f_train(t) = f_train,0 + V·diag(e^{−λs} − 1)·Vᵀ·(f_train,0 − y).
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
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tangent/combinators/node.hpp"
#include "tangent/distributed/agreement.hpp"
#include "tangent/distributed/grid.hpp"
#include "tangent/distributed/matrix.hpp"
#include "tangent/distributed/pblas.hpp"
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

class GradientDescentMseEnsemble;

/// The predictor of `distributed::gradient_descent_mse`. Every call is collective over the grid.
class GradientDescentMse {
 public:
  GradientDescentMse(BlockCyclicMatrix&& k_train_train, const Matrix<double>& y_train,
                     const MseOptions& options)
      : GradientDescentMse(std::move(k_train_train), y_train, options, kFunction, "k_train_train",
                           true) {}

  /// Training-set outputs at time t (`infinite_time` allowed), starting from `f_train_0`
  /// (N × outputs, the same on every process; empty: zero), replicated. As on one process, at
  /// t = ∞ alone a kernel that takes the Cholesky route gives y exactly.
  Matrix<double> train(double t, const Matrix<double>& f_train_0 = {}) {
    return std::move(train(std::span<const double>(&t, 1), f_train_0).front());
  }
  /// The same at several times (the same on every process): one distributed product for all.
  std::vector<Matrix<double>> train(std::span<const double> times,
                                    const Matrix<double>& f_train_0 = {}) {
    check_times(times);
    const Matrix<double> start = initial(f_train_0, y_.rows(), "f_train_0");
    if (cholesky_serves(times)) return std::vector<Matrix<double>>(times.size(), y_);
    const Spectrum& spectrum = eigendecomposition();
    // f(t) = f₀ + V·diag(e^{−λs} − 1)·Vᵀ·(f₀ − y), as on one process.
    const Matrix<double> projected = detail::transposed_times_replicated(*vectors_, start - y_);
    const Matrix<double> change =
        detail::times_replicated(*vectors_, weighted(spectrum, times, projected, false));
    return tangent::detail::outputs_by_time(start, change, times.size());
  }

  /// Test outputs at time t (`infinite_time` allowed) for the test-train kernel `k_test_train`
  /// (N_test × N, on the same grid), starting from `f_train_0` and `f_test_0` (replicated; empty:
  /// zero): N_test × outputs, replicated.
  Matrix<double> test(double t, const BlockCyclicMatrix& k_test_train,
                      const Matrix<double>& f_train_0 = {}, const Matrix<double>& f_test_0 = {}) {
    return std::move(
        test(std::span<const double>(&t, 1), k_test_train, f_train_0, f_test_0).front());
  }
  /// The same at several times (the same on every process): Vᵀ·(y − f₀) once, and the times
  /// side by side in one distributed product.
  std::vector<Matrix<double>> test(std::span<const double> times,
                                   const BlockCyclicMatrix& k_test_train,
                                   const Matrix<double>& f_train_0 = {},
                                   const Matrix<double>& f_test_0 = {}) {
    check_times(times);
    detail::agreed(kernel_.grid().comm(), [&] {
      if (&k_test_train.grid() != &kernel_.grid()) {
        tangent::detail::fail(function_, "k_test_train lies on another grid than k_train_train");
      }
      if (k_test_train.cols() != y_.rows()) {
        tangent::detail::fail(function_, "k_test_train has " + std::to_string(k_test_train.cols()) +
                                             " columns but there are " + std::to_string(y_.rows()) +
                                             " training points");
      }
      tangent::detail::require_all_finite(function_, "k_test_train", k_test_train.local());
    });
    const Matrix<double> start = initial(f_test_0, k_test_train.rows(), "f_test_0");
    const Matrix<double> residual = y_ - initial(f_train_0, y_.rows(), "f_train_0");
    if (cholesky_serves(times)) {
      return std::vector<Matrix<double>>(
          times.size(), start + detail::times_replicated(k_test_train, cholesky_solve(residual)));
    }
    const Spectrum& spectrum = eigendecomposition();
    const Matrix<double> projected = detail::transposed_times_replicated(*vectors_, residual);
    const Matrix<double> w = weighted(spectrum, times, projected, true);
    return tangent::detail::outputs_by_time(
        start, detail::times_replicated(k_test_train, detail::times_replicated(*vectors_, w)),
        times.size());
  }

  /// The eigenvalues of K̃ with the pseudoinverse cutoff, computed on first use. Its `vectors()`
  /// are empty: the eigenvectors stay distributed, beside the kernel (`eigenvectors()`).
  const Spectrum& spectrum() { return eigendecomposition(); }

  /// The eigenvectors of K̃, distributed on the kernel's grid, in the order of
  /// `spectrum().values`; computed on first use.
  const BlockCyclicMatrix& eigenvectors() {
    eigendecomposition();
    return *vectors_;
  }

  /// Whether outputs at t = ∞ come from the Cholesky factorisation.
  bool uses_cholesky() const { return cholesky_safe_; }

 private:
  friend class GradientDescentMseEnsemble;
  static constexpr std::string_view kFunction = "distributed::gradient_descent_mse";

  /// `function` and `name` (the kernel's) for messages; `cholesky`: whether outputs at t = ∞ may
  /// come from a Cholesky factor (the ensemble reads every time from one eigendecomposition, and
  /// keeps K in the upper triangle for its covariances).
  GradientDescentMse(BlockCyclicMatrix&& k_train_train, const Matrix<double>& y_train,
                     const MseOptions& options, std::string_view function, std::string_view name,
                     bool cholesky)
      : function_(function),
        name_(name),
        kernel_(std::move(k_train_train)),
        y_(y_train),
        learning_rate_(options.learning_rate),
        cholesky_tried_(!cholesky) {
    const Grid& grid = kernel_.grid();
    detail::require_replicated(grid, function_, "y_train", y_, [&](const auto& y) {
      tangent::detail::require_all_finite(function_, "y_train", y);
    });
    diagonal_ = detail::replicated_diagonal(kernel_);
    detail::agreed(grid.comm(), [&] {
      tangent::detail::require_learning_rate(function_, learning_rate_);
      if (kernel_.rows() != kernel_.cols()) {
        tangent::detail::fail(function_,
                              std::string(name) + " is " + std::to_string(kernel_.rows()) + " × " +
                                  std::to_string(kernel_.cols()) + "; it must be square");
      }
      if (y_.rows() != kernel_.rows() || y_.cols() < 1) {
        tangent::detail::fail(
            function_, "y_train is " + std::to_string(y_.rows()) + " × " +
                           std::to_string(y_.cols()) + " but " + std::string(name) + " is " +
                           std::to_string(kernel_.rows()) + " × " + std::to_string(kernel_.cols()));
      }
      tangent::detail::require_all_finite(function_, name, kernel_.local());
    });
    detail::agreed(grid.comm(), [&] {
      tangent::detail::require_kernel_scale(function_, name, diagonal_);
      relative_ =
          tangent::detail::relative_cutoff(function_, options.eigenvalue_cutoff, kernel_.rows());
      tangent::detail::require_nonnegative_diagonal(function_, name, diagonal_, relative_);
      ridge_ = tangent::detail::checked_ridge(
          function_, options.diag_reg, options.diag_reg_absolute_scale,
          tangent::detail::mean_diagonal(diagonal_), diagonal_.maxCoeff());
    });
    regularised_ = diagonal_.array() + ridge_;
  }

  /// K·b for the unregularised K (the ensemble's NNGP), by pdsymm on the upper triangle, which
  /// holds K until a Cholesky factorisation (never tried on the ensemble's kernels): pdsyevd
  /// consumes only the lower triangle and the diagonal, which K's diagonal restores.
  BlockCyclicMatrix kernel_times(const BlockCyclicMatrix& b) {
    if (upper_factorised_) {
      throw std::logic_error(
          "tangent: kernel_times after a Cholesky factorisation took K's upper "
          "triangle");
    }
    detail::set_diagonal(kernel_, diagonal_);
    return detail::upper_symmetric_product(kernel_, b);
  }

  int n() const { return static_cast<int>(kernel_.rows()); }

  /// Whether every time is ∞ and the Cholesky factor serves them (tried on first need, unless the
  /// eigendecomposition is already there).
  bool cholesky_serves(std::span<const double> times) {
    if (!tangent::detail::all_infinite(times)) return false;
    if (!vectors_ && !cholesky_tried_) try_cholesky();
    return cholesky_safe_;
  }

  /// Every process must ask for the same times, bit for bit: each takes its route from them.
  void check_times(std::span<const double> times) const {
    const Eigen::Map<const Eigen::VectorXd> all(times.data(), static_cast<Index>(times.size()));
    detail::require_replicated(kernel_.grid(), function_, "times", all, [&](const auto&) {
      tangent::detail::require_times(function_, times);
      for (const double t : times) {
        (void)tangent::detail::flow_time(function_, t, learning_rate_, y_.size());
      }
    });
  }

  Matrix<double> weighted(const Spectrum& spectrum, std::span<const double> times,
                          const Matrix<double>& projected, bool use_gain) const {
    return tangent::detail::weighted_by_time(function_, spectrum, times, learning_rate_, y_.size(),
                                             projected, use_gain);
  }

  /// Initial outputs `f0` (rows × outputs, the same on every process), or zeros when empty.
  Matrix<double> initial(const Matrix<double>& f0, Index rows, std::string_view what) const {
    detail::require_replicated(kernel_.grid(), function_, what, f0, [&](const auto& mine) {
      tangent::detail::require_all_finite(function_, what, mine);
    });
    if (f0.size() == 0) return Matrix<double>::Zero(rows, y_.cols());
    detail::agreed(kernel_.grid().comm(), [&] {
      if (f0.rows() != rows || f0.cols() != y_.cols()) {
        tangent::detail::fail(function_, std::string(what) + " is " + std::to_string(f0.rows()) +
                                             " × " + std::to_string(f0.cols()) +
                                             " but the outputs are " + std::to_string(rows) +
                                             " × " + std::to_string(y_.cols()));
      }
    });
    return f0;
  }

  /// pdpotrf on the upper triangle; kept when its condition estimate is safely above the cutoff.
  /// Otherwise the diagonal is restored: the strict lower triangle still holds K̃.
  void try_cholesky() {
    cholesky_tried_ = true;
    const int size = n();
    const int one = 1;
    // pdlansy's workspace for the 1-norm: 2·Nq0 + Np0 + LDW (its documentation), which
    // 2·(largest local side + block) + N + 64 covers; pdlansy does not check it.
    const Index side = std::max(kernel_.local().rows(), kernel_.local().cols()) + kernel_.block();
    detail::set_diagonal(kernel_, regularised_);
    std::vector<double> norm_work;
    detail::agreed(kernel_.grid().comm(), [&] {
      norm_work.resize(static_cast<std::size_t>(2 * side + kernel_.rows() + 64));
    });
    const double norm = pdlansy_("1", "U", &size, kernel_.data(), &one, &one, kernel_.descriptor(),
                                 norm_work.data(), 1, 1);
    int info = 0;
    upper_factorised_ = true;
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
        tangent::detail::fail(function_,
                              "ScaLAPACK's pdpotrs failed (info " + std::to_string(info) + ")");
      }
    });
    return rhs->replicated();
  }

  /// pdsyevd of K̃ (its lower triangle), which it consumes; the eigenvectors are kept beside it.
  const Spectrum& eigendecomposition() {
    if (vectors_) return spectrum_;
    detail::agreed(kernel_.grid().comm(), [&] {
      if (decomposition_failed_) {
        tangent::detail::fail(function_,
                              "the kernel was consumed by an eigendecomposition that failed; make "
                              "a new predictor");
      }
    });
    // A Cholesky factor took the upper triangle and the diagonal; the strict lower one is still K.
    detail::set_diagonal(kernel_, regularised_);
    cholesky_safe_ = false;
    const int size = n();
    const int one = 1;
    Eigen::VectorXd values;
    std::optional<BlockCyclicMatrix> vectors;
    detail::agreed(kernel_.grid().comm(), [&] {
      vectors.emplace(kernel_.grid(), kernel_.rows(), kernel_.cols(), kernel_.block());
      values.resize(kernel_.rows());
    });
    double work_size = 0;
    int iwork_size = 0;
    const int query = -1;
    int info = 0;
    pdsyevd_("V", "L", &size, kernel_.data(), &one, &one, kernel_.descriptor(), values.data(),
             vectors->data(), &one, &one, vectors->descriptor(), &work_size, &query, &iwork_size,
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
        tangent::detail::fail(function_,
                              "pdsyevd's workspace exceeds 2^31 − 1 entries on one "
                              "process; use more processes");
      }
      work.resize(static_cast<std::size_t>(total));
      iwork.resize(static_cast<std::size_t>(std::max(iwork_size, 1)));
    });
    const int lwork = static_cast<int>(work.size());
    const int liwork = static_cast<int>(iwork.size());
    // pdsyevd consumes the lower triangle: until its answer is checked, a throw leaves no kernel.
    decomposition_failed_ = true;
    pdsyevd_("V", "L", &size, kernel_.data(), &one, &one, kernel_.descriptor(), values.data(),
             vectors->data(), &one, &one, vectors->descriptor(), work.data(), &lwork, iwork.data(),
             &liwork, &info, 1, 1);
    detail::agreed(kernel_.grid().comm(), [&] {
      if (info != 0) {
        tangent::detail::fail(function_,
                              "ScaLAPACK's pdsyevd failed (info " + std::to_string(info) + ")");
      }
      tangent::detail::require_positive_semidefinite(function_, name_, values, relative_, ridge_);
    });
    vectors_ = std::move(vectors);
    decomposition_failed_ = false;
    spectrum_.values = std::move(values);
    spectrum_.relative_cutoff = relative_;
    spectrum_.zero_below = relative_ * std::max(spectrum_.values.maxCoeff(), 0.0);
    return spectrum_;
  }

  std::string_view function_;
  std::string_view name_;
  /// K, with the diagonal each factorisation needs set before it runs; then the Cholesky factor
  /// in the upper triangle, or what pdsyevd leaves of the lower one.
  BlockCyclicMatrix kernel_;
  Matrix<double> y_;
  double learning_rate_;
  double relative_ = 0;
  double ridge_ = 0;
  Eigen::VectorXd diagonal_;     ///< K's diagonal
  Eigen::VectorXd regularised_;  ///< K̃'s: K's plus the ridge
  bool cholesky_tried_ = false;
  bool upper_factorised_ = false;  ///< pdpotrf ran: the upper triangle no longer holds K
  /// pdsyevd consumed the kernel and its answer was refused: the predictor cannot answer any more.
  bool decomposition_failed_ = false;
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

/// A float kernel, held or moved, has no factorisation here (one in float would cost the
/// predictions their accuracy): one compiler message pointing to the solve that takes it.
template <class K>
requires std::is_same_v<std::remove_cvref_t<K>, BasicBlockCyclicMatrix<float>> GradientDescentMse
gradient_descent_mse(K&&, const Matrix<double>&, const MseOptions& = {}) {
  static_assert(tangent::detail::dependent_false<K>,
                "TANGENT: distributed::gradient_descent_mse FACTORISES A double KERNEL; SOLVE A "
                "float ONE WITH distributed::conjugate_gradient.");
  throw std::logic_error("not reached");
}

}  // namespace tangent::distributed
