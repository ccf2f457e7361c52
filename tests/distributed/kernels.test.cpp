// distributed::kernels against tangent::kernels on one process: every entry bit for bit, on
// every grid these processes can form, and bad input on one process refused on all of them.
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

#include "tangent/distributed.hpp"
#include "tangent/tangent.hpp"

#include "support/inputs.hpp"

namespace {

using tangent::Index;
using tangent::Matrix;
namespace td = tangent::distributed;

int world_size() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

/// Rows from a fixed seed (the same on every process), with rows 3 and 11 equal to row 0 and
/// row 5 zero: identical inputs and a zero vector take their own branches of the sweep.
Matrix<double> inputs(Index n, Index d, unsigned seed) {
  Matrix<double> x = tangent::test::normal_inputs(n, d, seed);
  if (n > 11) {
    x.row(3) = x.row(0);
    x.row(11) = x.row(0);
    x.row(5).setZero();
  }
  return x;
}

template <class S>
bool bitwise_equal(const Matrix<S>& a, const Matrix<S>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() && (a.array() == b.array()).all();
}

const auto fc_net = tangent::serial(tangent::Dense{.width = 64, .w_std = 1.5, .b_std = 0.1},
                                    tangent::ReLU{}, tangent::Dense{.width = 64, .w_std = 1.3},
                                    tangent::Erf{}, tangent::Dense{.width = 1, .b_std = 0.05});
const auto residual_net = tangent::serial(
    tangent::Dense{.width = 64},
    tangent::residual(tangent::serial(tangent::ReLU{}, tangent::Dense{.width = 64})),
    tangent::Gelu{}, tangent::Dense{.width = 1});

/// The grids these processes can form: the default (2 × 2 from 4 processes), one row, one
/// column.
std::vector<std::pair<int, int>> grids() {
  const int p = world_size();
  std::vector<std::pair<int, int>> shapes{{0, 0}, {1, p}};
  if (p > 1) shapes.emplace_back(p, 1);
  return shapes;
}

std::unique_ptr<td::Grid> make_grid(std::pair<int, int> shape) {
  if (shape.first == 0) return std::make_unique<td::Grid>(MPI_COMM_WORLD);
  return std::make_unique<td::Grid>(MPI_COMM_WORLD, shape.first, shape.second);
}

}  // namespace

TEST_CASE("distributed kernels of one input equal the single-process kernels bit for bit",
          "[distributed]") {
  // 70 samples: tiles of 24 (tile_side), the last one short, spread unevenly over the grid.
  const Matrix<double> x = inputs(70, 5, 1);
  const auto fc = tangent::kernels(fc_net, x);
  const auto res = tangent::kernels(residual_net, x);
  for (const auto& shape : grids()) {
    const auto grid = make_grid(shape);
    INFO("grid " << grid->rows() << " × " << grid->cols());
    const td::Kernels k = td::kernels(fc_net, x, *grid);
    CHECK(k.nngp.block() == 24);
    CHECK(bitwise_equal(k.nngp.replicated(), fc.nngp));
    CHECK(bitwise_equal(k.ntk.replicated(), fc.ntk));
    // One kernel alone: the same bits, one N × N matrix.
    CHECK(bitwise_equal(td::nngp(fc_net, x, *grid).replicated(), fc.nngp));
    CHECK(bitwise_equal(td::ntk(fc_net, x, *grid).replicated(), fc.ntk));
    const td::Kernels r = td::kernels(residual_net, x, *grid);
    CHECK(bitwise_equal(r.nngp.replicated(), res.nngp));
    CHECK(bitwise_equal(r.ntk.replicated(), res.ntk));
    // No process holds more than its blocks.
    CHECK(k.ntk.local().size() <=
          (70 / Index{grid->rows()} + 24) * (70 / Index{grid->cols()} + 24));
  }
}

TEST_CASE("distributed test-train kernels equal the single-process kernels bit for bit",
          "[distributed]") {
  const Matrix<double> train = inputs(70, 5, 1);
  const Matrix<double> test = inputs(33, 5, 2);
  const auto single = tangent::kernels(fc_net, test, train);
  for (const auto& shape : grids()) {
    const auto grid = make_grid(shape);
    INFO("grid " << grid->rows() << " × " << grid->cols());
    const td::Kernels k = td::kernels(fc_net, test, train, *grid);
    CHECK(k.nngp.rows() == 33);
    CHECK(k.nngp.cols() == 70);
    CHECK(bitwise_equal(k.nngp.replicated(), single.nngp));
    CHECK(bitwise_equal(k.ntk.replicated(), single.ntk));
    CHECK(bitwise_equal(td::nngp(fc_net, test, train, *grid).replicated(), single.nngp));
    CHECK(bitwise_equal(td::ntk(fc_net, test, train, *grid).replicated(), single.ntk));
    // x2 equal to x1 is one input, as on one process.
    const td::Kernels same = td::kernels(fc_net, train, Matrix<double>(train), *grid);
    CHECK(bitwise_equal(same.ntk.replicated(), tangent::ntk(fc_net, train)));
  }
}

