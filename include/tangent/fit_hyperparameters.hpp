#pragma once
/// @file
/// `fit_hyperparameters(net, x, y, options)`: the hyperparameters (and the ridge) that maximise
/// the log marginal likelihood of GP regression with the network's NNGP or NTK, or minimise its
/// leave-one-out error, by L-BFGS (LBFGS++, Debian `liblbfgspp-dev`, header-only on Eigen) on
/// exact gradients: ∂f/∂θₚ = Σᵢⱼ (∂f/∂Kᵢⱼ)·(∂Kᵢⱼ/∂θₚ), the first factor from
/// `log_marginal_likelihood_gradient` or `leave_one_out_gradient`, the second from
/// `kernel_derivatives`. Hyperparameters that the kernels see only through their square (Dense
/// w_std, b_std; Erf a, b, c) and the ridge are fitted as log|θ|, which keeps their sign; the
/// others (ABReLU a, b, LeakyReLU alpha) as they are. The objective minimised is −log p/(N·k) (k
/// outputs) or the LOO mean squared error, both per target entry, so that the gradient
/// tolerance does not depend on the number of points; the LOO error is in the units of y², and
/// so is its tolerance.
///
/// The LOO error does not change when the kernel and a relative ridge scale together, so a
/// hyperparameter that only scales the kernel (the readout's w_std with its b_std) is fixed by
/// the likelihood but only partly by LOO: the fit then stops wherever that direction leaves it.
/// LOO also often drives the ridge towards 0, the other hyperparameters taking over its
/// smoothing: fix it (`fit_diag_reg = false`) to compare kernels at one ridge.

#if !__has_include(<LBFGS.h>)
#error "tangent/fit_hyperparameters.hpp needs LBFGS++ (Debian: liblbfgspp-dev), header-only"
#endif

#include <LBFGS.h>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tangent/combinators/composition.hpp"
#include "tangent/combinators/leaf.hpp"
#include "tangent/combinators/node.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/hyperparameters.hpp"
#include "tangent/core/spatial_input.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/kernel_derivatives.hpp"
#include "tangent/kernels/plan.hpp"
#include "tangent/predict/leave_one_out.hpp"
#include "tangent/predict/marginal_likelihood.hpp"
#include "tangent/predict/posterior.hpp"

