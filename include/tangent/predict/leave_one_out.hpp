#pragma once
/// @file
/// Leave-one-out cross-validation, generalised cross-validation and the marginal likelihood of
/// kernel ridge regression (the GP posterior mean) for a whole grid of ridges from one
/// eigendecomposition, to choose the ridge (Shankar et al. 2020 choose theirs by leave-one-out).
///
/// With A = (K + r·I)⁻¹ = V·diag(1/(λ + r))·Vᵀ, refitting without point i predicts
///
///     ŷ₋ᵢ = yᵢ − (A·y)ᵢ / Aᵢᵢ                      (Rasmussen & Williams 2006, eq. 5.12),
///
/// exactly, for every output column; the LOO error is the mean of (yᵢ − ŷ₋ᵢ)² over points and
/// outputs. Generalised cross-validation (Golub, Heath & Wahba 1979) replaces each Aᵢᵢ by their
/// mean: GCV = mean((A·y)²) / (tr(A)/N)², the usual ‖(I − H)·y‖²/N / (tr(I − H)/N)² with
/// I − H = r·A, whose r² cancels (so it stays defined at r = 0). The log marginal likelihood is
/// marginal_likelihood.hpp's, from the same spectrum.
///
/// Cost: the eigendecomposition (about 4N³ flops, once), then O(N²·k) per ridge for k outputs.
///
/// `leave_one_out_gradient` gives the LOO error at one ridge with its gradient with respect to the
/// kernel's entries and to diag_reg, for choosing hyperparameters by LOO (fit_hyperparameters).
/// With E = (1/(N·k))·Σᵢ꜀ ρᵢ꜀², ρ = α/Aᵢᵢ, α = A·Y, and dA = −A·dK·A, for symmetric dK
/// (dE = Σᵢⱼ Gᵢⱼ·dKᵢⱼ),
///
///     ∂E/∂K = (2/(N·k))·(A·diag(w)·A − ½·(A·U·αᵀ + α·Uᵀ·A)),   Uᵢ꜀ = αᵢ꜀/Aᵢᵢ²,  wᵢ = Σ꜀ αᵢ꜀²/Aᵢᵢ³,
///
/// one more symmetric rank-N product (SYRK, N³ flops) and k rank-2 updates (O(N²·k)) than the
/// marginal likelihood's gradient.

#include <cmath>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/memory.hpp"
#include "tangent/predict/marginal_likelihood.hpp"
#include "tangent/predict/spectrum.hpp"

