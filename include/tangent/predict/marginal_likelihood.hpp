#pragma once
/// @file
/// The log marginal likelihood of GP regression with a given kernel, and its gradient: the
/// evidence by which a kernel's hyperparameters (w_std, b_std, depth, the ridge) are chosen
/// (Rasmussen & Williams 2006, eqs. 2.30 and 5.9).
///
/// For K̃ = K + r·I (r from `diag_reg` as in neural-tangents) and k output columns y_c, each an
/// independent GP with the same kernel,
///
///     log p(Y) = −½·Σ_c y_cᵀ·K̃⁻¹·y_c − (k/2)·log det K̃ − (N·k/2)·log 2π,
///     ∂ log p(Y)/∂K̃ = ½·(α·αᵀ − k·K̃⁻¹),   α = K̃⁻¹·Y,
///
/// scikit-learn's `GaussianProcessRegressor.log_marginal_likelihood` on the same matrix (its
/// `alpha` the ridge). The gradient treats the N² entries of K as independent variables, so that
/// dlog p = Σᵢⱼ Gᵢⱼ·dKᵢⱼ for any perturbation dK; with a relative `diag_reg` the ridge moves with
/// tr(K), and the gradient includes that path.
///
/// One factorisation: Cholesky where K̃ is safely positive definite (cholesky.hpp, the same test
/// as predictions), else the eigendecomposition. A K̃ singular to working precision (an
/// eigenvalue at or below the pseudoinverse cutoff, as for predictions) has no density, and is
/// refused with a sentence that says to add a ridge (there is no pseudo-determinant variant); a
/// K̃ indefinite beyond rounding is refused as not a kernel. Like any solve, the results carry a
/// relative error of about κ(K̃)·ε: near the cutoff, log p is ill-conditioned.

#include <cmath>
#include <numbers>
#include <string>
#include <string_view>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/memory.hpp"
#include "tangent/predict/cholesky.hpp"
#include "tangent/predict/spectrum.hpp"
#include "tangent/version.hpp"

