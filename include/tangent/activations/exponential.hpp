#pragma once
/// @file
/// Exponential activations: φ(x) = a·e^{b·x} (`Exp`), φ(x) = a·e^{b·x²} (`Gaussian`), and the
/// kernel-only `ExpNormalized` (neural-tangents `stax.Exp`, `stax.Gaussian`, `stax.ExpNormalized`).
///
/// Exp, from the moment generating function of u + v (S = q11 + q22):
///   E[φ(u)φ(v)] = a²·e^{b²(S/2 + q12)},  E[φ'(u)φ'(v)] = a²b²·e^{b²(S/2 + q12)},
///   E[φ(u)²] = a²·e^{2b²q}.
/// Gaussian, from the Gaussian integral of e^{b(u² + v²)}:
///   D² = (1 − 2b·q11)(1 − 2b·q22) − 4b²q12² = 1 − 2b·S + 4b²(q11·q22 − q12²),
///   E[φ(u)φ(v)] = a²/D,  E[φ'(u)φ'(v)] = a²·4b²·q12/D³,  E[φ(u)²] = a²/√(1 − 4b·q).
/// D² is summed from the determinant of `covariance_sqrt_determinant`, so for b < 0 (the
/// default, a bump) every term is non-negative and nothing cancels.
///
/// Domains: Exp's expectations overflow when b²(S/2 + q12) > 709 (the largest double is e^709.8),
/// i.e. for variances above about 354/b² (44/b² in float); Gaussian's are infinite when b > 0 and
/// b·q ≥ 1/4 (e^{b·u²} is then not square integrable). `check_variance` throws
/// `std::invalid_argument` naming the activation and the largest variance it supports; the sweeps
/// call it (through `variance`, or directly on every position of a spatial sample) on every
/// sample's variances before any pair is computed. Within the domains the rules are exact to a few
/// ulp. Close to the edge of either domain the values grow without bound, and so do their rounding
/// errors relative to neighbouring entries.

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>

#include "tangent/core/errors.hpp"
#include "tangent/core/math.hpp"
#include "tangent/core/moments.hpp"
#include "tangent/core/simd_math.hpp"

namespace tangent {

/// φ(x) = a·e^{b·x}.
struct Exp {
  double a = 1.0;  ///< output scale
  double b = 1.0;  ///< input scale

  static constexpr std::string_view name = "Exp";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    using std::exp;
    return static_cast<S>(a) * exp(static_cast<S>(b) * x);
  }
  template <class S>
  S derivative(S x) const {
    using std::exp;
    return static_cast<S>(a * b) * exp(static_cast<S>(b) * x);
  }
  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    using E = detail::scalar_t<S>;
    const E b2 = static_cast<E>(b * b);
    const S k = detail::exp_v(S(b2 * ((q11 + q22) / E(2) + q12)));
    return {S(static_cast<E>(a * a) * k), S(static_cast<E>(a * a) * b2 * k)};
  }
  template <class S>
  S variance(S q) const {
    check_variance(q);
    return moments(q, q, q).expect;
  }
  /// Throws unless e^{2b²q} is representable (2b²q < 709.8 in double, 88.7 in float).
  template <class S>
  void check_variance(S q) const {
    constexpr double limit = std::is_same_v<S, float> ? 44.0 : 354.0;
    if (static_cast<double>(detail::value_of(q)) * b * b > limit) {
      detail::fail("Exp", "a variance of " + detail::show(detail::value_of(q)) +
                              " reaches Exp{.b = " + detail::show(b) +
                              "}, whose kernel overflows above q = " + detail::show(limit) +
                              "/b² = " + detail::show(limit / (b * b)) +
                              "; scale the inputs or the weights down, or lower b");
    }
  }
  void validate(const LayerSite& site) const {
    detail::require_finite(site, "a", a);
    detail::require_finite(site, "b", b);
  }
  bool operator==(const Exp&) const = default;
};

/// φ(x) = a·e^{b·x²}: a Gaussian bump for b < 0.
struct Gaussian {
  double a = 1.0;   ///< output scale
  double b = -1.0;  ///< exponent scale; b > 0 needs every variance below 1/(4b)

