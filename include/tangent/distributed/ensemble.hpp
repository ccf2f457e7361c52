#pragma once
/// @file
/// `distributed::gradient_descent_mse_ensemble`: the mean and covariance of the outputs of the
/// infinite ensemble of networks trained by gradient flow on the MSE
/// (tangent::gradient_descent_mse_ensemble, formulas in predict/posterior.hpp) from train-train
/// NNGP and NTK spread over a process grid, at any times: NNGP mode (only the readout trains) and
/// NTK mode (every layer trains), on test points and on the training set.
///
/// One distributed eigendecomposition per kernel (pdsyevd, on first use) serves every time. As on
/// one process, NTK-mode means at t = ∞ alone take the Cholesky route (pdpotrf) while the NTK is
/// not yet decomposed; the NNGP is always decomposed, since the NTK-mode covariances need K_dd
/// whole and a Cholesky factor would take its upper triangle (pdsyevd takes only the lower one).
/// Means are replicated (N × outputs, every process the same bits); covariances are
/// N_test × N_test or N × N and stay distributed, made by PBLAS products (pblas.hpp). The
/// NTK-mode covariances need the NNGP in the NTK's eigenbasis, Vᵀ·K_dd·V, computed once (two
/// N³ products).
///
/// Memory per process, in shares of N × N matrices: held, the two kernels, one eigenvector matrix
/// per mode used and, for NTK-mode covariances, Vᵀ·K_dd·V; while a call runs, pdsyevd's
/// workspace or up to four products of the size of the covariance asked for (N_test × N for test
/// covariances, N × N for the training set's).

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tangent/distributed/agreement.hpp"
#include "tangent/distributed/gradient_descent_mse.hpp"
#include "tangent/distributed/kernels.hpp"
#include "tangent/distributed/matrix.hpp"
#include "tangent/distributed/pblas.hpp"
#include "tangent/predict/gradient_flow.hpp"
#include "tangent/predict/posterior.hpp"

namespace tangent::distributed {

/// A Gaussian over the outputs of a grid's processes: the mean (N × outputs) replicated, the
/// covariance (N × N, shared by every output column) distributed, absent when not asked for.
struct GaussianPrediction {
  Matrix<double> mean;
  std::optional<BlockCyclicMatrix> covariance;
};

/// One Gaussian per mode; modes not asked for stay empty.
struct Posterior {
  GaussianPrediction nngp;
  GaussianPrediction ntk;
};

/// The predictor of `distributed::gradient_descent_mse_ensemble`. Every call is collective.
class GradientDescentMseEnsemble {
 public:
  GradientDescentMseEnsemble(Kernels&& k_train_train, const Matrix<double>& y_train,
                             const MseOptions& options)
      : nngp_(std::move(k_train_train.nngp), y_train, options, kFunction, "k_train_train.nngp",
              false),
        ntk_(std::move(k_train_train.ntk), y_train, options, kFunction, "k_train_train.ntk", true) {
    // Each kernel was checked against y_train, so both are N × N.
    detail::require_same_grid(kFunction, "k_train_train.ntk", ntk_.kernel_, nngp_.kernel_);
    // Both kernels of one distributed::kernels call share a tile side; others are brought to it.
    std::optional<BlockCyclicMatrix> relaid;
    detail::in_blocks(ntk_.kernel_, nngp_.kernel_.block(), relaid);
    if (relaid) ntk_.kernel_ = std::move(*relaid);
  }

  /// Test means of the modes in `get` at time t (`infinite_time` allowed), from the test-train
  /// kernels (N_test × N; the NNGP for Get::nngp, the NTK for Get::ntk).
  Posterior predict(double t, const Kernels& k_test_train, Get get = Get::nngp | Get::ntk) {
    return std::move(predict(std::span<const double>(&t, 1), k_test_train, get).front());
  }
  /// Means and covariances: these also need the test-test NNGP (N_test × N_test, symmetric, e.g.
  /// `distributed::nngp(net, x_test, grid)`); Get::ntk's need both test-train kernels.
  Posterior predict(double t, const Kernels& k_test_train, const BlockCyclicMatrix& nngp_test_test,
                    Get get = Get::nngp | Get::ntk) {
    return std::move(
        predict(std::span<const double>(&t, 1), k_test_train, nngp_test_test, get).front());
  }
  /// Test means at several times (the same on every process); the products with the test
  /// kernels are made once for all of them.
  std::vector<Posterior> predict(std::span<const double> times, const Kernels& k_test_train,
                                 Get get = Get::nngp | Get::ntk) {
    return predict_impl(times, k_test_train, nullptr, get);
  }
  /// Test means and covariances at several times.
  std::vector<Posterior> predict(std::span<const double> times, const Kernels& k_test_train,
                                 const BlockCyclicMatrix& nngp_test_test,
                                 Get get = Get::nngp | Get::ntk) {
    return predict_impl(times, k_test_train, &nngp_test_test, get);
  }

