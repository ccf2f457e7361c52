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

#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/gram.hpp"
#include "tangent/core/memory.hpp"
#include "tangent/predict/cholesky.hpp"
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

/// What a predictor and the predictors made from it by `with_diag_reg` share: the train-train
/// kernels, y, the factorisations of K + r₀·I (r₀ the first predictor's regulariser; only the
/// first predictor uses the Cholesky factor, a sweep the eigendecompositions) and the NNGP in the
/// NTK's eigenbasis. One recursive mutex guards every lazily computed member of the family, so
/// first uses by several threads run one after another.
struct FlowData {
  std::string_view function;
  Kernels k;
  Matrix<double> y;
  double diag_reg;
  bool absolute;
  double relative_cutoff;
  /// Whether the kernels are read only as the input of their own factorisations
  /// (gradient_descent_mse), which then work in their storage: no second N × N matrix.
  bool release_kernels;
  double mean_diagonal[2] = {0, 0};     ///< tr(K)/m of the NNGP and the NTK, for relative ridges
  double largest_diagonal[2] = {0, 0};  ///< their largest diagonal entries, for overflow checks
  std::string_view name[2];  ///< the kernels' names in messages, as the caller passed them
  std::recursive_mutex mutex;
  std::optional<Spectrum> base[2];
  /// The Cholesky factors (null inside: the route was refused). A released kernel lives in its
  /// factor's storage, K in the strict upper triangle and its diagonal in `diagonal`.
  std::optional<std::shared_ptr<CholeskyFactor>> factor[2];
  Eigen::VectorXd diagonal[2];
  /// The stored kernel's storage was handed to a factorisation (released kernels only).
  bool handed_over[2] = {false, false};
  std::optional<Matrix<double>> rotated;
};

/// The train-train kernels, y, and the factorisations of the regularised kernels that every
/// prediction is made from, computed on first use: the Cholesky factor for predictions at t = ∞
/// (cholesky.hpp), the eigendecomposition for finite times and for kernels the Cholesky route
/// does not take. Safe to share between threads.
template <class S = double>
class FlowState {
  static_assert(std::is_same_v<S, double>, "TANGENT: PREDICTIONS ARE COMPUTED IN double.");

 public:
  FlowState(std::string_view function, Kernels k_train_train, Matrix<double> y, double diag_reg,
            bool absolute, double cutoff, bool release_kernels = false)
      : data_(std::make_shared<FlowData>()) {
    FlowData& d = *data_;
    d.function = function;
    d.k = std::move(k_train_train);
    d.y = std::move(y);
    d.diag_reg = diag_reg;
    d.absolute = absolute;
    d.release_kernels = release_kernels;
    const Kernels& k = d.k;
    const Index n = k.nngp.size() > 0 ? k.nngp.rows() : k.ntk.rows();
    if (k.nngp.size() == 0 && k.ntk.size() == 0) fail(function, "k_train_train is empty");
    // Named as the caller passed them: one kernel alone is "k_train_train".
    const bool both = k.nngp.size() > 0 && k.ntk.size() > 0;
    d.name[0] = both ? "k_train_train.nngp" : "k_train_train";
    d.name[1] = both ? "k_train_train.ntk" : "k_train_train";
    if (k.nngp.size() > 0) require_symmetric(function, d.name[0], k.nngp);
    if (k.ntk.size() > 0) require_symmetric(function, d.name[1], k.ntk);
    if (k.nngp.size() > 0 && k.ntk.size() > 0 && k.nngp.rows() != k.ntk.rows()) {
      fail(function, "k_train_train.nngp and .ntk have different sizes");
    }
    require_all_finite(function, "y_train", d.y);
    if (d.y.rows() != n) {
      fail(function, "y_train has " + std::to_string(d.y.rows()) + " rows but the train-train " +
                         "kernel is " + std::to_string(n) + "×" + std::to_string(n));
    }
    if (d.y.cols() == 0) fail(function, "y_train has no columns");
    d.relative_cutoff = relative_cutoff(function, cutoff, n);
    for (const Get mode : {Get::nngp, Get::ntk}) {
      const Matrix<double>& m = mode == Get::nngp ? k.nngp : k.ntk;
      if (m.size() == 0) continue;
      const std::size_t i = index(mode);
      // O(N) checks on the diagonal: a negative-definite kernel would get a negative relative
      // ridge, a subnormal one NaN predictions.
      require_nonnegative_diagonal(function, d.name[i], m.diagonal(), d.relative_cutoff);
      require_kernel_scale(function, d.name[i], m.diagonal());
      d.mean_diagonal[i] = mean_diagonal(m.diagonal());
      d.largest_diagonal[i] = m.diagonal().maxCoeff();
      ridge_[i] = ridge_for(i, diag_reg);  // checks diag_reg
    }
  }

