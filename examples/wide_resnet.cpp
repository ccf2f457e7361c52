// Fashion-MNIST with neural-tangents' WideResNet: NNGP and NTK kernel regression with the
// infinite-width kernels of a wide residual network (Zagoruyko and Komodakis 2016), built as
// neural-tangents' README builds it: a 3×3 convolution, three groups of residual blocks (16k,
// 32k and 64k channels; the second and third groups halve the resolution with stride 2, and
// the first block of each group has a strided 3×3 convolution as its shortcut), an average
// pool over the last group's whole extent, Flatten and a dense readout of the 10 classes.
// Every convolution has neural-tangents' defaults: W_std = 1, no bias. The default block size
// 2 is WRN-16 (6·2 + 4 layers).
//
// The pool reads the covariance of every pair of positions, so every layer before it carries a
// P×P block per pair of images: the kernels cost O(N²·P²·depth), 16× more for 14×14 images
// than for 7×7 ones. The defaults (7×7 images, the 28×28 ones averaged over 4×4 blocks) run in
// about two minutes on 2 cores; the kernels take nearly all of it.
//
//   build/examples/wide_resnet                                  # defaults
//   build/examples/wide_resnet --downsample 2 --n-train 300     # 14×14 images
//   build/examples/wide_resnet --help
//
// Writes <out-dir>/wide_resnet.csv (test accuracy of each regression) and
// wide_resnet_timing.csv (the kernels' times). neural-tangents' time on the same architecture
// and shapes: python3 tools/bench_vs_neural_tangents/run_both.py --only wrn

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <tangent/data.hpp>
#include <tangent/tangent.hpp>

#include "support/cli.hpp"
#include "support/plot.hpp"
#include "support/progress.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

using Eigen::Index;
using Eigen::MatrixXd;

struct Settings {
  std::string data_dir = tangent::data::fashion_mnist_dir().string();
  long n_train = 600;
  long n_test = 300;
  int downsample = 4;
  Index block_size = 2;
  double ridge = 1e-3;
  examples::CommonOptions common;
};

/// neural-tangents' stax.Conv(channels, (3, 3), strides, padding='SAME') with its defaults.
tangent::Conv conv3x3(Index channels, Index stride) {
  return {.channels = channels,
          .filter = {3, 3},
          .strides = {stride, stride},
          .padding = tangent::Padding::same};
}

/// neural-tangents' WideResnetGroup: a first block whose shortcut is a strided convolution
/// (channel_mismatch=True), then block_size − 1 residual blocks with the identity as shortcut.
/// The latter are one `repeat`, so the network's type, and its compile time, do not grow with
/// the block size.
auto wrn_group(Index block_size, Index channels, Index stride) {
  using namespace tangent;
  const auto main = serial(ReLU{}, conv3x3(channels, stride), ReLU{}, conv3x3(channels, 1));
  return serial(
      FanOut{.n = 2}, parallel(main, conv3x3(channels, stride)), FanInSum{},
      repeat(residual(ReLU{}, conv3x3(channels, 1), ReLU{}, conv3x3(channels, 1)), block_size - 1));
}

/// neural-tangents' WideResnet(block_size, k = 1, num_classes = 10) on height×width images. Its
/// AvgPool((8, 8)) is the last group's extent for 32×32 images; here the window is that extent
/// for the images given, so the pool again leaves one position. The channel counts only size a
/// finite network: the infinite-width kernels do not depend on them.
auto wide_resnet(Index block_size, Index height, Index width) {
  using namespace tangent;
  // A SAME convolution of stride 2 leaves ⌈side/2⌉ positions; two of them follow.
  const auto last = [](Index side) { return ((side + 1) / 2 + 1) / 2; };
  constexpr Index k = 1;
  return serial(conv3x3(16, 1), wrn_group(block_size, 16 * k, 1), wrn_group(block_size, 32 * k, 2),
                wrn_group(block_size, 64 * k, 2), AvgPool{.window = {last(height), last(width)}},
                Flatten{}, Dense{.width = 10, .w_std = 1.0, .b_std = 0.0});
}

/// The vector instruction set this binary was compiled for (what Eigen's packets use).
std::string isa() {
#if defined(__AVX512F__)
  return "AVX-512";
#elif defined(__AVX2__)
  return "AVX2";
#elif defined(__AVX__)
  return "AVX";
#else
  return "SSE2";
#endif
}

int threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

struct RegressionResult {
  std::string kernel;  ///< NNGP or NTK
  double ridge;
  double accuracy;
  double smallest_eigenvalue;  ///< of the regularised training kernel, over the largest
};

struct TimingResult {
  std::string part;  ///< "train" (the N×N Gram matrix) or "test" (test × train)
  Index rows;
  Index cols;
  double seconds;
  /// rows·cols over the seconds; the Gram matrix is counted in full, as in bench/, though only
  /// one triangle is computed
  double entries_per_second;
};

