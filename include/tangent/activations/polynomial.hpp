#pragma once
/// @file
/// Polynomial activations: `Monomial` (φ = xⁿ), `Polynomial` (φ = Σ c_k x^k) and `Hermite`
/// (φ = He_n(x)/√(n!)), neural-tangents' `stax.Monomial`, `stax.Polynomial` and `stax.Hermite`.
///
/// For (u, v) ~ N(0, [[q11, q12], [q12, q22]]) write u = √q11·z₁, v = √q22·z₂ with
/// corr(z₁, z₂) = ρ. Mehler's expansion (the Hermite polynomials He_l are orthogonal under a
/// correlated Gaussian pair, E[He_l(z₁)He_m(z₂)] = l!·ρ^l·δ_lm; e.g. O'Donnell, "Analysis of
/// Boolean Functions", §11.2) together with x^k = Σ_i k!/(2^i·i!·(k − 2i)!)·He_{k−2i}(x) gives
/// the kernel of any polynomial as a polynomial in (q11, q12, q22), with
///   s_l(q) = Σ_i c_{2i+l}·(2i + l)!/(2^i·i!·√(l!))·q^i:
///   E[φ(u)φ(v)]   = Σ_l s_l(q11)·s_l(q22)·q12^l,
///   E[φ'(u)φ'(v)] = ∂/∂q12 of the same (Price's theorem) = Σ_{l≥1} l·s_l(q11)·s_l(q22)·q12^{l−1},
///   E[φ(u)²]      = Σ_l s_l(q)²·q^l.
/// neural-tangents evaluates the same sum through the correlation q12/√(q11·q22), which is NaN
/// when a variance is 0; the form above has no division or square root, so it is finite for
/// every covariance.

#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tangent/core/errors.hpp"
#include "tangent/core/math.hpp"
#include "tangent/core/moments.hpp"
#include "tangent/core/simd_math.hpp"

namespace tangent {
namespace detail {

/// E[u^n·v^n] for (u, v) ~ N(0, [[q11, q12], [q12, q22]]) and n = 0..5, with p = q11·q22
/// (Isserlis' theorem); 0 for n = −1, so that n²·monomial_expect(n − 1) is E[φ'(u)φ'(v)].
template <class V>
V monomial_expect(int n, const V& q12, const V& p) {
  using S = scalar_t<V>;
  const V q12_sq = q12 * q12;
  switch (n) {
    case 0:
      return splat<V>(S(1));
    case 1:
      return q12;
    case 2:
      return S(2) * q12_sq + p;
    case 3:
      return q12 * (S(6) * q12_sq + S(9) * p);
    case 4:
      return S(3) * (S(8) * q12_sq * q12_sq + S(3) * p * (S(8) * q12_sq + p));
    case 5:
      return S(15) * q12 * (S(8) * q12_sq * q12_sq + S(5) * p * (S(8) * q12_sq + S(3) * p));
    default:
      return splat<V>(S(0));
  }
}

}  // namespace detail

/// φ(x) = xⁿ for n = 0..5 (the degrees neural-tangents' `Monomial` accepts; use `Polynomial`
/// for others). Kernel rule, P = q11·q22 (Isserlis' theorem):
///   E[φ(u)φ(v)] = 1; q12; 2q12² + P; 6q12³ + 9q12·P; 3(8q12⁴ + 3P(8q12² + P));
///                 15q12(8q12⁴ + 5P(8q12² + 3P))   for n = 0..5,
///   E[φ'(u)φ'(v)] = n²·(the same for n − 1)   (0 for n = 0),
///   E[φ(u)²] = (2n − 1)!!·qⁿ.
struct Monomial {
  int degree = 1;  ///< n, in 0..5

