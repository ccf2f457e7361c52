#pragma once
/// @file
/// Average and sum pooling over windows, and over the whole spatial extent.

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/params.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/spatial_block.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/layers/patches.hpp"
#include "tangent/layers/window.hpp"

namespace tangent {
namespace detail {

/// A window pooling's kernel rule on a pair's full block: each position of the pair summed over
/// its own window, times `scale` (1/|w|² for the average, 1 for the sum). When the layers after
/// it read only same-position entries (`OutFull` false), only the window of each output position
/// is summed (`pool_diagonal`), not the full pooled block.
template <bool OutFull, bool WithNtk, class S>
void pool_block(PairBlock<S>& block, S scale) {
  const WindowPlan& plan = *block.window;
  const auto pool = [&](std::vector<S>& values) {
    if constexpr (OutFull) {
      pool_passes(plan, values, block.scratch);
    } else {
      pool_diagonal(plan, values, block.spare);
      values.swap(block.spare);
    }
    if (scale != S(1)) {
      for (S& v : values) v *= scale;
    }
  };
  pool(block.nngp);
  if constexpr (WithNtk) pool(block.ntk);
  block.geometry = plan.out();
}

/// z[a] = scale·Σ_d x[s·a + d] per channel, padding counting as zeros; and its adjoint.
inline void pool_forward(const FiniteShapes& shapes, const Matrix<double>& x, Matrix<double>& z,
                         double scale) {
  const Index channels = shapes.in.channels;
  const Index positions = shapes.out.positions();
  z.setZero(x.rows(), positions * channels);
  for (Index a = 0; a < positions; ++a) {
    for (Index d = 0; d < shapes.window; ++d) {
      const Index source = shapes.patches[static_cast<std::size_t>(a * shapes.window + d)];
      if (source < 0) continue;
      z.middleCols(a * channels, channels) += scale * x.middleCols(source * channels, channels);
    }
  }
}
inline void pool_backward(const FiniteShapes& shapes, const Matrix<double>& x,
                          const Matrix<double>& dz, Matrix<double>* dx, double scale) {
  if (dx == nullptr) return;
  const Index channels = shapes.in.channels;
  const Index positions = shapes.out.positions();
  dx->setZero(x.rows(), x.cols());
  for (Index a = 0; a < positions; ++a) {
    for (Index d = 0; d < shapes.window; ++d) {
      const Index source = shapes.patches[static_cast<std::size_t>(a * shapes.window + d)];
      if (source < 0) continue;
      dx->middleCols(source * channels, channels) += scale * dz.middleCols(a * channels, channels);
    }
  }
}

/// Global pooling's rule: Σ over all pairs of positions (a full block) / `divisor` (P² for the
/// average, 1 for the sum).
template <class S>
S global_pool(const std::vector<S>& values, S divisor) {
  S sum = 0;
  for (S v : values) sum += v;
  return sum / divisor;
}

/// z = Σ_p x[p] / divisor per channel; and its adjoint.
inline void global_pool_forward(const FiniteShapes& shapes, const Matrix<double>& x,
                                Matrix<double>& z, double divisor) {
  const Index channels = shapes.in.channels;
  const Index positions = shapes.in.positions();
  z.setZero(x.rows(), channels);
  for (Index p = 0; p < positions; ++p) z += x.middleCols(p * channels, channels);
  z /= divisor;
}
inline void global_pool_backward(const FiniteShapes& shapes, const Matrix<double>& x,
                                 const Matrix<double>& dz, Matrix<double>* dx, double divisor) {
  if (dx == nullptr) return;
  const Index channels = shapes.in.channels;
  const Index positions = shapes.in.positions();
  dx->resize(x.rows(), x.cols());
  for (Index p = 0; p < positions; ++p) dx->middleCols(p * channels, channels) = dz / divisor;
}

template <class In, bool Global>
struct pool_stage {
  static constexpr bool ok = is_spatial<typename In::kind>::value;
  static_assert(ok,
                "TANGENT: POOLING NEEDS IMAGES OR SEQUENCES but receives feature vectors: pool "
                "before Flatten or GlobalAvgPool, or remove the pooling layer.");
  using spatial_stage = std::conditional_t<Global, Stage<Features, In::gaussian>, In>;
  using type = std::conditional_t<ok, spatial_stage, InvalidStage>;
};

}  // namespace detail

/// Whether a pooling layer averages or sums (the parameter of WindowPool and GlobalPool).
enum class Pooling { average, sum };

/// Pooling over windows of `window` positions moved by `strides`: the average (`AvgPool`, the
/// pooling of the CNN-GP and CNTK, Novak et al. 2019, Arora et al. 2019) or the sum (`SumPool`)
/// per channel, z[a] = c·Σ_{d in window} x[s·a + d] with c = 1/|w| or 1; with `same` padding
/// the zero-padded positions count in the average (neural-tangents' default
/// `normalize_edges=False`).
///
/// Kernel rule: each position of a pair is pooled over its own window, independently,
/// Σ'[a, b] = c²·Σ_{d, e} Σ̄[s·a + d, s·b + e], and the same for Θ. It reads pairs of different
/// positions, so the layers before it keep the full spatial block. Defaults as neural-tangents:
/// strides 1, `valid` padding.
template <Pooling Kind>
struct WindowPool {
  Extent window{};   ///< window size per spatial dimension ({} = 1)
  Extent strides{};  ///< stride per spatial dimension ({} = 1, not the window)
  Padding padding = Padding::valid;

  static constexpr std::string_view name = Kind == Pooling::average ? "AvgPool" : "SumPool";
  static constexpr bool needs_full_spatial = true;

  template <class In>
  using output_stage = typename detail::pool_stage<In, false>::type;

