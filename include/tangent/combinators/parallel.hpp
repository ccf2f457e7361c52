#pragma once
/// @file
/// Branching networks: `parallel(branch...)`, and `Merge<FanIn, Branches...>`, the node that
/// `serial(...)` makes of `[FanOut{n},] parallel(branches...), FanIn{}`. A branch is any node: a
/// layer, a `serial(...)`, a `Merge` (nested branching) or a `Repeat`.
///
/// A Merge gives each branch its own copy of its input and combines their outputs with its
/// fan-in (combinators/fan_in.hpp). Its stage: every branch must end in the same kind of data,
/// and the fan-in says whether the result is Gaussian. Its spatial requirement is the union of
/// its branches' (neural-tangents folds parallel requirements with `&`): when one branch needs
/// the full block at its input, all get it, and a branch that needs only the diagonal takes it
/// from there.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "tangent/combinators/fan_in.hpp"
#include "tangent/combinators/leaf.hpp"
#include "tangent/combinators/node.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/layer_concepts.hpp"
#include "tangent/core/stage.hpp"

namespace tangent {

/// Branches not yet closed by a fan-in, as `parallel(...)` returns them: `serial(...)` turns
/// them and the fan-in that follows into a `Merge`.
template <class... Bs>
struct Parallel : detail::Slots<std::index_sequence_for<Bs...>, Bs...> {
  bool operator==(const Parallel&) const = default;
};

/// Branches that each receive a copy of the input, combined by the fan-in `F`; built by
/// `serial(..., parallel(branches...), F{}, ...)` or `residual(...)`.
template <class F, class... Bs>
struct Merge {
  detail::Slots<std::index_sequence_for<Bs...>, Bs...> branches;
  F fan_in{};
  std::optional<Index> fan_out{};  ///< n of a FanOut{n} written before the branches, if one was
  /// Built by residual(...): its Identity branch and FanInSum were not written, so they take no
  /// position in error messages, and a fan-in error names the residual.
  bool residual = false;

  /// Number of branches.
  static constexpr std::size_t size = sizeof...(Bs);

  bool operator==(const Merge&) const = default;
};

/// The `I`-th branch (0-based) of a Merge, typed.
template <std::size_t I, class F, class... Bs>
constexpr const auto& branch(const Merge<F, Bs...>& merge) {
  static_assert(I < sizeof...(Bs), "TANGENT: branch<I>(merge): I is past the last branch.");
  return detail::slot<I>(merge.branches);
}

/// The parameters of a Merge's branches, in order; `get<I>(params)` gives branch I's.
template <class... Bs>
struct BranchParams : detail::Slots<std::index_sequence_for<Bs...>, detail::params_t<Bs>...> {
  bool operator==(const BranchParams&) const = default;
};

template <std::size_t I, class... Bs>
constexpr const auto& get(const BranchParams<Bs...>& params) {
  static_assert(I < sizeof...(Bs), "TANGENT: get<I>(params): I is past the last branch.");
  return detail::slot<I>(params);
}
template <std::size_t I, class... Bs>
constexpr auto& get(BranchParams<Bs...>& params) {
  static_assert(I < sizeof...(Bs), "TANGENT: get<I>(params): I is past the last branch.");
  return detail::slot<I>(params);
}

namespace detail {

template <class T>
inline constexpr bool is_parallel = false;
template <class... Bs>
inline constexpr bool is_parallel<Parallel<Bs...>> = true;

template <class... Bs>
inline constexpr bool is_structure<Parallel<Bs...>> = true;
template <class F, class... Bs>
inline constexpr bool is_structure<Merge<F, Bs...>> = true;

template <class F, class... Bs>
struct node_params<Merge<F, Bs...>> {
  using type = BranchParams<Bs...>;
};

template <class In>
struct open_parallel {
  static_assert(dependent_false<In>,
                "TANGENT: parallel(...) MUST BE FOLLOWED BY A FAN-IN that combines its branches: "
                "write serial(..., parallel(branch_a, branch_b), FanInSum{}) (or FanInProd{}, "
                "FanInConcat{}).");
  using type = InvalidStage;
};

/// Branches without a fan-in: a compile error when a network uses them.
template <class... Bs>
struct Walk<Parallel<Bs...>> {
  template <class In>
  using output_stage = typename open_parallel<In>::type;
};

/// Throws for a FanOut{n} whose n is not the number of branches; out of line, so that the hot
/// walks keep only the comparison.
[[gnu::cold]] inline void fail_fan_out(const LayerSite& site, Index copies, std::size_t branches) {
  fail_layer(site, "it makes " + std::to_string(copies) +
                       " copies but the parallel(...) after it has " + std::to_string(branches) +
                       " branches; make them equal");
}

template <class F, class... Bs>
struct Walk<Merge<F, Bs...>> {
  template <class In>
  using output_stage = typename F::template stage<In, stage_after_t<Bs, In>...>::type;

  static constexpr bool in_full(bool out_full) { return (Walk<Bs>::in_full(out_full) || ...); }

