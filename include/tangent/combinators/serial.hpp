#pragma once
/// @file
/// `Serial<Ls...>`, the composition of layers, and the `serial(...)` factory.
///
/// The layers are stored as a flat set of index-tagged bases (not `std::tuple`), and every walk
/// over them is a pack expansion, not a fold or a recursion on values, so compile time and
/// memory stay about linear in depth (a 201-layer network is a compile-budget test). Nested
/// serials flatten: `serial(serial(a, b), c)` has type `Serial<A, B, C>`.

#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "tangent/core/diagnostics.hpp"
#include "tangent/core/layer_concepts.hpp"
#include "tangent/layers/elementwise.hpp"

namespace tangent {
namespace detail {

template <std::size_t I, class T>
struct Slot {
  T value;
  bool operator==(const Slot&) const = default;
};

template <class Indices, class... Ts>
struct Slots;

template <std::size_t... Is, class... Ts>
struct Slots<std::index_sequence<Is...>, Ts...> : Slot<Is, Ts>... {
  bool operator==(const Slots&) const = default;
};

template <std::size_t I, class T>
constexpr const T& slot(const Slot<I, T>& s) {
  return s.value;
}
template <std::size_t I, class T>
constexpr T& slot(Slot<I, T>& s) {
  return s.value;
}

template <class... Ls, std::size_t... Is>
constexpr bool check_layers(std::index_sequence<Is...>) {
  const bool valid[] = {true, check_layer<Is + 1, Ls>()...};
  for (bool v : valid) {
    if (!v) return false;
  }
  return true;
}

}  // namespace detail

/// A network made of `Ls...` applied in order; built by `serial(...)`.
template <class... Ls>
struct Serial : detail::Slots<std::index_sequence_for<Ls...>, Ls...> {
  static_assert(sizeof...(Ls) > 0,
                "TANGENT: A NETWORK NEEDS AT LEAST ONE LAYER: serial() was called with no "
                "arguments.");
  static_assert(detail::check_layers<Ls...>(std::index_sequence_for<Ls...>{}));

  /// Number of layers.
  static constexpr std::size_t size = sizeof...(Ls);

  /// Calls `f(layer, index)` for every layer in order, with `index` a
  /// `std::integral_constant<std::size_t, I>`.
  template <class F>
  constexpr void for_each(F&& f) const {
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
      // An initializer list runs left to right and, unlike a fold, has no nesting limit.
      [[maybe_unused]] const int in_order[] = {
          0, (f(detail::slot<Is>(*this), std::integral_constant<std::size_t, Is>{}), 0)...};
    }
    (std::index_sequence_for<Ls...>{});
  }

  bool operator==(const Serial&) const = default;
};

/// The `I`-th layer of a network (0-based), typed.
template <std::size_t I, class... Ls>
constexpr const auto& get(const Serial<Ls...>& net) {
  static_assert(I < sizeof...(Ls), "TANGENT: get<I>(net): I is past the last layer.");
  return detail::slot<I>(net);
}
template <std::size_t I, class... Ls>
constexpr auto& get(Serial<Ls...>& net) {
  static_assert(I < sizeof...(Ls), "TANGENT: get<I>(net): I is past the last layer.");
  return detail::slot<I>(net);
}

namespace detail {

template <class T>
inline constexpr std::size_t layer_count = 1;
template <class... Ls>
inline constexpr std::size_t layer_count<Serial<Ls...>> = sizeof...(Ls);

template <class... Ts>
struct TypeList {};

template <class T>
struct layers_of {
  using type = TypeList<T>;
};
template <class... Ls>
struct layers_of<Serial<Ls...>> {
  using type = TypeList<Ls...>;
};

template <class... Lists>
struct join;
template <class... Ls>
struct join<TypeList<Ls...>> {
  using type = Serial<Ls...>;
};
template <class... As, class... Bs, class... Rest>
struct join<TypeList<As...>, TypeList<Bs...>, Rest...> {
  using type = typename join<TypeList<As..., Bs...>, Rest...>::type;
};

/// For each layer of the flattened network: which argument it comes from, and its position in
/// that argument.
template <class... Args>
constexpr auto flat_positions() {
  constexpr std::size_t counts[] = {layer_count<Args>...};
  std::array<std::pair<std::size_t, std::size_t>, (layer_count<Args> + ...)> table{};
  std::size_t k = 0;
  for (std::size_t a = 0; a < sizeof...(Args); ++a) {
    for (std::size_t e = 0; e < counts[a]; ++e) table[k++] = {a, e};
  }
  return table;
}

template <std::size_t E, class T>
constexpr const auto& element(const T& argument) {
  if constexpr (is_serial<T>::value) {
    return slot<E>(argument);
  } else {
    return argument;
  }
}

template <class... Args, std::size_t... Ks>
constexpr auto flatten(std::index_sequence<Ks...>, const Args&... arguments) {
  constexpr auto table = flat_positions<Args...>();
  const Slots<std::index_sequence_for<Args...>, Args...> stored{{arguments}...};
  using Flat = typename join<typename layers_of<Args>::type...>::type;
  return Flat{{{element<table[Ks].second>(slot<table[Ks].first>(stored))}...}};
}

template <std::size_t Position, class T>
constexpr bool check_argument() {
  if constexpr (is_serial<T>::value) {
    return true;  // its layers were checked when it was built
  } else {
    return check_layer<Position, T>();
  }
}

template <class... Args, std::size_t... Is>
constexpr bool valid_arguments(std::index_sequence<Is...>) {
  const bool valid[] = {true, check_argument<Is + 1, Args>()...};
  for (bool v : valid) {
    if (!v) return false;
  }
  return true;
}

}  // namespace detail

/// Composes layers (or networks) into one network, applied left to right:
/// `serial(Dense{.width = 512}, ReLU{}, Dense{.width = 1})`. Nested serials flatten.
template <class... Args>
constexpr auto serial(const Args&... layers) {
  static_assert(sizeof...(Args) > 0,
                "TANGENT: A NETWORK NEEDS AT LEAST ONE LAYER: serial() was called with no "
                "arguments.");
  if constexpr (sizeof...(Args) > 0 &&
                detail::valid_arguments<Args...>(std::index_sequence_for<Args...>{})) {
    return detail::flatten(std::make_index_sequence<(detail::layer_count<Args> + ... + 0)>{},
                           layers...);
  }
}

namespace detail {

template <class In, class... Ls>
struct walk_stages {
  using type = In;
};
template <class In, class L, class... Ls>
struct walk_stages<In, L, Ls...> {
  using type = typename walk_stages<typename stage_after<L, In>::type, Ls...>::type;
};
// After the first layer that cannot follow its input has said so, stop: one message per mistake.
template <class L, class... Ls>
struct walk_stages<InvalidStage, L, Ls...> {
  using type = InvalidStage;
};

/// A one-layer network from a layer; a network unchanged.
template <class T>
constexpr auto as_serial(const T& network) {
  if constexpr (is_serial<T>::value) {
    return network;
  } else {
    return serial(network);
  }
}

}  // namespace detail

/// The stage a network produces from inputs at stage `In`; instantiating it checks the whole
/// composition and fails with the message of the first layer that cannot follow its input.
template <class Net, class In>
struct network_stage;

template <class... Ls, class In>
struct network_stage<Serial<Ls...>, In> {
  using type = typename detail::walk_stages<In, Ls...>::type;
};

}  // namespace tangent
