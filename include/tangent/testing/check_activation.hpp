#pragma once
/// @file
/// A public conformance check for activations, built-in or a user's own: the closed forms
/// `moments` and `variance` against two-dimensional quadrature of the activation's own `value`
/// and `derivative`, and `derivative` against central differences of `value`. Like
/// `check_gradients`, it depends on nothing but tangent and the standard library, so it runs
/// inside any test framework:
///
///     const auto report = tangent::testing::check_activation(MyActivation{});
///     REQUIRE(report.passed);  // report.worst says where and by how much, if not
///
/// The oracle shares no formula with the closed forms: E[f(u)g(v)] for
/// (u, v) ~ N(0, [[q11, q12], [q12, q22]]) is integrated in whitened coordinates
/// u = a·z1, v = b·z1 + c·z2 with (z1, z2) ~ N(0, I), truncated to [−12, 12]² (the Gaussian mass
/// outside is below 4e-32), by composite Gauss–Legendre rules whose panels are split where u or
/// v crosses one of the activation's breakpoints (its kinks or jumps, given in the options), so
/// that every panel integrates a smooth function and the rule converges to rounding. This holds
/// for activations that grow slower than e^{z²/8} in the whitened coordinates, i.e. every
/// polynomial or exponential growth at the tested variances.

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/moments.hpp"
#include "tangent/core/simd_math.hpp"

