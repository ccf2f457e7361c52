#pragma once
/// @file
/// Exact posterior inference at t = ∞ from given kernels (neural-tangents' `gp_inference`):
/// the NNGP posterior, the NTK ensemble's distribution after infinite training, and the NTK-GP.
/// Formulas in posterior.hpp. Solves go through a Cholesky factor where the kernel is safely
/// positive definite (cholesky.hpp), else through the pseudoinverse (spectrum.hpp), so singular
/// kernels give minimum-norm answers.

#include <memory>
#include <string>
#include <string_view>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/gram.hpp"
#include "tangent/predict/gradient_flow.hpp"
#include "tangent/predict/posterior.hpp"
#include "tangent/predict/spectrum.hpp"

namespace tangent {
inline namespace TANGENT_SOLVER_ABI {

/// Options of `gp_inference`, as in neural-tangents.
struct GpOptions {
  double diag_reg = 0.0;                 ///< r = diag_reg·tr(K)/m added to the diagonal
  bool diag_reg_absolute_scale = false;  ///< r = diag_reg itself
  /// Eigenvalues ≤ eigenvalue_cutoff·λ_max count as zero; 0 means m·ε for an m × m kernel.
  double eigenvalue_cutoff = 0.0;
};

/// The predictor returned by `gp_inference` (a template only so that its code is compiled where
/// it is used; S is double).
template <class S = double>
class BasicGpInference {
 public:
  BasicGpInference(Kernels k_train_train, const Matrix<double>& y_train, const GpOptions& o)
      : state_(std::make_shared<const detail::FlowState<S>>(
            kFunction, std::move(k_train_train), y_train, o.diag_reg, o.diag_reg_absolute_scale,
            o.eigenvalue_cutoff)) {}

  /// The same inference with another `diag_reg` (same scale convention), sharing this
  /// predictor's eigendecompositions: a sweep over ridges costs one decomposition per kernel, and
  /// each ridge's predictions a few products.
  BasicGpInference with_diag_reg(double diag_reg) const {
    BasicGpInference other = *this;
    other.state_ = std::make_shared<const detail::FlowState<S>>(state_->with_diag_reg(diag_reg));
    return other;
  }

  /// Posterior means on the test set, from the test-train kernels (N_test × N_train; the NNGP
  /// for Get::nngp, the NTK for Get::ntk and Get::ntkgp).
  Posterior predict(const Kernels& k_test_train, Get get = Get::nngp | Get::ntk) const {
    return predict_impl(k_test_train, nullptr, get);
  }
  /// Means and covariances: the covariances also need the test-test NNGP (Get::nngp, Get::ntk)
  /// or NTK (Get::ntkgp), and Get::ntk needs the NNGP train-train and test-train kernels too.
  /// Test-test kernels must be symmetric, as train-train kernels.
  Posterior predict(const Kernels& k_test_train, const Kernels& k_test_test,
                    Get get = Get::nngp | Get::ntk) const {
    return predict_impl(k_test_train, &k_test_test, get);
  }

 private:
  static constexpr std::string_view kFunction = "gp_inference";

  Posterior predict_impl(const Kernels& k_td, const Kernels* k_tt, Get get) const {
    detail::require_get(kFunction, get, true);
    const Index train = state_->training_size();
    const Index test = k_td.nngp.size() > 0 ? k_td.nngp.rows() : k_td.ntk.rows();
    const bool cov = k_tt != nullptr;
    const bool need_nngp = has(get, Get::nngp) || (cov && has(get, Get::ntk));
    const bool need_ntk = has(get, Get::ntk) || has(get, Get::ntkgp);
    if (need_nngp) {
      detail::require_test_kernel(kFunction, "k_test_train.nngp", k_td.nngp, test, train);
    }
    if (need_ntk) detail::require_test_kernel(kFunction, "k_test_train.ntk", k_td.ntk, test, train);
    if (cov && (has(get, Get::nngp) || has(get, Get::ntk))) {
      detail::require_test_test_kernel(kFunction, "k_test_test.nngp", k_tt->nngp, test,
                                       "nngp(net, x_test)");
    }
    if (cov && has(get, Get::ntkgp)) {
      detail::require_test_test_kernel(kFunction, "k_test_test.ntk", k_tt->ntk, test,
                                       "ntk(net, x_test)");
    }
    const double s = infinite_time;
    const std::span<const double> at_infinity(&s, 1);
    const Matrix<double> none;
    Posterior out;
    if (has(get, Get::nngp)) {
      out.nngp =
          detail::test_posterior(*state_, Get::nngp, at_infinity, k_td, cov ? k_tt->nngp : none)[0];
    }
    if (has(get, Get::ntk)) {
      out.ntk =
          detail::test_posterior(*state_, Get::ntk, at_infinity, k_td, cov ? k_tt->nngp : none)[0];
    }
    if (has(get, Get::ntkgp)) {
      out.ntkgp =
          detail::test_posterior(*state_, Get::ntkgp, at_infinity, k_td, cov ? k_tt->ntk : none)[0];
    }
    return out;
  }

  std::shared_ptr<const detail::FlowState<S>> state_;
};

/// Bayesian inference with the kernels `k_train_train` (NNGP and/or NTK, as the modes asked for
/// later need) and targets `y_train` (N_train × outputs).
template <class Derived>
BasicGpInference<> gp_inference(const Kernels& k_train_train,
                                const Eigen::MatrixBase<Derived>& y_train,
                                const GpOptions& options = {}) {
  return BasicGpInference<>(k_train_train, y_train, options);
}

/// The same taking the kernels over (no copy of them is made).
template <class Derived>
BasicGpInference<> gp_inference(Kernels&& k_train_train, const Eigen::MatrixBase<Derived>& y_train,
                                const GpOptions& options = {}) {
  return BasicGpInference<>(std::move(k_train_train), y_train, options);
}

using GpInference = BasicGpInference<>;

}  // namespace TANGENT_SOLVER_ABI
}  // namespace tangent
