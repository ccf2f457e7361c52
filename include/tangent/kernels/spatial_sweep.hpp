#pragma once
/// @file
/// The kernel computation for networks on images and sequences.
///
/// The network is a spatial part (convolutions, pooling, activations) that ends in a reducing
/// layer (Flatten or GlobalAvgPool), then a feature part. Whether the spatial part carries the
/// full P×P block of every pair or only its same-position diagonal is decided per layer at
/// compile time: a layer's input is full exactly when a pooling layer comes later in the spatial
/// part (as neural-tangents decides it at run time). Per sample (O(N·P²·L)): the variance of
/// every position entering every layer, from the sample's own covariance. Per pair, in
/// parallel: the input block (X_i·X_jᵀ/C, or its diagonal), the spatial layers, the reduction,
/// then the feature layers' per-entry rules. Each thread holds one pair's blocks, nothing more.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include "tangent/combinators/serial.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/spatial_input.hpp"
#include "tangent/kernels/inputs.hpp"
#include "tangent/kernels/spatial_block.hpp"
#include "tangent/layers/elementwise.hpp"
#include "tangent/layers/window.hpp"

namespace tangent::detail {
inline namespace TANGENT_PARALLEL_ABI {

/// Compile-time layout of a network on spatial inputs.
template <class... Ls>
struct SpatialPlan {
  static constexpr std::size_t size = sizeof...(Ls);
  /// Index of the layer that ends the spatial part (Flatten or GlobalAvgPool).
  static constexpr std::size_t reducer = [] {
    constexpr bool reduces[] = {reduces_spatial<Ls>()...};
    for (std::size_t j = 0; j < size; ++j) {
      if (reduces[j]) return j;
    }
    return size;
  }();
  /// full_in[j]: the block entering layer j (j ≤ reducer) is full.
  static constexpr std::array<bool, size + 1> full_in = [] {
    constexpr bool needs[] = {needs_full_spatial<Ls>()...};
    std::array<bool, size + 1> full{};
    bool need = false;
    for (std::size_t j = reducer + 1; j-- > 0;) {
      if (j < size) need = need || needs[j];
      full[j] = need;
    }
    return full;
  }();
};

/// The shape entering each layer of the spatial part, the passes of its window layers, checked
/// against every layer (the errors name the layer and the shapes), and the finite width
/// entering each feature layer. Built once, before any parallel work.
template <class S, class... Ls>
struct SpatialShapes {
  std::array<Geometry, sizeof...(Ls) + 1> geometry{};
  std::array<WindowPlan, sizeof...(Ls)> window{};
  std::array<S, sizeof...(Ls)> width{};
};

template <class S, class... Ls>
SpatialShapes<S, Ls...> spatial_shapes(const Serial<Ls...>& net, const Geometry& input) {
  using Plan = SpatialPlan<Ls...>;
  SpatialShapes<S, Ls...> shapes;
  Geometry current = input;
  Index width = 0;
  net.for_each([&](const auto& layer, auto index) {
    constexpr std::size_t j = decltype(index)::value;
    using L = std::remove_cvref_t<decltype(layer)>;
    if constexpr (j <= Plan::reducer) {
      const LayerSite site{L::name, j + 1};
      shapes.geometry[j] = current;
      if constexpr (requires { layer.window_plan(current, site); }) {
        shapes.window[j] = layer.window_plan(current, site);
        current = shapes.window[j].out();
      } else {
        current = output_geometry(layer, current, site);
      }
      if constexpr (j == Plan::reducer) width = current.channels;
    } else {
      shapes.width[j] = static_cast<S>(width);
      width = output_width(layer, width);
    }
  });
  return shapes;
}

/// Runs spatial layer J (or the reducing layer, which yields the pair's scalar NNGP `q` and NTK
/// `t`) on `block`, whose variance pointers the caller has set.
template <std::size_t J, bool WithNtk, class L, class S, class... Ls>
void spatial_step(const L& layer, const SpatialShapes<S, Ls...>& shapes, PairBlock<S>& block, S& q,
                  S& t) {
  using Plan = SpatialPlan<Ls...>;
  block.geometry = shapes.geometry[J];
  block.window = &shapes.window[J];
  if constexpr (J < Plan::reducer) {
    constexpr bool in_full = Plan::full_in[J];
    constexpr bool out_full = Plan::full_in[J + 1];
    if constexpr (Activation<L>) {
      activation_block<in_full, WithNtk>(layer, block);
    } else {
      layer.template propagate_block<in_full, out_full, WithNtk>(block);
    }
  } else {
    layer.template reduce_block<Plan::full_in[J], WithNtk>(block, q, t);
  }
}

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
template <bool Full, class S>
void input_block(const Matrix<S>& a, const Matrix<S>& b, std::vector<S>& out) {
  const Index positions = a.rows();
  const S inv_channels = S(1) / static_cast<S>(a.cols());
  if constexpr (Full) {
    out.resize(static_cast<std::size_t>(positions * positions));
    Eigen::Map<Matrix<S>> block(out.data(), positions, positions);
    block.noalias() = a * b.transpose();
    block *= inv_channels;
  } else {
    out.resize(static_cast<std::size_t>(positions));
    for (Index p = 0; p < positions; ++p) {
      out[static_cast<std::size_t>(p)] = a.row(p).dot(b.row(p)) * inv_channels;
    }
  }
}

/// Runs the spatial part of the network on `block` (from its input block), then the feature
/// part, giving the pair's scalar NNGP and NTK. `var1(j)`, `var2(j)` give each sample's
/// per-position variances entering spatial layer j (or, for feature layers, the scalar
/// variances through `fvar1`, `fvar2`).
template <bool WithNtk, class S, class... Ls, class Var1, class Var2, class FeatureVar1,
          class FeatureVar2>
void pair_kernel(const Serial<Ls...>& net, const SpatialShapes<S, Ls...>& shapes,
                 PairBlock<S>& block, const Var1& var1, const Var2& var2, const FeatureVar1& fvar1,
                 const FeatureVar2& fvar2, S& q, S& t) {
  using Plan = SpatialPlan<Ls...>;
  net.for_each([&](const auto& layer, auto index) {
    constexpr std::size_t j = decltype(index)::value;
    if constexpr (j <= Plan::reducer) {
      block.var1 = var1(j);
      block.var2 = var2(j);
      spatial_step<j, WithNtk>(layer, shapes, block, q, t);
    } else {
      const S q11 = fvar1(j);
      if (block.equal) q = q11;
      propagate_entry<WithNtk>(layer, q, t, q11, fvar2(j), shapes.width[j]);
    }
  });
}

/// Per-sample variances: per position entering each spatial layer (tables[j] is P_j × N,
/// column i for sample i), and scalar entering each feature layer (features, N × L).
template <class S>
struct SpatialVarianceTables {
  std::vector<Matrix<S>> positions;
  Matrix<S> features;
};

template <class S, int D, class... Ls>
SpatialVarianceTables<S> spatial_variances(const Serial<Ls...>& net,
                                           const SpatialShapes<S, Ls...>& shapes,
                                           const SpatialInput<S, D>& x) {
  using Plan = SpatialPlan<Ls...>;
  const Index n = x.samples();
  SpatialVarianceTables<S> tables;
  tables.positions.resize(Plan::reducer + 1);
  for (std::size_t j = 0; j <= Plan::reducer; ++j) {
    tables.positions[j].resize(shapes.geometry[j].positions(), n);
  }
  tables.features.resize(n, static_cast<Index>(sizeof...(Ls)));

  TANGENT_OMP(parallel) {
    PairBlock<S> block;
    Matrix<S> sample;
    TANGENT_OMP(for schedule(dynamic))
    for (Index i = 0; i < n; ++i) {
      sample_matrix(x, i, sample);
      input_block<Plan::full_in[0]>(sample, sample, block.nngp);
      block.equal = true;
      S q = 0;
      S t = 0;
      net.for_each([&](const auto& layer, auto index) {
        constexpr std::size_t j = decltype(index)::value;
        if constexpr (j <= Plan::reducer) {
          // The variances entering layer j are the diagonal of the sample's own block.
          const Index positions = shapes.geometry[j].positions();
          auto column = tables.positions[j].col(i);
          for (Index p = 0; p < positions; ++p) {
            const Index e = Plan::full_in[j] ? p + positions * p : p;
            column(p) = block.nngp[static_cast<std::size_t>(e)];
          }
          block.var1 = block.var2 = column.data();
          spatial_step<j, false>(layer, shapes, block, q, t);
        } else {
          tables.features(i, static_cast<Index>(j)) = q;
          q = propagate_variance(layer, q);
        }
      });
    }
  }
  return tables;
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

/// Fills `nngp_out` and/or `ntk_out` (either may be null) with the N1×N2 Gram matrices of `net`
/// between the samples of `x1` and of `x2`, or of `x1` with itself when `x2` is null (then only
/// pairs i ≤ j are computed and mirrored).
template <bool WithNtk, class S, int D, class... Ls>
void spatial_kernels(const Serial<Ls...>& net, const SpatialInput<S, D>& x1,
                     const SpatialInput<S, D>* x2, Matrix<S>* nngp_out, Matrix<S>* ntk_out) {
  using Plan = SpatialPlan<Ls...>;
  static_assert(Plan::reducer < sizeof...(Ls),
                "TANGENT: A NETWORK ON IMAGES OR SEQUENCES MUST END ITS SPATIAL PART with "
                "Flatten or GlobalAvgPool.");
  const bool same_input = x2 == nullptr;
  const SpatialInput<S, D>& y = same_input ? x1 : *x2;
  const Index n1 = x1.samples();
  const Index n2 = y.samples();

  const auto shapes = spatial_shapes<S>(net, x1.geometry);
  const SpatialVarianceTables<S> var1 = spatial_variances(net, shapes, x1);
  const SpatialVarianceTables<S> var2_storage =
      same_input ? SpatialVarianceTables<S>{} : spatial_variances(net, shapes, y);
  const SpatialVarianceTables<S>& var2 = same_input ? var1 : var2_storage;
  const RowLabels labels = label_rows(x1.flat, same_input ? nullptr : &y.flat);
  const std::vector<Index>& label1 = labels.first;
  const std::vector<Index>& label2 = same_input ? labels.first : labels.second;

  if (nngp_out != nullptr) nngp_out->resize(n1, n2);
  if (ntk_out != nullptr) ntk_out->resize(n1, n2);

  // Pairs in row-major order of the (upper) triangle or rectangle; chunks of pairs per thread.
  const Index pairs = same_input ? n1 * (n1 + 1) / 2 : n1 * n2;
  TANGENT_OMP(parallel) {
    PairBlock<S> block;
    Matrix<S> a;
    Matrix<S> b;
    TANGENT_OMP(for schedule(dynamic, 4))
    for (Index k = 0; k < pairs; ++k) {
      // Plain variables, not a structured binding: the lambdas below capture them (clang 14
      // cannot capture bindings, and GCC 12 at -O3 miscompiled such captures here).
      const std::pair<Index, Index> pair =
          same_input ? triangle_pair(k, n1) : std::pair{k / n2, k % n2};
      const Index i = pair.first;
      const Index j = pair.second;
      sample_matrix(x1, i, a);
      sample_matrix(y, j, b);
      input_block<Plan::full_in[0]>(a, b, block.nngp);
      if constexpr (WithNtk) block.ntk.assign(block.nngp.size(), S(0));
      block.equal = label1[static_cast<std::size_t>(i)] == label2[static_cast<std::size_t>(j)];
      S q = 0;
      S t = 0;
      pair_kernel<WithNtk>(
          net, shapes, block, [&](std::size_t l) { return var1.positions[l].col(i).data(); },
          [&](std::size_t l) { return var2.positions[l].col(j).data(); },
          [&](std::size_t l) { return var1.features(i, static_cast<Index>(l)); },
          [&](std::size_t l) { return var2.features(j, static_cast<Index>(l)); }, q, t);
      if (nngp_out != nullptr) (*nngp_out)(i, j) = q;
      if constexpr (WithNtk) {
        if (ntk_out != nullptr) (*ntk_out)(i, j) = t;
      }
    }
  }

  if (same_input) {
    for (Matrix<S>* out : {nngp_out, ntk_out}) {
      if (out == nullptr) continue;
      for (Index c = 0; c < n1; ++c) {
        for (Index r = c + 1; r < n1; ++r) (*out)(r, c) = (*out)(c, r);
      }
    }
  }
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace tangent::detail
