#pragma once
/// @file
/// `Serial<Cs...>`, nodes applied in order, and the `serial(...)` factory.
///
/// `serial(...)` flattens nested serials (`serial(serial(a, b), c)` has type `Serial<A, B, C>`)
/// and fuses each `[FanOut{n},] parallel(branches...), FanIn{}` run into one `Merge` node, so a
/// network is a tree whose inner nodes are serials, merges and repeats and whose leaves are
/// layers. Children are stored as index-tagged bases and every walk over them is a pack
/// expansion, so compile time and memory stay about linear in the number of children.

#include <array>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

#include "tangent/combinators/diagnostics.hpp"
#include "tangent/combinators/fan_in.hpp"
#include "tangent/combinators/leaf.hpp"
#include "tangent/combinators/node.hpp"
#include "tangent/combinators/parallel.hpp"
#include "tangent/core/layer_concepts.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/stage.hpp"

namespace tangent {
namespace detail {

/// Checks each argument of serial(...) (or child of a Serial) with check_layer, whose
/// static_asserts name the first that is not a layer or a network.
template <class... Cs, std::size_t... Is>
constexpr bool check_layers(std::index_sequence<Is...>) {
  const bool valid[] = {true, check_layer<Is + 1, Cs>()...};
  for (bool v : valid) {
    if (!v) return false;
  }
  return true;
}

}  // namespace detail

/// A network made of the nodes `Cs...` applied in order; built by `serial(...)`.
template <class... Cs>
struct Serial : detail::Slots<std::index_sequence_for<Cs...>, Cs...> {
  static_assert(sizeof...(Cs) > 0,
                "TANGENT: A NETWORK NEEDS AT LEAST ONE LAYER: serial() was called with no "
                "arguments.");
  static_assert(detail::check_layers<Cs...>(std::index_sequence_for<Cs...>{}));

  /// Number of children (layers, or nodes such as a Merge or a Repeat).
  static constexpr std::size_t size = sizeof...(Cs);

  /// Calls `f(child, index)` for every child in order, with `index` a
  /// `std::integral_constant<std::size_t, I>`.
  template <class F>
  constexpr void for_each(F&& f) const {
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
      // An initializer list runs left to right and, unlike a fold, has no nesting limit.
      [[maybe_unused]] const int in_order[] = {
          0, (f(detail::slot<Is>(*this), std::integral_constant<std::size_t, Is>{}), 0)...};
    }
    (std::index_sequence_for<Cs...>{});
  }

  bool operator==(const Serial&) const = default;
};

/// The `I`-th child of a network (0-based), typed.
template <std::size_t I, class... Cs>
constexpr const auto& get(const Serial<Cs...>& net) {
  static_assert(I < sizeof...(Cs), "TANGENT: get<I>(net): I is past the last layer.");
  return detail::slot<I>(net);
}
template <std::size_t I, class... Cs>
constexpr auto& get(Serial<Cs...>& net) {
  static_assert(I < sizeof...(Cs), "TANGENT: get<I>(net): I is past the last layer.");
  return detail::slot<I>(net);
}

/// The parameters of a finite network `Serial<Cs...>`: one entry per child (`NoParams` for layers
/// without parameters, a `BranchParams` for a Merge, a `RepeatParams` for a Repeat), in order;
/// `get<I>(params)` gives child I's, typed.
template <class... Cs>
struct NetworkParams : detail::Slots<std::index_sequence_for<Cs...>, detail::params_t<Cs>...> {
  static constexpr std::size_t size = sizeof...(Cs);
  /// The shape of one input sample these parameters were made for by `init` (none for parameters
  /// assembled by hand, and for those of a serial nested in a network).
  std::optional<Geometry> input{};
  bool operator==(const NetworkParams&) const = default;
};

