// Choosing w_std, b_std and the ridge of NNGP regression on Fashion-MNIST, five ways, for a
// ReLU and an Erf network of each depth:
// The hidden layers share one (w_std, b_std) (a repeated block); the readout is
// Dense{.w_std = 1, .b_std = 0.1} throughout (with ReLU, a readout scale and the hidden scale
// trade off exactly, so fitting both would wander along a flat valley).
//   default   w_std = 1, b_std = 0.1, ridge 1e-4 (relative to the mean diagonal);
//   grid LML  a grid of (w_std, b_std) times a grid of ridges: the point of highest marginal
//             likelihood (one eigendecomposition per (w_std, b_std) gives every ridge's
//             likelihood and leave-one-out error: leave_one_out);
//   grid LOO  the same grid, the point of lowest exact leave-one-out error;
//   fit LML   fit_hyperparameters from the default: (w_std, b_std) and the ridge, by L-BFGS on
//             exact gradients of the marginal likelihood;
//   fit LOO   the same, minimising the exact leave-one-out error.
// For each: the hyperparameters, the marginal likelihood per training output, the test
// accuracy of the NNGP posterior mean, and the seconds it took. Then, for the ReLU network of
// depth 3 (or the deepest asked for, if less), the marginal likelihood surface over (w_std,
// b_std) at the grid's ridge, and the path of a fit of those two at that ridge.
//
//   build/examples/model_selection                # 2,000 images, depths 1-5: about 16 minutes
//   build/examples/model_selection --depths 1 --n-train 1000      # a few minutes
// Most of the time is the fits' kernel derivatives and likelihood gradients (0.3-0.6 s per
// evaluation at N = 2,000 for ReLU, growing with depth; the Erf fits drive the ridge towards 0,
// where K̃ can be too ill-conditioned for Cholesky and each likelihood takes the slower
// eigendecomposition route) and the grid's eigendecompositions.
//
// Writes <out-dir>/model_selection.csv, model_selection_accuracy.csv,
// model_selection_surface.csv, model_selection_path.csv and model_selection.png.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include <tangent/data.hpp>
#include <tangent/tangent.hpp>

#include "support/cli.hpp"
#include "support/measure.hpp"
#include "support/plot.hpp"

namespace {

using Eigen::Index;
using Eigen::MatrixXd;

struct Settings {
  std::string data_dir = tangent::data::fashion_mnist_dir().string();
  long n_train = 2000;
  long n_test = 2000;
  int pool = 2;
  std::vector<int> depths{1, 2, 3, 4, 5};
  int grid = 4;
  int surface = 15;
  examples::CommonOptions common;
};

struct Row {
  std::string activation{};
  int depth = 0;
  std::string method{};
  double w_std = 0;
  double b_std = 0;
  double ridge = 0;
  double lml_per_output = 0;  ///< log p(Y)/(N·k)
  double loo_error = std::numeric_limits<double>::quiet_NaN();
  double accuracy = 0;
  double seconds = 0;
  std::string note{};
};

/// `depth` blocks (Dense, activation) sharing one (w_std, b_std), then a fixed Dense readout.
template <class A>
auto network(int depth, double w_std, double b_std) {
  return tangent::serial(
      tangent::repeat(tangent::serial(tangent::Dense{.w_std = w_std, .b_std = b_std}, A{}), depth),
      tangent::Dense{.w_std = 1.0, .b_std = 0.1});
}

/// The hidden layers' (w_std, b_std): the repeated Dense, the network's first layer.
bool hidden_dense(const tangent::Hyperparameter& h) {
  return h.position == 1;
}

struct Data {
  MatrixXd x;
  MatrixXd y;
  MatrixXd x_test;
  std::vector<int> test_labels;
};

/// Test accuracy of the NNGP posterior mean (ridge regression at t = ∞).
template <class Net>
double test_accuracy(const Net& net, const Data& d, double ridge) {
  const auto flow =
      tangent::gradient_descent_mse(tangent::nngp(net, d.x), d.y, {.diag_reg = ridge});
  return tangent::data::accuracy(
      flow.test(tangent::infinite_time, tangent::nngp(net, d.x_test, d.x)), d.test_labels);
}

/// Geometric grid of n points from lo to hi.
std::vector<double> geometric(double lo, double hi, int n) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = lo * std::pow(hi / lo, i / std::max(1.0, n - 1.0));
  return v;
}

