#pragma once
/// @file
/// The plan of a kernel computation, made once per call before any parallel work: every layer's
/// hyperparameters checked, and per slot (every layer and fan-in, in the order they run) the
/// shape entering it, the passes of window layers and the shapes of fan-ins, each checked against
/// the layer (the errors name the layer and the shapes). The per-pair code then cannot fail.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tangent/combinators/fan_in.hpp"
#include "tangent/combinators/leaf.hpp"
#include "tangent/combinators/node.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/layers/window.hpp"

namespace tangent::detail {

/// Per slot: the shape entering it (feature vectors: rank 0, channels = the finite width), the
/// passes of a window layer (Conv, pooling), the shape rule of a fan-in.
struct KernelPlan {
  std::vector<Geometry> in;
  std::vector<WindowPlan> window;
  std::vector<FanInShape> fan_in;
  /// Per slot: whether its rule reads √ of its input variances (an activation on spatial data,
  /// any layer on feature vectors), which the trace then keeps beside the variances.
  std::vector<std::uint8_t> rooted;
  Geometry out;
  /// Entries of the largest block a spatial sweep holds per pair of samples: P² for a stage that
  /// needs every pair of positions, P for one that needs only their diagonal.
  double largest_block = 0;

  Index slots() const { return static_cast<Index>(in.size()); }

  /// Positions a spatial trace keeps per sample at `slot`: every layer's input variances; none
  /// at a fan-in, whose branches keep theirs.
  Index traced_positions(Index slot) const {
    const auto k = static_cast<std::size_t>(slot);
    return fan_in[k].branches.empty() ? in[k].positions() : 0;
  }
  /// Of those, the positions whose square roots the trace keeps too.
  Index rooted_positions(Index slot) const {
    return rooted[static_cast<std::size_t>(slot)] != 0 ? traced_positions(slot) : 0;
  }
};

/// Walks the network on shapes, filling a KernelPlan.
struct PlanVisitor {
  KernelPlan& plan;

  void hold_block(const Geometry& shape, bool full) {
    const auto p = static_cast<double>(shape.positions());
    plan.largest_block = std::max(plan.largest_block, full ? p * p : p);
  }

  void claim(Index slot, const Geometry& in) {
    plan.in.push_back(in);
    plan.window.emplace_back();
    plan.fan_in.emplace_back();
    plan.rooted.push_back(0);
    static_cast<void>(slot);  // slots arrive in order: slot == the size before the push
  }

  template <class In, bool InFull, bool OutFull, class L, class P>
  void leaf(const L& layer, P&, Geometry& shape, Index slot, const LayerSite& site) {
    validate_layer(layer, site);
    claim(slot, shape);
    plan.rooted.back() = !is_spatial<typename In::kind>::value || Activation<L> ? 1 : 0;
    if constexpr (is_spatial<typename In::kind>::value) {
      if constexpr (requires { layer.window_plan(shape, site); }) {
        WindowPlan& window = plan.window[static_cast<std::size_t>(slot)];
        window = layer.window_plan(shape, site);
        shape = window.out();
      } else {
        shape = spatial_output(layer, shape, site);
      }
      require_countable(site, shape);
      hold_block(plan.in[static_cast<std::size_t>(slot)], InFull);
      hold_block(shape, OutFull);
    } else {
      shape = feature_output(layer, shape, site);
    }
  }

  template <std::size_t K>
  std::array<Geometry, K> fork(const Geometry& shape) {
    return copies_of<K>(shape);
  }
  void to_diagonal(Geometry&) {}

  template <class In, class Outs, bool OutFull, class F, std::size_t K>
  void fan_in(const F& f, Geometry& shape, std::array<Geometry, K>& others, Index slot,
              const LayerSite& site) {
    FanInShape s = fan_in_shape(f, shape, others, site);
    claim(slot, shape);
    shape = s.out;
    if constexpr (is_spatial<typename In::kind>::value) hold_block(shape, OutFull);
    plan.fan_in[static_cast<std::size_t>(slot)] = std::move(s);
  }
};

/// The plan of `net` (a Serial) on inputs of shape `input` and stage `In`; throws, naming the
/// layer, for unusable hyperparameters or shapes.
template <class In, class Net>
KernelPlan make_plan(const Net& net, const Geometry& input) {
  KernelPlan plan;
  PlanVisitor visitor{plan};
  Geometry shape = input;
  Cursor cursor;
  Unused params;
  fold<In, false>(net, params, shape, cursor, visitor);
  plan.out = shape;
  return plan;
}

}  // namespace tangent::detail