namespace tangent {
inline namespace TANGENT_SOLVER_ABI {

/// Options of `leave_one_out`: how the grid's diag_reg values scale, as for predictions.
struct LeaveOneOutOptions {
  bool diag_reg_absolute_scale = false;  ///< r = diag_reg itself, not diag_reg·tr(K)/N
  /// K + r·I with an eigenvalue ≤ eigenvalue_cutoff·λ_max counts as singular; 0 means N·ε.
  double eigenvalue_cutoff = 0.0;
};

/// Per ridge of the grid (index j): its errors, its likelihood and its predictions.
struct LeaveOneOut {
  Eigen::VectorXd diag_reg;  ///< the grid, as passed
  Eigen::VectorXd ridge;     ///< r for each diag_reg
  Eigen::VectorXd error;  ///< LOO mean squared error: mean over i and outputs of (yᵢ − ŷ₋ᵢ)²
  Eigen::VectorXd gcv;                      ///< generalised cross-validation error
  Eigen::VectorXd log_marginal_likelihood;  ///< log p(Y | K, r)
  std::vector<Matrix<double>> predictions;  ///< ŷ₋ᵢ, N × outputs, for each diag_reg
  Index best_error = 0;                     ///< the index of the smallest LOO error (first of ties)
  Index best_gcv = 0;                       ///< of the smallest GCV error
  Index best_likelihood = 0;                ///< of the largest marginal likelihood

  /// The diag_reg of the smallest LOO error.
  double best_diag_reg() const { return diag_reg[best_error]; }
};

/// The leave-one-out error at one ridge with its derivatives.
struct LeaveOneOutGradient {
  double value = 0;  ///< LOO mean squared error: mean over i and outputs of (yᵢ − ŷ₋ᵢ)²
  /// ∂ value/∂Kᵢⱼ (N × N, symmetric), the ridge's path through tr(K) included.
  Matrix<double> kernel;
  double diag_reg = 0;  ///< ∂ value/∂diag_reg, in the scale convention of the options
  double ridge = 0;     ///< r, the regulariser that diag_reg gave
  double log_marginal_likelihood = 0;  ///< log p(Y | K, r), from the same factorisation
};

/// LOO, GCV and the marginal likelihood of ridge regression with the N × N kernel `k` on the
/// N × k targets `y`, for every diag_reg in `diag_regs` (each ≥ 0; same convention as
/// predictions, relative to tr(K)/N unless `diag_reg_absolute_scale`). Throws
/// `std::invalid_argument` for a kernel that is not symmetric, a diag_reg whose K + r·I is
/// indefinite beyond rounding, and one that leaves K + r·I singular (LOO refits are then not
/// unique): add a positive ridge. Results carry a relative error of about κ(K + r·I)·ε.
template <class DK, class DY>
LeaveOneOut leave_one_out(const Eigen::MatrixBase<DK>& k, const Eigen::MatrixBase<DY>& y,
                          std::span<const double> diag_regs,
                          const LeaveOneOutOptions& options = {}) {
  constexpr std::string_view kFunction = "leave_one_out";
  if (diag_regs.empty()) detail::fail(kFunction, "the grid of diag_reg values is empty");
  const Matrix<double> targets = detail::checked_targets(kFunction, k, y);
  const Index n = k.rows();
  const double square = static_cast<double>(n) * static_cast<double>(n) * sizeof(double);
  // The copy and LAPACK's 2N² workspace while it runs; then V and its squares.
  detail::require_memory(
      kFunction, 3 * square,
      "the eigendecomposition of the " + std::to_string(n) + " × " + std::to_string(n) + " kernel");

  // The spectrum of K itself; each ridge shifts it, and K + r·I must be positive semidefinite.
  double relative = 0;
  double no_ridge = 0;
  Eigen::VectorXd kernel_diagonal;
  Matrix<double> work = detail::checked_regularized(
      kFunction, k, 0.0, true, options.eigenvalue_cutoff, relative, no_ridge, &kernel_diagonal);
  const Spectrum spectrum = detail::consume_into_spectrum(std::move(work), relative);
  const Matrix<double>& v = spectrum.vectors();
  const Matrix<double> projected = v.transpose() * targets;  // VᵀY
  const Matrix<double> squares = v.array().square().matrix();
  const double mean = detail::mean_diagonal(kernel_diagonal);
  const double largest = kernel_diagonal.maxCoeff();
  const auto outputs = static_cast<double>(y.cols());
  const auto count = static_cast<double>(n);

  LeaveOneOut out;
  const auto grid = static_cast<Index>(diag_regs.size());
  out.diag_reg = Eigen::Map<const Eigen::VectorXd>(diag_regs.data(), grid);
  out.ridge.resize(grid);
  out.error.resize(grid);
  out.gcv.resize(grid);
  out.log_marginal_likelihood.resize(grid);
  out.predictions.reserve(diag_regs.size());
  for (Index j = 0; j < grid; ++j) {
    const double r = detail::checked_ridge(kFunction, diag_regs[static_cast<std::size_t>(j)],
                                           options.diag_reg_absolute_scale, mean, largest);
    const Spectrum shifted = spectrum.with_shift(r);
    detail::require_positive_semidefinite(kFunction, detail::kTrainTrain, shifted.values, relative,
                                          r);
    if (!shifted.kept(0)) {
      detail::fail(
          kFunction,
          "diag_reg = " + detail::show(out.diag_reg[j]) + " (entry " + std::to_string(j) +
              " of the grid) leaves K + r·I singular " +
              "to working precision (smallest eigenvalue " + detail::show(shifted.values[0]) +
              ", largest " + detail::show(shifted.values[n - 1]) +
              "): leave-one-out refits are not unique; use diag_reg > 0" +
              detail::zero_trace_hint(out.diag_reg[j], options.diag_reg_absolute_scale, r));
    }
    const Eigen::VectorXd inverse = shifted.values.cwiseInverse();
    const Eigen::VectorXd a_diagonal = squares * inverse;            // Aᵢᵢ
    const Matrix<double> scaled = inverse.asDiagonal() * projected;  // diag(1/(λ+r))·Vᵀy
    const Matrix<double> a_y = detail::product(v, scaled);           // A·y
    Matrix<double> residual = a_y.array().colwise() / a_diagonal.array();
    out.ridge[j] = r;
    out.error[j] = residual.squaredNorm() / (count * outputs);
    // (A·y/mean Aᵢᵢ)² rather than (A·y)²/(mean Aᵢᵢ)², whose parts overflow for small kernels.
    out.gcv[j] = (a_y / a_diagonal.mean()).squaredNorm() / (count * outputs);
    const double fit = (projected.array() * scaled.array()).sum();  // Σ_c y_cᵀ·A·y_c
    out.log_marginal_likelihood[j] = detail::gaussian_log_density(
        kFunction, fit, shifted.values.array().log().sum(), n, y.cols());
    if (!std::isfinite(out.error[j]) || !std::isfinite(out.gcv[j])) {
      detail::fail(kFunction, "the errors for diag_reg = " + detail::show(out.diag_reg[j]) +
                                  " overflowed; scale the kernel and the targets towards 1");
    }
    out.predictions.push_back(targets - residual);
  }
  out.error.minCoeff(&out.best_error);
  out.gcv.minCoeff(&out.best_gcv);
  out.log_marginal_likelihood.maxCoeff(&out.best_likelihood);
  return out;
}

/// The LOO error of ridge regression with the N × N kernel `k` on the N × k targets `y` at one
/// ridge (options as for `log_marginal_likelihood`), with its gradient with respect to the
/// kernel's entries and to diag_reg. One factorisation, Cholesky or the eigendecomposition as for
/// the likelihood, and about N³ flops more. Throws `std::invalid_argument` as
/// `log_marginal_likelihood_gradient` does, for a K + r·I singular to working precision too
/// (its refits are not unique).
template <class DK, class DY>
LeaveOneOutGradient leave_one_out_gradient(const Eigen::MatrixBase<DK>& k,
                                           const Eigen::MatrixBase<DY>& y,
                                           const MarginalLikelihoodOptions& options = {}) {
  constexpr std::string_view kFunction = "leave_one_out_gradient";
  const Matrix<double> targets = detail::checked_targets(kFunction, k, y);
  const Index n = k.rows();
  // K̃⁻¹, then A·diag(√w) in its place, and G.
  detail::require_memory(kFunction,
                         2.0 * static_cast<double>(n) * static_cast<double>(n) * sizeof(double),
                         "the leave-one-out gradient of the " + std::to_string(n) + " × " +
                             std::to_string(n) + " kernel");
  detail::LikelihoodSolve s = detail::solve_for_likelihood(kFunction, k, targets, options, true,
                                                           "leave-one-out refits are not unique");
  LeaveOneOutGradient out;
  out.ridge = s.ridge;
  // A side value: its overflow (−∞) is not a reason to refuse the LOO error.
  out.log_marginal_likelihood = detail::gaussian_log_density_or_infinity(
      s.fit, s.log_determinant, targets.rows(), targets.cols());
  const Matrix<double> residual = detail::leave_one_out_residuals(s);  // ρ = α/Aᵢᵢ
  const auto scale = static_cast<double>(targets.size());
  out.value = residual.squaredNorm() / scale;
  if (!std::isfinite(out.value)) {
    detail::fail(kFunction,
                 "the leave-one-out error overflowed; scale the kernel and the targets "
                 "towards 1");
  }
  const Eigen::ArrayXd a_diagonal = s.inverse.diagonal().array();
  const Matrix<double> u = residual.array().colwise() / a_diagonal;                 // α/Aᵢᵢ²
  const Eigen::ArrayXd w = residual.array().square().rowwise().sum() / a_diagonal;  // Σ꜀ α²/Aᵢᵢ³
  const Matrix<double> a_u = detail::product(s.inverse, u);
  // A·diag(√w), A symmetric: its columns scaled, in A's storage.
  s.inverse *= w.sqrt().matrix().asDiagonal();
  out.kernel = Matrix<double>::Zero(n, n);
  detail::add_lower_rank_update(out.kernel, s.inverse, 2.0 / scale);
  s.inverse.resize(0, 0);
  for (Index c = 0; c < targets.cols(); ++c) {  // Eigen's rank-2 update takes vectors
    out.kernel.selfadjointView<Eigen::Lower>().rankUpdate(a_u.col(c), s.alpha.col(c), -1.0 / scale);
  }
  detail::mirror_triangle(out.kernel, false);
  out.diag_reg = detail::chain_through_ridge(out.kernel, options, s.mean_diagonal);
  detail::require_finite_gradient(kFunction, out.kernel, out.diag_reg);
  return out;
}

}  // namespace TANGENT_SOLVER_ABI
}  // namespace tangent