  /// The ensemble's outputs on the training inputs at time t: means, and with `compute_cov` the
  /// N × N covariances.
  Posterior predict_train(double t, Get get = Get::nngp | Get::ntk, bool compute_cov = false) {
    return std::move(predict_train(std::span<const double>(&t, 1), get, compute_cov).front());
  }
  /// The same at several times (the same on every process).
  std::vector<Posterior> predict_train(std::span<const double> times,
                                       Get get = Get::nngp | Get::ntk, bool compute_cov = false) {
    require_same_request(get, compute_cov);
    std::vector<Posterior> out(times.size());
    for (const Get mode : {Get::nngp, Get::ntk}) {
      if (!has(get, mode)) continue;
      GradientDescentMse& flow = this->flow(mode);
      // Covariances need the eigendecomposition: the means then come from it too.
      if (compute_cov) flow.eigendecomposition();
      std::vector<Matrix<double>> means = flow.train(times);  // checks the times
      for (std::size_t i = 0; i < times.size(); ++i) slot(out[i], mode).mean = std::move(means[i]);
      if (!compute_cov) continue;
      const Spectrum& spectrum = flow.eigendecomposition();
      const BlockCyclicMatrix& v = *flow.vectors_;
      for (std::size_t i = 0; i < times.size(); ++i) {
        const Eigen::VectorXd d = tangent::detail::decay(spectrum, flow_time(times[i]));
        BlockCyclicMatrix cov = [&] {
          if (mode == Get::ntk) {
            // E·K_dd·E with E = V·diag(decay)·Vᵀ: (V·diag(decay))·R·(V·diag(decay))ᵀ.
            const BlockCyclicMatrix vd = detail::scaled_columns(v, d);
            return detail::product(detail::product(vd, "N", nngp_in_ntk_basis(), "N"), "N", vd,
                                   "T");
          }
          // V·diag(λ·e^{−2λs})·Vᵀ (modes below the cutoff carry nothing).
          Eigen::VectorXd w(d.size());
          for (Index j = 0; j < d.size(); ++j) {
            w[j] = spectrum.kept(j) ? spectrum.values[j] * d[j] * d[j] : 0.0;
          }
          return detail::product(detail::scaled_columns(v, w), "N", v, "T");
        }();
        detail::symmetrise(cov);
        slot(out[i], mode).covariance = std::move(cov);
      }
    }
    return out;
  }

  /// The eigenvalues of the regularised train-train kernel of `mode` (Get::nngp or Get::ntk).
  const Spectrum& spectrum(Get mode) {
    require_same_request(mode, false);
    detail::agreed(nngp_.kernel_.grid().comm(), [&] {
      if (mode == (Get::nngp | Get::ntk)) {
        tangent::detail::fail(kFunction, "spectrum takes one mode, Get::nngp or Get::ntk");
      }
    });
    return flow(mode).spectrum();
  }

 private:
  static constexpr std::string_view kFunction = "distributed::gradient_descent_mse_ensemble";

  GradientDescentMse& flow(Get mode) { return mode == Get::nngp ? nngp_ : ntk_; }
  static GaussianPrediction& slot(Posterior& p, Get mode) {
    return mode == Get::nngp ? p.nngp : p.ntk;
  }

  /// Every process must ask for the same modes and the same covariances: each takes its
  /// collective calls from them.
  void require_same_request(Get get, bool covariances) const {
    const Eigen::Vector2d request(static_cast<double>(static_cast<unsigned>(get)),
                                  covariances ? 1.0 : 0.0);
    detail::require_replicated(
        nngp_.kernel_.grid(), kFunction, "get (with the covariances asked)", request,
        [&](const auto&) { tangent::detail::require_get(kFunction, get, false); });
  }

  /// Every process must pass test kernels of the same sizes (their descriptors meet in PBLAS).
  void require_same_size(std::string_view what, const BlockCyclicMatrix& k) const {
    const Eigen::Vector2d size(static_cast<double>(k.rows()), static_cast<double>(k.cols()));
    detail::require_replicated(nngp_.kernel_.grid(), kFunction, std::string(what) + "'s size", size,
                               [](const auto&) {});
  }

  double flow_time(double t) const {
    return tangent::detail::flow_time(kFunction, t, ntk_.learning_rate_, ntk_.y_.size());
  }

  /// Checks a test kernel on every process: its grid, its shape, its entries.
  void require_test_kernel(std::string_view what, const BlockCyclicMatrix& k, Index rows,
                           Index cols) const {
    detail::require_same_grid(kFunction, what, k, nngp_.kernel_);
    detail::agreed(nngp_.kernel_.grid().comm(), [&] {
      if (k.rows() != rows || k.cols() != cols) {
        tangent::detail::fail(kFunction, std::string(what) + " is " + std::to_string(k.rows()) +
                                             " × " + std::to_string(k.cols()) + " but must be " +
                                             std::to_string(rows) + " × " + std::to_string(cols));
      }
      tangent::detail::require_all_finite(kFunction, what, k.local());
    });
  }

