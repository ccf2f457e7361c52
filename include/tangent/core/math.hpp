#pragma once
/// @file
/// Numerical helpers shared by the closed-form kernel rules.

#include <cmath>

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
template <class S>
S covariance_sqrt_determinant(S q11, S q12, S q22) {
  using std::sqrt;
  const S d = q11 == q22 ? q11 : sqrt(q11) * sqrt(q22);
  const S below = d - q12;
  const S above = d + q12;
  return below > S(0) && above > S(0) ? sqrt(below) * sqrt(above) : S(0);
}

}  // namespace tangent::detail