namespace tangent::testing {

/// What `check_activation` compares, and how closely.
struct ActivationCheckOptions {
  /// The variances q11, q22 tried (every pair of them) ...
  std::vector<double> variances = {0.0, 0.2, 1.0, 2.7};
  /// ... at these correlations ρ = q12/√(q11·q22).
  std::vector<double> correlations = {-1.0, -0.9, -0.35, 0.0, 0.4, 0.93, 0.999, 1.0};
  /// Where φ or φ' is not smooth (ReLU: {0}); the quadrature splits its panels there.
  std::vector<double> breakpoints = {};
  /// Largest |closed form − quadrature| allowed, relative to the scale √(E[f(u)²]·E[f(v)²]) of
  /// the expectation (f = φ for E[φφ] and the variance, f = φ' for E[φ'φ']). The quadrature
  /// reaches about 1e-13. A rule that forms q11·q22 − q12² directly loses about √ε ≈ 1e-8 of
  /// its angle at |ρ| = 1 when q11 ≠ q22 (tangent's own rules avoid that and reach 1e-10).
  double tolerance = 2e-8;
  /// Largest |φ'(x) − (φ(x + h) − φ(x − h))/(2h)| allowed, relative to max(1, |φ'(x)|).
  double derivative_tolerance = 1e-6;
  double step = 1e-5;  ///< h of the central differences
  /// Largest difference allowed between the lane form and the scalar form, relative to the
  /// larger of the two moments (they run the same arithmetic).
  double lane_tolerance = 1e-12;
};

/// The result of `check_activation`.
struct ActivationCheck {
  double max_moment_error = 0;      ///< worst relative error of moments() and variance()
  double max_derivative_error = 0;  ///< worst relative error of derivative()
  double max_lane_error = 0;  ///< worst relative difference of the lane form from the scalar one
  std::string worst;          ///< the worst comparison of each kind, with both values
  Index checked = 0;          ///< number of comparisons made
  bool passed = false;        ///< all within their tolerances, and at least one made
};

namespace detail {

/// The N-point Gauss–Legendre rule on [−1, 1] (nodes, weights), by Newton's method on P_N from
/// Chebyshev-like initial guesses (Numerical Recipes §4.6 describes the method); nodes to about
/// 1 ulp. Computed once per N (thread-safe static initialisation).
template <std::size_t N>
const std::array<std::array<double, 2>, N>& legendre_rule() {
  static const std::array<std::array<double, 2>, N> rule = [] {
    constexpr int n = static_cast<int>(N);
    std::array<std::array<double, 2>, N> r{};
    for (int i = 0; i < n; ++i) {
      double x = std::cos(std::numbers::pi * (i + 0.75) / (n + 0.5));
      double derivative = 0;
      for (int iteration = 0; iteration < 100; ++iteration) {
        double p0 = 1;
        double p1 = x;
        for (int k = 2; k <= n; ++k) {
          const double p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
          p0 = p1;
          p1 = p2;
        }
        derivative = n * (x * p1 - p0) / (x * x - 1);
        const double dx = p1 / derivative;
        x -= dx;
        if (std::abs(dx) < 1e-16) break;
      }
      r[static_cast<std::size_t>(i)] = {x, 2 / ((1 - x * x) * derivative * derivative)};
    }
    return r;
  }();
  return rule;
}

/// ∫ f(z) N(z; 0, 1) dz over [−12, 12], split at `cuts` (sorted, inside the interval) and into
/// panels no wider than 1.5, each by 20-point Gauss–Legendre.
template <class F>
double normal_integral(const F& f, std::vector<double> cuts) {
  constexpr double limit = 12.0;
  constexpr double widest = 1.5;
  const auto& rule = legendre_rule<20>();
  cuts.push_back(-limit);
  cuts.push_back(limit);
  std::sort(cuts.begin(), cuts.end());
  double sum = 0;
  for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
    const double lo = std::max(cuts[k], -limit);
    const double hi = std::min(cuts[k + 1], limit);
    if (!(hi > lo)) continue;
    const int pieces = static_cast<int>(std::ceil((hi - lo) / widest));
    const double width = (hi - lo) / pieces;
    for (int p = 0; p < pieces; ++p) {
      const double mid = lo + (p + 0.5) * width;
      for (const auto& [node, weight] : rule) {
        const double z = mid + node * width / 2;
        sum += weight * width / 2 * std::exp(-z * z / 2) * f(z);
      }
    }
  }
  return sum / std::sqrt(2 * std::numbers::pi);
}

/// E[f(u)·g(v)] for (u, v) ~ N(0, [[q11, q12], [q12, q22]]) with q12 = ρ·√(q11·q22), where f and
/// g are smooth between the `breakpoints`.
template <class F, class G>
double gaussian_expectation(const F& f, const G& g, double q11, double rho, double q22,
                            const std::vector<double>& breakpoints) {
  // u = a·z1, v = b·z1 + c·z2; c from √(1 − ρ²), exactly 0 at ρ = ±1.
  const double a = std::sqrt(q11);
  const double b = rho * std::sqrt(q22);
  const double c = std::sqrt(q22) * std::sqrt(std::max(0.0, 1 - rho * rho));
  std::vector<double> outer_cuts;
  for (const double point : breakpoints) {
    if (a > 0) outer_cuts.push_back(point / a);
    if (b != 0) {
      // The inner integral smooths v's kink over |Δz1| ≈ c/|b|, which for ρ near ±1 is far
      // narrower than a panel: grade the panels around it (a cut at the kink itself when c = 0).
      const double centre = point / b;
      const double width = c / std::abs(b);
      outer_cuts.push_back(centre);
      for (const double k : {0.25, 1.0, 3.0, 8.0, 20.0}) {
        if (width == 0) break;
        outer_cuts.push_back(centre - k * width);
        outer_cuts.push_back(centre + k * width);
      }
    }
  }
  return normal_integral(
      [&](double z1) {
        std::vector<double> inner_cuts;
        if (c > 0) {
          for (const double point : breakpoints) inner_cuts.push_back((point - b * z1) / c);
        }
        const double inner =
            c > 0 ? normal_integral([&](double z2) { return g(b * z1 + c * z2); }, inner_cuts)
                  : g(b * z1);
        return f(a * z1) * inner;
      },
      outer_cuts);
}

inline void record(ActivationCheck& check, double& worst_so_far, std::string& worst_text,
                   double error, const std::string& where) {
  ++check.checked;
  if (!(error <= worst_so_far)) {  // also catches NaN
    worst_so_far = std::isnan(error) ? std::numeric_limits<double>::infinity() : error;
    worst_text = where;
  }
}

/// The lane form (for an activation with `lanes`) against the scalar form on the same grid, in
/// groups of lanes: the same arithmetic, so they may differ only by rounding (a multiply-add
/// the compiler contracts in one and not the other), far below `lane_tolerance`.
template <class A>
void check_lanes(const A& activation, const ActivationCheckOptions& options, ActivationCheck& check,
                 std::string& worst) {
  using L = tangent::detail::Lanes<double>;
  constexpr auto width = static_cast<std::size_t>(tangent::detail::kLanes<double>);
  std::vector<std::array<double, 3>> grid;
  for (const double q11 : options.variances) {
    for (const double q22 : options.variances) {
      for (const double rho : options.correlations) {
        grid.push_back({q11, rho * std::sqrt(q11 * q22), q22});
      }
    }
  }
  while (grid.size() % width != 0) grid.push_back(grid.back());
  for (std::size_t start = 0; start < grid.size(); start += width) {
    std::array<double, width> q11{}, q12{}, q22{}, expect{}, derivative{};
    for (std::size_t k = 0; k < width; ++k) {
      q11[k] = grid[start + k][0];
      q12[k] = grid[start + k][1];
      q22[k] = grid[start + k][2];
    }
    const Moments<L> lanes =
        activation.moments(L::load(q11.data()), L::load(q12.data()), L::load(q22.data()));
    lanes.expect.store(expect.data());
    lanes.expect_derivative.store(derivative.data());
    for (std::size_t k = 0; k < width; ++k) {
      const Moments<double> m = activation.moments(q11[k], q12[k], q22[k]);
      const double scale = std::max({std::abs(m.expect), std::abs(m.expect_derivative), 1e-300});
      const double error =
          std::max(std::abs(expect[k] - m.expect), std::abs(derivative[k] - m.expect_derivative)) /
          scale;
      record(check, check.max_lane_error, worst, error,
             "lane form at (q11 = " + tangent::detail::show(q11[k]) +
                 ", q12 = " + tangent::detail::show(q12[k]) +
                 ", q22 = " + tangent::detail::show(q22[k]) + ") = (" +
                 tangent::detail::show(expect[k]) + ", " + tangent::detail::show(derivative[k]) +
                 "), scalar form (" + tangent::detail::show(m.expect) + ", " +
                 tangent::detail::show(m.expect_derivative) + ")");
    }
  }
}

}  // namespace detail

