#pragma once
/// @file
/// φ(x) = exp(−x²)·sin x, the Gabor activation of neural-tangents (`stax.Gabor`).
///
/// Kernel rule (neural-tangents' closed form; both are Gaussian integrals of exponentials of
/// quadratic forms), for (u, v) ~ N(0, [[q11, q12], [q12, q22]]) with S = q11 + q22,
/// P = q11·q22:
///   diff = 4(P − q12²),  den = 2S + diff + 1,  num = S + diff + 2q12,
///   E[φ(u)φ(v)]   = e^{−num/(2den)}·(e^{2q12/den} − 1)/(2√den),
///   sh = 1 + 2S + 4(q12² + P),  dt = 4q12·(diff + 3S + 2),
///   E[φ'(u)φ'(v)] = ½·e^{−num/(2den)}·[(sh − dt) + e^{2q12/den}·(sh + dt)]/den^{5/2},
///   E[φ(u)²]      = (1 − e^{−2q/(1+4q)})/(2√(1 + 4q)).
/// Evaluated with two changes that are equal in exact arithmetic:
/// - diff = 4s² with s = √(P − q12²) from `covariance_sqrt_determinant`, free of the
///   cancellation of P − q12² for nearly parallel inputs;
/// - e^{2q12/den} − 1 = expm1(2q12/den), by its Taylor series: |2q12| ≤ 2√P ≤ S < den/2, so the
///   argument lies in (−½, ½), where 17 terms reach rounding. neural-tangents' exp(·) − 1
///   loses digits for small q12 (all of them below q12 ≈ 1e-16), where E[φ(u)φ(v)] ≈ q12.
///   The bracket becomes sh·(2 + expm1) + dt·expm1, a sum of two non-negative terms
///   (dt and expm1 both have the sign of q12).

#include <string_view>

#include "tangent/core/errors.hpp"
#include "tangent/core/math.hpp"
#include "tangent/core/moments.hpp"
#include "tangent/core/simd_math.hpp"

namespace tangent {
namespace detail {

/// eˣ − 1 for |x| ≤ ½ by its Taylor series x·(1 + x/2·(1 + x/3·(1 + …))) to x¹⁷/17!, whose
/// remainder is below 2^-68 of the result there. Scalar and lanes run the same operations.
template <class V>
V expm1_half_range(const V& x) {
  using S = scalar_t<V>;
  V sum = splat<V>(S(1));
  for (int k = 17; k >= 2; --k) sum = S(1) + x * sum * static_cast<S>(1.0 / k);
  return x * sum;
}

template <class V>
Moments<V> gabor_moments(const V& q11, const V& q12, const V& q22, const V& root11,
                         const V& root22) {
  using S = scalar_t<V>;
  const V s = covariance_sqrt_determinant(q11, q12, q22, root11, root22);
  const V diff = S(4) * s * s;
  const V sum = q11 + q22;
  const V den = S(2) * sum + diff + S(1);
  const V num = sum + diff + S(2) * q12;
  const V left = exp_v(V(-num / (S(2) * den)));
  const V right_minus_one = expm1_half_range(V(S(2) * q12 / den));
  const V root_den = sqrt_v(den);
  const V shared = S(1) + S(2) * sum + S(4) * (q12 * q12 + q11 * q22);
  const V dt = S(4) * q12 * (diff + S(3) * sum + S(2));
  const V bracket = shared * (S(2) + right_minus_one) + dt * right_minus_one;
  return {V(left * right_minus_one / (S(2) * root_den)),
          V(S(0.5) * left * bracket / (den * den * root_den))};
}

}  // namespace detail

/// φ(x) = exp(−x²)·sin x, with neural-tangents' closed-form kernel rule above.
struct Gabor {
  static constexpr std::string_view name = "Gabor";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    using std::exp;
    using std::sin;
    return exp(-x * x) * sin(x);
  }
  /// φ'(x) = exp(−x²)·(cos x − 2x·sin x).
  template <class S>
  S derivative(S x) const {
    using std::cos;
    using std::exp;
    using std::sin;
    return exp(-x * x) * (cos(x) - S(2) * x * sin(x));
  }
  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    return detail::gabor_moments(q11, q12, q22, detail::sqrt_v(q11), detail::sqrt_v(q22));
  }
  /// The same with √q11 and √q22 given (the kernel sweep computes them once per sample).
  template <class S>
  Moments<S> moments_rooted(S q11, S q12, S q22, S root11, S root22) const {
    return detail::gabor_moments(q11, q12, q22, root11, root22);
  }
  /// The diagonal q11 = q22 = q12 = q of the rule: s = 0, den = 1 + 4q, num = 4q.
  template <class S>
  S variance(S q) const {
    using std::sqrt;
    const S den = S(1) + S(4) * q;
    return -detail::expm1_half_range(S(-S(2) * q / den)) / (S(2) * sqrt(den));
  }
  void validate(const LayerSite&) const {}
  bool operator==(const Gabor&) const = default;
};

}  // namespace tangent
