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
#include <cstddef>
#include <cstdint>
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
  const S* var1 = nullptr;   ///< variances per position of the first sample, entering the layer
  const S* var2 = nullptr;   ///< ... of the second sample
  const S* root1 = nullptr;  ///< √var1, correctly rounded; null but for an activation
  const S* root2 = nullptr;  ///< √var2
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

/// Output positions [first, first + length) of a window pass that read the consecutive input
/// positions [source, source + length) at one window offset.
struct PositionRun {
  Index first = 0;
  Index source = 0;
  Index length = 0;
};

/// How the output positions of a window pass read their inputs at one window offset d.
/// - *Affine* (no wrapping): position r reads step·r + shift where `keep[r − first]`, for r in
///   [first, last), a range in which every step·r + shift is an input position. The pass adds
///   the whole range with the padding masked out, one packet loop of the full length even when
///   an image's rows are shorter than a packet (8 × 8 images under AVX-512). Stride 1 along
///   either axis gives step 1; stride s along the columns of an image of W = s·W′ columns gives
///   step s.
/// - Otherwise, `runs` of consecutive positions: circular padding, a stride along the rows of an
///   image (one run per row), or along columns that the stride does not divide (runs of one).
/// Adding a masked-out +0 instead of skipping an entry gives the same bits: every pass starts its
/// sums at +0, and t + (+0) = t except for t = −0, which a sum that starts at +0 reaches only
/// when rounding downwards, where −0 + (+0) = −0 again.
struct OffsetMap {
  bool affine = false;
  Index step = 1;
  Index shift = 0;
  Index first = 0;
  Index last = 0;
  /// 1 where position first + k reads an input, 0 in padding; not chars, which may alias every
  /// type and so keep the compiler from vectorising the loops that read them.
  std::vector<std::uint32_t> keep;
  std::vector<PositionRun> runs;
};

/// The positions a window pass reads. `table[d·P_out + r]` is the input position
/// that output position r reads at window offset d, or −1 in zero padding; `offsets[d]` is the
/// same map in the form the inner loops use. Computed once per pass, before any pair, it keeps
/// index arithmetic (and the modulo of circular padding) out of the inner loops.
struct PassMap {
  std::vector<Index> table;
  std::vector<OffsetMap> offsets;

  bool empty() const { return table.empty(); }
  Index window() const { return static_cast<Index>(offsets.size()); }
  Index source(Index d, Index position, Index positions) const {
    return table[static_cast<std::size_t>(d * positions + position)];
  }
};

/// The inner-loop form of offset d's column of a position table (see OffsetMap).
inline OffsetMap offset_map(const PassMap& pass, Index d, Index po, Index pi) {
  OffsetMap offset;
  std::vector<Index> read;  // the positions read at this offset
  for (Index r = 0; r < po; ++r) {
    if (pass.source(d, r, po) >= 0) read.push_back(r);
  }
  if (read.empty()) return offset;
  const Index r0 = read[0];
  const Index s0 = pass.source(d, r0, po);
  offset.step = read.size() > 1 ? (pass.source(d, read[1], po) - s0) / (read[1] - r0) : 1;
  offset.shift = s0 - offset.step * r0;
  offset.affine = offset.step >= 1;
  for (Index r : read) {
    if (!offset.affine) break;
    offset.affine = pass.source(d, r, po) == offset.step * r + offset.shift;
  }
  if (offset.affine) {
    // step·r + shift in [0, pi): r ≥ ⌈−shift/step⌉, r ≤ ⌊(pi − 1 − shift)/step⌋.
    offset.first =
        std::max<Index>(0, offset.shift >= 0 ? 0 : (-offset.shift + offset.step - 1) / offset.step);
    offset.last = std::min(po, (pi - 1 - offset.shift) / offset.step + 1);
    for (Index r = offset.first; r < offset.last; ++r) {
      offset.keep.push_back(pass.source(d, r, po) >= 0 ? 1 : 0);
    }
    return offset;
  }
  for (Index r : read) {
    const Index source = pass.source(d, r, po);
    if (!offset.runs.empty()) {
      PositionRun& run = offset.runs.back();
      if (run.first + run.length == r && run.source + run.length == source) {
        ++run.length;
        continue;
      }
    }
    offset.runs.push_back({r, source, 1});
  }
  return offset;
}

