// Fashion-MNIST: kernel regression with the NNGP and the NTK against finite networks of the same
// architectures trained by gradient descent, for a fully connected ReLU net and a small CNN.
//
// For each architecture: the analytic kernels of the training and test images; the test
// accuracy of kernel regression (NNGP and NTK, ridgeless and with a small ridge, t = ∞) and of
// the NTK's gradient-flow prediction at the training time of the nets; then, for every width,
// a network initialised at random and trained by full-batch gradient descent on the MSE, its
// test accuracy, and how far its test outputs are from the NTK's prediction of the same
// network (its own initial outputs moved by the analytic kernel's gradient flow). That distance
// shrinks as the width grows (Jacot et al. 2018; Lee et al. 2019).
//
// The readout layer's w_std is 0.2 (--readout-std, its b_std a tenth of that): a net's outputs
// start from its random function f₀, and training removes f₀ only along the training inputs, so
// a large f₀ would make one trained net noisier than the NTK's ensemble mean. The scale
// multiplies both kernels by a constant, so kernel regression at t = ∞ does not depend on it.
//
// Nets take discrete gradient-descent steps, so the NTK's predictions here are for the same
// steps, (1 − ηλ/n)^t per mode (support/discrete_time.hpp), not for gradient flow.
//
//   build/examples/fashion_mnist                      # defaults: a few minutes on 2 cores
//   build/examples/fashion_mnist --n-train 2000 --widths 256,1024,4096
//   build/examples/fashion_mnist --help
//
// Writes <out-dir>/fashion_mnist.csv (one row per trained net), fashion_mnist_kernels.csv
// (kernel regression) and fashion_mnist.png (when gnuplot is installed).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>

#include <tangent/data.hpp>
#include <tangent/tangent.hpp>

#include "support/cli.hpp"
#include "support/discrete_time.hpp"
#include "support/plot.hpp"
#include "support/progress.hpp"

