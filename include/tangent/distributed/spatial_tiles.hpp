#pragma once
/// @file
/// `SpatialTiles`: the kernels of a network on images or sequences in tiles, for
/// `distributed::kernels` (the interface of the feature sweep's FeatureTiles). Every entry is one
/// pair's run through the network (kernels/spatial_sweep.hpp), whose bits do not depend on which
/// tile or process computes it, so the distributed matrices equal `tangent::kernels` bit for bit.
/// The tiles are the feature sweep's (tile_side), so kernels of one size share one block size
/// whatever the input.

#include <string_view>

#include "tangent/core/config.hpp"
#include "tangent/core/spatial_input.hpp"
#include "tangent/kernels/feature_sweep.hpp"
#include "tangent/kernels/plan.hpp"
#include "tangent/kernels/spatial_sweep.hpp"

namespace tangent::distributed::detail {
// Pairs run on OpenMP threads: named after the build's mode (config.hpp).
inline namespace TANGENT_PARALLEL_ABI {

using tangent::detail::KernelPlan;
using tangent::detail::SpatialPairs;
using tangent::detail::tile_side;

/// The spatial sweep in tiles, for the distributed kernels (FeatureTiles' interface): the h × w
/// tile at (r0, c0) computed pair by pair, each entry bitwise the single-process one. For one
/// input only the pairs on and above the diagonal are computed; the caller mirrors a diagonal
/// tile (mirror_diagonal_tile), as for features.
template <bool WithNtk, class S, int D, class Net>
class SpatialTiles {
 public:
  SpatialTiles(std::string_view function, const Net& net, const KernelPlan& plan,
               const SpatialInput<S, D>& x1, const SpatialInput<S, D>* x2)
      : pairs_(function, net, plan, x1, x2), side_(tile_side(pairs_.rows(), pairs_.cols())) {}

  Index rows() const { return pairs_.rows(); }
  Index cols() const { return pairs_.cols(); }
  bool same_input() const { return pairs_.same_input(); }
  Index side() const { return side_; }

  void compute(Index r0, Index c0, Index h, Index w, Matrix<S>& q, Matrix<S>& t) const {
    q.setZero(h, w);
    if constexpr (WithNtk) t.setZero(h, w);
    auto work = pairs_.workspace();
    for (Index c = 0; c < w; ++c) {
      for (Index r = 0; r < h; ++r) {
        if (same_input() && r0 + r > c0 + c) continue;
        pairs_.entry(r0 + r, c0 + c, work);
        q(r, c) = work.state.q;
        if constexpr (WithNtk) t(r, c) = work.state.t;
      }
    }
  }

 private:
  SpatialPairs<WithNtk, S, D, Net> pairs_;
  Index side_;
};

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace tangent::distributed::detail
