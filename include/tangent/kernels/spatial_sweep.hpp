#pragma once
/// @file
/// The kernel computation for networks on images and sequences.
///
/// The state of a pair of samples is its block over pairs of positions while the data is
/// spatial, and its scalar NNGP/NTK entries after a reducing layer (Flatten, GlobalAvgPool).
/// Whether a layer's block is full (P×P) or only its same-position diagonal is decided per layer
/// at compile time: a layer's input is full exactly when a pooling layer comes later (as
/// neural-tangents decides it at run time), branches taking the union. Per sample (O(N·P²·L)):
/// the variance of every position entering every slot, from the sample's own block (its trace).
/// Per pair, in parallel: the input block (X_i·X_jᵀ/C, or its diagonal), then the network; a
/// branching node works on copies of the block from a per-thread pool. Each thread holds one
/// pair's blocks (and its branches' copies), nothing more.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tangent/combinators/fan_in.hpp"
#include "tangent/combinators/leaf.hpp"
#include "tangent/combinators/node.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/dual.hpp"
#include "tangent/core/gram.hpp"
#include "tangent/core/inputs.hpp"
#include "tangent/core/loop_errors.hpp"
#include "tangent/core/pair_context.hpp"
#include "tangent/core/progress.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/spatial_block.hpp"
#include "tangent/core/spatial_input.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/kernels/hyperparameter_map.hpp"
#include "tangent/kernels/plan.hpp"
#include "tangent/layers/elementwise.hpp"
#include "tangent/layers/window.hpp"

