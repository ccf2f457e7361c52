#pragma once
/// @file
/// What the entry points accept as a network, and the compile-time check of its composition for
/// a kind of input.

#include <type_traits>

#include "tangent/combinators/node.hpp"
#include "tangent/combinators/repeat.hpp"
#include "tangent/combinators/serial.hpp"
#include "tangent/core/layer_concepts.hpp"
#include "tangent/core/stage.hpp"

namespace tangent {

/// What the kernel functions accept as a network: a `serial(...)`, a branching node, a
/// `repeat(...)`, or a single layer, which acts as a one-layer network. (A parallel(...) or a
/// fan-in on its own is accepted here and then rejected with a sentence saying what it lacks.)
template <class T>
concept Network = KernelLayer<T> || detail::is_structure<T>;

namespace detail {

/// A network as a `Serial`: a serial unchanged, anything else as its only child.
template <class T>
constexpr auto as_serial(const T& network) {
  if constexpr (is_serial<T>) {
    return network;
  } else {
    return serial(network);
  }
}

/// Checks the composition of `Net` for inputs of kind `Kind`; false (after the first failing
/// node's static_assert has said why) when it cannot work, so the driver is not instantiated
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

}  // namespace detail
}  // namespace tangent
