#pragma once
/// @file
/// The kernel block of one pair of spatial samples, and the window operations on it.
///
/// A *full* block holds the covariance of every pair of positions, P×P with rows for the first
/// sample's positions and columns for the second's (position p = h·W + w); a *diagonal* block
/// holds only same-position entries (P). Convolutions read the same filter offset on both
/// positions of a pair (weights are shared across positions and independent across offsets);
/// pooling sums each position of the pair over its own window. Both are separable per spatial
/// axis, which turns an f×f filter into two passes of f (neural-tangents issue #29 notes its
/// f×f diagonal filter costs f² where f would do).

#include <algorithm>
#include <utility>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/spatial.hpp"

namespace tangent::detail {

struct WindowPlan;

/// Buffers and state of one pair of samples while the spatial layers run.
template <class S>
struct PairBlock {
  Geometry geometry;         ///< current shape of each sample (channels = finite width)
  std::vector<S> nngp;       ///< current Σ block (P×P column-major, or P)
  std::vector<S> ntk;        ///< current Θ block
  std::vector<S> scratch;    ///< workspace of the window passes
  std::vector<S> spare;      ///< second workspace
  std::vector<Index> table;  ///< position map of the current window pass
  const S* var1 = nullptr;   ///< variances per position of the first sample, entering the layer
  const S* var2 = nullptr;   ///< ... of the second sample
  bool equal = false;        ///< equal inputs not told apart yet (same-position angles are 0)
  bool same_sample = false;  ///< the same sample (dropout masks shared), see EntryContext
  const WindowPlan* window = nullptr;  ///< the current layer's passes, for window layers
};

/// Position strides along axis `axis` and along the other axis of a geometry.
inline std::pair<Index, Index> axis_strides(const Geometry& g, int axis) {
  const Index along = axis == 0 ? g.extent[1] : 1;
  const Index across = axis == 0 ? 1 : g.extent[1];
  return {along, across};
}

/// The positions a window pass along `axis` reads: table[d·P_out + r] is the input position that
/// output position r reads at window offset d, or −1 in zero padding. Computing it once per pass
/// keeps index arithmetic (and the modulo of circular padding) out of the inner loops.
inline void position_map(const Geometry& gi, const Geometry& go, int axis, const AxisMap& map,
                         std::vector<Index>& table) {
  const Index po = go.positions();
  const Index across = go.extent[static_cast<std::size_t>(1 - axis)];
  const auto [along_i, across_i] = axis_strides(gi, axis);
  const auto [along_o, across_o] = axis_strides(go, axis);
  table.resize(static_cast<std::size_t>(map.window * po));
  for (Index d = 0; d < map.window; ++d) {
    for (Index b = 0; b < across; ++b) {
      for (Index a = 0; a < map.out; ++a) {
        const Index i = map.source(a, d);
        table[static_cast<std::size_t>(d * po + a * along_o + b * across_o)] =
            i < 0 ? -1 : i * along_i + b * across_i;
      }
    }
  }
}

/// Full block, convolution along one axis: out(r, c) = Σ_d in(map_d(r), map_d(c)), the same
/// offset d for both positions of the pair. `out` (P_out×P_out) must not alias `in` (P_in×P_in).
template <class S>
void convolve_full(const S* in, Index pi, S* out, Index po, const std::vector<Index>& table,
                   Index window) {
  std::fill(out, out + po * po, S(0));
  for (Index d = 0; d < window; ++d) {
    const Index* map = table.data() + d * po;
    for (Index c = 0; c < po; ++c) {
      if (map[c] < 0) continue;
      const S* column = in + pi * map[c];
      S* target = out + po * c;
      for (Index r = 0; r < po; ++r) {
        if (map[r] >= 0) target[r] += column[map[r]];
      }
    }
  }
}

/// Diagonal block, window sum along one axis: out(r) = Σ_d in(map_d(r)).
template <class S>
void convolve_diagonal(const S* in, S* out, Index po, const std::vector<Index>& table,
                       Index window) {
  std::fill(out, out + po, S(0));
  for (Index d = 0; d < window; ++d) {
    const Index* map = table.data() + d * po;
    for (Index r = 0; r < po; ++r) {
      if (map[r] >= 0) out[r] += in[map[r]];
    }
  }
}

/// Full block, window sum of the first sample's positions (rows) only: pooling sums each
/// position of a pair over its own window. `columns` is the number of columns.
template <class S>
void pool_rows(const S* in, Index pi, S* out, Index po, Index columns,
               const std::vector<Index>& table, Index window) {
  std::fill(out, out + po * columns, S(0));
  for (Index c = 0; c < columns; ++c) {
    const S* column = in + pi * c;
    S* target = out + po * c;
    for (Index d = 0; d < window; ++d) {
      const Index* map = table.data() + d * po;
      for (Index r = 0; r < po; ++r) {
        if (map[r] >= 0) target[r] += column[map[r]];
      }
    }
  }
}

/// Full block, window sum of the second sample's positions (columns) only: whole columns add.
template <class S>
void pool_columns(const S* in, Index rows, S* out, Index po, const std::vector<Index>& table,
                  Index window) {
  std::fill(out, out + rows * po, S(0));
  for (Index c = 0; c < po; ++c) {
    S* target = out + rows * c;
    for (Index d = 0; d < window; ++d) {
      const Index source = table[static_cast<std::size_t>(d * po + c)];
      if (source < 0) continue;
      const S* column = in + rows * source;
      for (Index r = 0; r < rows; ++r) target[r] += column[r];
    }
  }
}

/// Copies the diagonal of a full P×P block into `out` (P entries).
template <class S>
void take_diagonal(const std::vector<S>& full, Index positions, std::vector<S>& out) {
  out.resize(static_cast<std::size_t>(positions));
  for (Index p = 0; p < positions; ++p) {
    out[static_cast<std::size_t>(p)] = full[static_cast<std::size_t>(p + positions * p)];
  }
}

/// The geometry after a window along axis `axis`.
inline Geometry with_extent(Geometry g, int axis, Index extent) {
  g.extent[static_cast<std::size_t>(axis)] = extent;
  return g;
}

}  // namespace tangent::detail
