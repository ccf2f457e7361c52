#pragma once
/// @file
/// φ(x) = x·Φ(x), the exact GELU (Hendrycks & Gimpel 2016), with the kernel of Tsuchida, Pearce,
/// van der Heide, Roosta & Gallagher 2021 ("Avoiding kernel fixed points: computing with ELU and
/// GELU infinite networks", arXiv:2002.08517), in neural-tangents' form (`stax.Gelu`):
///   P = q11·q22,  P₁ = (1 + q11)(1 + q22),  δ² = P₁ − q12²,  α = atan2(q12, δ),
///   E[φ(u)φ(v)]   = q12/4 + [(q12² + P·δ²)/(P₁·δ) + q12·α]/(2π),
///   E[φ'(u)φ'(v)] = 1/4 + α/(2π) + q12/(2π·δ)·(1/δ² + (1 − P)/P₁ + 1),
///   E[φ(u)²]      = q·(1/4 + [q/((1 + q)√(1 + 2q)) + atan2(q, √(1 + 2q))/2]/π).
/// δ² is evaluated as 1 + q11 + q22 + (q11·q22 − q12²) with the determinant from
/// `covariance_sqrt_determinant`, free of the cancellation of P₁ − q12² for nearly equal inputs,
/// and δ² ≥ 1, so every form is finite for all covariances. The variance is the rule at
/// q11 = q12 = q22, where the angle is exactly 0.
/// (neural-tangents' `approximate=True` changes only its finite network, to a tanh form whose
/// kernel is not this one; tangent keeps the kernel and the finite network the same function.)

#include <cmath>
#include <string_view>

#include "tangent/core/errors.hpp"
#include "tangent/core/math.hpp"
#include "tangent/core/moments.hpp"
#include "tangent/core/simd_math.hpp"

namespace tangent {

/// φ(x) = x·Φ(x) with Φ the standard normal distribution function.
struct Gelu {
  static constexpr std::string_view name = "Gelu";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    using std::erfc;
    return x * (S(0.5) * erfc(-x / detail::sqrt2<S>));
  }
  /// φ'(x) = Φ(x) + x·N(x; 0, 1).
  template <class S>
  S derivative(S x) const {
    using std::erfc;
    using std::exp;
    return S(0.5) * erfc(-x / detail::sqrt2<S>) + x * exp(-x * x / S(2)) / detail::sqrt_2pi<S>;
  }
  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    using E = detail::scalar_t<S>;
    constexpr E two_pi = E(2) * detail::pi<E>;
    const S s = detail::covariance_sqrt_determinant(q11, q12, q22);
    const S p = q11 * q22;
    const S p1 = (E(1) + q11) * (E(1) + q22);
    const S delta2 = E(1) + q11 + q22 + s * s;
    const S delta = detail::sqrt_v(delta2);
    const S alpha = detail::atan2_v(q12, delta);
    const S expect = q12 / E(4) + ((q12 * q12 + p * delta2) / (p1 * delta) + q12 * alpha) / two_pi;
    const S expect_derivative = E(0.25) + alpha / two_pi +
                                q12 / (two_pi * delta) * (E(1) / delta2 + (E(1) - p) / p1 + E(1));
    return {expect, expect_derivative};
  }
  template <class S>
  S variance(S q) const {
    return moments(q, q, q).expect;
  }
  void validate(const LayerSite&) const {}
  bool operator==(const Gelu&) const = default;
};

}  // namespace tangent
