// A scaling law of kernel regression on Fashion-MNIST: the test accuracy and MSE of NNGP and NTK
// regression (t = ∞, ridge diag_reg) of a depth-3 ReLU network as the training set grows, on the
// MPI processes of this machine or of a cluster, unchanged. The kernels are spread block-cyclically
// over the processes (tangent::distributed), solved by ScaLAPACK's Cholesky; no process holds an
// N × N matrix. For each N and kernel: the seconds of the kernels and of the solve, and the peak
// memory of the largest process; at the end the exponent of the test MSE's power law in N
// (least squares on log MSE against log N), and a log-log plot with the fitted lines.
//
//   mpirun -np 2 build/examples/scaling_law                            # N = 1,000 … 20,000
//   mpirun -np 2 build/examples/scaling_law --sizes 1000,2000,5000,10000,20000,40000
//
// Memory per process ≈ 8·N²/processes (the train kernel) + 8·N·N_test/processes (the test-train
// kernel) + the replicated images: N = 40,000 with 5,000 test images is 6.4 + 0.8 GB on each of
// two processes. Writes <out-dir>/scaling_law.csv and scaling_law.png (process 0).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <malloc.h>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <tangent/data.hpp>
#include <tangent/distributed.hpp>
#include <tangent/tangent.hpp>

#include "support/cli.hpp"
#include "support/plot.hpp"

