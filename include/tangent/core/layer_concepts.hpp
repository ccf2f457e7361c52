#pragma once
/// @file
/// The contracts of a layer for the analytic kernels (a network is in
/// `combinators/composition.hpp`).
///
/// Layers on feature vectors have a per-pair rule (`FeatureLayer`): each NNGP/NTK entry of a pair
/// of samples maps to its new value given the pair's variances. Layers on spatial data
/// (`SpatialLayer`) map a pair's whole block over positions, since convolutions and pooling mix
/// the entries of different positions. Activations (`Activation`) act on both through the
/// adaptor of `combinators/leaf.hpp` (and `layers/elementwise.hpp` on blocks). A layer may meet
/// several contracts (Identity, Flatten, LayerNorm, Dropout).

#include <concepts>
#include <string_view>
#include <type_traits>

#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/pair_context.hpp"
#include "tangent/core/spatial.hpp"

namespace tangent {

namespace detail {
template <class S>
struct PairBlock;
}  // namespace detail

/// A layer with its own kernel rule on feature vectors (Dense, Identity, Flatten, LayerNorm,
/// Dropout).
///
/// requires, for `const L l`, `double` scalars `q, t, v`, a site and an `EntryContext<double>`
/// `pair`:
/// - `L::name`: a `std::string_view` for messages;
/// - `L::output_stage<In>`: the stage after the layer, given the `Stage` before it (a member
///   alias template); it `static_assert`s, with a sentence that says what to insert, when the
///   layer cannot follow `In`, and is then `InvalidStage`;
/// - `l.validate(site)` throws `std::invalid_argument` naming `site` for unusable
///   hyperparameters (non-positive width, negative or NaN standard deviation);
/// - `l.output_width(n)`: the finite width after the layer, given the width `n` before it
///   (needed by the standard parameterization);
/// - `l.variance(q)`: the new variance of one sample with variance `q`;
/// - `l.propagate_entry<WithNtk>(q, t, pair)` updates, in place, the NNGP entry `q` and (when
///   `WithNtk`) the NTK entry `t` of a pair of samples, given the pair's context: the two
///   samples' variances entering the layer, their square roots, the finite width before the
///   layer, whether the two are equal inputs and whether they are the same sample
///   (`EntryContext`).
///
/// optional: `static constexpr bool lanes = true;` when `propagate_entry` also accepts groups
/// of lanes (`S` = `detail::Lanes<double>`); otherwise the vectorised sweep runs the layer lane
/// by lane, and only this layer pays for it. `l.still_equal(pair)` for a layer that draws
/// randomness per sample (as Dropout): whether a pair of equal inputs is still equal after it.
///
/// ensures: `variance(q)` equals what `propagate_entry` makes of a sample with itself
/// (q = q11 = q22, `equal` and `same_sample`; Dropout tells the two apart: equal rows that are
/// different samples draw different masks).
template <class L>
concept FeatureLayer = requires(const L l, double& q, double& t, double v, Index n,
                                const LayerSite& site, const EntryContext<double>& pair) {
  { L::name } -> std::convertible_to<std::string_view>;
  l.validate(site);
  { l.output_width(n) } -> std::same_as<Index>;
  { l.variance(v) } -> std::same_as<double>;
  l.template propagate_entry<true>(q, t, pair);
};

/// A layer with its own kernel rule on spatial data (Conv, AvgPool, SumPool, GlobalAvgPool,
/// GlobalSumPool, Flatten, LayerNorm, Dropout, Identity).
///
/// requires, besides `name`, `output_stage` and `validate` as for `FeatureLayer`:
/// - `l.output_geometry(g, site)`: the shape of a sample after the layer, given its shape `g`
///   before it; throws `std::invalid_argument` naming `site` and both shapes when the layer
///   does not fit (a VALID filter larger than the image, strides that leave no position);
/// - either `l.propagate_block<InFull, OutFull, WithNtk>(block)`, which maps a pair's kernel
///   block (full P×P or diagonal P, as the flags say) to the block after the layer, using the
///   variances and flags in `block`;
/// - or, for layers that end the spatial part (`reduces_spatial`),
///   `l.reduce_block<Full, WithNtk>(block, q, t)`, which reduces the block to the scalar NNGP
///   and NTK entries of the pair;
/// - optional `static constexpr bool needs_full_spatial = true` when the layer reads pairs of
///   different positions (pooling), which makes every earlier spatial layer keep the full block.
template <class L>
concept SpatialLayer = requires(const L l, const Geometry& g, const LayerSite& site,
                                detail::PairBlock<double>& block, double& q) {
  { L::name } -> std::convertible_to<std::string_view>;
  l.validate(site);
  { l.output_geometry(g, site) } -> std::same_as<Geometry>;
}
&&(
    requires(const L l, detail::PairBlock<double>& block) {
      l.template propagate_block<true, true, true>(block);
    } ||
    requires(const L l, detail::PairBlock<double>& block, double& q) {
      l.template reduce_block<true, true>(block, q, q);
    });

/// A layer: an activation (adapted by `combinators/leaf.hpp`) or a layer with its own kernel
/// rule on features or on spatial data. Layers are the leaves of a network's tree.
template <class L>
concept KernelLayer = Activation<L> || FeatureLayer<L> || SpatialLayer<L>;

namespace detail {

/// Layers that read pairs of different positions need the full spatial block as input.
template <class L>
constexpr bool needs_full_spatial() {
  if constexpr (requires { L::needs_full_spatial; }) {
    return L::needs_full_spatial;
  } else {
    return false;
  }
}

/// Layers that turn spatial data into feature vectors (Flatten, GlobalAvgPool).
template <class L>
constexpr bool reduces_spatial() {
  if constexpr (requires { L::reduces_spatial; }) {
    return L::reduces_spatial;
  } else {
    return false;
  }
}
}  // namespace detail

}  // namespace tangent