/// The parameters of child `I` (0-based).
template <std::size_t I, class... Cs>
constexpr const auto& get(const NetworkParams<Cs...>& params) {
  static_assert(I < sizeof...(Cs), "TANGENT: get<I>(params): I is past the last layer.");
  return detail::slot<I>(params);
}
template <std::size_t I, class... Cs>
constexpr auto& get(NetworkParams<Cs...>& params) {
  static_assert(I < sizeof...(Cs), "TANGENT: get<I>(params): I is past the last layer.");
  return detail::slot<I>(params);
}

namespace detail {

template <class T>
inline constexpr bool is_serial = false;
template <class... Cs>
inline constexpr bool is_serial<Serial<Cs...>> = true;
template <class... Cs>
inline constexpr bool is_structure<Serial<Cs...>> = true;

template <class... Cs>
struct node_params<Serial<Cs...>> {
  using type = NetworkParams<Cs...>;
};

/// The stage entering each child, given the stage `In` entering the first.
template <class In, class... Cs>
struct stage_list {
  using type = TypeList<>;
};
template <class In, class C, class... Cs>
struct stage_list<In, C, Cs...> {
  template <class... Ss>
  static TypeList<In, Ss...> prepend(TypeList<Ss...>);
  using type =
      decltype(prepend(std::declval<typename stage_list<stage_after_t<C, In>, Cs...>::type>()));
};
// After the first child that cannot follow its input has said so, stop: one message per mistake.
template <class C, class... Cs>
struct stage_list<InvalidStage, C, Cs...> {
  using type = TypeList<>;
};

template <class In, class... Cs>
struct walk_stages {
  using type = In;
};
template <class In, class C, class... Cs>
struct walk_stages<In, C, Cs...> {
  using type = typename walk_stages<stage_after_t<C, In>, Cs...>::type;
};
template <class C, class... Cs>
struct walk_stages<InvalidStage, C, Cs...> {
  using type = InvalidStage;
};

template <class... Cs>
struct Walk<Serial<Cs...>> {
  static constexpr std::size_t n = sizeof...(Cs);

  template <class In>
  using output_stage = typename walk_stages<In, Cs...>::type;

  /// modes[k]: whether the block entering child k is full, given `OutFull` after the last.
  template <bool OutFull>
  static constexpr std::array<bool, n + 1> modes() {
    std::array<bool, n + 1> full{};
    const std::array<bool (*)(bool), n> rule{&Walk<Cs>::in_full...};
    full[n] = OutFull;
    for (std::size_t k = n; k-- > 0;) full[k] = rule[k](full[k + 1]);
    return full;
  }

  static constexpr bool in_full(bool out_full) {
    return out_full ? modes<true>()[0] : modes<false>()[0];
  }

  template <class In, bool OutFull, class P, class State, class Visitor>
  TANGENT_INLINE static void fold(const Serial<Cs...>& s, P& params, State& state, Cursor& cursor,
                                  Visitor& visitor) {
    fold_children<In, OutFull>(std::index_sequence_for<Cs...>{}, s, params, state, cursor, visitor);
  }

  template <class P, class State, class Visitor>
  static void fold_backward(const Serial<Cs...>& s, P& params, State& state, Cursor& cursor,
                            Visitor& visitor, bool need_input_gradient) {
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
      // Last child first; only the first child's input gradient may go unneeded.
      [[maybe_unused]] const int in_order[] = {
          0, (back_child<n - 1 - Is>(s, params, state, cursor, visitor,
                                     n - 1 - Is > 0 || need_input_gradient),
              0)...};
    }
    (std::make_index_sequence<n>{});
  }

 private:
  // A function, not a lambda, so that it can be forced inline: the cursor then stays in
  // registers and every slot number is a constant.
  template <class In, bool OutFull, std::size_t... Is, class P, class State, class Visitor>
  TANGENT_INLINE static void fold_children(std::index_sequence<Is...>, const Serial<Cs...>& s,
                                           P& params, State& state, Cursor& cursor,
                                           Visitor& visitor) {
    using Stages = typename stage_list<In, Cs...>::type;
    constexpr std::array<bool, n + 1> full = modes<OutFull>();
    [[maybe_unused]] const int in_order[] = {
        0, (run_child<Is, type_at_t<Is, Stages>, full[Is + 1]>(s, params, state, cursor, visitor),
            0)...};
  }