TEST_CASE("distributed kernels of networks on images and sequences equal the single-process ones",
          "[distributed]") {
  // 37 images (tiles of 16: the last one short), with equal and zero images among them; a
  // pooling CNN (full position blocks), a Flatten one (diagonal blocks), a 1-D one on sequences.
  const Index pixel_count = Index{4} * 4 * 2;
  const Matrix<double> pixels = inputs(37, pixel_count, 3);
  const Matrix<double> test_pixels = inputs(13, pixel_count, 4);
  const auto images = tangent::images(pixels, 4, 4, 2);
  const auto test_images = tangent::images(test_pixels, 4, 4, 2);
  const auto pooled = tangent::serial(
      tangent::Conv{
          .channels = 8, .filter = {2, 2}, .padding = tangent::Padding::same, .b_std = 0.1},
      tangent::ReLU{}, tangent::AvgPool{.window = {2, 2}}, tangent::GlobalAvgPool{},
      tangent::Dense{.width = 1});
  const auto flat = tangent::serial(tangent::Conv{.channels = 8, .filter = {3, 3}}, tangent::Erf{},
                                    tangent::Flatten{}, tangent::Dense{.width = 1});
  const auto sequence_net = tangent::serial(
      tangent::Conv{.channels = 8, .filter = {3}, .padding = tangent::Padding::same},
      tangent::ReLU{}, tangent::GlobalAvgPool{}, tangent::Dense{.width = 1});
  const auto sequences = tangent::sequences(pixels, 8, 4);
  const auto pooled_k = tangent::kernels(pooled, images);
  const auto flat_k = tangent::kernels(flat, images);
  const auto cross_k = tangent::kernels(pooled, test_images, images);
  const auto sequence_k = tangent::kernels(sequence_net, sequences);
  for (const auto& shape : grids()) {
    const auto grid = make_grid(shape);
    INFO("grid " << grid->rows() << " × " << grid->cols());
    const td::Kernels k = td::kernels(pooled, images, *grid);
    CHECK(k.nngp.block() == 16);
    CHECK(bitwise_equal(k.nngp.replicated(), pooled_k.nngp));
    CHECK(bitwise_equal(k.ntk.replicated(), pooled_k.ntk));
    CHECK(bitwise_equal(td::nngp(flat, images, *grid).replicated(), flat_k.nngp));
    CHECK(bitwise_equal(td::ntk(flat, images, *grid).replicated(), flat_k.ntk));
    const td::Kernels cross = td::kernels(pooled, test_images, images, *grid);
    CHECK(bitwise_equal(cross.nngp.replicated(), cross_k.nngp));
    CHECK(bitwise_equal(cross.ntk.replicated(), cross_k.ntk));
    CHECK(bitwise_equal(td::ntk(sequence_net, sequences, *grid).replicated(), sequence_k.ntk));
    CHECK(bitwise_equal(td::nngp(sequence_net, sequences, *grid).replicated(), sequence_k.nngp));
    CHECK(bitwise_equal(td::ntk(pooled, test_images, images, *grid).replicated(), cross_k.ntk));
    // x2 equal to x1 is one input, as on one process.
    const Matrix<double> copy = pixels * 1.0;  // the same values in other storage
    CHECK(
        bitwise_equal(td::nngp(pooled, images, tangent::images(copy, 4, 4, 2), *grid).replicated(),
                      pooled_k.nngp));
    // Float storage: the double entries rounded once, as on one process.
    CHECK(bitwise_equal(td::ntk<float>(pooled, images, *grid).replicated(),
                        tangent::ntk<float>(pooled, images)));
  }
  td::Grid grid(MPI_COMM_WORLD);
  // Images of another shape, and another shape on one process only, refused on every process.
  CHECK_THROWS_WITH(td::kernels(pooled, tangent::images(test_pixels, 2, 8, 2), images, grid),
                    Catch::Contains("x1 holds 2×8×2 samples but x2 holds 4×4×2"));
  if (world_size() > 1) {
    const auto mine = world_rank() == 1 ? tangent::images(pixels, 8, 2, 2) : images;
    CHECK_THROWS_WITH(td::kernels(pooled, mine, grid),
                      Catch::Contains("x1's shape") && Catch::Contains("differs from rank 0's"));
    Matrix<double> spoiled = pixels;
    if (world_rank() == world_size() - 1) spoiled(4, 7) = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH(td::ntk(pooled, tangent::images(spoiled, 4, 4, 2), grid),
                      Catch::Contains("x1 has a non-finite value"));
  }
}