  // Copies would share the lazily filled caches without their lock; a state moves.
  FlowState(const FlowState&) = delete;
  FlowState& operator=(const FlowState&) = delete;
  FlowState(FlowState&&) noexcept = default;
  FlowState& operator=(FlowState&&) = delete;
  ~FlowState() = default;

  /// The state of the same training data with another `diag_reg` (same scale convention): it
  /// shares the kernels and the eigendecompositions, each moved by the change of ridge, so a
  /// sweep over ridges costs one eigendecomposition. Its predictions at t = ∞ use them too, not a
  /// Cholesky factor per ridge.
  FlowState with_diag_reg(double diag_reg) const {
    FlowState other(data_);
    for (const Get mode : {Get::nngp, Get::ntk}) {
      other.ridge_[index(mode)] = ridge_[index(mode)] + ridge_change(mode, diag_reg);
    }
    other.sweep_ = true;
    return other;
  }

  /// r' − r: how far the eigenvalues of `mode`'s K̃ move when `diag_reg` replaces this state's.
  double ridge_change(Get mode, double diag_reg) const {
    return ridge_for(index(mode), diag_reg) - ridge_[index(mode)];
  }

  /// The spectrum of `mode`'s K + r'·I, r' the regulariser of `diag_reg`, from this state's
  /// eigendecomposition (a ridge sweep), checked positive semidefinite.
  Spectrum spectrum_for(Get mode, double diag_reg) const {
    const double r = ridge_for(index(mode), diag_reg);
    Spectrum s = spectrum(mode).with_shift(r - ridge_[index(mode)]);
    require_positive_semidefinite(mode, s, r);
    return s;
  }

  std::string_view function() const { return data_->function; }
  /// The train-train kernels (empty once released to their factorisations).
  const Kernels& kernels() const { return data_->k; }
  const Matrix<double>& y() const { return data_->y; }
  Index training_size() const { return data_->y.rows(); }

  /// The eigendecomposition of K̃ = K + r·I for `mode` (Get::nngp or Get::ntk).
  const Spectrum& spectrum(Get mode) const {
    const std::size_t i = index(mode);
    const std::scoped_lock lock(data_->mutex);
    if (!spectrum_[i]) {
      const Spectrum& base = base_spectrum(mode);
      Spectrum s = base.with_shift(ridge_[i] - base_ridge(i));
      // Here, not in the Cholesky route: a factorisation that succeeds proves K̃ definite.
      require_positive_semidefinite(mode, s, ridge_[i]);
      spectrum_[i] = std::move(s);
    }
    return *spectrum_[i];
  }

