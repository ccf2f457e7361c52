#pragma once
/// @file
/// Window layers of finite networks (Conv, AvgPool): the map from (output position, window
/// offset) to input position, and gathering and scattering patches of samples stored one per row
/// in NHWC order.

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

/// The patches of samples [first, first + count) of x: row (i·P_out + a), column (d·C + c) holds
/// channel c of the input position output a reads at offset d (0 in padding).
inline void gather_patches(const Matrix<double>& x, Index first, Index count,
                           const FiniteShapes& shapes, Matrix<double>& patches) {
  const Index positions = shapes.out.positions();
  const Index channels = shapes.in.channels;
  patches.resize(count * positions, shapes.window * channels);
  for (Index d = 0; d < shapes.window; ++d) {
    for (Index c = 0; c < channels; ++c) {
      const Index column = d * channels + c;
      for (Index i = 0; i < count; ++i) {
        for (Index a = 0; a < positions; ++a) {
          const Index source = shapes.patches[static_cast<std::size_t>(a * shapes.window + d)];
          patches(i * positions + a, column) =
              source < 0 ? 0.0 : x(first + i, source * channels + c);
        }
      }
    }
  }
}

/// The adjoint of gather_patches: adds each patch entry back to the input it was read from.
inline void scatter_patches(const Matrix<double>& patches, Index first, Index count,
                            const FiniteShapes& shapes, Matrix<double>& dx) {
  const Index positions = shapes.out.positions();
  const Index channels = shapes.in.channels;
  for (Index d = 0; d < shapes.window; ++d) {
    for (Index c = 0; c < channels; ++c) {
      const Index column = d * channels + c;
      for (Index i = 0; i < count; ++i) {
        for (Index a = 0; a < positions; ++a) {
          const Index source = shapes.patches[static_cast<std::size_t>(a * shapes.window + d)];
          if (source >= 0)
            dx(first + i, source * channels + c) += patches(i * positions + a, column);
        }
      }
    }
  }
}

/// Samples per block in window layers of finite networks: their patch matrices (block ×
/// positions × window × channels) stay bounded whatever N is.
inline Index patch_block(const FiniteShapes& shapes) {
  const Index per_sample = shapes.out.positions() * shapes.window * shapes.in.channels;
  return std::max<Index>(1, (Index{1} << 21) / std::max<Index>(per_sample, 1));
}

}  // namespace tangent::detail
