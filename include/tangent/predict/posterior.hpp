#pragma once
/// @file
/// Mean and covariance of the outputs of an infinite ensemble of networks trained by gradient
/// flow on the MSE (Lee et al. 2019, §2.3–2.4; neural-tangents' `gradient_descent_mse_ensemble`
/// and `gp_inference`), written in the eigenbasis of the regularised train-train kernel so that
/// one decomposition serves every time. Notation: K the NNGP, Θ the NTK, d the training set,
/// * the test set, K̃/Θ̃ regularised, s = η·t/n, and decay/gain as in gradient_flow.hpp; with
/// M = V·diag(gain)·Vᵀ (= K̃⁺ or Θ̃⁺ at t = ∞):
///   NNGP mode (only the readout trains): mean_* = K_*d·M·y,
///     cov_* = K_** − K_*d·V·diag(gain(2s))·Vᵀ·K_d*,   cov_d = V·diag(λ·e^{−2λs})·Vᵀ;
///   NTK mode (every layer trains): mean_* = Θ_*d·M·y,
///     cov_* = K_** + Θ_*d·M·K_dd·M·Θ_d* − (Θ_*d·M·K_d* + K_*d·M·Θ_d*),
///     cov_d = E·K_dd·E with E = V·diag(decay)·Vᵀ;
///   NTK-GP (He et al. 2020), t = ∞ only: mean as NTK, cov_* = Θ_** − Θ_*d·Θ̃⁺·Θ_d*;
///   training-set means V·diag(1 − decay)·Vᵀ·y in every mode.
/// K_dd is never regularised, as in neural-tangents; the NNGP-mode training covariance, however,
/// is built from K̃'s eigenvalues, so at t = 0 it is K̃, not K (neural-tangents' behaviour).

#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/gram.hpp"
#include "tangent/predict/gradient_flow.hpp"
#include "tangent/predict/spectrum.hpp"

