#pragma once
/// @file
/// What a layer's kernel rule on feature vectors sees of a pair of samples besides the pair's own
/// NNGP and NTK entries.
///
/// A layer whose rule depends on the angle between the two samples should take q = q11 where
/// `equal` holds (the activations do, through combinators/leaf.hpp). A layer that draws
/// randomness per sample declares `still_equal(pair)`: whether the pair stays equal after it.

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
  /// x1 and x2 are equal inputs and nothing has told them apart yet, so their covariance is
  /// their variance: an activation takes q = q11 there, which makes their angle exactly 0.
  detail::mask_t<V> equal;
  /// x1 and x2 are the same sample (entry (i, i) of an input with itself, as neural-tangents'
  /// `x1_is_x2`), which shares its per-sample randomness (dropout masks) with itself. Equal rows
  /// that are different samples (a duplicate in x1, or x2 ≠ x1) do not.
  detail::mask_t<V> same_sample;
  /// False when no lane of `equal` (nor of `same_sample`, a subset of the equal pairs) is set,
  /// which holds for almost every group of lanes: a layer may then skip its per-lane selection.
  /// True tells nothing.
  bool maybe_equal;
};

}  // namespace tangent