  /// The Cholesky factor of K̃ for predictions at t = ∞, or null where the eigendecomposition
  /// serves instead: when the kernel is singular or nearly so (cholesky.hpp), when the
  /// eigendecomposition already exists (a prediction at a finite time made it), and in a ridge
  /// sweep (`with_diag_reg`), whose predictors share one eigendecomposition.
  std::shared_ptr<const CholeskyFactor> cholesky(Get mode) const {
    const std::size_t i = index(mode);
    FlowData& d = *data_;
    const std::scoped_lock lock(d.mutex);
    if (sweep_ || d.base[i]) return nullptr;
    if (!d.factor[i]) {
      Matrix<double>& k = stored_kernel(mode);
      auto f = std::make_shared<CholeskyFactor>();
      if (d.release_kernels) {
        // In place: L overwrites the lower triangle, K stays above it, its diagonal here.
        d.diagonal[i] = k.diagonal();
        f->lower = std::move(k);
        d.handed_over[i] = true;
      } else {
        require_memory(d.function, matrix_bytes(k.rows()),
                       "the Cholesky factor of the " + size_name(mode));
        f->lower = k;
      }
      f->lower.diagonal().array() += ridge_[i];
      if (factor_if_safe(f->lower, d.relative_cutoff, f->reciprocal_condition)) {
        d.factor[i] = std::move(f);
      } else {
        if (d.release_kernels) {
          restore_from_upper(f->lower, d.diagonal[i]);
          k = std::move(f->lower);
          d.handed_over[i] = false;
        }
        d.factor[i] = nullptr;
      }
    }
    return *d.factor[i];
  }

  /// The unregularised train-train kernel of `mode`; throws if it was not given.
  const Matrix<double>& kernel(Get mode) const {
    const Matrix<double>& k = mode == Get::nngp ? data_->k.nngp : data_->k.ntk;
    if (data_->handed_over[index(mode)]) {
      // Only reachable after a factorisation that took the kernel over threw (out of memory,
      // no convergence): the predictor cannot answer any more.
      fail(data_->function,
           "the train-train kernel was handed to a factorisation that failed; "
           "make a new predictor");
    }
    if (k.size() == 0) {
      fail(data_->function, std::string("this prediction needs the train-train ") +
                                (mode == Get::nngp ? "NNGP" : "NTK") + ", which was not given");
    }
    return k;
  }

  /// Vᵀ·K_dd·V: the unregularised train-train NNGP in the NTK's eigenbasis, which the NTK-mode
  /// covariances need at every finite time; computed once (2N³), on first use, for the family.
  const Matrix<double>& nngp_in_ntk_basis() const {
    const std::scoped_lock lock(data_->mutex);
    if (!data_->rotated) {
      const Matrix<double>& v = spectrum(Get::ntk).vectors();
      require_memory(data_->function, 2 * matrix_bytes(v.rows()),
                     "the NNGP in the NTK's eigenbasis (for the NTK-mode covariances)");
      data_->rotated = v.transpose() * kernel(Get::nngp) * v;
    }
    return *data_->rotated;
  }

 private:
  explicit FlowState(std::shared_ptr<FlowData> data) : data_(std::move(data)) {}

  static std::size_t index(Get mode) { return mode == Get::nngp ? 0 : 1; }

  static double matrix_bytes(Index n) {
    return static_cast<double>(n) * static_cast<double>(n) * sizeof(double);
  }

  /// "N × N NTK train-train kernel", for messages.
  std::string size_name(Get mode) const {
    const std::string n = std::to_string(training_size());
    return n + " × " + n + (mode == Get::nngp ? " NNGP" : " NTK") + " train-train kernel";
  }

  /// The absolute ridge r of `diag_reg` for mode i: neural-tangents' diag_reg·tr(K)/m, or
  /// diag_reg itself on the absolute scale; checked finite and non-negative, as is K + r·I.
  double ridge_for(std::size_t i, double diag_reg) const {
    return checked_ridge(data_->function, diag_reg, data_->absolute, data_->mean_diagonal[i],
                         data_->largest_diagonal[i]);
  }

  void require_positive_semidefinite(Get mode, const Spectrum& s, double ridge) const {
    detail::require_positive_semidefinite(data_->function, data_->name[index(mode)], s.values,
                                          data_->relative_cutoff, ridge);
  }
  double base_ridge(std::size_t i) const { return ridge_for(i, data_->diag_reg); }

