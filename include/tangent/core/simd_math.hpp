#pragma once
/// @file
/// The elementary functions of the kernel rules, written once for a scalar (`double`, `float`)
/// and for a fixed group of lanes (`Lanes<S>`, an Eigen array that Eigen evaluates with the
/// packet instructions the code is compiled for). Scalar and lane versions perform the same
/// operations in the same order (square roots are correctly rounded in both), so an entry
/// computed alone or in a group of lanes is the same, unless the compiler contracts a multiply
/// and an add into an FMA in one and not in the other.
///
/// atan2 is a Cephes-style approximation (S. L. Moshier, Cephes Math Library: atan.c and
/// atanf.c), reduced with t = min(|x|, |y|)/max(|x|, |y|) ≤ 1 and, above t₀, with
/// (min − max)/(min + max) = atan's argument shifted by π/4:
/// - double: t₀ = 0.66, the rational approximation x + x·z·P(z)/Q(z) of degree 4/5 in z = x²;
/// - float: t₀ = tan(π/8), the odd polynomial of degree 9.
/// tests/unit/simd_math.test.cpp checks it against std::atan2 over ±1e±30 (double) and ±1e±15
/// (float) in all quadrants and at the exact values the kernels rely on: atan2(0, x > 0) = 0,
/// atan2(0, x < 0) = π, atan2(y > 0, 0) = π/2. Bound there: 2 ulp of the result in double,
/// 3 ulp in float.

#include <array>
#include <cmath>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "tangent/core/config.hpp"

namespace tangent::detail {

/// True for the layers whose kernel rule is written for lane groups as well as scalars: set by
/// each built-in layer's header, and by a user's layer or activation that declares
/// `static constexpr bool lanes = true;`. The feature sweep runs every other layer lane by lane
/// inside its packets (combinators/leaf.hpp), so only that layer pays for it.
template <class L>
inline constexpr bool supports_lanes = requires {
  requires L::lanes;
};

/// The widest packet of `S` that Eigen uses for the instruction set compiled for.
template <class S>
using Packet = typename Eigen::internal::packet_traits<S>::type;

/// Correctly rounded packet square root. (Eigen's psqrt is, with its default EIGEN_FAST_MATH,
/// an rsqrt estimate refined by Newton steps on AVX-512 for double and on SSE/AVX for float: not
/// always the correctly rounded std::sqrt.)
template <class P>
P packet_sqrt(const P& x) {
  // No vector unit known here (a scalar "packet", or another architecture): Eigen's own.
  return Eigen::internal::psqrt(x);
}
#if defined(__AVX512F__)
inline __m512d packet_sqrt(const __m512d& x) {
  return _mm512_sqrt_pd(x);
}
inline __m512 packet_sqrt(const __m512& x) {
  return _mm512_sqrt_ps(x);
}
#endif
#if defined(__AVX__)
inline __m256d packet_sqrt(const __m256d& x) {
  return _mm256_sqrt_pd(x);
}
inline __m256 packet_sqrt(const __m256& x) {
  return _mm256_sqrt_ps(x);
}
#endif
#if defined(__SSE2__)
inline __m128d packet_sqrt(const __m128d& x) {
  return _mm_sqrt_pd(x);
}
inline __m128 packet_sqrt(const __m128& x) {
  return _mm_sqrt_ps(x);
}
#endif

/// A group of lanes of `S`: one packet, with the arithmetic the kernel rules use. Comparisons
/// give a `LaneMask`; `select(mask, a, b)` picks lane by lane.
template <class S>
struct Lanes {
  using P = Packet<S>;
  static constexpr int size = Eigen::internal::unpacket_traits<P>::size;
  P v;

  static Lanes splat(S x) { return {Eigen::internal::pset1<P>(x)}; }
  static Lanes load(const S* from) { return {Eigen::internal::ploadu<P>(from)}; }
  void store(S* to) const { Eigen::internal::pstoreu(to, v); }