namespace {

using Eigen::Index;
using Eigen::MatrixXd;

struct Settings {
  std::string data_dir = tangent::data::fashion_mnist_dir().string();
  long n_train = 1000;
  long n_test = 1000;
  int downsample = 2;
  std::vector<Index> fc_widths{64, 128, 256, 512, 1024, 2048};
  std::vector<Index> cnn_widths{16, 32, 64, 128};
  long steps = 150;
  double ridge = 1e-3;
  double readout_std = 0.2;
  examples::CommonOptions common;
};

struct KernelResult {
  std::string architecture;
  std::string kernel;  ///< NNGP or NTK
  std::string time;    ///< "inf" or a number of steps
  double ridge;
  double accuracy;
};

struct NetResult {
  std::string architecture;
  Index width;
  double accuracy;
  double linearised_accuracy;  ///< of the NTK prediction from this net's initial outputs
  double mse_to_ntk;           ///< mean squared difference of test outputs, net vs NTK prediction
  double relative_to_ntk;      ///< the same, over the mean square of the predicted change
  double train_loss;
  double seconds;
};

/// The data, the same for both architectures.
struct Data {
  MatrixXd x_train;
  MatrixXd y_train;
  MatrixXd x_test;
  std::vector<int> test_labels;
};

/// Everything for one architecture. `make(width)` builds the network, `wrap(rows)` turns rows of
/// the preprocessed images into its input, `shape` is one sample's shape for `init`.
template <class Make, class Wrap, class Shape>
void run_architecture(const std::string& name, Make make, Wrap wrap, Shape shape,
                      const std::vector<Index>& widths, const Settings& s, const Data& d,
                      std::vector<KernelResult>& kernel_rows, std::vector<NetResult>& net_rows) {
  using namespace tangent;
  const auto analytic = make(Index{1});  // the kernels do not depend on the width
  const auto with_bar = [](const std::string& label, const auto& compute) {
    examples::Progress bar(label, 1000);
    return compute(bar.tracker());
  };
  const Kernels k_train = with_bar(name + " kernels, train", [&](const auto& progress) {
    return kernels(analytic, wrap(d.x_train), progress);
  });
  const Kernels k_test = with_bar(name + " kernels, test", [&](const auto& progress) {
    return kernels(analytic, wrap(d.x_test), wrap(d.x_train), progress);
  });

  // Step size: half the largest that converges for the NTK (loss normalised by y.size()).
  const double eta = max_learning_rate(k_train.ntk, d.y_train.size()) / 2;
  std::vector<double> ridges{0.0};
  if (s.ridge > 0) ridges.push_back(s.ridge);
  const auto flow = gradient_descent_mse(k_train.ntk, d.y_train, {.learning_rate = eta});
  {
    examples::Progress bar(name + " kernel regression", static_cast<long>(2 * ridges.size()));
    long solved = 0;
    for (const double ridge : ridges) {
      for (const bool ntk_kernel : {false, true}) {
        const MatrixXd& train = ntk_kernel ? k_train.ntk : k_train.nngp;
        const MatrixXd& test = ntk_kernel ? k_test.ntk : k_test.nngp;
        const MatrixXd f = ntk_kernel && ridge == 0
                               ? flow.test(infinite_time, test)
                               : gradient_descent_mse(train, d.y_train, {.diag_reg = ridge})
                                     .test(infinite_time, test);
        kernel_rows.push_back({name, ntk_kernel ? "NTK" : "NNGP", "inf", ridge,
                               tangent::data::accuracy(f, d.test_labels)});
        bar.update(++solved);
      }
    }
  }
  const MatrixXd zero_train = MatrixXd::Zero(d.y_train.rows(), d.y_train.cols());
  const MatrixXd zero_test = MatrixXd::Zero(d.x_test.rows(), d.y_train.cols());
  kernel_rows.push_back({name, "NTK", std::to_string(s.steps), 0.0,
                         tangent::data::accuracy(examples::outputs_after_steps(
                                                     flow.spectrum(), eta, s.steps, k_test.ntk,
                                                     d.y_train, zero_train, zero_test),
                                                 d.test_labels)});

  for (std::size_t w = 0; w < widths.size(); ++w) {
    const auto net = make(widths[w]);
    std::mt19937_64 rng(s.common.seed + 1000 * w);
    auto params = init(net, rng, shape);
    const MatrixXd f0_train = apply(net, params, wrap(d.x_train));
    const MatrixXd f0_test = apply(net, params, wrap(d.x_test));
    NetResult r{name, widths[w], 0, 0, 0, 0, 0, 0};
    {
      examples::Progress bar(name + " width " + std::to_string(widths[w]) + ", training", s.steps);
      params = train(net, params, wrap(d.x_train), d.y_train,
                     {.learning_rate = eta, .steps = s.steps, .on_step = [&](Index step, double l) {
                        bar.update(static_cast<long>(step));
                        r.train_loss = l;
                      }});
      r.seconds = bar.finish();
    }
    const MatrixXd f_test = apply(net, params, wrap(d.x_test));
    const MatrixXd predicted = examples::outputs_after_steps(
        flow.spectrum(), eta, s.steps, k_test.ntk, d.y_train, f0_train, f0_test);
    // A net whose training diverged is reported (NaN), not allowed to end the run.
    r.accuracy = f_test.allFinite() ? tangent::data::accuracy(f_test, d.test_labels)
                                    : std::numeric_limits<double>::quiet_NaN();
    r.linearised_accuracy = tangent::data::accuracy(predicted, d.test_labels);
    r.mse_to_ntk = tangent::data::mean_squared_error(f_test, predicted);
    r.relative_to_ntk = (f_test - predicted).squaredNorm() / (predicted - f0_test).squaredNorm();
    net_rows.push_back(r);
  }
}

std::string kernel_label(const KernelResult& k) {
  char text[96];
  if (k.time == "inf") {
    if (k.ridge > 0) {
      std::snprintf(text, sizeof text, "%s regression, ridge %g", k.kernel.c_str(), k.ridge);
    } else {
      std::snprintf(text, sizeof text, "%s regression, ridgeless", k.kernel.c_str());
    }
  } else {
    std::snprintf(text, sizeof text, "%s after %s steps", k.kernel.c_str(), k.time.c_str());
  }
  return text;
}

/// The gnuplot script of the two panels: test accuracy against width with the kernels as
/// horizontal lines, and the mean squared distance of the nets' test outputs from the NTK's
/// prediction, with a 1/width reference line through the widest FC net.
std::string plot_script(const Settings& s, const std::vector<KernelResult>& kernel_rows,
                        const std::vector<NetResult>& net_rows) {
  auto kernel_accuracy = [&](const std::string& arch, const std::string& kernel, bool at_infinity) {
    for (const auto& k : kernel_rows) {
      if (k.architecture == arch && k.kernel == kernel && (k.time == "inf") == at_infinity &&
          k.ridge == 0) {
        return k.accuracy;
      }
    }
    return 0.0;
  };
  std::string lines;
  for (const std::string arch : {"FC", "CNN"}) {
    const std::string colour = arch == "FC" ? "#1f77b4" : "#d62728";
    char text[512];
    std::snprintf(text, sizeof text,
                  ", %f with lines dt 2 lw 2 lc rgb '%s' title '%s NTK after %ld steps'"
                  ", %f with lines dt 3 lw 2 lc rgb '%s' title '%s NTK regression (t = inf)'"
                  ", %f with lines dt 4 lw 2 lc rgb '%s' title '%s NNGP regression (t = inf)'",
                  kernel_accuracy(arch, "NTK", false), colour.c_str(), arch.c_str(), s.steps,
                  kernel_accuracy(arch, "NTK", true), colour.c_str(), arch.c_str(),
                  kernel_accuracy(arch, "NNGP", true), colour.c_str(), arch.c_str());
    lines += text;
  }
  Index lo = net_rows.empty() ? 64 : net_rows.front().width;
  Index hi = lo;
  const NetResult* widest_fc = nullptr;
  for (const auto& r : net_rows) {
    lo = std::min(lo, r.width);
    hi = std::max(hi, r.width);
    if (r.architecture == "FC" && (widest_fc == nullptr || r.width > widest_fc->width))
      widest_fc = &r;
  }
  const std::string reference =
      widest_fc == nullptr
          ? ""
          : std::to_string(widest_fc->mse_to_ntk * static_cast<double>(widest_fc->width));
  // Fixed screen margins: the left panel's key sits in the gap between the panels.
  return "set multiplot title 'Fashion-MNIST, " + std::to_string(s.n_train) + " training / " +
         std::to_string(s.n_test) +
         " test images: trained nets vs kernels'\n"
         "set logscale x 2\nset xlabel 'width (FC units, CNN channels)'\nset grid\n"
         "set xrange [" +
         std::to_string(lo / 2) + ":" + std::to_string(2 * hi) +
         "]\n"
         "set tmargin at screen 0.9\nset bmargin at screen 0.12\n"
         "set lmargin at screen 0.06\nset rmargin at screen 0.42\n"
         "set ylabel 'test accuracy'\n"
         "set key at screen 0.44, screen 0.9 left top Left reverse font ',9' spacing 1.2\n"
         "plot 'fashion_mnist.csv' using (strcol(1) eq 'FC' ? $2 : 1/0):3 with linespoints pt 7 "
         "lw 2 lc rgb '#1f77b4' title 'FC trained', '' using (strcol(1) eq 'CNN' ? $2 : 1/0):3 "
         "with linespoints pt 5 lw 2 lc rgb '#d62728' title 'CNN trained'" +
         lines +
         "\n"
         "set logscale y\nset ylabel 'test MSE, net vs its NTK prediction'\n"
         "set lmargin at screen 0.7\nset rmargin at screen 0.98\n"
         "set key inside top right font ',9'\n"
         "plot 'fashion_mnist.csv' using (strcol(1) eq 'FC' ? $2 : 1/0):5 with linespoints pt 7 "
         "lw 2 lc rgb '#1f77b4' title 'FC', '' using (strcol(1) eq 'CNN' ? $2 : 1/0):5 with "
         "linespoints pt 5 lw 2 lc rgb '#d62728' title 'CNN'" +
         (reference.empty()
              ? ""
              : ", " + reference + "/x with lines dt 2 lc rgb 'gray' title '1/width'") +
         "\nunset multiplot\n";
}

int run(const Settings& s) {
  // Memory grows as N²: per architecture two N×N train kernels and two N_test×N test kernels,
  // and the solver's eigendecomposition holds about three N×N matrices more.
  const double n = static_cast<double>(s.n_train);
  const double need = 8.0 * (5 * n * n + 2 * n * static_cast<double>(s.n_test));
  const double have =
      static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  if (have > 0 && need > 0.8 * have) {
    std::fprintf(stderr,
                 "fashion_mnist: --n-train %ld needs about %.1f GB for the kernels, more than "
                 "80%% of this machine's %.1f GB; use a smaller --n-train\n",
                 s.n_train, need / 1e9, have / 1e9);
    return 2;
  }

  const auto start = std::chrono::steady_clock::now();
  tangent::data::LabelledImages train_data;
  tangent::data::LabelledImages test_data;
  try {
    train_data = tangent::data::downsample(
        tangent::data::load_fashion_mnist("train", s.n_train, s.data_dir), s.downsample);
    test_data = tangent::data::downsample(
        tangent::data::load_fashion_mnist("t10k", s.n_test, s.data_dir), s.downsample);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist: %s (or pass --data-dir)\n", e.what());
    return 2;
  }
  const int h = train_data.height;
  const int w = train_data.width;
  Data d;
  d.x_train = tangent::data::standardise_rows(train_data.pixels);
  d.x_test = tangent::data::standardise_rows(test_data.pixels);
  d.y_train = tangent::data::one_hot(train_data.labels, 10);
  d.test_labels = test_data.labels;
  std::printf(
      "Fashion-MNIST: %ld training and %ld test images, %d×%d pixels; %ld steps of "
      "gradient descent at half the largest stable step\n",
      s.n_train, s.n_test, h, w, s.steps);

  using namespace tangent;
  std::vector<KernelResult> kernel_rows;
  std::vector<NetResult> net_rows;
  const Dense readout{.width = 10, .w_std = s.readout_std, .b_std = 0.1 * s.readout_std};
  // FC: one hidden ReLU layer. NTK parameterization, so the width only matters for finite nets.
  run_architecture(
      "FC",
      [&readout](Index width) {
        return serial(Dense{.width = width, .w_std = std::sqrt(2.0), .b_std = 0.1}, ReLU{},
                      readout);
      },
      [](const auto& rows) { return rows; }, Index{h * w}, s.fc_widths, s, d, kernel_rows,
      net_rows);
  // CNN: a strided 3×3 convolution (halving the resolution), ReLU, and a dense readout of the
  // flattened feature map.
  run_architecture(
      "CNN",
      [&readout](Index channels) {
        return serial(Conv{.channels = channels,
                           .filter = {3, 3},
                           .strides = {2, 2},
                           .padding = Padding::same,
                           .w_std = std::sqrt(2.0),
                           .b_std = 0.1},
                      ReLU{}, Flatten{}, readout);
      },
      [h, w](const auto& rows) { return images(rows, h, w, 1); }, image_shape(h, w, 1),
      s.cnn_widths, s, d, kernel_rows, net_rows);

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("\n%-4s %-34s %s\n", "arch", "kernels", "test accuracy");
  for (const auto& k : kernel_rows) {
    std::printf("%-4s %-34s %.3f\n", k.architecture.c_str(), kernel_label(k).c_str(), k.accuracy);
  }
  std::printf("\n%-4s %6s %9s %14s %14s %12s %10s %7s\n", "arch", "width", "accuracy",
              "NTK-pred. acc.", "MSE to NTK", "relative", "train loss", "seconds");
  for (const auto& r : net_rows) {
    std::printf("%-4s %6ld %9.3f %14.3f %14.3e %12.3e %10.4f %7.1f\n", r.architecture.c_str(),
                static_cast<long>(r.width), r.accuracy, r.linearised_accuracy, r.mse_to_ntk,
                r.relative_to_ntk, r.train_loss, r.seconds);
  }

  const std::filesystem::path out(s.common.out_dir);
  {
    auto csv = examples::open_output(out / "fashion_mnist.csv");
    csv << "architecture,width,test_accuracy,ntk_prediction_accuracy,mse_to_ntk,"
           "relative_mse_to_ntk,train_loss,seconds\n";
    for (const auto& r : net_rows) {
      csv << r.architecture << ',' << r.width << ',' << r.accuracy << ',' << r.linearised_accuracy
          << ',' << r.mse_to_ntk << ',' << r.relative_to_ntk << ',' << r.train_loss << ','
          << r.seconds << '\n';
    }
    auto kernels_csv = examples::open_output(out / "fashion_mnist_kernels.csv");
    kernels_csv << "architecture,kernel,steps,ridge,test_accuracy\n";
    for (const auto& k : kernel_rows) {
      kernels_csv << k.architecture << ',' << k.kernel << ',' << k.time << ',' << k.ridge << ','
                  << k.accuracy << '\n';
    }
  }
  const bool png = examples::plot_png(out / "fashion_mnist.png",
                                      plot_script(s, kernel_rows, net_rows), 1600, 600);
  const std::string png_note = png ? ", " + (out / "fashion_mnist.png").string() : "";
  std::printf("\nwrote %s, %s%s (%.0f s in all)\n", (out / "fashion_mnist.csv").c_str(),
              (out / "fashion_mnist_kernels.csv").c_str(), png_note.c_str(), seconds);

  if (s.common.check) {
    // Sanity, not precision. Chance is 0.1: kernel regression at t = ∞ must beat 0.5, the NTK
    // after a few steps and the nets 0.3. The widest nets must sit closer to the NTK's
    // prediction than the narrowest (absolute distances; they fell with width in every run).
    bool ok = true;
    for (const auto& k : kernel_rows) ok = ok && k.accuracy > (k.time == "inf" ? 0.5 : 0.3);
    for (const std::string arch : {"FC", "CNN"}) {
      const NetResult* narrow = nullptr;
      const NetResult* wide = nullptr;
      for (const auto& r : net_rows) {
        if (r.architecture != arch) continue;
        if (narrow == nullptr || r.width < narrow->width) narrow = &r;
        if (wide == nullptr || r.width > wide->width) wide = &r;
      }
      ok = ok && wide != nullptr && wide->accuracy > 0.3 && wide->relative_to_ntk < 0.5 &&
           (narrow == wide || wide->mse_to_ntk < narrow->mse_to_ntk);
    }
    if (!ok) {
      std::fprintf(stderr, "fashion_mnist --check: results are not sane (see the tables)\n");
      return 1;
    }
    std::printf("check passed: accuracies well above chance, widest nets closest to the NTK\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{
      "Fashion-MNIST: NNGP and NTK kernel regression against finite networks of the same "
      "architectures (FC ReLU net, small CNN) trained by gradient descent at growing widths."};
  app.add_option("--data-dir", s.data_dir, "folder with the *-idx?-ubyte.gz files")
      ->capture_default_str();
  app.add_option("--n-train", s.n_train,
                 "training images (first ones of the train split); memory ~ 40·N² bytes, time "
                 "~ N³ for the solves")
      ->capture_default_str()
      ->check(CLI::Range(10L, 60000L));
  app.add_option("--n-test", s.n_test, "test images (first ones of the t10k split)")
      ->capture_default_str()
      ->check(CLI::Range(1L, 10000L));
  app.add_option("--downsample", s.downsample, "average f×f pixel blocks (1 = full 28×28)")
      ->capture_default_str()
      ->check(CLI::Range(1, 7));
  examples::add_widths_option(app, "--widths", s.fc_widths, "hidden widths of the trained FC nets");
  examples::add_widths_option(app, "--cnn-widths", s.cnn_widths, "channels of the trained CNNs");
  app.add_option("--steps", s.steps, "full-batch gradient descent steps")
      ->capture_default_str()
      ->check(CLI::Range(1L, 1000000L));
  app.add_option("--ridge", s.ridge,
                 "ridge: diag_reg, relative to the mean of the diagonal (0: ridgeless only)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--readout-std", s.readout_std, "w_std of the readout layer (b_std: a tenth)")
      ->capture_default_str()
      ->check(CLI::Range(1e-6, 1e6));
  examples::add_common_options(app, s.common, "the results are sane (the ctest smoke test)");
  CLI11_PARSE(app, argc, argv);
  examples::sort_widths(s.fc_widths);
  examples::sort_widths(s.cnn_widths);
  return examples::run_example("fashion_mnist", [&] { return run(s); });
}
