// Times of tangent::distributed on this machine's processes: the kernels of a depth-3 ReLU
// network on N × 784 inputs, then test predictions at t = ∞ (Cholesky route) and at a finite
// time (eigendecomposition route), with the largest local part of one N × N matrix. With one
// process it also times tangent::kernels, the single-process sweep on the same threads.
//   mpirun -np 2 distributed_bench [--smoke] [N ...]           (default N: 2000 4000)
//   OMP_NUM_THREADS=2 mpirun -np 1 distributed_bench [N ...]    (same cores, one process)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <vector>

#include "tangent/distributed.hpp"
#include "tangent/tangent.hpp"

namespace {

tangent::Matrix<double> normal_matrix(tangent::Index rows, tangent::Index cols, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  tangent::Matrix<double> x(rows, cols);
  for (tangent::Index c = 0; c < cols; ++c) {
    for (tangent::Index r = 0; r < rows; ++r) x(r, c) = normal(rng);
  }
  return x;
}

template <class Work>
double seconds(MPI_Comm comm, Work&& work) {
  MPI_Barrier(comm);
  const double start = MPI_Wtime();
  work();
  MPI_Barrier(comm);
  return MPI_Wtime() - start;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  std::vector<tangent::Index> sizes;
  tangent::Index features = 784;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      sizes = {64};
      features = 8;
    } else {
      sizes.push_back(std::atol(argv[i]));
    }
  }
  if (sizes.empty()) sizes = {2000, 4000};
  namespace td = tangent::distributed;
  const auto net = tangent::serial(tangent::Dense{.width = 512, .w_std = 1.4, .b_std = 0.1},
                                   tangent::ReLU{}, tangent::Dense{.width = 512, .w_std = 1.4},
                                   tangent::ReLU{}, tangent::Dense{.width = 1});
  {
    const td::Grid grid(MPI_COMM_WORLD);
    if (grid.rank() == 0) {
      std::printf(
          "processes,grid,N,d,kernels_s,single_process_kernels_s,t_inf_cholesky_s,"
          "t_finite_eigen_s,local_matrix_MB\n");
    }
    for (const tangent::Index n : sizes) {
      const tangent::Matrix<double> x = normal_matrix(n, features, 1);
      const tangent::Matrix<double> test = normal_matrix(100, features, 2);
      const tangent::Matrix<double> y = normal_matrix(n, 10, 3);
      std::optional<td::Kernels> k;
      const double kernel_time =
          seconds(grid.comm(), [&] { k.emplace(td::kernels(net, x, grid)); });
      double single = 0;
      if (grid.size() == 1) single = seconds(grid.comm(), [&] { (void)tangent::kernels(net, x); });
      const td::Kernels k_test = td::kernels(net, test, x, grid);
      const double local_mb = static_cast<double>(k->ntk.local().size()) * 8e-6;
      td::BlockCyclicMatrix copy = k->ntk;
      auto cholesky = td::gradient_descent_mse(std::move(k->ntk), y, {.diag_reg = 1e-4});
      const double infinite =
          seconds(grid.comm(), [&] { (void)cholesky.test(tangent::infinite_time, k_test.ntk); });
      auto eigen = td::gradient_descent_mse(std::move(copy), y, {.diag_reg = 1e-4});
      const double finite = seconds(grid.comm(), [&] { (void)eigen.test(10.0, k_test.ntk); });
      double largest_mb = 0;
      MPI_Reduce(&local_mb, &largest_mb, 1, MPI_DOUBLE, MPI_MAX, 0, grid.comm());
      if (grid.rank() == 0) {
        std::printf("%d,%dx%d,%ld,%ld,%.3f,%.3f,%.3f,%.3f,%.1f\n", grid.size(), grid.rows(),
                    grid.cols(), static_cast<long>(n), static_cast<long>(features), kernel_time,
                    single, infinite, finite, largest_mb);
      }
    }
  }
  MPI_Finalize();
  return 0;
}
