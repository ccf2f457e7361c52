#pragma once
/// @file
/// The convolutional layer, on sequences (1-D) and images (2-D).

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/parameterization.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/kernels/spatial_block.hpp"
#include "tangent/layers/window.hpp"

namespace tangent {
namespace detail {

template <class In>
struct conv_stage {
  static constexpr bool ok = is_spatial<typename In::kind>::value;
  static_assert(ok,
                "TANGENT: CONV NEEDS IMAGES OR SEQUENCES but receives feature vectors: pass "
                "tangent::images(flat, height, width, channels) or tangent::sequences(flat, "
                "length, channels) as input, or use Dense for feature vectors.");
  using type = std::conditional_t<ok, Stage<typename In::kind, true>, InvalidStage>;
};

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

  /// The passes of this layer on inputs of shape `in`; throws, naming the layer and the shapes,
  /// when the filter does not fit.
  detail::WindowPlan window_plan(const Geometry& in, const LayerSite& site) const {
    detail::WindowPlan plan = detail::plan_window(site, "filter", filter, strides, padding, in);
    plan.geometry[2].channels = channels;
    return plan;
  }
  Geometry output_geometry(const Geometry& in, const LayerSite& site) const {
    return window_plan(in, site).out();
  }

  template <bool InFull, bool OutFull, bool WithNtk, class S>
  void propagate_block(detail::PairBlock<S>& block) const {
    static_assert(InFull == OutFull, "a convolution keeps the kind of its block");
    const detail::WindowPlan& plan = *block.window;
    const S filter_size = static_cast<S>(plan.window_size());
    const auto average = [&](std::vector<S>& values) {
      detail::convolve_passes<InFull>(plan, values, block.scratch);
      for (S& v : values) v /= filter_size;
    };
    average(block.nngp);
    if constexpr (WithNtk) average(block.ntk);

    const S w2 = static_cast<S>(w_std * w_std);
    const S b2 = b_std ? static_cast<S>(*b_std * *b_std) : S(0);
    const S fan_in = static_cast<S>(plan.in().channels) * filter_size;
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
    block.geometry = plan.out();
  }

  bool operator==(const Conv&) const = default;
};

}  // namespace tangent
