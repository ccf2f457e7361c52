#pragma once
/// @file
/// `Serial<Ls...>`, the composition of layers, and the `serial(...)` factory.
///
/// The layers are stored as a flat set of index-tagged bases (not `std::tuple`), which keeps
/// compile time and memory linear in depth; nested serials flatten, so
/// `serial(serial(a, b), c)` has type `Serial<A, B, C>`.

#include <cstddef>
#include <type_traits>
#include <utility>

#include "tangent/core/layer_concepts.hpp"

namespace tangent {
namespace detail {

template <std::size_t I, class L>
struct Leaf {
  static_assert(
      KernelLayer<L>,
      "TANGENT: EVERY LAYER OF A Serial<...> MUST BE A LAYER (Dense, ReLU, Erf, "
      "Identity, ...): the 'In instantiation of' line with Leaf<position, type> names the "
      "offending one; a layer meets tangent::Activation or tangent::FeatureLayer "
      "(include/tangent/core/layer_concepts.hpp).");
  L layer;
};

template <class Indices, class... Ls>
struct Leaves;

template <std::size_t... Is, class... Ls>
struct Leaves<std::index_sequence<Is...>, Ls...> : Leaf<Is, Ls>... {};

template <std::size_t I, class L>
constexpr const L& leaf(const Leaf<I, L>& node) {
  return node.layer;
}
template <std::size_t I, class L>
constexpr L& leaf(Leaf<I, L>& node) {
  return node.layer;
}

}  // namespace detail

/// A network made of `Ls...` applied in order; built by `serial(...)`.
template <class... Ls>
struct Serial : detail::Leaves<std::index_sequence_for<Ls...>, Ls...> {
  static_assert(sizeof...(Ls) > 0,
                "TANGENT: A NETWORK NEEDS AT LEAST ONE LAYER: serial() was "
                "called with no arguments.");

  /// Number of layers.
  static constexpr std::size_t size = sizeof...(Ls);

  /// Calls `f(layer, index)` for every layer in order, with `index` a
  /// `std::integral_constant<std::size_t, I>`.
  template <class F>
  constexpr void for_each(F&& f) const {
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
      (f(detail::leaf<Is>(*this), std::integral_constant<std::size_t, Is>{}), ...);
    }
    (std::index_sequence_for<Ls...>{});
  }

  bool operator==(const Serial&) const = default;
};

/// The `I`-th layer of a network (0-based), typed.
template <std::size_t I, class... Ls>
constexpr const auto& get(const Serial<Ls...>& net) {
  static_assert(I < sizeof...(Ls), "TANGENT: get<I>(net): I is past the last layer.");
  return detail::leaf<I>(net);
}
template <std::size_t I, class... Ls>
constexpr auto& get(Serial<Ls...>& net) {
  static_assert(I < sizeof...(Ls), "TANGENT: get<I>(net): I is past the last layer.");
  return detail::leaf<I>(net);
}

namespace detail {

template <class T>
struct is_serial : std::false_type {};
template <class... Ls>
struct is_serial<Serial<Ls...>> : std::true_type {};

template <class... Ls>
constexpr Serial<Ls...> make_serial(Ls... layers) {
  return Serial<Ls...>{{{std::move(layers)}...}};
}

/// A one-layer network from a layer; a network unchanged.
template <class T>
constexpr auto as_serial(T layer) {
  if constexpr (is_serial<T>::value) {
    return layer;
  } else {
    return make_serial(std::move(layer));
  }
}

template <class... As, class... Bs, std::size_t... Is, std::size_t... Js>
constexpr Serial<As..., Bs...> concat(const Serial<As...>& a, const Serial<Bs...>& b,
                                      std::index_sequence<Is...>, std::index_sequence<Js...>) {
  return Serial<As..., Bs...>{{{leaf<Is>(a)}..., {leaf<Js>(b)}...}};
}

template <class... As, class... Bs>
constexpr Serial<As..., Bs...> concat(const Serial<As...>& a, const Serial<Bs...>& b) {
  return concat(a, b, std::index_sequence_for<As...>{}, std::index_sequence_for<Bs...>{});
}

template <class First, class... Rest>
constexpr auto flatten(First first, Rest... rest) {
  if constexpr (sizeof...(Rest) == 0) {
    return as_serial(std::move(first));
  } else {
    return concat(as_serial(std::move(first)), flatten(std::move(rest)...));
  }
}

/// Checks one argument of `serial(...)`; the compiler's "In instantiation of" line with
/// serial_argument<position, type> names a bad one (0-based).
template <std::size_t I, class T>
struct serial_argument {
  static constexpr bool valid = KernelLayer<T> || is_serial<T>::value;
  static_assert(valid,
                "TANGENT: EVERY ARGUMENT OF serial(...) MUST BE A LAYER (Dense, ReLU, Erf, "
                "Identity, ...) OR A NETWORK: the 'In instantiation of' line with "
                "serial_argument<position, type> names the offending argument (0-based); a layer "
                "meets tangent::Activation or tangent::FeatureLayer "
                "(include/tangent/core/layer_concepts.hpp).");
};

template <class... Args, std::size_t... Is>
constexpr bool valid_serial_arguments(std::index_sequence<Is...>) {
  return (serial_argument<Is, Args>::valid && ...);
}

}  // namespace detail

/// Composes layers (or networks) into one network, applied left to right:
/// `serial(Dense{.width = 512}, ReLU{}, Dense{.width = 1})`. Nested serials flatten.
template <class... Args>
constexpr auto serial(Args... layers) {
  static_assert(sizeof...(Args) > 0,
                "TANGENT: A NETWORK NEEDS AT LEAST ONE LAYER: serial() was called with no "
                "arguments.");
  if constexpr (sizeof...(Args) > 0 &&
                detail::valid_serial_arguments<Args...>(std::index_sequence_for<Args...>{})) {
    return detail::flatten(std::move(layers)...);
  }
}

/// The stage a network produces from inputs at stage `In`; instantiating it checks the whole
/// composition and fails with the message of the first layer that cannot follow its input.
template <class Net, class In>
struct network_stage;

template <class... Ls, class In>
struct network_stage<Serial<Ls...>, In> {
  using type = typename decltype((detail::StageTag<In>{} >> ... >> detail::LayerTag<Ls>{}))::stage;
};

}  // namespace tangent
