#pragma once
/// @file
/// `distributed::BasicBlockCyclicMatrix<S>`: a matrix of double or float laid out on a `Grid` in
/// ScaLAPACK's 2-D block-cyclic layout with square blocks: block (I, J) (of `block` × `block`
/// entries) lives on process (I mod grid rows, J mod grid cols), which stores its blocks
/// column-major, one after another, as ScaLAPACK's routines expect. No process holds more than
/// its share of the matrix. `BlockCyclicMatrix` is the double one, for kernels, factorisations
/// and eigenvectors; a float kernel takes half the memory, for the conjugate-gradient solve
/// (tangent factorises in double only: float factors would cost the predictions their accuracy).

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <mpi.h>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "tangent/core/config.hpp"
#include "tangent/core/gram.hpp"
#include "tangent/distributed/agreement.hpp"
#include "tangent/distributed/grid.hpp"
#include "tangent/distributed/scalapack.hpp"

namespace tangent::distributed {

namespace detail {
/// MPI's name for the scalar S (double or float).
template <class S>
MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<S, double>) {
    return MPI_DOUBLE;
  } else {
    return MPI_FLOAT;
  }
}
}  // namespace detail

template <class S>
class BasicBlockCyclicMatrix {
  static_assert(std::is_same_v<S, double> || std::is_same_v<S, float>,
                "TANGENT: DISTRIBUTED MATRICES HOLD double OR float.");

 public:
  using Scalar = S;
  using LocalMap = Eigen::Map<Matrix<S>, 0, Eigen::OuterStride<>>;
  using ConstLocalMap = Eigen::Map<const Matrix<S>, 0, Eigen::OuterStride<>>;

  /// A rows × cols matrix of zeros in blocks of block × block entries: this process's part. The
  /// grid must outlive the matrix (and be destroyed before MPI_Finalize).
  BasicBlockCyclicMatrix(const Grid&&, Index, Index, Index) = delete;  // would outlive its grid
  BasicBlockCyclicMatrix(const Grid& grid, Index rows, Index cols, Index block)
      : grid_(&grid), rows_(rows), cols_(cols), block_(block) {
    if (rows < 1 || cols < 1 || block < 1 || rows > INT_MAX || cols > INT_MAX) {
      throw std::invalid_argument(
          "tangent::distributed::BlockCyclicMatrix: a " + std::to_string(rows) + " × " +
          std::to_string(cols) + " matrix in blocks of " + std::to_string(block) +
          " cannot be laid out (sides from 1 to 2^31 − 1, blocks of at least 1)");
    }
    const int m = static_cast<int>(rows);
    const int n = static_cast<int>(cols);
    const int nb = static_cast<int>(block);
    const int zero = 0;
    const int row = grid.row();
    const int col = grid.col();
    const int grid_rows = grid.rows();
    const int grid_cols = grid.cols();
    local_rows_ = numroc_(&m, &nb, &row, &zero, &grid_rows);
    local_cols_ = numroc_(&n, &nb, &col, &zero, &grid_cols);
    const int leading = std::max(1, local_rows_);
    const int context = grid.context();
    int info = 0;
    descinit_(descriptor_.data(), &m, &n, &nb, &nb, &zero, &zero, &context, &leading, &info);
    if (info != 0) {
      throw std::invalid_argument("tangent::distributed::BlockCyclicMatrix: descinit refused the " +
                                  std::to_string(rows) + " × " + std::to_string(cols) +
                                  " layout (info " + std::to_string(info) + ")");
    }
    // ScaLAPACK (32-bit integers, as Debian builds it) indexes the local part with int.
    if (static_cast<double>(leading) * local_cols_ > INT_MAX) {
      throw std::invalid_argument(
          "tangent::distributed::BlockCyclicMatrix: this process's part of the " +
          std::to_string(rows) + " × " + std::to_string(cols) + " matrix has " +
          std::to_string(static_cast<long long>(leading) * local_cols_) +
          " entries, more than ScaLAPACK's 32-bit indices reach (2^31 − 1); use more processes");
    }
    // At least one entry, so that ScaLAPACK is never handed a null array.
    data_.assign(std::max<std::size_t>(
                     1, static_cast<std::size_t>(leading) * static_cast<std::size_t>(local_cols_)),
                 S(0));
  }

