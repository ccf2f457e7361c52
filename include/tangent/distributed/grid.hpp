#pragma once
/// @file
/// `distributed::Grid`: the processes of an MPI communicator as a rows × cols BLACS process grid,
/// on which every distributed matrix of tangent is laid out block-cyclically (ScaLAPACK's 2-D
/// layout). Process (row, col) is the communicator's rank row·cols + col.

#include <cmath>
#include <stdexcept>
#include <string>

#include "tangent/distributed/scalapack.hpp"

namespace tangent::distributed {

class Grid {
 public:
  /// Every process of `comm` in the most nearly square grid, rows ≤ cols (4 processes: 2 × 2;
  /// 3: 1 × 3). Collective: every process of `comm` constructs it.
  explicit Grid(MPI_Comm comm) : Grid(comm, square_rows(comm), 0) {}

  /// A rows × cols grid; rows·cols must be the communicator's size (cols = 0: size / rows).
  Grid(MPI_Comm comm, int rows, int cols) {
    int size = 0;
    MPI_Comm_size(comm, &size);
    if (cols == 0 && rows > 0) cols = size / rows;
    if (rows < 1 || cols < 1 || rows * cols != size) {
      throw std::invalid_argument("tangent::distributed::Grid: a " + std::to_string(rows) + " × " +
                                  std::to_string(cols) + " grid needs " +
                                  std::to_string(rows * cols) + " processes, but the " +
                                  "communicator has " + std::to_string(size));
    }
    // A communicator of our own: tangent's collectives never match a message of the caller's.
    MPI_Comm_dup(comm, &comm_);
    MPI_Comm_rank(comm_, &rank_);
    size_ = size;
    handle_ = Csys2blacs_handle(comm_);
    context_ = handle_;
    Cblacs_gridinit(&context_, "Row", rows, cols);
    Cblacs_gridinfo(context_, &rows_, &cols_, &row_, &col_);
  }

  Grid(const Grid&) = delete;
  Grid& operator=(const Grid&) = delete;
  ~Grid() {
    Cblacs_gridexit(context_);
    Cfree_blacs_system_handle(handle_);
    MPI_Comm_free(&comm_);
  }

  MPI_Comm comm() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  int rows() const { return rows_; }
  int cols() const { return cols_; }
  /// This process's row and column in the grid.
  int row() const { return row_; }
  int col() const { return col_; }
  /// The BLACS context, for calling ScaLAPACK directly on tangent's matrices.
  int context() const { return context_; }

 private:
  static int square_rows(MPI_Comm comm) {
    int size = 0;
    MPI_Comm_size(comm, &size);
    int rows = static_cast<int>(std::sqrt(static_cast<double>(size)));
    while (rows > 1 && size % rows != 0) --rows;
    return rows;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  int handle_ = 0;
  int context_ = 0;
  int rows_ = 1;
  int cols_ = 1;
  int row_ = 0;
  int col_ = 0;
};

}  // namespace tangent::distributed
