#pragma once
/// @file
/// An activation's kernel rule on the block of a pair of spatial samples: the elementwise rule
/// Σ' = E[φ(u)φ(v)], Θ' = Θ·E[φ'(u)φ'(v)] (neural-tangents `_elementwise`) applied to every
/// pair of positions, with the first sample's variance at its position and the second's at its.
/// (On feature vectors the same rule runs per entry; see `combinators/leaf.hpp`.)
///
/// A full block is column-major, so a column's entries and the first sample's variances are
/// contiguous: an activation with a lane form (`supports_lanes`) runs a column a packet of
/// positions at a time, as the feature sweep runs a packet of rows. Lanes and scalars do the
/// same arithmetic (core/simd_math.hpp), so the block's bits do not depend on the path.

#include <algorithm>
#include <cstddef>
#include <utility>

#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/dual.hpp"
#include "tangent/core/moments.hpp"
#include "tangent/core/simd_math.hpp"
#include "tangent/core/spatial_block.hpp"

namespace tangent::detail {

/// A packet of entries [0, count) (count ≤ its lanes) of a block of S: Lanes<S>, or for the dual
/// numbers of kernel_derivatives a dual of lane groups; lanes past count hold `pad`.
template <class S>
TANGENT_INLINE auto load_packet(const S* from, Index count, scalar_t<S> pad) {
  if constexpr (is_dual<S>) {
    return load_dual_lanes(from, count, pad);
  } else {
    return load_lanes<S>(from, count, pad);
  }
}
/// The packet type of a block of S.
template <class S>
using packet_of = decltype(load_packet(std::declval<const S*>(), Index{}, scalar_t<S>{}));

/// A value of the block in every lane of a packet.
template <class S>
TANGENT_INLINE auto splat_packet(const S& x) {
  if constexpr (is_dual<S>) {
    return splat_dual_lanes(x);
  } else {
    return Lanes<S>::splat(x);
  }
}
/// Stores the first `count` lanes of a packet into the block at `to`.
template <class S, class V>
TANGENT_INLINE void store_packet(const V& packet, S* to, Index count) {
  if constexpr (is_dual<S>) {
    store_dual_lanes(packet, to, count);
  } else {
    store_lanes<S>(packet, to, count);
  }
}

/// Entries [0, count) of a column of a full block (`OnePosition`: the second sample's variance
/// and root are q22[0] and root22[0]) or of a diagonal block (the second sample's at the same
/// positions), a packet at a time. The second sample's packets are locals (not read through a
/// capture or a reference), which the compiler keeps in registers: stores to the block could
/// alias anything it reaches through memory.
template <bool WithNtk, bool OnePosition, class A, class S>
TANGENT_INLINE void activation_packets(const A& activation, S* nngp, S* ntk, const S* q11,
                                       const S* root11, const S* q22, const S* root22,
                                       Index count) {
  using E = scalar_t<S>;
  using V = packet_of<S>;
  constexpr Index lanes = kLanes<E>;
  const V column_q22 = splat_packet(q22[0]);
  const V column_root22 = splat_packet(root22[0]);
  for (Index p = 0; p < count; p += lanes) {
    const Index n = std::min<Index>(lanes, count - p);
    const V q22_p = OnePosition ? column_q22 : load_packet(q22 + p, n, E(1));
    const V root22_p = OnePosition ? column_root22 : load_packet(root22 + p, n, E(1));
    const Moments<V> m =
        rooted_moments(activation, load_packet(q11 + p, n, E(1)), load_packet(nngp + p, n, E(0)),
                       q22_p, load_packet(root11 + p, n, E(1)), root22_p);
    store_packet(m.expect, nngp + p, n);
    if constexpr (WithNtk) {
      store_packet(V(load_packet(ntk + p, n, E(0)) * m.expect_derivative), ntk + p, n);
    }
  }
}

/// The elementwise rule on a pair's spatial block: entry (p1, p2) of a full block (or p of a
/// diagonal one) with the first sample's variance at p1 and the second's at p2. For two equal
/// samples, same-position entries take their covariance from the variance (angle exactly 0).
///
/// `activation` is an activation or its rule with seeded hyperparameters
/// (kernels/hyperparameter_map.hpp's `SeededActivation`); on the dual numbers of
/// kernel_derivatives a packet is a dual of lane groups, loaded from and stored to the block's
/// duals.
template <bool Full, bool WithNtk, class A, class S>
void activation_block(const A& activation, PairBlock<S>& block) {
  const Index positions = block.geometry.positions();
  const auto diagonal = [&](Index p) {
    return static_cast<std::size_t>(Full ? p + positions * p : p);
  };
  if (block.equal) {
    for (Index p = 0; p < positions; ++p) block.nngp[diagonal(p)] = block.var1[p];
  }
  S* nngp = block.nngp.data();
  S* ntk = WithNtk ? block.ntk.data() : nullptr;
  static_assert(
      supports_lanes<A> || !is_dual<S>,
      "TANGENT: kernel_derivatives NEEDS EVERY LAYER'S AND ACTIVATION'S RULE IN LANE FORM "
      "(static constexpr bool lanes = true, written with core/simd_math.hpp's "
      "functions), which then also runs on dual numbers.");
  if constexpr (supports_lanes<A>) {
    if constexpr (Full) {
      for (Index p2 = 0; p2 < positions; ++p2) {
        const Index column = positions * p2;
        activation_packets<WithNtk, true>(activation, nngp + column,
                                          WithNtk ? ntk + column : nullptr, block.var1, block.root1,
                                          block.var2 + p2, block.root2 + p2, positions);
      }
    } else {
      activation_packets<WithNtk, false>(activation, nngp, ntk, block.var1, block.root1, block.var2,
                                         block.root2, positions);
    }
  } else if constexpr (!is_dual<S>) {
    const auto apply = [&](std::size_t e, Index p1, Index p2) {
      const Moments<S> m = rooted_moments(activation, block.var1[p1], nngp[e], block.var2[p2],
                                          block.root1[p1], block.root2[p2]);
      nngp[e] = m.expect;
      if constexpr (WithNtk) ntk[e] *= m.expect_derivative;
    };
    if constexpr (Full) {
      for (Index p2 = 0; p2 < positions; ++p2) {
        for (Index p1 = 0; p1 < positions; ++p1) {
          apply(static_cast<std::size_t>(p1 + positions * p2), p1, p2);
        }
      }
    } else {
      for (Index p = 0; p < positions; ++p) {
        apply(static_cast<std::size_t>(p), p, p);
      }
    }
  }
}

}  // namespace tangent::detail