  friend Lanes operator+(const Lanes& a, const Lanes& b) {
    return {Eigen::internal::padd(a.v, b.v)};
  }
  friend Lanes operator-(const Lanes& a, const Lanes& b) {
    return {Eigen::internal::psub(a.v, b.v)};
  }
  friend Lanes operator*(const Lanes& a, const Lanes& b) {
    return {Eigen::internal::pmul(a.v, b.v)};
  }
  friend Lanes operator/(const Lanes& a, const Lanes& b) {
    return {Eigen::internal::pdiv(a.v, b.v)};
  }
  friend Lanes operator+(const Lanes& a, S b) { return a + splat(b); }
  friend Lanes operator-(const Lanes& a, S b) { return a - splat(b); }
  friend Lanes operator*(const Lanes& a, S b) { return a * splat(b); }
  friend Lanes operator/(const Lanes& a, S b) { return a / splat(b); }
  friend Lanes operator+(S a, const Lanes& b) { return splat(a) + b; }
  friend Lanes operator-(S a, const Lanes& b) { return splat(a) - b; }
  friend Lanes operator*(S a, const Lanes& b) { return splat(a) * b; }
  friend Lanes operator/(S a, const Lanes& b) { return splat(a) / b; }
  friend Lanes operator-(const Lanes& a) { return {Eigen::internal::pnegate(a.v)}; }
  template <class T>
  Lanes& operator+=(const T& b) {
    return *this = *this + b;
  }
  template <class T>
  Lanes& operator-=(const T& b) {
    return *this = *this - b;
  }
  template <class T>
  Lanes& operator*=(const T& b) {
    return *this = *this * b;
  }
};

/// Lane-by-lane truth values (all bits set where true), from comparing `Lanes`.
template <class S>
struct LaneMask {
  typename Lanes<S>::P m;
  friend LaneMask operator&&(const LaneMask& a, const LaneMask& b) {
    return {Eigen::internal::pand(a.m, b.m)};
  }
  /// True when every lane is true.
  bool all() const {
    using P = typename Lanes<S>::P;
    const P ones = Eigen::internal::pset1<P>(S(1));
    return Eigen::internal::predux_min(
               Eigen::internal::pselect(m, ones, Eigen::internal::pzero(ones))) == S(1);
  }
};

template <class S>
LaneMask<S> operator<(const Lanes<S>& a, const Lanes<S>& b) {
  return {Eigen::internal::pcmp_lt(a.v, b.v)};
}
template <class S>
LaneMask<S> operator>(const Lanes<S>& a, const Lanes<S>& b) {
  return b < a;
}
template <class S>
LaneMask<S> operator==(const Lanes<S>& a, const Lanes<S>& b) {
  return {Eigen::internal::pcmp_eq(a.v, b.v)};
}
template <class S>
LaneMask<S> operator<(const Lanes<S>& a, std::type_identity_t<S> b) {
  return a < Lanes<S>::splat(b);
}
template <class S>
LaneMask<S> operator>(const Lanes<S>& a, std::type_identity_t<S> b) {
  return Lanes<S>::splat(b) < a;
}
template <class S>
LaneMask<S> operator==(const Lanes<S>& a, std::type_identity_t<S> b) {
  return a == Lanes<S>::splat(b);
}

/// Lanes per group for scalar `S`.
template <class S>
inline constexpr int kLanes = Lanes<S>::size;

/// `count` ≤ kLanes<S> values from `from`, the remaining lanes set to `pad`.
template <class S>
Lanes<S> load_lanes(const S* from, Index count, S pad) {
  if (count == kLanes<S>) return Lanes<S>::load(from);
  std::array<S, kLanes<S>> v;
  v.fill(pad);
  for (Index k = 0; k < count; ++k) v[static_cast<std::size_t>(k)] = from[k];
  return Lanes<S>::load(v.data());
}

/// Stores the first `count` ≤ kLanes<S> lanes at `to`.
template <class S>
void store_lanes(const Lanes<S>& lanes, S* to, Index count) {
  if (count == kLanes<S>) return lanes.store(to);
  std::array<S, kLanes<S>> v;
  lanes.store(v.data());
  for (Index k = 0; k < count; ++k) to[k] = v[static_cast<std::size_t>(k)];
}

/// The scalar type of a scalar or of a lane group.
template <class V>
struct scalar_of {
  using type = V;
};
template <class S>
struct scalar_of<Lanes<S>> {
  using type = S;
};
template <class V>
using scalar_t = typename scalar_of<V>::type;

template <class V>
inline constexpr bool is_lanes = !std::is_same_v<V, scalar_t<V>>;

/// The truth values of a scalar (`bool`) or of a lane group (`LaneMask`).
template <class V>
using mask_t = decltype(std::declval<const V&>() == std::declval<const V&>());

/// True when every lane of `c` is true (for a scalar: c itself).
inline bool all_of(bool c) {
  return c;
}
template <class S>
bool all_of(const LaneMask<S>& c) {
  return c.all();
}

/// `c ? a : b`, lane by lane.
template <class S>
S select(bool c, S a, S b) {
  return c ? a : b;
}
template <class S>
Lanes<S> select(const LaneMask<S>& c, const Lanes<S>& a, const Lanes<S>& b) {
  return {Eigen::internal::pselect(c.m, a.v, b.v)};
}

/// A scalar `x` as a value of type V (every lane equal to x).
template <class V>
V splat(scalar_t<V> x) {
  if constexpr (is_lanes<V>) {
    return V::splat(x);
  } else {
    return x;
  }
}

template <class V>
V sqrt_v(const V& x) {
  if constexpr (is_lanes<V>) {
    return {packet_sqrt(x.v)};
  } else {
    using std::sqrt;
    return sqrt(x);
  }
}
template <class V>
V abs_v(const V& x) {
  if constexpr (is_lanes<V>) {
    return {Eigen::internal::pabs(x.v)};
  } else {
    using std::abs;
    return abs(x);
  }
}
template <class V>
V min_v(const V& a, const V& b) {
  if constexpr (is_lanes<V>) {
    return {Eigen::internal::pmin(a.v, b.v)};
  } else {
    return b < a ? b : a;
  }
}
template <class V>
V max_v(const V& a, const V& b) {
  if constexpr (is_lanes<V>) {
    return {Eigen::internal::pmax(a.v, b.v)};
  } else {
    return a < b ? b : a;
  }
}

template <class V>
V floor_v(const V& x) {
  if constexpr (is_lanes<V>) {
    return {Eigen::internal::pfloor(x.v)};
  } else {
    using std::floor;
    return floor(x);
  }
}

/// x·2ⁿ for an integral n (exact unless the result is subnormal or overflows).
template <class V>
V ldexp_v(const V& x, const V& n) {
  if constexpr (is_lanes<V>) {
    return {Eigen::internal::pldexp(x.v, n.v)};
  } else {
    using std::ldexp;
    return ldexp(x, static_cast<int>(n));
  }
}

/// eˣ for finite x, Cephes' exp.c/expf.c (S. L. Moshier): x = n·ln 2 + r with |r| ≤ ½ln 2 (ln 2
/// split in two so that n·ln 2 is exact), then e^r = 1 + 2r·P(r²)/(Q(r²) − r·P(r²)) (double, a
/// Padé form) or a degree-7 polynomial (float), scaled by 2ⁿ. Arguments are clamped to the range
/// where the result is representable, so eˣ underflows to 0 and overflows to +∞ as std::exp does.
/// tests/unit/simd_math.test.cpp bounds it at 2 ulp against std::exp.
template <class V>
V exp_v(const V& x) {
  using S = scalar_t<V>;
  constexpr S log2e = static_cast<S>(1.44269504088896340735992468100189214L);
  if constexpr (!is_lanes<V>) {
    // NaN (∞ − ∞ in a caller) stays NaN; the clamps below would keep it, and then converting
    // the exponent to int would be undefined.
    if (std::isnan(x)) return x;
  }
  if constexpr (std::is_same_v<S, double>) {
    const V xc = min_v(max_v(x, splat<V>(-745.2)), splat<V>(709.8));
    const V n = floor_v(V(xc * log2e + 0.5));
    const V r = xc - n * 6.93145751953125e-1 - n * 1.42860682030941723212e-6;
    const V rr = r * r;
    const V p = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr +
                     9.99999999999999999910e-1);
    const V q = ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr +
                 2.27265548208155028766e-1) *
                    rr +
                2.00000000000000000009e0;
    return ldexp_v(V(1.0 + 2.0 * (p / (q - p))), n);
  } else {
    const V xc = min_v(max_v(x, splat<V>(-104.0f)), splat<V>(88.8f));
    const V n = floor_v(V(xc * log2e + 0.5f));
    const V r = xc - n * 0.693359375f + n * 2.12194440e-4f;
    const V p = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
                   4.1665795894e-2f) *
                      r +
                  1.6666665459e-1f) *
                     r +
                 5.0000001201e-1f) *
                    (r * r) +
                r + 1.0f;
    return ldexp_v(p, n);
  }
}

