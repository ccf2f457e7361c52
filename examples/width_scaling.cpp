// What changes with width: for one fully connected ReLU architecture at widths 64 … 4096,
//   1. the distance of the empirical NTK at initialisation from the analytic one,
//   2. the relative change of the empirical NTK during training,
//   3. the relative movement of the parameters during training, and
//   4. the gap between the trained network and its linearisation around the initial parameters
//      (gradient flow with the initial empirical NTK), relative to how far the outputs moved.
// All four vanish as the width n grows (Jacot et al. 2018; Lee et al. 2019). The initial
// fluctuation is a central-limit effect, O(1/√n). Lee et al. (Theorem 2.1 and Appendix G)
// bound the NTK's change and the distance from the linearised network by O(1/√n); measured,
// both fall faster, between n^-1/2 and n^-1 (Dyer and Gur-Ari 2019 explain the first-order
// 1/n terms). The parameters as a whole move O(1) while their norm grows like n (an n×n layer
// holds n² weights of size 1), so their relative movement is O(1/n). The plot shows the four
// on log–log axes with 1/√n and 1/n reference lines; the table gives the fitted slopes.
//
//   build/examples/width_scaling               # about two minutes on 2 cores
//   build/examples/width_scaling --widths 64,256,1024 --seeds 5
//   build/examples/width_scaling --help
//
// Writes <out-dir>/width_scaling.csv (one row per width and seed) and width_scaling.png.

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include <tangent/tangent.hpp>

#include "support/cli.hpp"
#include "support/discrete_time.hpp"
#include "support/measure.hpp"
#include "support/plot.hpp"
#include "support/progress.hpp"

