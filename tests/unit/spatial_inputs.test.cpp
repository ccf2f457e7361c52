// images() and sequences(): every spelling of a temporary gives an input that owns its data (a
// view of it would dangle; AddressSanitizer, in CI, catches a read of freed memory), named
// storage and maps are viewed without a copy, and sizes whose product overflows get a sentence.

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"

namespace {

using namespace tangent;
using tangent::test::random_inputs;

/// What a loader returns: the data by value, as `load_idx(...)` and most user code do.
struct Loaded {
  Eigen::MatrixXd x;
};
Loaded load(int n) {
  return {random_inputs(n, 3 * 3 * 2, 91)};
}

const auto& conv_net() {
  static const auto net =
      serial(Conv{.channels = 4, .filter = {2, 2}, .b_std = 0.2}, ReLU{}, Flatten{}, Dense{});
  return net;
}

/// The NTK of `input` after every temporary of the statement that made it has died, next to the
/// NTK of a named copy of the same rows.
template <class Input>
void check_owns_rows(const Input& input, const Eigen::MatrixXd& expected_rows) {
  CHECK(input.owned != nullptr);
  const Eigen::MatrixXd got = ntk(conv_net(), input);
  const Eigen::MatrixXd want = ntk(conv_net(), images(expected_rows, 3, 3, 2));
  CHECK((got.array() == want.array()).all());
}

TEST_CASE("images of a temporary own their data", "[inputs][conv]") {
  const Eigen::MatrixXd all = load(12).x;
  SECTION("a temporary matrix") {
    const auto in = images(load(12).x, 3, 3, 2);
    check_owns_rows(in, all);
  }
  SECTION("a block of a temporary") {
    const auto in = images(load(12).x.topRows(5), 3, 3, 2);
    check_owns_rows(in, all.topRows(5));
  }
  SECTION("a strided block of a temporary") {
    const auto in = images(load(12).x.middleRows(2, 7), 3, 3, 2);
    check_owns_rows(in, all.middleRows(2, 7));
  }
  SECTION("an expression") {
    const auto in = images(load(12).x * 0.5, 3, 3, 2);
    check_owns_rows(in, 0.5 * all);
  }
  SECTION("a row-major temporary") {
    using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const auto in = images(RowMajor(load(12).x), 3, 3, 2);
    check_owns_rows(in, all);
  }
  SECTION("copies share the data") {
    using Input = SpatialInput<double, 2>;
    std::vector<Input> copies;
    {
      const Input original = images(load(12).x.bottomRows(4), 3, 3, 2);
      copies.push_back(original);
    }
    check_owns_rows(copies.front(), all.bottomRows(4));
  }
}

TEST_CASE("sequences of a temporary own their data", "[inputs][conv]") {
  const auto net = serial(Conv{.channels = 3, .filter = {2}}, ReLU{}, Flatten{}, Dense{});
  const Eigen::MatrixXd all = load(6).x;
  const auto in = sequences(load(6).x.topRows(4), 9, 2);
  REQUIRE(in.owned != nullptr);
  const Eigen::MatrixXd got = ntk(net, in);
  const Eigen::MatrixXd want = ntk(net, sequences(all.topRows(4), 9, 2));
  CHECK((got.array() == want.array()).all());
}

TEST_CASE("named matrices, blocks and maps are viewed without a copy", "[inputs]") {
  const Eigen::MatrixXd x = load(8).x;
  const auto whole = images(x, 3, 3, 2);
  CHECK(whole.owned == nullptr);
  CHECK(whole.flat.data() == x.data());
  const auto rows = x.middleRows(2, 3);
  const auto block = images(rows, 3, 3, 2);
  CHECK(block.owned == nullptr);
  CHECK(block.flat.data() == x.data() + 2);
  // A map's storage is the caller's buffer, which outlives the map itself.
  std::vector<double> buffer(x.data(), x.data() + x.size());
  const auto mapped = images(Eigen::Map<const Eigen::MatrixXd>(buffer.data(), 8, 18), 3, 3, 2);
  CHECK(mapped.owned == nullptr);
  CHECK(mapped.flat.data() == buffer.data());
  const auto mapped_rows =
      images(Eigen::Map<const Eigen::MatrixXd>(buffer.data(), 8, 18).topRows(2), 3, 3, 2);
  CHECK(mapped_rows.owned == nullptr);
  CHECK(mapped_rows.flat.data() == buffer.data());
}

TEST_CASE("sizes whose product overflows get a sentence, not a wrapped count", "[inputs][errors]") {
  constexpr Index big = Index{1} << 32;
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 8);
  CHECK_THROWS_WITH(images(x, big, big, 2),
                    "tangent::images: each sample of 4294967296×4294967296×2 has more entries "
                    "than a 64-bit index counts");
  CHECK_THROWS_WITH(sequences(x, big, big),
                    "tangent::sequences: each sample of 4294967296×4294967296 has more entries "
                    "than a 64-bit index counts");
  std::mt19937_64 rng(1);
  CHECK_THROWS_WITH(
      (void)init(serial(Conv{.channels = 1}, Flatten{}, Dense{}), rng, image_shape(big, big, 2)),
      "tangent::init: the input shape 4294967296×4294967296×2 has more entries "
      "than a 64-bit index counts");
  // 2×2 images with 2^62 channels after a convolution: 2^64 entries per sample.
  const auto wide = serial(Conv{.channels = Index{1} << 62, .filter = {1, 1}}, Flatten{}, Dense{});
  const std::string layer_message =
      "tangent::Conv (layer 1 of the network): its output of 2×2×4611686018427387904 per sample "
      "has more entries than a 64-bit index counts";
  CHECK_THROWS_WITH(ntk(wide, images(x, 2, 2, 2)), layer_message);
  CHECK_THROWS_WITH((void)init(wide, rng, image_shape(2, 2, 2)), layer_message);
  // Two branches of 1×1×2^62 concatenated: a sum past 2^63 − 1.
  const Conv half_wide{.channels = Index{1} << 62, .filter = {1, 1}};
  const auto concat = serial(parallel(half_wide, half_wide), FanInConcat{}, Flatten{}, Dense{});
  const std::string concat_message =
      "tangent::FanInConcat (layer 3 of the network): its output size 4611686018427387904 + "
      "4611686018427387904 has more entries than a 64-bit index counts";
  const Eigen::MatrixXd pixel = Eigen::MatrixXd::Ones(2, 2);
  CHECK_THROWS_WITH(ntk(concat, images(pixel, 1, 1, 2)), concat_message);
  CHECK_THROWS_WITH((void)init(concat, rng, image_shape(1, 1, 2)), concat_message);
}

}  // namespace
