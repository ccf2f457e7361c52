#pragma once
/// @file
/// The contract of a layer for the analytic kernels, and the compile-time walk of stages that
/// turns a wrong composition into one readable compiler message.

#include <concepts>
#include <string_view>

#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/stage.hpp"

namespace tangent {

/// A layer with its own kernel rule on feature vectors (Dense, Identity).
///
/// requires, for `const L l`, `double` scalars `q, t, q11, q22, width` and a site:
/// - `L::name`: a `std::string_view` for messages;
/// - `L::output_stage<In>`: the stage after the layer, given the stage before it (a member alias
///   template); it `static_assert`s, with a sentence that says what to insert, when the layer
///   cannot follow `In`;
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

/// Anything `serial` accepts as one layer: an activation (adapted by `Elementwise` rules) or a
/// layer with its own kernel rule.
template <class L>
concept KernelLayer = Activation<L> || FeatureLayer<L>;

namespace detail {

/// Stage after an activation: the input must be Gaussian, and the output no longer is.
template <class A, class In>
struct activation_stage {
  static_assert(In::gaussian,
                "TANGENT: AN ACTIVATION MUST FOLLOW AN AFFINE LAYER. Its input must be Gaussian, "
                "as neural-tangents requires: put a Dense (or Conv) layer right before this "
                "activation. The compiler's 'In instantiation of' line with activation_stage<type, "
                "stage> names it.");
  using type = Stage<typename In::kind, false>;
};

template <class L, class In>
struct stage_after {
  using type = typename L::template output_stage<In>;
};

template <Activation A, class In>
struct stage_after<A, In> {
  using type = typename activation_stage<A, In>::type;
};

/// Tags for a left fold `(StageTag<In>{} >> ... >> LayerTag<Ls>{})` that walks the stages of a
/// network without recursion (so deep networks compile fast).
template <class S>
struct StageTag {
  using stage = S;
};
template <class L>
struct LayerTag {};

template <class In, class L>
auto operator>>(StageTag<In>, LayerTag<L>) -> StageTag<typename stage_after<L, In>::type>;

}  // namespace detail
}  // namespace tangent
