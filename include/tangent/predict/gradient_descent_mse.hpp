#pragma once
/// @file
/// Outputs of a network trained by gradient flow on the MSE, linearised around its
/// initialisation, at any training time, from a given kernel (neural-tangents'
/// `predict.gradient_descent_mse`; Lee et al. 2019, eqs. 8–9):
///   f_train(t) = y + e^{−K̃τ/n}·(f_train,0 − y)
///   f_test(t)  = f_test,0 + K_*d·K̃⁻¹·(I − e^{−K̃τ/n})·(y − f_train,0)
/// with K̃ = K + r·I, τ = η·t and n = y.size(). One eigendecomposition serves every t; t = ∞
/// is ridgeless (pseudoinverse) or, with diag_reg, ridge kernel regression.

#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/predict/gradient_flow.hpp"
#include "tangent/predict/posterior.hpp"
#include "tangent/predict/spectrum.hpp"

namespace tangent {
inline namespace TANGENT_SOLVER_ABI {

/// Options of `gradient_descent_mse` and `gradient_descent_mse_ensemble`, as in neural-tangents.
struct MseOptions {
  double learning_rate = 1.0;            ///< η; time t means τ = η·t of gradient flow
  double diag_reg = 0.0;                 ///< r = diag_reg·tr(K)/m added to the diagonal (ridge)
  bool diag_reg_absolute_scale = false;  ///< r = diag_reg itself
  /// Eigenvalues ≤ eigenvalue_cutoff·λ_max count as zero; 0 means m·ε for an m × m kernel.
  double eigenvalue_cutoff = 0.0;
};

/// The predictor returned by `gradient_descent_mse`. Empty initial outputs mean zero.
/// (A template only so that its code is compiled where it is used; S is double.)
///
/// The kernel is factorised on first use, by what is asked: outputs at t = ∞ only by a Cholesky
/// solve where the kernel is safely positive definite (cholesky.hpp), any finite time by the
/// eigendecomposition, which then serves every later time and consumes the stored kernel.
template <class S = double>
class BasicGradientDescentMse {
  static_assert(std::is_same_v<S, double>, "TANGENT: PREDICTIONS ARE COMPUTED IN double.");

 public:
  BasicGradientDescentMse(Matrix<double> k_train_train, const Matrix<double>& y_train,
                          const MseOptions& options)
      : learning_rate_(options.learning_rate) {
    detail::require_learning_rate(kFunction, options.learning_rate);
    // The state checks the kernel (symmetric, finite) and y_train's values.
    if (y_train.rows() != k_train_train.rows()) {
      detail::fail(kFunction, "y_train has " + std::to_string(y_train.rows()) +
                                  " rows but k_train_train is " +
                                  std::to_string(k_train_train.rows()) + "×" +
                                  std::to_string(k_train_train.cols()));
    }
    state_ = std::make_shared<const detail::FlowState<S>>(
        kFunction, Kernels{Matrix<double>(), std::move(k_train_train)}, y_train, options.diag_reg,
        options.diag_reg_absolute_scale, options.eigenvalue_cutoff, true);
  }

  /// The same predictions with another `diag_reg` (same scale convention), sharing this
  /// predictor's eigendecomposition: a sweep over ridges costs one decomposition, not one each.
  BasicGradientDescentMse with_diag_reg(double diag_reg) const {
    BasicGradientDescentMse other = *this;
    other.state_ = std::make_shared<const detail::FlowState<S>>(state_->with_diag_reg(diag_reg));
    return other;
  }

  /// Training-set outputs at time t (`infinite_time` allowed), starting from `f_train_0`. At
  /// t = ∞ alone a full-rank kernel gives y exactly; finding out costs the Cholesky
  /// factorisation (which later questions at t = ∞ reuse).
  Matrix<double> train(double t, const Matrix<double>& f_train_0 = {}) const {
    return std::move(train(std::span<const double>(&t, 1), f_train_0).front());
  }
  /// The same at several times, all in one matrix product.
  std::vector<Matrix<double>> train(std::span<const double> times,
                                    const Matrix<double>& f_train_0 = {}) const {
    detail::require_times(kFunction, times);
    const Matrix<double> start = initial(f_train_0, y().rows(), "f_train_0");
    // Full rank and t = ∞: every mode has relaxed onto y.
    if (detail::all_infinite(times) && state_->cholesky(Get::ntk) != nullptr) {
      return std::vector<Matrix<double>>(times.size(), y());
    }
    const Spectrum& spectrum = state_->spectrum(Get::ntk);
    const Matrix<double> projected = spectrum.vectors().transpose() * (start - y());
    // f(t) = f₀ + V·diag(e^{−λs} − 1)·Vᵀ·(f₀ − y): the change since f₀ keeps its digits at small t
    // (expm1), and t = 0 gives f₀ exactly.
    const Matrix<double> change =
        detail::product(spectrum.vectors(), weighted(spectrum, times, projected, false));
    return detail::outputs_by_time(start, change, times.size());
  }

  /// Test outputs at time t, for the test-train kernel `k_test_train` (N_test × N_train).
  Matrix<double> test(double t, const Matrix<double>& k_test_train,
                      const Matrix<double>& f_train_0 = {},
                      const Matrix<double>& f_test_0 = {}) const {
    return std::move(
        test(std::span<const double>(&t, 1), k_test_train, f_train_0, f_test_0).front());
  }
  /// The same at several times: Vᵀ·(y − f₀) is formed once, and the times are stacked side by
  /// side so that all of them cost one matrix product.
  std::vector<Matrix<double>> test(std::span<const double> times,
                                   const Matrix<double>& k_test_train,
                                   const Matrix<double>& f_train_0 = {},
                                   const Matrix<double>& f_test_0 = {}) const {
    detail::require_times(kFunction, times);
    check_test_kernel(k_test_train);
    const Matrix<double> start = initial(f_test_0, k_test_train.rows(), "f_test_0");
    const Matrix<double> residual = y() - initial(f_train_0, y().rows(), "f_train_0");
    if (detail::all_infinite(times)) {
      if (const std::shared_ptr<const CholeskyFactor> f = state_->cholesky(Get::ntk)) {
        Matrix<double> alpha = residual;
        detail::cholesky_solve_in_place(*f, alpha);
        return std::vector<Matrix<double>>(times.size(),
                                           start + detail::product(k_test_train, alpha));
      }
    }
    const Spectrum& spectrum = state_->spectrum(Get::ntk);
    const Matrix<double>& v = spectrum.vectors();
    const Matrix<double> w = weighted(spectrum, times, v.transpose() * residual, true);
    // K_*d·V·W in the cheaper order: (K_*d·V)·W costs N_test·N² + N_test·N·T·k, K_*d·(V·W)
    // costs N²·T·k + N_test·N·T·k, for T times and k outputs.
    const Matrix<double> moved = w.cols() > k_test_train.rows()
                                     ? detail::product(detail::product(k_test_train, v), w)
                                     : detail::product(k_test_train, detail::product(v, w));
    return detail::outputs_by_time(start, moved, times.size());
  }

  /// Test outputs at time t for each ridge of `diag_regs` (this predictor's scale convention):
  /// one eigendecomposition and one product K_*d·V serve them all, and each ridge adds
  /// N_test·N·outputs flops. For models selected by validation error over the ridge.
  std::vector<Matrix<double>> test_ridges(std::span<const double> diag_regs, double t,
                                          const Matrix<double>& k_test_train,
                                          const Matrix<double>& f_train_0 = {},
                                          const Matrix<double>& f_test_0 = {}) const {
    if (diag_regs.empty()) detail::fail(kFunction, "diag_regs is empty");
    check_test_kernel(k_test_train);
    const Matrix<double> start = initial(f_test_0, k_test_train.rows(), "f_test_0");
    const double s = detail::flow_time(kFunction, t, learning_rate_, y().size());
    const Spectrum& spectrum = state_->spectrum(Get::ntk);
    const Matrix<double> projected_td = detail::product(k_test_train, spectrum.vectors());
    const Matrix<double> projected =
        spectrum.vectors().transpose() * (y() - initial(f_train_0, y().rows(), "f_train_0"));
    std::vector<Matrix<double>> out;
    out.reserve(diag_regs.size());
    for (const double diag_reg : diag_regs) {
      const Spectrum moved = state_->spectrum_for(Get::ntk, diag_reg);
      out.push_back(start + projected_td * (detail::gain(moved, s).asDiagonal() * projected));
    }
    return out;
  }

  /// The eigendecomposition of the regularised train-train kernel (computed on first use).
  const Spectrum& spectrum() const { return state_->spectrum(Get::ntk); }

 private:
  static constexpr std::string_view kFunction = "gradient_descent_mse";

  const Matrix<double>& y() const { return state_->y(); }

  void check_test_kernel(const Matrix<double>& k_test_train) const {
    detail::require_all_finite(kFunction, "k_test_train", k_test_train);
    if (k_test_train.cols() != y().rows()) {
      detail::fail(kFunction, "k_test_train has " + std::to_string(k_test_train.cols()) +
                                  " columns but there are " + std::to_string(y().rows()) +
                                  " training points");
    }
  }

  Matrix<double> weighted(const Spectrum& spectrum, std::span<const double> times,
                          const Matrix<double>& projected, bool use_gain) const {
    return detail::weighted_by_time(kFunction, spectrum, times, learning_rate_, y().size(),
                                    projected, use_gain);
  }

  Matrix<double> initial(const Matrix<double>& f0, Index rows, std::string_view what) const {
    if (f0.size() == 0) return Matrix<double>::Zero(rows, y().cols());
    detail::require_all_finite(kFunction, what, f0);
    if (f0.rows() != rows || f0.cols() != y().cols()) {
      detail::fail(kFunction, std::string(what) + " is " + std::to_string(f0.rows()) + "×" +
                                  std::to_string(f0.cols()) + " but the outputs are " +
                                  std::to_string(rows) + "×" + std::to_string(y().cols()));
    }
    return f0;
  }

  double learning_rate_;
  std::shared_ptr<const detail::FlowState<S>> state_;
};

using GradientDescentMse = BasicGradientDescentMse<>;

/// Predictions of gradient-flow training on the MSE with kernel `k_train_train` (usually the
/// NTK) and targets `y_train` (N_train × outputs; the kernel acts on every output column alike).
template <class D1, class D2>
BasicGradientDescentMse<> gradient_descent_mse(const Eigen::MatrixBase<D1>& k_train_train,
                                               const Eigen::MatrixBase<D2>& y_train,
                                               const MseOptions& options = {}) {
  return BasicGradientDescentMse<>(k_train_train, y_train, options);
}

/// The same taking the kernel over, with no copy: the predictor factorises it in its own storage
/// (the Cholesky route needs no other N × N matrix; the eigendecomposition, LAPACK's workspace).
template <class D2>
BasicGradientDescentMse<> gradient_descent_mse(Matrix<double>&& k_train_train,
                                               const Eigen::MatrixBase<D2>& y_train,
                                               const MseOptions& options = {}) {
  return BasicGradientDescentMse<>(std::move(k_train_train), y_train, options);
}

/// The largest learning rate for which full-batch gradient descent on the MSE converges,
/// 2·(1 + momentum)·n/(λ_max + eps), n = `y_train_size` (default: the kernel's side), as
/// neural-tangents' `max_learning_rate`. Throws for a kernel that is not positive semidefinite
/// beyond rounding (−I would give −6), since no learning rate makes its negative modes stable.
template <class Derived>
double max_learning_rate(const Eigen::MatrixBase<Derived>& ntk_train_train, Index y_train_size = 0,
                         double momentum = 0.0, double eps = 1e-12) {
  constexpr std::string_view function = "max_learning_rate";
  detail::require_symmetric(function, "ntk_train_train", ntk_train_train);
  if (y_train_size < 0) {
    detail::fail(function,
                 "y_train_size must be non-negative, got " + std::to_string(y_train_size));
  }
  if (!(momentum >= 0) || !(momentum < 1)) {
    detail::fail(function, "momentum must be in [0, 1), got " + detail::show(momentum));
  }
  Eigen::VectorXd values;
  detail::symmetric_eigen(ntk_train_train, values, nullptr);
  // A kernel with negative eigenvalues (−I gave −6) has no stable learning rate.
  const Index m = ntk_train_train.rows();
  detail::require_positive_semidefinite(function, "ntk_train_train", values,
                                        detail::relative_cutoff(function, 0, m), std::nullopt);
  const double n = static_cast<double>(y_train_size > 0 ? y_train_size : m);
  return 2 * (1 + momentum) * n / (values.maxCoeff() + eps);
}

}  // namespace TANGENT_SOLVER_ABI
}  // namespace tangent