namespace tangent {
inline namespace TANGENT_SOLVER_ABI {

/// Options of `log_marginal_likelihood`, as for predictions.
struct MarginalLikelihoodOptions {
  double diag_reg = 0.0;                 ///< r = diag_reg·tr(K)/N added to the diagonal
  bool diag_reg_absolute_scale = false;  ///< r = diag_reg itself
  /// K̃ with an eigenvalue ≤ eigenvalue_cutoff·λ_max counts as singular; 0 means N·ε.
  double eigenvalue_cutoff = 0.0;
};

/// The log marginal likelihood with its derivatives.
struct MarginalLikelihoodGradient {
  double value = 0;  ///< log p(Y | K, r)
  /// ∂ value/∂Kᵢⱼ (N × N, symmetric), the ridge's path through tr(K) included.
  Matrix<double> kernel;
  double diag_reg = 0;  ///< ∂ value/∂diag_reg, in the scale convention of the options
  double ridge = 0;     ///< r, the regulariser that diag_reg gave
  /// The leave-one-out mean squared error of the same ridge regression (leave_one_out.hpp), from
  /// the same factorisation at O(N·k) extra cost.
  double leave_one_out_error = 0;
};

}  // namespace TANGENT_SOLVER_ABI

namespace detail {
inline namespace TANGENT_SOLVER_ABI {

/// The targets `y` in double, after checking that they are finite, one row per point of the
/// N × N kernel `k`.
template <class DK, class DY>
Matrix<double> checked_targets(std::string_view function, const Eigen::MatrixBase<DK>& k,
                               const Eigen::MatrixBase<DY>& y) {
  if (k.rows() != y.rows()) {
    fail(function, "y has " + std::to_string(y.rows()) + " rows but the kernel is " +
                       std::to_string(k.rows()) + " × " + std::to_string(k.cols()) +
                       "; pass one row of targets per training point");
  }
  if (y.cols() == 0) fail(function, "y has no columns");
  require_all_finite(function, "y", y);
  return y.template cast<double>();
}

/// What a marginal likelihood needs from the factorisation of K̃: fit = Σ_c y_cᵀ·K̃⁻¹·y_c and
/// log det K̃; for the gradient also α = K̃⁻¹·Y and K̃⁻¹ (full, symmetric).
struct LikelihoodSolve {
  double fit = 0;
  double log_determinant = 0;
  Matrix<double> alpha;
  Matrix<double> inverse;
  double ridge = 0;
  double mean_diagonal = 0;  ///< tr(K)/N
};

/// Why the ridge r vanished, where a relative diag_reg > 0 met a kernel of trace 0.
inline std::string zero_trace_hint(double diag_reg, bool absolute, double ridge) {
  return ridge == 0 && diag_reg > 0 && !absolute
             ? "; a relative diag_reg gives r = 0 for a kernel of trace 0: set "
               "diag_reg_absolute_scale"
             : "";
}

/// Checks K and Y, regularises and factorises K̃ (see the file comment for the routes). The fit
/// comes from ‖L⁻¹Y‖² or Σ (VᵀY)²/λ, sums of squares, whether or not the gradient is wanted, so
/// the value has the same bits either way. A singular K̃ is refused with `singular_consequence`,
/// what it makes of the caller's quantity.
template <class DK>
LikelihoodSolve solve_for_likelihood(
    std::string_view function, const Eigen::MatrixBase<DK>& k, const Matrix<double>& y,
    const MarginalLikelihoodOptions& options, bool gradient,
    std::string_view singular_consequence = "the Gaussian of the targets has no density") {
  const Index n = k.rows();
  const double square = static_cast<double>(n) * static_cast<double>(n) * sizeof(double);
  const std::string size = std::to_string(n) + " × " + std::to_string(n);
  // The Cholesky route: K̃'s copy, which becomes L and then K̃⁻¹ (dpotri in place; Eigen's
  // solves need a second matrix).
  require_memory(function, (gradient && !build::lapacke ? 2 : 1) * square,
                 "the Cholesky factor of the " + size + " kernel");
  LikelihoodSolve out;
  double relative = 0;
  Eigen::VectorXd kernel_diagonal;
  Matrix<double> regularized =
      checked_regularized(function, k, options.diag_reg, options.diag_reg_absolute_scale,
                          options.eigenvalue_cutoff, relative, out.ridge, &kernel_diagonal);
  out.mean_diagonal = mean_diagonal(kernel_diagonal);
  double reciprocal_condition = 0;
  if (factor_if_safe(regularized, relative, reciprocal_condition)) {
    out.log_determinant = 2.0 * regularized.diagonal().array().log().sum();
    CholeskyFactor f{std::move(regularized), reciprocal_condition};
    Matrix<double> half = y;
    cholesky_half_solve_in_place(f, half);
    out.fit = half.squaredNorm();
    if (gradient) {
      out.alpha = y;
      cholesky_solve_in_place(f, out.alpha);
      cholesky_inverse_in_place(f.lower);
      out.inverse = std::move(f.lower);
    }
    return out;
  }
  // The eigendecomposition route: the copy, LAPACK's 2N² workspace while it runs; for the
  // gradient then V, V·Λ^(−½) and K̃⁻¹.
  require_memory(function, 3 * square,
                 "the eigendecomposition of the " + size +
                     " kernel (not safely positive definite for Cholesky)");
  restore_from_upper(regularized, kernel_diagonal.array() + out.ridge);
  Spectrum s = consume_into_spectrum(std::move(regularized), relative);
  require_positive_semidefinite(function, kTrainTrain, s.values, relative, out.ridge);
  if (!s.kept(0)) {
    fail(function,
         "K + r·I (r = " + show(out.ridge) +
             ") is singular to working precision: its smallest eigenvalue " + show(s.values[0]) +
             " is at most " + show(s.relative_cutoff) + " times its largest (" +
             show(s.values[s.size() - 1]) + "), so " + std::string(singular_consequence) +
             "; pass a diag_reg > 0 "
             "(observation noise) or remove duplicate training points" +
             zero_trace_hint(options.diag_reg, options.diag_reg_absolute_scale, out.ridge));
  }
  out.log_determinant = s.values.array().log().sum();
  const Matrix<double> projected = s.vectors().transpose() * y;  // VᵀY
  out.fit = (s.values.cwiseInverse().asDiagonal() * projected.cwiseAbs2()).sum();
  if (gradient) {
    const Eigen::VectorXd inverse_values = s.values.cwiseInverse();
    out.alpha = s.vectors() * (inverse_values.asDiagonal() * projected);
    // K̃⁻¹ = W·Wᵀ with W = V·Λ^(−½): one symmetric rank-N update (SYRK), exactly symmetric.
    Matrix<double> w = s.vectors() * inverse_values.cwiseSqrt().asDiagonal();
    s.basis.reset();
    out.inverse = Matrix<double>::Zero(n, n);
    add_lower_rank_update(out.inverse, w, 1.0);
    mirror_triangle(out.inverse, false);
  }
  return out;
}

/// log p(Y) = −½·fit − (k/2)·log det K̃ − (N·k/2)·log 2π from fit = Σ_c y_cᵀ·K̃⁻¹·y_c, for N points
/// and k outputs; −∞ where it overflowed.
inline double gaussian_log_density_or_infinity(double fit, double log_determinant, Index points,
                                               Index outputs) {
  const auto n = static_cast<double>(points);
  const auto k = static_cast<double>(outputs);
  return -0.5 * fit - 0.5 * k * log_determinant - 0.5 * n * k * std::log(2.0 * std::numbers::pi);
}

/// The same, throwing when it overflowed (targets far larger than the kernel's scale) rather than
/// return −∞.
inline double gaussian_log_density(std::string_view function, double fit, double log_determinant,
                                   Index points, Index outputs) {
  const double value = gaussian_log_density_or_infinity(fit, log_determinant, points, outputs);
  if (!std::isfinite(value)) {
    fail(function, "the log marginal likelihood overflowed (yᵀ·K̃⁻¹·y = " + show(fit) +
                       ", log det K̃ = " + show(log_determinant) +
                       "); scale the kernel and the targets towards 1");
  }
  return value;
}

/// ∂/∂diag_reg of a quantity whose gradient with respect to K̃ is `g` (N × N, symmetric): the
/// ridge moves the diagonal, so ∂/∂r = tr(G). With a relative diag_reg, r = diag_reg·tr(K)/N:
/// ∂r/∂diag_reg = tr(K)/N, and each Kᵢᵢ moves r by diag_reg/N, a path added to G's diagonal, which
/// becomes the gradient with respect to K.
inline double chain_through_ridge(Matrix<double>& g, const MarginalLikelihoodOptions& options,
                                  double mean_kernel_diagonal) {
  const double d_ridge = g.trace();
  if (options.diag_reg_absolute_scale) return d_ridge;
  g.diagonal().array() += d_ridge * options.diag_reg / static_cast<double>(g.rows());
  return d_ridge * mean_kernel_diagonal;
}

/// The leave-one-out residuals yᵢ − ŷ₋ᵢ = αᵢ/Aᵢᵢ (Rasmussen & Williams 2006, eq. 5.12) from
/// α = A·Y and A = K̃⁻¹. Here rather than in leave_one_out.hpp because the likelihood's gradient
/// reports the LOO error of its own factorisation, and leave_one_out.hpp includes this header.
inline Matrix<double> leave_one_out_residuals(const LikelihoodSolve& s) {
  return s.alpha.array().colwise() / s.inverse.diagonal().array();
}

/// Throws unless the gradient `g` and its ridge derivative are finite.
inline void require_finite_gradient(std::string_view function, const Matrix<double>& g,
                                    double d_diag_reg) {
  if (!std::isfinite(d_diag_reg) || !g.allFinite()) {
    fail(function, "the gradient overflowed (∂/∂diag_reg = " + show(d_diag_reg) +
                       "); scale the kernel and the targets towards 1");
  }
}

}  // namespace TANGENT_SOLVER_ABI
}  // namespace detail

inline namespace TANGENT_SOLVER_ABI {

/// log p(Y | K, r) of GP regression: K the N × N train-train kernel (NNGP, NTK, or any other),
/// Y the N × k targets, one independent GP per column. Throws `std::invalid_argument` for a
/// kernel that is not symmetric, not positive semidefinite, or singular after the ridge.
template <class DK, class DY>
double log_marginal_likelihood(const Eigen::MatrixBase<DK>& k, const Eigen::MatrixBase<DY>& y,
                               const MarginalLikelihoodOptions& options = {}) {
  constexpr std::string_view kFunction = "log_marginal_likelihood";
  const Matrix<double> targets = detail::checked_targets(kFunction, k, y);
  const detail::LikelihoodSolve s =
      detail::solve_for_likelihood(kFunction, k, targets, options, false);
  return detail::gaussian_log_density(kFunction, s.fit, s.log_determinant, targets.rows(),
                                      targets.cols());
}

/// The same with its gradient with respect to the kernel's entries and to diag_reg (one
/// factorisation and its inverse: about N³ flops).
template <class DK, class DY>
MarginalLikelihoodGradient log_marginal_likelihood_gradient(
    const Eigen::MatrixBase<DK>& k, const Eigen::MatrixBase<DY>& y,
    const MarginalLikelihoodOptions& options = {}) {
  constexpr std::string_view kFunction = "log_marginal_likelihood_gradient";
  const Matrix<double> targets = detail::checked_targets(kFunction, k, y);
  detail::LikelihoodSolve s = detail::solve_for_likelihood(kFunction, k, targets, options, true);
  MarginalLikelihoodGradient out;
  out.value = detail::gaussian_log_density(kFunction, s.fit, s.log_determinant, targets.rows(),
                                           targets.cols());
  out.ridge = s.ridge;
  out.leave_one_out_error =
      detail::leave_one_out_residuals(s).squaredNorm() / static_cast<double>(targets.size());
  // G = ½·(α·αᵀ − k·K̃⁻¹), built in K̃⁻¹'s storage: a rank-k update of its lower triangle,
  // mirrored, so G is exactly symmetric.
  const auto outputs = static_cast<double>(targets.cols());
  out.kernel = std::move(s.inverse);
  out.kernel *= -0.5 * outputs;
  out.kernel.selfadjointView<Eigen::Lower>().rankUpdate(s.alpha, 0.5);
  detail::mirror_triangle(out.kernel, false);
  out.diag_reg = detail::chain_through_ridge(out.kernel, options, s.mean_diagonal);
  detail::require_finite_gradient(kFunction, out.kernel, out.diag_reg);
  return out;
}

}  // namespace TANGENT_SOLVER_ABI
}  // namespace tangent
