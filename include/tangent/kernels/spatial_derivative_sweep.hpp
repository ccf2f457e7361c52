#pragma once
/// @file
/// The kernels of a network on images or sequences together with their derivatives with respect
/// to its hyperparameters: the spatial sweep (kernels/spatial_sweep.hpp) on dual numbers
/// Dual<double, K>, whose derivative parts are seeded at the hyperparameters of a pass
/// (kernels/hyperparameter_map.hpp). Every entry of every block carries its K derivatives
/// through the window passes, activations and readouts; a network with more than K
/// hyperparameters takes several passes over the pairs, each recomputing the values.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string_view>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/dual.hpp"
#include "tangent/core/gram.hpp"
#include "tangent/core/loop_errors.hpp"
#include "tangent/core/spatial_input.hpp"
#include "tangent/kernels/hyperparameter_map.hpp"
#include "tangent/kernels/plan.hpp"
#include "tangent/kernels/spatial_sweep.hpp"

namespace tangent::detail {
inline namespace TANGENT_PARALLEL_ABI {

/// The width of the pass that takes the next of `rest` hyperparameters: 8 (kTangentsPerPass), or
/// for the last the narrowest of 1, 2, 4 or 8 that holds them, since every entry of a block carries
/// width + 1 numbers through the window passes (9 hyperparameters: passes of 8 and 1, not two
/// of 8). The widest pass is the first.
constexpr std::size_t derivative_pass_width(int rest) {
  static_assert(kTangentsPerPass == 8, "the widths below are 8, 4, 2 and 1");
  return rest > 4 ? 8 : rest > 2 ? 4 : rest > 1 ? 2 : 1;
}

/// One pass over the pairs of `net`: the hyperparameters first … first + tangents − 1 of `map`
/// as the K tangents of Dual<double, K> (tangents ≤ K), their derivatives written to d_nngp and
/// d_ntk (pairs i ≤ j when x2 is null), and the kernels to nngp_out and ntk_out where not null.
template <bool WithNtk, std::size_t K, int D, class Net>
void spatial_derivative_pass(std::string_view function, const Net& net, const KernelPlan& plan,
                             const HyperparameterMap& map, int first, int tangents,
                             const SpatialInput<double, D>& x1, const SpatialInput<double, D>* x2,
                             Matrix<double>* nngp_out, Matrix<double>* ntk_out,
                             std::vector<Matrix<double>>& d_nngp,
                             std::vector<Matrix<double>>& d_ntk) {
  using S = Dual<double, K>;
  const SpatialPairs<WithNtk, S, D, Net> sweep(function, net, plan, x1, x2,
                                               HyperparameterSeeds{&map, first});
  LoopErrors errors;
  for_each_pair(
      sweep, errors, [] { return false; },
      [&](Index i, Index j, const auto& work) {
        const S& q = work.state.q;
        const S& t = work.state.t;
        for (int p = 0; p < tangents; ++p) {
          const auto part = static_cast<std::size_t>(p);
          const int index = first + p;
          const auto at = static_cast<std::size_t>(index);
          if (!std::isfinite(q.d[part])) fail_derivative(function, map.list[at], "NNGP");
          if (WithNtk && !std::isfinite(t.d[part])) fail_derivative(function, map.list[at], "NTK");
          d_nngp[at](i, j) = q.d[part];
          if constexpr (WithNtk) d_ntk[at](i, j) = t.d[part];
        }
        if (nngp_out != nullptr) (*nngp_out)(i, j) = q.v;
        if constexpr (WithNtk) {
          if (ntk_out != nullptr) (*ntk_out)(i, j) = t.v;
        }
      });
  errors.rethrow();
}

/// The kernels (`nngp`, `ntk`; either may be null) and their derivatives (`d_nngp`, `d_ntk`: one
/// matrix per hyperparameter of `map`, already sized N1×N2) of `net` between the samples of x1
/// and x2 (x1 with itself when x2 is null: pairs i ≤ j, mirrored), in passes of
/// `derivative_pass_width` tangents.
template <bool WithNtk, int D, class Net>
void spatial_kernel_derivatives(std::string_view function, const Net& net, const KernelPlan& plan,
                                const HyperparameterMap& map, const SpatialInput<double, D>& x1,
                                const SpatialInput<double, D>* x2, Matrix<double>* nngp_out,
                                Matrix<double>* ntk_out, std::vector<Matrix<double>>& d_nngp,
                                std::vector<Matrix<double>>& d_ntk) {
  const int count = static_cast<int>(map.list.size());
  int first = 0;
  do {
    const std::size_t width = derivative_pass_width(count - first);
    const int tangents = std::min(count - first, static_cast<int>(width));
    // The values once, in the first pass.
    Matrix<double>* const nngp = first == 0 ? nngp_out : nullptr;
    Matrix<double>* const ntk = first == 0 ? ntk_out : nullptr;
    const auto pass = [&]<std::size_t K>() {
      spatial_derivative_pass<WithNtk, K>(function, net, plan, map, first, tangents, x1, x2, nngp,
                                          ntk, d_nngp, d_ntk);
    };
    if (width == 8) {
      pass.template operator()<8>();
    } else if (width == 4) {
      pass.template operator()<4>();
    } else if (width == 2) {
      pass.template operator()<2>();
    } else {
      pass.template operator()<1>();
    }
    first += tangents;
  } while (first < count);

  if (x2 == nullptr) {
    for (Matrix<double>* out : {nngp_out, ntk_out}) {
      if (out != nullptr) mirror_triangle(*out, true);
    }
    for (Matrix<double>& m : d_nngp) mirror_triangle(m, true);
    for (Matrix<double>& m : d_ntk) mirror_triangle(m, true);
  }
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace tangent::detail