  std::vector<Posterior> predict_impl(std::span<const double> times, const Kernels& k_td,
                                      const BlockCyclicMatrix* k_tt, Get get) {
    const bool cov = k_tt != nullptr;
    require_same_request(get, cov);
    const bool need_nngp = has(get, Get::nngp) || cov;
    if (need_nngp) require_same_size("k_test_train.nngp", k_td.nngp);
    if (has(get, Get::ntk)) require_same_size("k_test_train.ntk", k_td.ntk);
    if (cov) require_same_size("nngp_test_test", *k_tt);
    const Index train = nngp_.kernel_.rows();
    // The test set's size from the kernel the first mode reads.
    const Index test = need_nngp ? k_td.nngp.rows() : k_td.ntk.rows();
    if (need_nngp) require_test_kernel("k_test_train.nngp", k_td.nngp, test, train);
    if (has(get, Get::ntk)) require_test_kernel("k_test_train.ntk", k_td.ntk, test, train);
    if (cov) {
      require_test_kernel("nngp_test_test", *k_tt, test, test);
      detail::require_symmetric(kFunction, "nngp_test_test", *k_tt,
                                "distributed::nngp(net, x_test, grid)");
    }
    std::vector<Posterior> out(times.size());
    for (const Get mode : {Get::nngp, Get::ntk}) {
      if (!has(get, mode)) continue;
      GradientDescentMse& flow = this->flow(mode);
      if (cov) flow.eigendecomposition();  // the covariances' route serves the means too
      std::vector<Matrix<double>> means =
          flow.test(times, mode == Get::nngp ? k_td.nngp : k_td.ntk);  // checks the times
      for (std::size_t i = 0; i < times.size(); ++i) slot(out[i], mode).mean = std::move(means[i]);
      if (!cov) continue;
      const Spectrum& spectrum = flow.eigendecomposition();
      const BlockCyclicMatrix& v = *flow.vectors_;
      // The test kernels in the train-train kernels' blocks, for PBLAS.
      const Index block = v.block();
      std::array<std::optional<BlockCyclicMatrix>, 3> relaid;
      const BlockCyclicMatrix& own_td =
          detail::in_blocks(mode == Get::nngp ? k_td.nngp : k_td.ntk, block, relaid[0]);
      const BlockCyclicMatrix& k_tt_here = detail::in_blocks(*k_tt, block, relaid[1]);
      const BlockCyclicMatrix own_td_v = detail::product(own_td, "N", v, "N");  // K_*d·V or Θ_*d·V
      // K_*d·V_Θ, for the NTK-mode covariance.
      std::optional<BlockCyclicMatrix> nngp_td_v;
      if (mode == Get::ntk) {
        nngp_td_v = detail::product(detail::in_blocks(k_td.nngp, block, relaid[2]), "N", v, "N");
      }
      for (std::size_t i = 0; i < times.size(); ++i) {
        const double s = flow_time(times[i]);
        BlockCyclicMatrix c = k_tt_here;
        if (mode == Get::ntk) {
          // K_** + Θ_*d·M·K_dd·M·Θ_d* − (Θ_*d·M·K_d* + K_*d·M·Θ_d*), M in the eigenbasis.
          const BlockCyclicMatrix theta_m =
              detail::scaled_columns(own_td_v, tangent::detail::gain(spectrum, s));
          const BlockCyclicMatrix theta_m_r =
              detail::product(theta_m, "N", nngp_in_ntk_basis(), "N");
          detail::multiply_into(theta_m_r, "N", theta_m, "T", 1.0, 1.0, c);
          detail::multiply_into(theta_m, "N", *nngp_td_v, "T", -1.0, 1.0, c);
          detail::multiply_into(*nngp_td_v, "N", theta_m, "T", -1.0, 1.0, c);
        } else {
          // K_** − K_*d·V·diag(gain(2s))·Vᵀ·K_d*: the variance relaxes twice as fast.
          const BlockCyclicMatrix scaled =
              detail::scaled_columns(own_td_v, tangent::detail::gain(spectrum, 2 * s));
          detail::multiply_into(scaled, "N", own_td_v, "T", -1.0, 1.0, c);
        }
        detail::symmetrise(c);
        slot(out[i], mode).covariance = std::move(c);
      }
    }
    return out;
  }

  /// Vᵀ·K_dd·V, K_dd the unregularised train-train NNGP and V the NTK's eigenvectors; once.
  const BlockCyclicMatrix& nngp_in_ntk_basis() {
    if (!rotated_) {
      ntk_.eigendecomposition();
      const BlockCyclicMatrix& v = *ntk_.vectors_;
      rotated_.emplace(detail::product(v, "T", nngp_.kernel_times(v), "N"));
    }
    return *rotated_;
  }

  GradientDescentMse nngp_;
  GradientDescentMse ntk_;
  std::optional<BlockCyclicMatrix> rotated_;
};

/// The ensemble of networks trained by gradient flow on the MSE with the distributed train-train
/// kernels `k_train_train` (both NNGP and NTK, as `distributed::kernels` makes them; taken over)
/// and targets `y_train` (N × outputs, the same on every process). Collective.
inline GradientDescentMseEnsemble gradient_descent_mse_ensemble(Kernels&& k_train_train,
                                                                const Matrix<double>& y_train,
                                                                const MseOptions& options = {}) {
  return GradientDescentMseEnsemble(std::move(k_train_train), y_train, options);
}

}  // namespace tangent::distributed
