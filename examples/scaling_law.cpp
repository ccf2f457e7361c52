// A scaling law of kernel regression on Fashion-MNIST: the test accuracy and MSE of NNGP and NTK
// regression (t = ∞, ridge diag_reg) of a depth-3 ReLU network as the training set grows, on the
// MPI processes of this machine or of a cluster, unchanged. The kernels are spread block-cyclically
// over the processes (tangent::distributed); no process holds an N × N matrix. Routes:
//   cholesky  the double kernel, ScaLAPACK's Cholesky (8·N² bytes over the processes)
//   cg        the double kernel, preconditioned conjugate gradients
//             (distributed::conjugate_gradient)
//   cg-float  the kernel stored as float, ntk<float>(net, x, grid), CG accumulating in double:
//             4·N² bytes, so N = 60,000 fits in 14.4 GB (7.2 GB on each of two processes)
// For each N, kernel and route: the seconds of the kernels and of the solve, CG's iterations, and
// the peak memory of the largest process; at the end the exponent of the test MSE's power law in
// N (least squares on log MSE against log N) per kernel and route, and a log-log plot with the
// fitted lines.
//
//   mpirun -np 2 build/examples/scaling_law                            # N = 1,000 … 20,000
//   mpirun -np 2 build/examples/scaling_law --sizes 40000 --kernels ntk --previous scaling_law.csv
//   mpirun -np 2 build/examples/scaling_law --sizes 60000 --kernels ntk --routes cg-float
//
// --previous takes the rows of an earlier run's CSV into the table, the fits and the plot (a row
// this run measures again is replaced), so that a curve grows by its largest N alone.
// Memory per process ≈ 8·N·(N + N_test)/processes (the train and test-train kernels; 4 bytes an
// entry with cg-float) + the replicated images: N = 40,000 with 5,000 test images is 6.4 + 0.8 GB
// on each of two processes. Writes <out-dir>/scaling_law.csv and scaling_law.png (process 0).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <CLI/CLI.hpp>

#include <tangent/data.hpp>
#include <tangent/distributed.hpp>
#include <tangent/tangent.hpp>

#include "support/cli.hpp"
#include "support/measure.hpp"
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
  std::vector<std::string> routes{"cholesky"};
  double ridge = 1e-4;
  double tolerance = 1e-8;
  std::string previous;
  examples::CommonOptions common;
};

struct Row {
  long n = 0;
  long n_test = 0;
  double ridge = 0;
  double tolerance = 0;  ///< CG's (written for every route: the settings of the run)
  std::string kernel;
  std::string route;
  int processes = 0;
  double kernel_seconds = 0;
  double solve_seconds = 0;
  long iterations = 0;  ///< CG's; 0 for Cholesky
  double accuracy = 0;
  double mse = 0;
  double peak_bytes = 0;  ///< the largest process's peak resident memory in this row's work

  /// The curve the row belongs to: its kernel, and its route unless Cholesky.
  std::string series() const { return route == "cholesky" ? kernel : kernel + " " + route; }
};

constexpr const char* kCsvHeader =
    "n_train,n_test,ridge,tolerance,kernel,route,processes,kernel_seconds,solve_seconds,"
    "iterations,accuracy,test_mse,peak_bytes_per_process";

