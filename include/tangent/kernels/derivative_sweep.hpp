#pragma once
/// @file
/// The kernels of a network on feature vectors together with their derivatives with respect to
/// its hyperparameters (core/hyperparameters.hpp), in forward mode: the feature sweep of
/// kernels/feature_sweep.hpp run on dual numbers (core/dual.hpp) whose derivative parts are
/// seeded at each layer's hyperparameters. Nothing in the layer rules changes: a rule that
/// takes its hyperparameters as duals gives its derivatives, and every other rule carries the
/// derivatives of its inputs through.
///
/// A pass differentiates kTangentsPerPass hyperparameters at once; a network with more takes
/// several passes over the tiles, each recomputing the values (cheaper than one dual as wide as
/// the largest network, whose packets would leave the registers and the first-level cache).
/// Every pass here is 8 wide; the spatial sweep (kernels/spatial_derivative_sweep.hpp) narrows
/// its last one, where each entry's window passes cost in proportion to the dual's width. Here
/// a narrower pass would be another instantiation of the sweep, not measured yet.

#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include "tangent/combinators/fan_in.hpp"
#include "tangent/combinators/leaf.hpp"
#include "tangent/combinators/node.hpp"
#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/dual.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/gram.hpp"
#include "tangent/core/hyperparameters.hpp"
#include "tangent/core/inputs.hpp"
#include "tangent/core/loop_errors.hpp"
#include "tangent/core/pair_context.hpp"
#include "tangent/core/simd_math.hpp"
#include "tangent/kernels/feature_sweep.hpp"
#include "tangent/kernels/hyperparameter_map.hpp"
#include "tangent/kernels/plan.hpp"