  void validate(const LayerSite& site) const {
    detail::require_positive_extent(site, "window", window);
    detail::require_positive_extent(site, "strides", strides);
  }

  /// The passes of this layer on inputs of shape `in`; throws, naming the layer and the shapes,
  /// when the window does not fit.
  detail::WindowPlan window_plan(const Geometry& in, const LayerSite& site) const {
    return detail::plan_window(site, "window", window, strides, padding, in);
  }
  Geometry output_geometry(const Geometry& in, const LayerSite& site) const {
    return shape_plan(in, site).out();
  }

  template <bool InFull, bool OutFull, bool WithNtk, class S>
  void propagate_block(detail::PairBlock<S>& block) const {
    static_assert(InFull, "pooling reads pairs of different positions: it needs the full block");
    const S size = static_cast<S>(block.window->window_size());
    detail::pool_block<OutFull, WithNtk>(block,
                                         Kind == Pooling::average ? S(1) / (size * size) : S(1));
  }

  // Finite network.
  using params_type = NoParams;

  detail::FiniteShapes finite_shapes(const Geometry& in, const LayerSite& site) const {
    return detail::window_shapes(shape_plan(in, site));
  }
  template <class URBG>
  NoParams init_params(URBG&, const detail::FiniteShapes&) const {
    return {};
  }
  void check_params(const NoParams&, const detail::FiniteShapes&, const LayerSite&) const {}
  void forward(const NoParams&, const detail::FiniteShapes& shapes, const Matrix<double>& x,
               Matrix<double>& z) const {
    detail::pool_forward(shapes, x, z, scale(shapes));
  }
  void backward(const NoParams&, const detail::FiniteShapes& shapes, const Matrix<double>& x,
                const Matrix<double>& dz, Matrix<double>* dx, NoParams*) const {
    detail::pool_backward(shapes, x, dz, dx, scale(shapes));
  }

  bool operator==(const WindowPool&) const = default;

 private:
  /// The axis maps and shapes of this layer on inputs of shape `in`, without the passes.
  detail::WindowPlan shape_plan(const Geometry& in, const LayerSite& site) const {
    return detail::plan_window_shape(site, "window", window, strides, padding, in);
  }
  static double scale(const detail::FiniteShapes& shapes) {
    return Kind == Pooling::average ? 1.0 / static_cast<double>(shapes.window) : 1.0;
  }
};

/// Average pooling over windows (see WindowPool).
using AvgPool = WindowPool<Pooling::average>;
/// Sum pooling over windows, neural-tangents' `stax.SumPool` (see WindowPool).
using SumPool = WindowPool<Pooling::sum>;

/// The average (`GlobalAvgPool`: z = (1/P)·Σ_p x[p] per channel, the global average pooling
/// readout of Novak et al. 2019 and the CNTK-GAP of Arora et al. 2019) or the sum
/// (`GlobalSumPool`) over every position, giving feature vectors of the channels.
///
/// Kernel rule: Σ' = c²·Σ_{a, b} Σ[a, b] over all pairs of positions (c = 1/P or 1), and the
/// same for Θ; it needs the full spatial block (the O(P²) cost per pair of samples that makes
/// pooling networks expensive). Its output stays Gaussian when its input is.
template <Pooling Kind>
struct GlobalPool {
  static constexpr std::string_view name =
      Kind == Pooling::average ? "GlobalAvgPool" : "GlobalSumPool";
  static constexpr bool needs_full_spatial = true;
  static constexpr bool reduces_spatial = true;

  template <class In>
  using output_stage = typename detail::pool_stage<In, true>::type;

  void validate(const LayerSite&) const {}
  Geometry output_geometry(const Geometry& in, const LayerSite&) const {
    Geometry out = in;
    out.extent = {1, 1};
    return out;
  }

  template <bool Full, bool WithNtk, class S>
  void reduce_block(detail::PairBlock<S>& block, S& q, S& t) const {
    static_assert(Full, "global pooling reads pairs of different positions");
    const S divisor = Kind == Pooling::average ? static_cast<S>(block.nngp.size()) : S(1);
    q = detail::global_pool(block.nngp, divisor);
    if constexpr (WithNtk) t = detail::global_pool(block.ntk, divisor);
  }

  // Finite network.
  using params_type = NoParams;

  detail::FiniteShapes finite_shapes(const Geometry& in, const LayerSite&) const {
    return {in, features_shape(in.channels), {}, 1};
  }
  template <class URBG>
  NoParams init_params(URBG&, const detail::FiniteShapes&) const {
    return {};
  }
  void check_params(const NoParams&, const detail::FiniteShapes&, const LayerSite&) const {}
  void forward(const NoParams&, const detail::FiniteShapes& shapes, const Matrix<double>& x,
               Matrix<double>& z) const {
    detail::global_pool_forward(shapes, x, z, divisor(shapes));
  }
  void backward(const NoParams&, const detail::FiniteShapes& shapes, const Matrix<double>& x,
                const Matrix<double>& dz, Matrix<double>* dx, NoParams*) const {
    detail::global_pool_backward(shapes, x, dz, dx, divisor(shapes));
  }

  bool operator==(const GlobalPool&) const = default;

 private:
  static double divisor(const detail::FiniteShapes& shapes) {
    return Kind == Pooling::average ? static_cast<double>(shapes.in.positions()) : 1.0;
  }
};

/// Average over every position (see GlobalPool).
using GlobalAvgPool = GlobalPool<Pooling::average>;
/// Sum over every position, neural-tangents' `stax.GlobalSumPool` (see GlobalPool).
using GlobalSumPool = GlobalPool<Pooling::sum>;

}  // namespace tangent