  static constexpr std::string_view name = "Monomial";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    return detail::power_v(x, degree);
  }
  /// n·x^{n−1}; 0 for n = 0.
  template <class S>
  S derivative(S x) const {
    if (degree == 0) return S(0);
    return static_cast<S>(degree) * detail::power_v(x, degree - 1);
  }
  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    using E = detail::scalar_t<S>;
    const S p = q11 * q22;
    return {detail::monomial_expect(degree, q12, p),
            S(static_cast<E>(degree * degree) * detail::monomial_expect(degree - 1, q12, p))};
  }
  template <class S>
  S variance(S q) const {
    return static_cast<S>(detail::double_factorial_odd(degree)) * detail::power_v(q, degree);
  }
  void validate(const LayerSite& site) const {
    if (degree < 0 || degree > 5) {
      detail::fail_layer(site,
                         "degree must be an integer from 0 to 5 (as neural-tangents' "
                         "Monomial), got " +
                             std::to_string(degree) + "; use Polynomial for other degrees");
    }
  }
  bool operator==(const Monomial&) const = default;
};

/// φ(x) = coef[0] + coef[1]·x + … + coef[n]·xⁿ (numpy's and neural-tangents' order), with the
/// Mehler kernel rule of this file's header. No coefficients is the zero function.
///
/// At most `max_degree` + 1 = 33 coefficients (checked by `validate`): each call builds the
/// coefficients of s_l in a fixed buffer on the stack instead of allocating, and beyond that
/// degree the factorials and the powers of q in the kernel leave the useful range of double.
/// Cost per entry: O(n²/2) scalar operations for the coefficient tables and two Horner sums of
/// O(n²/4) lane operations for s_l(q11), s_l(q22).
struct Polynomial {
  static constexpr int max_degree = 32;

  std::vector<double> coef;  ///< coef[k] multiplies x^k

  static constexpr std::string_view name = "Polynomial";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    S result = S(0);
    for (std::size_t k = coef.size(); k-- > 0;) result = result * x + static_cast<S>(coef[k]);
    return result;
  }
  template <class S>
  S derivative(S x) const {
    S result = S(0);
    for (std::size_t k = coef.size(); k-- > 1;) {
      result = result * x + static_cast<S>(static_cast<double>(k) * coef[k]);
    }
    return result;
  }
  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    using E = detail::scalar_t<S>;
    S expect = detail::splat<S>(E(0));
    S expect_derivative = detail::splat<S>(E(0));
    // Both sums are polynomials in q12 with coefficients s_l(q11)·s_l(q22): Horner from the top l.
    for_each_order([&](int l, const double* a, int terms) {
      const S product = series(a, terms, q11) * series(a, terms, q22);
      expect = expect * q12 + product;
      if (l > 0) expect_derivative = expect_derivative * q12 + static_cast<E>(l) * product;
    });
    return {expect, expect_derivative};
  }
  template <class S>
  S variance(S q) const {
    S result = S(0);
    for_each_order([&](int, const double* a, int terms) {
      const S s = series(a, terms, q);
      result = result * q + s * s;
    });
    return result;
  }
  void validate(const LayerSite& site) const {
    if (coef.size() > static_cast<std::size_t>(max_degree) + 1) {
      detail::fail_layer(site, "coef has " + std::to_string(coef.size()) +
                                   " coefficients, more than the " +
                                   std::to_string(max_degree + 1) +
                                   " (degree 32) supported; drop trailing zeros or lower the "
                                   "degree");
    }
    for (std::size_t k = 0; k < coef.size(); ++k) {
      detail::require_finite(site, "coef[" + std::to_string(k) + "]", coef[k]);
    }
  }
  bool operator==(const Polynomial&) const = default;

 private:
  /// Calls f(l, a, terms) for l = n, n − 1, …, 0, where a[i] = c_{2i+l}·(2i + l)!/(2^i·i!·√(l!))
  /// for i < terms are the coefficients of s_l (so s_l(q) = Σ_i a[i]·q^i).
  template <class F>
  void for_each_order(F&& f) const {
    const int n = static_cast<int>(coef.size()) - 1;
    if (n < 0) return;
    // validate() refuses these before any kernel runs; a direct call must not overrun `a`.
    if (n > max_degree) {
      detail::fail("Polynomial", "at most " + std::to_string(max_degree + 1) +
                                     " coefficients are supported, got " +
                                     std::to_string(coef.size()));
    }
    std::array<double, max_degree / 2 + 1> a{};
    double factorial_l = 1.0;  // l!, from n! down
    for (int k = 2; k <= n; ++k) factorial_l *= k;
    for (int l = n; l >= 0; --l) {
      const int terms = (n - l) / 2 + 1;
      // (2i + l)!/(2^i·i!·√(l!)) from i to i + 1 gains (2i + l + 1)(2i + l + 2)/(2(i + 1)).
      double weight = std::sqrt(factorial_l);
      for (int i = 0; i < terms; ++i) {
        const int k = 2 * i + l;
        a[static_cast<std::size_t>(i)] = coef[static_cast<std::size_t>(k)] * weight;
        weight *= static_cast<double>((2 * i + l + 1) * (2 * i + l + 2)) / (2.0 * (i + 1));
      }
      f(l, a.data(), terms);
      if (l > 0) factorial_l /= l;
    }
  }
  /// Σ_{i < terms} a[i]·q^i by Horner.
  template <class S>
  static S series(const double* a, int terms, const S& q) {
    using E = detail::scalar_t<S>;
    S result = detail::splat<S>(static_cast<E>(a[terms - 1]));
    for (int i = terms - 2; i >= 0; --i) result = result * q + static_cast<E>(a[i]);
    return result;
  }
};

