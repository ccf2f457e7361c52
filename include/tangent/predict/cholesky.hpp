#pragma once
/// @file
/// The Cholesky route for predictions at t = ∞: K̃ = K + r·I = L·Lᵀ. It costs N³/3 flops where the
/// eigendecomposition with eigenvectors costs about 4N³ and runs largely at BLAS-2 speed, so ridge
/// regression and exact GP inference at t = ∞ cost what a linear solve costs (neural-tangents'
/// `gp_inference` factorises the same way).
///
/// The route is taken only where it computes the same K̃⁻¹ as the eigendecomposition route's
/// pseudoinverse: when LAPACK's estimate of the reciprocal 1-norm condition number (`dpocon`;
/// Eigen's `LLT::rcond` without LAPACKE) exceeds `kCholeskyMargin`·c, c the pseudoinverse's
/// relative cutoff (m·ε by default). For a symmetric matrix ‖A‖₂ ≤ ‖A‖₁, so κ₂ ≤ κ₁, and the
/// estimate is within a small factor of the truth: every eigenvalue then lies above c·λ_max, and
/// no mode is cut. Both routes then have a relative error of order κ(K̃)·ε in their solves, and
/// differ by that much; a tighter agreement cannot be promised by either. A kernel that fails the
/// test (singular, nearly so, or not positive definite) goes to the eigendecomposition and its
/// pseudoinverse. The estimate costs a few triangular solves, O(N²), and needs no assumption
/// about the kernel (a user's "kernel" may be indefinite).

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include <Eigen/Cholesky>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/gram.hpp"
#include "tangent/predict/spectrum.hpp"

