#pragma once
/// @file
/// `distributed::kernels`: the NNGP and NTK Gram matrices of a network on feature vectors,
/// images or sequences, computed by the processes of a `Grid` in ScaLAPACK's block-cyclic
/// layout. Each process computes the tiles it owns with the single-process sweep
/// (kernels/feature_sweep.hpp; for images and sequences, pair by pair as
/// kernels/spatial_sweep.hpp does, spatial_tiles.hpp); the blocks are the sweep's tiles, so
/// every entry is bitwise the value of `tangent::kernels` on one process. The
/// inputs (N × d, or images/sequences) are replicated: every process passes the same ones,
/// which is checked. No process ever holds an N × N matrix. As on one process,
/// `ntk<float>(net, x, grid)` (and `nngp<float>`, `kernels<float>`) computes in double and
/// stores each entry rounded once, in half the memory: bitwise `tangent::ntk<float>(net, x)`.
///
/// Of one input's Gram matrix only the tiles on and above the diagonal are computed, as on one
/// process; the blocks below it are their transposes, moved by PBLAS's pdtran (pstran in float) a
/// panel of rows at a time (`mirror_upper`).

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tangent/core/gram.hpp"
#include "tangent/distributed/agreement.hpp"
#include "tangent/distributed/grid.hpp"
#include "tangent/distributed/matrix.hpp"
#include "tangent/distributed/spatial_tiles.hpp"
#include "tangent/kernels.hpp"

