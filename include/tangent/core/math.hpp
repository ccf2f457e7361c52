#pragma once
/// @file
/// Numerical helpers shared by the closed-form kernel rules.

#include <cmath>
#include <type_traits>

#include "tangent/core/simd_math.hpp"

namespace tangent::detail {

/// π in the precision of `S`.
template <class S>
inline constexpr S pi = static_cast<S>(3.141592653589793238462643383279502884L);

/// √2 and √(2π) in the precision of `S` (the standard normal density is e^(−x²/2)/√(2π)).
template <class S>
inline constexpr S sqrt2 = static_cast<S>(1.414213562373095048801688724209698079L);
template <class S>
inline constexpr S sqrt_2pi = static_cast<S>(2.506628274631000502415765284811045253L);

/// xⁿ for n ≥ 0 by repeated squaring (1 for n = 0, also at x = 0, as numpy's 0**0).
template <class V>
V power_v(V x, int n) {
  V result = splat<V>(scalar_t<V>(1));
  while (n > 0) {
    if (n & 1) result = result * x;
    n >>= 1;
    if (n > 0) x = x * x;
  }
  return result;
}

/// (2n − 1)!! = 1·3·5···(2n − 1), the Gaussian moment E[z^{2n}]; 1 for n = 0.
inline double double_factorial_odd(int n) {
  double result = 1.0;
  for (int k = 1; k <= n; ++k) result *= 2.0 * k - 1.0;
  return result;
}

/// s = √(q11·q22 − q12²), the square root of the determinant of a pair's 2×2 covariance
/// (√det = √(q11·q22)·sin θ), clamped at 0.
///
/// With d = √q11·√q22 it is evaluated as √((d − q12)·(d + q12)), never forming q11·q22 or q12²:
/// - while both variances lie in [2^-400, 2^400] (2^±50 in float) the product (d − q12)(d + q12)
///   neither overflows nor leaves the normal range; outside it the two factors' square roots are
///   multiplied instead, √(d − q12)·√(d + q12), so s never overflows or underflows while the
///   variances themselves are representable (q11·q22 would at 1e154 or 1e-162 in double, at 1e19
///   or 1e-19 in float). Which form an entry takes depends on its own variances only;
/// - with d = q11 when q11 = q22, identical inputs (q12 = q11 = q22) give exactly 0, whatever
///   the compiler contracts to FMA, which makes their angle exactly 0;
/// - it is as accurate as q11·q22 − q12²: d − q12 is exact when the two are close (Sterbenz).
///
/// `V` is a scalar or a group of lanes (simd_math.hpp); `root11` and `root22` are √q11 and √q22
/// (correctly rounded), which callers that meet the same variance many times compute once.
template <class V>
V covariance_sqrt_determinant(const V& q11, const V& q12, const V& q22, const V& root11,
                              const V& root22) {
  using S = scalar_t<V>;
  constexpr S lo = std::is_same_v<S, double> ? S(0x1p-400) : S(0x1p-50);
  constexpr S hi = std::is_same_v<S, double> ? S(0x1p400) : S(0x1p50);
  const V d = select(q11 == q22, q11, V(root11 * root22));
  const V below = max_v(V(d - q12), splat<V>(S(0)));
  const V above = max_v(V(d + q12), splat<V>(S(0)));
  const V product_form = sqrt_v(V(below * above));
  const auto in_range = q11 > lo && q22 > lo && q11 < hi && q22 < hi;
  if (all_of(in_range)) return product_form;
  return select(in_range, product_form, V(sqrt_v(below) * sqrt_v(above)));
}

template <class V>
V covariance_sqrt_determinant(const V& q11, const V& q12, const V& q22) {
  return covariance_sqrt_determinant(q11, q12, q22, sqrt_v(q11), sqrt_v(q22));
}

}  // namespace tangent::detail