namespace tangent {

/// Which Gaussian processes to predict; combine with `|`.
enum class Get : unsigned {
  nngp = 1,   ///< the NNGP posterior / only the readout layer trained
  ntk = 2,    ///< the ensemble of networks with every layer trained (NTK dynamics)
  ntkgp = 4,  ///< the NTK-GP of He et al. 2020 (`gp_inference` only)
};
constexpr Get operator|(Get a, Get b) {
  return static_cast<Get>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr bool has(Get set, Get one) {
  return (static_cast<unsigned>(set) & static_cast<unsigned>(one)) != 0;
}

/// A Gaussian over the outputs: `mean` is N × outputs; `covariance` is N × N, shared by every
/// output column (the kernel acts on them alike), and empty when not asked for.
struct GaussianPrediction {
  Matrix<double> mean;
  Matrix<double> covariance;
};

/// One Gaussian per mode; modes not asked for stay empty.
struct Posterior {
  GaussianPrediction nngp;
  GaussianPrediction ntk;
  GaussianPrediction ntkgp;
};

namespace detail {
inline namespace TANGENT_SOLVER_ABI {

inline void require_get(std::string_view function, Get get, bool allow_ntkgp) {
  const unsigned bits = static_cast<unsigned>(get);
  const unsigned allowed = allow_ntkgp ? 7u : 3u;
  if (bits == 0 || (bits & ~allowed) != 0) {
    fail(function, allow_ntkgp ? "get must combine Get::nngp, Get::ntk and Get::ntkgp"
                               : "get must be Get::nngp, Get::ntk or both (Get::ntkgp is "
                                 "gp_inference's)");
  }
}

/// The train-train kernels, their lazily computed spectra, and y: everything a posterior at any
/// time needs besides the test kernels. Shared between copies of a predictor; the spectra are
/// computed once, on first use, even when several threads ask at once.
template <class S = double>
class FlowState {
  static_assert(std::is_same_v<S, double>, "TANGENT: PREDICTIONS ARE COMPUTED IN double.");

 public:
  FlowState(std::string_view function, Kernels k_train_train, Matrix<double> y, double diag_reg,
            bool absolute, double cutoff)
      : function_(function),
        k_(std::move(k_train_train)),
        y_(std::move(y)),
        diag_reg_(diag_reg),
        absolute_(absolute),
        cutoff_(cutoff) {
    const Index n = k_.nngp.size() > 0 ? k_.nngp.rows() : k_.ntk.rows();
    if (k_.nngp.size() == 0 && k_.ntk.size() == 0) fail(function_, "k_train_train is empty");
    if (k_.nngp.size() > 0) require_symmetric(function_, "k_train_train.nngp", k_.nngp);
    if (k_.ntk.size() > 0) require_symmetric(function_, "k_train_train.ntk", k_.ntk);
    if (k_.nngp.size() > 0 && k_.ntk.size() > 0 && k_.nngp.rows() != k_.ntk.rows()) {
      fail(function_, "k_train_train.nngp and .ntk have different sizes");
    }
    require_all_finite(function_, "y_train", y_);
    if (y_.rows() != n) {
      fail(function_, "y_train has " + std::to_string(y_.rows()) + " rows but the train-train " +
                          "kernel is " + std::to_string(n) + "×" + std::to_string(n));
    }
    if (y_.cols() == 0) fail(function_, "y_train has no columns");
    // Check the regulariser now rather than at the first prediction.
    regulariser(function_, k_.nngp.size() > 0 ? k_.nngp : k_.ntk, diag_reg_, absolute_);
  }

  std::string_view function() const { return function_; }
  const Kernels& kernels() const { return k_; }
  const Matrix<double>& y() const { return y_; }
  Index training_size() const { return y_.rows(); }

  const Matrix<double>& kernel(Get mode) const {
    const Matrix<double>& k = mode == Get::nngp ? k_.nngp : k_.ntk;
    if (k.size() == 0) {
      fail(function_, std::string("this prediction needs the train-train ") +
                          (mode == Get::nngp ? "NNGP" : "NTK") + ", which was not given");
    }
    return k;
  }

  const Spectrum& spectrum(Get mode) const {
    const std::size_t i = mode == Get::nngp ? 0 : 1;
    const Matrix<double>& k = kernel(mode);
    std::call_once(once_[i], [&] {
      spectra_[i] = regularized_spectrum(function_, k, diag_reg_, absolute_, cutoff_);
    });
    return spectra_[i];
  }

  /// Vᵀ·K_dd·V: the unregularised train-train NNGP in the NTK's eigenbasis, which the NTK-mode
  /// covariances need at every time; computed once (2N³), on first use.
  const Matrix<double>& nngp_in_ntk_basis() const {
    const Spectrum& basis = spectrum(Get::ntk);
    const Matrix<double>& k = kernel(Get::nngp);
    std::call_once(once_rotated_,
                   [&] { rotated_ = basis.vectors.transpose() * k * basis.vectors; });
    return rotated_;
  }

 private:
  std::string_view function_;
  Kernels k_;
  Matrix<double> y_;
  double diag_reg_;
  bool absolute_;
  double cutoff_;
  mutable std::once_flag once_[2];
  mutable Spectrum spectra_[2];
  mutable std::once_flag once_rotated_;
  mutable Matrix<double> rotated_;
};

/// Test-set posterior of one mode at the flow times `s` (∞ allowed), from the test-train
/// kernels `k_td` (NNGP and/or NTK) and, for covariances, the test-test kernel `k_tt` (the NNGP,
/// or the NTK for NTK-GP; empty: means only).
template <class S>
std::vector<GaussianPrediction> test_posterior(const FlowState<S>& state, Get mode,
                                               std::span<const double> s, const Kernels& k_td,
                                               const Matrix<double>& k_tt) {
  const Get basis = mode == Get::nngp ? Get::nngp : Get::ntk;
  const Spectrum& spectrum = state.spectrum(basis);
  const Matrix<double>& own_td = basis == Get::nngp ? k_td.nngp : k_td.ntk;
  const Matrix<double> projected_y = spectrum.vectors.transpose() * state.y();
  const Matrix<double> own_td_v = own_td * spectrum.vectors;  // K_*d·V or Θ_*d·V
  const bool with_cov = k_tt.size() > 0;
  Matrix<double> nngp_td_v;  // K_*d·V_Θ, for the NTK-mode covariance
  if (with_cov && mode == Get::ntk) nngp_td_v = k_td.nngp * spectrum.vectors;
  std::vector<GaussianPrediction> out(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const Eigen::VectorXd g = gain(spectrum, s[i]);
    out[i].mean = own_td_v * (g.asDiagonal() * projected_y);
    if (!with_cov) continue;
    if (mode == Get::ntk) {
      const Matrix<double> theta_m = own_td_v * g.asDiagonal();      // Θ_*d·M in the eigenbasis
      const Matrix<double> cross = theta_m * nngp_td_v.transpose();  // Θ_*d·M·K_d*
      out[i].covariance = k_tt + theta_m * state.nngp_in_ntk_basis() * theta_m.transpose() - cross -
                          cross.transpose();
    } else {
      // NNGP: gain at 2s (variance relaxes twice as fast); NTK-GP: t = ∞ only, gain = 1/λ.
      const Eigen::VectorXd g2 = mode == Get::nngp ? gain(spectrum, 2 * s[i]) : g;
      out[i].covariance = k_tt - own_td_v * g2.asDiagonal() * own_td_v.transpose();
    }
    out[i].covariance = 0.5 * (out[i].covariance + out[i].covariance.transpose()).eval();
  }
  return out;
}

/// Training-set posterior of one mode (NNGP or NTK) at the flow times `s`.
template <class S>
std::vector<GaussianPrediction> train_posterior(const FlowState<S>& state, Get mode,
                                                std::span<const double> s, bool with_cov) {
  const Spectrum& spectrum = state.spectrum(mode);
  const Matrix<double> projected_y = spectrum.vectors.transpose() * state.y();
  std::vector<GaussianPrediction> out(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const Eigen::VectorXd d = decay(spectrum, s[i]);
    out[i].mean = in_eigenbasis(spectrum, -moved(spectrum, s[i]), projected_y);
    if (!with_cov) continue;
    if (mode == Get::ntk) {
      const Matrix<double> vd = spectrum.vectors * d.asDiagonal();
      out[i].covariance = vd * state.nngp_in_ntk_basis() * vd.transpose();
    } else {
      Eigen::VectorXd w(d.size());
      for (Index j = 0; j < d.size(); ++j) {
        w[j] = spectrum.kept(j) ? spectrum.values[j] * d[j] * d[j] : 0.0;
      }
      out[i].covariance = spectrum.vectors * w.asDiagonal() * spectrum.vectors.transpose();
    }
    out[i].covariance = 0.5 * (out[i].covariance + out[i].covariance.transpose()).eval();
  }
  return out;
}

template <class Derived>
void require_test_kernel(std::string_view function, std::string_view what,
                         const Eigen::MatrixBase<Derived>& k, Index rows, Index cols) {
  if (k.size() == 0) fail(function, std::string(what) + " is needed but empty");
  require_all_finite(function, what, k);
  if (k.rows() != rows || k.cols() != cols) {
    fail(function, std::string(what) + " is " + std::to_string(k.rows()) + "×" +
                       std::to_string(k.cols()) + " but must be " + std::to_string(rows) + "×" +
                       std::to_string(cols));
  }
}

}  // namespace TANGENT_SOLVER_ABI
}  // namespace detail
}  // namespace tangent
