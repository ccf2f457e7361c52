// Memory planned before allocation: the limit read from the environment, and the calls that
// refuse, with sizes and advice, what cannot fit (under a limit set by TANGENT_MEMORY_LIMIT, so
// that the test does not depend on the machine).

#include <algorithm>
#include <random>
#include <string>
#include <type_traits>
#include <utility>

#include <Eigen/Dense>
#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"
#include "support/memory_limit.hpp"
#include "support/messages.hpp"

namespace {

using namespace tangent;

using test::MemoryLimit;

/// The bytes a refused call said it needed and its message; 0 and "(nothing thrown)" if it ran.
template <class Call>
std::pair<double, std::string> refusal(const Call& call) {
  try {
    call();
  } catch (const MemoryError& e) {
    return {e.needed_bytes, e.what()};
  }
  return {0.0, "(nothing thrown)"};
}

}  // namespace

TEST_CASE("TANGENT_MEMORY_LIMIT caps the available memory", "[memory]") {
  const std::optional<AvailableMemory> machine = available_memory();
#if defined(__linux__)
  REQUIRE(machine.has_value());
  CHECK(machine->bytes > 0);
#endif
  {
    const MemoryLimit limit("3G");
    REQUIRE(available_memory().has_value());
    CHECK(available_memory()->bytes == 3.0 * 1024 * 1024 * 1024);
    CHECK(available_memory()->limit == "TANGENT_MEMORY_LIMIT");
  }
  {
    const MemoryLimit limit("123456");
    CHECK(available_memory()->bytes == 123456.0);
  }
  {
    const MemoryLimit limit("lots");
    CHECK_THROWS_WITH(available_memory(), Catch::Contains("TANGENT_MEMORY_LIMIT must be a number"));
  }
  {
    const MemoryLimit limit("2X");
    CHECK_THROWS_AS(available_memory(), std::invalid_argument);
  }
  CHECK(detail::show_bytes(12.8e9) == "12.8 GB");
  CHECK(detail::show_bytes(999) == "999 bytes");
}

TEST_CASE("predictions that cannot fit say what they need before allocating it", "[memory]") {
  const Eigen::MatrixXd x = test::random_inputs(400, 5, 301);
  const Eigen::MatrixXd y = test::random_inputs(400, 1, 302);
  const auto net = serial(Dense{.width = 1, .w_std = 1.3, .b_std = 0.1}, Erf{}, Dense{});
  const Eigen::MatrixXd k = ntk(net, x);  // 400² doubles: 1.28 MB
  const MemoryLimit limit("2M");          // 2.10 MB
  // The eigendecomposition needs its workspace, 2N² doubles, beyond the released kernel...
  const auto flow = gradient_descent_mse(k, y, MseOptions{.diag_reg = 1e-3});
  const std::string message = test::message_of<MemoryError>([&] { (void)flow.test(1.0, k); });
  CHECK_THAT(message, Catch::Contains("tangent::gradient_descent_mse: 2.56 MB needed for the "
                                      "eigendecomposition of the 400 × 400 NTK train-train "
                                      "kernel, but 2.1 MB available (TANGENT_MEMORY_LIMIT)"));
  CHECK_THAT(message, Catch::Contains("Cholesky route, which needs 1.28 MB"));
  // ...while t = ∞ with a ridge takes the Cholesky route, which fits.
  const Eigen::MatrixXd at_infinity = flow.test(infinite_time, k);
  CHECK(at_infinity.allFinite());

  // The MemoryError carries the sizes.
  try {
    (void)kernels(net, test::random_inputs(600, 5, 303));
    FAIL("kernels of 600 samples fit under 2 MB");
  } catch (const MemoryError& e) {
    CHECK(e.needed_bytes == 2.0 * 600 * 600 * 8);
    CHECK(e.available_bytes == 2.0 * 1024 * 1024);
    CHECK_THAT(std::string(e.what()),
               Catch::Contains("5.76 MB needed for the 600 × 600 NNGP and NTK") &&
                   Catch::Contains("nngp() or ntk() alone needs 2.88 MB"));
  }
}

