#pragma once
/// @file
/// Layer normalisation (Ba et al. 2016) without learned scale and shift, as neural-tangents'
/// `stax.LayerNorm`.

#include <array>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/pair_context.hpp"
#include "tangent/core/params.hpp"
#include "tangent/core/simd_math.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/spatial_block.hpp"
#include "tangent/core/stage.hpp"

namespace tangent {

/// A set of axes of a batch of samples, numbered as neural-tangents numbers them: 0 the batch,
/// then the spatial axes (1 = height or a sequence's length, 2 = an image's width), and the
/// channels last, also reachable as −1: `{-1}`, `{1, 2, 3}` for images, `{1, 2}` for
/// sequences.
struct Axes {
  std::array<int, 4> values{-1, 0, 0, 0};
  int count = 1;

  constexpr Axes() = default;
  constexpr Axes(int axis) : values{axis, 0, 0, 0} {}  // NOLINT: `.axis = -1` reads naturally
  constexpr Axes(std::initializer_list<int> list) : count(static_cast<int>(list.size())) {
    std::size_t k = 0;
    for (int axis : list) {
      if (k < values.size()) values[k] = axis;
      ++k;
    }
  }
  bool operator==(const Axes&) const = default;
};

namespace detail {

template <class In>
struct layer_norm_stage {
  static_assert(In::gaussian,
                "TANGENT: LayerNorm NEEDS A GAUSSIAN INPUT, as neural-tangents does: put a Dense "
                "(or Conv) layer right before it.");
  using type = std::conditional_t<In::gaussian, In, InvalidStage>;
};

}  // namespace detail

/// z = (x − mean)/√(eps + var), mean and (biased) variance over `axis` (which must hold the
/// channels) for each sample and each position along the other axes.
///
/// Kernel rule (neural-tangents `stax.LayerNorm`; the mean subtraction vanishes at infinite
/// width): Σ'[i, j] = Σ[i, j]/√((eps + m_i)(eps + m_j)) and the same for Θ, with m_i the
/// variance of sample i at the entry's position, averaged over the normalised spatial axes.
/// The input must be Gaussian (right after Dense or Conv); the output stays Gaussian.
struct LayerNorm {
  Axes axis{};         ///< the axes normalised over: {-1} (channels) by default
  double eps = 1e-12;  ///< added to the variance, keeps a zero variance from dividing by zero

  static constexpr std::string_view name = "LayerNorm";
  static constexpr bool lanes = true;  ///< propagate_entry also takes lane groups

  template <class In>
  using output_stage = typename detail::layer_norm_stage<In>::type;

  void validate(const LayerSite& site) const {
    if (!(eps > 0) || !std::isfinite(eps)) {
      detail::fail_layer(site, "eps must be positive and finite, got " + detail::show(eps));
    }
    if (axis.count < 1 || axis.count > 4) {
      detail::fail_layer(site, "axis must name 1 to 4 axes, got " + std::to_string(axis.count));
    }
  }

  /// Throws unless the axes are valid for samples of `in`'s rank and include the channels.
  void check_input(const Geometry& in, const LayerSite& site) const {
    const int ndim = in.rank + 2;
    bool channels = false;
    for (int k = 0; k < axis.count; ++k) {
      const int given = axis.values[static_cast<std::size_t>(k)];
      if (given < -ndim || given >= ndim) {
        detail::fail_layer(site, "axis " + std::to_string(given) +
                                     " does not exist for samples with " + std::to_string(in.rank) +
                                     " spatial dimensions; use -1 (channels) and, to normalise "
                                     "over positions too, 1 up to " +
                                     std::to_string(in.rank));
      }
      const int a = given < 0 ? given + ndim : given;
      if (a == 0) {
        detail::fail_layer(site,
                           "axis 0 is the batch axis, which LayerNorm does not normalise; remove "
                           "it from .axis");
      }
      channels = channels || a == ndim - 1;
    }
    if (!channels) {
      detail::fail_layer(site,
                         "axis must include the channel axis (-1): an infinitely wide layer "
                         "converges to a kernel only when normalised over its channels");
    }
  }