  template <std::size_t I, class In, bool OutFull, class P, class State, class Visitor>
  TANGENT_INLINE static void run_child(const Serial<Cs...>& s, P& params, State& state,
                                       Cursor& cursor, Visitor& visitor) {
    auto&& child = child_params<I>(params);
    ::tangent::detail::fold<In, OutFull>(slot<I>(s), child, state, cursor, visitor);
  }

  template <std::size_t I, class P, class State, class Visitor>
  static void back_child(const Serial<Cs...>& s, P& params, State& state, Cursor& cursor,
                         Visitor& visitor, bool need_input_gradient) {
    auto&& child = child_params<I>(params);
    ::tangent::detail::fold_backward(slot<I>(s), child, state, cursor, visitor,
                                     need_input_gradient);
  }
};

// --- serial(...): flattening and fusion ---------------------------------------------------------

template <class T>
inline constexpr std::size_t child_count = 1;
template <class... Cs>
inline constexpr std::size_t child_count<Serial<Cs...>> = sizeof...(Cs);

template <class T>
struct children_of {
  using type = TypeList<T>;
};
template <class... Cs>
struct children_of<Serial<Cs...>> {
  using type = TypeList<Cs...>;
};

template <class... Lists>
struct join;
template <class... Cs>
struct join<TypeList<Cs...>> {
  using type = TypeList<Cs...>;
};
template <class... As, class... Bs, class... Rest>
struct join<TypeList<As...>, TypeList<Bs...>, Rest...> {
  using type = typename join<TypeList<As..., Bs...>, Rest...>::type;
};

/// For each element of the flattened argument list: which argument it comes from, and its
/// position in that argument.
template <class... Args>
constexpr auto flat_positions() {
  constexpr std::size_t counts[] = {child_count<Args>...};
  std::array<std::pair<std::size_t, std::size_t>, (child_count<Args> + ...)> table{};
  std::size_t k = 0;
  for (std::size_t a = 0; a < sizeof...(Args); ++a) {
    for (std::size_t e = 0; e < counts[a]; ++e) table[k++] = {a, e};
  }
  return table;
}

template <std::size_t E, class T>
constexpr const auto& element(const T& argument) {
  if constexpr (is_serial<T>) {
    return slot<E>(argument);
  } else {
    return argument;
  }
}

/// What an element of a flattened serial is to the fusion.
enum class Piece { node, fan_out, parallel, fan_in };

template <class T>
constexpr Piece piece_of() {
  if constexpr (std::is_same_v<T, FanOut>) {
    return Piece::fan_out;
  } else if constexpr (is_parallel<T>) {
    return Piece::parallel;
  } else if constexpr (is_fan_in<T>) {
    return Piece::fan_in;
  } else {
    return Piece::node;
  }
}

/// One child of the fused serial: a copy of element `first`, or a Merge of the `count` (2 or 3)
/// elements from `first` on.
struct Step {
  std::size_t first = 0;
  std::size_t count = 1;
};

template <class... Es>
struct Fusion {
  static constexpr std::size_t m = sizeof...(Es);
  static constexpr std::array<Piece, m> pieces{piece_of<Es>()...};

  static constexpr Step step_at(std::size_t k) {
    if (k + 2 < m && pieces[k] == Piece::fan_out && pieces[k + 1] == Piece::parallel &&
        pieces[k + 2] == Piece::fan_in) {
      return {k, 3};
    }
    if (k + 1 < m && pieces[k] == Piece::parallel && pieces[k + 1] == Piece::fan_in) {
      return {k, 2};
    }
    return {k, 1};
  }
  static constexpr std::size_t size = [] {
    std::size_t count = 0;
    for (std::size_t k = 0; k < m; k += step_at(k).count) ++count;
    return count;
  }();
  static constexpr std::array<Step, size> steps = [] {
    std::array<Step, size> out{};
    std::size_t j = 0;
    for (std::size_t k = 0; k < m; k += step_at(k).count) out[j++] = step_at(k);
    return out;
  }();
};

