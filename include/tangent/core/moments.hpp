#pragma once
/// @file
/// The two Gaussian expectations that define an activation's kernel rule.

#include "tangent/core/config.hpp"

namespace tangent {

/// For (u, v) ~ N(0, [[q11, q12], [q12, q22]]) and an activation φ:
/// `expect` = E[φ(u)φ(v)] (the next NNGP entry) and
/// `expect_derivative` = E[φ'(u)φ'(v)] (the factor that multiplies the NTK entry).
template <class S>
struct Moments {
  S expect;
  S expect_derivative;
};

namespace detail {

/// An activation's Moments of one entry or packet, from √q11 and √q22 when it can use them
/// (`moments_rooted`, saving two square roots per entry), else from the variances alone. Both
/// sweeps call it: the feature-vector entries and the spatial blocks.
template <class A, class V>
TANGENT_INLINE Moments<V> rooted_moments(const A& activation, const V& q11, const V& q12,
                                         const V& q22, const V& root11, const V& root22) {
  if constexpr (requires { activation.moments_rooted(q11, q12, q22, root11, root22); }) {
    return activation.moments_rooted(q11, q12, q22, root11, root22);
  } else {
    return activation.moments(q11, q12, q22);
  }
}

}  // namespace detail

}  // namespace tangent
