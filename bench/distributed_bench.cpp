// Times of tangent::distributed on this machine's processes: the kernels of a depth-3 ReLU
// network on N × 784 inputs, then test predictions at t = ∞ by three solves (Cholesky, conjugate
// gradients on the double kernel and on the same kernel rounded to float, diag_reg 1e-4,
// tolerance 1e-8; float storage's error in α and in the test means against the double CG) and at
// a finite time (eigendecomposition), and the ensemble's test means and covariances in both modes
// at a finite time (gradient_descent_mse_ensemble: two eigendecompositions and the NNGP in the
// NTK's eigenbasis; both skipped with --no-eigen), with the largest local part of one
// N × N matrix in double and in float. With one process it also times tangent::kernels, the
// single-process sweep on the same threads. After the sizes, the solves' models fitted by least
// squares over them: Cholesky t = c·N³, CG t = c·N²·iterations (a product per iteration), with the
// worst deviation of a size from its model, and the exponent of t ∝ N^p.
// With --cnn, only the kernels of a convolutional network on N images (Myrtle-style: three 3 × 3
// convolutions with ReLU, average pooling, global average pooling; 8 × 8 × 3), against
// tangent::kernels with one process.
//   mpirun -np 2 distributed_bench [--smoke] [--no-eigen] [N ...]   (default N: 2000 4000)
//   OMP_NUM_THREADS=2 mpirun -np 1 distributed_bench [N ...]        (same cores, one process)
//   mpirun -np 2 distributed_bench --cnn [N ...]                    (default N: 128 256)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
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

/// One solve's times over the sizes, and the work its model says each size costs.
struct SolveTimes {
  const char* name;
  const char* model;
  std::vector<double> n{};
  std::vector<double> times{};
  std::vector<double> work{};

  /// t = c·work by least squares through the origin (each size weighted by its relative error:
  /// c is the mean of t/work), the worst |t/(c·work) − 1|, and the exponent of t ∝ N^p.
  void report() const {
    if (n.size() < 2) return;
    double c = 0;
    for (std::size_t i = 0; i < n.size(); ++i) c += times[i] / work[i];
    c /= static_cast<double>(n.size());
    double worst = 0;
    for (std::size_t i = 0; i < n.size(); ++i) {
      worst = std::max(worst, std::abs(times[i] / (c * work[i]) - 1));
    }
    // The exponent of t ∝ N^p: the least-squares slope of log t on log N, centred.
    double mean_x = 0;
    double mean_y = 0;
    for (std::size_t i = 0; i < n.size(); ++i) {
      mean_x += std::log(n[i]);
      mean_y += std::log(times[i]);
    }
    mean_x /= static_cast<double>(n.size());
    mean_y /= static_cast<double>(n.size());
    double sxy = 0;
    double sxx = 0;
    for (std::size_t i = 0; i < n.size(); ++i) {
      sxy += (std::log(n[i]) - mean_x) * (std::log(times[i]) - mean_y);
      sxx += (std::log(n[i]) - mean_x) * (std::log(n[i]) - mean_x);
    }
    const double exponent = sxy / sxx;
    std::printf("%-9s t = %.3e s x %-16s worst deviation %4.0f%%, t ~ N^%.2f\n", name, c, model,
                100 * worst, exponent);
  }
};

