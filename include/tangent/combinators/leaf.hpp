#pragma once
/// @file
/// Layers as leaves of a network's tree: `Walk<L>` for any layer or activation, and the calls
/// through which every driver uses a leaf, so that a type meeting `FeatureLayer` or
/// `SpatialLayer` and one meeting `Activation` are used the same way.
///
/// An activation is a layer with the single elementwise kernel rule (neural-tangents
/// `_elementwise`): Σ' = E[φ(u)φ(v)], Θ' = Θ·E[φ'(u)φ'(v)], with the pair's variances taken at
/// the same layer and no additive Σ term (the next affine layer adds it). It needs a Gaussian
/// input, i.e. an affine layer right before it, and its output is not Gaussian. (Activations are
/// plain aggregates rather than bases of an `Elementwise<A>` wrapper: a base class would stop
/// users from writing `LeakyReLU{.alpha = 0.1}`.)

#include <array>
#include <cstddef>
#include <type_traits>

#include "tangent/combinators/node.hpp"
#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/layer_concepts.hpp"
#include "tangent/core/moments.hpp"
#include "tangent/core/pair_context.hpp"
#include "tangent/core/params.hpp"
#include "tangent/core/simd_math.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/stage.hpp"

namespace tangent::detail {

/// Stage after an activation: the input must be Gaussian, and the output no longer is.
template <class A, class In>
struct activation_stage {
  static_assert(In::gaussian,
                "TANGENT: AN ACTIVATION MUST FOLLOW AN AFFINE LAYER. Its input must be Gaussian, "
                "as neural-tangents requires: put a Dense (or Conv) layer right before this "
                "activation. The compiler's instantiation notes name it: "
                "activation_stage<activation, stage>.");
  using type = std::conditional_t<In::gaussian, Stage<typename In::kind, false>, InvalidStage>;
};

template <bool HasRule, class L, class In>
struct declared_stage {
  using type = InvalidStage;
};
template <class L, class In>
struct declared_stage<true, L, In> {
  using type = typename L::template output_stage<In>;
};

/// Stage after a layer with its own rule: its `output_stage`, which a user's layer may forget.
template <class L, class In>
struct leaf_stage {
  static constexpr bool has_rule = requires { typename L::template output_stage<In>; };
  static_assert(has_rule,
                "TANGENT: LAYER WITHOUT ITS STAGE RULE, or one that does not accept this stage: "
                "add `template <class In> using output_stage = In;` to a layer that keeps the "
                "kind of data and whether it is Gaussian, or name the stage after it "
                "(`tangent::Stage<typename In::kind, false>` after a nonlinear map). The "
                "compiler's instantiation notes name the layer and the stage: "
                "leaf_stage<layer, stage>.");
  using type = typename declared_stage<has_rule, L, In>::type;
};
template <Activation A, class In>
struct leaf_stage<A, In> {
  using type = typename activation_stage<A, In>::type;
};

/// A layer as a node: one slot, one position, its own stage and spatial rules.
template <class L>
struct Walk {
  template <class In>
  using output_stage = typename leaf_stage<L, In>::type;

  static constexpr bool in_full(bool out_full) {
    if constexpr (needs_full_spatial<L>()) {
      return true;
    } else if constexpr (reduces_spatial<L>()) {
      return false;  // a reducer that reads only same-position entries (Flatten)
    } else {
      return out_full;
    }
  }

  template <class In, bool OutFull, class P, class State, class Visitor>
  TANGENT_INLINE static void fold(const L& layer, P& params, State& state, Cursor& cursor,
                                  Visitor& visitor) {
    const LayerSite site = cursor.next_site(L::name);
    visitor.template leaf<In, in_full(OutFull), OutFull>(layer, params, state, cursor.slot++, site);
  }