  static constexpr std::string_view name = "Gaussian";
  static constexpr bool lanes = true;  ///< moments also take lane groups

  template <class S>
  S value(S x) const {
    using std::exp;
    return static_cast<S>(a) * exp(static_cast<S>(b) * x * x);
  }
  template <class S>
  S derivative(S x) const {
    using std::exp;
    return static_cast<S>(2 * a * b) * x * exp(static_cast<S>(b) * x * x);
  }
  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    using E = detail::scalar_t<S>;
    const E bb = static_cast<E>(b);
    const S s = detail::covariance_sqrt_determinant(q11, q12, q22);
    const S d2 = E(1) - E(2) * bb * (q11 + q22) + E(4) * bb * bb * (s * s);
    const S d = detail::sqrt_v(d2);
    const E a2 = static_cast<E>(a * a);
    return {S(a2 / d), S(a2 * E(4) * bb * bb * q12 / (d2 * d))};
  }
  template <class S>
  S variance(S q) const {
    check_variance(q);
    return moments(q, q, q).expect;
  }
  /// Throws unless E[φ(u)²] is finite: b·q < 1/4 when b > 0.
  template <class S>
  void check_variance(S q) const {
    if (b > 0 && !(4 * b * static_cast<double>(detail::value_of(q)) < 1)) {
      detail::fail("Gaussian", "a variance of " + detail::show(detail::value_of(q)) +
                                   " reaches Gaussian{.b = " + detail::show(b) +
                                   "}, whose E[φ(u)²] is infinite for b·q ≥ 1/4 (q ≥ " +
                                   detail::show(0.25 / b) +
                                   "); scale the inputs or the weights down, or use b < 0");
    }
  }
  void validate(const LayerSite& site) const {
    detail::require_finite(site, "a", a);
    detail::require_finite(site, "b", b);
  }
  bool operator==(const Gaussian&) const = default;
};

/// The "Gaussian normalized kernel" of Shankar, Fang, Guo, Fridovich-Keil, Ragan-Kelley,
/// Schmidt & Recht 2020 ("Neural kernels without tangents", arXiv:2003.02237, p. 6), as
/// neural-tangents computes it: with r = √max(q11·q22, 10⁻³⁰) and ρ = q12/r (clipped to [−1, 1]
/// when `do_clip`),
///   Σ' = r·e^{γ(ρ + shift)},  Θ' = Θ·γ·e^{γ(ρ + shift)},  E[φ(u)²] ↦ q·e^{γ(1 + shift)}.
/// It is a kernel map with no activation behind it, so it is kernel only: finite networks refuse
/// it at compile time, as neural-tangents' `apply_fn` raises. (The 10⁻³⁰ floor is
/// neural-tangents': a zero-variance input maps to 10⁻¹⁵·e^{γ·shift}, not 0.)
struct ExpNormalized {
  double gamma = 1.0;    ///< exponent scale
  double shift = -1.0;   ///< added to the normalised covariance before exponentiating
  bool do_clip = false;  ///< clip the normalised covariance to [−1, 1] (rounding can exceed it)

  static constexpr std::string_view name = "ExpNormalized";
  static constexpr bool lanes = true;  ///< moments also take lane groups
  static constexpr bool kernel_only = true;

  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    using E = detail::scalar_t<S>;
    const S r = detail::sqrt_v(detail::max_v(S(q11 * q22), detail::splat<S>(E(1e-30))));
    S rho = q12 / r;
    if (do_clip)
      rho = detail::min_v(detail::max_v(rho, detail::splat<S>(E(-1))), detail::splat<S>(E(1)));
    const E g = static_cast<E>(gamma);
    const S e = detail::exp_v(S(g * (rho + static_cast<E>(shift))));
    return {S(r * e), S(g * e)};
  }
  template <class S>
  S variance(S q) const {
    return moments(q, q, q).expect;
  }
  void validate(const LayerSite& site) const {
    detail::require_finite(site, "gamma", gamma);
    detail::require_finite(site, "shift", shift);
  }
  bool operator==(const ExpNormalized&) const = default;
};

}  // namespace tangent
