#pragma once
/// @file
/// The kernel computation for networks on feature vectors.
///
/// Per-sample work (O(N·L)): each sample's variance entering every slot of the network (its
/// trace), and the finite widths. Per-pair work (O(N1·N2·(d + L))), tile by tile: one GEMM gives
/// the tile of the input NNGP x1·x2ᵀ/d, then every entry runs through the whole network in
/// registers, a packet of rows at a time, reading the variances of its two samples; a branching
/// node copies the packet into its branches and its fan-in combines them. No N1×N2 temporary
/// exists beyond the requested outputs, tiles run in parallel (OpenMP), and each entry's
/// arithmetic does not depend on the thread count.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include "tangent/combinators/fan_in.hpp"
#include "tangent/combinators/leaf.hpp"
#include "tangent/combinators/node.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/gram.hpp"
#include "tangent/core/inputs.hpp"
#include "tangent/core/loop_errors.hpp"
#include "tangent/core/pair_context.hpp"
#include "tangent/core/progress.hpp"
#include "tangent/core/simd_math.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/kernels/plan.hpp"

namespace tangent::detail {
inline namespace TANGENT_PARALLEL_ABI {

/// Largest side of the square tiles of the Gram matrices. The layer recursion reads a tile once,
/// column by column, so the tile need not stay in cache; larger tiles make each tile's GEMM pack
/// its operands fewer times (256 measured ~8% faster than 128 at N = 8,000, d = 784).
inline constexpr Index kMaxTile = 256;

/// Tile side for an n1×n2 Gram matrix: at most kMaxTile, but small enough that a small problem
/// still splits into several tiles for the threads. It depends on the sizes only, never on the
/// thread count, so the GEMM of each tile, and hence every result, is the same on any number of
/// threads.
inline Index tile_side(Index n1, Index n2) {
  const Index quarter = (std::max(n1, n2) + 3) / 4;
  return std::clamp((quarter + 7) / 8 * 8, Index{16}, kMaxTile);
}

/// Per-sample variances entering every slot (trace(slot, sample) at slot·N + sample, so a
/// packet of samples is contiguous) and their square roots; and the inputs' own variances, which
/// slot 0 need not hold (a network may start with repeat(block, 0), and may have no slot).
template <class S>
struct FeatureTrace {
  Index samples = 0;
  std::vector<S> input;
  std::vector<S> variance;
  std::vector<S> root;

  const S* at(Index slot) const { return variance.data() + slot * samples; }
  const S* root_at(Index slot) const { return root.data() + slot * samples; }
};

/// Walks one sample's variance through the network, recording it at every slot.
template <class S>
struct VarianceVisitor {
  const KernelPlan& plan;
  FeatureTrace<S>& trace;
  Index sample;

  template <class In, bool InFull, bool OutFull, class L, class P>
  void leaf(const L& layer, P&, S& q, Index slot, const LayerSite& site) {
    trace.variance[static_cast<std::size_t>(slot * trace.samples + sample)] = q;
    q = propagate_variance(layer, q);
    if constexpr (Activation<L>) require_finite_variance(site, q, sample);
  }
  template <std::size_t K>
  std::array<S, K> fork(S q) {
    return copies_of<K>(q);
  }
  void to_diagonal(S&) {}
  template <class In, class Outs, bool OutFull, class F, std::size_t K>
  void fan_in(const F& f, S& q, std::array<S, K>& others, Index slot, const LayerSite&) {
    S unused = 0;
    combine<false>(f, plan.fan_in[static_cast<std::size_t>(slot)], q, unused, others, [&](S& v) {
      return std::pair<S&, S&>{v, unused};
    });
  }
};

/// The input NNGP of row r with itself, ‖x_r‖²/d. The same loop for every row (and for the
/// kernels' derivatives) keeps the rounding of identical rows identical.
template <class S>
S input_variance(const Eigen::Ref<const Matrix<S>>& x, Index r) {
  S q = 0;
  for (Index c = 0; c < x.cols(); ++c) q += x(r, c) * x(r, c);
  return q / static_cast<S>(x.cols());
}

template <class S, class Net>
FeatureTrace<S> feature_trace(const Net& net, const KernelPlan& plan,
                              const Eigen::Ref<const Matrix<S>>& x) {
  const Index n = x.rows();
  FeatureTrace<S> trace;
  trace.samples = n;
  trace.variance.assign(static_cast<std::size_t>(plan.slots() * n), S(0));
  trace.input.resize(static_cast<std::size_t>(n));
  for (Index r = 0; r < n; ++r) {
    S q = input_variance(x, r);
    trace.input[static_cast<std::size_t>(r)] = q;
    VarianceVisitor<S> visitor{plan, trace, r};
    Cursor cursor;
    Unused params;
    fold<InputStage<Features>, false>(net, params, q, cursor, visitor);
  }
  // √ of every variance, correctly rounded (std::sqrt, as the kernel rules use; Eigen's
  // cwiseSqrt may be an estimate refined by Newton steps).
  trace.root.resize(trace.variance.size());
  for (std::size_t k = 0; k < trace.variance.size(); ++k)
    trace.root[k] = std::sqrt(trace.variance[k]);
  return trace;
}

/// The NNGP and NTK entries of a packet of pairs (rows i … i + count − 1 of x1, row j of x2),
/// and which of the pairs are equal inputs not told apart yet. `V` is `Lanes<S>`, or a dual
/// number over it (kernels/derivative_sweep.hpp).
template <class V>
struct EntryState {
  V q;
  V t;
  mask_t<V> equal;
};

/// A fan-in's rule on a packet's branches; equal inputs stay equal only if no branch told them
/// apart.
template <bool WithNtk, class F, class V, std::size_t K>
void combine_entries(const F& f, const FanInShape& shape, EntryState<V>& state,
                     std::array<EntryState<V>, K>& others) {
  combine<WithNtk>(f, shape, state.q, state.t, others, [](EntryState<V>& o) {
    return std::pair<V&, V&>{o.q, o.t};
  });
  for (const EntryState<V>& o : others) state.equal = state.equal && o.equal;
}

/// Runs a packet of entries through the network: every layer reads its pair context from the
/// two traces at its slot.
template <bool WithNtk, class S>
struct EntryVisitor {
  using V = Lanes<S>;
  using Value = V;  ///< what an entry is (sweep_tile)
  const KernelPlan& plan;
  const FeatureTrace<S>& trace1;
  const FeatureTrace<S>& trace2;
  const std::vector<S>& width;
  Index i = 0;
  Index j = 0;
  Index count = 0;
  LaneMask<S> same_sample{};
  bool maybe_equal = false;  ///< whether any pair of the group is equal (see EntryContext)

  template <class In, bool InFull, bool OutFull, class L, class P>
  TANGENT_INLINE void leaf(const L& layer, P&, EntryState<V>& state, Index slot, const LayerSite&) {
    const EntryContext<V> pair{load_lanes<S>(trace1.at(slot) + i, count, S(1)),
                               V::splat(trace2.at(slot)[j]),
                               load_lanes<S>(trace1.root_at(slot) + i, count, S(1)),
                               V::splat(trace2.root_at(slot)[j]),
                               V::splat(width[static_cast<std::size_t>(slot)]),
                               state.equal,
                               same_sample,
                               maybe_equal};
    propagate_entry<WithNtk>(layer, state.q, state.t, pair);
    if constexpr (tells_apart_equal<L, V> || tells_apart_equal<L, S>) {
      state.equal = still_equal(layer, pair);
    }
  }
  template <std::size_t K>
  std::array<EntryState<V>, K> fork(const EntryState<V>& state) {
    return copies_of<K>(state);
  }
  void to_diagonal(EntryState<V>&) {}
  template <class In, class Outs, bool OutFull, class F, std::size_t K>
  void fan_in(const F& f, EntryState<V>& state, std::array<EntryState<V>, K>& others, Index slot,
              const LayerSite&) {
    combine_entries<WithNtk>(f, plan.fan_in[static_cast<std::size_t>(slot)], state, others);
  }
};

/// The network over an h×w tile `q` of x1·x2ᵀ (rows from r0, columns from c0), a column at a
/// time in groups of kLanes<S> rows: every entry of a group goes through the same lane
/// arithmetic (rows past h are padded), so no result depends on where an entry falls. Hands
/// each group's final state to `store(state, r, c, count)` (tile row r, column c, count rows),
/// which may overwrite that group's entries of `q`: they have been read.
template <class S, class Net, class Visitor, class Store>
void sweep_tile(const Net& net, Visitor& visitor, Matrix<S>& q, Index r0, Index c0, S inv_d,
                const std::vector<Index>& label1, const std::vector<Index>& label2, bool one_input,
                Store&& store) {
  using V = Lanes<S>;
  using Value = typename Visitor::Value;
  const Index h = q.rows();
  const Index w = q.cols();
  for (Index c = 0; c < w; ++c) {
    const Index j = c0 + c;
    const Index label_j = label2[static_cast<std::size_t>(j)];
    for (Index r = 0; r < h; r += kLanes<S>) {
      const Index count = std::min<Index>(kLanes<S>, h - r);
      const Index i = r0 + r;
      std::array<S, kLanes<S>> equal_flags{};
      bool any_equal = false;
      for (Index k = 0; k < count; ++k) {
        const bool e = label1[static_cast<std::size_t>(i + k)] == label_j;
        equal_flags[static_cast<std::size_t>(k)] = e ? S(1) : S(0);
        any_equal = any_equal || e;
      }
      // Only entry (j, j) of one input is a sample with itself: at most one lane of a group.
      std::array<S, kLanes<S>> same_flags{};
      if (one_input && j >= i && j < i + count) same_flags[static_cast<std::size_t>(j - i)] = S(1);
      visitor.i = i;
      visitor.j = j;
      visitor.count = count;
      visitor.same_sample = V::load(same_flags.data()) == S(1);
      visitor.maybe_equal = any_equal;
      const LaneMask<S> equal = V::load(equal_flags.data()) == S(1);
      // Equal inputs start from their variance, so every entry of theirs is bitwise the same.
      const V input = load_lanes<S>(&q(r, c), count, S(0)) * inv_d;
      const V start =
          any_equal
              ? select(equal, load_lanes<S>(visitor.trace1.input.data() + i, count, S(1)), input)
              : input;
      EntryState<Value> state{Value(start), Value(V::splat(S(0))), equal};
      Cursor cursor;
      Unused params;
      fold<InputStage<Features>, false>(net, params, state, cursor, visitor);
      store(state, r, c, count);
    }
  }
}

/// The tiles of an n1×n2 Gram matrix, (row, column) of their first entries; for one input
/// (`same_input`) only those on or above the diagonal.
inline std::vector<std::pair<Index, Index>> tile_origins(Index n1, Index n2, Index side,
                                                         bool same_input) {
  std::vector<std::pair<Index, Index>> tiles;
  for (Index r0 = 0; r0 < n1; r0 += side) {
    for (Index c0 = same_input ? r0 : 0; c0 < n2; c0 += side) tiles.emplace_back(r0, c0);
  }
  return tiles;
}

/// Copies a tile on the diagonal of one input's Gram matrix, which computed both triangles, upper
/// over lower: the result is then exactly symmetric, wherever the tile is written.
template <class S>
void mirror_diagonal_tile(Matrix<S>& tile) {
  for (Index c = 0; c < tile.cols(); ++c) {
    for (Index r = c + 1; r < tile.rows(); ++r) tile(r, c) = tile(c, r);
  }
}

/// Writes a computed tile into `out` at (r0, c0), in `out`'s scalar. For one input, a tile on
/// the diagonal (which computed both triangles) gets its upper triangle copied over its lower
/// one, so the result is exactly symmetric, and a tile above it is also written to its mirror
/// below, while it is in cache.
template <class S, class O>
void write_tile(Matrix<S>& tile, Matrix<O>& out, Index r0, Index c0, bool same_input) {
  const Index h = tile.rows();
  const Index w = tile.cols();
  if (same_input && r0 == c0) mirror_diagonal_tile(tile);
  out.block(r0, c0, h, w) = tile.template cast<O>();
  if (same_input && r0 != c0) out.block(c0, r0, w, h) = tile.transpose().template cast<O>();
}

/// The prepared sweep of one pair of inputs: both samples' traces, the widths and the row labels,
/// from which any tile of the N1×N2 Gram matrices can be computed alone, on any thread, with the
/// same bits wherever it runs (the single-process sweep below, or a process of the distributed
/// kernels that owns that tile). `x2` null means x1 with itself.
template <bool WithNtk, class S, class Net>
class FeatureTiles {
 public:
  FeatureTiles(std::string_view function, const Net& net, const KernelPlan& plan,
               const Eigen::Ref<const Matrix<S>>& x1, const Eigen::Ref<const Matrix<S>>* x2)
      : function_(function),
        net_(net),
        plan_(plan),
        x1_(x1),
        same_input_(x2 == nullptr),
        trace1_(feature_trace<S>(net, plan, x1)),
        trace2_(same_input_ ? FeatureTrace<S>{} : feature_trace<S>(net, plan, *x2)),
        labels_(label_rows(x1, x2)),
        // x2ᵀ (d × N2) once, so that each tile's GEMM packs contiguous columns of its
        // right-hand side.
        yt_(same_input_ ? x1.transpose() : x2->transpose()),
        inv_d_(S(1) / static_cast<S>(x1.cols())),
        side_(tile_side(x1.rows(), same_input_ ? x1.rows() : x2->rows())),
        width_(widths(plan)) {}

  Index rows() const { return x1_.rows(); }
  Index cols() const { return yt_.cols(); }
  bool same_input() const { return same_input_; }
  /// Side of the tiles every entry is computed in (tile_side): a tile's GEMM, and so its bits,
  /// depend on it.
  Index side() const { return side_; }

  /// The h × w tile at (r0, c0): its NNGP in `q` and, WithNtk, its NTK in `t` (both resized).
  /// For one input, a tile on the diagonal computes both triangles; see write_tile. Throws when
  /// an entry leaves the range of S.
  void compute(Index r0, Index c0, Index h, Index w, Matrix<S>& q, Matrix<S>& t) const {
    q.resize(h, w);
    // Inside a parallel region Eigen runs this product on the calling thread.
    q.noalias() = x1_.middleRows(r0, h) * yt_.middleCols(c0, w);
    if constexpr (WithNtk) t.resize(h, w);
    const FeatureTrace<S>& trace2 = same_input_ ? trace1_ : trace2_;
    EntryVisitor<WithNtk, S> visitor{plan_, trace1_, trace2, width_};
    // Each group's NNGP overwrites its inputs in `q`, which it has read.
    sweep_tile(net_, visitor, q, r0, c0, inv_d_, labels_.first,
               same_input_ ? labels_.first : labels_.second, same_input_,
               [&](const EntryState<Lanes<S>>& state, Index r, Index c, Index count) {
                 store_lanes<S>(state.q, &q(r, c), count);
                 if constexpr (WithNtk) store_lanes<S>(state.t, &t(r, c), count);
               });
    if (!q.allFinite() || (WithNtk && !t.allFinite())) fail(function_, out_of_range_message<S>());
  }

 private:
  static std::vector<S> widths(const KernelPlan& plan) {
    std::vector<S> width(plan.in.size());
    for (std::size_t k = 0; k < width.size(); ++k) width[k] = static_cast<S>(plan.in[k].channels);
    return width;
  }

  std::string_view function_;
  const Net& net_;
  const KernelPlan& plan_;
  Eigen::Ref<const Matrix<S>> x1_;
  bool same_input_;
  FeatureTrace<S> trace1_;
  FeatureTrace<S> trace2_;
  RowLabels labels_;
  Matrix<S> yt_;
  S inv_d_;
  Index side_;
  std::vector<S> width_;
};

/// Fills `nngp_out` and/or `ntk_out` (either may be null; each is resized) with the N1×N2 Gram
/// matrices of `net` between the rows of `x1` and of `x2`, or of `x1` with itself when `x2` is
/// null (then only one triangle of tiles is computed and mirrored). Entries are computed in S
/// and stored in O (float storage of double kernels: each entry rounded once, as written).
template <bool WithNtk, class S, class O, class Net>
void feature_kernels(std::string_view function, const Net& net, const KernelPlan& plan,
                     const Eigen::Ref<const Matrix<S>>& x1, const Eigen::Ref<const Matrix<S>>* x2,
                     Matrix<O>* nngp_out, Matrix<O>* ntk_out, const ProgressCallback& progress) {
  const FeatureTiles<WithNtk, S, Net> sweep(function, net, plan, x1, x2);
  const bool same_input = sweep.same_input();
  const Index n1 = sweep.rows();
  const Index n2 = sweep.cols();
  if (nngp_out != nullptr) nngp_out->resize(n1, n2);
  if (ntk_out != nullptr) ntk_out->resize(n1, n2);

  const Index side = sweep.side();
  const std::vector<std::pair<Index, Index>> tiles = tile_origins(n1, n2, side, same_input);
  const Index tile_count = static_cast<Index>(tiles.size());
  // Progress in entries computed: a tile on the diagonal counts in full, as it is computed so.
  Index entries = 0;
  for (const auto& [r0, c0] : tiles) entries += std::min(side, n1 - r0) * std::min(side, n2 - c0);
  ProgressMeter meter(progress, entries);
  // A tile out of range (or of float's range) fails its iteration: later tiles are skipped.
  LoopErrors errors;

  TANGENT_OMP(parallel) {
    Matrix<S> q;
    Matrix<S> t;
    TANGENT_OMP(for schedule(dynamic))
    for (Index k = 0; k < tile_count; ++k) {
      if (meter.stopped()) continue;
      errors.run(k, [&] {
        const auto [r0, c0] = tiles[static_cast<std::size_t>(k)];
        const Index h = std::min(side, n1 - r0);
        const Index w = std::min(side, n2 - c0);
        sweep.compute(r0, c0, h, w, q, t);
        for (auto [tile, out] :
             {std::pair{&q, nngp_out}, std::pair{&t, WithNtk ? ntk_out : nullptr}}) {
          if (out == nullptr) continue;
          if constexpr (sizeof(O) < sizeof(S)) {
            if (!fits_storage<O>(tile->cwiseAbs().maxCoeff())) fail(function, kStorageOverflow);
          }
          write_tile(*tile, *out, r0, c0, same_input);
        }
        meter.finished(h * w);
      });
    }
  }
  // A cancel from the progress callback comes out first: it is what the caller asked for.
  if (meter.stopped()) meter.finish();
  errors.rethrow();
  meter.finish();
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace tangent::detail
