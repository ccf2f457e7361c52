// Progress callbacks of the kernel functions: what they are told, on which thread, that the
// kernels do not change, and that throwing from one stops the call.

#include <thread>
#include <vector>

#include <Eigen/Dense>
#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"

namespace {

using namespace tangent;

struct Report {
  Index done;
  Index total;
};

/// A callback that records its calls and checks that they come from the test's own thread.
struct Recorder {
  std::vector<Report> reports;
  std::thread::id caller = std::this_thread::get_id();
  bool other_thread = false;
  ProgressCallback callback() {
    return [this](Index done, Index total) {
      if (std::this_thread::get_id() != caller) other_thread = true;
      reports.push_back({done, total});
    };
  }
};

void check_reports(const Recorder& r, Index total) {
  REQUIRE_FALSE(r.reports.empty());
  CHECK_FALSE(r.other_thread);
  CHECK(r.reports.back().done == total);
  for (std::size_t i = 0; i < r.reports.size(); ++i) {
    CHECK(r.reports[i].total == total);
    CHECK(r.reports[i].done <= total);
    if (i > 0) CHECK(r.reports[i].done >= r.reports[i - 1].done);
  }
  // At most about one report per percent, and the last.
  CHECK(r.reports.size() <= 102);
}

struct Cancelled {};

}  // namespace

TEST_CASE("kernels report their progress on the calling thread", "[progress]") {
  const auto net = serial(Dense{.width = 1, .w_std = 1.3, .b_std = 0.2}, Erf{}, Dense{});
  const Eigen::MatrixXd x1 = test::random_inputs(700, 5, 401);
  const Eigen::MatrixXd x2 = test::random_inputs(300, 5, 402);
  Recorder cross;
  const Kernels with = kernels(net, x1, x2, cross.callback());
  check_reports(cross, 700 * 300);
  const Kernels without = kernels(net, x1, x2);
  CHECK(with.nngp == without.nngp);
  CHECK(with.ntk == without.ntk);

  // Same input: the tiles of one triangle, the diagonal ones in full.
  Recorder same;
  CHECK(ntk(net, x1, same.callback()) == ntk(net, x1));
  REQUIRE_FALSE(same.reports.empty());
  const Index total = same.reports.back().total;
  CHECK(total >= 700 * 701 / 2);
  CHECK(total < 700 * 700);
  check_reports(same, total);

  // Images: pairs of samples.
  const Eigen::MatrixXd flat = test::random_inputs(12, 4 * 4 * 2, 403);
  const auto cnn =
      serial(Conv{.channels = 1, .filter = {2, 2}, .w_std = 1.3}, ReLU{}, GlobalAvgPool{}, Dense{});
  Recorder pairs;
  CHECK(nngp(cnn, images(flat, 4, 4, 2), pairs.callback()) == nngp(cnn, images(flat, 4, 4, 2)));
  check_reports(pairs, 12 * 13 / 2);
}

TEST_CASE("throwing from the progress callback stops the kernels", "[progress]") {
  const auto net = serial(Dense{.width = 1, .w_std = 1.3, .b_std = 0.2}, ReLU{}, Dense{});
  const Eigen::MatrixXd x1 = test::random_inputs(900, 5, 404);
  const Eigen::MatrixXd x2 = test::random_inputs(900, 5, 405);
  int calls = 0;
  const ProgressCallback cancel = [&](Index, Index) {
    ++calls;
    throw Cancelled{};
  };
  CHECK_THROWS_AS(kernels(net, x1, x2, cancel), Cancelled);
  CHECK(calls == 1);  // not called again after it threw, and no final report
  const Eigen::MatrixXd flat = test::random_inputs(30, 3 * 3 * 1, 406);
  calls = 0;
  CHECK_THROWS_AS(ntk(serial(Conv{.channels = 1, .filter = {2, 2}}, ReLU{}, Flatten{}, Dense{}),
                      images(flat, 3, 3, 1), cancel),
                  Cancelled);
  CHECK(calls == 1);
}