  template <class In, bool OutFull, class P, class State, class Visitor>
  TANGENT_INLINE static void fold(const Merge<F, Bs...>& m, P& params, State& state, Cursor& cursor,
                                  Visitor& visitor) {
    constexpr std::size_t n = sizeof...(Bs);
    // A residual(...) is named by the first layer of its block, as a repeat(...) is.
    const std::size_t first = cursor.position + 1;
    if (m.fan_out) {
      const LayerSite site = cursor.next_site(FanOut::name);
      if (*m.fan_out != static_cast<Index>(n)) fail_fan_out(site, *m.fan_out, n);
    }
    // Branch 0 runs on `state` itself, the others on copies made before it changes.
    auto copies = visitor.template fork<n - 1>(state);
    run_branches<In, OutFull>(std::index_sequence_for<Bs...>{}, m, params, state, copies, cursor,
                              visitor);
    const LayerSite site = m.residual
                               ? LayerSite{"residual", first, cursor.repetition, cursor.repetitions}
                               : cursor.next_site(F::name);
    visitor.template fan_in<In, TypeList<stage_after_t<Bs, In>...>, OutFull>(
        m.fan_in, state, copies, cursor.slot++, site);
  }

  template <class P, class State, class Visitor>
  static void fold_backward(const Merge<F, Bs...>& m, P& params, State& state, Cursor& cursor,
                            Visitor& visitor, bool need_input_gradient) {
    constexpr std::size_t n = sizeof...(Bs);
    // The gradient of each branch's output, from the fan-in; then each branch backward, last
    // first (slots run backward), and the input gradient is the sum of the branches'.
    auto gradients = visitor.template fan_in_backward<n>(m.fan_in, state, --cursor.slot);
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
      (back_branch<n - 1 - Is>(m, params, gradients[n - 1 - Is], cursor, visitor,
                               need_input_gradient),
       ...);
    }
    (std::make_index_sequence<n>{});
    if (need_input_gradient) visitor.sum_gradients(state, gradients);
  }

 private:
  template <class In, bool OutFull, std::size_t... Is, class P, class State, class Copies,
            class Visitor>
  TANGENT_INLINE static void run_branches(std::index_sequence<Is...>, const Merge<F, Bs...>& m,
                                          P& params, State& state, Copies& copies, Cursor& cursor,
                                          Visitor& visitor) {
    (run_branch<Is, In, OutFull>(m, params, branch_state<Is>(state, copies), cursor, visitor), ...);
  }

  template <std::size_t I, class State, class Copies>
  TANGENT_INLINE static State& branch_state(State& state, Copies& copies) {
    if constexpr (I == 0) {
      return state;
    } else {
      return copies[I - 1];
    }
  }

  template <std::size_t I, class P, class State, class Visitor>
  static void back_branch(const Merge<F, Bs...>& m, P& params, State& state, Cursor& cursor,
                          Visitor& visitor, bool need_input_gradient) {
    auto&& branch_params = child_params<I>(params);
    ::tangent::detail::fold_backward(slot<I>(m.branches), branch_params, state, cursor, visitor,
                                     need_input_gradient);
  }

  template <std::size_t I, class In, bool OutFull, class P, class State, class Visitor>
  TANGENT_INLINE static void run_branch(const Merge<F, Bs...>& m, P& params, State& state,
                                        Cursor& cursor, Visitor& visitor) {
    using B = type_at_t<I, TypeList<Bs...>>;
    // The Merge's input is full when any branch needs it; this branch may need less.
    if constexpr (in_full(OutFull) && !Walk<B>::in_full(OutFull)) visitor.to_diagonal(state);
    auto&& branch_params = child_params<I>(params);
    const std::size_t position = cursor.position;
    ::tangent::detail::fold<In, OutFull>(slot<I>(m.branches), branch_params, state, cursor,
                                         visitor);
    // residual(...)'s Identity was not written, so it takes no position.
    if (I == 0 && m.residual) cursor.position = position;
  }
};

}  // namespace detail

/// Branches that each receive a copy of the input, to be closed by a fan-in in `serial(...)`:
/// `serial(Dense{...}, parallel(branch_a, branch_b), FanInSum{})`. A branch is a layer or a
/// network (`serial(...)`, another branching node, `repeat(...)`).
template <class... Bs>
constexpr Parallel<Bs...> parallel(const Bs&... branches) {
  static_assert(sizeof...(Bs) > 0,
                "TANGENT: parallel() NEEDS AT LEAST ONE BRANCH: parallel(branch_a, branch_b).");
  static_assert(((KernelLayer<Bs> || (detail::is_structure<Bs> && !detail::is_parallel<Bs> &&
                                      !detail::is_fan_in<Bs> && !std::is_same_v<Bs, FanOut>)) &&
                 ...),
                "TANGENT: EVERY BRANCH OF parallel(...) MUST BE A LAYER OR A NETWORK (serial(...), "
                "residual(...), repeat(...)); a branch that branches again closes its own "
                "parallel(...) with a fan-in.");
  return Parallel<Bs...>{{{branches}...}};
}

}  // namespace tangent
