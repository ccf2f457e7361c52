#pragma once
/// @file
/// What a layer's kernel rule on feature vectors sees of a pair of samples besides the pair's own
/// NNGP and NTK entries.

#include "tangent/core/simd_math.hpp"

namespace tangent {

/// The context of one NNGP/NTK entry, for the pair of samples (x1, x2) it belongs to, at the
/// layer being applied. `V` is a scalar (`double`, `float`) or a group of lanes
/// (`detail::Lanes<S>`: one entry per lane, every member lane by lane).
template <class V>
struct EntryContext {
  V q11;     ///< variance of x1's pre-activations entering the layer (its own NNGP entry)
  V q22;     ///< variance of x2's, likewise
  V root11;  ///< √q11, correctly rounded (computed once per sample, not per pair)
  V root22;  ///< √q22
  V width;   ///< finite width entering the layer (what the standard parameterization needs)
  /// x1 and x2 are the same input (equal rows): their covariance is their variance, and
  /// per-sample randomness such as dropout is shared.
  detail::mask_t<V> equal;
};

}  // namespace tangent