/// φ(x) = He_n(x)/√(n!), the probabilists' Hermite polynomial of degree n normalised to unit
/// norm under N(0, 1) (neural-tangents' `Hermite`). Kernel rule, exactly neural-tangents':
///   E[φ(u)φ(v)] = q12ⁿ,   E[φ'(u)φ'(v)] = n·q12^{n−1} (0 for n = 0),   E[φ(u)²] = qⁿ.
/// These are Mehler's formula for unit variances (q11 = q22 = 1); neural-tangents assumes
/// inputs of unit variance (for instance after LayerNorm) and applies the formula whatever
/// the variances are. For other variances it is that formula and not the expectation of the
/// finite network's φ (`Polynomial` with He_n's coefficients gives the latter).
struct Hermite {
  int degree = 1;  ///< n ≥ 0

  static constexpr std::string_view name = "Hermite";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  /// By the recurrence of h_k = He_k/√(k!): h_{k+1} = (x·h_k − √k·h_{k−1})/√(k + 1), which
  /// never forms n! (it overflows double for n > 170).
  template <class S>
  S value(S x) const {
    using std::sqrt;
    if (degree == 0) return S(1);
    S previous = S(1);
    S current = x;
    for (int k = 1; k < degree; ++k) {
      const S next =
          (x * current - sqrt(static_cast<S>(k)) * previous) / sqrt(static_cast<S>(k + 1));
      previous = current;
      current = next;
    }
    return current;
  }
  /// He_n' = n·He_{n−1}, so φ' = √n·He_{n−1}/√((n − 1)!).
  template <class S>
  S derivative(S x) const {
    using std::sqrt;
    if (degree == 0) return S(0);
    return sqrt(static_cast<S>(degree)) * Hermite{.degree = degree - 1}.value(x);
  }
  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <class S>
  Moments<S> moments(S, S q12, S) const {
    using E = detail::scalar_t<S>;
    if (degree == 0) return {detail::splat<S>(E(1)), detail::splat<S>(E(0))};
    return {detail::power_v(q12, degree),
            S(static_cast<E>(degree) * detail::power_v(q12, degree - 1))};
  }
  template <class S>
  S variance(S q) const {
    return detail::power_v(q, degree);
  }
  void validate(const LayerSite& site) const {
    if (degree < 0) {
      detail::fail_layer(site,
                         "degree must be a non-negative integer, got " + std::to_string(degree));
    }
  }
  bool operator==(const Hermite&) const = default;
};

}  // namespace tangent
