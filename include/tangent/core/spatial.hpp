#pragma once
/// @file
/// Vocabulary of spatial data (images, sequences): the kind `Spatial<D>`, padding modes, the
/// per-dimension sizes of filters, windows and strides, and the geometry of a stage.

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"

namespace tangent {

/// Kind of a stage whose samples are D-dimensional maps of channels: sequences (D = 1) or images
/// (D = 2). The kernel of a pair of samples is a block over pairs of positions: the full
/// (P × P) covariance, or only its same-position diagonal (P), chosen at compile time.
template <int D>
struct Spatial {
  static_assert(D == 1 || D == 2,
                "TANGENT: SPATIAL DATA HAS 1 (sequences) OR 2 (images) DIMENSIONS.");
  static constexpr int rank = D;
};

/// How a convolution or pooling window treats the border (neural-tangents' names):
/// - `valid`: no padding; the output has ⌊(n − f)/s⌋ + 1 positions;
/// - `same`: zero padding, ⌈n/s⌉ positions, ⌊total/2⌋ of the padding before the first position;
/// - `circular`: the same amounts, wrapped around (periodic boundary).
enum class Padding { valid, same, circular };

/// Sizes per spatial dimension, for filters, windows and strides: `{3, 3}` for images, `{5}` for
/// sequences; empty (the default) means 1 in every dimension.
struct Extent {
  std::array<Index, 2> sizes{1, 1};
  int rank = 0;  ///< number of sizes given; 0 means "1 everywhere"

  constexpr Extent() = default;
  constexpr Extent(std::initializer_list<Index> list) : rank(static_cast<int>(list.size())) {
    std::size_t k = 0;
    for (Index size : list) {
      if (k < sizes.size()) sizes[k] = size;
      ++k;
    }
  }

  /// Size along dimension k (1 when unspecified).
  constexpr Index operator[](int k) const {
    return rank == 0 ? 1 : sizes[static_cast<std::size_t>(k)];
  }

  bool operator==(const Extent&) const = default;

  /// "3×3", "5", or "1" when empty, for messages.
  std::string str() const {
    if (rank == 0) return "1";
    std::string text;
    for (int k = 0; k < std::min(rank, 2); ++k) {
      if (k > 0) text += "×";
      text += std::to_string(sizes[static_cast<std::size_t>(k)]);
    }
    return text;
  }
};

/// Shape of one sample at some stage: extent per spatial dimension (1-D data uses one) and the
/// number of channels (the finite width); rank 0 is a feature vector of `channels` entries.
struct Geometry {
  int rank = 2;
  std::array<Index, 2> extent{1, 1};
  Index channels = 1;

  Index positions() const { return extent[0] * extent[1]; }

  /// The P·C entries of one sample, or nullopt when they exceed the largest Index (sizes typed
  /// by users can: 2^32 × 2^32 × 2 images), so that no later product of them overflows.
  std::optional<Index> entries() const {
    constexpr Index largest = std::numeric_limits<Index>::max();
    if (extent[0] < 0 || extent[1] < 0 || channels < 0) return std::nullopt;
    if (extent[1] != 0 && extent[0] > largest / extent[1]) return std::nullopt;
    const Index p = extent[0] * extent[1];
    if (channels != 0 && p > largest / channels) return std::nullopt;
    return p * channels;
  }

  /// "8×8×3" for images, "16×4" for sequences, "784" for feature vectors.
  std::string str() const {
    if (rank == 0) return std::to_string(channels);
    std::string text = std::to_string(extent[0]);
    if (rank == 2) text += "×" + std::to_string(extent[1]);
    return text + "×" + std::to_string(channels);
  }
  bool operator==(const Geometry&) const = default;
};

/// The shape of feature vectors of `size` entries.
inline Geometry features_shape(Index size) {
  return Geometry{0, {1, 1}, size};
}

/// The shape of one image (D = 2) or sequence (D = 1), for `init`: the rank is part of the type,
/// so the network's composition is checked against it at compile time.
template <int D>
struct SpatialShape {
  Geometry geometry;
};
/// The shape of height×width images with `channels` channels.
inline SpatialShape<2> image_shape(Index height, Index width, Index channels) {
  return {Geometry{2, {height, width}, channels}};
}
/// The shape of sequences of `length` positions with `channels` channels.
inline SpatialShape<1> sequence_shape(Index length, Index channels) {
  return {Geometry{1, {length, 1}, channels}};
}

namespace detail {

/// How messages end for a shape whose sizes overflow (`Geometry::entries`).
inline constexpr std::string_view kUncountable = " has more entries than a 64-bit index counts";

/// Refuses a layer whose output has more entries per sample than a 64-bit index counts.
inline void require_countable(const LayerSite& site, const Geometry& out) {
  if (!out.entries())
    fail_layer(site, "its output of " + out.str() + " per sample" + std::string(kUncountable));
}

/// a + b for two sizes that a layer adds up (concatenated channels or extents), refused when the
/// sum would exceed the largest Index.
inline Index checked_sum(const LayerSite& site, Index a, Index b) {
  if (b > std::numeric_limits<Index>::max() - a) {
    fail_layer(site, "its output size " + std::to_string(a) + " + " + std::to_string(b) +
                         std::string(kUncountable));
  }
  return a + b;
}

/// One spatial axis of a window operation (convolution or pooling): output position `a` reads
/// input positions `a·stride + d − offset` for d in [0, window), wrapped when `wrap`, skipped
/// (zero padding) when outside [0, in) otherwise.
struct AxisMap {
  Index in = 1;
  Index out = 1;
  Index window = 1;
  Index stride = 1;
  Index offset = 0;
  bool wrap = false;

  /// The input index for output a and window offset d, or −1 when it falls in zero padding.
  Index source(Index a, Index d) const {
    Index i = a * stride + d - offset;
    if (i >= 0 && i < in) return i;
    if (!wrap) return -1;
    i %= in;
    return i < 0 ? i + in : i;
  }
};

/// The output size and offset of a window along one axis, with neural-tangents' (XLA's)
/// padding rules; `out` is 0 or negative when the window does not fit (the caller reports it).
inline AxisMap axis_map(Index in, Index window, Index stride, Padding padding) {
  AxisMap map{in, 0, window, stride, 0, padding == Padding::circular};
  if (padding == Padding::valid) {
    map.out = in >= window ? (in - window) / stride + 1 : 0;
  } else {
    map.out = (in + stride - 1) / stride;
    const Index total = std::max<Index>((map.out - 1) * stride + window - in, 0);
    map.offset = total / 2;
  }
  return map;
}

inline std::string_view padding_name(Padding padding) {
  switch (padding) {
    case Padding::valid:
      return "valid";
    case Padding::same:
      return "same";
    case Padding::circular:
      return "circular";
  }
  return "?";
}

}  // namespace detail
}  // namespace tangent
