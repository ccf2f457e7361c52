#pragma once
/// @file
/// The convolutional layer, on sequences (1-D) and images (2-D).

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/parameterization.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/kernels/spatial_block.hpp"

namespace tangent {
namespace detail {

template <class Kind>
struct is_spatial : std::false_type {};
template <int D>
struct is_spatial<Spatial<D>> : std::true_type {};

template <class In>
struct conv_stage {
  static constexpr bool ok = is_spatial<typename In::kind>::value;
  static_assert(ok,
                "TANGENT: CONV NEEDS IMAGES OR SEQUENCES but receives feature vectors: pass "
                "tangent::images(flat, height, width, channels) or tangent::sequences(flat, "
                "length, channels) as input, or use Dense for feature vectors.");
  using type = std::conditional_t<ok, Stage<typename In::kind, true>, InvalidStage>;
};

/// Checks that an extent given for a layer has the input's rank and positive sizes.
inline void require_extent(const LayerSite& site, std::string_view field, const Extent& extent,
                           const Geometry& input) {
  if (extent.rank != 0 && extent.rank != input.rank) {
    fail_layer(site, std::string(field) + " has " + std::to_string(extent.rank) +
                         " sizes but the input (" + input.str() + ") has " +
                         std::to_string(input.rank) +
                         " spatial dimensions; give one size per "
                         "spatial dimension");
  }
}

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

/// The per-axis maps of a window layer on `input`, with the error a user can act on when the
/// window leaves no output position.
inline std::array<AxisMap, 2> window_maps(const LayerSite& site, std::string_view what,
                                          const Extent& window, const Extent& strides,
                                          Padding padding, const Geometry& input) {
  std::array<AxisMap, 2> maps{};
  for (int k = 0; k < 2; ++k) {
    const bool used = k < input.rank;
    maps[static_cast<std::size_t>(k)] =
        axis_map(input.extent[static_cast<std::size_t>(k)], used ? window[k] : 1,
                 used ? strides[k] : 1, padding);
    if (maps[static_cast<std::size_t>(k)].out <= 0) {
      fail_layer(site, "a " + window.str() + " " + std::string(what) + " with " +
                           std::string(padding_name(padding)) + " padding does not fit inputs of " +
                           input.str() + "; use a smaller " + std::string(what) +
                           ", larger inputs, or same/circular padding");
    }
  }
  return maps;
}

/// True when a window map changes nothing (1-wide window, stride 1): its pass can be skipped.
inline bool is_identity(const AxisMap& map) {
  return map.window == 1 && map.stride == 1 && map.offset == 0 && map.out == map.in;
}

/// Applies a separable window operation with maps {m0, m1} to a block, both positions of each
/// pair with the same offset (`Full` block) or the positions alone (diagonal block), through
/// the workspaces. The result replaces `values`.
template <bool Full, class S>
void convolve_block(std::vector<S>& values, std::vector<S>& scratch, std::vector<Index>& table,
                    const Geometry& in, const std::array<AxisMap, 2>& maps) {
  Geometry current = in;
  for (int axis = 0; axis < 2; ++axis) {
    const AxisMap& map = maps[static_cast<std::size_t>(axis)];
    if (is_identity(map)) continue;
    const Geometry next = with_extent(current, axis, map.out);
    position_map(current, next, axis, map, table);
    const Index pi = current.positions();
    const Index po = next.positions();
    if constexpr (Full) {
      scratch.resize(static_cast<std::size_t>(po * po));
      convolve_full(values.data(), pi, scratch.data(), po, table, map.window);
    } else {
      scratch.resize(static_cast<std::size_t>(po));
      convolve_diagonal(values.data(), scratch.data(), po, table, map.window);
    }
    std::swap(values, scratch);
    current = next;
  }
}

}  // namespace detail

/// A convolution with `channels` output channels, shared weights and an optional shared bias:
/// z = (w_std/√(C·|f|))·conv(x, W) + b_std·b under the NTK parameterization (W, b ~ N(0, 1);
/// C input channels, |f| filter size), z = conv(x, W) + b with W ~ N(0, w_std²/(C·|f|)) under
/// the standard one.
///
/// Kernel rule (neural-tangents `stax.Conv`; Novak et al. 2019, Arora et al. 2019), with A the
/// window average of a block over filter offsets d shared by both positions of a pair,
/// A(K)[a, b] = (1/|f|)·Σ_d K̄[s·a + d, s·b + d] (K̄ padded as `padding` says):
/// - ntk:      Σ' = w_std²·A(Σ) + σ_b²,  Θ' = w_std²·A(Θ) + Σ';
/// - standard: Σ' = w_std²·A(Σ) + σ_b²,  Θ' = C·|f|·A(Σ) + w_std²·A(Θ) + [1 if there is a bias].
/// The same-position diagonal of the result depends only on the diagonal, so networks that never
/// pool keep only that (computed at compile time).
struct Conv {
  Index channels = 1;  ///< output channels (finite networks; standard NTK)
  Extent filter{};     ///< filter size per spatial dimension ({} = 1)
  Extent strides{};    ///< stride per spatial dimension ({} = 1)
  Padding padding = Padding::valid;
  double w_std = 1.0;             ///< weight standard deviation σ_w
  std::optional<double> b_std{};  ///< bias standard deviation σ_b; empty means no bias
  Parameterization parameterization = Parameterization::ntk;

