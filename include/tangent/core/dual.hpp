#pragma once
/// @file
/// Forward-mode derivatives for the kernel rules: `Dual<V, K>` carries a value of type V (a
/// scalar or a group of lanes) and its derivatives with respect to K hyperparameters, and runs
/// through every rule written with simd_math's functions (sqrt_v, atan2_v, select, ...) unchanged.
///
/// The value part of every operation is the operation on the values alone, in the same order, so
/// a kernel computed on duals has the plain kernel's values. Derivatives use the exact rule of
/// each elementary function (not the derivative of its polynomial approximation):
/// d√x = dx/(2√x), d atan2(y, x) = (x·dy − y·dx)/(x² + y²), d hypot(a, b) = (a·da + b·db)/hypot,
/// d eˣ = eˣ·dx. Where √ or hypot is 0 their argument is a clamped or identically zero quantity
/// (√det of two equal inputs' covariance, which stays 0 under any change of the
/// hyperparameters), so the derivative is taken as 0 there rather than ∞·0; atan2(0, 0) likewise.

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <type_traits>

#include "tangent/core/simd_math.hpp"

namespace tangent::detail {

/// A value and its derivatives with respect to K hyperparameters.
template <class V, std::size_t K>
struct Dual {
  using E = scalar_t<V>;
  V v;
  std::array<V, K> d;

  Dual() : v(::tangent::detail::splat<V>(E(0))), d{} {}
  /// A constant: every derivative 0. Implicit, so that the rules' scalar constants (`S(2)`)
  /// convert as they do for plain scalars.
  Dual(E x) : v(::tangent::detail::splat<V>(x)), d{} {}  // NOLINT(google-explicit-constructor)
  /// A count as a constant (`static_cast<S>(positions)` in rules written for any scalar), as
  /// static_cast<E> converts it.
  template <std::integral I>
  explicit Dual(I n) : Dual(static_cast<E>(n)) {}
  /// A constant lane group (when V is one): every derivative 0.
  template <class U>
  requires(std::is_same_v<U, V> && !std::is_same_v<V, E>) explicit Dual(const U& x) : v(x), d{} {}
  static Dual splat(E x) { return Dual(x); }
  /// The hyperparameter `x` itself: derivative 1 with respect to tangent k (none when k < 0 or
  /// k ≥ K, a hyperparameter not differentiated in this pass).
  static Dual variable(E x, int k) {
    Dual r(x);
    if (k >= 0 && static_cast<std::size_t>(k) < K)
      r.d[static_cast<std::size_t>(k)] = ::tangent::detail::splat<V>(E(1));
    return r;
  }

  friend Dual operator+(const Dual& a, const Dual& b) {
    Dual r;
    r.v = a.v + b.v;
    for (std::size_t k = 0; k < K; ++k) r.d[k] = a.d[k] + b.d[k];
    return r;
  }
  friend Dual operator-(const Dual& a, const Dual& b) {
    Dual r;
    r.v = a.v - b.v;
    for (std::size_t k = 0; k < K; ++k) r.d[k] = a.d[k] - b.d[k];
    return r;
  }
  friend Dual operator*(const Dual& a, const Dual& b) {
    Dual r;
    r.v = a.v * b.v;
    for (std::size_t k = 0; k < K; ++k) r.d[k] = a.d[k] * b.v + a.v * b.d[k];
    return r;
  }
  friend Dual operator/(const Dual& a, const Dual& b) {
    Dual r;
    r.v = a.v / b.v;
    // d(a/b) = (da − (a/b)·db)/b.
    const V inv = E(1) / b.v;
    for (std::size_t k = 0; k < K; ++k) r.d[k] = (a.d[k] - r.v * b.d[k]) * inv;
    return r;
  }
  friend Dual operator-(const Dual& a) {
    Dual r;
    r.v = -a.v;
    for (std::size_t k = 0; k < K; ++k) r.d[k] = -a.d[k];
    return r;
  }
  friend Dual operator+(const Dual& a, E b) {
    Dual r = a;
    r.v = a.v + b;
    return r;
  }
  friend Dual operator+(E a, const Dual& b) {
    Dual r = b;
    r.v = a + b.v;
    return r;
  }
  friend Dual operator-(const Dual& a, E b) {
    Dual r = a;
    r.v = a.v - b;
    return r;
  }
  friend Dual operator-(E a, const Dual& b) {
    Dual r = -b;
    r.v = a - b.v;
    return r;
  }
  friend Dual operator*(const Dual& a, E b) {
    Dual r;
    r.v = a.v * b;
    for (std::size_t k = 0; k < K; ++k) r.d[k] = a.d[k] * b;
    return r;
  }
  friend Dual operator*(E a, const Dual& b) {
    Dual r;
    r.v = a * b.v;
    for (std::size_t k = 0; k < K; ++k) r.d[k] = a * b.d[k];
    return r;
  }
  friend Dual operator/(const Dual& a, E b) {
    Dual r;
    r.v = a.v / b;
    for (std::size_t k = 0; k < K; ++k) r.d[k] = a.d[k] / b;
    return r;
  }
  friend Dual operator/(E a, const Dual& b) { return Dual(a) / b; }
  template <class T>
  Dual& operator+=(const T& b) {
    return *this = *this + b;
  }
  template <class T>
  Dual& operator-=(const T& b) {
    return *this = *this - b;
  }
  template <class T>
  Dual& operator*=(const T& b) {
    return *this = *this * b;
  }
  template <class T>
  Dual& operator/=(const T& b) {
    return *this = *this / b;
  }