template <class F, class P>
struct merge_of;
template <class F, class... Bs>
struct merge_of<F, Parallel<Bs...>> {
  using type = Merge<F, Bs...>;
};

/// The type of a fused child covering `Count` elements of `List` from `First` on.
template <std::size_t First, std::size_t Count, class List>
struct fused_type {
  using type = type_at_t<First, List>;
};
template <std::size_t First, class List>
struct fused_type<First, 2, List> {
  using type = typename merge_of<type_at_t<First + 1, List>, type_at_t<First, List>>::type;
};
template <std::size_t First, class List>
struct fused_type<First, 3, List> {
  using type = typename merge_of<type_at_t<First + 2, List>, type_at_t<First + 1, List>>::type;
};

template <class F, class... Bs>
constexpr Merge<F, Bs...> make_merge(const Parallel<Bs...>& branches, const F& fan_in,
                                     std::optional<Index> fan_out) {
  return Merge<F, Bs...>{branches, fan_in, fan_out, false};
}

template <std::size_t First, std::size_t Count, class Flat>
constexpr auto fused_value(const Flat& flat) {
  if constexpr (Count == 1) {
    return slot<First>(flat);
  } else {
    std::optional<Index> fan_out;
    if constexpr (Count == 3) fan_out = slot<First>(flat).n;
    return make_merge(slot<First + Count - 2>(flat), slot<First + Count - 1>(flat), fan_out);
  }
}

template <class... Es, class Flat, std::size_t... Ks>
constexpr auto fuse(TypeList<Es...>, const Flat& flat, std::index_sequence<Ks...>) {
  using F = Fusion<Es...>;
  using Out =
      Serial<typename fused_type<F::steps[Ks].first, F::steps[Ks].count, TypeList<Es...>>::type...>;
  return Out{{{fused_value<F::steps[Ks].first, F::steps[Ks].count>(flat)}...}};
}

template <class... Es, std::size_t... Ks, class... Args>
constexpr auto flatten_then_fuse(TypeList<Es...>, std::index_sequence<Ks...>,
                                 const Args&... arguments) {
  constexpr auto table = flat_positions<Args...>();
  const Slots<std::index_sequence_for<Args...>, Args...> stored{{arguments}...};
  const Slots<std::index_sequence_for<Es...>, Es...> flat{
      {element<table[Ks].second>(slot<table[Ks].first>(stored))}...};
  return fuse(TypeList<Es...>{}, flat, std::make_index_sequence<Fusion<Es...>::size>{});
}

}  // namespace detail

/// Composes layers (or networks) into one network, applied left to right:
/// `serial(Dense{.width = 512}, ReLU{}, Dense{.width = 1})`. Nested serials flatten, and
/// `parallel(branches...)` followed by a fan-in (FanInSum{}, FanInProd{}, FanInConcat{}), with
/// an optional FanOut{n} before it, becomes one branching node.
template <class... Args>
constexpr auto serial(const Args&... layers) {
  static_assert(sizeof...(Args) > 0,
                "TANGENT: A NETWORK NEEDS AT LEAST ONE LAYER: serial() was called with no "
                "arguments.");
  if constexpr (sizeof...(Args) > 0 &&
                detail::check_layers<Args...>(std::index_sequence_for<Args...>{})) {
    using Flat = typename detail::join<typename detail::children_of<Args>::type...>::type;
    return detail::flatten_then_fuse(
        Flat{}, std::make_index_sequence<(detail::child_count<Args> + ... + 0)>{}, layers...);
  }
}

/// The stage a network produces from inputs at stage `In`; instantiating it checks the whole
/// composition and fails with the message of the first layer that cannot follow its input.
template <class Net, class In>
struct network_stage;

template <class... Cs, class In>
struct network_stage<Serial<Cs...>, In> {
  using type = detail::stage_after_t<Serial<Cs...>, In>;
};

}  // namespace tangent
