#pragma once
/// @file
/// `repeat(block, n)`: a block applied n times, with n a run-time count (neural-tangents'
/// `stax.repeat`). The block is one type whatever n is, so a 100-block network compiles as fast
/// as a 1-block one, and gives the same numbers as the blocks written out: the same arithmetic
/// runs in a loop. Each repetition has its own parameters in a finite network, as in
/// neural-tangents (and as the blocks written out would).

#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "tangent/combinators/fan_in.hpp"
#include "tangent/combinators/leaf.hpp"
#include "tangent/combinators/node.hpp"
#include "tangent/combinators/parallel.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/layer_concepts.hpp"
#include "tangent/core/stage.hpp"

namespace tangent {

/// `block` applied `n` times in a row; built by `repeat(block, n)`.
template <class Block>
struct Repeat {
  Block block;
  Index n = 1;  ///< number of repetitions (0 passes the input through)

  bool operator==(const Repeat&) const = default;
};

/// The parameters of a Repeat: one set per repetition, in order.
template <class Block>
struct RepeatParams {
  std::vector<detail::params_t<Block>> blocks;

  /// Repetition `k`'s parameters (0-based).
  const auto& operator[](std::size_t k) const { return blocks[k]; }
  auto& operator[](std::size_t k) { return blocks[k]; }
  bool operator==(const RepeatParams&) const = default;
};

namespace detail {

template <class B>
inline constexpr bool is_structure<Repeat<B>> = true;

template <class B>
struct node_params<Repeat<B>> {
  using type = RepeatParams<B>;
};

/// The repetitions' parameters, or `Unused`. Parameters being filled (by `init`) grow to `n`
/// repetitions; given ones must hold exactly `n` (`site`: where the repeat is, for the message).
template <class P>
decltype(auto) repetitions(P& params, Index n, const LayerSite& site) {
  return descend(
      params, [&](auto& tree) -> auto& {
        const auto count = static_cast<std::size_t>(n);
        if (tree.blocks.size() != count) {
          if constexpr (std::is_const_v<std::remove_reference_t<decltype(tree)>>) {
            fail_layer(site, "the parameters hold " + std::to_string(tree.blocks.size()) +
                                 " repetitions of its block but the network repeats it " +
                                 std::to_string(n) +
                                 " times; were the parameters made by init() for another network?");
          } else {
            tree.blocks.resize(count);
          }
        }
        return tree.blocks;
      });
}

/// Repetition k's parameters (of `n`), or `Unused`.
template <class P>
decltype(auto) repetition_params(P& params, Index k, Index n, const LayerSite& site) {
  auto&& blocks = repetitions(params, n, site);
  return descend(
      blocks, [&](auto& b) -> auto& { return b[static_cast<std::size_t>(k)]; });
}

template <class B, class In>
struct repeat_stage {
  using Out = stage_after_t<B, In>;
  static constexpr bool ok = std::is_same_v<Out, In> || std::is_same_v<Out, InvalidStage>;
  static_assert(ok,
                "TANGENT: repeat(block, n) NEEDS A BLOCK THAT ENDS IN THE STAGE IT STARTS FROM "
                "(the same kind of data, Gaussian or not alike), so that every repetition can "
                "follow the last: after an affine layer repeat serial(ReLU{}, Dense{...}) rather "
                "than serial(Dense{...}, ReLU{}).");
  using type = std::conditional_t<ok, Out, InvalidStage>;
};

/// Where a repeat(...) is, for messages: the position of the first layer of its block.
inline LayerSite repeat_site(const Cursor& cursor) {
  return LayerSite{"repeat", cursor.position + 1, cursor.repetition, cursor.repetitions};
}

/// Throws for a negative count (set after repeat(...) built the node); the cursor goes by value,
/// so that the hot walks, which never throw here, keep theirs in registers.
[[gnu::cold]] inline void fail_repetitions(Index n, Cursor cursor) {
  fail_layer(repeat_site(cursor),
             "the number of repetitions must be >= 0, got " + std::to_string(n));
}

template <class B>
struct Walk<Repeat<B>> {
  template <class In>
  using output_stage = typename repeat_stage<B, In>::type;

  static constexpr bool in_full(bool out_full) { return Walk<B>::in_full(out_full); }

  template <class In, bool OutFull, class P, class State, class Visitor>
  TANGENT_INLINE static void fold(const Repeat<B>& r, P& params, State& state, Cursor& cursor,
                                  Visitor& visitor) {
    // The last repetition delivers what the next node needs; the others deliver what the block
    // needs at its input, a fixed point of the block's requirement.
    constexpr bool inner = Walk<B>::in_full(OutFull);
    static_assert(Walk<B>::in_full(inner) == inner,
                  "a block's spatial requirement is a fixed point after one repetition");
    if (r.n < 0) fail_repetitions(r.n, cursor);
    if (r.n == 0) {
      (void)repetitions(params, 0, repeat_site(cursor));
      if constexpr (inner && !OutFull) visitor.to_diagonal(state);
      return;
    }
    const Cursor outer = cursor;
    for (Index k = 0; k < r.n; ++k) {
      cursor.position = outer.position;
      cursor.repetition = static_cast<std::size_t>(k + 1);
      cursor.repetitions = static_cast<std::size_t>(r.n);
      auto&& block_params = repetition_params(params, k, r.n, repeat_site(outer));
      if (k + 1 < r.n) {
        ::tangent::detail::fold<In, inner>(r.block, block_params, state, cursor, visitor);
      } else {
        ::tangent::detail::fold<In, OutFull>(r.block, block_params, state, cursor, visitor);
      }
    }
    cursor.repetition = outer.repetition;
    cursor.repetitions = outer.repetitions;
  }

  template <class P, class State, class Visitor>
  static void fold_backward(const Repeat<B>& r, P& params, State& state, Cursor& cursor,
                            Visitor& visitor, bool need_input_gradient) {
    for (Index k = r.n; k-- > 0;) {
      auto&& block_params = repetition_params(params, k, r.n, repeat_site(cursor));
      ::tangent::detail::fold_backward(r.block, block_params, state, cursor, visitor,
                                       need_input_gradient || k > 0);
    }
  }
};

}  // namespace detail

/// `block` (a layer or a network) applied `n` times in a row, n ≥ 0 chosen at run time:
/// `serial(Dense{...}, repeat(serial(ReLU{}, Dense{...}), depth), ...)`. The block must end in
/// the stage it starts from (so that repetitions can follow each other).
template <class Block>
constexpr Repeat<Block> repeat(const Block& block, Index n) {
  static_assert(
      KernelLayer<Block> || (detail::is_structure<Block> && !detail::is_fan_in<Block> &&
                             !detail::is_parallel<Block> && !std::is_same_v<Block, FanOut>),
      "TANGENT: repeat(block, n) REPEATS A LAYER OR A NETWORK (serial(...), "
      "residual(...)).");
  if (n < 0) {
    detail::fail("repeat", "the number of repetitions must be >= 0, got " + std::to_string(n));
  }
  return Repeat<Block>{block, n};
}

}  // namespace tangent
