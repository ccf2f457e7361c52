#pragma once
/// @file
/// The symmetric eigendecomposition behind every prediction: K̃ = K + r·I = V·Λ·Vᵀ, computed once
/// and reused for every training time (neural-tangents' `eigh` of the regularised kernel).
///
/// Eigenvalues at or below `cutoff·λ_max` count as exactly zero (a pseudoinverse): a singular
/// kernel, e.g. from duplicate training inputs, then gives the minimum-norm answer instead of the
/// 0/0 that neural-tangents computes. The default cutoff, m·ε for an m × m kernel, is
/// `scipy.linalg.pinvh`'s; eigenvalues that small are rounding noise of a float64 kernel.
///
/// What is not a kernel is refused with `std::invalid_argument`, not approximated: K + r·I with an
/// eigenvalue below −max(cutoff, 100·m·ε)·max |λ| (indefinite or negative definite; less negative
/// eigenvalues are rounding and count as zero), a negative diagonal entry beyond the same
/// allowance, eigenvalues or a regulariser that overflow double, and kernels whose largest
/// diagonal entry is positive but below 2⁻⁹⁷⁰ (subnormal ones), whose inverses would overflow. The
/// mean diagonal entry behind a relative `diag_reg` is computed without overflow, so 1e308·I
/// gives finite, correct predictions.
///
/// With LAPACKE found at configure time (`TANGENT_HAS_LAPACKE`, Debian's liblapacke-dev with
/// OpenBLAS), the decomposition is LAPACK's divide-and-conquer `dsyevd`; otherwise Eigen's
/// `SelfAdjointEigenSolver`. Both are always compiled where available, so tests compare them.
/// The prediction headers live in an inline namespace named after the solver, so a program
/// mixing translation units built with and without LAPACKE keeps one definition of each.

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <Eigen/Eigenvalues>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"

#if defined(TANGENT_HAS_CBLAS)
// OpenBLAS's own header: declaring cblas_dgemm and cblas_dsyrk ourselves would clash with a
// user's <cblas.h>.
#include <cblas.h>
#endif

// Code compiled with different solvers or products lives in different inline namespaces, so
// translation units built with and without LAPACKE or CBLAS can share one program.
#if defined(TANGENT_HAS_LAPACKE) && defined(TANGENT_HAS_CBLAS)
#define TANGENT_SOLVER_ABI lapacke_cblas_solver
#elif defined(TANGENT_HAS_LAPACKE)
#define TANGENT_SOLVER_ABI lapacke_solver
#elif defined(TANGENT_HAS_CBLAS)
#define TANGENT_SOLVER_ABI eigen_cblas_solver
#else
#define TANGENT_SOLVER_ABI eigen_solver
#endif
// Code that depends on both the solver and OpenMP (the iterative solvers' products) gets one
// namespace named after both, e.g. lapacke_cblas_solver_openmp: nesting one inline namespace in
// the other would make the parallel one's name ambiguous in `tangent`.
#define TANGENT_ABI_JOIN_(a, b) a##_##b
#define TANGENT_ABI_JOIN(a, b) TANGENT_ABI_JOIN_(a, b)
#define TANGENT_SOLVER_PARALLEL_ABI TANGENT_ABI_JOIN(TANGENT_SOLVER_ABI, TANGENT_PARALLEL_ABI)

namespace tangent {

/// A regularised kernel's eigendecomposition with its pseudoinverse cutoff. The eigenvectors are
/// shared: the spectra of K + r·I for other ridges r (`with_shift`) reuse them, since adding r·I
/// moves every eigenvalue by r and no eigenvector.
struct Spectrum {
  Eigen::VectorXd values;  ///< eigenvalues of K + r·I, ascending
  /// Orthonormal eigenvectors, one per column.
  std::shared_ptr<const Matrix<double>> basis = std::make_shared<const Matrix<double>>();
  double relative_cutoff = 0;  ///< eigenvalues ≤ relative_cutoff·λ_max count as zero
  double zero_below = 0;       ///< that threshold: relative_cutoff·max(λ_max, 0)

