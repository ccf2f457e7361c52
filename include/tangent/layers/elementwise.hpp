#pragma once
/// @file
/// An activation's kernel rule on the block of a pair of spatial samples: the elementwise rule
/// Σ' = E[φ(u)φ(v)], Θ' = Θ·E[φ'(u)φ'(v)] (neural-tangents `_elementwise`) applied to every
/// pair of positions, with the first sample's variance at its position and the second's at its.
/// (On feature vectors the same rule runs per entry; see `combinators/leaf.hpp`.)

#include <cstddef>

#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/moments.hpp"
#include "tangent/core/spatial_block.hpp"

namespace tangent::detail {

/// The elementwise rule on a pair's spatial block: entry (p1, p2) of a full block (or p of a
/// diagonal one) with the first sample's variance at p1 and the second's at p2. For two equal
/// samples, same-position entries take their covariance from the variance (angle exactly 0).
template <bool Full, bool WithNtk, Activation A, class S>
void activation_block(const A& activation, PairBlock<S>& block) {
  const Index positions = block.geometry.positions();
  const auto apply = [&](std::size_t e, S q11, S q22, bool same_position) {
    S q = block.nngp[e];
    if (block.equal && same_position) q = q11;
    const Moments<S> m = activation.moments(q11, q, q22);
    block.nngp[e] = m.expect;
    if constexpr (WithNtk) block.ntk[e] *= m.expect_derivative;
  };
  if constexpr (Full) {
    for (Index p2 = 0; p2 < positions; ++p2) {
      const S q22 = block.var2[p2];
      for (Index p1 = 0; p1 < positions; ++p1) {
        apply(static_cast<std::size_t>(p1 + positions * p2), block.var1[p1], q22, p1 == p2);
      }
    }
  } else {
    for (Index p = 0; p < positions; ++p) {
      apply(static_cast<std::size_t>(p), block.var1[p], block.var2[p], true);
    }
  }
}

}  // namespace tangent::detail