  // On feature vectors.
  Index output_width(Index width) const { return width; }
  template <class S>
  S variance(S q) const {
    return q / (static_cast<S>(eps) + q);
  }
  /// `S` is a scalar or a group of lanes (core/simd_math.hpp). √(eps + q11)·√(eps + q22) rather
  /// than the root of the product, which cannot overflow; eps + q when the variances are equal,
  /// which is what the root of the product gives there, so a sample with itself gets variance().
  template <bool WithNtk, class S>
  void propagate_entry(S& q, S& t, const EntryContext<S>& pair) const {
    using E = detail::scalar_t<S>;
    const E e = static_cast<E>(eps);
    const S scale =
        detail::select(pair.q11 == pair.q22, S(e + pair.q11),
                       S(detail::sqrt_v(S(e + pair.q11)) * detail::sqrt_v(S(e + pair.q22))));
    q = q / scale;
    if constexpr (WithNtk) t = t / scale;
  }

  // On spatial data.
  Geometry output_geometry(const Geometry& in, const LayerSite&) const { return in; }
  template <bool InFull, bool OutFull, bool WithNtk, class S>
  void propagate_block(detail::PairBlock<S>& block) const {
    static_assert(InFull == OutFull, "LayerNorm keeps the kind of its block");
    const Geometry& g = block.geometry;
    const Index positions = g.positions();
    // √(eps + m) for each position of both samples, m averaged over the normalised axes.
    const std::array<bool, 2> spatial = normalised_positions(g.rank);
    block.spare.resize(static_cast<std::size_t>(2 * positions));
    S* root1 = block.spare.data();
    S* root2 = root1 + positions;
    normalised_means(g, spatial, block.var1, root1);
    normalised_means(g, spatial, block.var2, root2);
    using std::sqrt;  // and core/dual.hpp's on the dual numbers of kernel_derivatives
    for (Index p = 0; p < 2 * positions; ++p) root1[p] = sqrt(static_cast<S>(eps) + root1[p]);
    const auto scale = [&](std::size_t e, Index p1, Index p2) {
      const S s = root1[p1] * root2[p2];
      block.nngp[e] /= s;
      if constexpr (WithNtk) block.ntk[e] /= s;
    };
    if constexpr (InFull) {
      for (Index p2 = 0; p2 < positions; ++p2) {
        for (Index p1 = 0; p1 < positions; ++p1) {
          scale(static_cast<std::size_t>(p1 + positions * p2), p1, p2);
        }
      }
    } else {
      for (Index p = 0; p < positions; ++p) scale(static_cast<std::size_t>(p), p, p);
    }
  }

  // Finite network.
  using params_type = NoParams;

  detail::FiniteShapes finite_shapes(const Geometry& in, const LayerSite& site) const {
    check_input(in, site);
    return {in, in, {}, 1};
  }
  template <class URBG>
  NoParams init_params(URBG&, const detail::FiniteShapes&) const {
    return {};
  }
  void check_params(const NoParams&, const detail::FiniteShapes&, const LayerSite&) const {}
  /// Per sample and group (the entries sharing their coordinates on the other axes).
  void forward(const NoParams&, const detail::FiniteShapes& shapes, const Matrix<double>& x,
               Matrix<double>& z) const {
    z.resize(x.rows(), x.cols());
    for_each_group(shapes.in, x, [&](Index row, const std::vector<Index>& columns) {
      double mean = 0;
      double variance = 0;
      moments(x, row, columns, mean, variance);
      const double inv = 1.0 / std::sqrt(eps + variance);
      for (Index c : columns) z(row, c) = (x(row, c) - mean) * inv;
    });
  }
  /// dx = (dz − mean(dz) − x̂·mean(dz ⊙ x̂))/√(eps + var) over each group, x̂ the output.
  void backward(const NoParams&, const detail::FiniteShapes& shapes, const Matrix<double>& x,
                const Matrix<double>& dz, Matrix<double>* dx, NoParams*) const {
    if (dx == nullptr) return;
    dx->resize(x.rows(), x.cols());
    for_each_group(shapes.in, x, [&](Index row, const std::vector<Index>& columns) {
      double mean = 0;
      double variance = 0;
      moments(x, row, columns, mean, variance);
      const double inv = 1.0 / std::sqrt(eps + variance);
      const auto n = static_cast<double>(columns.size());
      double mean_dz = 0;
      double mean_dz_xhat = 0;
      for (Index c : columns) {
        mean_dz += dz(row, c);
        mean_dz_xhat += dz(row, c) * (x(row, c) - mean) * inv;
      }
      mean_dz /= n;
      mean_dz_xhat /= n;
      for (Index c : columns) {
        const double xhat = (x(row, c) - mean) * inv;
        (*dx)(row, c) = (dz(row, c) - mean_dz - xhat * mean_dz_xhat) * inv;
      }
    });
  }