/// atan(x) for |x| ≤ 0.66 (double) or |x| ≤ tan(π/8) (float); Cephes' approximations.
template <class V>
V atan_reduced(const V& x) {
  using S = scalar_t<V>;
  const V z = x * x;
  if constexpr (std::is_same_v<S, double>) {
    const V p = (((-8.750608600031904122785e-1 * z - 1.615753718733365076637e1) * z -
                  7.500855792314704667340e1) *
                     z -
                 1.228866684490136173410e2) *
                    z -
                6.485021904942025371773e1;
    const V q = ((((z + 2.485846490142306297962e1) * z + 1.650270098316988542046e2) * z +
                  4.328810604912902668951e2) *
                     z +
                 4.853903996359136964868e2) *
                    z +
                1.945506571482613964425e2;
    return x + x * (z * p / q);
  } else {
    const V p = ((8.05374449538e-2f * z - 1.38776856032e-1f) * z + 1.99777106478e-1f) * z -
                3.33329491539e-1f;
    return x + x * (z * p);
  }
}

/// atan2(y, x) ∈ [−π, π] for finite y and x, in std::atan2's quadrants (NaN and infinities are
/// outside its domain, and subnormal arguments lose accuracy: the kernels never pass them, since
/// their inputs are checked finite and their variances stay normal for inputs within 1e±150);
/// exactly 0 for y = 0 and x ≥ 0 (also x = 0), exactly π for y = 0 and x < 0, exactly π/2 for y > 0
/// and x = 0. (The sign of a zero y is not kept.)
template <class V>
V atan2_v(const V& y, const V& x) {
  using S = scalar_t<V>;
  constexpr S pi = static_cast<S>(3.141592653589793238462643383279502884L);
  constexpr S reduce_above = std::is_same_v<S, double> ? S(0.66) : S(0.4142135623730950488L);
  const V ax = abs_v(x);
  const V ay = abs_v(y);
  const V lo = min_v(ax, ay);
  const V hi = max_v(ax, ay);
  // t = lo/hi ≤ 1; above the threshold use atan(t) = π/4 + atan((lo − hi)/(lo + hi)).
  const auto shift = lo > reduce_above * hi;
  const V num = select(shift, V(lo - hi), lo);
  const V den = select(shift, V(lo + hi), select(hi > S(0), hi, splat<V>(S(1))));
  const V r = atan_reduced(V(num / den)) + select(shift, splat<V>(pi / 4), splat<V>(S(0)));
  // Back to the octant of (x, y).
  const V r1 = select(ay > ax, V(pi / 2 - r), r);
  const V r2 = select(x < S(0), V(pi - r1), r1);
  return select(y < S(0), V(-r2), r2);
}

/// √(a² + b²) for finite a and b without overflow or underflow: max·√(1 + (min/max)²) (0 when
/// both are 0; NaN and infinities are outside its domain).
template <class V>
V hypot_v(const V& a, const V& b) {
  using S = scalar_t<V>;
  const V aa = abs_v(a);
  const V ab = abs_v(b);
  const V hi = max_v(aa, ab);
  const V lo = min_v(aa, ab);
  const V r = lo / select(hi > S(0), hi, splat<V>(S(1)));
  return hi * sqrt_v(V(S(1) + r * r));
}

}  // namespace tangent::detail

// The dual numbers' overloads of these functions, declared wherever these are, so that a rule
// calling them qualified (detail::sqrt_v) also differentiates (core/dual.hpp).
#include "tangent/core/dual.hpp"  // IWYU pragma: export