/// The map of a window pass along `axis` from positions of `gi` to positions of `go`.
inline PassMap pass_map(const Geometry& gi, const Geometry& go, int axis, const AxisMap& map) {
  PassMap pass;
  const Index po = go.positions();
  const Index across = go.extent[static_cast<std::size_t>(1 - axis)];
  const auto [along_i, across_i] = axis_strides(gi, axis);
  const auto [along_o, across_o] = axis_strides(go, axis);
  pass.table.resize(static_cast<std::size_t>(map.window * po));
  for (Index d = 0; d < map.window; ++d) {
    for (Index b = 0; b < across; ++b) {
      for (Index a = 0; a < map.out; ++a) {
        const Index i = map.source(a, d);
        pass.table[static_cast<std::size_t>(d * po + a * along_o + b * across_o)] =
            i < 0 ? -1 : i * along_i + b * across_i;
      }
    }
  }
  for (Index d = 0; d < map.window; ++d)
    pass.offsets.push_back(offset_map(pass, d, po, gi.positions()));
  return pass;
}

/// target[r] += source[map_d(r)] for every output position r that offset d reads: the inner
/// loop of every pass.
template <class S>
TANGENT_INLINE void add_offset(S* target, const S* source, const OffsetMap& offset) {
  if (offset.affine) {
    S* to = target + offset.first;
    const S* from = source + offset.step * offset.first + offset.shift;
    const std::uint32_t* keep = offset.keep.data();
    const Index length = offset.last - offset.first;
    if (offset.step == 1) {
      for (Index k = 0; k < length; ++k) {
        const S value = from[k];
        to[k] += keep[k] != 0 ? value : S(0);
      }
    } else {
      const Index step = offset.step;
      for (Index k = 0; k < length; ++k) {
        const S value = from[step * k];
        to[k] += keep[k] != 0 ? value : S(0);
      }
    }
    return;
  }
  for (const PositionRun& run : offset.runs) {
    S* to = target + run.first;
    const S* from = source + run.source;
    for (Index k = 0; k < run.length; ++k) to[k] += from[k];
  }
}

/// Full block, convolution along one axis: out(r, c) = Σ_d in(map_d(r), map_d(c)), the same
/// offset d for both positions of the pair, summed over d in ascending order. `out`
/// (P_out×P_out) must not alias `in` (P_in×P_in).
template <class S>
void convolve_full(const S* in, Index pi, S* out, Index po, const PassMap& pass) {
  std::fill(out, out + po * po, S(0));
  for (Index c = 0; c < po; ++c) {
    for (Index d = 0; d < pass.window(); ++d) {
      const Index source = pass.source(d, c, po);
      if (source >= 0)
        add_offset(out + po * c, in + pi * source, pass.offsets[static_cast<std::size_t>(d)]);
    }
  }
}

/// Diagonal block, window sum along one axis: out(r) = Σ_d in(map_d(r)).
template <class S>
void convolve_diagonal(const S* in, S* out, Index po, const PassMap& pass) {
  std::fill(out, out + po, S(0));
  for (Index d = 0; d < pass.window(); ++d)
    add_offset(out, in, pass.offsets[static_cast<std::size_t>(d)]);
}

/// Full block, window sum of the first sample's positions (rows) only: pooling sums each
/// position of a pair over its own window. `columns` is the number of columns.
template <class S>
void pool_rows(const S* in, Index pi, S* out, Index po, Index columns, const PassMap& pass) {
  std::fill(out, out + po * columns, S(0));
  for (Index c = 0; c < columns; ++c) {
    for (Index d = 0; d < pass.window(); ++d)
      add_offset(out + po * c, in + pi * c, pass.offsets[static_cast<std::size_t>(d)]);
  }
}

/// Full block, window sum of the second sample's positions (columns) only: whole columns add.
template <class S>
void pool_columns(const S* in, Index rows, S* out, Index po, const PassMap& pass) {
  std::fill(out, out + rows * po, S(0));
  for (Index c = 0; c < po; ++c) {
    S* target = out + rows * c;
    for (Index d = 0; d < pass.window(); ++d) {
      const Index source = pass.source(d, c, po);
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