namespace {

using Eigen::Index;
using Eigen::MatrixXd;

struct Settings {
  std::vector<Index> widths{64, 128, 256, 512, 1024, 2048, 4096};
  int seeds = 3;
  Index train_points = 16;
  Index test_points = 16;
  Index input_dim = 8;
  long steps = 100;
  examples::CommonOptions common;
};

constexpr std::array<const char*, 4> kQuantities{"NTK at init vs analytic",
                                                 "NTK change in training", "parameter movement",
                                                 "trained net vs linearised"};

/// ‖a − b‖ and ‖b‖ over every weight and bias of two parameter sets of one network.
template <class P>
std::pair<double, double> parameter_distance(const P& a, const P& b) {
  double diff = 0;
  double norm = 0;
  [&]<std::size_t... Is>(std::index_sequence<Is...>) {
    auto add = [&](const auto& pa, const auto& pb) {
      if constexpr (requires { pa.weight; }) {
        diff += (pa.weight - pb.weight).squaredNorm() + (pa.bias - pb.bias).squaredNorm();
        norm += pb.weight.squaredNorm() + pb.bias.squaredNorm();
      }
    };
    (add(tangent::get<Is>(a), tangent::get<Is>(b)), ...);
  }
  (std::make_index_sequence<P::size>{});
  return {std::sqrt(diff), std::sqrt(norm)};
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{
      "What changes with width: empirical vs analytic NTK, NTK and parameter movement during "
      "training, and the distance from the linearised network, at growing widths."};
  examples::add_widths_option(app, "--widths", s.widths, "hidden widths");
  app.add_option("--seeds", s.seeds, "networks per width (results are averaged)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--train-points", s.train_points, "training inputs")
      ->capture_default_str()
      ->check(CLI::Range(Index{2}, Index{100000}));
  app.add_option("--test-points", s.test_points, "test inputs")
      ->capture_default_str()
      ->check(CLI::Range(Index{1}, Index{100000}));
  app.add_option("--steps", s.steps, "gradient descent steps (half the largest stable step)")
      ->capture_default_str()
      ->check(CLI::Range(1L, 10000000L));
  examples::add_common_options(app, s.common,
                               "every quantity shrinks with width at about theory's slope");
  CLI11_PARSE(app, argc, argv);
  examples::sort_widths(s.widths);
  if (s.widths.size() < 2) {
    std::fprintf(stderr, "width_scaling: --widths needs at least two widths to fit a slope\n");
    return 2;
  }

  return examples::run_example("width_scaling", [&] {
    using namespace tangent;
    std::mt19937_64 rng(s.common.seed);
    std::normal_distribution<double> normal;
    MatrixXd x(s.train_points + s.test_points, s.input_dim);
    for (Index c = 0; c < x.cols(); ++c) {
      for (Index r = 0; r < x.rows(); ++r) x(r, c) = normal(rng);
    }
    const MatrixXd x_train = x.topRows(s.train_points);
    const MatrixXd x_test = x.bottomRows(s.test_points);
    const MatrixXd y_train = (x_train.col(0).array().sin() + 0.5 * x_train.col(1).array()).matrix();

    auto make = [](Index width) {
      const Dense hidden{.width = width, .w_std = std::sqrt(2.0), .b_std = 0.1};
      return serial(hidden, ReLU{}, hidden, ReLU{}, Dense{.width = 1, .w_std = 1.0, .b_std = 0.1});
    };
    const MatrixXd theta = ntk(make(1), x);  // analytic: the same for every width
    const double eta = max_learning_rate(theta.topLeftCorner(s.train_points, s.train_points)) / 2;

    // mean[w][q]: the mean over seeds of quantity q at width w.
    std::vector<std::array<double, 4>> mean(s.widths.size(), std::array<double, 4>{});
    const std::filesystem::path out(s.common.out_dir);
    auto csv = examples::open_output(out / "width_scaling.csv");
    csv << "width,seed,ntk_init_vs_analytic,ntk_change,parameter_movement,linearisation_gap\n";
    {
      long work = 0;
      for (const Index w : s.widths) work += w * w;
      examples::Progress bar(
          "training " + std::to_string(s.widths.size() * static_cast<std::size_t>(s.seeds)) +
              " networks",
          work * s.seeds);
      long done = 0;
      for (std::size_t i = 0; i < s.widths.size(); ++i) {
        const auto net = make(s.widths[i]);
        for (int seed = 0; seed < s.seeds; ++seed) {
          const auto initial = init(net, rng, s.input_dim);
          const MatrixXd theta0 = empirical_ntk(net, initial, x);
          const auto trained =
              train(net, initial, x_train, y_train, {.learning_rate = eta, .steps = s.steps});
          const MatrixXd theta_t = empirical_ntk(net, trained, x);
          const MatrixXd f0 = apply(net, initial, x);
          const MatrixXd f_t = apply(net, trained, x_test);
          // The linearised network: the initial outputs moved by the same gradient-descent steps
          // with the initial empirical NTK.
          const MatrixXd linear = examples::outputs_after_steps(
              gradient_descent_mse(theta0.topLeftCorner(s.train_points, s.train_points), y_train)
                  .spectrum(),
              eta, s.steps, theta0.bottomLeftCorner(s.test_points, s.train_points), y_train,
              f0.topRows(s.train_points), f0.bottomRows(s.test_points));
          const auto [moved, size] = parameter_distance(trained, initial);
          const std::array<double, 4> q{
              (theta0 - theta).norm() / theta.norm(), (theta_t - theta0).norm() / theta0.norm(),
              moved / size, (f_t - linear).norm() / (f_t - f0.bottomRows(s.test_points)).norm()};
          csv << s.widths[i] << ',' << seed;
          for (std::size_t k = 0; k < 4; ++k) {
            csv << ',' << q[k];
            mean[i][k] += q[k] / s.seeds;
          }
          csv << '\n';
          done += s.widths[i] * s.widths[i];
          bar.update(done);
        }
      }
    }
    csv.close();

    std::vector<double> widths(s.widths.begin(), s.widths.end());
    std::printf("%6s", "width");
    for (const char* name : kQuantities) std::printf(" %26s", name);
    std::printf("\n");
    for (std::size_t i = 0; i < s.widths.size(); ++i) {
      std::printf("%6ld", static_cast<long>(s.widths[i]));
      for (std::size_t k = 0; k < 4; ++k) std::printf(" %26.3e", mean[i][k]);
      std::printf("\n");
    }
    std::array<double, 4> slopes{};
    std::printf("%6s", "slope");  // least squares on the log-log means
    for (std::size_t k = 0; k < 4; ++k) {
      std::vector<double> y;
      for (const auto& row : mean) y.push_back(row[k]);
      slopes[k] = examples::log_log_slope(widths, y);
      std::printf(" %26.2f", slopes[k]);
    }
    std::printf("\n%6s %26s %26s %26s %26s   (theory)\n", "", "-0.5", "-0.5 to -1", "-1",
                "-0.5 to -1");

    const std::string csv_name = (out / "width_scaling.csv").string();
    const std::string range =
        std::to_string(s.widths.front() * 2 / 3) + ":" + std::to_string(s.widths.back() * 3 / 2);
    std::string script = "set title 'Fully connected ReLU net (2 hidden layers), " +
                         std::to_string(s.train_points) + " training points, " +
                         std::to_string(s.steps) +
                         " steps: what changes with width'\n"
                         "set logscale xy\nset logscale x 2\nset xrange [" +
                         range +
                         "]\nset xlabel 'width'\nset ylabel 'relative size'\nset grid\n"
                         "set key bottom left\nplot ";
    const std::array<const char*, 4> colours{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
    for (std::size_t k = 0; k < 4; ++k) {
      script += "'width_scaling.csv' skip 1 using 1:" + std::to_string(k + 3) +
                " with points pt 7 ps 0.6 lc rgb '" + colours[k] +
                "' notitle, '' skip 1 using 1:" + std::to_string(k + 3) +
                " smooth unique with lines lw 2 lc rgb '" + colours[k] + "' title '" +
                kQuantities[k] + "', ";
    }
    script += std::to_string(mean[0][0] * std::sqrt(widths[0])) +
              "/sqrt(x) with lines dt 2 lw 2 lc rgb 'black' title '1/sqrt(width)', " +
              std::to_string(mean[0][1] * widths[0]) +
              "/x with lines dt 3 lw 2 lc rgb 'black' title '1/width'\n";
    const bool png = examples::plot_png(out / "width_scaling.png", script, 1000, 650);
    const std::string png_note = png ? ", " + (out / "width_scaling.png").string() : "";
    std::printf("wrote %s%s\n", csv_name.c_str(), png_note.c_str());

    if (s.common.check) {
      // Loose bounds around theory's slopes (few widths and seeds at test sizes); the widths are
      // sorted, so front and back are the narrowest and the widest.
      bool ok = slopes[0] < -0.3 && slopes[0] > -0.8;
      for (std::size_t k = 0; k < 4; ++k) {
        ok = ok && slopes[k] < -0.3 && slopes[k] > -1.4 && mean.back()[k] < mean.front()[k];
      }
      if (!ok) {
        std::fprintf(stderr,
                     "width_scaling --check: a quantity does not shrink with width at about "
                     "theory's slope (see the table)\n");
        return 1;
      }
      std::printf("check passed: every quantity shrinks with width at a slope near theory's\n");
    }
    return 0;
  });
}
