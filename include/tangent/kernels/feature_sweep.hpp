#pragma once
/// @file
/// The kernel computation for networks on feature vectors.
///
/// Per-sample work (O(N·L)): each sample's variance entering every layer, and the finite widths.
/// Per-pair work (O(N1·N2·(d + L))), tile by tile: one GEMM gives the tile of the input NNGP
/// x1·x2ᵀ/d, then every entry runs through the whole layer recursion in registers, reading the
/// variances of its two samples. No N1×N2 temporary exists beyond the requested outputs, tiles
/// run in parallel (OpenMP), and each entry's arithmetic does not depend on the thread count.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include "tangent/combinators/serial.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/simd_math.hpp"
#include "tangent/kernels/inputs.hpp"
#include "tangent/layers/elementwise.hpp"

namespace tangent::detail {
inline namespace TANGENT_PARALLEL_ABI {

/// Largest side of the square tiles of the Gram matrices. The layer recursion reads a tile once,
/// column by column, so the tile need not stay in cache; larger tiles make each tile's GEMM pack
/// its operands fewer times (256 measured ~8% faster than 128 at N = 8,000, d = 784).
inline constexpr Index kMaxTile = 256;

/// Tile side for an n1×n2 Gram matrix: at most kMaxTile, but small enough that a small problem
/// still splits into several tiles for the threads. It depends on the sizes only, never on the
/// thread count, so the GEMM of each tile, and hence every result, is the same on any number of
/// threads.
inline Index tile_side(Index n1, Index n2) {
  const Index quarter = (std::max(n1, n2) + 3) / 4;
  return std::clamp((quarter + 7) / 8 * 8, Index{16}, kMaxTile);
}

/// Variances of each sample entering each layer: column l is the input of layer l.
template <class S, class... Ls>
Matrix<S> variance_table(const Serial<Ls...>& net, const Eigen::Ref<const Matrix<S>>& x) {
  const Index n = x.rows();
  const Index d = x.cols();
  Matrix<S> table(n, static_cast<Index>(sizeof...(Ls)));
  // The same loop for every row keeps the rounding of identical rows identical.
  for (Index r = 0; r < n; ++r) {
    S sum = 0;
    for (Index c = 0; c < d; ++c) sum += x(r, c) * x(r, c);
    table(r, 0) = sum / static_cast<S>(d);
  }
  net.for_each([&](const auto& layer, auto index) {
    constexpr Index l = static_cast<Index>(decltype(index)::value);
    if constexpr (l + 1 < static_cast<Index>(sizeof...(Ls))) {
      for (Index r = 0; r < n; ++r) table(r, l + 1) = propagate_variance(layer, table(r, l));
    }
  });
  return table;
}

/// √ of every entry of a variance table, correctly rounded (std::sqrt, as the kernel rules use;
/// Eigen's cwiseSqrt may be an estimate refined by Newton steps).
template <class S>
Matrix<S> sqrt_table(const Matrix<S>& var) {
  Matrix<S> root(var.rows(), var.cols());
  for (Index c = 0; c < var.cols(); ++c) {
    for (Index r = 0; r < var.rows(); ++r) root(r, c) = std::sqrt(var(r, c));
  }
  return root;
}

/// The finite width entering each layer, starting from the input dimension.
template <class S, class... Ls>
std::array<S, sizeof...(Ls)> input_widths(const Serial<Ls...>& net, Index input_dim) {
  std::array<S, sizeof...(Ls)> widths{};
  Index width = input_dim;
  net.for_each([&](const auto& layer, auto index) {
    widths[decltype(index)::value] = static_cast<S>(width);
    width = output_width(layer, width);
  });
  return widths;
}

/// `count` ≤ kLanes<S> values from `from`, the remaining lanes set to `pad`.
template <class S>
Lanes<S> load_lanes(const S* from, Index count, S pad) {
  if (count == kLanes<S>) return Lanes<S>::load(from);
  std::array<S, kLanes<S>> v;
  v.fill(pad);
  for (Index k = 0; k < count; ++k) v[static_cast<std::size_t>(k)] = from[k];
  return Lanes<S>::load(v.data());
}

template <class S>
void store_lanes(const Lanes<S>& lanes, S* to, Index count) {
  if (count == kLanes<S>) return lanes.store(to);
  std::array<S, kLanes<S>> v;
  lanes.store(v.data());
  for (Index k = 0; k < count; ++k) to[k] = v[static_cast<std::size_t>(k)];
}

/// The layer recursion over an h×w tile `q` of x1·x2ᵀ (rows from r0, columns from c0), a
/// column at a time in groups of kLanes<S> rows: every entry of a group goes through the same
/// lane arithmetic (rows past h are padded), so no result depends on where an entry falls.
/// Writes the NNGP into `q` and the NTK into `t`. `root1`, `root2`: √ of `var1`, `var2`.
template <bool WithNtk, class S, class... Ls>
void sweep_tile_lanes(const Serial<Ls...>& net, Matrix<S>& q, Matrix<S>& t, Index r0, Index c0,
                      S inv_d, const Matrix<S>& var1, const Matrix<S>& var2, const Matrix<S>& root1,
                      const Matrix<S>& root2, const std::array<S, sizeof...(Ls)>& widths,
                      const std::vector<Index>& label1, const std::vector<Index>& label2) {
  using V = Lanes<S>;
  const Index h = q.rows();
  const Index w = q.cols();
  for (Index c = 0; c < w; ++c) {
    const Index j = c0 + c;
    const Index label_j = label2[static_cast<std::size_t>(j)];
    for (Index r = 0; r < h; r += kLanes<S>) {
      const Index count = std::min<Index>(kLanes<S>, h - r);
      const Index i = r0 + r;
      // Equal inputs take their covariance from their variance, so their angle is exactly 0.
      std::array<S, kLanes<S>> equal_flags{};
      bool any_equal = false;
      for (Index k = 0; k < count; ++k) {
        const bool e = label1[static_cast<std::size_t>(i + k)] == label_j;
        equal_flags[static_cast<std::size_t>(k)] = e ? S(1) : S(0);
        any_equal = any_equal || e;
      }
      const LaneMask<S> equal = V::load(equal_flags.data()) == S(1);
      V qv = load_lanes<S>(&q(r, c), count, S(0)) * inv_d;
      V tv = V::splat(S(0));
      net.for_each([&](const auto& layer, auto index) {
        constexpr Index l = static_cast<Index>(decltype(index)::value);
        const V q11 = load_lanes<S>(&var1(i, l), count, S(1));
        if (any_equal) qv = select(equal, q11, qv);
        propagate_entry<WithNtk>(layer, qv, tv, q11, V::splat(var2(j, l)),
                                 load_lanes<S>(&root1(i, l), count, S(1)), V::splat(root2(j, l)),
                                 V::splat(widths[static_cast<std::size_t>(l)]));
      });
      store_lanes<S>(qv, &q(r, c), count);
      if constexpr (WithNtk) store_lanes<S>(tv, &t(r, c), count);
    }
  }
}

/// The layer recursion over a tile entry by entry, for networks with a layer that has no lane
/// form.
template <bool WithNtk, class S, class... Ls>
void sweep_tile_entries(const Serial<Ls...>& net, Matrix<S>& q, Matrix<S>& t, Index r0, Index c0,
                        S inv_d, const Matrix<S>& var1, const Matrix<S>& var2,
                        const std::array<S, sizeof...(Ls)>& widths,
                        const std::vector<Index>& label1, const std::vector<Index>& label2) {
  const Index h = q.rows();
  const Index w = q.cols();
  for (Index c = 0; c < w; ++c) {
    const Index j = c0 + c;
    const Index label_j = label2[static_cast<std::size_t>(j)];
    for (Index r = 0; r < h; ++r) {
      const Index i = r0 + r;
      // Equal inputs take their covariance from their variance, so their angle is exactly 0.
      const bool equal = label1[static_cast<std::size_t>(i)] == label_j;
      S qv = q(r, c) * inv_d;
      S tv = 0;
      net.for_each([&](const auto& layer, auto index) {
        constexpr Index l = static_cast<Index>(decltype(index)::value);
        const S q11 = var1(i, l);
        if (equal) qv = q11;
        propagate_entry<WithNtk>(layer, qv, tv, q11, var2(j, l),
                                 widths[static_cast<std::size_t>(l)]);
      });
      q(r, c) = qv;
      if constexpr (WithNtk) t(r, c) = tv;
    }
  }
}

/// Fills `nngp_out` and/or `ntk_out` (either may be null; each is resized) with the N1×N2 Gram
/// matrices of `net` between the rows of `x1` and of `x2`, or of `x1` with itself when `x2` is
/// null (then only one triangle of tiles is computed and mirrored).
template <bool WithNtk, class S, class... Ls>
void feature_kernels(const Serial<Ls...>& net, const Eigen::Ref<const Matrix<S>>& x1,
                     const Eigen::Ref<const Matrix<S>>* x2, Matrix<S>* nngp_out,
                     Matrix<S>* ntk_out) {
  const bool same_input = x2 == nullptr;
  const Eigen::Ref<const Matrix<S>>& y = same_input ? x1 : *x2;
  const Index n1 = x1.rows();
  const Index n2 = y.rows();
  const S inv_d = S(1) / static_cast<S>(x1.cols());

  const Matrix<S> var1 = variance_table<S>(net, x1);
  const Matrix<S> var2_storage = same_input ? Matrix<S>() : variance_table<S>(net, y);
  const Matrix<S>& var2 = same_input ? var1 : var2_storage;
  const Matrix<S> root1 = sqrt_table(var1);
  const Matrix<S> root2_storage = same_input ? Matrix<S>() : sqrt_table(var2);
  const Matrix<S>& root2 = same_input ? root1 : root2_storage;
  const auto widths = input_widths<S>(net, x1.cols());
  const RowLabels labels = label_rows(x1, x2);
  const std::vector<Index>& label1 = labels.first;
  const std::vector<Index>& label2 = same_input ? labels.first : labels.second;

  if (nngp_out != nullptr) nngp_out->resize(n1, n2);
  if (ntk_out != nullptr) ntk_out->resize(n1, n2);

  const Index side = tile_side(n1, n2);
  std::vector<std::pair<Index, Index>> tiles;
  for (Index r0 = 0; r0 < n1; r0 += side) {
    for (Index c0 = same_input ? r0 : 0; c0 < n2; c0 += side) tiles.emplace_back(r0, c0);
  }
  const Index tile_count = static_cast<Index>(tiles.size());
  // x2ᵀ (d × N2) once, so that each tile's GEMM packs contiguous columns of its right-hand side.
  const Matrix<S> yt = y.transpose();

  TANGENT_OMP(parallel) {
    Matrix<S> q;
    Matrix<S> t;
    TANGENT_OMP(for schedule(dynamic))
    for (Index k = 0; k < tile_count; ++k) {
      const auto [r0, c0] = tiles[static_cast<std::size_t>(k)];
      const Index h = std::min(side, n1 - r0);
      const Index w = std::min(side, n2 - c0);
      q.resize(h, w);
      // Inside the parallel region Eigen runs this product on the calling thread.
      q.noalias() = x1.middleRows(r0, h) * yt.middleCols(c0, w);
      if constexpr (WithNtk) t.resize(h, w);
      if constexpr ((supports_lanes<Ls> && ...)) {
        sweep_tile_lanes<WithNtk>(net, q, t, r0, c0, inv_d, var1, var2, root1, root2, widths,
                                  label1, label2);
      } else {
        sweep_tile_entries<WithNtk>(net, q, t, r0, c0, inv_d, var1, var2, widths, label1, label2);
      }
      for (auto [tile, out] :
           {std::pair{&q, nngp_out}, std::pair{&t, WithNtk ? ntk_out : nullptr}}) {
        if (out == nullptr) continue;
        if (same_input && r0 == c0) {
          // A tile on the diagonal computed both triangles; copying its upper one over its lower
          // one makes the result exactly symmetric.
          for (Index c = 0; c < w; ++c) {
            for (Index r = c + 1; r < h; ++r) (*tile)(r, c) = (*tile)(c, r);
          }
        }
        out->block(r0, c0, h, w) = *tile;
        // Same-input: the mirror tile below the diagonal, while this one is in cache.
        if (same_input && r0 != c0) out->block(c0, r0, w, h) = tile->transpose();
      }
    }
  }
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace tangent::detail
