// An exception thrown by a user's layer reaches the caller as that exception from every driver:
// from the parallel loops (kernel tiles, image pairs, Monte Carlo draws) never std::terminate,
// and on any number of threads it is the one a sequential run throws first; from the sequential
// drivers (a finite network's forward and backward passes, training's on_step) unchanged.

#include <atomic>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "support/inputs.hpp"
#include "support/messages.hpp"

namespace {

using namespace tangent;
using tangent::test::random_inputs;

/// ReLU, as a user would write it, that throws where it is told to: `moments` for a negative
/// covariance q12 (only pairs of different samples can have one when every input but a few is
/// non-negative, so each sample's own variances pass), `value` and `derivative` beyond a
/// magnitude, and `value` after a number of calls counted across threads.
struct Tripwire {
  double value_limit = std::numeric_limits<double>::infinity();
  double derivative_limit = std::numeric_limits<double>::infinity();
  static inline std::atomic<long> value_calls{0};
  static inline long value_budget = std::numeric_limits<long>::max();

  static constexpr std::string_view name = "Tripwire";

  template <class S>
  S value(S x) const {
    if (++value_calls > value_budget) throw std::domain_error("Tripwire: out of calls");
    if (std::abs(x) > value_limit)
      throw std::domain_error("Tripwire: value at " + std::to_string(x));
    return x > S(0) ? x : S(0);
  }
  template <class S>
  S derivative(S x) const {
    if (std::abs(x) > derivative_limit) {
      throw std::domain_error("Tripwire: derivative at " + std::to_string(x));
    }
    return x > S(0) ? S(1) : S(0);
  }
  template <class S>
  Moments<S> moments(S q11, S q12, S q22) const {
    if (q12 < S(0)) throw std::domain_error("Tripwire: q12 = " + std::to_string(q12));
    const S s = std::sqrt(std::max(S(0), q11 * q22 - q12 * q12));
    const S theta = std::atan2(s, q12);
    const S two_pi = 2 * std::numbers::pi_v<S>;
    return {(s + (std::numbers::pi_v<S> - theta) * q12) / two_pi,
            (std::numbers::pi_v<S> - theta) / two_pi};
  }
  template <class S>
  S variance(S q) const {
    return q / 2;
  }
  void validate(const LayerSite&) const {}
};

/// Non-negative inputs except rows `first` and `second`, negated and scaled differently, so that
/// the first failing pair names which row it met.
Eigen::MatrixXd inputs_with_negative_rows(int n, int d, Index first, Index second) {
  Eigen::MatrixXd x = random_inputs(n, d, 81).cwiseAbs();
  x.row(first) *= -2.0;
  x.row(second) *= -3.0;
  return x;
}

template <class Call>
std::string message_of(Call&& call) {
  return tangent::test::message_of<std::domain_error>(call);
}

/// The message of `call` on 1, 2 and 3 threads (one run without OpenMP); on one thread the loop
/// runs in order, as a sequential program would.
template <class Call>
std::vector<std::string> messages_on_thread_counts(Call&& call) {
  std::vector<std::string> messages;
#if defined(_OPENMP)
  const int threads = omp_get_max_threads();
  for (const int t : {1, 2, 3}) {
    omp_set_num_threads(t);
    messages.push_back(message_of(call));
  }
  omp_set_num_threads(threads);
#else
  messages.push_back(message_of(call));
#endif
  return messages;
}

/// Every message starts with `expected` and equals the one-thread message.
void require_same_tripwire(const std::vector<std::string>& messages, std::string_view expected) {
  for (const std::string& m : messages) {
    INFO(m);
    CHECK(m.starts_with(expected));
    CHECK(m == messages.front());
  }
}

TEST_CASE("a layer that throws inside the fully connected sweep reaches the caller",
          "[errors][parallel]") {
  const auto net = serial(Dense{.w_std = 1.2}, Tripwire{}, Dense{.w_std = 1.1});
  // 80 rows: 10 tiles of 24, so the failing pairs lie in tiles run by different threads.
  const Eigen::MatrixXd x = inputs_with_negative_rows(80, 5, 30, 70);
  const std::string_view first = "Tripwire: q12 = -";
  require_same_tripwire(messages_on_thread_counts([&] { (void)ntk(net, x); }), first);
  require_same_tripwire(messages_on_thread_counts([&] { (void)nngp(net, x); }), first);
  require_same_tripwire(messages_on_thread_counts([&] { (void)kernels(net, x, x.topRows(40)); }),
                        first);
}

TEST_CASE("a layer that throws inside the spatial sweep reaches the caller",
          "[errors][parallel][conv]") {
  const auto net =
      serial(Conv{.channels = 3, .filter = {2, 2}, .w_std = 1.3}, Tripwire{}, Flatten{}, Dense{});
  const Eigen::MatrixXd x = inputs_with_negative_rows(24, 3 * 3 * 2, 9, 20);
  const std::string_view first = "Tripwire: q12 = -";
  require_same_tripwire(messages_on_thread_counts([&] { (void)ntk(net, images(x, 3, 3, 2)); }),
                        first);
  require_same_tripwire(
      messages_on_thread_counts([&] { (void)nngp(net, images(x, 3, 3, 2), images(x, 3, 3, 2)); }),
      first);
}

TEST_CASE("a layer that throws in a finite network's forward or backward pass reaches the caller",
          "[errors][finite]") {
  Eigen::MatrixXd x = random_inputs(12, 4, 82);
  x.row(7) *= 1e6;
  std::mt19937_64 rng(3);
  const auto forward_net = serial(Dense{.width = 64}, Tripwire{.value_limit = 1e3}, Dense{});
  const auto forward_params = init(forward_net, rng, 4);
  CHECK(message_of([&] {
          (void)apply(forward_net, forward_params, x);
        }).starts_with("Tripwire: value at"));
  CHECK(message_of([&] {
          (void)empirical_kernels(forward_net, forward_params, x);
        }).starts_with("Tripwire: value at"));

  const auto backward_net = serial(Dense{.width = 64}, Tripwire{.derivative_limit = 1e3}, Dense{});
  const auto backward_params = init(backward_net, rng, 4);
  const Eigen::MatrixXd out = apply(backward_net, backward_params, x);
  CHECK(message_of([&] {
          (void)gradients(backward_net, backward_params, x, Eigen::MatrixXd::Ones(12, 1));
        }).starts_with("Tripwire: derivative at"));
  CHECK(message_of([&] {
          (void)empirical_kernels(backward_net, backward_params, x);
        }).starts_with("Tripwire: derivative at"));
}

TEST_CASE("a layer that throws in a Monte Carlo draw run in parallel reaches the caller",
          "[errors][parallel][finite]") {
  const auto net = serial(Dense{.width = 32}, Tripwire{}, Dense{});
  const Eigen::MatrixXd x = random_inputs(6, 3, 83);
  // One draw's calls of value(), counted; a budget of one more lets the first draw (run alone,
  // before the parallel loop) pass and makes a later draw, inside the loop, throw.
  Tripwire::value_calls = 0;
  std::mt19937_64 rng1(4);
  (void)monte_carlo_kernels(net, rng1, x, 1);
  const long per_draw = Tripwire::value_calls;
  REQUIRE(per_draw > 0);
  Tripwire::value_calls = 0;
  struct Budget {
    explicit Budget(long calls) { Tripwire::value_budget = calls; }
    ~Budget() { Tripwire::value_budget = std::numeric_limits<long>::max(); }
    Budget(const Budget&) = delete;
    Budget& operator=(const Budget&) = delete;
  } budget(per_draw + 1);
  std::mt19937_64 rng8(4);
  CHECK(message_of([&] { (void)monte_carlo_kernels(net, rng8, x, 8); }) ==
        "Tripwire: out of calls");
}

TEST_CASE("an on_step callback that throws stops training and reaches the caller",
          "[errors][finite][train]") {
  const auto net = serial(Dense{.width = 16}, ReLU{}, Dense{});
  const Eigen::MatrixXd x = random_inputs(6, 3, 84);
  const Eigen::MatrixXd y = random_inputs(6, 1, 85);
  std::mt19937_64 rng(5);
  const auto params = init(net, rng, 3);
  Index last_step = -1;
  TrainOptions options{.learning_rate = 0.1, .steps = 10};
  options.on_step = [&](Index step, double) {
    last_step = step;
    if (step == 3) throw std::domain_error("stop at step 3");
  };
  CHECK(message_of([&] { (void)train(net, params, x, y, options); }) == "stop at step 3");
  CHECK(last_step == 3);
}

}  // namespace