TEST_CASE("kernels stored as float: the double kernel rounded once, in half the memory",
          "[memory][float]") {
  const Eigen::MatrixXd x = test::random_inputs(150, 6, 311);
  const Eigen::MatrixXd x2 = test::random_inputs(70, 6, 312);
  const auto net = serial(Dense{.width = 1, .w_std = 1.3, .b_std = 0.1}, ReLU{},
                          Dense{.width = 1, .w_std = 1.1, .b_std = 0.2});
  // The same tiles and the same arithmetic in double; only the stored type differs.
  const Eigen::MatrixXf same = ntk<float>(net, x);
  CHECK(same == ntk(net, x).cast<float>());
  CHECK(nngp<float>(net, x, x2) == nngp(net, x, x2).cast<float>());
  const BasicKernels<float> both = kernels<float>(net, x2);
  const Kernels reference = kernels(net, x2);
  CHECK(both.nngp == reference.nngp.cast<float>());
  CHECK(both.ntk == reference.ntk.cast<float>());
  const auto cnn = serial(Conv{.channels = 1, .filter = {2, 2}, .w_std = 1.2, .b_std = 0.1}, ReLU{},
                          Flatten{}, Dense{.width = 1});
  const Eigen::MatrixXd flat = test::random_inputs(5, 18, 313);
  const Eigen::MatrixXf spatial = ntk<float>(cnn, images(flat, 3, 3, 2));
  CHECK(spatial == ntk(cnn, images(flat, 3, 3, 2)).cast<float>());
  static_assert(std::is_same_v<decltype(ntk<double>(net, x)), Eigen::MatrixXd>);

  // An entry beyond float's range (x·xᵀ/d ≈ 1e40 here) is refused, not stored as ∞.
  const Eigen::MatrixXd huge = 1e20 * test::random_inputs(6, 4, 315);
  REQUIRE(ntk(net, huge).cwiseAbs().maxCoeff() > 1e39);
  CHECK_THROWS_WITH(ntk<float>(net, huge), Catch::Contains("exceeds float's range"));
  const Eigen::MatrixXd huge_flat = 1e20 * flat;
  CHECK_THROWS_WITH(nngp<float>(cnn, images(huge_flat, 3, 3, 2)),
                    Catch::Contains("exceeds float's range"));

  // 600² floats (1.44 MB) fit under 2 MB where the double kernel (2.88 MB) does not.
  const MemoryLimit limit("2M");
  const Eigen::MatrixXd wide = test::random_inputs(600, 5, 314);
  CHECK_THAT(test::message_of<MemoryError>([&] { (void)ntk(net, wide); }),
             Catch::Contains("2.88 MB needed for the 600 × 600 kernel"));
  CHECK(ntk<float>(net, wide).allFinite());
}

TEST_CASE("spatial kernels plan their traces and every thread's blocks of position pairs",
          "[memory][conv]") {
  // 8 images make 36 pairs, which threads take four at a time: at most 9 threads hold a block.
  const int threads = std::min<int>(static_cast<int>(detail::max_threads()), 9);
  // 32 × 32 images: GlobalAvgPool needs every pair of the P = 1,024 positions, a block of
  // 1,024² doubles (8.39 MB) per thread for the NNGP and as much for the NTK. Flatten needs only
  // the diagonal, P doubles.
  const Conv conv{.channels = 1, .filter = {3, 3}, .padding = Padding::same};
  const auto pooled = serial(conv, ReLU{}, GlobalAvgPool{}, Dense{});
  const auto flattened = serial(conv, ReLU{}, Flatten{}, Dense{});
  const Eigen::MatrixXd x = test::random_inputs(8, 32 * 32, 316);
  const Eigen::MatrixXd reference = kernels(pooled, images(x, 32, 32, 1)).ntk;
  {
    const std::string limit_value = std::to_string(12 * threads) + "M";
    const MemoryLimit limit(limit_value.c_str());
    const std::string message =
        test::message_of<MemoryError>([&] { (void)kernels(pooled, images(x, 32, 32, 1)); });
    CHECK_THAT(message,
               Catch::Contains(std::to_string(threads) + " threads' blocks of positions (" +
                               detail::show_bytes(threads * 2 * 8.0 * 1024 * 1024) + ")"));
    CHECK_THAT(message, Catch::Contains("fewer threads (OMP_NUM_THREADS)"));
    // The NNGP alone holds one block per thread, and Flatten's blocks are P long: both fit.
    CHECK(nngp(pooled, images(x, 32, 32, 1)).allFinite());
    CHECK(kernels(flattened, images(x, 32, 32, 1)).ntk.allFinite());
  }
  // The same call still computes the same kernel under a limit it fits.
  const std::string roomy_value = std::to_string(20 * threads) + "M";
  const MemoryLimit roomy(roomy_value.c_str());
  CHECK((kernels(pooled, images(x, 32, 32, 1)).ntk.array() == reference.array()).all());
}