  template <class P, class State, class Visitor>
  static void fold_backward(const L& layer, P& params, State& state, Cursor& cursor,
                            Visitor& visitor, bool need_input_gradient) {
    visitor.leaf_backward(layer, params, state, --cursor.slot, need_input_gradient);
  }
};

template <class L>
struct node_params {
  using type = layer_params_t<L>;
};

template <KernelLayer L>
void validate_layer(const L& layer, const LayerSite& site) {
  layer.validate(site);
}

/// The shape after a layer on feature vectors of shape `in` (rank 0; channels = the width).
template <KernelLayer L>
Geometry feature_output(const L& layer, const Geometry& in, const LayerSite& site) {
  if constexpr (requires { layer.check_input(in, site); }) layer.check_input(in, site);
  if constexpr (Activation<L>) {
    return in;
  } else {
    return features_shape(layer.output_width(in.channels));
  }
}

/// The shape after a layer on spatial data of shape `in`; a reducing layer (Flatten,
/// GlobalAvgPool) gives feature vectors.
template <KernelLayer L>
Geometry spatial_output(const L& layer, const Geometry& in, const LayerSite& site) {
  if constexpr (requires { layer.check_input(in, site); }) layer.check_input(in, site);
  if constexpr (Activation<L>) {
    return in;
  } else {
    const Geometry out = layer.output_geometry(in, site);
    return reduces_spatial<L>() ? features_shape(out.channels) : out;
  }
}

/// Whether `L` may tell apart equal inputs: a layer that draws randomness per sample (Dropout)
/// declares `still_equal(pair)`, whether the pair is still equal after it. The sweeps update
/// their equality only after such layers, so that every other layer leaves it untouched (kept in
/// registers through the fused sweep; updating it after every layer cost 8-12% of the FC sweep).
template <class L, class V>
inline constexpr bool tells_apart_equal = requires(const L& layer, const EntryContext<V>& pair) {
  layer.still_equal(pair);
};

template <KernelLayer L, class S>
S propagate_variance(const L& layer, S q) {
  return layer.variance(q);
}

/// The context of each lane of a group, for layers written for scalars only.
template <class S>
std::array<EntryContext<S>, kLanes<S>> split_lanes(const EntryContext<Lanes<S>>& pair) {
  using V = Lanes<S>;
  constexpr std::size_t n = kLanes<S>;
  std::array<S, n> q11, q22, root11, root22, width, equal, same;
  pair.q11.store(q11.data());
  pair.q22.store(q22.data());
  pair.root11.store(root11.data());
  pair.root22.store(root22.data());
  pair.width.store(width.data());
  select(pair.equal, V::splat(S(1)), V::splat(S(0))).store(equal.data());
  select(pair.same_sample, V::splat(S(1)), V::splat(S(0))).store(same.data());
  std::array<EntryContext<S>, n> lanes;
  for (std::size_t k = 0; k < n; ++k) {
    lanes[k] = {q11[k],   q22[k],           root11[k],       root22[k],
                width[k], equal[k] != S(0), same[k] != S(0), equal[k] != S(0) || same[k] != S(0)};
  }
  return lanes;
}

/// Whether the pairs of a group are still equal after a layer that tells equal inputs apart
/// (`tells_apart_equal`), lane by lane when it is written for scalars only.
template <class L, class V>
mask_t<V> still_equal(const L& layer, const EntryContext<V>& pair) {
  if constexpr (tells_apart_equal<L, V>) {
    return layer.still_equal(pair);
  } else {
    using S = scalar_t<V>;
    const auto lanes = split_lanes(pair);
    std::array<S, kLanes<S>> kept;
    for (std::size_t k = 0; k < kLanes<S>; ++k) kept[k] = layer.still_equal(lanes[k]) ? S(1) : S(0);
    return V::load(kept.data()) == S(1);
  }
}

/// The elementwise rule of an activation whose `moments(q12)` are given (for the pair's own
/// q11 and q22): Σ' = E[φ(u)φ(v)], Θ' = Θ·E[φ'(u)φ'(v)]. Equal inputs take their covariance from
/// their variance, so their angle is exactly 0.
template <bool WithNtk, class V, class MomentsOf>
TANGENT_INLINE void apply_activation(V& q, V& t, const EntryContext<V>& pair, MomentsOf&& moments) {
  const V q12 = pair.maybe_equal ? select(pair.equal, pair.q11, q) : q;
  const Moments<V> m = moments(q12);
  q = m.expect;
  if constexpr (WithNtk) t *= m.expect_derivative;
}

/// One entry (or a group of lanes) through a layer on feature vectors. A layer without a lane
/// form runs lane by lane inside the vectorised sweep, so the rest of the network keeps its
/// packets.
template <bool WithNtk, KernelLayer L, class V>
void propagate_entry(const L& layer, V& q, V& t, const EntryContext<V>& pair) {
  if constexpr (is_lanes<V> && !supports_lanes<L>) {
    using S = scalar_t<V>;
    std::array<S, kLanes<S>> qs, ts;
    q.store(qs.data());
    t.store(ts.data());
    const auto lanes = split_lanes(pair);
    for (std::size_t k = 0; k < kLanes<S>; ++k) {
      propagate_entry<WithNtk>(layer, qs[k], ts[k], lanes[k]);
    }
    q = V::load(qs.data());
    if constexpr (WithNtk) t = V::load(ts.data());
  } else if constexpr (Activation<L>) {
    apply_activation<WithNtk>(q, t, pair, [&](const V& q12) {
      return rooted_moments(layer, pair.q11, q12, pair.q22, pair.root11, pair.root22);
    });
  } else {
    layer.template propagate_entry<WithNtk>(q, t, pair);
  }
}

}  // namespace tangent::detail
