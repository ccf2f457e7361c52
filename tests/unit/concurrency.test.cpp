// Calls from several user threads at once, on shared const inputs, give the same bits as the
// same calls made one after another: the library keeps no mutable state between calls. CI also
// builds this file alone with ThreadSanitizer and OpenMP off (scripts/thread-sanitizer.sh), where
// a data race is a failure whatever the numbers.

#include <array>
#include <random>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"

namespace {

using namespace tangent;
using tangent::test::random_inputs;

/// What every thread computes: kernels of a fully connected and a convolutional network, a
/// finite network's outputs and empirical NTK, and a prediction at t = ∞.
struct Results {
  Kernels fc;
  Kernels conv;
  Eigen::MatrixXd outputs;
  Eigen::MatrixXd empirical_ntk;
  Eigen::MatrixXd mean;

  bool operator==(const Results& other) const {
    const auto same = [](const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
      return a.rows() == b.rows() && a.cols() == b.cols() && (a.array() == b.array()).all();
    };
    return same(fc.nngp, other.fc.nngp) && same(fc.ntk, other.fc.ntk) &&
           same(conv.nngp, other.conv.nngp) && same(conv.ntk, other.conv.ntk) &&
           same(outputs, other.outputs) && same(empirical_ntk, other.empirical_ntk) &&
           same(mean, other.mean);
  }
};

TEST_CASE("calls from several threads at once give the bits of sequential calls", "[concurrency]") {
  const auto fc =
      serial(Dense{.w_std = 1.4, .b_std = 0.1}, Erf{}, Dense{.w_std = 1.2}, ReLU{}, Dense{});
  const auto cnn = serial(Conv{.channels = 4, .filter = {2, 2}, .b_std = 0.1}, ReLU{},
                          AvgPool{.window = {2, 2}}, Flatten{}, Dense{});
  const auto finite = serial(Dense{.width = 32, .b_std = 0.1}, ReLU{}, Dense{.width = 2});
  const Eigen::MatrixXd x = random_inputs(40, 6, 95);
  const Eigen::MatrixXd pixels = random_inputs(12, 4 * 4 * 2, 96);
  const Eigen::MatrixXd y = random_inputs(30, 2, 97);
  std::mt19937_64 rng(7);
  const auto params = init(finite, rng, 6);

  const auto compute = [&] {
    Results r;
    r.fc = kernels(fc, x);
    r.conv = kernels(cnn, images(pixels, 4, 4, 2));
    r.outputs = apply(finite, params, x);
    r.empirical_ntk = empirical_ntk(finite, params, x);
    const Kernels test_train = kernels(fc, x.bottomRows(10), x.topRows(30));
    r.mean = gp_inference(kernels(fc, x.topRows(30)), y, {.diag_reg = 1e-4})
                 .predict(test_train, Get::ntk)
                 .ntk.mean;
    return r;
  };

  const Results sequential = compute();
  constexpr int kThreads = 4;
  std::array<Results, kThreads> concurrent;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] { concurrent[static_cast<std::size_t>(t)] = compute(); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const Results& r : concurrent) CHECK(r == sequential);
}

}  // namespace
