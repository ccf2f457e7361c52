#pragma once
/// @file
/// The checks every entry point makes on a network before running it: its composition for a
/// kind of input (compile time) and its layers' hyperparameters (run time).

#include <type_traits>

#include "tangent/combinators/serial.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/layers/elementwise.hpp"

namespace tangent::detail {

/// Checks the composition of `Net` for inputs of kind `Kind`; false (after the first failing
/// layer's static_assert has said why) when it cannot work, so the driver is not instantiated
/// and one mistake gives one message.
template <class Kind, class Net>
constexpr bool composition_fits() {
  using Out = typename network_stage<Net, InputStage<Kind>>::type;
  if constexpr (std::is_same_v<Out, InvalidStage>) {
    return false;
  } else {
    static_assert(std::is_same_v<typename Out::kind, Features>,
                  "TANGENT: THIS NETWORK DOES NOT END IN FEATURE VECTORS: end it with Flatten or "
                  "GlobalAvgPool and a Dense readout.");
    return std::is_same_v<typename Out::kind, Features>;
  }
}

/// Checks every layer's hyperparameters; the message names the layer and its position.
template <class Net>
void validate_layers(const Net& net) {
  net.for_each([](const auto& layer, auto index) {
    using L = std::remove_cvref_t<decltype(layer)>;
    validate_layer(layer, LayerSite{L::name, decltype(index)::value + 1});
  });
}

}  // namespace tangent::detail
