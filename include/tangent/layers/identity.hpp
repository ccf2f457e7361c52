#pragma once
/// @file
/// The layer that does nothing, for building blocks where a slot must hold a layer.

#include <string_view>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"

namespace tangent {

/// φ(x) = x as a layer of its own: kernels, widths and stages pass through unchanged (it keeps
/// a Gaussian input Gaussian, unlike a linear activation would in neural-tangents).
struct Identity {
  static constexpr std::string_view name = "Identity";

  template <class In>
  using output_stage = In;

  void validate(const LayerSite&) const {}
  Index output_width(Index width) const { return width; }
  template <class S>
  S variance(S q) const {
    return q;
  }
  template <bool WithNtk, class S>
  void propagate_entry(S&, S&, S, S, S) const {}

  bool operator==(const Identity&) const = default;
};

}  // namespace tangent