  // Comparisons see the values only (they choose branches of a rule).
  friend auto operator<(const Dual& a, const Dual& b) { return a.v < b.v; }
  friend auto operator>(const Dual& a, const Dual& b) { return b.v < a.v; }
  friend auto operator==(const Dual& a, const Dual& b) { return a.v == b.v; }
  friend auto operator<(const Dual& a, E b) { return a.v < ::tangent::detail::splat<V>(b); }
  friend auto operator>(const Dual& a, E b) { return ::tangent::detail::splat<V>(b) < a.v; }
  friend auto operator==(const Dual& a, E b) { return a.v == ::tangent::detail::splat<V>(b); }
  // Scalar duals only. Declared: clang refuses to rewrite != from an == whose declared return
  // type is `auto` (a mask for lane groups), even where it deduces bool.
  friend bool operator!=(const Dual& a, const Dual& b) requires std::is_same_v<V, E> {
    return a.v != b.v;
  }
  friend bool operator!=(const Dual& a, E b) requires std::is_same_v<V, E> { return a.v != b; }
};

template <class V, std::size_t K>
struct scalar_of<Dual<V, K>> {
  using type = scalar_t<V>;
};

template <class T>
inline constexpr bool is_dual = false;
template <class V, std::size_t K>
inline constexpr bool is_dual<Dual<V, K>> = true;

/// The value of a dual number, or a plain value itself (for checks and messages that read it).
template <class T>
auto value_of(const T& x) {
  if constexpr (is_dual<T>) {
    return x.v;
  } else {
    return x;
  }
}

/// `c ? a : b` lane by lane, for the value and every derivative.
template <class S, std::size_t K>
Dual<Lanes<S>, K> select(const LaneMask<S>& c, const Dual<Lanes<S>, K>& a,
                         const Dual<Lanes<S>, K>& b) {
  Dual<Lanes<S>, K> r;
  r.v = select(c, a.v, b.v);
  for (std::size_t k = 0; k < K; ++k) r.d[k] = select(c, a.d[k], b.d[k]);
  return r;
}

/// The dual with value `value` and derivatives factor·(dx) of x's: the chain rule of a function
/// of one argument whose derivative at x is `factor`.
template <class V, std::size_t K>
Dual<V, K> chain(const V& value, const V& factor, const Dual<V, K>& x) {
  Dual<V, K> r;
  r.v = value;
  for (std::size_t k = 0; k < K; ++k) r.d[k] = factor * x.d[k];
  return r;
}

/// 1/(2√x) where √x > 0, else 0 (see the file comment).
template <class V>
V half_inverse_or_zero(const V& root) {
  using S = scalar_t<V>;
  const auto positive = root > S(0);
  return select(positive, V(S(0.5) / select(positive, root, splat<V>(S(1)))), splat<V>(S(0)));
}

template <class V, std::size_t K>
Dual<V, K> sqrt_v(const Dual<V, K>& x) {
  const V root = sqrt_v(x.v);
  return chain(root, half_inverse_or_zero(root), x);
}
template <class V, std::size_t K>
Dual<V, K> abs_v(const Dual<V, K>& x) {
  return select(x.v < scalar_t<V>(0), -x, x);
}
template <class V, std::size_t K>
Dual<V, K> min_v(const Dual<V, K>& a, const Dual<V, K>& b) {
  return select(b.v < a.v, b, a);
}
template <class V, std::size_t K>
Dual<V, K> max_v(const Dual<V, K>& a, const Dual<V, K>& b) {
  return select(a.v < b.v, b, a);
}
template <class V, std::size_t K>
Dual<V, K> exp_v(const Dual<V, K>& x) {
  const V e = exp_v(x.v);
  return chain(e, e, x);
}

/// atan2's derivatives, (x·dy − y·dx)/(x² + y²), around a value computed by the caller; with
/// h = hypot(x, y) as ((x/h)·dy − (y/h)·dx)/h, so that x² + y² cannot overflow or underflow.
template <class V, std::size_t K>
Dual<V, K> atan2_with_value(const V& value, const Dual<V, K>& y, const Dual<V, K>& x) {
  using S = scalar_t<V>;
  const V h = hypot_v(x.v, y.v);
  const auto positive = h > S(0);
  const V inv = select(positive, V(S(1) / select(positive, h, splat<V>(S(1)))), splat<V>(S(0)));
  const V cx = x.v * inv;
  const V cy = y.v * inv;
  Dual<V, K> r;
  r.v = value;
  for (std::size_t k = 0; k < K; ++k) r.d[k] = (cx * y.d[k] - cy * x.d[k]) * inv;
  return r;
}
template <class V, std::size_t K>
Dual<V, K> atan2_v(const Dual<V, K>& y, const Dual<V, K>& x) {
  return atan2_with_value(atan2_v(y.v, x.v), y, x);
}
template <class V, std::size_t K>
Dual<V, K> hypot_v(const Dual<V, K>& a, const Dual<V, K>& b) {
  using S = scalar_t<V>;
  const V h = hypot_v(a.v, b.v);
  const auto positive = h > S(0);
  const V inv = select(positive, V(S(1) / select(positive, h, splat<V>(S(1)))), splat<V>(S(0)));
  Dual<V, K> r;
  r.v = h;
  for (std::size_t k = 0; k < K; ++k) r.d[k] = (a.v * a.d[k] + b.v * b.d[k]) * inv;
  return r;
}

/// The distance, in scalars, from a part of one dual to the same part of the next in an array.
template <class S, std::size_t K>
inline constexpr Index kDualStride = static_cast<Index>(sizeof(Dual<S, K>) / sizeof(S));

/// Duals x[0 … count − 1] (count ≤ kLanes<S>) as one dual of lane groups, lane l holding x[l];
/// the lanes past count hold `pad` with derivative 0. A block of dual numbers is stored one
/// entry (value and derivatives) after the other; its rules run on such packets.
template <class S, std::size_t K>
Dual<Lanes<S>, K> load_dual_lanes(const Dual<S, K>* x, Index count, S pad) {
  static_assert(sizeof(Dual<S, K>) == (K + 1) * sizeof(S), "a dual's parts are packed");
  using P = typename Lanes<S>::P;
  constexpr auto lanes = static_cast<std::size_t>(kLanes<S>);
  Dual<Lanes<S>, K> r;
  if (count == kLanes<S>) {
    // Strided loads (gathers where the instruction set has them): writing lanes one by one and
    // reading them back as a packet would stall on store forwarding.
    r.v = {Eigen::internal::pgather<S, P>(&x->v, kDualStride<S, K>)};
    for (std::size_t k = 0; k < K; ++k) {
      r.d[k] = {Eigen::internal::pgather<S, P>(&x->d[k], kDualStride<S, K>)};
    }
    return r;
  }
  std::array<S, lanes> v;
  std::array<std::array<S, lanes>, K> d;
  v.fill(pad);
  for (auto& part : d) part.fill(S(0));
  for (std::size_t l = 0; l < static_cast<std::size_t>(count); ++l) {
    v[l] = x[l].v;
    for (std::size_t k = 0; k < K; ++k) d[k][l] = x[l].d[k];
  }
  r.v = Lanes<S>::load(v.data());
  for (std::size_t k = 0; k < K; ++k) r.d[k] = Lanes<S>::load(d[k].data());
  return r;
}

/// The dual x in every lane.
template <class S, std::size_t K>
Dual<Lanes<S>, K> splat_dual_lanes(const Dual<S, K>& x) {
  Dual<Lanes<S>, K> r;
  r.v = Lanes<S>::splat(x.v);
  for (std::size_t k = 0; k < K; ++k) r.d[k] = Lanes<S>::splat(x.d[k]);
  return r;
}

/// Stores the first `count` lanes of a dual of lane groups as duals at `to`.
template <class S, std::size_t K>
void store_dual_lanes(const Dual<Lanes<S>, K>& x, Dual<S, K>* to, Index count) {
  static_assert(sizeof(Dual<S, K>) == (K + 1) * sizeof(S), "a dual's parts are packed");
  if (count == kLanes<S>) {
    Eigen::internal::pscatter(&to->v, x.v.v, kDualStride<S, K>);
    for (std::size_t k = 0; k < K; ++k)
      Eigen::internal::pscatter(&to->d[k], x.d[k].v, kDualStride<S, K>);
    return;
  }
  constexpr auto lanes = static_cast<std::size_t>(kLanes<S>);
  std::array<S, lanes> v;
  std::array<std::array<S, lanes>, K> d;
  x.v.store(v.data());
  for (std::size_t k = 0; k < K; ++k) x.d[k].store(d[k].data());
  for (std::size_t l = 0; l < static_cast<std::size_t>(count); ++l) {
    to[l].v = v[l];
    for (std::size_t k = 0; k < K; ++k) to[l].d[k] = d[k][l];
  }
}

// The <cmath> names, for rules on scalars that call std::sqrt and std::atan2 through
// `using std::sqrt;` (per-sample variances): found by argument-dependent lookup, with the same
// correctly rounded std:: values.
template <std::size_t K>
Dual<double, K> sqrt(const Dual<double, K>& x) {
  const double root = std::sqrt(x.v);
  return chain(root, half_inverse_or_zero(root), x);
}
template <std::size_t K>
Dual<double, K> atan2(const Dual<double, K>& y, const Dual<double, K>& x) {
  return atan2_with_value(std::atan2(y.v, x.v), y, x);
}

}  // namespace tangent::detail
