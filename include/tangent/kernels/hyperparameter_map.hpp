#pragma once
/// @file
/// Which hyperparameters a derivative sweep differentiates, and the kernel rules with a pass's
/// hyperparameters seeded as dual numbers (core/dual.hpp): what the feature sweep on duals
/// (kernels/derivative_sweep.hpp) and the spatial sweep on duals (kernels/spatial_sweep.hpp's
/// BlockVisitor, driven by kernels/spatial_derivative_sweep.hpp) share. A rule that takes its
/// hyperparameters as duals gives the kernels' derivatives with respect to them; every other rule
/// carries the derivatives of its inputs through.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tangent/combinators/leaf.hpp"
#include "tangent/combinators/node.hpp"
#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/dual.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/hyperparameters.hpp"
#include "tangent/core/moments.hpp"
#include "tangent/core/pair_context.hpp"
#include "tangent/core/simd_math.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/kernels/plan.hpp"

namespace tangent::detail {
inline namespace TANGENT_PARALLEL_ABI {

/// Hyperparameters differentiated per pass over the tiles: a dual of 8 lane groups and its
/// value fill 9 vector registers of 32.
inline constexpr std::size_t kTangentsPerPass = 8;

/// A network's hyperparameters in the order its layers run, and for every slot the index in that
/// list of each hyperparameter of the slot's layer (−1 for none: a Dense without a bias has no
/// b_std, and a hyperparameter not selected is held fixed). A layer met again (inside
/// repeat(...)) maps to its first visit's indices.
struct HyperparameterMap {
  std::vector<Hyperparameter> list;
  std::vector<std::vector<int>> index;
};

/// A walk that only visits the leaves (its state an unused int): branches and fan-ins do
/// nothing.
struct LeafOnlyWalk {
  template <std::size_t K>
  std::array<int, K> fork(int) {
    return {};
  }
  void to_diagonal(int&) {}
  template <class In, class Outs, bool OutFull, class F, std::size_t K>
  void fan_in(const F&, int&, std::array<int, K>&, Index, const LayerSite&) {}
};

/// Hyperparameter k of `layer`, met at `site`, as users see it.
template <HasHyperparameters L>
Hyperparameter describe_hyperparameter(const L& layer, std::size_t k, const LayerSite& site) {
  return {L::name, site.position, L::hyperparameter_names[k], layer.hyperparameter_values()[k],
          hyperparameter_log_scale<L>(k)};
}

struct HyperparameterVisitor : LeafOnlyWalk {
  HyperparameterMap& map;
  const HyperparameterFilter& which;
  std::vector<std::pair<const void*, std::vector<int>>> seen;

  HyperparameterVisitor(HyperparameterMap& m, const HyperparameterFilter& w) : map(m), which(w) {}

  template <class In, bool InFull, bool OutFull, class L, class P>
  void leaf(const L& layer, P&, int&, Index slot, const LayerSite& site) {
    if constexpr (HasHyperparameters<L>) {
      std::vector<int>& index = map.index[static_cast<std::size_t>(slot)];
      for (const auto& [address, known] : seen) {
        if (address == &layer) {
          index = known;
          return;
        }
      }
      for (std::size_t k = 0; k < hyperparameter_count<L>; ++k) {
        const Hyperparameter h = describe_hyperparameter(layer, k, site);
        if (has_hyperparameter(layer, k) && (!which || which(h))) {
          index.push_back(static_cast<int>(map.list.size()));
          map.list.push_back(h);
        } else {
          index.push_back(-1);
        }
      }
      seen.emplace_back(&layer, index);
    }
  }
};

/// The hyperparameters of `net`, on inputs of stage `In`, that `which` selects (all when it is
/// empty).
template <class In, class Net>
HyperparameterMap map_hyperparameters(const Net& net, const KernelPlan& plan,
                                      const HyperparameterFilter& which) {
  HyperparameterMap map;
  map.index.resize(static_cast<std::size_t>(plan.slots()));
  HyperparameterVisitor visitor(map, which);
  Cursor cursor;
  Unused params;
  int state = 0;
  fold<In, false>(net, params, state, cursor, visitor);
  return map;
}

/// The hyperparameters one pass of a derivative sweep differentiates: entries first … first +
/// K − 1 of `map`'s list, the k-th of them as tangent k of the pass's duals.
struct HyperparameterSeeds {
  const HyperparameterMap* map = nullptr;
  int first = 0;

  /// A layer's hyperparameters (the layer at `slot`) as duals of type D, seeded for the pass.
  template <class D, class L>
  auto of(const L& layer, Index slot) const {
    const std::vector<int>& index = map->index[static_cast<std::size_t>(slot)];
    const auto values = layer.hyperparameter_values();
    std::array<D, hyperparameter_count<L>> h;
    for (std::size_t k = 0; k < h.size(); ++k) {
      h[k] = D::variable(values[k], index[k] < 0 ? -1 : index[k] - first);
    }
    return h;
  }
};

/// An activation whose moments take the hyperparameters `h` (seeded duals) in place of its own
/// values: what `rooted_moments` and the block rule (layers/elementwise.hpp) then run.
template <class A, class H>
struct SeededActivation {
  static constexpr bool lanes = supports_lanes<A>;
  const A& activation;
  const H& h;

  template <class V>
  Moments<V> moments_rooted(const V& q11, const V& q12, const V& q22, const V& root11,
                            const V& root22) const {
    if constexpr (requires { activation.moments_with(h, q11, q12, q22, root11, root22); }) {
      return activation.moments_with(h, q11, q12, q22, root11, root22);
    } else {
      return activation.moments_with(h, q11, q12, q22);
    }
  }
};

/// A sample's variance through a layer (or activation) on duals, its hyperparameters seeded.
template <class L, class D>
D seeded_variance(const L& layer, const HyperparameterSeeds& seeds, Index slot, const D& q) {
  if constexpr (HasHyperparameters<L>) {
    return layer.variance_with(seeds.of<D>(layer, slot), q);
  } else {
    static_assert(supports_lanes<L>,
                  "TANGENT: kernel_derivatives NEEDS EVERY LAYER'S AND ACTIVATION'S RULE IN LANE "
                  "FORM (static "
                  "constexpr bool lanes = true, written with core/simd_math.hpp's functions), "
                  "which then also runs on dual numbers.");
    if constexpr (supports_lanes<L>) {
      return propagate_variance(layer, q);
    } else {
      return q;
    }
  }
}

/// Refuses a derivative (of the NNGP or NTK, `kernel`) that is not finite, naming its
/// hyperparameter.
[[noreturn]] inline void fail_derivative(std::string_view function, const Hyperparameter& bad,
                                         std::string_view kernel) {
  fail(function, "the derivative of the " + std::string(kernel) + " with respect to " +
                     std::string(bad.name) + " of " + std::string(bad.layer) + " (layer " +
                     std::to_string(bad.position) + ") = " + show(bad.value) +
                     " is not finite: the kernels overflow or are not differentiable there");
}

/// A layer's (or activation's) kernel rule on a dual entry (or packet of entries), its own
/// hyperparameters seeded.
template <bool WithNtk, class L, class D>
TANGENT_INLINE void propagate_dual_entry(const L& layer, const HyperparameterSeeds& seeds,
                                         Index slot, D& q, D& t, const EntryContext<D>& pair) {
  if constexpr (HasHyperparameters<L>) {
    const auto h = seeds.of<D>(layer, slot);
    if constexpr (Activation<L>) {
      const SeededActivation<L, decltype(h)> seeded{layer, h};
      apply_activation<WithNtk>(q, t, pair, [&](const D& q12) {
        return rooted_moments(seeded, pair.q11, q12, pair.q22, pair.root11, pair.root22);
      });
    } else {
      layer.template propagate_entry_with<WithNtk>(h, q, t, pair);
    }
  } else {
    static_assert(supports_lanes<L>,
                  "TANGENT: kernel_derivatives NEEDS EVERY LAYER'S AND ACTIVATION'S RULE IN LANE "
                  "FORM (static "
                  "constexpr bool lanes = true, written with core/simd_math.hpp's functions), "
                  "which then also runs on dual numbers.");
    if constexpr (supports_lanes<L>) propagate_entry<WithNtk>(layer, q, t, pair);
  }
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace tangent::detail