template <class A>
std::vector<Row> select_for(const std::string& name, int depth, const Data& d, const Settings& s) {
  const double outputs = static_cast<double>(d.y.size());
  const std::vector<double> ridges = geometric(1e-6, 1.0, 7);  // relative to the mean diagonal
  std::vector<Row> rows;
  const auto finish = [&](Row r, auto start) {
    r.activation = name;
    r.depth = depth;
    r.seconds = examples::seconds_since(start);
    const auto net = network<A>(depth, r.w_std, r.b_std);
    r.accuracy = test_accuracy(net, d, r.ridge);
    // Every choice's exact leave-one-out error, for comparison (outside its timing).
    if (std::isnan(r.loo_error)) {
      r.loo_error =
          tangent::leave_one_out(tangent::nngp(net, d.x), d.y, std::vector{r.ridge}).error[0];
    }
    rows.push_back(r);
  };
  {
    const auto start = std::chrono::steady_clock::now();
    Row r{.method = "default", .w_std = 1, .b_std = 0.1, .ridge = 1e-4};
    r.lml_per_output =
        tangent::log_marginal_likelihood(tangent::nngp(network<A>(depth, 1, 0.1), d.x), d.y,
                                         {.diag_reg = r.ridge}) /
        outputs;
    finish(r, start);
  }
  {
    const auto start = std::chrono::steady_clock::now();
    Row by_lml{.method = "grid LML", .lml_per_output = -std::numeric_limits<double>::infinity()};
    Row by_loo{.method = "grid LOO", .loo_error = std::numeric_limits<double>::infinity()};
    for (const double w : geometric(0.5, 2.5, s.grid)) {
      for (const double b : geometric(0.02, 1.0, s.grid)) {
        const tangent::LeaveOneOut loo =
            tangent::leave_one_out(tangent::nngp(network<A>(depth, w, b), d.x), d.y, ridges);
        const Index l = loo.best_likelihood;
        const Index e = loo.best_error;
        const double lml = loo.log_marginal_likelihood[l] / outputs;
        if (lml > by_lml.lml_per_output) {
          by_lml = {.method = "grid LML",
                    .w_std = w,
                    .b_std = b,
                    .ridge = loo.diag_reg[l],
                    .lml_per_output = lml,
                    .loo_error = loo.error[l]};
        }
        if (loo.error[e] < by_loo.loo_error) {
          by_loo = {.method = "grid LOO",
                    .w_std = w,
                    .b_std = b,
                    .ridge = loo.diag_reg[e],
                    .lml_per_output = loo.log_marginal_likelihood[e] / outputs,
                    .loo_error = loo.error[e]};
        }
      }
    }
    // One timing for both: they read the same grid.
    const double seconds = examples::seconds_since(start);
    for (Row r : {by_lml, by_loo}) {
      finish(r, std::chrono::steady_clock::now());
      rows.back().seconds = seconds;
    }
  }
  // The fits by each objective, from the default.
  for (const auto& [method, objective] :
       {std::pair{"fit LML", tangent::FitObjective::marginal_likelihood},
        std::pair{"fit LOO", tangent::FitObjective::leave_one_out}}) {
    const auto start = std::chrono::steady_clock::now();
    const auto fit = tangent::fit_hyperparameters(network<A>(depth, 1, 0.1), d.x, d.y,
                                                  {.kernel = tangent::Get::nngp,
                                                   .objective = objective,
                                                   .which = hidden_dense,
                                                   .diag_reg = 1e-4});
    const auto& h = fit.hyperparameters;
    Row r{.method = method,
          .w_std = h[0].value,
          .b_std = h[1].value,
          .ridge = fit.diag_reg,
          .lml_per_output = fit.log_marginal_likelihood / outputs,
          .loo_error = fit.leave_one_out_error,
          .note = std::to_string(fit.trace.size()) + " evaluations" +
                  (fit.converged ? "" : ", " + fit.message)};
    finish(r, start);
  }
  return rows;
}

