#pragma once
/// @file
/// φ(x) = a·erf(b·x) + c, the activation with the arcsine kernel (Williams 1997).
///
/// Kernel rule, after scaling the covariance by b² (q ← b²·q for q11, q12, q22):
///   D = √((1 + 2q11)(1 + 2q22) − 4q12²),
///   E[φ(u)φ(v)]   = a²·(2/π)·atan2(2q12, D) + c²,
///   E[φ'(u)φ'(v)] = a²·b²·(4/π)/D,
///   E[φ(u)²]      = a²·(2/π)·atan2(q, √(q + ¼)) + c².
/// The c² shift enters the NNGP only (E[erf] = 0, so the cross terms vanish), never the NTK; the
/// atan2 form and this treatment of a² and c² are neural-tangents' (`stax.Erf`).
/// D² is evaluated as 1 + 2(q11 + q22) + 4(q11·q22 − q12²), equal in exact arithmetic but free of
/// the cancellation (1 + 2q)² − 4q² suffers for large q (neural-tangents loses ~1e-4 there at
/// q ≈ 1e12), and D as a hypotenuse, free of overflow.

#include <array>
#include <cmath>
#include <string_view>

#include "tangent/core/errors.hpp"
#include "tangent/core/hyperparameters.hpp"
#include "tangent/core/math.hpp"
#include "tangent/core/moments.hpp"

namespace tangent {

/// φ(x) = a·erf(b·x) + c; the defaults give erf itself. `Erf{.a = 0.5, .b = 1 / 2.4020563531719796,
/// .c = 0.5}` is neural-tangents' sigmoid-like activation.
struct Erf {
  double a = 1.0;  ///< output scale
  double b = 1.0;  ///< input scale
  double c = 0.0;  ///< output shift

  static constexpr std::string_view name = "Erf";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    using std::erf;
    return static_cast<S>(a) * erf(static_cast<S>(b) * x) + static_cast<S>(c);
  }
  template <class S>
  S derivative(S x) const {
    using std::exp;
    using std::sqrt;
    const S bx = static_cast<S>(b) * x;
    return static_cast<S>(a * b) * (S(2) / sqrt(detail::pi<S>)) * exp(-bx * bx);
  }
  // Differentiable hyperparameters (core/hyperparameters.hpp).
  static constexpr std::array<std::string_view, 3> hyperparameter_names{"a", "b", "c"};
  static constexpr std::array<bool, 3> hyperparameter_log_scale{true, true, true};
  std::array<double, 3> hyperparameter_values() const { return {a, b, c}; }
  Erf with_hyperparameters(const std::array<double, 3>& h) const { return {h[0], h[1], h[2]}; }

  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    return moments_with(hyperparameter_values(), q11, q12, q22);
  }
  template <class T, class S>
  Moments<S> moments_with(const std::array<T, 3>& h, S q11, S q12, S q22) const {
    using E = detail::scalar_t<S>;
    const auto b2 = detail::param<S>(h[1] * h[1]);
    q11 *= b2;
    q12 *= b2;
    q22 *= b2;
    // D = √(1 + 2(q11 + q22) + 4s²) as a hypotenuse, so that it cannot overflow.
    const S d = detail::hypot_v(S(detail::sqrt_v(S(E(1) + E(2) * (q11 + q22)))),
                                S(E(2) * detail::covariance_sqrt_determinant(q11, q12, q22)));
    const auto a2 = detail::param<S>(h[0] * h[0]);
    return {S(a2 * (E(2) / detail::pi<E>)*detail::atan2_v(S(E(2) * q12), d) +
              detail::param<S>(h[2] * h[2])),
            S(a2 * b2 * (E(4) / detail::pi<E>) / d)};
  }
  template <class S>
  S variance(S q) const {
    return variance_with(hyperparameter_values(), q);
  }
  template <class T, class S>
  S variance_with(const std::array<T, 3>& h, S q) const {
    using std::atan2;
    using std::sqrt;
    using E = detail::scalar_t<S>;
    q *= detail::param<S>(h[1] * h[1]);
    return detail::param<S>(h[0] * h[0]) * (E(2) / detail::pi<E>)*atan2(q, sqrt(q + E(0.25))) +
           detail::param<S>(h[2] * h[2]);
  }
  void validate(const LayerSite& site) const {
    detail::require_finite(site, "a", a);
    detail::require_finite(site, "b", b);
    detail::require_finite(site, "c", c);
  }
  bool operator==(const Erf&) const = default;
};

/// neural-tangents' sigmoid-like activation `stax.Sigmoid_like()`: the Erf
/// φ(x) = ½·erf(x/2.4020563531719796) + ½, whose constant minimises the squared difference from
/// the logistic sigmoid on [−5, 5]. (The exact logistic is `Sigmoid`, with numerical kernels.)
struct SigmoidLike {
  static constexpr Erf erf{.a = 0.5, .b = 1 / 2.4020563531719796, .c = 0.5};
  static constexpr std::string_view name = "SigmoidLike";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    return erf.value(x);
  }
  template <class S>
  S derivative(S x) const {
    return erf.derivative(x);
  }
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    return erf.moments(q11, q12, q22);
  }
  template <class S>
  S variance(S q) const {
    return erf.variance(q);
  }
  void validate(const LayerSite&) const {}
  bool operator==(const SigmoidLike&) const = default;
};

}  // namespace tangent