TEST_CASE("kernel derivatives of images plan their dual traces and blocks", "[memory][conv]") {
  // The network of the case above without a bias: two hyperparameters (the Conv's and the
  // Dense's w_std), one pass two wide, so every entry of the traces and blocks is a dual of 3
  // doubles: a thread's NNGP and NTK blocks hold 2·1,024²·24 bytes (50.3 MB), three times
  // kernels()'s, which fits in 20 MB per thread.
  const int threads = std::min<int>(static_cast<int>(detail::max_threads()), 9);
  const Conv conv{.channels = 1, .filter = {3, 3}, .padding = Padding::same};
  const auto pooled = serial(conv, ReLU{}, GlobalAvgPool{}, Dense{});
  const Eigen::MatrixXd x = test::random_inputs(8, 32 * 32, 317);
  const std::string limit_value = std::to_string(20 * threads) + "M";
  const MemoryLimit limit(limit_value.c_str());
  CHECK(kernels(pooled, images(x, 32, 32, 1)).ntk.allFinite());
  const std::string message = test::message_of<MemoryError>(
      [&] { (void)kernel_derivatives(pooled, images(x, 32, 32, 1)); });
  CHECK_THAT(message, Catch::Contains("derivatives with respect to 2 hyperparameters"));
  CHECK_THAT(message, Catch::Contains(std::to_string(threads) + " threads' blocks of positions (" +
                                      detail::show_bytes(threads * 2 * 24.0 * 1024 * 1024) +
                                      "), with their derivatives"));
  CHECK_THAT(message, Catch::Contains("fewer threads (OMP_NUM_THREADS)"));
}

TEST_CASE("finite networks plan their parameters, activations and Monte Carlo draws",
          "[memory][finite]") {
  const MemoryLimit limit("100M");
  std::mt19937_64 rng(317);
  // 10·5,000 + 5,000² weights: 25.05 million numbers, 200 MB (the biases are not counted).
  const auto wide =
      serial(Dense{.width = 5000, .b_std = 0.1}, ReLU{}, Dense{.width = 5000, .b_std = 0.1});
  CHECK_THAT(test::message_of<MemoryError>([&] { (void)init(wide, rng, 10); }),
             Catch::Contains("200 MB needed for the parameters (25050000 numbers)"));

  // 2,001 activations per sample for 10,000 samples: 160 MB; backpropagation adds two gradients
  // of the widest layer, 2,000 numbers per sample: 320 MB.
  const auto net = serial(Dense{.width = 1000}, ReLU{}, Dense{.width = 1});
  const auto params = init(net, rng, 2);
  const Eigen::MatrixXd many = test::random_inputs(10000, 2, 318);
  CHECK_THAT(test::message_of<MemoryError>([&] { (void)apply(net, params, many); }),
             Catch::Contains("160 MB needed for the activations of every layer for 10000 samples"));
  const Eigen::MatrixXd output_gradient = Eigen::MatrixXd::Ones(10000, 1);
  CHECK_THAT(
      test::message_of<MemoryError>([&] { (void)gradients(net, params, many, output_gradient); }),
      Catch::Contains("320 MB needed for the activations and gradients of every layer"));
  CHECK(apply(net, params, many.topRows(100)).allFinite());

  // The empirical kernels of 3,000 samples: 2 × 72 MB.
  const auto narrow = serial(Dense{.width = 8}, ReLU{}, Dense{.width = 1});
  const auto narrow_params = init(narrow, rng, 2);
  const Eigen::MatrixXd x = test::random_inputs(3000, 2, 319);
  CHECK_THAT(
      test::message_of<MemoryError>([&] { (void)empirical_kernels(narrow, narrow_params, x); }),
      Catch::Contains("144 MB needed for the 3000 × 3000 NNGP and NTK") &&
          Catch::Contains("empirical_nngp() alone needs 72 MB"));

  // Monte Carlo: one draw of 1,500 samples fits (2 × 18 MB), but the sums of the seven chunks
  // that draw after it do not.
  const Eigen::MatrixXd y = x.topRows(1500);
  CHECK_THAT(test::message_of<MemoryError>([&] { (void)monte_carlo_kernels(narrow, rng, y, 8); }),
             Catch::Contains("the sums of 7 more chunks of draws (252 MB)"));
  CHECK(monte_carlo_kernels(narrow, rng, y.topRows(100), 8).ntk.allFinite());
}

