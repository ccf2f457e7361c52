#pragma once
/// @file
/// The infinite ensemble of networks of one architecture trained by gradient flow on the MSE
/// (neural-tangents' `gradient_descent_mse_ensemble`): its output mean and covariance at any
/// time, on test inputs or on the training set, for NTK dynamics (every layer trains) and NNGP
/// dynamics (only the readout trains). Formulas in posterior.hpp.
///
/// The train-train NNGP and NTK are computed once, when the predictor is made; their
/// eigendecompositions on first use; the test kernels once per `predict` call, shared by all
/// the times asked for in it.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tangent/combinators/composition.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/inputs.hpp"
#include "tangent/core/spatial_input.hpp"
#include "tangent/kernels.hpp"
#include "tangent/predict/gradient_descent_mse.hpp"
#include "tangent/predict/gradient_flow.hpp"
#include "tangent/predict/posterior.hpp"

namespace tangent {
namespace detail {
inline namespace TANGENT_SOLVER_ABI {

/// A copy of the training inputs that the predictor owns (the caller's `images(...)` view could
/// dangle), giving back the same kind of input.
template <class Input>
struct OwnedInput {
  Matrix<double> x;
  explicit OwnedInput(const Input& input) : x(input) {}
  const Matrix<double>& view() const { return x; }
  /// Checks test inputs against these, in the caller's words (`x_test`, not the kernels' `x1`).
  /// (Inputs of another kind are left to the kernels' compile-time message.)
  template <class Test>
  void check_test(std::string_view function, const Test& x_test) const {
    if constexpr (requires { x_test.cols(); }) {
      check_kernel_input(function, "x_test", x_test);
      if (x_test.cols() != x.cols()) {
        fail(function, "x_test has " + std::to_string(x_test.cols()) +
                           " features (columns) but x_train has " + std::to_string(x.cols()));
      }
    }
  }
};
template <class S, int D>
struct OwnedInput<SpatialInput<S, D>> {
  Matrix<double> flat;
  Geometry geometry;
  explicit OwnedInput(const SpatialInput<S, D>& input)
      : flat(input.flat), geometry(input.geometry) {}
  SpatialInput<double, D> view() const {
    return spatial_input<D>("gradient_descent_mse_ensemble", flat, geometry);
  }
  template <class Test>
  void check_test(std::string_view function, const Test& x_test) const {
    if constexpr (requires { x_test.geometry; }) {
      check_kernel_input(function, "x_test", x_test.flat);
      if (!(x_test.geometry == geometry)) {
        fail(function, "x_test holds " + x_test.geometry.str() + " samples but x_train holds " +
                           geometry.str());
      }
    }
  }
};

template <class Input>
constexpr bool is_double_input = [] {
  if constexpr (requires { typename Input::Scalar; }) {
    return std::is_same_v<typename Input::Scalar, double>;
  } else {
    return false;
  }
}();

}  // namespace TANGENT_SOLVER_ABI
}  // namespace detail

inline namespace TANGENT_SOLVER_ABI {

/// The predictor returned by `gradient_descent_mse_ensemble`.
template <class Net, class Input>
class GradientDescentMseEnsemble {
 public:
  GradientDescentMseEnsemble(const Net& net, const Input& x_train, const Matrix<double>& y_train,
                             const MseOptions& options)
      : net_(net), x_train_(x_train), learning_rate_(options.learning_rate) {
    detail::require_learning_rate(kFunction, options.learning_rate);
    state_ = std::make_shared<const detail::FlowState<>>(
        kFunction, kernels(net_, x_train_.view()), y_train, options.diag_reg,
        options.diag_reg_absolute_scale, options.eigenvalue_cutoff);
  }

  /// The same ensemble trained with another `diag_reg` (same scale convention), sharing this
  /// one's train-train kernels and eigendecompositions: a sweep over ridges costs one
  /// decomposition per kernel.
  GradientDescentMseEnsemble with_diag_reg(double diag_reg) const {
    GradientDescentMseEnsemble other = *this;
    other.state_ = std::make_shared<const detail::FlowState<>>(state_->with_diag_reg(diag_reg));
    return other;
  }

  /// Mean (and, with `compute_cov`, covariance) of the ensemble's outputs on `x_test` at time t
  /// (`infinite_time` allowed).
  template <class Test>
  Posterior predict(const Test& x_test, double t, Get get = Get::nngp | Get::ntk,
                    bool compute_cov = false) const {
    return std::move(predict(x_test, std::span<const double>(&t, 1), get, compute_cov).front());
  }
  /// The same at several times; the test kernels are computed once.
  template <class Test>
  std::vector<Posterior> predict(const Test& x_test, std::span<const double> times,
                                 Get get = Get::nngp | Get::ntk, bool compute_cov = false) const {
    detail::require_get(kPredict, get, false);
    x_train_.check_test(kPredict, x_test);
    const std::vector<double> s = flow_times(times);
    // Only the test-train kernels the modes need: the NTK-mode covariance needs both.
    const bool need_ntk = has(get, Get::ntk);
    const bool need_nngp = has(get, Get::nngp) || (compute_cov && need_ntk);
    Kernels k_td;
    if (need_nngp && need_ntk) {
      k_td = kernels(net_, x_test, x_train_.view());
    } else if (need_ntk) {
      k_td.ntk = ntk(net_, x_test, x_train_.view());
    } else {
      k_td.nngp = nngp(net_, x_test, x_train_.view());
    }
    const Matrix<double> k_tt = compute_cov ? nngp(net_, x_test) : Matrix<double>();
    std::vector<Posterior> out(times.size());
    for (const Get mode : {Get::nngp, Get::ntk}) {
      if (!has(get, mode)) continue;
      std::vector<GaussianPrediction> g = detail::test_posterior(*state_, mode, s, k_td, k_tt);
      for (std::size_t i = 0; i < out.size(); ++i) {
        (mode == Get::nngp ? out[i].nngp : out[i].ntk) = std::move(g[i]);
      }
    }
    return out;
  }

  /// The ensemble's outputs on the training inputs at time t.
  Posterior predict_train(double t, Get get = Get::nngp | Get::ntk,
                          bool compute_cov = false) const {
    return std::move(predict_train(std::span<const double>(&t, 1), get, compute_cov).front());
  }
  std::vector<Posterior> predict_train(std::span<const double> times,
                                       Get get = Get::nngp | Get::ntk,
                                       bool compute_cov = false) const {
    detail::require_get(kFunction, get, false);
    const std::vector<double> s = flow_times(times);
    std::vector<Posterior> out(times.size());
    for (const Get mode : {Get::nngp, Get::ntk}) {
      if (!has(get, mode)) continue;
      std::vector<GaussianPrediction> g = detail::train_posterior(*state_, mode, s, compute_cov);
      for (std::size_t i = 0; i < out.size(); ++i) {
        (mode == Get::nngp ? out[i].nngp : out[i].ntk) = std::move(g[i]);
      }
    }
    return out;
  }

  /// The train-train NNGP and NTK, computed once.
  const Kernels& train_kernels() const { return state_->kernels(); }

 private:
  static constexpr std::string_view kFunction = "gradient_descent_mse_ensemble";
  static constexpr std::string_view kPredict = "gradient_descent_mse_ensemble(...).predict";

  std::vector<double> flow_times(std::span<const double> times) const {
    detail::require_times(kFunction, times);
    std::vector<double> s;
    s.reserve(times.size());
    for (const double t : times) {
      s.push_back(detail::flow_time(kFunction, t, learning_rate_, state_->y().size()));
    }
    return s;
  }

  Net net_;
  detail::OwnedInput<Input> x_train_;
  double learning_rate_;
  std::shared_ptr<const detail::FlowState<>> state_;
};

/// The ensemble of networks `net` trained on (`x_train`, `y_train`) by gradient flow on the MSE:
/// x_train is a feature matrix or `images(...)`/`sequences(...)` (copied), y_train is
/// N_train × outputs.
template <Network Net, class Input>
auto gradient_descent_mse_ensemble(const Net& net, const Input& x_train,
                                   const Matrix<double>& y_train, const MseOptions& options = {}) {
  static_assert(detail::is_double_input<Input>,
                "TANGENT: PREDICTIONS ARE COMPUTED IN DOUBLE PRECISION: PASS x_train AS A double "
                "MATRIX (OR images/sequences OF ONE).");
  using Stored = std::conditional_t<detail::is_spatial_input<Input>, Input, Matrix<double>>;
  return GradientDescentMseEnsemble<Net, Stored>(net, x_train, y_train, options);
}

}  // namespace TANGENT_SOLVER_ABI
}  // namespace tangent