/// The rows of a CSV this example wrote, which must have been measured with this run's test
/// set, ridge and tolerance: a fit across different settings would mean nothing.
std::vector<Row> read_rows(const std::string& path, const Settings& s) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("--previous: cannot read " + path);
  std::string line;
  if (!std::getline(in, line) || line != kCsvHeader) {
    throw std::runtime_error("--previous: " + path + " is not a CSV of scaling_law (header " +
                             std::string(kCsvHeader) + ")");
  }
  std::vector<Row> rows;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream fields(line);
    for (std::string field; std::getline(fields, field, ',');) f.push_back(field);
    if (f.size() != 13) throw std::runtime_error("--previous: bad row in " + path + ": " + line);
    Row r{.n = std::stol(f[0]),
          .n_test = std::stol(f[1]),
          .ridge = std::stod(f[2]),
          .tolerance = std::stod(f[3]),
          .kernel = f[4],
          .route = f[5],
          .processes = std::stoi(f[6]),
          .kernel_seconds = std::stod(f[7]),
          .solve_seconds = std::stod(f[8]),
          .iterations = std::stol(f[9]),
          .accuracy = std::stod(f[10]),
          .mse = std::stod(f[11]),
          .peak_bytes = std::stod(f[12])};
    if (r.n_test != s.n_test || r.ridge != s.ridge || r.tolerance != s.tolerance) {
      throw std::runtime_error("--previous: " + path + " was measured with --n-test " + f[1] +
                               " --ridge " + f[2] + " --tolerance " + f[3] +
                               "; give this run the same settings");
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

/// The largest of the processes' peak resident memory since `peak` was made.
double largest_peak(const examples::PeakMemory& peak, const td::Grid& grid) {
  double mine = peak.bytes();
  double largest = 0;
  MPI_Allreduce(&mine, &largest, 1, MPI_DOUBLE, MPI_MAX, grid.comm());
  return largest;
}

void print_row(const Row& r) {
  std::printf("%7ld %6s %9s %9.1f %9.1f %6ld %9.4f %9.5f %12.2f\n", r.n, r.kernel.c_str(),
              r.route.c_str(), r.kernel_seconds, r.solve_seconds, r.iterations, r.accuracy, r.mse,
              r.peak_bytes / 1e9);
}

/// Test means of one kernel and route: Row's times and iterations filled in.
template <class Store, class Net>
MatrixXd regress(const Net& net, const MatrixXd& x_n, const MatrixXd& y_n, const MatrixXd& x_test,
                 const td::Grid& grid, bool ntk, const Settings& s, Row& row) {
  const auto start = std::chrono::steady_clock::now();
  td::BasicBlockCyclicMatrix<Store> k =
      ntk ? td::ntk<Store>(net, x_n, grid) : td::nngp<Store>(net, x_n, grid);
  const td::BasicBlockCyclicMatrix<Store> k_test =
      ntk ? td::ntk<Store>(net, x_test, x_n, grid) : td::nngp<Store>(net, x_test, x_n, grid);
  row.kernel_seconds = examples::seconds_since(start);
  const auto solve = std::chrono::steady_clock::now();
  MatrixXd mean;
  if (row.route == "cholesky") {
    // The factorisation needs the double kernel (gradient_descent_mse refuses a float one).
    if constexpr (std::is_same_v<Store, double>) {
      auto predictor = td::gradient_descent_mse(std::move(k), y_n, {.diag_reg = s.ridge});
      mean = predictor.test(tangent::infinite_time, k_test);
    } else {
      throw std::logic_error("the cholesky route takes the double kernel");
    }
  } else {
    const tangent::CgSolution solution =
        td::conjugate_gradient(k, y_n, {.diag_reg = s.ridge, .tolerance = s.tolerance});
    if (!solution.converged && grid.rank() == 0) {
      std::fprintf(stderr, "N = %ld: CG stopped at relative residual %.2g\n", row.n,
                   solution.relative_residuals.maxCoeff());
    }
    row.iterations = solution.iterations;
    mean = td::predict_mean(k_test, solution);
  }
  row.solve_seconds = examples::seconds_since(solve);
  return mean;
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
        "diag_reg %g, %d processes (%d x %d grid)\n\n%7s %6s %9s %9s %9s %6s %9s %9s %12s\n",
        s.n_test, s.ridge, grid.size(), grid.rows(), grid.cols(), "N", "kernel", "route",
        "kernel s", "solve s", "iters", "accuracy", "test MSE", "peak GB/proc");
  }
  // Rows of an earlier run first, in its order; this run's replace those they measure again.
  // Process 0 alone reads, prints and writes them (the file may exist on its machine only);
  // whether it could read them is broadcast, so that a bad file stops every process.
  std::vector<Row> rows;
  int readable = 1;
  if (root && !s.previous.empty()) {
    try {
      rows = read_rows(s.previous, s);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      readable = 0;
    }
  }
  MPI_Bcast(&readable, 1, MPI_INT, 0, grid.comm());
  if (readable == 0) return 1;
  const auto record = [&](const Row& row) {
    std::erase_if(rows, [&](const Row& r) {
      return r.n == row.n && r.kernel == row.kernel && r.route == row.route;
    });
    rows.push_back(row);
  };
  if (root) {
    for (const Row& r : rows) print_row(r);
  }
  for (const long n : sizes) {
    const MatrixXd x_n = x.topRows(n);
    const MatrixXd y_n = y.topRows(n);
    for (const std::string& kernel : s.kernels) {
      for (const std::string& route : s.routes) {
        const bool ntk = kernel == "ntk";
        Row row{.n = n,
                .n_test = s.n_test,
                .ridge = s.ridge,
                .tolerance = s.tolerance,
                .kernel = ntk ? "NTK" : "NNGP",
                .route = route,
                .processes = grid.size()};
        const examples::PeakMemory peak;
        const MatrixXd mean = route == "cg-float"
                                  ? regress<float>(net, x_n, y_n, x_test, grid, ntk, s, row)
                                  : regress<double>(net, x_n, y_n, x_test, grid, ntk, s, row);
        row.accuracy = tangent::data::accuracy(mean, test.labels);
        row.mse = tangent::data::mean_squared_error(mean, y_test);
        row.peak_bytes = largest_peak(peak, grid);
        if (root) print_row(row);
        record(row);
      }
    }
  }

  // Per series (kernel and route): the exponent of the MSE's power law and the line through the
  // geometric mean of its points, where it has two sizes or more.
  struct Fit {
    std::string kernel, route;
    std::vector<double> n, mse;
    double exponent = 0, centre_n = 0, centre_mse = 0;
    bool fitted() const { return n.size() >= 2; }
  };
  std::map<std::string, Fit> fits;
  for (const Row& r : rows) {
    Fit& f = fits[r.series()];
    f.kernel = r.kernel;
    f.route = r.route;
    f.n.push_back(static_cast<double>(r.n));
    f.mse.push_back(r.mse);
    f.centre_n += std::log(static_cast<double>(r.n));
    f.centre_mse += std::log(r.mse);
  }
  for (auto& [series, f] : fits) {
    if (!f.fitted()) continue;
    f.exponent = examples::log_log_slope(f.n, f.mse);
    f.centre_n /= static_cast<double>(f.n.size());
    f.centre_mse /= static_cast<double>(f.n.size());
  }
  if (root) {
    std::printf("\n");
    for (const auto& [series, f] : fits) {
      if (f.fitted()) std::printf("test MSE ~ N^%.3f (%s)\n", f.exponent, series.c_str());
    }
    const std::filesystem::path out = s.common.out_dir;
    std::ofstream csv = examples::open_output(out / "scaling_law.csv");
    csv << kCsvHeader << '\n';
    for (const Row& r : rows) {
      csv << r.n << ',' << r.n_test << ',' << r.ridge << ',' << r.tolerance << ',' << r.kernel
          << ',' << r.route << ',' << r.processes << ',' << r.kernel_seconds << ','
          << r.solve_seconds << ',' << r.iterations << ',' << r.accuracy << ',' << r.mse << ','
          << r.peak_bytes << '\n';
    }
    csv.close();
    std::string script =
        "set logscale xy\nset xlabel 'training images N'\n"
        "set ylabel 'test MSE (centred one-hot)'\nset key top right\nset grid\n"
        "set title 'Kernel regression on Fashion-MNIST, depth-3 ReLU'\nplot ";
    const int point_types[] = {7, 5, 9, 13, 11, 4};
    std::size_t drawn = 0;
    for (const auto& [series, f] : fits) {
      char line[400];
      std::snprintf(line, sizeof line,
                    "%s'scaling_law.csv' using (strcol(5) eq '%s' && strcol(6) eq '%s' ? $1 : "
                    "1/0):12 with points pt %d title '%s'",
                    drawn == 0 ? "" : ", ", f.kernel.c_str(), f.route.c_str(),
                    point_types[drawn % std::size(point_types)], series.c_str());
      ++drawn;
      script += line;
      if (f.fitted()) {
        // Drawn over the sizes it was fitted on only.
        const auto [low, high] = std::minmax_element(f.n.begin(), f.n.end());
        std::snprintf(line, sizeof line,
                      ", (x >= %g && x <= %g ? exp(%.6g + %.6g*(log(x) - %.6g)) : 1/0) "
                      "title 'N^{%.2f}'",
                      *low, *high, f.centre_mse, f.exponent, f.centre_n, f.exponent);
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
    for (const auto& [series, f] : fits) ok = ok && (!f.fitted() || f.exponent < 0);
    // Process 0's verdict, which alone saw an earlier run's rows, is every process's.
    int passed = ok ? 1 : 0;
    MPI_Bcast(&passed, 1, MPI_INT, 0, grid.comm());
    if (passed == 0 && root) std::fprintf(stderr, "check failed: accuracy or the MSE's trend\n");
    return passed == 1 ? 0 : 1;
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
  app.add_option("--routes", s.routes,
                 "comma-separated: cholesky, cg (conjugate gradients), cg-float (CG on the kernel "
                 "stored as float)")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::IsMember({"cholesky", "cg", "cg-float"}));
  app.add_option("--ridge", s.ridge, "diag_reg, relative to the mean of the kernel's diagonal")
      ->capture_default_str()
      ->check(CLI::Range(1e-12, 1e6));
  app.add_option("--tolerance", s.tolerance, "CG's relative residual")
      ->capture_default_str()
      ->check(CLI::Range(1e-14, 1e-2));
  app.add_option("--previous", s.previous,
                 "CSV of an earlier run (read by process 0) whose rows join the table, the fits "
                 "and the plot; it must have this run's --n-test, --ridge and --tolerance");
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