TEST_CASE("distributed kernels stored in float equal the single-process float kernels bit for bit",
          "[distributed]") {
  // Computed in double and rounded once on either side: the same bits, in half the memory.
  const Matrix<double> train = inputs(70, 5, 1);
  const Matrix<double> test = inputs(33, 5, 2);
  const auto same = tangent::kernels<float>(fc_net, train);
  const auto cross = tangent::kernels<float>(residual_net, test, train);
  for (const auto& shape : grids()) {
    const auto grid = make_grid(shape);
    INFO("grid " << grid->rows() << " × " << grid->cols());
    const td::BasicKernels<float> k = td::kernels<float>(fc_net, train, *grid);
    CHECK(bitwise_equal(k.nngp.replicated(), same.nngp));
    CHECK(bitwise_equal(k.ntk.replicated(), same.ntk));
    CHECK(bitwise_equal(td::nngp<float>(fc_net, train, *grid).replicated(), same.nngp));
    CHECK(bitwise_equal(td::ntk<float>(fc_net, train, *grid).replicated(), same.ntk));
    const td::BasicKernels<float> c = td::kernels<float>(residual_net, test, train, *grid);
    CHECK(bitwise_equal(c.nngp.replicated(), cross.nngp));
    CHECK(bitwise_equal(c.ntk.replicated(), cross.ntk));
    CHECK(bitwise_equal(td::ntk<float>(residual_net, test, train, *grid).replicated(), cross.ntk));
    CHECK(
        bitwise_equal(td::nngp<float>(residual_net, test, train, *grid).replicated(), cross.nngp));
    // Rounding a double distributed kernel gives the same bits.
    CHECK(bitwise_equal(td::ntk(fc_net, train, *grid).cast<float>().replicated(), same.ntk));
  }
  // Entries beyond float's range (finite in double; the residual net's Gelu keeps the scale,
  // where fc_net's Erf would bound it) are refused on every process, as on one.
  const Matrix<double> huge = 1e25 * train;
  td::Grid grid(MPI_COMM_WORLD);
  CHECK_NOTHROW(td::ntk(residual_net, huge, grid));
  CHECK_THROWS_WITH(tangent::ntk<float>(residual_net, huge),
                    Catch::Contains("exceeds float's range"));
  CHECK_THROWS_WITH(td::ntk<float>(residual_net, huge, grid),
                    Catch::Contains("exceeds float's range"));
  CHECK_THROWS_WITH(td::ntk<float>(residual_net, Matrix<double>(1e25 * test), huge, grid),
                    Catch::Contains("exceeds float's range"));
  CHECK_THROWS_WITH(td::ntk(residual_net, huge, grid).cast<float>(),
                    Catch::Contains("exceeds float's range"));
}

TEST_CASE("distributed kernels refuse bad input on one process on every process", "[distributed]") {
  const int rank = world_rank();
  const int last = world_size() - 1;
  td::Grid grid(MPI_COMM_WORLD);
  const Matrix<double> x = inputs(40, 4, 3);
  auto refused = [&](const Matrix<double>& mine, const std::string& says) {
    try {
      (void)td::kernels(fc_net, mine, grid);
    } catch (const std::invalid_argument& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK(message.find(says) != std::string::npos);
      if (last > 0)
        CHECK(message.find("found on rank " + std::to_string(last)) != std::string::npos);
      return;
    }
    FAIL("no exception");
  };
  Matrix<double> nan = x;
  if (rank == last) nan(7, 2) = std::numeric_limits<double>::quiet_NaN();
  refused(nan, "x1 has a non-finite value (nan) at row 7, column 2");
  if (last > 0) {
    Matrix<double> shorter = x;
    if (rank == last) shorter.conservativeResize(39, 4);
    refused(shorter, "x1 is 39 × 4 on rank " + std::to_string(last) + " but 40 × 4 on rank 0");
    Matrix<double> other = x;
    if (rank == last) other(0, 0) += 1e-15;
    refused(other, "differs from rank 0's copy");
    // Two sign flips, which a weak hash of the bits would let cancel.
    Matrix<double> flipped = x;
    if (rank == last) {
      flipped(1, 1) = -flipped(1, 1);
      flipped(2, 3) = -flipped(2, 3);
    }
    refused(flipped, "differs from rank 0's copy");
    // One sample cannot be spread over two process columns.
    try {
      (void)td::kernels(fc_net, x.topRows(1), grid);
      FAIL("no exception");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find("cannot be spread over the") != std::string::npos);
    }
  }
  // A test-train kernel may leave processes without rows: one test point on any grid.
  const td::Kernels one = td::kernels(fc_net, x.topRows(1), x, grid);
  CHECK(bitwise_equal(one.ntk.replicated(), tangent::ntk(fc_net, x.topRows(1), x)));
  // A network that overflows on every process: the same exception on all of them.
  const auto huge = tangent::serial(tangent::Dense{.width = 8, .w_std = 1e200},
                                    tangent::Dense{.width = 1, .w_std = 1e200});
  CHECK_THROWS(td::kernels(huge, x, grid));
}
