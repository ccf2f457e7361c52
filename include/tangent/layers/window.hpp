#pragma once
/// @file
/// What convolutions and pooling share: checking their extents against the input, and the
/// plan of their separable passes (axis maps and position maps), built once per call of the
/// kernel functions, before any parallel work, so the per-pair code cannot fail.

#include <array>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/spatial_block.hpp"
#include "tangent/core/stage.hpp"

namespace tangent::detail {

template <class Kind>
struct is_spatial : std::false_type {};
template <int D>
struct is_spatial<Spatial<D>> : std::true_type {};

/// Rejects an extent with more than two sizes or a size below 1.
inline void require_positive_extent(const LayerSite& site, std::string_view field,
                                    const Extent& extent) {
  if (extent.rank > 2) {
    fail_layer(site, std::string(field) + " has " + std::to_string(extent.rank) +
                         " sizes; sequences take one and images two");
  }
  for (int k = 0; k < extent.rank; ++k) {
    if (extent[k] <= 0) {
      fail_layer(site, std::string(field) + " sizes must be positive, got " + extent.str());
    }
  }
}

/// Rejects an extent whose number of sizes is not the input's number of spatial dimensions.
inline void require_extent(const LayerSite& site, std::string_view field, const Extent& extent,
                           const Geometry& input) {
  if (extent.rank != 0 && extent.rank != input.rank) {
    fail_layer(site, std::string(field) + " has " + std::to_string(extent.rank) + " size" +
                         (extent.rank == 1 ? "" : "s") + " but the input (" + input.str() +
                         ") has " + std::to_string(input.rank) + " spatial dimension" +
                         (input.rank == 1 ? "" : "s") + "; give one size per spatial dimension");
  }
}

/// The separable passes of a window layer on one input shape: per axis the map of output to
/// input indices, the shape after the pass, and the position map (empty for a pass that changes
/// nothing, and for every pass of a plan of shapes alone, `plan_window_shape`, until
/// `add_passes` fills them).
struct WindowPlan {
  std::array<AxisMap, 2> maps{};
  std::array<Geometry, 3> geometry{};  ///< input, after axis 0, after axis 1 (the output)
  std::array<PassMap, 2> passes{};