  /// The process-local part of the whole matrix `full` (the same on every process).
  static BasicBlockCyclicMatrix from_replicated(const Grid&&, const Matrix<S>&, Index) = delete;
  static BasicBlockCyclicMatrix from_replicated(const Grid& grid, const Matrix<S>& full,
                                                Index block) {
    BasicBlockCyclicMatrix a(grid, full.rows(), full.cols(), block);
    LocalMap local = a.local();
    for (Index c = 0; c < local.cols(); ++c) {
      for (Index r = 0; r < local.rows(); ++r) local(r, c) = full(a.global_row(r), a.global_col(c));
    }
    return a;
  }

  /// The same matrix in T, each entry converted once (to float: rounded, as `ntk<float>` stores
  /// a kernel computed in double). Collective: an entry beyond float's range on one process
  /// throws on every process.
  template <class T>
  BasicBlockCyclicMatrix<T> cast() const {
    if constexpr (sizeof(T) < sizeof(S)) {
      detail::agreed(grid_->comm(), [&] {
        const ConstLocalMap mine = local();
        if (mine.size() > 0 && !tangent::detail::fits_storage<T>(mine.cwiseAbs().maxCoeff())) {
          tangent::detail::fail("distributed::BasicBlockCyclicMatrix::cast",
                                tangent::detail::kStorageOverflow);
        }
      });
    }
    std::optional<BasicBlockCyclicMatrix<T>> out;
    detail::agreed(grid_->comm(), [&] {
      out.emplace(*grid_, rows_, cols_, block_);
      out->local() = local().template cast<T>();
    });
    return std::move(*out);
  }

  const Grid& grid() const { return *grid_; }
  Index rows() const { return rows_; }
  Index cols() const { return cols_; }
  Index block() const { return block_; }

  /// This process's entries: local(r, c) is entry (global_row(r), global_col(c)).
  LocalMap local() {
    return {data_.data(), local_rows_, local_cols_, Eigen::OuterStride<>(leading())};
  }
  ConstLocalMap local() const {
    return {data_.data(), local_rows_, local_cols_, Eigen::OuterStride<>(leading())};
  }
  Index global_row(Index local_row) const { return global(local_row, grid_->row(), grid_->rows()); }
  Index global_col(Index local_col) const { return global(local_col, grid_->col(), grid_->cols()); }

  /// ScaLAPACK's array descriptor and the local array, for its routines.
  const int* descriptor() const { return descriptor_.data(); }
  S* data() { return data_.data(); }
  const S* data() const { return data_.data(); }

  /// The whole matrix on every process, by one all-reduce: each entry is owned by one process
  /// and added to zeros, so it arrives bit for bit. Every process then holds rows × cols
  /// entries: for results and tests, not for the large kernels.
  Matrix<S> replicated() const {
    if (rows_ * cols_ > INT_MAX) {
      throw std::invalid_argument(
          "tangent::distributed::BlockCyclicMatrix::replicated: " + std::to_string(rows_) + " × " +
          std::to_string(cols_) + " entries are too many for one process");
    }
    Matrix<S> full = Matrix<S>::Zero(rows_, cols_);
    const ConstLocalMap mine = local();
    for (Index c = 0; c < mine.cols(); ++c) {
      for (Index r = 0; r < mine.rows(); ++r) full(global_row(r), global_col(c)) = mine(r, c);
    }
    MPI_Allreduce(MPI_IN_PLACE, full.data(), static_cast<int>(full.size()), detail::mpi_type<S>(),
                  MPI_SUM, grid_->comm());
    return full;
  }

 private:
  int leading() const { return std::max(1, local_rows_); }
  Index global(Index local_index, int coordinate, int processes) const {
    return ((local_index / block_) * processes + coordinate) * block_ + local_index % block_;
  }

  const Grid* grid_;
  Index rows_;
  Index cols_;
  Index block_;
  int local_rows_ = 0;
  int local_cols_ = 0;
  std::array<int, 9> descriptor_{};
  std::vector<S> data_;
};

/// The double matrix of kernels, factorisations and eigenvectors.
using BlockCyclicMatrix = BasicBlockCyclicMatrix<double>;

}  // namespace tangent::distributed
