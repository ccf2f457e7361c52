#pragma once
/// @file
/// φ(x) = xⁿ for x ≥ 0 and 0 for x < 0 (neural-tangents' `RectifiedMonomial`, `(x >= 0)·x**n`):
/// the step function (n = 0), ReLU (n = 1), rectified square (n = 2), …
///
/// Kernel rule: the arc-cosine kernel of degree n (Cho & Saul 2009, "Kernel Methods for Deep
/// Learning"). For (u, v) ~ N(0, [[q11, q12], [q12, q22]]), with P = q11·q22,
/// s = √(P − q12²), θ = atan2(s, q12) ∈ [0, π] (π/2 when s = q12 = 0, as neural-tangents' and
/// ABReLU's fill), L = π − θ, c = cos θ = q12/√P:
///   E[u₊ⁿv₊ⁿ] = (√P)ⁿ·(n!/(4π))·Σ_{k=0..n} C(n, k)·c^{n−k}·I_k,
///   I_k = ∫_{−L}^{L} cos^k β dβ:  I_0 = 2L,  I_1 = 2 sin L = 2 sin θ,
///   I_k = 2cos^{k−1}(L)·sin(L)/k + ((k − 1)/k)·I_{k−2},  cos L = −c.
/// Derivation: in polar coordinates of the whitened pair the radial integral
/// ∫ r^{2n+1} e^{−r²/2} dr is 2ⁿ·n!, both are positive on an arc of length L, and there
/// cos α·cos(α − θ) = (c + cos β)/2 with β = 2α − θ ∈ (−L, L); expand the n-th power binomially.
/// The powers of √P are multiplied in, (√P)ⁿ·c^{n−k}·I_k = q12^{n−k}·J_k with J_k = (√P)^k·I_k:
///   J_0 = 2L,  J_1 = 2s,  J_k = 2(−q12)^{k−1}·s/k + ((k − 1)/k)·P·J_{k−2},
/// which has no division by √P or sin θ, so it is finite for zero variances (neural-tangents'
/// arccos(q12/√P) is NaN there) and for equal inputs, θ = 0 (neural-tangents differentiates
/// (π − θ)/sin θ by autodiff and returns NaN for every same-sample entry). Then
///   E[φ(u)φ(v)]   = (n!/(4π))·Σ_k C(n, k)·q12^{n−k}·J_k,
///   E[φ'(u)φ'(v)] = n²·(the same for degree n − 1)   (0 for n = 0),
///   E[φ(u)²]      = (2n − 1)!!·qⁿ/2.
/// n = 0 gives (π − θ)/(2π) and n = 1 ReLU's (s + (π − θ)·q12)/(2π).
///
/// With a zero-variance input u ≡ 0 the θ = π/2 fill gives E[φ(u)φ(v)] = ¼ for n = 0, whatever
/// v is: the step taken as ½ at 0 (as ReLU's derivative there), so `variance(0)` is ¼ as well.
/// The finite step function, 1 at x = 0 as neural-tangents' `(x >= 0)`, would give ½ (and 1 for
/// E[φ(u)²]); neural-tangents' kernel returns NaN there (arccos(0/0)). For n = 1 the same fill
/// makes E[φ'(u)φ'(v)] = ¼ (ReLU's), where the finite derivative at 0 below is 1. For n ≥ 2
/// every term vanishes and there is no ambiguity.

#include <string>
#include <string_view>

#include "tangent/core/errors.hpp"
#include "tangent/core/math.hpp"
#include "tangent/core/moments.hpp"
#include "tangent/core/simd_math.hpp"

