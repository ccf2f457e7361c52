#pragma once
/// @file
/// The piecewise-linear activations φ(x) = a·min(x, 0) + b·max(x, 0): ABReLU and its special
/// cases ReLU (a = 0, b = 1), LeakyReLU (a = α, b = 1) and Abs (a = −1, b = 1).
///
/// Kernel rule (arc-cosine kernel; Cho & Saul 2009, and arXiv:1711.09090 for general a, b), for
/// (u, v) ~ N(0, [[q11, q12], [q12, q22]]):
///   s = √(q11·q22 − q12²),   θ = atan2(s, q12) ∈ [0, π]   (θ = π/2 when s = q12 = 0),
///   E[φ'(u)φ'(v)] = (a² + b²)/2 − (a − b)²·θ/(2π),
///   E[φ(u)φ(v)]   = (a − b)²·s/(2π) + E[φ'(u)φ'(v)]·q12,
///   E[φ(u)²]      = (a² + b²)/2 · q.
/// The θ = π/2 fill for a zero-variance input and the atan2 form follow neural-tangents.

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

#include "tangent/core/errors.hpp"
#include "tangent/core/hyperparameters.hpp"
#include "tangent/core/math.hpp"
#include "tangent/core/moments.hpp"

namespace tangent {
namespace detail {

/// `V` is a scalar or a group of lanes (simd_math.hpp); θ comes from atan2_v, the same
/// arithmetic for both. `root11`, `root22` are √q11, √q22.
/// `a` and `b` are doubles, or dual numbers carrying their derivatives (core/dual.hpp).
template <class T, class V>
Moments<V> abrelu_moments(const T& a, const T& b, const V& q11, const V& q12, const V& q22,
                          const V& root11, const V& root22) {
  using S = scalar_t<V>;
  const V s = covariance_sqrt_determinant(q11, q12, q22, root11, root22);
  // atan2_v(0, 0) is 0; neural-tangents fills π/2 there (a zero-variance input).
  const V theta = select(s == S(0) && q12 == S(0), splat<V>(pi<S> / S(2)), atan2_v(s, q12));
  const auto jump = param<V>((a - b) * (a - b)) / (S(2) * pi<S>);
  const auto slope = param<V>((a * a + b * b) / 2);
  const V expect_derivative = slope - jump * theta;
  return {V(jump * s + expect_derivative * q12), expect_derivative};
}

template <class T, class V>
Moments<V> abrelu_moments(const T& a, const T& b, const V& q11, const V& q12, const V& q22) {
  return abrelu_moments(a, b, q11, q12, q22, sqrt_v(q11), sqrt_v(q22));
}

/// a·min(x, 0) + b·max(x, 0); at x = 0 the derivative is (a + b)/2, the value JAX's autodiff
/// of min/max gives, so finite networks agree with neural-tangents there too.
template <class S>
S abrelu_value(double a, double b, S x) {
  return x < S(0) ? static_cast<S>(a) * x : static_cast<S>(b) * x;
}

template <class S>
S abrelu_derivative(double a, double b, S x) {
  if (x < S(0)) return static_cast<S>(a);
  if (x > S(0)) return static_cast<S>(b);
  return static_cast<S>((a + b) / 2);
}

}  // namespace detail

/// φ(x) = a·min(x, 0) + b·max(x, 0), with the arc-cosine kernel rule above.
struct ABReLU {
  double a = 0.0;  ///< slope for x < 0
  double b = 1.0;  ///< slope for x > 0

  static constexpr std::string_view name = "ABReLU";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    return detail::abrelu_value(a, b, x);
  }
  template <class S>
  S derivative(S x) const {
    return detail::abrelu_derivative(a, b, x);
  }
  // Differentiable hyperparameters (core/hyperparameters.hpp).
  static constexpr std::array<std::string_view, 2> hyperparameter_names{"a", "b"};
  std::array<double, 2> hyperparameter_values() const { return {a, b}; }
  ABReLU with_hyperparameters(const std::array<double, 2>& h) const { return {h[0], h[1]}; }

  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    return detail::abrelu_moments(a, b, q11, q12, q22);
  }
  /// The same with √q11 and √q22 given (the kernel sweep computes them once per sample).
  template <class S>
  Moments<S> moments_rooted(S q11, S q12, S q22, S root11, S root22) const {
    return detail::abrelu_moments(a, b, q11, q12, q22, root11, root22);
  }
  template <class T, class S>
  Moments<S> moments_with(const std::array<T, 2>& h, S q11, S q12, S q22, S root11,
                          S root22) const {
    return detail::abrelu_moments(h[0], h[1], q11, q12, q22, root11, root22);
  }
  template <class S>
  S variance(S q) const {
    return variance_with(hyperparameter_values(), q);
  }
  template <class T, class S>
  S variance_with(const std::array<T, 2>& h, S q) const {
    return detail::param<S>((h[0] * h[0] + h[1] * h[1]) / 2) * q;
  }
  void validate(const LayerSite& site) const {
    detail::require_finite(site, "a", a);
    detail::require_finite(site, "b", b);
  }
  bool operator==(const ABReLU&) const = default;
};

