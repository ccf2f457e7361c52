#pragma once
/// @file
/// The contracts of a layer for the analytic kernels, and of a network.
///
/// Layers on feature vectors have a per-pair rule (`FeatureLayer`): each NNGP/NTK entry of a pair
/// of samples maps to its new value given the pair's variances. Layers on spatial data
/// (`SpatialLayer`) map a pair's whole block over positions, since convolutions and pooling mix
/// the entries of different positions. Activations (`Activation`) act on both through
/// `layers/elementwise.hpp`. A layer may meet several contracts (Identity, Flatten).

#include <concepts>
#include <string_view>
#include <type_traits>

#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/spatial.hpp"

namespace tangent {

namespace detail {
template <class S>
struct PairBlock;
}  // namespace detail

/// A layer with its own kernel rule on feature vectors (Dense, Identity, Flatten).
///
/// requires, for `const L l`, `double` scalars `q, t, q11, q22, width` and a site:
/// - `L::name`: a `std::string_view` for messages;
/// - `L::output_stage<In>`: the stage after the layer, given the `Stage` before it (a member
///   alias template); it `static_assert`s, with a sentence that says what to insert, when the
///   layer cannot follow `In`, and is then `InvalidStage`;
/// - `l.validate(site)` throws `std::invalid_argument` naming `site` for unusable
///   hyperparameters (non-positive width, negative or NaN standard deviation);
/// - `l.output_width(n)`: the finite width after the layer, given the width `n` before it
///   (needed by the standard parameterization);
/// - `l.variance(q)`: the new variance of one sample with variance `q`;
/// - `l.propagate_entry<WithNtk>(q, t, q11, q22, width)` updates, in place, the NNGP entry `q`
///   and (when `WithNtk`) the NTK entry `t` of a pair of samples whose variances are `q11` and
///   `q22`; `width` is the finite width before the layer.
///
/// ensures: `variance(q)` equals what `propagate_entry` makes of q = q11 = q22.
template <class L>
concept FeatureLayer = requires(const L l, double& q, double& t, double v, Index n,
                                const LayerSite& site) {
  { L::name } -> std::convertible_to<std::string_view>;
  l.validate(site);
  { l.output_width(n) } -> std::same_as<Index>;
  { l.variance(v) } -> std::same_as<double>;
  l.template propagate_entry<true>(q, t, v, v, v);
};

/// A layer with its own kernel rule on spatial data (Conv, AvgPool, GlobalAvgPool, Flatten,
/// Identity).
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

/// Anything `serial` accepts as one layer: an activation (adapted by `layers/elementwise.hpp`)
/// or a layer with its own kernel rule on features or on spatial data.
template <class L>
concept KernelLayer = Activation<L> || FeatureLayer<L> || SpatialLayer<L>;

template <class... Ls>
struct Serial;

namespace detail {
template <class T>
struct is_serial : std::false_type {};
template <class... Ls>
struct is_serial<Serial<Ls...>> : std::true_type {};

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

/// What the kernel functions accept as a network: a `Serial`, or a single layer, which acts as a
/// one-layer network.
template <class T>
concept Network = detail::is_serial<T>::value || KernelLayer<T>;

}  // namespace tangent