/// --cnn: the distributed kernels of a CNN on images, and with one process the single-process ones.
void convolutional_kernels(const std::vector<tangent::Index>& sizes) {
  namespace td = tangent::distributed;
  using tangent::Conv;
  using tangent::Padding;
  using tangent::ReLU;
  const auto cnn =
      tangent::serial(Conv{.channels = 16, .filter = {3, 3}, .padding = Padding::same}, ReLU{},
                      Conv{.channels = 16, .filter = {3, 3}, .padding = Padding::same}, ReLU{},
                      tangent::AvgPool{.window = {2, 2}},
                      Conv{.channels = 16, .filter = {3, 3}, .padding = Padding::same}, ReLU{},
                      tangent::GlobalAvgPool{}, tangent::Dense{.width = 1});
  const td::Grid grid(MPI_COMM_WORLD);
  if (grid.rank() == 0) std::printf("processes,grid,N,image,kernels_s,single_process_kernels_s\n");
  for (const tangent::Index n : sizes) {
    const tangent::Matrix<double> pixels = normal_matrix(n, 8 * 8 * 3, 4);
    const auto images = tangent::images(pixels, 8, 8, 3);
    const double distributed = seconds(grid.comm(), [&] { (void)td::kernels(cnn, images, grid); });
    double single = 0;
    if (grid.size() == 1)
      single = seconds(grid.comm(), [&] { (void)tangent::kernels(cnn, images); });
    if (grid.rank() == 0) {
      std::printf("%d,%dx%d,%ld,8x8x3,%.3f,%.3f\n", grid.size(), grid.rows(), grid.cols(),
                  static_cast<long>(n), distributed, single);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  std::vector<tangent::Index> sizes;
  tangent::Index features = 784;
  bool eigen_route = true;
  bool cnn = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--cnn") == 0) {
      cnn = true;
    } else if (std::strcmp(argv[i], "--smoke") == 0) {
      sizes = {64, 96};
      features = 8;
    } else if (std::strcmp(argv[i], "--no-eigen") == 0) {
      eigen_route = false;
    } else {
      sizes.push_back(std::atol(argv[i]));
    }
  }
  if (cnn) {
    convolutional_kernels(sizes.empty() ? std::vector<tangent::Index>{128, 256} : sizes);
    MPI_Finalize();
    return 0;
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
          "processes,grid,N,d,kernels_s,single_process_kernels_s,t_inf_cholesky_s,t_inf_cg_s,"
          "cg_iterations,t_inf_cg_float_s,cg_float_iterations,float_alpha_difference,"
          "float_mean_difference,t_finite_eigen_s,t_ensemble_cov_s,local_matrix_MB,"
          "local_float_matrix_MB\n");
    }
    SolveTimes cholesky_times{"cholesky", "N^3"};
    SolveTimes cg_times{"cg", "N^2 iterations"};
    SolveTimes float_times{"cg-float", "N^2 iterations"};
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
      const tangent::CgOptions cg_options{.diag_reg = 1e-4, .tolerance = 1e-8};
      tangent::CgSolution cg;
      tangent::Matrix<double> mean;
      const double cg_time = seconds(grid.comm(), [&] {
        cg = td::conjugate_gradient(k->ntk, y, cg_options);
        mean = td::predict_mean(k_test.ntk, cg);
      });
      const td::BlockCyclicMatrix copy = k->ntk;
      double finite = std::numeric_limits<double>::quiet_NaN();
      double ensemble_time = std::numeric_limits<double>::quiet_NaN();
      if (eigen_route) {
        {
          auto eigen = td::gradient_descent_mse(td::BlockCyclicMatrix(copy), y, {.diag_reg = 1e-4});
          finite = seconds(grid.comm(), [&] { (void)eigen.test(10.0, k_test.ntk); });
        }
        const td::BlockCyclicMatrix nngp_test_test = td::nngp(net, test, grid);
        td::Kernels both{k->nngp, copy};  // copied before the clock starts
        ensemble_time = seconds(grid.comm(), [&] {
          auto ensemble = td::gradient_descent_mse_ensemble(std::move(both), y, {.diag_reg = 1e-4});
          (void)ensemble.predict(10.0, k_test, nngp_test_test);
        });
      }
      auto cholesky = td::gradient_descent_mse(std::move(k->ntk), y, {.diag_reg = 1e-4});
      const double infinite =
          seconds(grid.comm(), [&] { (void)cholesky.test(tangent::infinite_time, k_test.ntk); });
      k.reset();
      // The float kernel as ntk<float> stores it: the double one rounded once.
      const td::BasicBlockCyclicMatrix<float> k_float = copy.cast<float>();
      const td::BasicBlockCyclicMatrix<float> k_test_float = k_test.ntk.cast<float>();
      tangent::CgSolution cg_float;
      tangent::Matrix<double> mean_float;
      const double float_time = seconds(grid.comm(), [&] {
        cg_float = td::conjugate_gradient(k_float, y, cg_options);
        mean_float = td::predict_mean(k_test_float, cg_float);
      });
      // Float storage's error: α and the test means against the double kernel's CG.
      const double alpha_difference = (cg_float.weights - cg.weights).norm() / cg.weights.norm();
      const double mean_difference =
          (mean_float - mean).cwiseAbs().maxCoeff() / mean.cwiseAbs().maxCoeff();
      const double local_float_mb = static_cast<double>(k_float.local().size()) * 4e-6;
      const double size = static_cast<double>(n);
      cholesky_times.n.push_back(size);
      cholesky_times.times.push_back(infinite);
      cholesky_times.work.push_back(size * size * size);
      cg_times.n.push_back(size);
      cg_times.times.push_back(cg_time);
      cg_times.work.push_back(size * size * static_cast<double>(cg.iterations));
      float_times.n.push_back(size);
      float_times.times.push_back(float_time);
      float_times.work.push_back(size * size * static_cast<double>(cg_float.iterations));
      double largest_mb[2] = {0, 0};
      const double mine[2] = {local_mb, local_float_mb};
      MPI_Reduce(mine, largest_mb, 2, MPI_DOUBLE, MPI_MAX, 0, grid.comm());
      if (grid.rank() == 0) {
        std::printf(
            "%d,%dx%d,%ld,%ld,%.3f,%.3f,%.3f,%.3f,%ld,%.3f,%ld,%.2e,%.2e,%.3f,%.3f,%.1f,%.1f\n",
            grid.size(), grid.rows(), grid.cols(), static_cast<long>(n),
            static_cast<long>(features), kernel_time, single, infinite, cg_time,
            static_cast<long>(cg.iterations), float_time, static_cast<long>(cg_float.iterations),
            alpha_difference, mean_difference, finite, ensemble_time, largest_mb[0], largest_mb[1]);
      }
    }
    if (grid.rank() == 0) {
      cholesky_times.report();
      cg_times.report();
      float_times.report();
    }
  }
  MPI_Finalize();
  return 0;
}