  /// The stored kernel of `mode`, throwing if it was not given.
  Matrix<double>& stored_kernel(Get mode) const {
    kernel(mode);
    return mode == Get::nngp ? data_->k.nngp : data_->k.ntk;
  }

  /// The family's eigendecomposition of K + r₀·I (lock held). Once it exists the Cholesky factor
  /// is never used again and is dropped (callers still holding it keep it alive).
  const Spectrum& base_spectrum(Get mode) const {
    FlowData& d = *data_;
    const std::size_t i = index(mode);
    if (d.base[i]) return *d.base[i];
    const std::shared_ptr<CholeskyFactor> in_factor =
        d.release_kernels && d.factor[i] ? *d.factor[i] : nullptr;
    // The factor's storage can be taken over unless a caller still holds the factor (this copy
    // and the cache are two owners).
    const bool copies = !d.release_kernels || (in_factor && in_factor.use_count() > 2);
    // The copy, and LAPACK dsyevd's workspace of 2N² + 6N doubles; Eigen's solver needs as much
    // for its own copy and result.
    const double n2 = matrix_bytes(training_size());
    require_memory(d.function, (copies ? 3 : 2) * n2,
                   "the eigendecomposition of the " + size_name(mode),
                   "predictions at t = ∞ alone, of a well-conditioned kernel (a ridge, "
                   "diag_reg > 0, makes one), take the Cholesky route, which needs " +
                       show_bytes(n2));
    Matrix<double> regularized;
    if (in_factor) {
      regularized = copies ? Matrix<double>(in_factor->lower) : std::move(in_factor->lower);
      restore_from_upper(regularized, d.diagonal[i]);
    } else {
      Matrix<double>& k = stored_kernel(mode);
      regularized = d.release_kernels ? std::move(k) : Matrix<double>(k);
      d.handed_over[i] = d.release_kernels;
    }
    // Before anything below can throw: a factor whose storage moved must not be used again.
    d.factor[i].reset();
    regularized.diagonal().array() += base_ridge(i);
    d.base[i] = consume_into_spectrum(std::move(regularized), d.relative_cutoff);
    return *d.base[i];
  }

  std::shared_ptr<FlowData> data_;
  double ridge_[2] = {0, 0};  ///< this state's regulariser r per mode (absolute)
  bool sweep_ = false;        ///< made by with_diag_reg: t = ∞ uses the shared eigendecomposition
  mutable std::optional<Spectrum> spectrum_[2];
};

inline bool all_infinite(std::span<const double> s) {
  for (const double t : s) {
    if (t != infinite_time) return false;
  }
  return true;
}

/// The test-set posterior of one mode at t = ∞ by the Cholesky factor `f` of its own kernel K̃:
/// mean K_*d·K̃⁻¹·y; NNGP and NTK-GP covariance K_** − WᵀW with W = L⁻¹·K_d*; NTK-mode covariance
/// K_** + AᵀK_ddA − (K_*dA + (K_*dA)ᵀ) with A = Θ̃⁻¹·Θ_d*.
template <class S>
GaussianPrediction cholesky_test_posterior(const FlowState<S>& state, Get mode,
                                           const CholeskyFactor& f, const Kernels& k_td,
                                           const Matrix<double>& k_tt) {
  const Matrix<double>& own_td = mode == Get::nngp ? k_td.nngp : k_td.ntk;
  GaussianPrediction out;
  Matrix<double> alpha = state.y();
  cholesky_solve_in_place(f, alpha);
  out.mean = product(own_td, alpha);
  if (k_tt.size() == 0) return out;
  Matrix<double> a = own_td.transpose();
  if (mode == Get::ntk) {
    cholesky_solve_in_place(f, a);
    const Matrix<double> k_a = product(state.kernel(Get::nngp), a);
    const Matrix<double> cross = product(k_td.nngp, a);
    out.covariance = k_tt + a.transpose() * k_a - cross - cross.transpose();
  } else {
    cholesky_half_solve_in_place(f, a);
    out.covariance = k_tt - a.transpose() * a;
  }
  out.covariance = 0.5 * (out.covariance + out.covariance.transpose()).eval();
  return out;
}