  bool operator==(const LayerNorm&) const = default;

 private:
  /// Which spatial axes of samples of rank `rank` are normalised (the axes checked already).
  std::array<bool, 2> normalised_positions(int rank) const {
    const int ndim = rank + 2;
    std::array<bool, 2> spatial{false, false};
    for (int k = 0; k < axis.count; ++k) {
      const int given = axis.values[static_cast<std::size_t>(k)];
      const int a = given < 0 ? given + ndim : given;
      if (a >= 1 && a <= rank) spatial[static_cast<std::size_t>(a - 1)] = true;
    }
    return spatial;
  }

  /// out[p] = the mean of var over the positions that share p's coordinates on the axes that
  /// are not normalised.
  template <class S>
  static void normalised_means(const Geometry& g, const std::array<bool, 2>& spatial, const S* var,
                               S* out) {
    const Index h = g.extent[0];
    const Index w = g.extent[1];
    for (Index a = 0; a < h; ++a) {
      for (Index b = 0; b < w; ++b) {
        S sum = 0;
        Index count = 0;
        for (Index a2 = spatial[0] ? 0 : a; a2 < (spatial[0] ? h : a + 1); ++a2) {
          for (Index b2 = spatial[1] ? 0 : b; b2 < (spatial[1] ? w : b + 1); ++b2) {
            sum += var[a2 * w + b2];
            ++count;
          }
        }
        out[a * w + b] = sum / static_cast<S>(count);
      }
    }
  }

  /// Calls f(row, columns) for every sample and every group of columns normalised together.
  template <class F>
  void for_each_group(const Geometry& g, const Matrix<double>& x, F&& f) const {
    const std::array<bool, 2> spatial = normalised_positions(g.rank);
    const Index h = g.extent[0];
    const Index w = g.extent[1];
    std::vector<Index> columns;
    for (Index a = 0; a < (spatial[0] ? 1 : h); ++a) {
      for (Index b = 0; b < (spatial[1] ? 1 : w); ++b) {
        columns.clear();
        for (Index a2 = spatial[0] ? 0 : a; a2 < (spatial[0] ? h : a + 1); ++a2) {
          for (Index b2 = spatial[1] ? 0 : b; b2 < (spatial[1] ? w : b + 1); ++b2) {
            for (Index c = 0; c < g.channels; ++c)
              columns.push_back((a2 * w + b2) * g.channels + c);
          }
        }
        for (Index row = 0; row < x.rows(); ++row) f(row, columns);
      }
    }
  }

  static void moments(const Matrix<double>& x, Index row, const std::vector<Index>& columns,
                      double& mean, double& variance) {
    const auto n = static_cast<double>(columns.size());
    mean = 0;
    for (Index c : columns) mean += x(row, c);
    mean /= n;
    variance = 0;
    for (Index c : columns) variance += (x(row, c) - mean) * (x(row, c) - mean);
    variance /= n;
  }
};

}  // namespace tangent