namespace tangent {

/// What `fit_hyperparameters` optimises.
enum class FitObjective {
  marginal_likelihood,  ///< maximise log p(Y | K, r): the Bayesian evidence
  leave_one_out,        ///< minimise the leave-one-out mean squared error of the ridge regression
};

/// What `fit_hyperparameters` fits, from where, and when it stops.
struct FitOptions {
  Get kernel = Get::nngp;  ///< the GP's kernel: Get::nngp or Get::ntk
  FitObjective objective = FitObjective::marginal_likelihood;
  /// The hyperparameters to fit (all differentiable ones when empty), chosen once from the
  /// starting network by layer, position and name; the others keep their values.
  HyperparameterFilter which = {};
  double diag_reg = 1e-4;                ///< the ridge, and its start when it is fitted
  bool diag_reg_absolute_scale = false;  ///< as in MarginalLikelihoodOptions
  bool fit_diag_reg = true;              ///< fit the ridge too
  /// Evaluations of the kernels with their derivatives (the cost of a fit), line searches and
  /// restarts included.
  int max_evaluations = 200;
  /// Converged when the gradient of the objective (−log p/(N·k), or the LOO error in units of
  /// y²) with respect to the fitted parameters (log|θ| where log-scaled) has a Euclidean norm at
  /// most this.
  double gradient_tolerance = 1e-6;
};

/// One evaluation of the objective: the fitted hyperparameters' values (in the order of
/// `FitResult::hyperparameters`), the ridge, and both the log marginal likelihood and the LOO
/// error there, whatever the objective (−∞ and +∞ where the kernel could not be used: `error`
/// says why).
struct FitStep {
  std::vector<double> values;
  double diag_reg = 0;
  double log_marginal_likelihood = 0;
  double leave_one_out_error = 0;
  std::string error;
};

/// The fitted network (same type, new hyperparameters), the fitted hyperparameters' values and
/// ridge, the log marginal likelihood and LOO error there, and how the optimisation went. The
/// result is the best point evaluated by the objective, also when the optimiser did not converge.
template <class Net>
struct FitResult {
  Net network;
  std::vector<Hyperparameter> hyperparameters;
  double diag_reg = 0;
  double log_marginal_likelihood = 0;
  double leave_one_out_error = 0;
  std::vector<FitStep> trace;  ///< every evaluation, in order (line searches included)
  bool converged = false;
  std::string message;  ///< how it stopped
};

namespace detail {
// Inside the parallel ABI namespace with the walk it derives from (kernels/derivative_sweep.hpp).
inline namespace TANGENT_PARALLEL_ABI {

/// Writes `values` into the hyperparameters of `net` that `chosen` selects, in the order of the
/// hyperparameter list; a layer met again in repeat(...) is written once. The walk sees the
/// layers as const; they belong to `net`, a non-const object of the caller's, so writing them is
/// sound.
struct HyperparameterWriter : LeafOnlyWalk {
  const std::vector<double>& values;
  const HyperparameterFilter& chosen;
  std::size_t next = 0;
  std::vector<const void*> seen;

  HyperparameterWriter(const std::vector<double>& v, const HyperparameterFilter& c)
      : values(v), chosen(c) {}

  template <class In, bool InFull, bool OutFull, class L, class P>
  void leaf(const L& layer, P&, int&, Index, const LayerSite& site) {
    if constexpr (HasHyperparameters<L>) {
      if (std::find(seen.begin(), seen.end(), &layer) != seen.end()) return;
      seen.push_back(&layer);
      auto current = layer.hyperparameter_values();
      for (std::size_t k = 0; k < current.size(); ++k) {
        if (has_hyperparameter(layer, k) && chosen(describe_hyperparameter(layer, k, site))) {
          current[k] = values[next++];
        }
      }
      const_cast<L&>(layer) = layer.with_hyperparameters(current);
    }
  }
};

template <class Kind, class Net>
Net with_hyperparameter_values(Net net, const std::vector<double>& values,
                               const HyperparameterFilter& chosen) {
  HyperparameterWriter writer(values, chosen);
  Cursor cursor;
  Unused params;
  int state = 0;
  fold<InputStage<Kind>, false>(net, params, state, cursor, writer);
  if (writer.next != values.size()) {
    throw std::logic_error("tangent::fit_hyperparameters: wrote " + std::to_string(writer.next) +
                           " of " + std::to_string(values.size()) + " hyperparameters");
  }
  return net;
}

/// Thrown by the objective when options.max_evaluations is spent, to stop LBFGS++.
struct EvaluationBudgetSpent {};

/// The hyperparameters of `net` on inputs of shape `shape` that `which` chooses.
template <class Kind, class Net>
std::vector<Hyperparameter> list_hyperparameters(const Net& network, const Geometry& shape,
                                                 const HyperparameterFilter& which) {
  const auto net = as_serial(network);
  using Flat = std::remove_const_t<decltype(net)>;
  if constexpr (composition_fits<Kind, Flat>()) {
    const KernelPlan plan = make_plan<InputStage<Kind>>(net, shape);
    return map_hyperparameters<InputStage<Kind>>(net, plan, which).list;
  } else {
    return {};
  }
}

/// fit_hyperparameters on feature vectors (`inputs` a matrix) or images and sequences.
template <class Net, class X, class DY>
FitResult<Net> fit_hyperparameters(const Net& net, const X& inputs, const Eigen::MatrixBase<DY>& y,
                                   const FitOptions& options) {
  using Kind = typename input_kind<X>::type;
  constexpr std::string_view function = "fit_hyperparameters";
  if (options.kernel != Get::nngp && options.kernel != Get::ntk) {
    detail::fail(function, "options.kernel must be Get::nngp or Get::ntk");
  }
  if (!(options.diag_reg > 0) || !std::isfinite(options.diag_reg)) {
    detail::fail(function, "options.diag_reg must be positive and finite, got " +
                               detail::show(options.diag_reg));
  }
  if (options.max_evaluations < 1) {
    detail::fail(function, "options.max_evaluations must be at least 1, got " +
                               std::to_string(options.max_evaluations));
  }
  if (!(options.gradient_tolerance >= 0) || !std::isfinite(options.gradient_tolerance)) {
    detail::fail(function, "options.gradient_tolerance must be finite and ≥ 0, got " +
                               detail::show(options.gradient_tolerance));
  }
  const DY& targets = y.derived();
  const Index samples = sample_rows(inputs).rows();
  detail::check_kernel_input(function, "x", sample_rows(inputs));
  if (targets.rows() != samples) {
    detail::fail(function, "x has " + std::to_string(samples) + " samples but y has " +
                               std::to_string(targets.rows()) +
                               " rows; give one row of targets per sample");
  }
  if (targets.cols() == 0) detail::fail(function, "y has no columns");
  detail::require_all_finite(function, "y", targets);

  // The hyperparameters to fit, chosen once, from the starting values.
  const std::vector<Hyperparameter> chosen =
      detail::list_hyperparameters<Kind>(net, sample_geometry(inputs), options.which);
  const std::size_t count = chosen.size();
  if (count == 0 && !options.fit_diag_reg) {
    detail::fail(function,
                 "nothing to fit: options.which chooses no hyperparameter and fit_diag_reg is "
                 "false");
  }
  for (const Hyperparameter& h : chosen) {
    if (h.log_scale && h.value == 0) {
      detail::fail(function, std::string(h.name) + " of " + std::string(h.layer) + " (layer " +
                                 std::to_string(h.position) +
                                 ") starts at 0, where the kernels' derivative in it vanishes "
                                 "(they depend on its square): start it away from 0 or leave it "
                                 "out of options.which");
    }
  }
  const HyperparameterFilter is_chosen = [&chosen](const Hyperparameter& h) {
    return std::any_of(chosen.begin(), chosen.end(), [&](const Hyperparameter& c) {
      return c.position == h.position && c.name == h.name;
    });
  };
  const std::size_t dimension = count + (options.fit_diag_reg ? 1 : 0);
  const double scale = static_cast<double>(targets.size());
  const bool ntk = options.kernel == Get::ntk;
  const bool by_likelihood = options.objective == FitObjective::marginal_likelihood;
  const X* const no_second_input = nullptr;

  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  FitResult<Net> result{net, chosen, options.diag_reg, -kInfinity, kInfinity, {}, false, {}};
  // The best point: the least objective, where it was, and its place in the trace.
  double best_value = kInfinity;
  Eigen::VectorXd best_u;
  std::size_t best_step = 0;
  // The last point evaluated and its gradient: L-BFGS ends on the last point it evaluated.
  Eigen::VectorXd last_u;
  Eigen::VectorXd last_gradient;
  std::exception_ptr fatal;

  // The fitted parameters u: log|θ| for log-scaled hyperparameters (θ = ±e^u, the sign of the
  // start) and log r for the ridge, θ otherwise.
  const auto to_values = [&](const Eigen::VectorXd& u) {
    std::vector<double> values(count);
    for (std::size_t p = 0; p < count; ++p) {
      const double v = u[static_cast<Index>(p)];
      values[p] = chosen[p].log_scale ? std::copysign(std::exp(v), chosen[p].value) : v;
    }
    return values;
  };
  const auto to_ridge = [&](const Eigen::VectorXd& u) {
    return options.fit_diag_reg ? std::exp(u[static_cast<Index>(count)]) : options.diag_reg;
  };
  const auto objective = [&](const Eigen::VectorXd& u, Eigen::VectorXd& gradient) {
    if (result.trace.size() >= static_cast<std::size_t>(options.max_evaluations)) {
      throw detail::EvaluationBudgetSpent{};
    }
    FitStep step{to_values(u), to_ridge(u), -kInfinity, kInfinity, {}};
    gradient.setZero(u.size());
    double value = kInfinity;
    try {
      if (!u.allFinite()) detail::fail(function, "the optimiser proposed a non-finite point");
      const Net candidate = detail::with_hyperparameter_values<Kind>(net, step.values, is_chosen);
      const KernelDerivatives d =
          ntk ? detail::kernel_derivatives<true>("kernel_derivatives", candidate, inputs,
                                                 no_second_input, is_chosen)
              : detail::kernel_derivatives<false>("kernel_derivatives", candidate, inputs,
                                                  no_second_input, is_chosen);
      const Matrix<double>& kernel = ntk ? d.ntk : d.nngp;
      const MarginalLikelihoodOptions ridge_options{
          .diag_reg = step.diag_reg, .diag_reg_absolute_scale = options.diag_reg_absolute_scale};
      // The objective's gradient with respect to K and to diag_reg, times `sign`.
      Matrix<double> d_kernel;
      double d_diag_reg = 0;
      double sign = 1;
      if (by_likelihood) {
        MarginalLikelihoodGradient g =
            log_marginal_likelihood_gradient(kernel, targets, ridge_options);
        step.log_marginal_likelihood = g.value;
        step.leave_one_out_error = g.leave_one_out_error;
        value = -g.value / scale;
        sign = -1 / scale;
        d_kernel = std::move(g.kernel);
        d_diag_reg = g.diag_reg;
      } else {
        LeaveOneOutGradient g = leave_one_out_gradient(kernel, targets, ridge_options);
        step.log_marginal_likelihood = g.log_marginal_likelihood;
        step.leave_one_out_error = g.value;
        value = g.value;
        d_kernel = std::move(g.kernel);
        d_diag_reg = g.diag_reg;
      }
      for (std::size_t p = 0; p < count; ++p) {
        const double dtheta = d_kernel.cwiseProduct(ntk ? d.d_ntk[p] : d.d_nngp[p]).sum();
        // dθ/du = θ on a log scale.
        const double chain = chosen[p].log_scale ? step.values[p] : 1.0;
        gradient[static_cast<Index>(p)] = sign * dtheta * chain;
      }
      if (options.fit_diag_reg) {
        gradient[static_cast<Index>(count)] = sign * d_diag_reg * step.diag_reg;
      }
      if (value < best_value) {
        best_value = value;
        best_u = u;
        best_step = result.trace.size();
      }
    } catch (const std::invalid_argument& e) {
      step.error = e.what();
    } catch (...) {
      // Not a point to step back from (memory, a user's layer failing): out of the optimiser.
      fatal = std::current_exception();
      throw;
    }
    result.trace.push_back(std::move(step));
    last_u = u;
    last_gradient = gradient;
    return value;
  };

  Eigen::VectorXd u(static_cast<Index>(dimension));
  for (std::size_t p = 0; p < count; ++p) {
    const double v = chosen[p].value;
    u[static_cast<Index>(p)] = chosen[p].log_scale ? std::log(std::abs(v)) : v;
  }
  if (options.fit_diag_reg) u[static_cast<Index>(count)] = std::log(options.diag_reg);

  LBFGSpp::LBFGSParam<double> param;
  param.epsilon = options.gradient_tolerance;
  param.epsilon_rel = 0;
  param.max_iterations = 0;  // no limit of its own: options.max_evaluations stops it
  param.max_linesearch = 40;
  // Backtracking (halving on +∞ and NaN, so it steps back from points where the kernel cannot
  // be used) until the strong Wolfe conditions hold.
  param.linesearch = LBFGSpp::LBFGS_LINESEARCH_BACKTRACKING_STRONG_WOLFE;
  const auto evaluations = [&] {
    return " after " + std::to_string(result.trace.size()) + " evaluations";
  };
  // A line search that finds no acceptable step (LBFGS++ throws) restarts L-BFGS, its curvature
  // memory cleared, from the best point so far, as long as the restarts improve it.
  double best_before = kInfinity;
  for (;;) {
    try {
      LBFGSpp::LBFGSSolver<double> solver(param);
      double fx = 0;
      solver.minimize(objective, u, fx);
      if (last_u != u) objective(u, last_gradient);
      const double norm = last_gradient.norm();
      const std::string& error = result.trace.back().error;
      result.converged = error.empty() && norm <= options.gradient_tolerance;
      result.message =
          result.converged ? "converged: gradient norm " + detail::show(norm) + evaluations()
          : !error.empty()
              ? "not converged: it stopped at a point where the kernel cannot be used" +
                    evaluations() + " (" + error + ")"
              : "not converged: gradient norm " + detail::show(norm) + evaluations();
      break;
    } catch (const detail::EvaluationBudgetSpent&) {
      result.converged = false;
      result.message = "not converged: options.max_evaluations (" +
                       std::to_string(options.max_evaluations) + ") spent";
      break;
    } catch (const std::exception& e) {
      if (fatal) std::rethrow_exception(fatal);
      // LBFGS++ gave up: no acceptable step, or a direction that does not descend (rounding on
      // a flat objective).
      result.converged = false;
      result.message = std::string("not converged: the line search failed") + evaluations() + " (" +
                       e.what() + ")";
      if (!(best_value < best_before) || best_u.size() == 0) break;
      best_before = best_value;
      u = best_u;
    }
  }
  if (best_u.size() == 0) {
    detail::fail(function, "the kernel could not be used at the starting hyperparameters: " +
                               result.trace.front().error);
  }
  const std::vector<double> values = to_values(best_u);
  result.network = detail::with_hyperparameter_values<Kind>(net, values, is_chosen);
  for (std::size_t p = 0; p < count; ++p) result.hyperparameters[p].value = values[p];
  result.diag_reg = to_ridge(best_u);
  result.log_marginal_likelihood = result.trace[best_step].log_marginal_likelihood;
  result.leave_one_out_error = result.trace[best_step].leave_one_out_error;
  return result;
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace detail

inline namespace TANGENT_PARALLEL_ABI {

/// Maximises the log marginal likelihood of the targets `y` (N×k) given the inputs `x` (N×d), or
/// minimises the LOO error (`options.objective`), over the hyperparameters that `options.which`
/// chooses (and the ridge), from those of `net`.
/// Throws `std::invalid_argument` for bad input (as `kernels` and `log_marginal_likelihood`
/// do), bad options, nothing to fit, a log-scaled hyperparameter that starts at 0 (its
/// derivative vanishes there), and a kernel that cannot be used at the start. A point the
/// optimiser tries where the kernel is singular or overflows counts as the worst objective
/// (log p = −∞, LOO error = +∞) and the line search steps back from it. A run that does not
/// converge returns its best point with `converged` false and a message saying why.
template <Network Net, class DX, class DY>
FitResult<Net> fit_hyperparameters(const Net& net, const Eigen::MatrixBase<DX>& x,
                                   const Eigen::MatrixBase<DY>& y, const FitOptions& options = {}) {
  static_assert(
      std::is_same_v<typename DX::Scalar, double> && std::is_same_v<typename DY::Scalar, double>,
      "TANGENT: fit_hyperparameters WORKS IN double: cast x and y with .cast<double>().");
  return detail::fit_hyperparameters(net, x.derived(), y, options);
}

/// The same on N images or sequences (`tangent::images`, `tangent::sequences`): Conv's w_std
/// and b_std are fitted as Dense's are.
template <Network Net, class S, int D, class DY>
FitResult<Net> fit_hyperparameters(const Net& net, const SpatialInput<S, D>& x,
                                   const Eigen::MatrixBase<DY>& y, const FitOptions& options = {}) {
  static_assert(std::is_same_v<S, double> && std::is_same_v<typename DY::Scalar, double>,
                "TANGENT: fit_hyperparameters WORKS IN double: view double images or sequences "
                "(tangent::images(x.cast<double>(), ...)) and cast y with .cast<double>().");
  if constexpr (std::is_same_v<S, double> && std::is_same_v<typename DY::Scalar, double>) {
    return detail::fit_hyperparameters(net, x, y, options);
  } else {
    return {.network = net};
  }
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace tangent
