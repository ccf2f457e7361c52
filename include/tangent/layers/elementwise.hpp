#pragma once
/// @file
/// How an `Activation` acts as a layer: the single elementwise kernel rule
///   Σ' = E[φ(u)φ(v)],   Θ' = Θ·E[φ'(u)φ'(v)],
/// with the pair's variances q11, q22 taken from the same layer (neural-tangents `_elementwise`).
/// There is no additive Σ term: the next affine layer adds it.
///
/// Every layer-facing operation of the kernel sweep goes through these functions, so a type
/// that meets `FeatureLayer` and one that meets `Activation` are used the same way.

#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/layer_concepts.hpp"

namespace tangent::detail {

template <KernelLayer L>
void validate_layer(const L& layer, const LayerSite& site) {
  layer.validate(site);
}

template <KernelLayer L>
Index output_width(const L& layer, Index width) {
  if constexpr (Activation<L>) {
    return width;
  } else {
    return layer.output_width(width);
  }
}

template <KernelLayer L, class S>
S propagate_variance(const L& layer, S q) {
  return layer.variance(q);
}

template <bool WithNtk, KernelLayer L, class S>
void propagate_entry(const L& layer, S& q, S& t, S q11, S q22, S width_in) {
  if constexpr (Activation<L>) {
    const Moments<S> m = layer.moments(q11, q, q22);
    q = m.expect;
    if constexpr (WithNtk) t *= m.expect_derivative;
  } else {
    layer.template propagate_entry<WithNtk>(q, t, q11, q22, width_in);
  }
}

}  // namespace tangent::detail