/// The likelihood over (w_std, b_std) of the ReLU net at the grid's ridge, and the path of a fit of
/// those two from (1, 0.1) at that ridge.
void surface_and_path(int depth, const Row& at, const Data& d, const Settings& s,
                      const std::filesystem::path& out) {
  const double outputs = static_cast<double>(d.y.size());
  std::ofstream surface = examples::open_output(out / "model_selection_surface.csv");
  surface << "w_std,b_std,lml_per_output\n";
  const std::vector<double> ws = geometric(0.4, 3.0, s.surface);
  const std::vector<double> bs = geometric(0.001, 1.5, s.surface);
  for (const double w : ws) {
    for (const double b : bs) {
      const auto net = network<tangent::ReLU>(depth, w, b);
      surface << w << ',' << b << ','
              << tangent::log_marginal_likelihood(tangent::nngp(net, d.x), d.y,
                                                  {.diag_reg = at.ridge}) /
                     outputs
              << '\n';
    }
    surface << '\n';  // gnuplot's pm3d reads blank lines between rows of the grid
  }
  const auto fit = tangent::fit_hyperparameters(
      network<tangent::ReLU>(depth, 1, 0.1), d.x, d.y,
      {.which = hidden_dense, .diag_reg = at.ridge, .fit_diag_reg = false});
  std::ofstream path = examples::open_output(out / "model_selection_path.csv");
  path << "w_std,b_std,lml_per_output\n";
  for (const tangent::FitStep& step : fit.trace) {
    if (!step.error.empty()) continue;
    path << step.values[0] << ',' << step.values[1] << ',' << step.log_marginal_likelihood / outputs
         << '\n';
  }
  std::printf(
      "surface: ReLU depth %d, fit of (w_std, b_std) from (1, 0.1) at the grid's ridge: (%.3f, "
      "%.3f)"
      " after %zu evaluations, %s\n",
      depth, fit.hyperparameters[0].value, fit.hyperparameters[1].value, fit.trace.size(),
      fit.message.c_str());
}

