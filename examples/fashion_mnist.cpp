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
// The readout layer's w_std is 0.2 (--readout-std): a net's outputs start from its random
// function f₀, and training removes f₀ only along the training inputs, so a large f₀ would make
// one trained net noisier than the NTK's ensemble mean. Kernel regression at t = ∞ does not
// depend on that scale.
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
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>

#include <tangent/tangent.hpp>

#include "support/fashion_mnist_data.hpp"
#include "support/gram.hpp"
#include "support/plot.hpp"
#include "support/progress.hpp"

namespace {

using Eigen::Index;
using Eigen::MatrixXd;

struct Settings {
  std::string data_dir = examples::kFashionMnistDir;
  long n_train = 1000;
  long n_test = 1000;
  int downsample = 2;
  std::vector<Index> fc_widths{64, 128, 256, 512, 1024, 2048};
  std::vector<Index> cnn_widths{16, 32, 64, 128};
  long steps = 150;
  double ridge = 1e-3;
  double readout_std = 0.2;
  unsigned seed = 1;
  std::string out_dir = "results";
  bool check = false;
};

/// Images averaged over f×f blocks (f divides neither side: the last partial block is dropped),
/// then each image centred and scaled to unit mean square, so every input has NNGP variance 1.
MatrixXd preprocess(const examples::LabelledImages& data, int f, int& height, int& width) {
  height = data.height / f;
  width = data.width / f;
  MatrixXd x(data.pixels.rows(), height * width);
  for (Index i = 0; i < x.rows(); ++i) {
    for (int r = 0; r < height; ++r) {
      for (int c = 0; c < width; ++c) {
        double sum = 0;
        for (int dr = 0; dr < f; ++dr) {
          for (int dc = 0; dc < f; ++dc)
            sum += data.pixels(i, (r * f + dr) * data.width + c * f + dc);
        }
        x(i, r * width + c) = sum / (f * f);
      }
    }
    x.row(i).array() -= x.row(i).mean();
    const double rms = x.row(i).norm() / std::sqrt(static_cast<double>(x.cols()));
    if (rms > 0) x.row(i) /= rms;  // a blank image stays all zeros
  }
  return x;
}

/// Targets: one-hot labels minus 0.1, so every column has mean about 0.
MatrixXd one_hot(const std::vector<int>& labels) {
  MatrixXd y = MatrixXd::Constant(static_cast<Index>(labels.size()), 10, -0.1);
  for (std::size_t i = 0; i < labels.size(); ++i) y(static_cast<Index>(i), labels[i]) += 1.0;
  return y;
}

double accuracy(const MatrixXd& outputs, const std::vector<int>& labels) {
  long right = 0;
  for (Index i = 0; i < outputs.rows(); ++i) {
    Index best = 0;
    outputs.row(i).maxCoeff(&best);
    right += best == labels[static_cast<std::size_t>(i)];
  }
  return static_cast<double>(right) / static_cast<double>(outputs.rows());
}

struct KernelResult {
  std::string architecture;
  std::string method;
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

/// Everything for one architecture. `make(width)` builds the network, `wrap(rows)` turns rows of
/// the preprocessed images into its input, `shape` is one sample's shape for `init`.
template <class Make, class Wrap, class Shape>
void run_architecture(const std::string& name, Make make, Wrap wrap, Shape shape,
                      const std::vector<Index>& widths, const Settings& s, const MatrixXd& x_train,
                      const MatrixXd& y_train, const MatrixXd& x_test,
                      const std::vector<int>& test_labels, std::vector<KernelResult>& kernel_rows,
                      std::vector<NetResult>& net_rows) {
  using namespace tangent;
  const auto analytic = make(Index{1});  // the kernels do not depend on the width
  const Kernels k_train =
      examples::gram_with_progress(analytic, x_train, wrap, name + " kernels, train");
  const Kernels k_test =
      examples::cross_with_progress(analytic, x_test, x_train, wrap, name + " kernels, test");

  // Step size: half the largest that converges for the NTK (loss normalised by y.size()).
  const double eta = max_learning_rate(k_train.ntk, y_train.size()) / 2;
  const auto steps = static_cast<double>(s.steps);
  for (const double ridge : {0.0, s.ridge}) {
    const std::string suffix =
        ridge == 0 ? ", ridgeless" : ", ridge " + std::to_string(ridge).substr(0, 6);
    const MseOptions options{.learning_rate = eta, .diag_reg = ridge};
    kernel_rows.push_back(
        {name, "NNGP t=inf" + suffix,
         accuracy(
             gradient_descent_mse(k_train.nngp, y_train, options).test(infinite_time, k_test.nngp),
             test_labels)});
    kernel_rows.push_back(
        {name, "NTK t=inf" + suffix,
         accuracy(
             gradient_descent_mse(k_train.ntk, y_train, options).test(infinite_time, k_test.ntk),
             test_labels)});
  }
  const auto flow = gradient_descent_mse(k_train.ntk, y_train, {.learning_rate = eta});
  kernel_rows.push_back({name, "NTK t=" + std::to_string(s.steps) + " steps",
                         accuracy(flow.test(steps, k_test.ntk), test_labels)});

  for (std::size_t w = 0; w < widths.size(); ++w) {
    const auto net = make(widths[w]);
    std::mt19937_64 rng(s.seed + 1000 * w);
    auto params = init(net, rng, shape);
    const MatrixXd f0_train = apply(net, params, wrap(x_train));
    const MatrixXd f0_test = apply(net, params, wrap(x_test));
    double loss = 0;
    {
      examples::Progress bar(name + " width " + std::to_string(widths[w]) + ", training", s.steps);
      params = train(net, params, wrap(x_train), y_train,
                     {.learning_rate = eta, .steps = s.steps, .on_step = [&](Index step, double l) {
                        bar.update(static_cast<long>(step));
                        loss = l;
                      }});
      net_rows.push_back({name, widths[w], 0, 0, 0, 0, 0, bar.finish()});
    }
    const MatrixXd f_test = apply(net, params, wrap(x_test));
    const MatrixXd predicted = flow.test(steps, k_test.ntk, f0_train, f0_test);
    NetResult& r = net_rows.back();
    r.accuracy = accuracy(f_test, test_labels);
    r.linearised_accuracy = accuracy(predicted, test_labels);
    r.mse_to_ntk = (f_test - predicted).squaredNorm() / static_cast<double>(f_test.size());
    r.relative_to_ntk = (f_test - predicted).squaredNorm() / (predicted - f0_test).squaredNorm();
    r.train_loss = loss;
  }
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
  app.add_option("--widths", s.fc_widths, "hidden widths of the trained FC nets")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--cnn-widths", s.cnn_widths, "channels of the trained CNNs")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--steps", s.steps, "full-batch gradient descent steps")
      ->capture_default_str()
      ->check(CLI::Range(1L, 1000000L));
  app.add_option("--ridge", s.ridge, "ridge: diag_reg, relative to the mean of the diagonal")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--readout-std", s.readout_std, "w_std of the readout layer")
      ->capture_default_str();
  app.add_option("--seed", s.seed, "seed of the networks' initialisation")->capture_default_str();
  app.add_option("--out-dir", s.out_dir, "where the CSV files and the PNG go")
      ->capture_default_str();
  app.add_flag("--check", s.check,
               "exit with status 1 unless the results are sane (the ctest smoke test)");
  CLI11_PARSE(app, argc, argv);

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
  try {
    examples::LabelledImages train_data;
    examples::LabelledImages test_data;
    try {
      train_data = examples::load_fashion_mnist(s.data_dir, "train", s.n_train);
      test_data = examples::load_fashion_mnist(s.data_dir, "t10k", s.n_test);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fashion_mnist: %s\n", e.what());
      return 2;
    }
    int h = 0;
    int w = 0;
    const MatrixXd x_train = preprocess(train_data, s.downsample, h, w);
    const MatrixXd x_test = preprocess(test_data, s.downsample, h, w);
    const MatrixXd y_train = one_hot(train_data.labels);
    std::printf(
        "Fashion-MNIST: %ld training and %ld test images, %d×%d pixels; %ld steps of "
        "gradient descent at half the largest stable step\n",
        s.n_train, s.n_test, h, w, s.steps);

    using namespace tangent;
    std::vector<KernelResult> kernel_rows;
    std::vector<NetResult> net_rows;
    // FC: one hidden ReLU layer. NTK parameterization, so the width only matters for finite nets.
    run_architecture(
        "FC",
        [&s](Index width) {
          return serial(Dense{.width = width, .w_std = std::sqrt(2.0), .b_std = 0.1}, ReLU{},
                        Dense{.width = 10, .w_std = s.readout_std, .b_std = 0.1});
        },
        [](const auto& rows) { return rows; }, Index{h * w}, s.fc_widths, s, x_train, y_train,
        x_test, test_data.labels, kernel_rows, net_rows);
    // CNN: a strided 3×3 convolution (halving the resolution), ReLU, and a dense readout of the
    // flattened feature map.
    run_architecture(
        "CNN",
        [&s](Index channels) {
          return serial(Conv{.channels = channels,
                             .filter = {3, 3},
                             .strides = {2, 2},
                             .padding = Padding::same,
                             .w_std = std::sqrt(2.0),
                             .b_std = 0.1},
                        ReLU{}, Flatten{},
                        Dense{.width = 10, .w_std = s.readout_std, .b_std = 0.1});
        },
        [h, w](const auto& rows) { return images(rows, h, w, 1); }, image_shape(h, w, 1),
        s.cnn_widths, s, x_train, y_train, x_test, test_data.labels, kernel_rows, net_rows);

    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    std::printf("\n%-4s %-32s %s\n", "arch", "kernel regression", "test accuracy");
    for (const auto& k : kernel_rows) {
      std::printf("%-4s %-32s %.3f\n", k.architecture.c_str(), k.method.c_str(), k.accuracy);
    }
    std::printf("\n%-4s %6s %9s %14s %14s %12s %10s %7s\n", "arch", "width", "accuracy",
                "NTK-pred. acc.", "MSE to NTK", "relative", "train loss", "seconds");
    for (const auto& r : net_rows) {
      std::printf("%-4s %6ld %9.3f %14.3f %14.3e %12.3e %10.4f %7.1f\n", r.architecture.c_str(),
                  static_cast<long>(r.width), r.accuracy, r.linearised_accuracy, r.mse_to_ntk,
                  r.relative_to_ntk, r.train_loss, r.seconds);
    }

    const std::filesystem::path out(s.out_dir);
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
      kernels_csv << "architecture,method,test_accuracy\n";
      for (const auto& k : kernel_rows) {
        kernels_csv << k.architecture << ',' << k.method << ',' << k.accuracy << '\n';
      }
    }
    auto kernel_accuracy = [&](const std::string& arch, const std::string& prefix) {
      for (const auto& k : kernel_rows) {
        if (k.architecture == arch && k.method.rfind(prefix, 0) == 0) return k.accuracy;
      }
      return 0.0;
    };
    // Horizontal lines: the NTK's prediction at the nets' training time, and kernel regression.
    std::string lines;
    for (const std::string arch : {"FC", "CNN"}) {
      const std::string colour = arch == "FC" ? "#1f77b4" : "#d62728";
      char text[512];
      std::snprintf(text, sizeof text,
                    "%f with lines dt 2 lw 2 lc rgb '%s' title '%s NTK, t = %ld steps', "
                    "%f with lines dt 3 lw 2 lc rgb '%s' title '%s NTK regression (t = inf)', "
                    "%f with lines dt 4 lw 2 lc rgb '%s' title '%s NNGP regression (t = inf)'%s",
                    kernel_accuracy(arch, "NTK t=" + std::to_string(s.steps)), colour.c_str(),
                    arch.c_str(), s.steps, kernel_accuracy(arch, "NTK t=inf"), colour.c_str(),
                    arch.c_str(), kernel_accuracy(arch, "NNGP t=inf"), colour.c_str(), arch.c_str(),
                    arch == "FC" ? ", " : "");
      lines += text;
    }
    const std::string csv_name = (out / "fashion_mnist.csv").string();
    const std::string script =
        "set multiplot layout 1,2 title 'Fashion-MNIST, " + std::to_string(s.n_train) +
        " training / " + std::to_string(s.n_test) +
        " test images: trained nets vs kernels'\n"
        "set logscale x 2\nset xlabel 'width (FC units, CNN channels)'\n"
        "set ylabel 'test accuracy'\nset key outside right top font ',9' spacing 1.2\nset grid\n"
        "set xrange [8:" +
        std::to_string(2 * std::max(s.fc_widths.back(), s.cnn_widths.back())) + "]\nplot '" +
        csv_name +
        "' using (strcol(1) eq 'FC' ? $2 : 1/0):3 with linespoints pt 7 lw 2 lc rgb '#1f77b4' "
        "title "
        "'FC trained', '' using (strcol(1) eq 'CNN' ? $2 : 1/0):3 with linespoints pt 5 lw 2 lc "
        "rgb "
        "'#d62728' title 'CNN trained', " +
        lines +
        "\n"
        "set logscale y\nset ylabel 'test outputs: |net - NTK prediction|^2 / |NTK change|^2'\n"
        "set key inside top right font ',9'\n"
        "plot '" +
        csv_name +
        "' using (strcol(1) eq 'FC' ? $2 : 1/0):6 with linespoints pt 7 lw 2 lc rgb '#1f77b4' "
        "title 'FC', "
        "'' using (strcol(1) eq 'CNN' ? $2 : 1/0):6 with linespoints pt 5 lw 2 lc rgb '#d62728' "
        "title "
        "'CNN', 4/x with lines dt 2 lc rgb 'gray' title 'slope -1 (1/width)'\n"
        "unset multiplot\n";
    const bool png = examples::plot_png(out / "fashion_mnist.png", script, 1600, 600);
    const std::string png_note = png ? ", " + (out / "fashion_mnist.png").string() : "";
    std::printf("\nwrote %s, %s%s (%.0f s in all)\n", (out / "fashion_mnist.csv").c_str(),
                (out / "fashion_mnist_kernels.csv").c_str(), png_note.c_str(), seconds);

    if (s.check) {
      // Sanity, not precision: chance is 0.1 (kernels see the whole training set at t = ∞, the
      // nets only a few steps at test sizes), and the widest nets sit closer to the NTK's
      // prediction than the narrowest.
      bool ok = true;
      for (const auto& k : kernel_rows) ok = ok && k.accuracy > 0.5;
      for (const std::string arch : {"FC", "CNN"}) {
        const NetResult* narrow = nullptr;
        const NetResult* wide = nullptr;
        for (const auto& r : net_rows) {
          if (r.architecture != arch) continue;
          if (narrow == nullptr || r.width < narrow->width) narrow = &r;
          if (wide == nullptr || r.width > wide->width) wide = &r;
        }
        ok = ok && wide->accuracy > 0.3 && wide->relative_to_ntk < 0.5 &&
             (narrow == wide || wide->relative_to_ntk < narrow->relative_to_ntk);
      }
      if (!ok) {
        std::fprintf(stderr, "fashion_mnist --check: results are not sane (see the tables)\n");
        return 1;
      }
      std::printf("check passed: accuracies well above chance, widest nets closest to the NTK\n");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist: %s\n", e.what());
    return 1;
  }
  return 0;
}
