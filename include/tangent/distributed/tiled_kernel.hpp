#pragma once
/// @file
/// `distributed::TiledKernel`: the NNGP or NTK of a network on feature vectors as a
/// `KernelOperator` that is never stored. Each product K·P recomputes the tiles of the Gram
/// matrix (the tiles of `tangent::kernels`, same bits) and multiplies them as they come out:
/// the tiles on and above the diagonal, dealt to the processes in turn, a tile above the
/// diagonal used twice (K_IJ·P_J and K_IJᵀ·P_I). For conjugate gradients on fully connected
/// kernels, whose tiles cost about what their GEMM does, when N × N does not fit even spread over
/// the processes: memory is O(N·d + N·outputs) per process, and each iteration costs one kernel.
///
/// Columns (for the pivoted-Cholesky preconditioner) are the kernels between all samples and
/// sample j, computed whole on every process: N entries each instead of N·tile side. They may
/// differ from the tiles' entries in the last bits (another GEMM), which a preconditioner does
/// not notice.

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tangent/distributed/agreement.hpp"
#include "tangent/distributed/grid.hpp"
#include "tangent/distributed/kernels.hpp"
#include "tangent/distributed/replicated.hpp"
#include "tangent/kernels.hpp"
#include "tangent/predict/posterior.hpp"

namespace tangent::distributed {

template <Network Net>
class TiledKernel {
  using Flat = std::remove_const_t<decltype(tangent::detail::as_serial(std::declval<Net>()))>;
  using Sweep = tangent::detail::FeatureTiles<true, double, Flat>;

 public:
  /// The `which` (Get::nngp or Get::ntk) kernel of `net` on the rows of `x` (N × d, the same on
  /// every process, which is checked). Refers to `grid`, which must outlive it. Collective.
  TiledKernel(const Net& net, const Matrix<double>& x, const Grid& grid, Get which = Get::ntk)
      : net_(tangent::detail::as_serial(net)), x_(x), grid_(&grid), ntk_(which == Get::ntk) {
    constexpr std::string_view function = "distributed::TiledKernel";
    detail::require_replicated_input(grid, function, "x", x_);
    detail::agreed(grid.comm(), [&] {
      if (which != Get::ntk && which != Get::nngp) {
        tangent::detail::fail(function, "which must be Get::nngp or Get::ntk");
      }
      plan_.emplace(
          tangent::detail::make_plan<InputStage<Features>>(net_, features_shape(x_.cols())));
      sweep_ = std::make_unique<Sweep>(function, net_, *plan_, Eigen::Ref<const Matrix<double>>(x_),
                                       nullptr);
    });
    // The tiles on and above the diagonal, every size-th one from this process's rank.
    const std::vector<std::pair<Index, Index>> all =
        tangent::detail::tile_origins(x_.rows(), x_.rows(), sweep_->side(), true);
    for (std::size_t k = static_cast<std::size_t>(grid.rank()); k < all.size();
         k += static_cast<std::size_t>(grid.size())) {
      mine_.push_back(all[k]);
    }
  }

  TiledKernel(const Net&, const Matrix<double>&, const Grid&&, Get = Get::ntk) = delete;
  TiledKernel(const TiledKernel&) = delete;
  TiledKernel& operator=(const TiledKernel&) = delete;

  Index size() const { return x_.rows(); }

  /// The diagonal entries, from the diagonal tiles (each computed by the process it is dealt
  /// to). Collective.
  Eigen::VectorXd diagonal() const {
    Eigen::VectorXd d = Eigen::VectorXd::Zero(size());
    Matrix<double> q;
    Matrix<double> t;
    run_collectively([&] {
      for (const auto& [r0, c0] : mine_) {
        if (r0 != c0) continue;
        const Index h = std::min(sweep_->side(), size() - r0);
        sweep_->compute(r0, c0, h, h, q, t);
        d.segment(r0, h) = (ntk_ ? t : q).diagonal();
      }
    });
    detail::sum_everywhere(*grid_, d.data(), static_cast<int>(d.size()));
    return d;
  }

  /// Column j: the kernels between every sample and sample j (see the file comment). Not
  /// collective: every process computes the same column.
  void column(Index j, Eigen::VectorXd& out) const {
    const Matrix<double> one = x_.row(j);
    out = ntk_ ? Eigen::VectorXd(tangent::ntk(net_, x_, one).col(0))
               : Eigen::VectorXd(tangent::nngp(net_, x_, one).col(0));
  }

  /// out = K·block, every process's tiles summed over the grid. Collective.
  void apply(const Matrix<double>& block, Matrix<double>& out) const {
    // The tiles go to kGroups accumulators in turn, run in parallel, then summed in order: the
    // bits depend neither on the thread count nor on which thread took which group.
    const Index groups = std::min<Index>(kGroups, static_cast<Index>(mine_.size()));
    std::vector<Matrix<double>> partial(static_cast<std::size_t>(groups));
    run_collectively([&] {
      tangent::detail::LoopErrors errors;
      TANGENT_OMP(parallel) {
        Matrix<double> q;
        Matrix<double> t;
        TANGENT_OMP(for schedule(dynamic))
        for (Index g = 0; g < groups; ++g) {
          errors.run(g, [&] {
            Matrix<double>& sum = partial[static_cast<std::size_t>(g)];
            sum = Matrix<double>::Zero(size(), block.cols());
            for (std::size_t k = static_cast<std::size_t>(g); k < mine_.size();
                 k += static_cast<std::size_t>(groups)) {
              add_tile_product(mine_[k], block, sum, q, t);
            }
          });
        }
      }
      errors.rethrow();
    });
    out = Matrix<double>::Zero(size(), block.cols());
    for (const Matrix<double>& p : partial) out += p;
    detail::sum_everywhere(*grid_, out.data(), static_cast<int>(out.size()));
  }

 private:
  static constexpr Index kGroups = 8;

  /// sum += the tile at `origin` times `block`, and its transpose's share for a tile above the
  /// diagonal.
  void add_tile_product(std::pair<Index, Index> origin, const Matrix<double>& block,
                        Matrix<double>& sum, Matrix<double>& q, Matrix<double>& t) const {
    const auto [r0, c0] = origin;
    const Index h = std::min(sweep_->side(), size() - r0);
    const Index w = std::min(sweep_->side(), size() - c0);
    sweep_->compute(r0, c0, h, w, q, t);
    Matrix<double>& tile = ntk_ ? t : q;
    if (r0 == c0) {
      tangent::detail::mirror_diagonal_tile(tile);  // as tangent::kernels makes it symmetric
    } else {
      sum.middleRows(c0, w).noalias() += tile.transpose() * block.middleRows(r0, h);
    }
    sum.middleRows(r0, h).noalias() += tile * block.middleRows(c0, w);
  }

  template <class Work>
  void run_collectively(Work&& work) const {
    detail::agreed(grid_->comm(), std::forward<Work>(work));
  }

  Flat net_;
  Matrix<double> x_;
  const Grid* grid_;
  bool ntk_;
  std::optional<tangent::detail::KernelPlan> plan_;
  std::unique_ptr<Sweep> sweep_;
  std::vector<std::pair<Index, Index>> mine_;
};

}  // namespace tangent::distributed
