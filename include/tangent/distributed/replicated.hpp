#pragma once
/// @file
/// Products of distributed matrices with replicated ones (N × outputs blocks, which every process
/// holds whole), and the sums over the grid behind them. A sum is reduced on process 0 and
/// broadcast, not all-reduced: an all-reduce may round differently on different processes, and an
/// iteration that reads the result (conjugate gradients) could then stop on one process while
/// the others wait in the next product.

#include <mpi.h>
#include <type_traits>
#include <utility>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/distributed/grid.hpp"
#include "tangent/distributed/matrix.hpp"
#include "tangent/predict/kernel_operator.hpp"

namespace tangent::distributed::detail {
// Its products run on OpenMP threads and BLAS: named after the build's mode (config.hpp).
inline namespace TANGENT_SOLVER_PARALLEL_ABI {

/// Sums `count` doubles over the grid into `data`, the same bits on every process.
inline void sum_everywhere(const Grid& grid, double* data, int count) {
  if (grid.rank() == 0) {
    MPI_Reduce(MPI_IN_PLACE, data, count, MPI_DOUBLE, MPI_SUM, 0, grid.comm());
  } else {
    MPI_Reduce(data, nullptr, count, MPI_DOUBLE, MPI_SUM, 0, grid.comm());
  }
  MPI_Bcast(data, count, MPI_DOUBLE, 0, grid.comm());
}

/// The global rows and columns of the local part of `a`.
template <class S>
std::pair<std::vector<Index>, std::vector<Index>> global_indices(
    const BasicBlockCyclicMatrix<S>& a) {
  std::vector<Index> rows(static_cast<std::size_t>(a.local().rows()));
  for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = a.global_row(static_cast<Index>(r));
  std::vector<Index> cols(static_cast<std::size_t>(a.local().cols()));
  for (std::size_t c = 0; c < cols.size(); ++c) cols[c] = a.global_col(static_cast<Index>(c));
  return {std::move(rows), std::move(cols)};
}

/// a·b for a distributed `a` and a replicated `b`, replicated (the same bits on every process):
/// each process multiplies its local part by the rows of `b` it meets, and the pieces are summed
/// over the grid. A float `a` (a kernel) is widened as it is read and accumulated in double, as
/// on one process (widened_product).
template <class S>
Matrix<double> times_replicated(const BasicBlockCyclicMatrix<S>& a, const Matrix<double>& b) {
  const auto [rows, cols] = global_indices(a);
  Matrix<double> out = Matrix<double>::Zero(a.rows(), b.cols());
  if (!rows.empty() && !cols.empty()) {
    if constexpr (std::is_same_v<S, double>) {
      out(rows, Eigen::all) = a.local() * b(cols, Eigen::all);
    } else {
      Matrix<double> part;
      tangent::detail::widened_product(a.local(), b(cols, Eigen::all), part);
      out(rows, Eigen::all) = part;
    }
  }
  sum_everywhere(a.grid(), out.data(), static_cast<int>(out.size()));
  return out;
}

/// aᵀ·b likewise, for a double `a` (the eigenvectors).
inline Matrix<double> transposed_times_replicated(const BlockCyclicMatrix& a,
                                                  const Matrix<double>& b) {
  const auto [rows, cols] = global_indices(a);
  Matrix<double> out = Matrix<double>::Zero(a.cols(), b.cols());
  if (!rows.empty() && !cols.empty()) {
    out(cols, Eigen::all) = a.local().transpose() * b(rows, Eigen::all);
  }
  sum_everywhere(a.grid(), out.data(), static_cast<int>(out.size()));
  return out;
}

/// The diagonal of a distributed square matrix, replicated, in double.
template <class S>
Eigen::VectorXd replicated_diagonal(const BasicBlockCyclicMatrix<S>& a) {
  Eigen::VectorXd d = Eigen::VectorXd::Zero(a.rows());
  const auto local = a.local();
  for (Index c = 0; c < local.cols(); ++c) {
    for (Index r = 0; r < local.rows(); ++r) {
      if (a.global_row(r) == a.global_col(c)) d[a.global_row(r)] = static_cast<double>(local(r, c));
    }
  }
  sum_everywhere(a.grid(), d.data(), static_cast<int>(d.size()));
  return d;
}

}  // namespace TANGENT_SOLVER_PARALLEL_ABI
}  // namespace tangent::distributed::detail