namespace tangent {

/// K̃ = L·Lᵀ: `lower` holds L in its lower triangle (its strict upper triangle is not used).
struct CholeskyFactor {
  Matrix<double> lower;
  double reciprocal_condition = 0;  ///< an estimate of 1/κ₁(K̃) (LAPACK dpocon)
  Index size() const { return lower.rows(); }
};

namespace detail {
inline namespace TANGENT_SOLVER_ABI {

/// How far above the cutoff c the reciprocal condition estimate must lie for the Cholesky route:
/// a factor of 10 for the estimate, which may be optimistic by a few.
inline constexpr double kCholeskyMargin = 10.0;

// The functions that reach Eigen's factorisations, solves and block copies are templates (on the
// scalar, always double) like those of spectrum.hpp: an inline function's body is compiled in
// every translation unit that includes the header, and with it Eigen's LLT (seconds per unit).

/// L·Lᵀ = a in place (lower triangle read and written) by Eigen's blocked LLT; false when `a` is
/// not numerically positive definite. With `reciprocal_condition`, also Eigen's estimate of
/// 1/κ₁(a).
template <class S>
bool eigen_cholesky_in_place(Matrix<S>& a, double* reciprocal_condition) {
  const Eigen::LLT<Eigen::Ref<Matrix<S>>, Eigen::Lower> llt(a);
  if (llt.info() != Eigen::Success) return false;
  if (reciprocal_condition != nullptr) *reciprocal_condition = llt.rcond();
  return true;
}

/// b ← (L·Lᵀ)⁻¹·b, or L⁻¹·b with `half`, by Eigen's triangular solves.
template <class S>
void eigen_cholesky_solve_in_place(const Matrix<S>& lower, Matrix<S>& b, bool half) {
  lower.template triangularView<Eigen::Lower>().solveInPlace(b);
  if (!half) lower.template triangularView<Eigen::Lower>().transpose().solveInPlace(b);
}

#if defined(TANGENT_HAS_LAPACKE)
// Declared here, as LAPACKE_dsyevd in spectrum.hpp, rather than through <lapacke.h>. The _work
// forms skip LAPACKE's NaN scans of every input (O(N²) each, 3 ms per call at N = 2,000): the
// kernels were checked finite when the predictor was made.
extern "C" double LAPACKE_dlansy_work(int matrix_layout, char norm, char uplo, int n,
                                      const double* a, int lda, double* work);
extern "C" int LAPACKE_dpotrf_work(int matrix_layout, char uplo, int n, double* a, int lda);
extern "C" int LAPACKE_dpocon_work(int matrix_layout, char uplo, int n, const double* a, int lda,
                                   double anorm, double* rcond, double* work, int* iwork);
extern "C" int LAPACKE_dpotrs_work(int matrix_layout, char uplo, int n, int nrhs, const double* a,
                                   int lda, double* b, int ldb);
extern "C" int LAPACKE_dtrtrs_work(int matrix_layout, char uplo, char trans, char diag, int n,
                                   int nrhs, const double* a, int lda, double* b, int ldb);

/// The same by LAPACK's dpotrf (OpenBLAS: blocked and threaded), with dpocon's estimate.
inline bool lapacke_cholesky_in_place(Matrix<double>& a, double* reciprocal_condition) {
  const int n = static_cast<int>(a.rows());
  const int lda = static_cast<int>(a.outerStride());
  Eigen::VectorXd work(reciprocal_condition != nullptr ? 3 * a.rows() : 0);
  const double norm =
      reciprocal_condition != nullptr
          ? LAPACKE_dlansy_work(kLapackColumnMajor, '1', 'L', n, a.data(), lda, work.data())
          : 0.0;
  const int info = LAPACKE_dpotrf_work(kLapackColumnMajor, 'L', n, a.data(), lda);
  if (info > 0) return false;
  if (info < 0) fail("Cholesky factorisation", "LAPACK dpotrf failed with info " + show(info));
  if (reciprocal_condition == nullptr) return true;
  Eigen::VectorXi iwork(a.rows());
  const int con = LAPACKE_dpocon_work(kLapackColumnMajor, 'L', n, a.data(), lda, norm,
                                      reciprocal_condition, work.data(), iwork.data());
  if (con != 0) fail("Cholesky factorisation", "LAPACK dpocon failed with info " + show(con));
  return true;
}

inline void lapacke_cholesky_solve_in_place(const Matrix<double>& lower, Matrix<double>& b,
                                            bool half) {
  if (b.size() == 0) return;
  const int n = static_cast<int>(lower.rows());
  const int nrhs = static_cast<int>(b.cols());
  const int lda = static_cast<int>(lower.outerStride());
  const int ldb = static_cast<int>(b.outerStride());
  const int info = half ? LAPACKE_dtrtrs_work(kLapackColumnMajor, 'L', 'N', 'N', n, nrhs,
                                              lower.data(), lda, b.data(), ldb)
                        : LAPACKE_dpotrs_work(kLapackColumnMajor, 'L', n, nrhs, lower.data(), lda,
                                              b.data(), ldb);
  if (info != 0) fail("Cholesky solve", "LAPACK failed with info " + show(info));
}
#endif

/// L·Lᵀ = a in place; false when `a` is not numerically positive definite. With
/// `reciprocal_condition`, also an estimate of 1/κ₁(a) (a few triangular solves more).
template <class S>
bool cholesky_in_place(Matrix<S>& a, double* reciprocal_condition) {
#if defined(TANGENT_HAS_LAPACKE)
  return lapacke_cholesky_in_place(a, reciprocal_condition);
#else
  return eigen_cholesky_in_place(a, reciprocal_condition);
#endif
}

/// b ← K̃⁻¹·b.
template <class S>
void cholesky_solve_in_place(const CholeskyFactor& f, Matrix<S>& b) {
#if defined(TANGENT_HAS_LAPACKE)
  lapacke_cholesky_solve_in_place(f.lower, b, false);
#else
  eigen_cholesky_solve_in_place(f.lower, b, false);
#endif
}

/// b ← L⁻¹·b, so that (L⁻¹b)ᵀ(L⁻¹b) = bᵀ·K̃⁻¹·b.
template <class S>
void cholesky_half_solve_in_place(const CholeskyFactor& f, Matrix<S>& b) {
#if defined(TANGENT_HAS_LAPACKE)
  lapacke_cholesky_solve_in_place(f.lower, b, true);
#else
  eigen_cholesky_solve_in_place(f.lower, b, true);
#endif
}

/// Factorises `a` = K + r·I in place when the route is safe for the pseudoinverse cutoff
/// `relative` (see the file comment), setting `reciprocal_condition`. False when it is not: `a`'s
/// lower triangle is then spoiled, its strict upper triangle still holds K (dpotrf and Eigen's
/// LLT write the lower triangle only), which `restore_from_upper` builds it back from.
template <class S>
bool factor_if_safe(Matrix<S>& a, double relative, double& reciprocal_condition) {
  if (!cholesky_in_place(a, &reciprocal_condition)) return false;
  return reciprocal_condition > kCholeskyMargin * relative;
}

/// Writes the symmetric matrix whose strict upper triangle `a` holds, with diagonal `diagonal`,
/// over all of `a`.
template <class S>
void restore_from_upper(Matrix<S>& a, const Eigen::VectorXd& diagonal) {
  mirror_triangle(a, true);
  a.diagonal() = diagonal;
}

/// K̃⁻¹ = L⁻ᵀ·L⁻¹ over the whole of `factor`, which holds L in its lower triangle, by Eigen's
/// triangular solves against the identity (one N × N matrix more); its lower triangle mirrored,
/// so that it is exactly symmetric.
template <class S>
void eigen_cholesky_inverse_in_place(Matrix<S>& factor) {
  Matrix<S> inverse = Matrix<S>::Identity(factor.rows(), factor.cols());
  eigen_cholesky_solve_in_place(factor, inverse, false);
  factor = std::move(inverse);
  mirror_triangle(factor, false);
}

#if defined(TANGENT_HAS_LAPACKE)
extern "C" int LAPACKE_dpotri_work(int matrix_layout, char uplo, int n, double* a, int lda);

/// The same in place by LAPACK's dpotri (a third of the flops of solving against the identity).
template <class S>
void lapacke_cholesky_inverse_in_place(Matrix<S>& factor) {
  const int info = LAPACKE_dpotri_work(kLapackColumnMajor, 'L', static_cast<int>(factor.rows()),
                                       factor.data(), static_cast<int>(factor.outerStride()));
  if (info != 0) fail("Cholesky inverse", "LAPACK dpotri failed with info " + show(info));
  mirror_triangle(factor, false);
}
#endif

/// K̃⁻¹ over the whole of `factor` (L in its lower triangle).
template <class S>
void cholesky_inverse_in_place(Matrix<S>& factor) {
#if defined(TANGENT_HAS_LAPACKE)
  lapacke_cholesky_inverse_in_place(factor);
#else
  eigen_cholesky_inverse_in_place(factor);
#endif
}

/// The factor of `regularized` = K + r·I, which it consumes, when the route is safe; nullopt
/// otherwise.
template <class S>
std::optional<CholeskyFactor> consume_into_cholesky(Matrix<S>&& regularized, double relative) {
  CholeskyFactor f;
  f.lower = std::move(regularized);
  if (!factor_if_safe(f.lower, relative, f.reciprocal_condition)) return std::nullopt;
  return f;
}

}  // namespace TANGENT_SOLVER_ABI
}  // namespace detail

inline namespace TANGENT_SOLVER_ABI {

/// The Cholesky factor of K + r·I (r from `diag_reg` as in neural-tangents) when it is safely
/// positive definite for the pseudoinverse cutoff `cutoff` (0: m·ε), nullopt when predictions
/// need the eigendecomposition instead.
template <class Derived>
std::optional<CholeskyFactor> regularized_cholesky(std::string_view function,
                                                   const Eigen::MatrixBase<Derived>& k,
                                                   double diag_reg = 0,
                                                   bool diag_reg_absolute_scale = false,
                                                   double cutoff = 0) {
  double relative = 0;
  double ridge = 0;
  Matrix<double> regularized = detail::checked_regularized(
      function, k, diag_reg, diag_reg_absolute_scale, cutoff, relative, ridge);
  return detail::consume_into_cholesky(std::move(regularized), relative);
}

}  // namespace TANGENT_SOLVER_ABI
}  // namespace tangent
