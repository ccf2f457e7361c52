#pragma once
/// @file
/// The contract of a layer for the analytic kernels, and of a network.
///
/// Layers on feature vectors have a per-pair rule (`FeatureLayer`): each NNGP/NTK entry of a pair
/// of samples maps to its new value given the pair's variances. Activations (`Activation`) are
/// turned into such layers by `layers/elementwise.hpp`. Spatial layers (convolutions, pooling)
/// mix the entries of different positions, so they get a contract of their own on a pair's
/// spatial block when they are added; a layer may meet several contracts.

#include <concepts>
#include <string_view>
#include <type_traits>

#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"

namespace tangent {

/// A layer with its own kernel rule on feature vectors (Dense, Identity).
///
/// requires, for `const L l`, `double` scalars `q, t, q11, q22, width` and a site:
/// - `L::name`: a `std::string_view` for messages;
/// - `L::output_stage<In>`: the stage after the layer, given the `Stage` before it (a member
///   alias template); it `static_assert`s, with a sentence that says what to insert, when the
///   layer cannot follow `In`;
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

/// Anything `serial` accepts as one layer: an activation (adapted by `layers/elementwise.hpp`)
/// or a layer with its own kernel rule.
template <class L>
concept KernelLayer = Activation<L> || FeatureLayer<L>;

template <class... Ls>
struct Serial;

namespace detail {
template <class T>
struct is_serial : std::false_type {};
template <class... Ls>
struct is_serial<Serial<Ls...>> : std::true_type {};
}  // namespace detail

/// What the kernel functions accept as a network: a `Serial`, or a single layer, which acts as a
/// one-layer network.
template <class T>
concept Network = detail::is_serial<T>::value || KernelLayer<T>;

}  // namespace tangent
