#pragma once
/// @file
/// Numerical helpers shared by the closed-form kernel rules.

#include <cmath>

#include "tangent/core/simd_math.hpp"

namespace tangent::detail {

/// π in the precision of `S`.
template <class S>
inline constexpr S pi = static_cast<S>(3.141592653589793238462643383279502884L);

/// s = √(q11·q22 − q12²), the square root of the determinant of a pair's 2×2 covariance
/// (√det = √(q11·q22)·sin θ), clamped at 0.
///
/// It is evaluated as √(d − q12)·√(d + q12) with d = √q11·√q22, never forming q11·q22 or q12²:
/// - it neither overflows nor underflows while the variances themselves are representable
///   (q11·q22 would at 1e154 or 1e-162 in double, at 1e19 or 1e-19 in float);
/// - with d = q11 when q11 = q22, identical inputs (q12 = q11 = q22) give exactly 0, whatever
///   the compiler contracts to FMA, which makes their angle exactly 0;
/// - it is as accurate as q11·q22 − q12²: d − q12 is exact when the two are close (Sterbenz).
///
/// `V` is a scalar or a group of lanes (simd_math.hpp).
template <class V>
V covariance_sqrt_determinant(const V& q11, const V& q12, const V& q22) {
  using S = scalar_t<V>;
  const V d = select(q11 == q22, q11, V(sqrt_v(q11) * sqrt_v(q22)));
  const V below = d - q12;
  const V above = d + q12;
  return select(below > S(0) && above > S(0), V(sqrt_v(below) * sqrt_v(above)), splat<V>(S(0)));
}

}  // namespace tangent::detail