TEST_CASE("the empirical kernels of two inputs count both forward passes' work buffers",
          "[memory][finite]") {
  // A 1×1 Conv(8) on 4×4 images: 16 positions × 8 channels = 2⁷ numbers per sample, blocks of
  // 2¹⁴ samples, so each of Conv's three work buffers may hold 2²¹ numbers: 48 MiB per thread and
  // forward pass. Two different inputs keep two forward passes (and their buffers) at once; one
  // input of as many samples has the same activations and one pass.
  const MemoryLimit limit("1M");
  std::mt19937_64 rng(320);
  const auto net =
      serial(Conv{.channels = 8, .padding = Padding::same}, ReLU{}, Flatten{}, Dense{.width = 1});
  const auto params = init(net, rng, image_shape(4, 4, 1));
  const Eigen::MatrixXd x1 = test::random_inputs(6, 16, 321);
  const Eigen::MatrixXd x2 = test::random_inputs(6, 16, 322);
  Eigen::MatrixXd both(12, 16);
  both << x1, x2;
  const auto [one_pass, one_message] =
      refusal([&] { (void)empirical_ntk(net, params, images(both, 4, 4, 1)); });
  const auto [two_passes, two_message] =
      refusal([&] { (void)empirical_ntk(net, params, images(x1, 4, 4, 1), images(x2, 4, 4, 1)); });
  const double buffers =
      static_cast<double>(detail::max_threads()) * 3 * double(1 << 21) * sizeof(double);
  CHECK(one_pass > buffers);
  CHECK(two_passes - one_pass == buffers);
  CHECK_THAT(one_message, Catch::Contains("for 12 samples and the work buffers of 1 forward pass"));
  CHECK_THAT(two_message,
             Catch::Contains("for 12 samples and the work buffers of 2 forward passes"));
}

TEST_CASE("the empirical NTK counts the input products its Dense layers keep", "[memory][finite]") {
  // Dense(8), ReLU, Dense(1) on 1,700 samples: the NNGP and NTK (2 × 1,700² numbers, 46 MB) fit
  // under 100 MiB, but not beside both Dense layers' x1·x2ᵀ (kept across output units), one
  // g1·g2ᵀ and the two layers' output gradients (8 + 1 numbers per sample).
  const MemoryLimit limit("100M");
  std::mt19937_64 rng(323);
  const auto net = serial(Dense{.width = 8}, ReLU{}, Dense{.width = 1});
  const auto params = init(net, rng, 2);
  const Eigen::MatrixXd x = test::random_inputs(1700, 2, 324);
  const auto [needed, message] = refusal([&] { (void)empirical_ntk(net, params, x); });
  CHECK(needed == (5.0 * 1700 * 1700 + 1700 * 9) * sizeof(double));
  CHECK_THAT(message, Catch::Contains("for the 1700 × 1700 NNGP and NTK, the inputs' products of "
                                      "2 Dense layers and the output gradients"));
  // The NNGP alone keeps none of them.
  CHECK(empirical_nngp(net, params, x).allFinite());
}
