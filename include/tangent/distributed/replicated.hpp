#pragma once
/// @file
/// Products of distributed matrices with replicated ones (N × outputs blocks, which every process
/// holds whole), and the sums over the grid behind them. A sum is reduced on process 0 and
/// broadcast, not all-reduced: an all-reduce may round differently on different processes, and an
/// iteration that reads the result (conjugate gradients) could then stop on one process while
/// the others wait in the next product.

#include <mpi.h>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/distributed/grid.hpp"
#include "tangent/distributed/matrix.hpp"

namespace tangent::distributed::detail {

/// Sums `count` doubles over the grid into `data`, the same bits on every process.
inline void sum_everywhere(const Grid& grid, double* data, int count) {
  if (grid.rank() == 0) {
    MPI_Reduce(MPI_IN_PLACE, data, count, MPI_DOUBLE, MPI_SUM, 0, grid.comm());
  } else {
    MPI_Reduce(data, nullptr, count, MPI_DOUBLE, MPI_SUM, 0, grid.comm());
  }
  MPI_Bcast(data, count, MPI_DOUBLE, 0, grid.comm());
}

/// a·b (or aᵀ·b when `transposed`) for a distributed `a` and a replicated `b`, replicated (the
/// same bits on every process): each process multiplies its local part by the rows of `b` it
/// meets, and the pieces are summed over the grid.
inline Matrix<double> times_replicated(const BlockCyclicMatrix& a, const Matrix<double>& b,
                                       bool transposed) {
  std::vector<Index> rows(static_cast<std::size_t>(a.local().rows()));
  for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = a.global_row(static_cast<Index>(r));
  std::vector<Index> cols(static_cast<std::size_t>(a.local().cols()));
  for (std::size_t c = 0; c < cols.size(); ++c) cols[c] = a.global_col(static_cast<Index>(c));
  Matrix<double> out = Matrix<double>::Zero(transposed ? a.cols() : a.rows(), b.cols());
  if (!rows.empty() && !cols.empty()) {
    if (transposed) {
      out(cols, Eigen::all) = a.local().transpose() * b(rows, Eigen::all);
    } else {
      out(rows, Eigen::all) = a.local() * b(cols, Eigen::all);
    }
  }
  sum_everywhere(a.grid(), out.data(), static_cast<int>(out.size()));
  return out;
}

/// The diagonal of a distributed square matrix, replicated.
inline Eigen::VectorXd replicated_diagonal(const BlockCyclicMatrix& a) {
  Eigen::VectorXd d = Eigen::VectorXd::Zero(a.rows());
  const auto local = a.local();
  for (Index c = 0; c < local.cols(); ++c) {
    for (Index r = 0; r < local.rows(); ++r) {
      if (a.global_row(r) == a.global_col(c)) d[a.global_row(r)] = local(r, c);
    }
  }
  sum_everywhere(a.grid(), d.data(), static_cast<int>(d.size()));
  return d;
}

}  // namespace tangent::distributed::detail