namespace tangent::detail {
inline namespace TANGENT_PARALLEL_ABI {

/// Pairs of samples a thread takes at a time in the spatial sweep: few, since one pair of
/// images can cost milliseconds; also the bound on threads that hold a block (plan_spatial).
inline constexpr Index kSpatialPairsPerChunk = 4;

/// Per-sample variances entering every slot: P values for a layer on spatial data (one per
/// position), 1 for a layer on feature vectors, none for a fan-in; and, for the slots whose rule
/// reads them (`KernelPlan::rooted`), their square roots (correctly rounded, as the kernel rules
/// take them), which every pair would otherwise take again.
template <class S>
struct SpatialTrace {
  std::vector<Index> offset;
  std::vector<Index> positions;
  std::vector<Index> root_offset;
  std::vector<Index> root_positions;
  std::vector<S> values;
  std::vector<S> roots;

  S* at(Index slot, Index sample) { return values.data() + start(offset, positions, slot, sample); }
  const S* at(Index slot, Index sample) const {
    return values.data() + start(offset, positions, slot, sample);
  }
  /// The roots of a slot's variances; null where the slot's rule does not read them.
  const S* root_at(Index slot, Index sample) const {
    if (root_positions[static_cast<std::size_t>(slot)] == 0) return nullptr;
    return roots.data() + start(root_offset, root_positions, slot, sample);
  }

  /// The root of a feature-vector slot's one variance (such slots are always rooted).
  S root(Index slot, Index sample) const {
    return roots[start(root_offset, root_positions, slot, sample)];
  }

  /// Writes the variances entering `slot` for `sample` (and their roots where kept).
  template <class VarianceAt>
  void record(Index slot, Index sample, Index count, VarianceAt&& variance_at) {
    S* value = at(slot, sample);
    for (Index p = 0; p < count; ++p) value[p] = variance_at(p);
    if (root_positions[static_cast<std::size_t>(slot)] == 0) return;
    S* root = roots.data() + start(root_offset, root_positions, slot, sample);
    using std::sqrt;  // and core/dual.hpp's for dual numbers
    for (Index p = 0; p < count; ++p) root[p] = sqrt(value[p]);
  }

 private:
  static std::size_t start(const std::vector<Index>& offsets, const std::vector<Index>& counts,
                           Index slot, Index sample) {
    const auto k = static_cast<std::size_t>(slot);
    return static_cast<std::size_t>(offsets[k] + counts[k] * sample);
  }
};

template <class S>
SpatialTrace<S> trace_layout(const KernelPlan& plan, Index samples) {
  SpatialTrace<S> trace;
  Index total = 0;
  Index root_total = 0;
  for (Index slot = 0; slot < plan.slots(); ++slot) {
    const Index p = plan.traced_positions(slot);
    const Index r = plan.rooted_positions(slot);
    trace.offset.push_back(total);
    trace.positions.push_back(p);
    trace.root_offset.push_back(root_total);
    trace.root_positions.push_back(r);
    total += p * samples;
    root_total += r * samples;
  }
  trace.values.assign(static_cast<std::size_t>(total), S(0));
  trace.roots.assign(static_cast<std::size_t>(root_total), S(0));
  return trace;
}

/// A pair's state: its block while the data is spatial, its scalar entries after.
template <class S>
struct SpatialState {
  PairBlock<S> block;
  S q = 0;
  S t = 0;
};

/// Runs a pair (or, with `Record`, a sample with itself, writing its trace) through the network.
/// On dual numbers (S = Dual<double, K>, kernel_derivatives) the layers with hyperparameters run
/// their rules with the pass's `seeds`, and the others carry the derivatives through.
template <bool WithNtk, bool Record, class S>
struct BlockVisitor {
  const KernelPlan& plan;
  /// Written when recording a sample's trace, read otherwise.
  std::conditional_t<Record, SpatialTrace<S>*, const SpatialTrace<S>*> trace1;
  const SpatialTrace<S>* trace2;
  HyperparameterSeeds seeds{};  ///< dual numbers only
  Index i = 0;
  Index j = 0;
  std::deque<SpatialState<S>> pool{};  ///< copies for branches, reused from pair to pair
  std::size_t depth = 0;

  template <class In, bool InFull, bool OutFull, class L, class P>
  void leaf(const L& layer, P&, SpatialState<S>& state, Index slot, const LayerSite& site) {
    const auto k = static_cast<std::size_t>(slot);
    if constexpr (is_spatial<typename In::kind>::value) {
      PairBlock<S>& block = state.block;
      block.geometry = plan.in[k];
      block.window = &plan.window[k];
      if constexpr (Record) {
        // The variances entering the layer are the diagonal of the sample's own block.
        const Index positions = block.geometry.positions();
        trace1->record(slot, i, positions, [&](Index p) {
          return block.nngp[static_cast<std::size_t>(InFull ? p + positions * p : p)];
        });
        const S* variances = trace1->at(slot, i);
        block.var1 = block.var2 = variances;
        block.root1 = block.root2 = trace1->root_at(slot, i);
        // An activation with a bounded domain (Exp, Gaussian) refuses a variance outside it
        // here, where every sample's variances first appear, rather than return infinities.
        if constexpr (requires { layer.check_variance(value_of(variances[0])); }) {
          for (Index p = 0; p < positions; ++p) layer.check_variance(value_of(variances[p]));
        }
      } else {
        block.var1 = trace1->at(slot, i);
        block.var2 = trace2->at(slot, j);
        block.root1 = trace1->root_at(slot, i);
        block.root2 = trace2->root_at(slot, j);
      }
      constexpr bool seeded = is_dual<S> && HasHyperparameters<L>;
      if constexpr (Activation<L>) {
        if constexpr (seeded) {
          // Seeded in the type the activation's packets run on.
          const auto h = seeds.of<packet_of<S>>(layer, slot);
          activation_block<InFull, WithNtk>(SeededActivation<L, decltype(h)>{layer, h}, block);
        } else {
          activation_block<InFull, WithNtk>(layer, block);
        }
        if constexpr (Record) {
          const Index positions = block.geometry.positions();
          for (Index p = 0; p < positions; ++p) {
            require_finite_variance(
                site,
                value_of(block.nngp[static_cast<std::size_t>(InFull ? p + positions * p : p)]), i);
          }
        }
      } else if constexpr (reduces_spatial<L>()) {
        layer.template reduce_block<InFull, WithNtk>(block, state.q, state.t);
      } else if constexpr (seeded) {
        layer.template propagate_block_with<InFull, OutFull, WithNtk>(seeds.of<S>(layer, slot),
                                                                      block);
      } else {
        layer.template propagate_block<InFull, OutFull, WithNtk>(block);
      }
    } else if constexpr (Record) {
      trace1->record(slot, i, 1, [&](Index) { return state.q; });
      if constexpr (is_dual<S>) {
        state.q = seeded_variance(layer, seeds, slot, state.q);
      } else {
        state.q = propagate_variance(layer, state.q);
      }
      if constexpr (Activation<L>) require_finite_variance(site, value_of(state.q), i);
    } else {
      const S q11 = *trace1->at(slot, i);
      const S q22 = *trace2->at(slot, j);
      const EntryContext<S> pair{q11,
                                 q22,
                                 trace1->root(slot, i),
                                 trace2->root(slot, j),
                                 static_cast<S>(plan.in[k].channels),
                                 state.block.equal,
                                 state.block.same_sample,
                                 state.block.equal || state.block.same_sample};
      if constexpr (is_dual<S>) {
        propagate_dual_entry<WithNtk>(layer, seeds, slot, state.q, state.t, pair);
      } else {
        propagate_entry<WithNtk>(layer, state.q, state.t, pair);
      }
      if constexpr (tells_apart_equal<L, S>) state.block.equal = layer.still_equal(pair);
    }
  }

  /// Copies of a state for the other branches of a Merge, handed back when they go out of scope.
  template <std::size_t K>
  struct Copies {
    BlockVisitor* owner;
    std::array<SpatialState<S>*, K> states{};
    explicit Copies(BlockVisitor* o) : owner(o) {}
    // Move-only: exactly one object hands the copies back.
    Copies(Copies&& other) noexcept
        : owner(std::exchange(other.owner, nullptr)), states(other.states) {}
    Copies(const Copies&) = delete;
    Copies& operator=(const Copies&) = delete;
    Copies& operator=(Copies&&) = delete;
    ~Copies() {
      if (owner != nullptr) owner->depth -= K;
    }
    static constexpr std::size_t size() { return K; }
    SpatialState<S>& operator[](std::size_t k) { return *states[k]; }
  };

  template <std::size_t K>
  Copies<K> fork(const SpatialState<S>& state) {
    Copies<K> copies(this);
    for (std::size_t k = 0; k < K; ++k) {
      if (depth == pool.size()) pool.emplace_back();
      SpatialState<S>& copy = pool[depth++];
      copy.block.nngp.assign(state.block.nngp.begin(), state.block.nngp.end());
      if constexpr (WithNtk) copy.block.ntk.assign(state.block.ntk.begin(), state.block.ntk.end());
      copy.block.geometry = state.block.geometry;
      copy.block.equal = state.block.equal;
      copy.block.same_sample = state.block.same_sample;
      copy.q = state.q;
      copy.t = state.t;
      copies.states[k] = &copy;
    }
    return copies;
  }

  void to_diagonal(SpatialState<S>& state) {
    PairBlock<S>& block = state.block;
    const Index positions = block.geometry.positions();
    take_diagonal(block.nngp, positions, block.spare);
    block.nngp.swap(block.spare);
    if constexpr (WithNtk) {
      take_diagonal(block.ntk, positions, block.spare);
      block.ntk.swap(block.spare);
    }
  }

  template <class In, class Outs, bool OutFull, class F, class Others>
  void fan_in(const F& f, SpatialState<S>& state, Others& others, Index slot, const LayerSite&) {
    const FanInShape& shape = plan.fan_in[static_cast<std::size_t>(slot)];
    using Kind = typename type_at_t<0, Outs>::kind;
    // Equal inputs stay equal only if no branch told them apart.
    for (std::size_t b = 0; b < others.size(); ++b) {
      state.block.equal = state.block.equal && others[b].block.equal;
    }
    if constexpr (!is_spatial<Kind>::value) {
      combine<WithNtk>(f, shape, state.q, state.t, others, [](SpatialState<S>& o) {
        return std::pair<S&, S&>{o.q, o.t};
      });
    } else {
      if (shape.spatial_axis >= 0) {
        concat_positions<OutFull>(shape, state, others);
        return;
      }
      S unused = 0;
      const std::size_t entries = state.block.nngp.size();
      for (std::size_t e = 0; e < entries; ++e) {
        S& t = WithNtk ? state.block.ntk[e] : unused;
        combine<WithNtk>(f, shape, state.block.nngp[e], t, others, [&](SpatialState<S>& o) {
          return std::pair<S&, S&>{o.block.nngp[e], WithNtk ? o.block.ntk[e] : unused};
        });
      }
    }
  }

 private:
  /// Concatenation along a spatial axis: each branch's block lands on its own positions, and
  /// pairs of positions from different branches are 0.
  template <bool Full, class Others>
  void concat_positions(const FanInShape& shape, SpatialState<S>& state, Others& others) {
    const Index po = shape.out.positions();
    const auto relayout = [&](auto member) {
      std::vector<S>& result = state.block.spare;
      result.assign(static_cast<std::size_t>(Full ? po * po : po), S(0));
      for (std::size_t b = 0; b < shape.branches.size(); ++b) {
        const std::vector<S>& source = b == 0 ? state.block.*member : others[b - 1].block.*member;
        const Index pb = shape.branches[b].positions();
        for (Index p2 = 0; p2 < (Full ? pb : 1); ++p2) {
          const Index column = Full ? po * concat_position(shape, b, p2) : 0;
          for (Index p1 = 0; p1 < pb; ++p1) {
            result[static_cast<std::size_t>(column + concat_position(shape, b, p1))] =
                source[static_cast<std::size_t>(Full ? p1 + pb * p2 : p1)];
          }
        }
      }
      (state.block.*member).swap(result);
    };
    relayout(&PairBlock<S>::nngp);
    if constexpr (WithNtk) relayout(&PairBlock<S>::ntk);
    state.block.geometry = shape.out;
  }
};

/// Sample `i` as a P×C matrix (row p holds the channels at position p).
template <class S, int D>
void sample_matrix(const SpatialInput<S, D>& x, Index i, Matrix<S>& out) {
  const Index positions = x.geometry.positions();
  const Index channels = x.geometry.channels;
  out.resize(positions, channels);
  for (Index c = 0; c < channels; ++c) {
    for (Index p = 0; p < positions; ++p) out(p, c) = x.flat(i, p * channels + c);
  }
}

/// The input block of a pair: Σ⁰[p1, p2] = (1/C)·Σ_c x1[p1, c]·x2[p2, c] (neural-tangents'
/// input kernel: channels are averaged, positions are not), full or its diagonal.
///
/// Every entry sums its channels in one order, c = 0, 1, …, one channel per pass over the block:
/// - the full block's diagonal is then bit for bit the diagonal form, whatever the vector width
///   (a GEMM and a dot product each sum in an order of their own, which depends on the
///   instruction set, and a network that needs full blocks only after `repeat(…, 0)` would differ
///   from the same network written without it);
/// - no entry depends on where the block's storage starts: Eigen's small products take a
///   different path for the first entries up to an alignment boundary, and with AVX-512 (64-byte
///   packets) a std::vector's 16-byte-aligned storage made `ntk(net, x)` and
///   `kernels(net, x).ntk` differ in their last bits.
/// Input channels are few (3 for RGB), and the block is made once per pair.
template <bool Full, class S>
void input_block(const Matrix<S>& a, const Matrix<S>& b, std::vector<S>& out) {
  const Index positions = a.rows();
  const Index channels = a.cols();
  const S inv_channels = S(1) / static_cast<S>(channels);
  if constexpr (Full) {
    out.resize(static_cast<std::size_t>(positions * positions));
    Eigen::Map<Matrix<S>> block(out.data(), positions, positions);
    block.noalias() = a.col(0) * b.col(0).transpose();
    for (Index c = 1; c < channels; ++c) block.noalias() += a.col(c) * b.col(c).transpose();
    block *= inv_channels;
  } else {
    out.resize(static_cast<std::size_t>(positions));
    Eigen::Map<Vector<S>> diagonal(out.data(), positions);
    diagonal = a.col(0).cwiseProduct(b.col(0));
    for (Index c = 1; c < channels; ++c) diagonal += a.col(c).cwiseProduct(b.col(c));
    diagonal *= inv_channels;
  }
}

/// The input block of a pair as a block of S: for dual numbers computed in their scalar
/// (`values` is workspace) with derivatives 0, since the inputs do not depend on the
/// hyperparameters.
template <bool Full, class S>
void input_block(const Matrix<scalar_t<S>>& a, const Matrix<scalar_t<S>>& b,
                 std::vector<scalar_t<S>>& values, std::vector<S>& out) {
  if constexpr (is_dual<S>) {
    input_block<Full>(a, b, values);
    out.assign(values.begin(), values.end());
  } else {
    input_block<Full>(a, b, out);
  }
}

/// The trace of every sample of `x`, each from its own block; on dual numbers S, with the
/// derivatives with respect to the hyperparameters `seeds` chooses.
template <class S, int D, class Net>
SpatialTrace<S> spatial_trace(const Net& net, const KernelPlan& plan,
                              const SpatialInput<scalar_t<S>, D>& x, HyperparameterSeeds seeds) {
  constexpr bool full = in_full<Net>(false);
  const Index n = x.samples();
  SpatialTrace<S> trace = trace_layout<S>(plan, n);
  LoopErrors errors;
  TANGENT_OMP(parallel) {
    std::optional<BlockVisitor<false, true, S>> visitor;
    errors.run(LoopErrors::kSetup, [&] {
      visitor.emplace(BlockVisitor<false, true, S>{plan, &trace, &trace, seeds});
    });
    SpatialState<S> state;
    Matrix<scalar_t<S>> sample;
    std::vector<scalar_t<S>> values;
    TANGENT_OMP(for schedule(dynamic))
    for (Index i = 0; i < n; ++i) {
      errors.run(i, [&] {
        sample_matrix(x, i, sample);
        input_block<full>(sample, sample, values, state.block.nngp);
        state.block.geometry = x.geometry;
        state.block.equal = state.block.same_sample = true;
        state.q = state.t = 0;
        visitor->i = visitor->j = i;
        Cursor cursor;
        Unused params;
        fold<InputStage<Spatial<D>>, false>(net, params, state, cursor, *visitor);
      });
    }
  }
  errors.rethrow();
  return trace;
}

/// The k-th pair (i, j), j ≥ i, of an n×n upper triangle enumerated row by row; row i starts at
/// k = i·n − i(i − 1)/2. The square root gives the row up to rounding, which the loops correct.
inline std::pair<Index, Index> triangle_pair(Index k, Index n) {
  const auto start = [n](Index row) { return row * n - row * (row - 1) / 2; };
  const double b = 2.0 * static_cast<double>(n) + 1.0;
  Index i = static_cast<Index>((b - std::sqrt(b * b - 8.0 * static_cast<double>(k))) / 2);
  i = std::clamp<Index>(i, 0, n - 1);
  while (i > 0 && start(i) > k) --i;
  while (i + 1 < n && start(i + 1) <= k) ++i;
  return {i, i + (k - start(i))};
}

/// What every pair of samples of a spatial sweep shares: the network, its plan, both inputs'
/// traces and row labels (equal samples get equal labels). S is the scalar of the blocks: the
/// inputs' (double or float), or a dual number on doubles that carries the derivatives with
/// respect to the hyperparameters `seeds` chooses. `entry(i, j, work)` runs pair (i, j)
/// through the network, with one thread's `Workspace`; its NNGP and NTK entries are then in
/// work.state.q and .t. An entry's bits depend only on its pair, not on which tile or thread
/// computes it, so any partition of the pairs (threads, tiles, processes) gives the same matrix.
template <bool WithNtk, class S, int D, class Net>
class SpatialPairs {
 public:
  /// One thread's blocks, reused from pair to pair.
  struct Workspace {
    std::optional<BlockVisitor<WithNtk, false, S>> visitor;
    SpatialState<S> state;
    Matrix<scalar_t<S>> a;           ///< the first sample's positions × channels
    Matrix<scalar_t<S>> b;           ///< the second's
    std::vector<scalar_t<S>> input;  ///< the input block of dual numbers' values
    /// Which samples a and b hold (−1: none). Gathering a sample reads one entry per cache line
    /// of the column-major N × (P·C) input; consecutive pairs share their first sample in the
    /// single-process sweep (rows of the triangle) and their second in a distributed tile.
    Index a_sample = -1;
    Index b_sample = -1;
  };

  /// Pairs of the samples of `x1` with those of `x2`, or of `x1` with itself when `x2` is null.
  /// The inputs must outlive the object.
  SpatialPairs(std::string_view function, const Net& net, const KernelPlan& plan,
               const SpatialInput<scalar_t<S>, D>& x1, const SpatialInput<scalar_t<S>, D>* x2,
               HyperparameterSeeds seeds = {})
      : function_(function),
        net_(net),
        plan_(plan),
        x1_(x1),
        x2_(x2 == nullptr ? x1 : *x2),
        same_input_(x2 == nullptr),
        seeds_(seeds),
        trace1_(spatial_trace<S>(net, plan, x1, seeds)),
        trace2_(same_input_ ? SpatialTrace<S>{} : spatial_trace<S>(net, plan, *x2, seeds)),
        labels_(label_rows(x1.flat, same_input_ ? nullptr : &x2->flat)) {}

  Index rows() const { return x1_.samples(); }
  Index cols() const { return x2_.samples(); }
  bool same_input() const { return same_input_; }

  Workspace workspace() const {
    Workspace work;
    work.visitor.emplace(BlockVisitor<WithNtk, false, S>{plan_, &trace1_, &trace2(), seeds_});
    return work;
  }

  /// Runs pair (i, j) through the network into work.state; throws when an entry is not finite.
  void entry(Index i, Index j, Workspace& work) const {
    constexpr bool full = in_full<Net>(false);
    const std::vector<Index>& label2 = same_input_ ? labels_.first : labels_.second;
    SpatialState<S>& state = work.state;
    if (work.a_sample != i) {
      work.a_sample = -1;  // until the gather is complete
      sample_matrix(x1_, i, work.a);
      work.a_sample = i;
    }
    if (work.b_sample != j) {
      work.b_sample = -1;
      sample_matrix(x2_, j, work.b);
      work.b_sample = j;
    }
    input_block<full>(work.a, work.b, work.input, state.block.nngp);
    if constexpr (WithNtk) state.block.ntk.assign(state.block.nngp.size(), S(0));
    state.block.geometry = x1_.geometry;
    state.block.equal =
        labels_.first[static_cast<std::size_t>(i)] == label2[static_cast<std::size_t>(j)];
    state.block.same_sample = same_input_ && i == j;
    state.q = state.t = 0;
    work.visitor->i = i;
    work.visitor->j = j;
    Cursor cursor;
    Unused params;
    fold<InputStage<Spatial<D>>, false>(net_, params, state, cursor, *work.visitor);
    if (!std::isfinite(value_of(state.q)) || (WithNtk && !std::isfinite(value_of(state.t)))) {
      fail(function_, out_of_range_message<S>());
    }
  }

 private:
  const SpatialTrace<S>& trace2() const { return same_input_ ? trace1_ : trace2_; }

  std::string_view function_;
  const Net& net_;
  const KernelPlan& plan_;
  const SpatialInput<scalar_t<S>, D>& x1_;
  const SpatialInput<scalar_t<S>, D>& x2_;
  bool same_input_;
  HyperparameterSeeds seeds_;
  SpatialTrace<S> trace1_;
  SpatialTrace<S> trace2_;
  RowLabels labels_;
};

/// Refuses a pair's entries (`state`) beyond the range of the storage O.
template <class O, bool WithNtk, class S>
void require_storable(std::string_view function, const SpatialState<S>& state) {
  if constexpr (sizeof(O) < sizeof(S)) {
    if (!fits_storage<O>(state.q) || (WithNtk && !fits_storage<O>(state.t))) {
      fail(function, kStorageOverflow);
    }
  }
}

/// What a spatial sweep holds beside its outputs, in bytes, and how many threads hold blocks.
struct SpatialWork {
  double traces = 0;
  double threads = 0;
  double blocks = 0;
};

/// `SpatialWork` of a sweep of `plan` over N1 × N2 pairs (N1(N1 + 1)/2 of one input) whose
/// entries take `entry_bytes`: the per-sample traces (every layer's input variances, P per sample,
/// and their roots where an activation reads them) and the blocks of the threads that work (P²
/// entries where a layer needs every pair of positions: pooling, GlobalAvgPool; P where it needs
/// their diagonal; `kernels` blocks per pair: the NNGP's and the NTK's). A lower bound: the sweep
/// holds more (window passes, branches).
inline SpatialWork spatial_work(const KernelPlan& plan, Index n1, Index n2, bool two_inputs,
                                int kernels, std::size_t entry_bytes) {
  double per_sample = 0;
  for (Index slot = 0; slot < plan.slots(); ++slot) {
    per_sample += static_cast<double>(plan.traced_positions(slot) + plan.rooted_positions(slot));
  }
  SpatialWork work;
  const auto bytes = static_cast<double>(entry_bytes);
  work.traces = per_sample * static_cast<double>(two_inputs ? n1 + n2 : n1) * bytes;
  // Threads take pairs kSpatialPairsPerChunk at a time: no more of them hold a block.
  const double pairs = two_inputs ? static_cast<double>(n1) * static_cast<double>(n2)
                                  : static_cast<double>(n1) * static_cast<double>(n1 + 1) / 2;
  work.threads =
      std::min(static_cast<double>(max_threads()), std::ceil(pairs / kSpatialPairsPerChunk));
  work.blocks = work.threads * plan.largest_block * bytes * kernels;
  return work;
}

/// The plan of `net` on the samples of x1 after checking the inputs (finite, not empty, one
/// shape), and whether they are one input: x2 null or equal to x1 value by value (its kernels
/// are then computed as those of x1 with itself, symmetric, in half the work).
template <class Net, class S, int D>
std::pair<KernelPlan, bool> checked_spatial_inputs(std::string_view function, const Net& net,
                                                   const SpatialInput<S, D>& x1,
                                                   const SpatialInput<S, D>* x2) {
  KernelPlan plan = make_plan<InputStage<Spatial<D>>>(net, x1.geometry);
  check_kernel_input(function, "x1", x1.flat);
  if (x2 != nullptr) {
    check_kernel_input(function, "x2", x2->flat);
    if (!(x1.geometry == x2->geometry)) {
      fail(function, "x1 holds " + x1.geometry.str() + " samples but x2 holds " +
                         x2->geometry.str() + "; both inputs need the same shape");
    }
  }
  const bool one_input = x2 == nullptr || equal_inputs(x1.flat, x2->flat);
  return {std::move(plan), one_input};
}

/// Runs every pair of `sweep` (of one input the pairs i ≤ j, in triangle_pair's order; of two,
/// all, row by row) in parallel, chunks of kSpatialPairsPerChunk, each thread in a workspace of
/// its own, and hands each pair's finished workspace to `done(i, j, work)`. Pairs met once
/// `stop()` holds are skipped; a pair that throws is recorded in `errors` and the later ones are
/// skipped (errors.rethrow() is the caller's).
template <class Sweep, class Stop, class Done>
void for_each_pair(const Sweep& sweep, LoopErrors& errors, const Stop& stop, const Done& done) {
  const bool same_input = sweep.same_input();
  const Index n1 = sweep.rows();
  const Index n2 = sweep.cols();
  const Index pairs = same_input ? n1 * (n1 + 1) / 2 : n1 * n2;
  TANGENT_OMP(parallel) {
    std::optional<typename Sweep::Workspace> work;
    errors.run(LoopErrors::kSetup, [&] { work.emplace(sweep.workspace()); });
    TANGENT_OMP(for schedule(dynamic, kSpatialPairsPerChunk))
    for (Index k = 0; k < pairs; ++k) {
      if (stop()) continue;
      errors.run(k, [&] {
        const auto [i, j] = same_input ? triangle_pair(k, n1) : std::pair{k / n2, k % n2};
        sweep.entry(i, j, *work);
        done(i, j, *work);
      });
    }
  }
}

/// Fills `nngp_out` and/or `ntk_out` (either may be null) with the N1×N2 Gram matrices of `net`
/// between the samples of `x1` and of `x2`, or of `x1` with itself when `x2` is null (then only
/// pairs i ≤ j are computed and mirrored). Entries are computed in S and stored in O.
template <bool WithNtk, class S, class O, int D, class Net>
void spatial_kernels(std::string_view function, const Net& net, const KernelPlan& plan,
                     const SpatialInput<S, D>& x1, const SpatialInput<S, D>* x2,
                     Matrix<O>* nngp_out, Matrix<O>* ntk_out, const ProgressCallback& progress) {
  const SpatialPairs<WithNtk, S, D, Net> sweep(function, net, plan, x1, x2);
  const Index n1 = sweep.rows();
  const Index n2 = sweep.cols();
  if (nngp_out != nullptr) nngp_out->resize(n1, n2);
  if (ntk_out != nullptr) ntk_out->resize(n1, n2);

  ProgressMeter meter(progress, sweep.same_input() ? n1 * (n1 + 1) / 2 : n1 * n2);
  // A pair out of range (or of float's range) fails its iteration: later pairs are skipped.
  LoopErrors errors;
  for_each_pair(
      sweep, errors, [&] { return meter.stopped(); },
      [&](Index i, Index j, const auto& work) {
        require_storable<O, WithNtk>(function, work.state);
        if (nngp_out != nullptr) (*nngp_out)(i, j) = static_cast<O>(work.state.q);
        if constexpr (WithNtk) {
          if (ntk_out != nullptr) (*ntk_out)(i, j) = static_cast<O>(work.state.t);
        }
        meter.finished(1);
      });
  // A cancel from the progress callback comes out first: it is what the caller asked for.
  if (meter.stopped()) meter.finish();
  errors.rethrow();
  meter.finish();

  if (sweep.same_input()) {
    for (Matrix<O>* out : {nngp_out, ntk_out}) {
      if (out != nullptr) mirror_triangle(*out, true);
    }
  }
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace tangent::detail