  Index size() const { return values.size(); }
  bool kept(Index i) const { return values[i] > zero_below; }
  const Matrix<double>& vectors() const { return *basis; }

  /// The spectrum of K + (r + delta)·I: same eigenvectors, eigenvalues moved by delta, and the
  /// cutoff recomputed from the new largest one.
  Spectrum with_shift(double delta) const {
    Spectrum s{values.array() + delta, basis, relative_cutoff, 0};
    s.zero_below = relative_cutoff * std::max(s.values.maxCoeff(), 0.0);
    return s;
  }
};

namespace detail {
inline namespace TANGENT_SOLVER_ABI {

// The functions of this module are templates (on the matrix type) so that including the header
// costs no instantiation of Eigen's solvers and products in translation units that never predict.

template <class Derived>
void eigen_symmetric_eigen(const Eigen::MatrixBase<Derived>& a, Eigen::VectorXd& values,
                           Matrix<double>* vectors) {
  const Eigen::SelfAdjointEigenSolver<Matrix<double>> solver(
      a, vectors != nullptr ? Eigen::ComputeEigenvectors : Eigen::EigenvaluesOnly);
  if (solver.info() != Eigen::Success) {
    fail("symmetric eigendecomposition", "Eigen's solver did not converge");
  }
  values = solver.eigenvalues();
  if (vectors != nullptr) *vectors = solver.eigenvectors();
}

#if defined(TANGENT_HAS_LAPACKE)
// The one LAPACKE function used, declared here rather than through <lapacke.h>, whose thousands
// of macros and complex typedefs would reach every translation unit that includes tangent.hpp.
// Same signature as Debian's LP64 liblapacke (lapack_int is a 32-bit int).
extern "C" int LAPACKE_dsyevd(int matrix_layout, char jobz, char uplo, int n, double* a, int lda,
                              double* w);
inline constexpr int kLapackColumnMajor = 102;  // LAPACK_COL_MAJOR

/// dsyevd on `work` itself, which it overwrites with the eigenvectors: no second N × N copy.
inline void lapacke_symmetric_eigen_in_place(Matrix<double>& work, Eigen::VectorXd& values,
                                             Matrix<double>* vectors) {
  values.resize(work.rows());
  const int n = static_cast<int>(work.rows());
  const int info = LAPACKE_dsyevd(kLapackColumnMajor, vectors != nullptr ? 'V' : 'N', 'L', n,
                                  work.data(), static_cast<int>(work.outerStride()), values.data());
  if (info != 0) {
    fail("symmetric eigendecomposition", "LAPACK dsyevd failed with info " + std::to_string(info));
  }
  if (vectors != nullptr) *vectors = std::move(work);
}

template <class Derived>
void lapacke_symmetric_eigen(const Eigen::MatrixBase<Derived>& a, Eigen::VectorXd& values,
                             Matrix<double>* vectors) {
  Matrix<double> work = a;
  lapacke_symmetric_eigen_in_place(work, values, vectors);
}
#endif

/// a·b for column-major double matrices: OpenBLAS's dgemm when found (`TANGENT_HAS_CBLAS`, with
/// LAPACKE), so the products of a prediction run on the thread pool and kernels of its dsyevd;
/// Eigen's product otherwise. (A template, like the rest of the module, so that translation
/// units that never predict instantiate nothing.)
template <class S>
Matrix<S> product(const Matrix<S>& a, const Matrix<S>& b) {
  static_assert(std::is_same_v<S, double>, "TANGENT: PREDICTIONS ARE COMPUTED IN double.");
#if defined(TANGENT_HAS_CBLAS)
  Matrix<double> c(a.rows(), b.cols());
  if (c.size() == 0) return c;
  if (a.cols() == 0) return Matrix<double>::Zero(a.rows(), b.cols());
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(a.rows()),
              static_cast<int>(b.cols()), static_cast<int>(a.cols()), 1.0, a.data(),
              static_cast<int>(a.outerStride()), b.data(), static_cast<int>(b.outerStride()), 0.0,
              c.data(), static_cast<int>(c.outerStride()));
  return c;
#else
  return a * b;
#endif
}

/// c's lower triangle += alpha·a·aᵀ for a square c with as many rows as a, its strict upper
/// triangle untouched (callers mirror it afterwards): a symmetric rank update (SYRK, half a
/// GEMM's flops), OpenBLAS's dsyrk when found, Eigen's rankUpdate otherwise, which took 1.7–2.3 s
/// against dsyrk's 0.7 s for a 4,000 × 4,000 `a` (AVX-512, 2 threads).
template <class S>
void add_lower_rank_update(Matrix<S>& c, const Matrix<S>& a, double alpha) {
  static_assert(std::is_same_v<S, double>, "TANGENT: PREDICTIONS ARE COMPUTED IN double.");
#if defined(TANGENT_HAS_CBLAS)
  if (c.rows() == 0 || a.cols() == 0) return;
  cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, static_cast<int>(c.rows()),
              static_cast<int>(a.cols()), alpha, a.data(), static_cast<int>(a.outerStride()), 1.0,
              c.data(), static_cast<int>(c.outerStride()));
#else
  c.template selfadjointView<Eigen::Lower>().rankUpdate(a, alpha);
#endif
}

/// Eigenvalues (ascending) and, when `vectors` is not null, eigenvectors of the symmetric `a`.
template <class Derived>
void symmetric_eigen(const Eigen::MatrixBase<Derived>& a, Eigen::VectorXd& values,
                     Matrix<double>* vectors) {
#if defined(TANGENT_HAS_LAPACKE)
  lapacke_symmetric_eigen(a, values, vectors);
#else
  eigen_symmetric_eigen(a, values, vectors);
#endif
}

/// The same for a matrix the caller no longer needs: with LAPACKE it becomes the workspace.
template <class M>
void symmetric_eigen_consuming(M& a, Eigen::VectorXd& values, Matrix<double>* vectors) {
#if defined(TANGENT_HAS_LAPACKE)
  lapacke_symmetric_eigen_in_place(a, values, vectors);
#else
  eigen_symmetric_eigen(a, values, vectors);
#endif
}

/// Throws unless `m` is finite; `what` names it in the message.
template <class Derived>
void require_all_finite(std::string_view function, std::string_view what,
                        const Eigen::MatrixBase<Derived>& m) {
  for (Index c = 0; c < m.cols(); ++c) {
    for (Index r = 0; r < m.rows(); ++r) {
      if (!std::isfinite(m(r, c))) {
        fail(function, std::string(what) + " has a non-finite value " +
                           show(static_cast<double>(m(r, c))) + " at (" + std::to_string(r) + ", " +
                           std::to_string(c) + ")");
      }
    }
  }
}

/// Throws unless `k` is square, finite and symmetric to rounding; `hint` says what to pass.
template <class Derived>
void require_symmetric(
    std::string_view function, std::string_view what, const Eigen::MatrixBase<Derived>& k,
    std::string_view hint = "pass the train-train kernel, e.g. ntk(net, x_train)") {
  if (k.rows() == 0) fail(function, std::string(what) + " is empty");
  if (k.rows() != k.cols()) {
    fail(function, std::string(what) + " must be square, got " + std::to_string(k.rows()) + "×" +
                       std::to_string(k.cols()));
  }
  // Tile by tile over the lower triangle, each 32 × 32 tile against a transposed copy of its
  // mirror above, with vectorised reductions on cached data: comparing k(r, c) with k(c, r)
  // across the whole matrix would stride through memory, and a scalar loop costs 2.7 ns per
  // entry (11 ms at N = 2,000, a third of the Cholesky factorisation it guards). A NaN or ±∞ in
  // either entry makes gap·0 NaN, and `nan_sum` with it.
  constexpr Index tile = 32;
  const Index n = k.rows();
  double asymmetry = 0;
  double largest = 0;
  double nan_sum = 0;
  Eigen::Matrix<typename Derived::Scalar, tile, tile> mirror;
  for (Index c0 = 0; c0 < n; c0 += tile) {
    const Index cols = std::min(tile, n - c0);
    for (Index r0 = c0; r0 < n; r0 += tile) {
      const Index rows = std::min(tile, n - r0);
      auto above = mirror.topLeftCorner(rows, cols);
      above = k.block(c0, r0, cols, rows).transpose();
      const auto below = k.block(r0, c0, rows, cols).array();
      const auto gap = below - above.array();
      nan_sum += static_cast<double>((gap * 0).sum());
      asymmetry = std::max(asymmetry, static_cast<double>(gap.abs().maxCoeff()));
      largest = std::max({largest, static_cast<double>(below.abs().maxCoeff()),
                          static_cast<double>(above.array().abs().maxCoeff())});
    }
  }
  if (!(nan_sum == 0)) require_all_finite(function, what, k);
  // Solvers read one triangle only: a non-symmetric matrix here is almost surely a test-train
  // kernel passed by mistake, which would otherwise give silently wrong predictions. A float
  // matrix rounded from a symmetric double one may differ by a rounding in mirror entries.
  const double allowed = std::max(
      1e-10, 8.0 * static_cast<double>(std::numeric_limits<typename Derived::Scalar>::epsilon()));
  if (asymmetry > allowed * largest) {
    fail(function, std::string(what) + " is not symmetric (max |K − Kᵀ| = " + show(asymmetry) +
                       "); " + std::string(hint));
  }
}

/// tr(K)/m from K's `diagonal`, overflowing only where the mean itself does: a sum that
/// overflows (1e308·I) is redone on the entries scaled by a power of two, which is exact.
template <class Derived>
double mean_diagonal(const Eigen::MatrixBase<Derived>& diagonal) {
  const Index m = diagonal.size();
  if (m == 0) return 0;
  const double sum = static_cast<double>(diagonal.sum());
  if (std::isfinite(sum)) return sum / static_cast<double>(m);
  int exponent = 0;
  std::frexp(static_cast<double>(diagonal.cwiseAbs().maxCoeff()), &exponent);
  const double scaled =
      (diagonal.template cast<double>().array() * std::ldexp(1.0, -exponent)).sum();
  return std::ldexp(scaled / static_cast<double>(m), exponent);
}

/// The regulariser r of neural-tangents' `diag_reg` for a kernel whose mean diagonal entry is
/// tr(K)/m = `mean_diagonal`: diag_reg·tr(K)/m, or diag_reg itself when `absolute`.
inline double ridge_of(double diag_reg, bool absolute, double mean_diagonal) {
  return absolute ? diag_reg : diag_reg * mean_diagonal;
}

/// The regulariser r of `diag_reg` for a kernel with mean diagonal entry `mean` and largest
/// diagonal entry `largest`, checking diag_reg and that K + r·I does not overflow.
inline double checked_ridge(std::string_view function, double diag_reg, bool absolute, double mean,
                            double largest) {
  if (!(diag_reg >= 0) || !std::isfinite(diag_reg)) {
    fail(function, "diag_reg must be finite and non-negative, got " + show(diag_reg));
  }
  const double r = ridge_of(diag_reg, absolute, mean);
  if (!std::isfinite(r) || !std::isfinite(largest + r)) {
    fail(function, "diag_reg = " + show(diag_reg) + " gives the regulariser r = " + show(r) +
                       ", and K + r·I overflows double (its largest diagonal entry is " +
                       show(largest) + "); scale every kernel down by the same factor");
  }
  return r;
}

/// The same for the kernel `k`.
template <class Derived>
double regulariser(std::string_view function, const Eigen::MatrixBase<Derived>& k, double diag_reg,
                   bool absolute) {
  return checked_ridge(function, diag_reg, absolute, mean_diagonal(k.diagonal()),
                       k.rows() > 0 ? static_cast<double>(k.diagonal().maxCoeff()) : 0.0);
}

/// The smallest positive scale of kernel solved for, 2⁻⁹⁷⁰ = DBL_MIN/ε: with the largest diagonal
/// entry d at least this, eigenvalues kept by the default cutoff (above m·ε·λ_max ≥ ε·d) have
/// finite inverses. Below it, K̃⁻¹·y overflows and its products give NaN.
inline constexpr double kSmallestKernelScale = 0x1p-970;

/// Refuses a kernel whose largest diagonal entry (`diagonal` its diagonal) is positive but
/// below kSmallestKernelScale (a subnormal kernel, say); a zero kernel stays valid.
template <class Derived>
void require_kernel_scale(std::string_view function, std::string_view what,
                          const Eigen::MatrixBase<Derived>& diagonal) {
  if (diagonal.size() == 0) return;
  const double largest = static_cast<double>(diagonal.maxCoeff());
  if (largest > 0 && largest < kSmallestKernelScale) {
    fail(function, std::string(what) + "'s largest diagonal entry is " + show(largest) +
                       ", too small to invert in double: kernels need a largest diagonal entry "
                       "of 0 or at least 2^-970 ≈ " +
                       show(kSmallestKernelScale) +
                       "; scale every kernel up by the same factor (means at t = ∞ with a "
                       "relative diag_reg do not change)");
  }
}

/// How negative, relative to the largest |eigenvalue| (or diagonal entry), a kernel's eigenvalue
/// may be and still count as rounding: the pseudoinverse cutoff `relative`, but at least 100·m·ε
/// (kernels computed in floating point, and the eigensolver, leave negative eigenvalues of order
/// m·ε·λ_max on a singular positive semidefinite kernel).
inline double indefinite_tolerance(double relative, Index m) {
  return std::max(relative,
                  100.0 * static_cast<double>(m) * std::numeric_limits<double>::epsilon());
}

/// Refuses a kernel (`diagonal` its diagonal) with a diagonal entry negative beyond rounding: a
/// positive semidefinite kernel's diagonal entries are variances, ≥ 0. O(m), before a ridge
/// relative to the mean diagonal entry could come out negative.
template <class Derived>
void require_nonnegative_diagonal(std::string_view function, std::string_view what,
                                  const Eigen::MatrixBase<Derived>& diagonal, double relative) {
  if (diagonal.size() == 0) return;
  Index i = 0;
  const double smallest = static_cast<double>(diagonal.minCoeff(&i));
  const double allowed = indefinite_tolerance(relative, diagonal.size()) *
                         static_cast<double>(diagonal.cwiseAbs().maxCoeff());
  if (smallest < -allowed) {
    fail(function, std::string(what) + " is not positive semidefinite: its diagonal entry (" +
                       std::to_string(i) + ", " + std::to_string(i) + ") is " + show(smallest) +
                       ", and a kernel's diagonal entries are variances, ≥ 0");
  }
}

/// Refuses eigenvalues `values` (ascending) of K + r·I (`ridge` r, if any) that overflowed, or
/// whose smallest is negative beyond rounding (`indefinite_tolerance`): the pseudoinverse would
/// otherwise drop those modes silently. Eigenvalues negative within rounding count as zero.
inline void require_positive_semidefinite(std::string_view function, std::string_view what,
                                          const Eigen::VectorXd& values, double relative,
                                          std::optional<double> ridge) {
  if (values.size() == 0) return;
  const double smallest = values[0];
  const double largest = values[values.size() - 1];
  if (!std::isfinite(smallest) || !std::isfinite(largest)) {
    fail(function, "the eigenvalues of " + std::string(what) +
                       " overflow double; scale every kernel down by the same factor");
  }
  const double allowed = indefinite_tolerance(relative, values.size()) *
                         std::max(std::abs(smallest), std::abs(largest));
  if (smallest < -allowed) {
    fail(function, std::string(what) + " is not positive semidefinite: " +
                       (ridge ? "K + r·I (r = " + show(*ridge) + ") has" : std::string("it has")) +
                       " the eigenvalue " + show(smallest) + " (largest " + show(largest) +
                       "), beyond rounding (−" + show(allowed) +
                       "); a kernel's eigenvalues are ≥ 0" +
                       (ridge ? ", so pass a kernel, or a ridge (diag_reg) that lifts them" : ""));
  }
}

/// The relative pseudoinverse cutoff: `cutoff`, or m·ε for an m × m kernel when it is 0.
inline double relative_cutoff(std::string_view function, double cutoff, Index m) {
  if (!(cutoff >= 0) || !(cutoff < 1)) {
    fail(function, "eigenvalue_cutoff must be in [0, 1), got " + show(cutoff));
  }
  return cutoff > 0 ? cutoff : static_cast<double>(m) * std::numeric_limits<double>::epsilon();
}

/// The eigendecomposition of `regularized` = K + r·I, which it consumes (with LAPACKE it becomes
/// the eigenvectors: no second N × N copy), with the pseudoinverse cutoff `relative`.
template <class S>
Spectrum consume_into_spectrum(Matrix<S>&& regularized, double relative) {
  Spectrum s;
  auto vectors = std::make_shared<Matrix<double>>();
  symmetric_eigen_consuming(regularized, s.values, vectors.get());
  s.basis = std::move(vectors);
  s.relative_cutoff = relative;
  s.zero_below = relative * std::max(s.values.maxCoeff(), 0.0);
  return s;
}

/// How the public factorisations name their kernel in messages.
inline constexpr std::string_view kTrainTrain = "the train-train kernel";

/// K + r·I for the public factorisations: `k` evaluated once (whatever expression it is),
/// checked, regularised; `relative` gets the pseudoinverse cutoff, `ridge` r. With
/// `kernel_diagonal`, K's diagonal is also checked non-negative before r is formed from it, and
/// returned there.
template <class Derived>
Matrix<double> checked_regularized(std::string_view function, const Eigen::MatrixBase<Derived>& k,
                                   double diag_reg, bool absolute, double cutoff, double& relative,
                                   double& ridge, Eigen::VectorXd* kernel_diagonal = nullptr) {
  Matrix<double> regularized = k;
  require_symmetric(function, kTrainTrain, regularized);
  require_kernel_scale(function, kTrainTrain, regularized.diagonal());
  relative = relative_cutoff(function, cutoff, regularized.rows());
  if (kernel_diagonal != nullptr) {
    *kernel_diagonal = regularized.diagonal();
    require_nonnegative_diagonal(function, kTrainTrain, *kernel_diagonal, relative);
  }
  ridge = regulariser(function, regularized, diag_reg, absolute);
  regularized.diagonal().array() += ridge;
  return regularized;
}

}  // namespace TANGENT_SOLVER_ABI
}  // namespace detail

inline namespace TANGENT_SOLVER_ABI {

/// The eigendecomposition of K + r·I (r from `diag_reg` as in neural-tangents), with eigenvalues
/// at or below `cutoff`·λ_max treated as zero; `cutoff` = 0 means m·ε. Throws when K + r·I is not
/// positive semidefinite beyond rounding (`detail::indefinite_tolerance`).
template <class Derived>
Spectrum regularized_spectrum(std::string_view function, const Eigen::MatrixBase<Derived>& k,
                              double diag_reg = 0, bool diag_reg_absolute_scale = false,
                              double cutoff = 0) {
  double relative = 0;
  double ridge = 0;
  Matrix<double> regularized = detail::checked_regularized(
      function, k, diag_reg, diag_reg_absolute_scale, cutoff, relative, ridge);
  Spectrum s = detail::consume_into_spectrum(std::move(regularized), relative);
  detail::require_positive_semidefinite(function, detail::kTrainTrain, s.values, relative, ridge);
  return s;
}

}  // namespace TANGENT_SOLVER_ABI
}  // namespace tangent