  const Geometry& in() const { return geometry[0]; }
  const Geometry& out() const { return geometry[2]; }
  Index window_size() const { return maps[0].window * maps[1].window; }
};

/// Applies a window layer's passes to a block, both positions of each pair with the same offset
/// (a convolution: `Full` block) or the positions alone (diagonal block); the result replaces
/// `values`, `scratch` is workspace. (A plain loop: with the same passes written as a lambda
/// handed to a member function, GCC 12 -O3 produced wrong numbers once everything was inlined.)
template <bool Full, class S>
void convolve_passes(const WindowPlan& plan, std::vector<S>& values, std::vector<S>& scratch) {
  for (std::size_t k = 0; k < 2; ++k) {
    const PassMap& pass = plan.passes[k];
    if (pass.empty()) continue;
    const Index pi = plan.geometry[k].positions();
    const Index po = plan.geometry[k + 1].positions();
    if constexpr (Full) {
      scratch.resize(static_cast<std::size_t>(po * po));
      convolve_full(values.data(), pi, scratch.data(), po, pass);
    } else {
      scratch.resize(static_cast<std::size_t>(po));
      convolve_diagonal(values.data(), scratch.data(), po, pass);
    }
    values.swap(scratch);
  }
}

/// Applies a pooling layer's passes to a full block: each position of a pair over its own
/// window, the rows (first sample) and then the columns.
template <class S>
void pool_passes(const WindowPlan& plan, std::vector<S>& values, std::vector<S>& scratch) {
  const Index columns = plan.in().positions();
  for (std::size_t k = 0; k < 2; ++k) {
    const PassMap& pass = plan.passes[k];
    if (pass.empty()) continue;
    const Index po = plan.geometry[k + 1].positions();
    scratch.resize(static_cast<std::size_t>(po * columns));
    pool_rows(values.data(), plan.geometry[k].positions(), scratch.data(), po, columns, pass);
    values.swap(scratch);
  }
  const Index rows = plan.out().positions();
  for (std::size_t k = 0; k < 2; ++k) {
    const PassMap& pass = plan.passes[k];
    if (pass.empty()) continue;
    const Index po = plan.geometry[k + 1].positions();
    scratch.resize(static_cast<std::size_t>(rows * po));
    pool_columns(values.data(), rows, scratch.data(), po, pass);
    values.swap(scratch);
  }
}

/// Σ over the window of output position `a` of term(p), p the input positions the window reads:
/// per axis-1 offset, the sum over axis-0 offsets, in the order and grouping of the separable
/// passes (`pool_passes`), so the result has their bits (positions in padding are skipped where
/// the passes add a masked +0: the same bits, see OffsetMap).
template <class S, class Term>
TANGENT_INLINE S window_sum(const WindowPlan& plan, Index a, const Term& term) {
  const PassMap& first = plan.passes[0];
  const PassMap& second = plan.passes[1];
  const Index middle = plan.geometry[1].positions();
  const auto first_sum = [&](Index r) {
    if (first.empty()) return term(r);
    S sum = 0;
    for (Index d = 0; d < first.window(); ++d) {
      const Index source = first.source(d, r, middle);
      if (source >= 0) sum += term(source);
    }
    return sum;
  };
  if (second.empty()) return first_sum(a);
  S sum = 0;
  for (Index d = 0; d < second.window(); ++d) {
    const Index source = second.source(d, a, plan.out().positions());
    if (source >= 0) sum += first_sum(source);
  }
  return sum;
}

/// The diagonal of `pool_passes`' result, from the full input block alone: out[a] =
/// Σ_{d, e} in(w_d(a), w_e(a)) over a's window w (rows summed first, as the passes do), which
/// reads |w|² entries per output position where the passes touch every pair of positions
/// (O(P_out·|w|²) against O(P²·(w₀ + w₁)) per pair, w_k the window along axis k). Same bits as
/// `pool_passes` and `take_diagonal`. `out` must not alias `in`.
template <class S>
void pool_diagonal(const WindowPlan& plan, const std::vector<S>& in, std::vector<S>& out) {
  const Index pi = plan.in().positions();
  const Index po = plan.out().positions();
  out.resize(static_cast<std::size_t>(po));
  for (Index a = 0; a < po; ++a) {
    out[static_cast<std::size_t>(a)] = window_sum<S>(plan, a, [&](Index column) {
      const S* values = in.data() + pi * column;
      return window_sum<S>(plan, a, [&](Index row) { return values[row]; });
    });
  }
}

/// Checks a window layer's extents against `input` and computes its axis maps and shapes, without
/// the passes (all that output shapes and finite networks read); the errors name the layer and
/// the shapes.
inline WindowPlan plan_window_shape(const LayerSite& site, std::string_view what,
                                    const Extent& window, const Extent& strides, Padding padding,
                                    const Geometry& input) {
  require_extent(site, what, window, input);
  require_extent(site, "strides", strides, input);
  WindowPlan plan;
  plan.geometry[0] = input;
  for (int axis = 0; axis < 2; ++axis) {
    const auto k = static_cast<std::size_t>(axis);
    const bool used = axis < input.rank;
    const AxisMap map =
        axis_map(input.extent[k], used ? window[axis] : 1, used ? strides[axis] : 1, padding);
    if (map.out <= 0) {
      fail_layer(site, "a " + window.str() + " " + std::string(what) + " with " +
                           std::string(padding_name(padding)) + " padding does not fit inputs of " +
                           input.str() + "; use a smaller " + std::string(what) +
                           ", larger inputs, or same/circular padding");
    }
    plan.maps[k] = map;
    plan.geometry[k + 1] = with_extent(plan.geometry[k], axis, map.out);
  }
  return plan;
}

/// Adds the position maps of the kernel rules' passes to a plan of shapes: one per axis whose map
/// changes something.
inline void add_passes(WindowPlan& plan) {
  for (int axis = 0; axis < 2; ++axis) {
    const auto k = static_cast<std::size_t>(axis);
    const AxisMap& map = plan.maps[k];
    const bool identity =
        map.window == 1 && map.stride == 1 && map.offset == 0 && map.out == map.in;
    if (!identity) plan.passes[k] = pass_map(plan.geometry[k], plan.geometry[k + 1], axis, map);
  }
}

/// Checks a window layer's extents against `input` and plans its passes.
inline WindowPlan plan_window(const LayerSite& site, std::string_view what, const Extent& window,
                              const Extent& strides, Padding padding, const Geometry& input) {
  WindowPlan plan = plan_window_shape(site, what, window, strides, padding, input);
  add_passes(plan);
  return plan;
}

}  // namespace tangent::detail
