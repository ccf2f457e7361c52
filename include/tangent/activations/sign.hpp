#pragma once
/// @file
/// φ(x) = sign(x) (neural-tangents `stax.Sign`). With θ the angle between the pair, as for the
/// ReLU family (θ = atan2(s, q12), s = √(q11·q22 − q12²), θ = π/2 when s = q12 = 0):
///   E[φ(u)φ(v)] = 1 − 2θ/π   (Sheppard's formula: P(u, v of equal sign) = 1 − θ/π),
///   E[φ'(u)φ'(v)] = 0         (φ' = 0 almost everywhere, so the NTK after Sign vanishes),
///   E[φ(u)²] = 1 for q > 0, and 0 for q = 0 (u ≡ 0 and sign(0) = 0).
/// A zero-variance input meets the π/2 fill: E[φ(u)φ(v)] = 0 exactly, as sign(0)·E[sign v] = 0.

#include <string_view>

#include "tangent/core/errors.hpp"
#include "tangent/core/math.hpp"
#include "tangent/core/moments.hpp"
#include "tangent/core/simd_math.hpp"

namespace tangent {

/// φ(x) = sign(x) ∈ {−1, 0, 1}.
struct Sign {
  static constexpr std::string_view name = "Sign";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    return x > S(0) ? S(1) : (x < S(0) ? S(-1) : S(0));
  }
  /// 0 everywhere, as JAX differentiates sign (the jump at 0 carries no gradient).
  template <class S>
  S derivative(S) const {
    return S(0);
  }
  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    using E = detail::scalar_t<S>;
    const S s = detail::covariance_sqrt_determinant(q11, q12, q22);
    const S theta = detail::select(s == E(0) && q12 == E(0), detail::splat<S>(detail::pi<E> / E(2)),
                                   detail::atan2_v(s, q12));
    return {S(E(1) - E(2) / detail::pi<E> * theta), detail::splat<S>(E(0))};
  }
  template <class S>
  S variance(S q) const {
    return q > S(0) ? S(1) : S(0);
  }
  void validate(const LayerSite&) const {}
  bool operator==(const Sign&) const = default;
};

}  // namespace tangent
