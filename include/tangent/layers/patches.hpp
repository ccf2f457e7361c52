#pragma once
/// @file
/// Window layers of finite networks (Conv, AvgPool): the map from (output position, window
/// offset) to input position, and gathering and scattering patches of samples stored one per row
/// in NHWC order.

#include <algorithm>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/params.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/layers/window.hpp"

namespace tangent::detail {

/// Shapes of a window layer in a finite network: patches[a·window + d] is the input position
/// that output position a reads at the d-th offset of the (row-major) window, −1 in padding.
inline FiniteShapes window_shapes(const WindowPlan& plan) {
  FiniteShapes shapes{plan.in(), plan.out(), {}, plan.window_size()};
  const Index width_in = plan.in().extent[1];
  const AxisMap& m0 = plan.maps[0];
  const AxisMap& m1 = plan.maps[1];
  shapes.patches.resize(static_cast<std::size_t>(plan.out().positions() * shapes.window));
  std::size_t k = 0;
  for (Index a0 = 0; a0 < m0.out; ++a0) {
    for (Index a1 = 0; a1 < m1.out; ++a1) {
      for (Index d0 = 0; d0 < m0.window; ++d0) {
        for (Index d1 = 0; d1 < m1.window; ++d1) {
          const Index i0 = m0.source(a0, d0);
          const Index i1 = m1.source(a1, d1);
          shapes.patches[k++] = i0 < 0 || i1 < 0 ? -1 : i0 * width_in + i1;
        }
      }
    }
  }
  return shapes;
}

/// The patches of samples [first, first + count) of x: row (a·count + i), column (d·C + c) holds
/// channel c of sample first + i at the input position output a reads at offset d (0 in
/// padding). Rows are position-major so that both sides of every copy are contiguous runs of
/// `count` samples: x keeps one sample per row (a column of x is one position and channel).
/// `storage` holds them (see scratch_view).
inline Eigen::Map<Matrix<double>> gather_patches(const Matrix<double>& x, Index first, Index count,
                                                 const FiniteShapes& shapes,
                                                 Matrix<double>& storage) {
  const Index positions = shapes.out.positions();
  const Index channels = shapes.in.channels;
  Eigen::Map<Matrix<double>> patches =
      scratch_view(storage, count * positions, shapes.window * channels);
  for (Index d = 0; d < shapes.window; ++d) {
    for (Index a = 0; a < positions; ++a) {
      const Index source = shapes.patches[static_cast<std::size_t>(a * shapes.window + d)];
      for (Index c = 0; c < channels; ++c) {
        const Index column = d * channels + c;
        auto run = patches.col(column).segment(a * count, count);
        if (source < 0) {
          run.setZero();
        } else {
          run = x.col(source * channels + c).segment(first, count);
        }
      }
    }
  }
  return patches;
}

/// The adjoint of gather_patches: adds each patch entry back to the input it was read from, in
/// the same loop order (each input entry receives its terms in the order of (d, a)).
template <class Patches>
void scatter_patches(const Patches& patches, Index first, Index count, const FiniteShapes& shapes,
                     Matrix<double>& dx) {
  const Index positions = shapes.out.positions();
  const Index channels = shapes.in.channels;
  for (Index d = 0; d < shapes.window; ++d) {
    for (Index a = 0; a < positions; ++a) {
      const Index source = shapes.patches[static_cast<std::size_t>(a * shapes.window + d)];
      if (source < 0) continue;
      for (Index c = 0; c < channels; ++c) {
        const Index column = d * channels + c;
        dx.col(source * channels + c).segment(first, count) +=
            patches.col(column).segment(a * count, count);
      }
    }
  }
}

/// A block's rows per (position, sample), as a product of gather_patches' rows gives them, back
/// into samples' rows: z(first + i, a·C + c) = rows(a·count + i, c).
template <class Rows>
void store_position_rows(const Rows& rows, Index first, Index count, Index positions,
                         Matrix<double>& z) {
  const Index channels = rows.cols();
  for (Index a = 0; a < positions; ++a) {
    for (Index c = 0; c < channels; ++c) {
      z.col(a * channels + c).segment(first, count) = rows.col(c).segment(a * count, count);
    }
  }
}

/// The inverse of store_position_rows: rows(a·count + i, c) = z(first + i, a·C + c), C = channels,
/// on `storage` (see scratch_view).
inline Eigen::Map<Matrix<double>> load_position_rows(const Matrix<double>& z, Index first,
                                                     Index count, Index positions, Index channels,
                                                     Matrix<double>& storage) {
  Eigen::Map<Matrix<double>> rows = scratch_view(storage, count * positions, channels);
  for (Index a = 0; a < positions; ++a) {
    for (Index c = 0; c < channels; ++c) {
      rows.col(c).segment(a * count, count) = z.col(a * channels + c).segment(first, count);
    }
  }
  return rows;
}

/// Entries per sample of the larger of a window layer's patch rows (P_out·|w|·C_in) and its
/// output rows (P_out·C_out).
inline Index patch_row_entries(const FiniteShapes& shapes) {
  return shapes.out.positions() * std::max(shapes.window * shapes.in.channels, shapes.out.channels);
}

/// Samples per block in window layers of finite networks: their patch and output matrices stay
/// within 2²¹ entries (16 MB in double) whatever N is, unless one sample needs more.
inline Index patch_block(const FiniteShapes& shapes) {
  return std::max<Index>(1, (Index{1} << 21) / std::max<Index>(patch_row_entries(shapes), 1));
}

/// Entries of the largest matrix of a block: what each of a thread's work buffers may hold.
inline double patch_entries(const FiniteShapes& shapes) {
  return static_cast<double>(patch_block(shapes)) * static_cast<double>(patch_row_entries(shapes));
}

}  // namespace tangent::detail
