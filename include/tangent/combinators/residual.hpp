#pragma once
/// @file
/// `residual(block...)`: the residual connection of ResNets (He et al. 2016), y = x + block(x),
/// as neural-tangents writes it: serial(FanOut(2), parallel(Identity(), block), FanInSum()).

#include "tangent/combinators/fan_in.hpp"
#include "tangent/combinators/parallel.hpp"
#include "tangent/combinators/serial.hpp"
#include "tangent/layers/identity.hpp"

namespace tangent {

/// x ↦ x + block(x), with `block` the layers given, in order (`serial(block...)`). Kernel rule
/// (FanInSum): Σ' = Σ + Σ_block, Θ' = Θ + Θ_block. Like every FanInSum it needs a Gaussian input
/// (put it after an affine layer, or after another residual) and a block that ends in an affine
/// layer, and its output is Gaussian.
template <class... Block>
constexpr auto residual(const Block&... block) {
  static_assert(sizeof...(Block) > 0,
                "TANGENT: residual() NEEDS A BLOCK: residual(ReLU{}, Dense{...}).");
  using Body = decltype(serial(block...));
  return Merge<FanInSum, Identity, Body>{{{Identity{}}, {serial(block...)}}, FanInSum{}, {}, true};
}

}  // namespace tangent