namespace tangent::distributed {

/// The NNGP and NTK of `distributed::kernels`, both laid out alike, stored in S.
template <class S>
struct BasicKernels {
  BasicBlockCyclicMatrix<S> nngp;
  BasicBlockCyclicMatrix<S> ntk;
};
using Kernels = BasicKernels<double>;

namespace detail {
// The tiles are computed on OpenMP threads: named after the build's mode (config.hpp).
inline namespace TANGENT_PARALLEL_ABI {

/// The same for kernel inputs, which must also be non-empty and finite.
template <class D>
void require_replicated_input(const Grid& grid, std::string_view function, std::string_view name,
                              const Eigen::MatrixBase<D>& x) {
  require_replicated(grid, function, name, x, [&](const auto& mine) {
    tangent::detail::check_kernel_input(function, name, mine.derived());
  });
}

/// Refuses a train-train kernel of n samples that leaves a row or column of the grid without any
/// (a test-train kernel may: its processes without rows hold nothing).
inline void require_spread(const Grid& grid, std::string_view function, Index n) {
  if (n < grid.rows() || n < grid.cols()) {
    tangent::detail::fail(
        function, "a " + std::to_string(n) + " × " + std::to_string(n) +
                      " kernel cannot be spread over the " + std::to_string(grid.rows()) + " × " +
                      std::to_string(grid.cols()) + " process grid: use fewer processes");
  }
}

/// The distributed outputs of one call, stored in S; an output not asked for is empty.
template <class S>
struct Outputs {
  std::optional<BasicBlockCyclicMatrix<S>> nngp;
  std::optional<BasicBlockCyclicMatrix<S>> ntk;
};

/// Fills the blocks of the outputs this process owns from `sweep`'s tiles; for one input, those
/// on or above the diagonal only (a diagonal block in full, symmetric). Each entry is rounded
/// once to the storage S.
template <class Sweep, class S>
void fill_owned_tiles(std::string_view function, const Sweep& sweep, Outputs<S>& out) {
  const BasicBlockCyclicMatrix<S>& layout = out.nngp ? *out.nngp : *out.ntk;
  const Index side = sweep.side();
  std::vector<std::pair<Index, Index>> owned;  // local block (row, column) origins
  for (Index lc = 0; lc < layout.local().cols(); lc += side) {
    for (Index lr = 0; lr < layout.local().rows(); lr += side) {
      if (!sweep.same_input() || layout.global_row(lr) <= layout.global_col(lc)) {
        owned.emplace_back(lr, lc);
      }
    }
  }
  const Index count = static_cast<Index>(owned.size());
  const auto fill = [&](Index k, Matrix<double>& q, Matrix<double>& t) {
    const auto [lr, lc] = owned[static_cast<std::size_t>(k)];
    const Index r0 = layout.global_row(lr);
    const Index c0 = layout.global_col(lc);
    const Index h = std::min(side, sweep.rows() - r0);
    const Index w = std::min(side, sweep.cols() - c0);
    sweep.compute(r0, c0, h, w, q, t);
    for (auto [tile, to] : {std::pair{&q, &out.nngp}, std::pair{&t, &out.ntk}}) {
      if (!*to) continue;
      if constexpr (std::is_same_v<S, float>) {
        if (!tangent::detail::fits_storage<float>(tile->cwiseAbs().maxCoeff())) {
          tangent::detail::fail(function, tangent::detail::kStorageOverflow);
        }
      }
      if (sweep.same_input() && r0 == c0) tangent::detail::mirror_diagonal_tile(*tile);
      (*to)->local().block(lr, lc, h, w) = tile->template cast<S>();
    }
  };
  if constexpr (requires { Sweep::parallel_within_tile; }) {
    // The sweep shares each tile's entries among the threads itself.
    Matrix<double> q;
    Matrix<double> t;
    for (Index k = 0; k < count; ++k) fill(k, q, t);
  } else {
    tangent::detail::LoopErrors errors;
    TANGENT_OMP(parallel) {
      Matrix<double> q;
      Matrix<double> t;
      TANGENT_OMP(for schedule(dynamic))
      for (Index k = 0; k < count; ++k) {
        errors.run(k, [&] { fill(k, q, t); });
      }
    }
    errors.rethrow();
  }
}

/// Copies the transposes of the entries above the diagonal over those below it, one panel of
/// rows at a time: for the rows R of a panel, PBLAS's pdtran gives K(:, R)ᵀ in a
/// |R| × N matrix laid out like K's rows R, whose entries below the diagonal are then copied over.
/// A panel is one block row per process row, so each process holds N·block/(grid cols) entries
/// more, not a second N × N matrix.
template <class S>
void mirror_upper(BasicBlockCyclicMatrix<S>& a) {
  const Grid& grid = a.grid();
  const Index panel = a.block() * grid.rows();
  const int n = static_cast<int>(a.rows());
  const int one = 1;
  const S alpha = 1;
  const S beta = 0;
  auto local = a.local();
  for (Index r0 = 0; r0 < a.rows(); r0 += panel) {
    const Index height = std::min(panel, a.rows() - r0);
    // Row g of `rows` is row r0 + g of K: r0 is a multiple of the panel, so both lie on process
    // row (g / block) mod (grid rows), at local row g's plus r0 / (grid rows) in K.
    BasicBlockCyclicMatrix<S> rows(grid, height, a.cols(), a.block());
    const int m = static_cast<int>(height);
    const int first_column = static_cast<int>(r0 + 1);
    if constexpr (std::is_same_v<S, double>) {
      pdtran_(&m, &n, &alpha, a.data(), &one, &first_column, a.descriptor(), &beta, rows.data(),
              &one, &one, rows.descriptor());
    } else {
      pstran_(&m, &n, &alpha, a.data(), &one, &first_column, a.descriptor(), &beta, rows.data(),
              &one, &one, rows.descriptor());
    }
    const auto from = rows.local();
    const Index offset = r0 / grid.rows();
    for (Index c = 0; c < from.cols(); ++c) {
      const Index j = a.global_col(c);
      for (Index r = 0; r < from.rows(); ++r) {
        if (r0 + rows.global_row(r) > j) local(offset + r, c) = from(r, c);
      }
    }
  }
}

/// The outputs W asks for, laid out in `sweep`'s tiles on `grid`, each process filling its own;
/// for one input, the transposes of the upper blocks are then mirrored below the diagonal.
template <tangent::detail::Want W, class S, class Sweep>
Outputs<S> outputs_of(std::string_view function, const Grid& grid, const Sweep& sweep) {
  using tangent::detail::Want;
  Outputs<S> out;
  agreed(grid.comm(), [&] {
    if (W != Want::ntk) out.nngp.emplace(grid, sweep.rows(), sweep.cols(), sweep.side());
    if (W != Want::nngp) out.ntk.emplace(grid, sweep.rows(), sweep.cols(), sweep.side());
    fill_owned_tiles(function, sweep, out);
  });
  if (sweep.same_input()) {
    if (out.nngp) mirror_upper(*out.nngp);
    if (out.ntk) mirror_upper(*out.ntk);
  }
  return out;
}

template <tangent::detail::Want W, class S, class Net, class D1, class D2>
Outputs<S> feature_kernels(std::string_view function, const Net& network, const Grid& grid,
                           const Eigen::MatrixBase<D1>& x1, const Eigen::MatrixBase<D2>* x2) {
  using tangent::detail::Want;
  static_assert(
      std::is_same_v<typename D1::Scalar, double> && std::is_same_v<typename D2::Scalar, double>,
      "TANGENT: DISTRIBUTED KERNELS TAKE double INPUTS.");
  using tangent::Features;
  using tangent::InputStage;
  require_replicated_input(grid, function, "x1", x1);
  if (x2 != nullptr) require_replicated_input(grid, function, "x2", *x2);
  const auto net = tangent::detail::as_serial(network);
  using Flat = std::remove_const_t<decltype(net)>;
  if constexpr (!tangent::detail::composition_fits<Features, Flat>()) {
    // Not reached: composition_fits has stopped the compilation with its message.
    throw std::logic_error("tangent::distributed::kernels: the network does not fit its input");
  } else {
    const Eigen::Ref<const Matrix<double>> a(x1.derived());
    std::optional<Eigen::Ref<const Matrix<double>>> b;
    if (x2 != nullptr) b.emplace(x2->derived());
    std::optional<tangent::detail::KernelPlan> plan;
    agreed(grid.comm(), [&] {
      plan.emplace(
          tangent::detail::make_plan<InputStage<Features>>(net, tangent::features_shape(a.cols())));
      if (b) {
        tangent::detail::check_same_features<double>(function, a, *b);
        // As on one process: x2 equal to x1 is one input.
        if (tangent::detail::equal_inputs(a, *b)) b.reset();
      }
      if (!b) require_spread(grid, function, a.rows());
    });
    std::optional<tangent::detail::FeatureTiles<W != Want::nngp, double, Flat>> sweep;
    agreed(grid.comm(), [&] { sweep.emplace(function, net, *plan, a, b ? &*b : nullptr); });
    return outputs_of<W, S>(function, grid, *sweep);
  }
}

/// Checks that every process passed the same spatial input: its values and its shape.
template <int D>
void require_replicated_input(const Grid& grid, std::string_view function, std::string_view name,
                              const SpatialInput<double, D>& x) {
  require_replicated_input(grid, function, name, x.flat);
  const Geometry& g = x.geometry;
  const Eigen::Vector4d shape(g.rank, static_cast<double>(g.extent[0]),
                              static_cast<double>(g.extent[1]), static_cast<double>(g.channels));
  require_replicated(grid, function, std::string(name) + "'s shape", shape, [](const auto&) {});
}

/// The kernels of a network on images or sequences: each process runs the pairs of its own
/// tiles through the network (SpatialTiles), as `feature_kernels` computes its tiles.
template <tangent::detail::Want W, class S, class Net, int D>
Outputs<S> spatial_kernels(std::string_view function, const Net& network, const Grid& grid,
                           const SpatialInput<double, D>& x1, const SpatialInput<double, D>* x2) {
  using tangent::InputStage;
  using tangent::Spatial;
  using tangent::detail::Want;
  require_replicated_input(grid, function, "x1", x1);
  if (x2 != nullptr) require_replicated_input(grid, function, "x2", *x2);
  const auto net = tangent::detail::as_serial(network);
  using Flat = std::remove_const_t<decltype(net)>;
  if constexpr (!tangent::detail::composition_fits<Spatial<D>, Flat>()) {
    // Not reached: composition_fits has stopped the compilation with its message.
    throw std::logic_error("tangent::distributed::kernels: the network does not fit its input");
  } else {
    std::optional<tangent::detail::KernelPlan> plan;
    bool one_input = x2 == nullptr;
    agreed(grid.comm(), [&] {
      plan.emplace(tangent::detail::make_plan<InputStage<Spatial<D>>>(net, x1.geometry));
      if (x2 != nullptr) {
        if (!(x1.geometry == x2->geometry)) {
          tangent::detail::fail(function, "x1 holds " + x1.geometry.str() +
                                              " samples but x2 holds " + x2->geometry.str() +
                                              "; both inputs need the same shape");
        }
        // As on one process: x2 equal to x1 is one input.
        one_input = tangent::detail::equal_inputs(x1.flat, x2->flat);
      }
      if (one_input) require_spread(grid, function, x1.samples());
      // This process's share of the outputs: its blocks, at most one more block each way.
      const Index n2 = one_input ? x1.samples() : x2->samples();
      const Index side = spatial_tile_side(x1.samples(), n2);
      const Index local_rows = x1.samples() / grid.rows() + side;
      const Index local_cols = n2 / grid.cols() + side;
      const double share = static_cast<double>(local_rows) * static_cast<double>(local_cols) /
                           (static_cast<double>(x1.samples()) * static_cast<double>(n2));
      tangent::detail::plan_spatial<W, double, S>(function, *plan, x1.samples(), n2, !one_input,
                                                  std::min(share, 1.0));
    });
    std::optional<SpatialTiles<W != Want::nngp, double, D, Flat>> sweep;
    agreed(grid.comm(), [&] { sweep.emplace(function, net, *plan, x1, one_input ? nullptr : x2); });
    return outputs_of<W, S>(function, grid, *sweep);
  }
}

/// The kernels of `net` between x1 and x2 (null: x1 with itself), feature matrices or spatial
/// inputs alike.
template <tangent::detail::Want W, class S, class Net, class X1, class X2>
Outputs<S> outputs_for(std::string_view function, const Net& net, const Grid& grid, const X1& x1,
                       const X2* x2) {
  constexpr bool spatial =
      tangent::detail::is_spatial_input<X1> || tangent::detail::is_spatial_input<X2>;
  if constexpr (spatial && !std::is_same_v<X1, X2>) {
    static_assert(tangent::detail::dependent_false<X1>,
                  "TANGENT: x1 AND x2 MUST BE THE SAME KIND OF INPUT: both images or both "
                  "sequences (of doubles: distributed kernels take double inputs).");
    return {};
  } else if constexpr (spatial) {
    static_assert(std::is_same_v<typename X1::Scalar, double>,
                  "TANGENT: DISTRIBUTED KERNELS TAKE double INPUTS.");
    return spatial_kernels<W, S>(function, net, grid, x1, x2);
  } else {
    return feature_kernels<W, S>(function, net, grid, x1, x2);
  }
}

}  // namespace TANGENT_PARALLEL_ABI
}  // namespace detail

namespace detail {
/// Accepts any Eigen matrix or expression, and classes derived from one.
template <class D>
void as_matrix(const Eigen::MatrixBase<D>&);
}  // namespace detail

/// What distributed kernels take: a feature matrix (N × d; any Eigen matrix, block, map or
/// expression) or images/sequences (`tangent::images`, `tangent::sequences`). Both must hold
/// doubles (a static_assert says so otherwise).
template <class X>
concept KernelInput = tangent::detail::is_spatial_input<X> || requires(const X& x) {
  detail::as_matrix(x);
};

/// NNGP and NTK of the samples of `x` (the same on every process) with themselves: N × N,
/// block-cyclic on `grid`, each entry bitwise that of `tangent::kernels<Store>(net, x)`
/// (`Store` double, or float for half the memory). `x` is an N × d matrix or images/sequences
/// for convolutional networks. Collective; bad input throws the same std::invalid_argument on
/// every process.
template <class Store = double, Network Net, KernelInput X>
BasicKernels<Store> kernels(const Net& net, const X& x, const Grid& grid) {
  detail::Outputs out = detail::outputs_for<tangent::detail::Want::both, Store>(
      "distributed::kernels", net, grid, x, static_cast<const X*>(nullptr));
  return {std::move(*out.nngp), std::move(*out.ntk)};
}

/// NNGP and NTK between the samples of `x1` (N1 of them) and of `x2` (N2): N1 × N2, each entry
/// bitwise that of `tangent::kernels<Store>(net, x1, x2)`; for predictions, the test-train
/// kernels.
template <class Store = double, Network Net, KernelInput X1, KernelInput X2>
BasicKernels<Store> kernels(const Net& net, const X1& x1, const X2& x2, const Grid& grid) {
  detail::Outputs out = detail::outputs_for<tangent::detail::Want::both, Store>(
      "distributed::kernels", net, grid, x1, &x2);
  return {std::move(*out.nngp), std::move(*out.ntk)};
}

/// The NNGP alone (the NTK recursion skipped), of `x` with itself.
template <class Store = double, Network Net, KernelInput X>
BasicBlockCyclicMatrix<Store> nngp(const Net& net, const X& x, const Grid& grid) {
  return std::move(*detail::outputs_for<tangent::detail::Want::nngp, Store>(
                        "distributed::nngp", net, grid, x, static_cast<const X*>(nullptr))
                        .nngp);
}

/// The NNGP between the samples of `x1` and of `x2`.
template <class Store = double, Network Net, KernelInput X1, KernelInput X2>
BasicBlockCyclicMatrix<Store> nngp(const Net& net, const X1& x1, const X2& x2, const Grid& grid) {
  return std::move(*detail::outputs_for<tangent::detail::Want::nngp, Store>("distributed::nngp",
                                                                            net, grid, x1, &x2)
                        .nngp);
}

/// The NTK alone (the NNGP is not stored), of `x` with itself: one N × N matrix, as much memory
/// as the NNGP alone.
template <class Store = double, Network Net, KernelInput X>
BasicBlockCyclicMatrix<Store> ntk(const Net& net, const X& x, const Grid& grid) {
  return std::move(*detail::outputs_for<tangent::detail::Want::ntk, Store>(
                        "distributed::ntk", net, grid, x, static_cast<const X*>(nullptr))
                        .ntk);
}

/// The NTK between the samples of `x1` and of `x2`.
template <class Store = double, Network Net, KernelInput X1, KernelInput X2>
BasicBlockCyclicMatrix<Store> ntk(const Net& net, const X1& x1, const X2& x2, const Grid& grid) {
  return std::move(*detail::outputs_for<tangent::detail::Want::ntk, Store>("distributed::ntk", net,
                                                                           grid, x1, &x2)
                        .ntk);
}

/// The matrices refer to their grid: a temporary one would be gone before them.
template <class Store = double, Network Net, KernelInput X>
BasicKernels<Store> kernels(const Net&, const X&, const Grid&&) = delete;
template <class Store = double, Network Net, KernelInput X1, KernelInput X2>
BasicKernels<Store> kernels(const Net&, const X1&, const X2&, const Grid&&) = delete;
template <class Store = double, Network Net, KernelInput X>
BasicBlockCyclicMatrix<Store> nngp(const Net&, const X&, const Grid&&) = delete;
template <class Store = double, Network Net, KernelInput X1, KernelInput X2>
BasicBlockCyclicMatrix<Store> nngp(const Net&, const X1&, const X2&, const Grid&&) = delete;
template <class Store = double, Network Net, KernelInput X>
BasicBlockCyclicMatrix<Store> ntk(const Net&, const X&, const Grid&&) = delete;
template <class Store = double, Network Net, KernelInput X1, KernelInput X2>
BasicBlockCyclicMatrix<Store> ntk(const Net&, const X1&, const X2&, const Grid&&) = delete;

}  // namespace tangent::distributed