int run(const Settings& s) {
  const tangent::data::LabelledImages train = tangent::data::downsample(
      tangent::data::load_fashion_mnist("train", s.n_train, s.data_dir), s.pool);
  const tangent::data::LabelledImages test = tangent::data::downsample(
      tangent::data::load_fashion_mnist("t10k", s.n_test, s.data_dir), s.pool);
  const int height = train.height;
  const int width = train.width;
  Data d;
  d.x = tangent::data::standardise_rows(train.pixels);
  d.x_test = tangent::data::standardise_rows(test.pixels);
  d.y = tangent::data::one_hot(train.labels, 10);
  d.test_labels = test.labels;
  std::printf(
      "NNGP regression on Fashion-MNIST, %ld training and %ld test images of %dx%d: choosing "
      "w_std, b_std and the ridge\n\n",
      s.n_train, s.n_test, height, width);
  std::printf("%-5s %5s %-9s %7s %7s %9s %10s %9s %8s %8s  %s\n", "act", "depth", "method", "w_std",
              "b_std", "ridge", "lml/out", "loo err", "accuracy", "seconds", "note");
  std::vector<Row> rows;
  for (const int depth : s.depths) {
    for (const std::string name : {"ReLU", "Erf"}) {
      const std::vector<Row> found = name == "ReLU" ? select_for<tangent::ReLU>(name, depth, d, s)
                                                    : select_for<tangent::Erf>(name, depth, d, s);
      for (const Row& r : found) {
        std::printf("%-5s %5d %-9s %7.3f %7.3f %9.2e %10.4f %9.4f %8.4f %8.1f  %s\n",
                    r.activation.c_str(), r.depth, r.method.c_str(), r.w_std, r.b_std, r.ridge,
                    r.lml_per_output, r.loo_error, r.accuracy, r.seconds, r.note.c_str());
        rows.push_back(r);
      }
    }
  }

  const std::filesystem::path out = s.common.out_dir;
  std::ofstream csv = examples::open_output(out / "model_selection.csv");
  csv << "activation,depth,method,w_std,b_std,ridge,lml_per_output,loo_error,test_accuracy,"
         "seconds\n";
  for (const Row& r : rows) {
    csv << r.activation << ',' << r.depth << ',' << r.method << ',' << r.w_std << ',' << r.b_std
        << ',' << r.ridge << ',' << r.lml_per_output << ',' << r.loo_error << ',' << r.accuracy
        << ',' << r.seconds << '\n';
  }
  csv.close();
  // The accuracies by depth, one column per activation and method, for the plot.
  std::ofstream by_depth = examples::open_output(out / "model_selection_accuracy.csv");
  const char* methods[] = {"default", "grid LML", "grid LOO", "fit LML", "fit LOO"};
  by_depth << "depth";
  for (const char* a : {"ReLU", "Erf"}) {
    for (const char* m : methods) by_depth << ',' << a << ' ' << m;
  }
  by_depth << '\n';
  for (const int depth : s.depths) {
    by_depth << depth;
    for (const char* a : {"ReLU", "Erf"}) {
      for (const char* m : methods) {
        for (const Row& r : rows) {
          if (r.depth == depth && r.activation == a && r.method == m) by_depth << ',' << r.accuracy;
        }
      }
    }
    by_depth << '\n';
  }
  by_depth.close();

  // The surface for ReLU at depth 3, or the deepest asked for below it.
  int plot_depth = s.depths.front();
  for (const int depth : s.depths) {
    if (depth <= 3) plot_depth = std::max(plot_depth, depth);
  }
  const auto grid_choice = std::find_if(rows.begin(), rows.end(), [&](const Row& r) {
    return r.activation == "ReLU" && r.depth == plot_depth && r.method == "grid LML";
  });
  surface_and_path(plot_depth, *grid_choice, d, s, out);
  const std::string script =
      "set multiplot layout 1,2\n"
      "set title 'log marginal likelihood per output, ReLU depth " +
      std::to_string(plot_depth) +
      " (ridge fixed)'\n"
      "set xlabel 'w_std (hidden layers)'\nset ylabel 'b_std (hidden layers)'\n"
      "set logscale xy\nset xrange [0.4:3]\nset yrange [0.001:1.5]\nset view map\n"
      "set pm3d at b\nset key bottom right\n"
      "splot 'model_selection_surface.csv' skip 1 using 1:2:3 with pm3d notitle, "
      "'model_selection_path.csv' skip 1 using 1:2:3 with linespoints lw 2 pt 7 lc rgb 'black' "
      "title 'L-BFGS path (points outside the box clipped)'\n"
      "unset xrange\nunset yrange\nset autoscale xy\n"
      "unset logscale\nunset view\nunset pm3d\nset surface\n"
      "set title 'test accuracy by method'\nset xlabel 'depth (hidden layers)'\n"
      "set ylabel 'test accuracy'\nset key bottom left autotitle columnhead\nset xtics 1\n"
      // Half a depth either side, so that a run of one depth still has an x range.
      "set xrange [" +
      std::to_string(*std::min_element(s.depths.begin(), s.depths.end()) - 0.5) + ":" +
      std::to_string(*std::max_element(s.depths.begin(), s.depths.end()) + 0.5) +
      "]\n"
      "plot for [c=2:11] 'model_selection_accuracy.csv' using 1:c with linespoints\n"
      "unset multiplot\n";
  const bool png = examples::plot_png(out / "model_selection.png", script, 1500, 620);
  std::printf("\nwrote %s%s\n", (out / "model_selection.csv").c_str(),
              png ? (", " + (out / "model_selection.png").string()).c_str() : "");

  if (s.common.check) {
    // The fits start from the default and only improve their objective; NNGP regression beats
    // chance by far.
    bool ok = true;
    for (std::size_t i = 0; i + 4 < rows.size(); i += 5) {
      const Row& def = rows[i];
      const Row& by_lml = rows[i + 3];
      const Row& by_loo = rows[i + 4];
      // The fits' values come from their own sweep and factorisation, the default's from
      // nngp() and leave_one_out(): equal up to rounding where a fit barely moved.
      ok = ok &&
           by_lml.lml_per_output >= def.lml_per_output - 1e-9 * std::abs(def.lml_per_output) &&
           by_loo.loo_error <= def.loo_error * (1 + 1e-9) && by_lml.accuracy > 0.5 &&
           by_loo.accuracy > 0.5 && def.accuracy > 0.5;
    }
    if (!ok) std::fprintf(stderr, "model_selection --check: a fit is below its start\n");
    return ok ? 0 : 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{
      "Choosing w_std, b_std and the ridge of NNGP regression on Fashion-MNIST: defaults, a "
      "grid by marginal likelihood and by leave-one-out, and fit_hyperparameters (L-BFGS)."};
  app.add_option("--data-dir", s.data_dir, "folder with the *-idx?-ubyte.gz files")
      ->capture_default_str();
  app.add_option("--n-train", s.n_train, "training images (first ones of the train split)")
      ->capture_default_str()
      ->check(CLI::Range(20L, 60000L));
  app.add_option("--n-test", s.n_test, "test images (first ones of the t10k split)")
      ->capture_default_str()
      ->check(CLI::Range(1L, 10000L));
  app.add_option("--pool", s.pool, "average pixels in f×f blocks (1: full 28×28)")
      ->capture_default_str()
      ->check(CLI::IsMember({1, 2, 4, 7}));
  app.add_option("--depths", s.depths, "comma-separated numbers of hidden layers")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(1, 50));
  app.add_option("--grid", s.grid, "grid points per hyperparameter (w_std and b_std)")
      ->capture_default_str()
      ->check(CLI::Range(2, 30));
  app.add_option("--surface", s.surface, "surface points per axis in the plot")
      ->capture_default_str()
      ->check(CLI::Range(3, 60));
  examples::add_output_options(app, s.common,
                               "every fit ends at least as good as its start and beats 50% "
                               "test accuracy (the ctest smoke test)",
                               "the CSV files and the plot");
  CLI11_PARSE(app, argc, argv);
  return examples::run_example("model_selection", [&] { return run(s); });
}