namespace {

using Eigen::Index;
using Eigen::MatrixXd;
namespace td = tangent::distributed;

struct Settings {
  std::string data_dir = tangent::data::fashion_mnist_dir().string();
  std::vector<long> sizes{1000, 2000, 5000, 10000, 20000};
  long n_test = 5000;
  std::vector<std::string> kernels{"nngp", "ntk"};
  double ridge = 1e-4;
  examples::CommonOptions common;
};

struct Row {
  long n = 0;
  std::string kernel;
  double kernel_seconds = 0;
  double solve_seconds = 0;
  double accuracy = 0;
  double mse = 0;
  double peak_bytes = 0;  ///< the largest process's peak resident memory so far
};

/// The largest peak resident memory (VmHWM) over the processes.
double peak_bytes(const td::Grid& grid) {
  std::ifstream in("/proc/self/status");
  std::string key;
  double mine = 0;
  while (in >> key) {
    if (key == "VmHWM:") {
      in >> mine;
      mine *= 1024;
      break;
    }
  }
  double largest = 0;
  MPI_Allreduce(&mine, &largest, 1, MPI_DOUBLE, MPI_MAX, grid.comm());
  return largest;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Least-squares slope of log y against log x: the exponent of y ∝ x^slope.
double log_log_slope(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double lx = std::log(x[i]);
    const double ly = std::log(y[i]);
    sx += lx;
    sy += ly;
    sxx += lx * lx;
    sxy += lx * ly;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

int run(const Settings& s) {
  const td::Grid grid(MPI_COMM_WORLD);
  const bool root = grid.rank() == 0;
  std::vector<long> sizes = s.sizes;
  std::sort(sizes.begin(), sizes.end());
  const long largest = sizes.back();
  const tangent::data::LabelledImages train =
      tangent::data::load_fashion_mnist("train", largest, s.data_dir);
  const tangent::data::LabelledImages test =
      tangent::data::load_fashion_mnist("t10k", s.n_test, s.data_dir);
  const MatrixXd x = tangent::data::standardise_rows(train.pixels);
  const MatrixXd x_test = tangent::data::standardise_rows(test.pixels);
  const MatrixXd y = tangent::data::one_hot(train.labels, 10, {.centred = true});
  const MatrixXd y_test = tangent::data::one_hot(test.labels, 10, {.centred = true});
  const auto net =
      tangent::serial(tangent::Dense{.width = 1, .w_std = 1.4, .b_std = 0.1}, tangent::ReLU{},
                      tangent::Dense{.width = 1, .w_std = 1.4, .b_std = 0.1}, tangent::ReLU{},
                      tangent::Dense{.width = 1, .w_std = 1.4, .b_std = 0.1});
  if (root) {
    std::printf(
        "Kernel regression at t = inf on Fashion-MNIST, depth-3 ReLU net, %ld test images, "
        "diag_reg %g, %d processes (%d x %d grid)\n\n%7s %6s %9s %9s %9s %9s %12s\n",
        s.n_test, s.ridge, grid.size(), grid.rows(), grid.cols(), "N", "kernel", "kernel s",
        "solve s", "accuracy", "test MSE", "peak GB/proc");
  }
  std::vector<Row> rows;
  for (const long n : sizes) {
    const MatrixXd x_n = x.topRows(n);
    const MatrixXd y_n = y.topRows(n);
    for (const std::string& kernel : s.kernels) {
      const bool ntk = kernel == "ntk";
      Row row{.n = n, .kernel = ntk ? "NTK" : "NNGP"};
      malloc_trim(0);
      const auto start = std::chrono::steady_clock::now();
      td::BlockCyclicMatrix k = ntk ? td::ntk(net, x_n, grid) : td::nngp(net, x_n, grid);
      const td::BlockCyclicMatrix k_test =
          ntk ? td::ntk(net, x_test, x_n, grid) : td::nngp(net, x_test, x_n, grid);
      row.kernel_seconds = seconds_since(start);
      const auto solve = std::chrono::steady_clock::now();
      auto predictor = td::gradient_descent_mse(std::move(k), y_n, {.diag_reg = s.ridge});
      const MatrixXd mean = predictor.test(tangent::infinite_time, k_test);
      row.solve_seconds = seconds_since(solve);
      row.accuracy = tangent::data::accuracy(mean, test.labels);
      row.mse = tangent::data::mean_squared_error(mean, y_test);
      row.peak_bytes = peak_bytes(grid);
      if (root) {
        std::printf("%7ld %6s %9.1f %9.1f %9.4f %9.5f %12.2f\n", n, row.kernel.c_str(),
                    row.kernel_seconds, row.solve_seconds, row.accuracy, row.mse,
                    row.peak_bytes / 1e9);
      }
      rows.push_back(row);
    }
  }

  // Per kernel (NNGP, NTK): the exponent of the MSE's power law and the line through the
  // geometric mean of its points, where it has two sizes or more.
  const char* names[2] = {"NNGP", "NTK"};
  bool fitted[2] = {false, false};
  double exponents[2] = {0, 0};
  double centre_n[2] = {0, 0};
  double centre_mse[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    std::vector<double> ns;
    std::vector<double> mses;
    for (const Row& r : rows) {
      if (r.kernel != names[k]) continue;
      ns.push_back(static_cast<double>(r.n));
      mses.push_back(r.mse);
      centre_n[k] += std::log(static_cast<double>(r.n));
      centre_mse[k] += std::log(r.mse);
    }
    fitted[k] = ns.size() >= 2;
    if (!fitted[k]) continue;
    exponents[k] = log_log_slope(ns, mses);
    centre_n[k] /= static_cast<double>(ns.size());
    centre_mse[k] /= static_cast<double>(ns.size());
  }
  if (root) {
    std::printf("\n");
    for (int k = 0; k < 2; ++k) {
      if (fitted[k]) std::printf("test MSE ~ N^%.3f (%s)\n", exponents[k], names[k]);
    }
    const std::filesystem::path out = s.common.out_dir;
    std::ofstream csv = examples::open_output(out / "scaling_law.csv");
    csv << "n_train,kernel,processes,kernel_seconds,solve_seconds,accuracy,test_mse,"
           "peak_bytes_per_process\n";
    for (const Row& r : rows) {
      csv << r.n << ',' << r.kernel << ',' << grid.size() << ',' << r.kernel_seconds << ','
          << r.solve_seconds << ',' << r.accuracy << ',' << r.mse << ',' << r.peak_bytes << '\n';
    }
    csv.close();
    std::string script =
        "set logscale xy\nset xlabel 'training images N'\n"
        "set ylabel 'test MSE (centred one-hot)'\nset key top right\nset grid\n"
        "set title 'Kernel regression on Fashion-MNIST, depth-3 ReLU'\nplot ";
    for (int k = 0; k < 2; ++k) {
      char line[320];
      std::snprintf(line, sizeof line,
                    "%s'scaling_law.csv' using (strcol(2) eq '%s' ? $1 : 1/0):7 with points pt %d "
                    "title '%s'",
                    k == 0 ? "" : ", ", names[k], k == 0 ? 7 : 5, names[k]);
      script += line;
      if (fitted[k]) {
        std::snprintf(line, sizeof line, ", exp(%.6g + %.6g*(log(x) - %.6g)) title 'N^{%.2f}'",
                      centre_mse[k], exponents[k], centre_n[k], exponents[k]);
        script += line;
      }
    }
    examples::plot_png(out / "scaling_law.png", script + "\n");
    std::printf("wrote %s\n", (out / "scaling_law.csv").c_str());
  }

  if (s.common.check) {
    // More data never hurts ridge regression much, and 10 classes are far above chance.
    bool ok = true;
    for (const Row& r : rows) ok = ok && r.accuracy > 0.5 && std::isfinite(r.mse);
    for (int k = 0; k < 2; ++k) ok = ok && (!fitted[k] || exponents[k] < 0);
    if (!ok && root) std::fprintf(stderr, "check failed: accuracy or the MSE's trend\n");
    return ok ? 0 : 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  Settings s;
  CLI::App app{
      "Test accuracy and MSE of NNGP and NTK regression on Fashion-MNIST as the training set "
      "grows, on MPI processes (tangent::distributed), with the fitted power law."};
  app.add_option("--data-dir", s.data_dir, "folder with the *-idx?-ubyte.gz files")
      ->capture_default_str();
  app.add_option("--sizes", s.sizes, "comma-separated training-set sizes")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(10L, 60000L));
  app.add_option("--n-test", s.n_test, "test images (first ones of the t10k split)")
      ->capture_default_str()
      ->check(CLI::Range(1L, 10000L));
  app.add_option("--kernels", s.kernels, "comma-separated: nngp, ntk")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::IsMember({"nngp", "ntk"}));
  app.add_option("--ridge", s.ridge, "diag_reg, relative to the mean of the kernel's diagonal")
      ->capture_default_str()
      ->check(CLI::Range(1e-12, 1e6));
  examples::add_output_options(app, s.common,
                               "every accuracy beats 50% and both MSEs fall with N (the ctest "
                               "smoke test)");
  int status = 0;
  try {
    app.parse(argc, argv);
    status = examples::run_example("scaling_law", [&] { return run(s); });
  } catch (const CLI::ParseError& e) {
    status = app.exit(e);
  }
  MPI_Finalize();
  return status;
}