/// Test-set posterior of one mode at the flow times `s` (∞ allowed), from the test-train
/// kernels `k_td` (NNGP and/or NTK) and, for covariances, the test-test kernel `k_tt` (the NNGP,
/// or the NTK for NTK-GP; empty: means only).
template <class S>
std::vector<GaussianPrediction> test_posterior(const FlowState<S>& state, Get mode,
                                               std::span<const double> s, const Kernels& k_td,
                                               const Matrix<double>& k_tt) {
  const Get basis = mode == Get::nngp ? Get::nngp : Get::ntk;
  if (all_infinite(s)) {
    if (const std::shared_ptr<const CholeskyFactor> f = state.cholesky(basis)) {
      return std::vector<GaussianPrediction>(s.size(),
                                             cholesky_test_posterior(state, mode, *f, k_td, k_tt));
    }
  }
  const Spectrum& spectrum = state.spectrum(basis);
  const Matrix<double>& v = spectrum.vectors();
  const Matrix<double>& own_td = basis == Get::nngp ? k_td.nngp : k_td.ntk;
  const Matrix<double> projected_y = v.transpose() * state.y();
  const Matrix<double> own_td_v = product(own_td, v);  // K_*d·V or Θ_*d·V
  const bool with_cov = k_tt.size() > 0;
  Matrix<double> nngp_td_v;  // K_*d·V_Θ, for the NTK-mode covariance
  if (with_cov && mode == Get::ntk) nngp_td_v = product(k_td.nngp, v);
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

/// Training-set posterior of one mode (NNGP or NTK) at the flow times `s`. At t = ∞ on a kernel
/// the Cholesky route takes (full rank), every mode has relaxed: the mean is y and no spread is
/// left.
template <class S>
std::vector<GaussianPrediction> train_posterior(const FlowState<S>& state, Get mode,
                                                std::span<const double> s, bool with_cov) {
  if (all_infinite(s) && state.cholesky(mode) != nullptr) {
    GaussianPrediction at_rest{state.y(), Matrix<double>()};
    if (with_cov) at_rest.covariance.setZero(state.training_size(), state.training_size());
    return std::vector<GaussianPrediction>(s.size(), at_rest);
  }
  const Spectrum& spectrum = state.spectrum(mode);
  const Matrix<double>& v = spectrum.vectors();
  const Matrix<double> projected_y = v.transpose() * state.y();
  std::vector<GaussianPrediction> out(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const Eigen::VectorXd d = decay(spectrum, s[i]);
    out[i].mean = in_eigenbasis(spectrum, -moved(spectrum, s[i]), projected_y);
    if (!with_cov) continue;
    if (mode == Get::ntk) {
      const Matrix<double> vd = v * d.asDiagonal();
      out[i].covariance = vd * state.nngp_in_ntk_basis() * vd.transpose();
    } else {
      Eigen::VectorXd w(d.size());
      for (Index j = 0; j < d.size(); ++j) {
        w[j] = spectrum.kept(j) ? spectrum.values[j] * d[j] * d[j] : 0.0;
      }
      out[i].covariance = v * w.asDiagonal() * v.transpose();
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

/// The same for a test-test kernel, which must also be symmetric: the covariances read it whole
/// and symmetrise their result, so a test-train kernel passed by mistake would go unnoticed.
/// `example` is how to compute it, e.g. "nngp(net, x_test)".
template <class Derived>
void require_test_test_kernel(std::string_view function, std::string_view what,
                              const Eigen::MatrixBase<Derived>& k, Index test,
                              std::string_view example) {
  require_test_kernel(function, what, k, test, test);
  require_symmetric(function, what, k, "pass the test-test kernel, e.g. " + std::string(example));
}

}  // namespace TANGENT_SOLVER_ABI
}  // namespace detail
}  // namespace tangent