/// φ(x) = max(x, 0): ABReLU with a = 0, b = 1. With w_std² = 2 it preserves the variance (He).
struct ReLU {
  static constexpr std::string_view name = "ReLU";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    return detail::abrelu_value(0.0, 1.0, x);
  }
  template <class S>
  S derivative(S x) const {
    return detail::abrelu_derivative(0.0, 1.0, x);
  }
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    return detail::abrelu_moments(0.0, 1.0, q11, q12, q22);
  }
  /// The same with √q11 and √q22 given (the kernel sweep computes them once per sample).
  template <class S>
  Moments<S> moments_rooted(S q11, S q12, S q22, S root11, S root22) const {
    return detail::abrelu_moments(0.0, 1.0, q11, q12, q22, root11, root22);
  }
  template <class S>
  S variance(S q) const {
    return static_cast<S>(0.5) * q;
  }
  void validate(const LayerSite&) const {}
  bool operator==(const ReLU&) const = default;
};

/// φ(x) = max(x, 0) + α·min(x, 0): ABReLU with a = α, b = 1.
struct LeakyReLU {
  double alpha = 0.01;  ///< slope for x < 0

  static constexpr std::string_view name = "LeakyReLU";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  // Differentiable hyperparameters (core/hyperparameters.hpp).
  static constexpr std::array<std::string_view, 1> hyperparameter_names{"alpha"};
  std::array<double, 1> hyperparameter_values() const { return {alpha}; }
  LeakyReLU with_hyperparameters(const std::array<double, 1>& h) const { return {h[0]}; }

  template <class S>
  S value(S x) const {
    return detail::abrelu_value(alpha, 1.0, x);
  }
  template <class S>
  S derivative(S x) const {
    return detail::abrelu_derivative(alpha, 1.0, x);
  }
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    return detail::abrelu_moments(alpha, 1.0, q11, q12, q22);
  }
  /// The same with √q11 and √q22 given (the kernel sweep computes them once per sample).
  template <class S>
  Moments<S> moments_rooted(S q11, S q12, S q22, S root11, S root22) const {
    return detail::abrelu_moments(alpha, 1.0, q11, q12, q22, root11, root22);
  }
  template <class T, class S>
  Moments<S> moments_with(const std::array<T, 1>& h, S q11, S q12, S q22, S root11,
                          S root22) const {
    return detail::abrelu_moments(h[0], T(1.0), q11, q12, q22, root11, root22);
  }
  template <class S>
  S variance(S q) const {
    return variance_with(hyperparameter_values(), q);
  }
  template <class T, class S>
  S variance_with(const std::array<T, 1>& h, S q) const {
    return detail::param<S>((h[0] * h[0] + 1.0) / 2) * q;
  }
  void validate(const LayerSite& site) const { detail::require_finite(site, "alpha", alpha); }
  bool operator==(const LeakyReLU&) const = default;
};

/// φ(x) = |x|: ABReLU with a = −1, b = 1. Its derivative at 0 is 0.
struct Abs {
  static constexpr std::string_view name = "Abs";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    return detail::abrelu_value(-1.0, 1.0, x);
  }
  template <class S>
  S derivative(S x) const {
    return detail::abrelu_derivative(-1.0, 1.0, x);
  }
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    return detail::abrelu_moments(-1.0, 1.0, q11, q12, q22);
  }
  /// The same with √q11 and √q22 given (the kernel sweep computes them once per sample).
  template <class S>
  Moments<S> moments_rooted(S q11, S q12, S q22, S root11, S root22) const {
    return detail::abrelu_moments(-1.0, 1.0, q11, q12, q22, root11, root22);
  }
  template <class S>
  S variance(S q) const {
    return q;
  }
  void validate(const LayerSite&) const {}
  bool operator==(const Abs&) const = default;
};

}  // namespace tangent
