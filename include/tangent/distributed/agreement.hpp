#pragma once
/// @file
/// Errors that every process agrees on. A check that fails on one process only (its copy of the
/// input has a NaN, another shape) must not leave the others waiting in the next collective call:
/// each process runs its part, then all of them learn whether any failed and throw the same
/// exception, with the first failing process's message.

#include <algorithm>
#include <cstring>
#include <exception>
#include <mpi.h>
#include <stdexcept>
#include <string>
#include <string_view>

#include <Eigen/Core>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/distributed/grid.hpp"

namespace tangent::distributed::detail {

/// Runs `work` on this process, then, collectively over `comm`: if it threw on any process, every
/// process throws the exception of the lowest such rank (std::invalid_argument stays one; any
/// other, std::bad_alloc among them, becomes std::runtime_error), its message followed by that rank
/// when several processes take part.
template <class Work>
void agreed(MPI_Comm comm, Work&& work) {
  std::string message;
  int kind = 0;  // 0: none, 1: std::invalid_argument, 2: any other exception
  try {
    work();
  } catch (const std::invalid_argument& e) {
    message = e.what();
    kind = 1;
  } catch (const std::exception& e) {
    message = e.what();
    kind = 2;
  } catch (...) {
    message = "an exception that is not a std::exception";
    kind = 2;
  }
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const int mine = kind != 0 ? rank : size;
  int first = size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return;
  int header[2] = {kind, static_cast<int>(message.size())};
  MPI_Bcast(header, 2, MPI_INT, first, comm);
  message.resize(static_cast<std::size_t>(header[1]));
  MPI_Bcast(message.data(), header[1], MPI_CHAR, first, comm);
  if (size > 1) message += " (found on rank " + std::to_string(first) + ")";
  if (header[0] == 1) throw std::invalid_argument(message);
  throw std::runtime_error(message);
}

/// Checks, collectively, that every process passed the same `x` (its shape, then every bit:
/// process 0's copy is broadcast and compared, N × d values, cheap next to any kernel), after
/// `local_check(x)` on each process.
template <class D, class LocalCheck>
void require_replicated(const Grid& grid, std::string_view function, std::string_view name,
                        const Eigen::MatrixBase<D>& x, LocalCheck&& local_check) {
  agreed(grid.comm(), [&] { local_check(x); });
  const long long mine[2] = {static_cast<long long>(x.rows()), static_cast<long long>(x.cols())};
  long long first[2] = {mine[0], mine[1]};
  MPI_Bcast(first, 2, MPI_LONG_LONG, 0, grid.comm());
  agreed(grid.comm(), [&] {
    if (mine[0] != first[0] || mine[1] != first[1]) {
      tangent::detail::fail(
          function, std::string(name) + " is " + std::to_string(mine[0]) + " × " +
                        std::to_string(mine[1]) + " on rank " + std::to_string(grid.rank()) +
                        " but " + std::to_string(first[0]) + " × " + std::to_string(first[1]) +
                        " on rank 0; pass the same inputs on every process");
    }
  });
  Matrix<double> copy;
  Matrix<double> reference;
  agreed(grid.comm(), [&] {
    copy = x.template cast<double>();
    reference = copy;
  });
  // In pieces of at most 2^30 values: MPI counts are int.
  constexpr Index piece = Index{1} << 30;
  for (Index start = 0; start < reference.size(); start += piece) {
    MPI_Bcast(reference.data() + start, static_cast<int>(std::min(piece, reference.size() - start)),
              MPI_DOUBLE, 0, grid.comm());
  }
  agreed(grid.comm(), [&] {
    // An empty matrix (no initial outputs) has no data pointer, which memcmp must not see.
    if (copy.size() > 0 &&
        std::memcmp(copy.data(), reference.data(),
                    static_cast<std::size_t>(copy.size()) * sizeof(double)) != 0) {
      tangent::detail::fail(function, std::string(name) + " on rank " +
                                          std::to_string(grid.rank()) +
                                          " differs from rank 0's copy; pass the same inputs on "
                                          "every process");
    }
  });
}

}  // namespace tangent::distributed::detail