template <class F>
double seconds_of(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Sanity checks of the kernels: finite, the NTK at least the NNGP on the diagonal (Θ = Σ plus
/// gradient terms that are kernels themselves), and the Gram matrix, which the examples compute as
/// cross kernels of row blocks, equal to tangent's same-input path on the first images. Returns the
/// failures as sentences.
template <class Net, class Wrap>
std::vector<std::string> check_kernels(const Net& net, Wrap wrap, const MatrixXd& x_train,
                                       const tangent::Kernels& train,
                                       const tangent::Kernels& test) {
  std::vector<std::string> failures;
  for (const MatrixXd* m : {&train.nngp, &train.ntk, &test.nngp, &test.ntk}) {
    if (!m->allFinite()) failures.emplace_back("a kernel has a non-finite entry");
  }
  if (((train.ntk.diagonal() - train.nngp.diagonal()).array() < 0).any()) {
    failures.emplace_back("an NTK diagonal entry is below the NNGP's");
  }
  const Index m = std::min<Index>(8, x_train.rows());
  const tangent::Kernels same = tangent::kernels(net, wrap(x_train.topRows(m)));
  const double scale = train.ntk.diagonal().maxCoeff();
  if ((same.nngp - train.nngp.topLeftCorner(m, m)).cwiseAbs().maxCoeff() > 1e-12 * scale ||
      (same.ntk - train.ntk.topLeftCorner(m, m)).cwiseAbs().maxCoeff() > 1e-12 * scale ||
      !same.nngp.isApprox(same.nngp.transpose(), 0.0) ||
      !same.ntk.isApprox(same.ntk.transpose(), 0.0)) {
    failures.emplace_back(
        "the same-input kernels of the first images differ from the Gram matrix's block or are "
        "not symmetric");
  }
  return failures;
}

int run(const Settings& s) {
  const auto start = std::chrono::steady_clock::now();
  tangent::data::LabelledImages train_data;
  tangent::data::LabelledImages test_data;
  try {
    train_data = tangent::data::downsample(
        tangent::data::load_fashion_mnist("train", s.n_train, s.data_dir), s.downsample);
    test_data = tangent::data::downsample(
        tangent::data::load_fashion_mnist("t10k", s.n_test, s.data_dir), s.downsample);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wide_resnet: %s (or pass --data-dir)\n", e.what());
    return 2;
  }
  const int h = train_data.height;
  const int w = train_data.width;
  const MatrixXd x_train = tangent::data::standardise_rows(train_data.pixels);
  const MatrixXd x_test = tangent::data::standardise_rows(test_data.pixels);
  const MatrixXd y_train = tangent::data::one_hot(train_data.labels, 10);
  const auto net = wide_resnet(s.block_size, h, w);
  const auto wrap = [h, w](const auto& rows) { return tangent::images(rows, h, w, 1); };
  const long depth = 6 * s.block_size + 4;
  std::printf(
      "Fashion-MNIST: %ld training and %ld test images, %d×%d pixels; WideResNet-%ld (block size "
      "%ld), %d threads, built for %s\n",
      s.n_train, s.n_test, h, w, depth, static_cast<long>(s.block_size), threads(), isa().c_str());

  tangent::Kernels k_train;
  tangent::Kernels k_test;
  std::vector<TimingResult> timing;
  const auto time_part = [&](const std::string& part, Index rows, Index cols, double seconds) {
    const double entries = static_cast<double>(rows) * static_cast<double>(cols);
    timing.push_back({part, rows, cols, seconds, entries / seconds});
  };
  time_part("train", x_train.rows(), x_train.rows(), seconds_of([&] {
              examples::Progress bar("WRN kernels, train", 1000);
              k_train = tangent::kernels(net, wrap(x_train), bar.tracker());
            }));
  time_part("test", x_test.rows(), x_train.rows(), seconds_of([&] {
              examples::Progress bar("WRN kernels, test", 1000);
              k_test = tangent::kernels(net, wrap(x_test), wrap(x_train), bar.tracker());
            }));

  std::vector<double> ridges{0.0};
  if (s.ridge > 0) ridges.push_back(s.ridge);
  std::vector<RegressionResult> results;
  for (const double ridge : ridges) {
    for (const bool ntk_kernel : {false, true}) {
      const MatrixXd& train = ntk_kernel ? k_train.ntk : k_train.nngp;
      const MatrixXd& test = ntk_kernel ? k_test.ntk : k_test.nngp;
      // t = ∞ of gradient descent on the MSE: kernel regression, neural-tangents' diag_reg.
      const auto regression = tangent::gradient_descent_mse(train, y_train, {.diag_reg = ridge});
      const MatrixXd f = regression.test(tangent::infinite_time, test);
      const Eigen::VectorXd& eigenvalues = regression.spectrum().values;  // increasing
      results.push_back({ntk_kernel ? "NTK" : "NNGP", ridge,
                         tangent::data::accuracy(f, test_data.labels),
                         eigenvalues(0) / eigenvalues(eigenvalues.size() - 1)});
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("\n%-34s %s\n", "kernel regression (t = inf)", "test accuracy");
  for (const auto& r : results) {
    char label[64];
    if (r.ridge > 0) {
      std::snprintf(label, sizeof label, "%s, ridge %g", r.kernel.c_str(), r.ridge);
    } else {
      std::snprintf(label, sizeof label, "%s, ridgeless", r.kernel.c_str());
    }
    std::printf("%-34s %.3f\n", label, r.accuracy);
  }
  std::printf("\n%-34s %6s %6s %9s %11s\n", "kernels (NNGP and NTK together)", "rows", "cols",
              "seconds", "entries/s");
  for (const auto& t : timing) {
    std::printf("%-34s %6ld %6ld %9.1f %11.0f\n",
                t.part == "train" ? "training Gram (one triangle)" : "test against training",
                static_cast<long>(t.rows), static_cast<long>(t.cols), t.seconds,
                t.entries_per_second);
  }

  const std::filesystem::path out(s.common.out_dir);
  {
    auto csv = examples::open_output(out / "wide_resnet.csv");
    csv << "kernel,ridge,test_accuracy,n_train,n_test,height,width,block_size\n";
    for (const auto& r : results) {
      csv << r.kernel << ',' << r.ridge << ',' << r.accuracy << ',' << s.n_train << ',' << s.n_test
          << ',' << h << ',' << w << ',' << s.block_size << '\n';
    }
    auto timing_csv = examples::open_output(out / "wide_resnet_timing.csv");
    timing_csv << "part,rows,cols,seconds,entries_per_second,threads,isa\n";
    for (const auto& t : timing) {
      timing_csv << t.part << ',' << t.rows << ',' << t.cols << ',' << t.seconds << ','
                 << t.entries_per_second << ',' << threads() << ',' << isa() << '\n';
    }
  }
  std::printf("\nwrote %s, %s (%.0f s in all)\n", (out / "wide_resnet.csv").c_str(),
              (out / "wide_resnet_timing.csv").c_str(), seconds);

  if (s.common.check) {
    // Sanity, not precision: chance is 0.1, and every regression must beat 0.4 even at the
    // smoke test's 100 images of 4×4 pixels.
    std::vector<std::string> failures = check_kernels(net, wrap, x_train, k_train, k_test);
    for (const auto& r : results) {
      // Rounding of an m×m PSD matrix moves its eigenvalues by about m·ε·λ_max.
      if (r.ridge == 0 && r.smallest_eigenvalue < -1e-10 * static_cast<double>(s.n_train)) {
        failures.push_back("the training " + r.kernel + " Gram matrix is not PSD (eigenvalue " +
                           std::to_string(r.smallest_eigenvalue) + " of the largest)");
      }
      if (!(r.accuracy > 0.4)) {
        failures.push_back(r.kernel + " regression's test accuracy " + std::to_string(r.accuracy) +
                           " is not well above chance (0.1)");
      }
    }
    for (const auto& f : failures) std::fprintf(stderr, "wide_resnet --check: %s\n", f.c_str());
    if (!failures.empty()) return 1;
    std::printf(
        "check passed: kernels finite and PSD, NTK ≥ NNGP on the diagonal, the same-input path "
        "agrees, accuracies well above chance\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{
      "Fashion-MNIST: NNGP and NTK kernel regression with the infinite-width kernels of "
      "neural-tangents' WideResNet (groups of residual blocks, strided convolution shortcuts, "
      "average pooling, dense readout), and the kernels' time."};
  app.add_option("--data-dir", s.data_dir, "folder with the *-idx?-ubyte.gz files")
      ->capture_default_str();
  app.add_option("--n-train", s.n_train,
                 "training images (first ones of the train split); time ~ N² (one triangle)")
      ->capture_default_str()
      ->check(CLI::Range(10L, 60000L));
  app.add_option("--n-test", s.n_test,
                 "test images (first ones of the t10k split); time ~ N_test·N_train")
      ->capture_default_str()
      ->check(CLI::Range(1L, 10000L));
  app.add_option("--downsample", s.downsample,
                 "average f×f pixel blocks: 4 gives 7×7 images, 2 gives 14×14 (16× the time), 1 "
                 "the full 28×28 (256× the time)")
      ->capture_default_str()
      ->check(CLI::Range(1, 7));
  app.add_option("--block-size", s.block_size,
                 "residual blocks per group: depth 6·b + 4 (2: WRN-16, 4: WRN-28)")
      ->capture_default_str()
      ->check(CLI::Range(Index{1}, Index{100}));
  app.add_option("--ridge", s.ridge,
                 "ridge: diag_reg, relative to the mean of the diagonal (0: ridgeless only)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  examples::add_output_options(app, s.common,
                               "the kernels are finite and PSD and the accuracies well above "
                               "chance (the ctest smoke test)",
                               "the CSV files");
  CLI11_PARSE(app, argc, argv);
  return examples::run_example("wide_resnet", [&] { return run(s); });
}