/// Checks an activation's `moments`, `variance` and `derivative` as described in the file
/// comment, over every pair of `options.variances` at every correlation, and its lane form
/// against its scalar form when it declares one. An exception (a variance outside the
/// activation's domain) fails the check, with its message in `worst`. A kernel-only activation
/// has no `value` to integrate, so it cannot be checked this way (a compile error).
template <Activation A>
ActivationCheck check_activation(const A& activation, const ActivationCheckOptions& options = {}) {
  static_assert(!kernel_only<A>,
                "TANGENT: check_activation INTEGRATES value() AND derivative(): a kernel-only "
                "activation has neither; test its kernel map against its formula instead.");
  ActivationCheck check;
  const auto phi = [&](double x) { return activation.value(x); };
  const auto dphi = [&](double x) { return activation.derivative(x); };
  std::string worst_moment = "none";
  std::string worst_derivative = "none";
  std::string worst_lane = "none";
  const auto show = [](double v) { return tangent::detail::show(v); };
  const bool kinked_at_zero = std::find(options.breakpoints.begin(), options.breakpoints.end(),
                                        0.0) != options.breakpoints.end();

  try {
    for (const double q11 : options.variances) {
      const double phi11 =
          detail::gaussian_expectation(phi, phi, q11, 1.0, q11, options.breakpoints);
      const double dphi11 =
          detail::gaussian_expectation(dphi, dphi, q11, 1.0, q11, options.breakpoints);
      const double variance = activation.variance(q11);
      detail::record(
          check, check.max_moment_error, worst_moment,
          std::abs(variance - phi11) / std::max(std::abs(phi11), 1e-300),
          "variance(" + show(q11) + ") = " + show(variance) + ", quadrature " + show(phi11));
      for (const double q22 : options.variances) {
        const double phi22 =
            detail::gaussian_expectation(phi, phi, q22, 1.0, q22, options.breakpoints);
        const double dphi22 =
            detail::gaussian_expectation(dphi, dphi, q22, 1.0, q22, options.breakpoints);
        const double scale = std::sqrt(phi11 * phi22);
        const double scale_derivative = std::sqrt(dphi11 * dphi22);
        for (const double rho : options.correlations) {
          const double q12 = rho * std::sqrt(q11 * q22);
          const Moments<double> m = activation.moments(q11, q12, q22);
          const double expect =
              detail::gaussian_expectation(phi, phi, q11, rho, q22, options.breakpoints);
          const double expect_derivative =
              detail::gaussian_expectation(dphi, dphi, q11, rho, q22, options.breakpoints);
          const std::string at =
              "(q11 = " + show(q11) + ", q12 = " + show(q12) + ", q22 = " + show(q22) + ")";
          detail::record(
              check, check.max_moment_error, worst_moment,
              std::abs(m.expect - expect) / std::max(scale, 1e-300),
              "E[φ(u)φ(v)] at " + at + " = " + show(m.expect) + ", quadrature " + show(expect));
          // With a zero variance, u ≡ 0 and E[φ'(u)φ'(v)] = φ'(0)·E[φ'(v)]: at a breakpoint 0 the
          // value of φ'(0) is a convention (JAX's autodiff gives ReLU ½ there, for instance),
          // which the closed form need not share.
          const bool conventional = (q11 == 0 || q22 == 0) && kinked_at_zero;
          if (!conventional) {
            detail::record(check, check.max_moment_error, worst_moment,
                           std::abs(m.expect_derivative - expect_derivative) /
                               std::max(scale_derivative, 1e-300),
                           "E[φ'(u)φ'(v)] at " + at + " = " + show(m.expect_derivative) +
                               ", quadrature " + show(expect_derivative));
          }
        }
      }
    }

    if constexpr (tangent::detail::supports_lanes<A>) {
      detail::check_lanes(activation, options, check, worst_lane);
    }
  } catch (const std::exception& error) {
    // A variance outside the activation's domain (Exp, Gaussian), or any other refusal: the
    // check fails and says why instead of throwing.
    check.worst = std::string("threw: ") + error.what();
    check.passed = false;
    return check;
  }

  for (int k = -40; k <= 40; ++k) {
    const double x = 0.0731 * k;  // −2.9 … 2.9
    const bool near_breakpoint =
        std::any_of(options.breakpoints.begin(), options.breakpoints.end(),
                    [&](double point) { return std::abs(x - point) < 10 * options.step; });
    if (near_breakpoint) continue;
    const double difference = (phi(x + options.step) - phi(x - options.step)) / (2 * options.step);
    const double derivative = dphi(x);
    detail::record(check, check.max_derivative_error, worst_derivative,
                   std::abs(derivative - difference) / std::max(1.0, std::abs(derivative)),
                   "derivative(" + show(x) + ") = " + show(derivative) + ", central difference " +
                       show(difference));
  }

  check.worst = "moments: " + worst_moment + "; derivative: " + worst_derivative;
  if constexpr (tangent::detail::supports_lanes<A>) check.worst += "; lanes: " + worst_lane;
  check.passed = check.checked > 0 && check.max_moment_error <= options.tolerance &&
                 check.max_derivative_error <= options.derivative_tolerance &&
                 check.max_lane_error <= options.lane_tolerance;
  return check;
}

}  // namespace tangent::testing