namespace tangent {
namespace detail {

/// E[u₊ⁿv₊ⁿ] by the sum above, from q12, P = q11·q22, s and L = π − θ; 0 for n < 0.
template <class V>
V rectified_monomial_expect(int n, const V& q12, const V& p, const V& s, const V& lune) {
  using S = scalar_t<V>;
  if (n < 0) return splat<V>(S(0));
  // Horner in q12 over k = 0..n: acc ← acc·q12 + C(n, k)·J_k leaves C(n, k)·J_k·q12^{n−k}.
  V j_before = S(2) * lune;  // J_{k−2}, starting at J_0
  V j_last = S(2) * s;       // J_{k−1}, starting at J_1
  V acc = j_before;
  double binomial = 1.0;  // C(n, k)
  if (n >= 1) {
    binomial = n;
    acc = acc * q12 + static_cast<S>(binomial) * j_last;
  }
  V minus_q12_power = splat<V>(S(1));  // (−q12)^{k−1}
  for (int k = 2; k <= n; ++k) {
    minus_q12_power = minus_q12_power * (-q12);
    const V j = static_cast<S>(2.0 / k) * minus_q12_power * s +
                static_cast<S>(static_cast<double>(k - 1) / k) * p * j_before;
    binomial = binomial * (n - k + 1) / k;
    acc = acc * q12 + static_cast<S>(binomial) * j;
    j_before = j_last;
    j_last = j;
  }
  double factorial = 1.0;
  for (int k = 2; k <= n; ++k) factorial *= k;
  return static_cast<S>(factorial / (4.0 * pi<double>)) * acc;
}

template <class V>
Moments<V> rectified_monomial_moments(int n, const V& q11, const V& q12, const V& q22,
                                      const V& root11, const V& root22) {
  using S = scalar_t<V>;
  const V s = covariance_sqrt_determinant(q11, q12, q22, root11, root22);
  // atan2_v(0, 0) is 0; the fill π/2 for a zero-variance input is ABReLU's (abrelu.hpp).
  const V theta = select(s == S(0) && q12 == S(0), splat<V>(pi<S> / S(2)), atan2_v(s, q12));
  const V lune = pi<S> - theta;
  const V p = q11 * q22;
  return {rectified_monomial_expect(n, q12, p, s, lune),
          V(static_cast<S>(n * n) * rectified_monomial_expect(n - 1, q12, p, s, lune))};
}

}  // namespace detail

/// φ(x) = xⁿ for x ≥ 0, 0 for x < 0, with the arc-cosine kernel rule above.
struct RectifiedMonomial {
  /// The largest degree accepted: beyond about 150, (2n − 1)!! and the sum's terms overflow
  /// double even for unit variances, and n! overflows at 171 (∞·0 = NaN for a zero variance).
  static constexpr int max_degree = 100;

  int degree = 1;  ///< n ≥ 0

  static constexpr std::string_view name = "RectifiedMonomial";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  /// (x ≥ 0)·xⁿ: 1 at x = 0 for n = 0, as neural-tangents' (0 ≥ 0)·0**0.
  template <class S>
  S value(S x) const {
    return x < S(0) ? S(0) : detail::power_v(x, degree);
  }
  /// n·x^{n−1} for x > 0, 0 for x < 0. At x = 0: 1 for n = 1 and 0 otherwise, what JAX's
  /// autodiff of (x ≥ 0)·xⁿ gives (the step contributes nothing), so finite networks agree with
  /// neural-tangents' empirical kernels there. (ReLU takes ½ at 0 instead; abrelu.hpp.)
  template <class S>
  S derivative(S x) const {
    if (degree == 0 || x < S(0)) return S(0);
    return static_cast<S>(degree) * detail::power_v(x, degree - 1);
  }
  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    return detail::rectified_monomial_moments(degree, q11, q12, q22, detail::sqrt_v(q11),
                                              detail::sqrt_v(q22));
  }
  /// The same with √q11 and √q22 given (the kernel sweep computes them once per sample).
  template <class S>
  Moments<S> moments_rooted(S q11, S q12, S q22, S root11, S root22) const {
    return detail::rectified_monomial_moments(degree, q11, q12, q22, root11, root22);
  }
  /// (2n − 1)!!·qⁿ/2; for n = 0 at q = 0, ¼, the diagonal `moments(0, 0, 0)` gives with the
  /// θ = π/2 fill, so that a zero-variance sample's variance and its NNGP diagonal agree.
  template <class S>
  S variance(S q) const {
    if (degree == 0 && q == S(0)) return S(0.25);
    return static_cast<S>(detail::double_factorial_odd(degree) / 2) * detail::power_v(q, degree);
  }
  void validate(const LayerSite& site) const {
    if (degree < 0 || degree > max_degree) {
      detail::fail_layer(site, "degree must be an integer from 0 to " + std::to_string(max_degree) +
                                   ", got " + std::to_string(degree));
    }
  }
  bool operator==(const RectifiedMonomial&) const = default;
};

}  // namespace tangent
