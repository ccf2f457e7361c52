#pragma once
/// @file
/// Numerical helpers shared by the closed-form kernel rules.

#include <cmath>

namespace tangent::detail {

/// π in the precision of `S`.
template <class S>
inline constexpr S pi = static_cast<S>(3.141592653589793238462643383279502884L);

/// q11·q22 − q12², the determinant of the 2×2 covariance of a pair, clamped at 0.
///
/// It is computed as (d − q12)(d + q12) with d = √(q11·q22) rather than as q11·q22 − q12²: the
/// two are equal in exact arithmetic and equally accurate, but this form gives exactly 0 when
/// q12 = q11 = q22 (√(q·q) = q in IEEE arithmetic) even where the compiler contracts to FMA.
/// That is what makes the angle between identical inputs exactly 0.
template <class S>
S covariance_determinant(S q11, S q12, S q22) {
  using std::sqrt;
  const S d = sqrt(q11 * q22);
  const S det = (d - q12) * (d + q12);
  return det > S(0) ? det : S(0);
}

}  // namespace tangent::detail