  static constexpr std::string_view name = "Conv";

  template <class In>
  using output_stage = typename detail::conv_stage<In>::type;

  void validate(const LayerSite& site) const {
    if (channels <= 0) {
      detail::fail_layer(site, "channels must be positive, got " + std::to_string(channels) +
                                   "; set .channels to the number of output channels");
    }
    detail::require_positive_extent(site, "filter", filter);
    detail::require_positive_extent(site, "strides", strides);
    detail::require_std(site, "w_std", w_std);
    if (b_std) detail::require_std(site, "b_std", *b_std);
  }

  Geometry output_geometry(const Geometry& in, const LayerSite& site) const {
    detail::require_extent(site, "filter", filter, in);
    detail::require_extent(site, "strides", strides, in);
    const auto maps = detail::window_maps(site, "filter", filter, strides, padding, in);
    Geometry out = in;
    out.extent = {maps[0].out, maps[1].out};
    out.channels = channels;
    return out;
  }

  template <bool InFull, bool OutFull, bool WithNtk, class S>
  void propagate_block(detail::PairBlock<S>& block) const {
    static_assert(InFull || !OutFull, "a full block cannot be rebuilt from its diagonal");
    const Geometry in = block.geometry;
    const auto maps =
        detail::window_maps(LayerSite{name, 0}, "filter", filter, strides, padding, in);
    const S filter_size = static_cast<S>(filter[0] * (in.rank == 2 ? filter[1] : 1));
    const auto average = [&](std::vector<S>& values) {
      if constexpr (InFull && !OutFull) {
        detail::take_diagonal(values, in.positions(), block.spare);
        std::swap(values, block.spare);
      }
      detail::convolve_block<OutFull>(values, block.scratch, block.table, in, maps);
      for (S& v : values) v /= filter_size;
    };
    average(block.nngp);
    if constexpr (WithNtk) average(block.ntk);

    const S w2 = static_cast<S>(w_std * w_std);
    const S b2 = b_std ? static_cast<S>(*b_std * *b_std) : S(0);
    const S fan_in = static_cast<S>(in.channels) * filter_size;
    const std::size_t n = block.nngp.size();
    for (std::size_t e = 0; e < n; ++e) {
      const S sigma = block.nngp[e];
      const S next = w2 * sigma + b2;
      if constexpr (WithNtk) {
        if (parameterization == Parameterization::ntk) {
          block.ntk[e] = w2 * block.ntk[e] + next;
        } else {
          block.ntk[e] = fan_in * sigma + w2 * block.ntk[e] + (b_std ? S(1) : S(0));
        }
      }
      block.nngp[e] = next;
    }
    block.geometry = with_channels(maps, in);
  }

  bool operator==(const Conv&) const = default;

 private:
  Geometry with_channels(const std::array<detail::AxisMap, 2>& maps, Geometry g) const {
    g.extent = {maps[0].out, maps[1].out};
    g.channels = channels;
    return g;
  }
};

}  // namespace tangent
