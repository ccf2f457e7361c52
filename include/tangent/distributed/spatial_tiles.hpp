#pragma once
/// @file
/// `SpatialTiles`: the kernels of a network on images or sequences in tiles, for
/// `distributed::kernels` (the interface of the feature sweep's FeatureTiles). Every entry is one
/// pair's run through the network (kernels/spatial_sweep.hpp), whose bits do not depend on which
/// tile or process computes it, so the distributed matrices equal `tangent::kernels` bit for bit.
/// The tiles are smaller than the feature sweep's (spatial_tile_side): an entry's bits do not
/// depend on them, and the upper triangle of a same-input kernel spreads evenly over the
/// processes only in many blocks.

#include <algorithm>
#include <optional>
#include <string_view>

#include "tangent/core/config.hpp"
#include "tangent/core/loop_errors.hpp"
#include "tangent/core/spatial_input.hpp"
#include "tangent/kernels/plan.hpp"
#include "tangent/kernels/spatial_sweep.hpp"

namespace tangent::distributed::detail {
// Pairs run on OpenMP threads: named after the build's mode (config.hpp).
inline namespace TANGENT_PARALLEL_ABI {

using tangent::detail::KernelPlan;
using tangent::detail::SpatialPairs;

/// The block side of spatial kernels: about an eighth of the larger side, a multiple of 8 from 16
/// to 64. Four blocks a side (the feature sweep's tiles below N = 1,024) leave a 1 × 2 grid's
/// second process column 5 of the 8 tiles' work of an upper triangle; eight leave it 18 of 32.
/// Blocks of 64 keep ScaLAPACK's factorisations of large kernels efficient.
inline Index spatial_tile_side(Index n1, Index n2) {
  const Index eighth = (std::max(n1, n2) + 7) / 8;
  return std::clamp<Index>((eighth + 7) / 8 * 8, 16, 64);
}

/// The spatial sweep in tiles, for the distributed kernels (FeatureTiles' interface): the h × w
/// tile at (r0, c0) computed pair by pair, each entry bitwise the single-process one. For one
/// input only the pairs on and above the diagonal are computed; the caller mirrors a diagonal
/// tile (mirror_diagonal_tile), as for features.
template <bool WithNtk, class S, int D, class Net>
class SpatialTiles {
 public:
  SpatialTiles(std::string_view function, const Net& net, const KernelPlan& plan,
               const SpatialInput<S, D>& x1, const SpatialInput<S, D>* x2)
      : pairs_(function, net, plan, x1, x2),
        side_(spatial_tile_side(pairs_.rows(), pairs_.cols())) {}

  Index rows() const { return pairs_.rows(); }
  Index cols() const { return pairs_.cols(); }
  bool same_input() const { return pairs_.same_input(); }
  Index side() const { return side_; }

  /// Pairs cost up to milliseconds each and a tile may be the only one in the job: the tile's
  /// pairs are shared by this process's threads, kSpatialPairsPerChunk at a time, as on one
  /// process, and the tiles are taken one after another (`parallel_within_tile`).
  static constexpr bool parallel_within_tile = true;

  void compute(Index r0, Index c0, Index h, Index w, Matrix<S>& q, Matrix<S>& t) const {
    q.setZero(h, w);
    if constexpr (WithNtk) t.setZero(h, w);
    const Index pairs = h * w;
    tangent::detail::LoopErrors errors;
    TANGENT_OMP(parallel) {
      std::optional<typename SpatialPairs<WithNtk, S, D, Net>::Workspace> work;
      errors.run(tangent::detail::LoopErrors::kSetup, [&] { work.emplace(pairs_.workspace()); });
      TANGENT_OMP(for schedule(dynamic, tangent::detail::kSpatialPairsPerChunk))
      for (Index k = 0; k < pairs; ++k) {
        const Index r = k % h;
        const Index c = k / h;
        // One input: the pairs on and above the diagonal, as on one process.
        if (same_input() && r0 + r > c0 + c) continue;
        errors.run(k, [&] {
          pairs_.entry(r0 + r, c0 + c, *work);
          q(r, c) = work->state.q;
          if constexpr (WithNtk) t(r, c) = work->state.t;
        });
      }
    }
    errors.rethrow();
  }

 private:
  SpatialPairs<WithNtk, S, D, Net> pairs_;
  Index side_;
};

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace tangent::distributed::detail