namespace tangent::detail {
inline namespace TANGENT_PARALLEL_ABI {

/// Per-sample variances at every slot with their derivatives, and their square roots, stored
/// by slot, then by part (0 the value, 1 + k the derivative with respect to the pass's k-th
/// hyperparameter), then by sample, so that a packet of samples' part is contiguous.
template <std::size_t K>
struct DualFeatureTrace {
  Index samples = 0;
  std::vector<double> input;
  std::vector<double> variance;
  std::vector<double> root;

  std::size_t offset(Index slot, std::size_t part) const {
    return (static_cast<std::size_t>(slot) * (K + 1) + part) * static_cast<std::size_t>(samples);
  }
  void record(Index slot, Index sample, const Dual<double, K>& q) {
    const double root_value = std::sqrt(q.v);
    const double half_inverse = half_inverse_or_zero(root_value);
    variance[offset(slot, 0) + static_cast<std::size_t>(sample)] = q.v;
    root[offset(slot, 0) + static_cast<std::size_t>(sample)] = root_value;
    for (std::size_t k = 0; k < K; ++k) {
      const double dq = q.d[k];
      variance[offset(slot, k + 1) + static_cast<std::size_t>(sample)] = dq;
      root[offset(slot, k + 1) + static_cast<std::size_t>(sample)] = dq * half_inverse;
    }
  }
  /// Samples i … i + count − 1 of `part` (variance or root) as a dual of lane groups; padded
  /// lanes hold 1 (a harmless variance), derivative 0.
  Dual<Lanes<double>, K> lanes(const std::vector<double>& part, Index slot, Index i,
                               Index count) const {
    Dual<Lanes<double>, K> r;
    r.v =
        load_lanes<double>(part.data() + offset(slot, 0) + static_cast<std::size_t>(i), count, 1.0);
    for (std::size_t k = 0; k < K; ++k) {
      r.d[k] = load_lanes<double>(part.data() + offset(slot, k + 1) + static_cast<std::size_t>(i),
                                  count, 0.0);
    }
    return r;
  }
  /// Sample j of `part` in every lane.
  Dual<Lanes<double>, K> splat(const std::vector<double>& part, Index slot, Index j) const {
    Dual<Lanes<double>, K> r;
    r.v = Lanes<double>::splat(part[offset(slot, 0) + static_cast<std::size_t>(j)]);
    for (std::size_t k = 0; k < K; ++k) {
      r.d[k] = Lanes<double>::splat(part[offset(slot, k + 1) + static_cast<std::size_t>(j)]);
    }
    return r;
  }
};

/// Walks one sample's variance and its derivatives through the network.
template <std::size_t K>
struct DualVarianceVisitor {
  using D = Dual<double, K>;
  const KernelPlan& plan;
  HyperparameterSeeds seeds;
  DualFeatureTrace<K>& trace;
  Index sample;

  template <class In, bool InFull, bool OutFull, class L, class P>
  void leaf(const L& layer, P&, D& q, Index slot, const LayerSite& site) {
    trace.record(slot, sample, q);
    q = seeded_variance(layer, seeds, slot, q);
    if constexpr (Activation<L>) require_finite_variance(site, q.v, sample);
  }
  template <std::size_t N>
  std::array<D, N> fork(const D& q) {
    return copies_of<N>(q);
  }
  void to_diagonal(D&) {}
  template <class In, class Outs, bool OutFull, class F, std::size_t N>
  void fan_in(const F& f, D& q, std::array<D, N>& others, Index slot, const LayerSite&) {
    D unused;
    combine<false>(f, plan.fan_in[static_cast<std::size_t>(slot)], q, unused, others, [&](D& v) {
      return std::pair<D&, D&>{v, unused};
    });
  }
};

template <std::size_t K, class Net>
DualFeatureTrace<K> dual_feature_trace(const Net& net, const KernelPlan& plan,
                                       const HyperparameterSeeds& seeds,
                                       const Eigen::Ref<const Matrix<double>>& x) {
  const Index n = x.rows();
  DualFeatureTrace<K> trace;
  trace.samples = n;
  const std::size_t size =
      static_cast<std::size_t>(plan.slots()) * (K + 1) * static_cast<std::size_t>(n);
  trace.variance.assign(size, 0.0);
  trace.root.assign(size, 0.0);
  trace.input.resize(static_cast<std::size_t>(n));
  for (Index r = 0; r < n; ++r) {
    const double q = input_variance(x, r);
    trace.input[static_cast<std::size_t>(r)] = q;
    Dual<double, K> dq(q);
    DualVarianceVisitor<K> visitor{plan, seeds, trace, r};
    Cursor cursor;
    Unused params;
    fold<InputStage<Features>, false>(net, params, dq, cursor, visitor);
  }
  return trace;
}

/// Runs a packet of dual entries through the network (EntryVisitor's walk on duals).
template <bool WithNtk, std::size_t K>
struct DualEntryVisitor {
  using Value = Dual<Lanes<double>, K>;
  const KernelPlan& plan;
  HyperparameterSeeds seeds;
  const DualFeatureTrace<K>& trace1;
  const DualFeatureTrace<K>& trace2;
  const std::vector<double>& width;
  Index i = 0;
  Index j = 0;
  Index count = 0;
  LaneMask<double> same_sample{};
  bool maybe_equal = false;

  template <class In, bool InFull, bool OutFull, class L, class P>
  void leaf(const L& layer, P&, EntryState<Value>& state, Index slot, const LayerSite&) {
    const EntryContext<Value> pair{trace1.lanes(trace1.variance, slot, i, count),
                                   trace2.splat(trace2.variance, slot, j),
                                   trace1.lanes(trace1.root, slot, i, count),
                                   trace2.splat(trace2.root, slot, j),
                                   Value(width[static_cast<std::size_t>(slot)]),
                                   state.equal,
                                   same_sample,
                                   maybe_equal};
    propagate_dual_entry<WithNtk>(layer, seeds, slot, state.q, state.t, pair);
    if constexpr (tells_apart_equal<L, Value> || tells_apart_equal<L, double>) {
      state.equal = still_equal(layer, pair);
    }
  }
  template <std::size_t N>
  std::array<EntryState<Value>, N> fork(const EntryState<Value>& state) {
    return copies_of<N>(state);
  }
  void to_diagonal(EntryState<Value>&) {}
  template <class In, class Outs, bool OutFull, class F, std::size_t N>
  void fan_in(const F& f, EntryState<Value>& state, std::array<EntryState<Value>, N>& others,
              Index slot, const LayerSite&) {
    combine_entries<WithNtk>(f, plan.fan_in[static_cast<std::size_t>(slot)], state, others);
  }
};

/// The kernels (`nngp`, `ntk`; either may be null) and their derivatives (`d_nngp`, `d_ntk`: one
/// matrix per hyperparameter of `map`, already sized N1×N2) of `net` between the rows of x1 and
/// x2 (x1 with itself when x2 is null: one triangle of tiles, mirrored).
template <bool WithNtk, class Net>
void feature_kernel_derivatives(std::string_view function, const Net& net, const KernelPlan& plan,
                                const HyperparameterMap& map,
                                const Eigen::Ref<const Matrix<double>>& x1,
                                const Eigen::Ref<const Matrix<double>>* x2,
                                Matrix<double>* nngp_out, Matrix<double>* ntk_out,
                                std::vector<Matrix<double>>& d_nngp,
                                std::vector<Matrix<double>>& d_ntk) {
  constexpr std::size_t K = kTangentsPerPass;
  constexpr int per_pass = static_cast<int>(K);
  using Value = Dual<Lanes<double>, K>;
  const bool same_input = x2 == nullptr;
  const Eigen::Ref<const Matrix<double>>& y = same_input ? x1 : *x2;
  const Index n1 = x1.rows();
  const Index n2 = y.rows();
  const double inv_d = 1.0 / static_cast<double>(x1.cols());
  const int count = static_cast<int>(map.list.size());
  const int passes = std::max(1, (count + per_pass - 1) / per_pass);
  std::vector<double> width(plan.in.size());
  for (std::size_t k = 0; k < width.size(); ++k)
    width[k] = static_cast<double>(plan.in[k].channels);
  const RowLabels labels = label_rows(x1, x2);
  const std::vector<Index>& label1 = labels.first;
  const std::vector<Index>& label2 = same_input ? labels.first : labels.second;
  const Index side = tile_side(n1, n2);
  const std::vector<std::pair<Index, Index>> tiles = tile_origins(n1, n2, side, same_input);
  const Index tile_count = static_cast<Index>(tiles.size());
  const Matrix<double> yt = y.transpose();

  for (int pass = 0; pass < passes; ++pass) {
    const int first = pass * per_pass;
    const int tangents_in_pass = std::min(per_pass, count - first);
    const HyperparameterSeeds seeds{&map, first};
    const DualFeatureTrace<K> trace1 = dual_feature_trace<K>(net, plan, seeds, x1);
    const DualFeatureTrace<K> trace2_storage =
        same_input ? DualFeatureTrace<K>{} : dual_feature_trace<K>(net, plan, seeds, y);
    const DualFeatureTrace<K>& trace2 = same_input ? trace1 : trace2_storage;
    // The values once, in the first pass.
    Matrix<double>* const value_out[2] = {pass == 0 ? nngp_out : nullptr,
                                          pass == 0 && WithNtk ? ntk_out : nullptr};
    LoopErrors errors;
    TANGENT_OMP(parallel) {
      Matrix<double> input;
      // parts[0], parts[1]: NNGP and NTK values; parts[2 + 2k], parts[3 + 2k]: their derivatives.
      std::vector<Matrix<double>> parts(static_cast<std::size_t>(2 + 2 * K));
      DualEntryVisitor<WithNtk, K> visitor{plan, seeds, trace1, trace2, width};
      TANGENT_OMP(for schedule(dynamic))
      for (Index k = 0; k < tile_count; ++k) {
        errors.run(k, [&] {
          const auto [r0, c0] = tiles[static_cast<std::size_t>(k)];
          const Index h = std::min(side, n1 - r0);
          const Index w = std::min(side, n2 - c0);
          input.resize(h, w);
          input.noalias() = x1.middleRows(r0, h) * yt.middleCols(c0, w);
          for (Matrix<double>& m : parts) m.resize(h, w);
          sweep_tile(net, visitor, input, r0, c0, inv_d, label1, label2, same_input,
                     [&](const EntryState<Value>& state, Index r, Index c, Index lanes) {
                       store_lanes<double>(state.q.v, &parts[0](r, c), lanes);
                       store_lanes<double>(state.t.v, &parts[1](r, c), lanes);
                       for (int p = 0; p < tangents_in_pass; ++p) {
                         const auto part = static_cast<std::size_t>(p);
                         store_lanes<double>(state.q.d[part], &parts[2 + 2 * part](r, c), lanes);
                         store_lanes<double>(state.t.d[part], &parts[3 + 2 * part](r, c), lanes);
                       }
                     });
          for (int p = 0; p < 2 + 2 * tangents_in_pass; ++p) {
            if (!parts[static_cast<std::size_t>(p)].allFinite()) {
              if (p < 2) fail(function, out_of_range_message<double>());
              const int at = first + (p - 2) / 2;
              fail_derivative(function, map.list[static_cast<std::size_t>(at)],
                              p % 2 == 0 ? "NNGP" : "NTK");
            }
          }
          for (int p = 0; p < 2; ++p) {
            if (value_out[p] != nullptr) {
              write_tile(parts[static_cast<std::size_t>(p)], *value_out[p], r0, c0, same_input);
            }
          }
          for (int p = 0; p < tangents_in_pass; ++p) {
            const auto part = static_cast<std::size_t>(p);
            const int index = first + p;
            const auto at = static_cast<std::size_t>(index);
            write_tile(parts[2 + 2 * part], d_nngp[at], r0, c0, same_input);
            if constexpr (WithNtk) write_tile(parts[3 + 2 * part], d_ntk[at], r0, c0, same_input);
          }
        });
      }
    }
    errors.rethrow();
  }
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace tangent::detail
