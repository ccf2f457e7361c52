#pragma once
/// @file
/// The node contract: what every part of a network's tree (a layer, `Serial`, `Merge`, `Repeat`)
/// offers the drivers, so that the kernel sweeps, the finite network and its tools walk only the
/// root.
///
/// A node `N` is described by `Walk<N>` (the layer adaptor of `combinators/leaf.hpp`, or a
/// container's specialisation):
/// - `output_stage<In>`: the stage after the node given the stage before it (compile time);
/// - `in_full(out_full)`: whether the node needs the full spatial block of a pair at its input
///   when the full block is wanted at its output (neural-tangents' diagonal requirements: a
///   serial scans backwards, branches take the union);
/// - `fold<In, OutFull>(node, params, state, cursor, visitor)`: runs the node forward on a state
///   (a variance, a pair's NNGP/NTK entries or blocks, a shape, a batch of activations). A leaf
///   hands the state to `visitor.leaf<In, InFull, OutFull>(layer, params, state, slot, site)`;
///   containers route it: a serial in order, a `Merge` through copies of the state, one per
///   branch (`visitor.fork`), combined by its fan-in (`visitor.fan_in`), a `Repeat` n times.
///   Every leaf and every fan-in owns one *slot*, numbered in the order they run, so per-sample
///   traces, per-layer shapes and finite-network caches are flat arrays indexed by slot;
/// - `fold_backward(node, params, state, cursor, visitor, need_input_gradient)`: the same walk in
///   reverse, for backpropagation.
///
/// The tree is a type, so a fold inlines into one function per driver: the per-entry kernel
/// sweep stays fused and vectorised through branches.

#include <array>
#include <cstddef>
#include <string_view>
#include <type_traits>
#include <utility>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/stage.hpp"

namespace tangent::detail {

// --- Index-leaf storage -------------------------------------------------------------------------
// Children are stored as a flat set of index-tagged bases, not in std::tuple: compile time and
// memory stay about linear in the number of children (STYLE.md §4.6).

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

template <class... Ts>
struct TypeList {};

template <std::size_t I, class T>
struct Indexed {};
template <class Indices, class... Ts>
struct IndexedList;
template <std::size_t... Is, class... Ts>
struct IndexedList<std::index_sequence<Is...>, Ts...> : Indexed<Is, Ts>... {};
template <std::size_t I, class T>
T pick(const Indexed<I, T>&);

template <std::size_t I, class List>
struct type_at;
/// The I-th type of a TypeList, found by overload resolution (no recursion over the list).
template <std::size_t I, class... Ts>
struct type_at<I, TypeList<Ts...>> {
  using type =
      decltype(pick<I>(std::declval<IndexedList<std::index_sequence_for<Ts...>, Ts...>>()));
};
template <std::size_t I, class List>
using type_at_t = typename type_at<I, List>::type;

template <class>
inline constexpr bool dependent_false = false;

// --- Walking ------------------------------------------------------------------------------------

/// The node description; `combinators/leaf.hpp` defines it for layers, each container header
/// specialises it.
template <class N>
struct Walk;

/// The parameters of a finite network follow the tree; kernel walks pass `Unused` instead.
struct Unused {};

/// Two parameter trees walked together (a gradient checker perturbs one and reads the other).
template <class A, class B>
struct ParamsPair {
  A& first;
  B& second;
};

template <class P>
inline constexpr bool is_params_pair = false;
template <class A, class B>
inline constexpr bool is_params_pair<ParamsPair<A, B>> = true;

/// Where a walk is: the next slot, and the position (as written) of the last layer visited,
/// with the repetition of the innermost repeat(...) it is in.
struct Cursor {
  Index slot = 0;
  std::size_t position = 0;
  std::size_t repetition = 0;
  std::size_t repetitions = 0;

  /// The site of the next layer, which is then the last one visited.
  TANGENT_INLINE LayerSite next_site(std::string_view name) {
    return LayerSite{name, ++position, repetition, repetitions};
  }
};

/// What a container passes a child of its parameters: `pick(params)` for a parameter tree, the
/// same for both trees of a ParamsPair, `Unused` for kernel walks.
template <class P, class Pick>
decltype(auto) descend(P& params, Pick&& pick) {
  if constexpr (std::is_same_v<std::remove_const_t<P>, Unused>) {
    return Unused{};
  } else if constexpr (is_params_pair<std::remove_const_t<P>>) {
    auto& a = descend(params.first, pick);
    auto& b = descend(params.second, pick);
    return ParamsPair<std::remove_reference_t<decltype(a)>, std::remove_reference_t<decltype(b)>>{
        a, b};
  } else {
    return pick(params);
  }
}

/// Child `I`'s parameters (a reference into `params`), or `Unused` for kernel walks.
template <std::size_t I, class P>
decltype(auto) child_params(P& params) {
  return descend(
      params, [](auto& tree) -> auto& { return slot<I>(tree); });
}

/// The stage after node N given the stage In before it.
template <class N, class In>
using stage_after_t = typename Walk<N>::template output_stage<In>;

/// Whether node N needs the full spatial block at its input when `out_full` is wanted after it.
template <class N>
constexpr bool in_full(bool out_full) {
  return Walk<N>::in_full(out_full);
}

/// Runs `node` forward (see the file comment).
template <class In, bool OutFull, class N, class P, class State, class Visitor>
TANGENT_INLINE void fold(const N& node, P& params, State& state, Cursor& cursor, Visitor& visitor) {
  Walk<N>::template fold<In, OutFull>(node, params, state, cursor, visitor);
}

/// Runs `node` backward: `cursor.slot` starts one past the node's last slot and ends at its
/// first; `state` enters as the gradient with respect to the node's output and leaves as the
/// gradient with respect to its input (when `need_input_gradient`).
template <class N, class P, class State, class Visitor>
void fold_backward(const N& node, P& params, State& state, Cursor& cursor, Visitor& visitor,
                   bool need_input_gradient) {
  Walk<N>::fold_backward(node, params, state, cursor, visitor, need_input_gradient);
}

/// K copies of a state, for the other branches of a Merge (the `fork` of visitors whose state is
/// a plain value).
template <std::size_t K, class State>
std::array<State, K> copies_of(const State& state) {
  std::array<State, K> copies;
  copies.fill(state);
  return copies;
}

/// A visitor that only looks at the layers (and their parameters), in the order they run: its
/// state is nothing, branches fork nothing and fan-ins combine nothing. Derive from it and add
/// `leaf<In, InFull, OutFull>(layer, params, int&, slot, site)`.
struct LeafVisitor {
  template <std::size_t K>
  std::array<int, K> fork(int) {
    return {};
  }
  void to_diagonal(int&) {}
  template <class In, class Outs, bool OutFull, class F, class Others>
  void fan_in(const F&, int&, Others&, Index, const LayerSite&) {}
};

/// Runs a LeafVisitor over the layers of `net` (inputs at stage `In`), with `params` walked
/// alongside (or `Unused`).
template <class In, class N, class P, class Visitor>
void visit_leaves(const N& net, P& params, Visitor& visitor) {
  Cursor cursor;
  int nothing = 0;
  fold<In, false>(net, params, nothing, cursor, visitor);
}

/// The parameters of node N in a finite network (a layer's `params_type`, or the container's
/// tree of them); containers specialise it.
template <class N>
struct node_params;
template <class N>
using params_t = typename node_params<N>::type;

/// True for containers and the pieces that only `serial(...)` assembles (parallel(...), FanOut,
/// the fan-ins); layers are recognised by their contracts instead.
template <class T>
inline constexpr bool is_structure = false;

}  // namespace tangent::detail
