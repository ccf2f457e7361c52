// Structural properties every kernel must have: symmetry, positive semi-definiteness, cross
// kernels equal to blocks of the joint kernel, float agreeing with double, and results that do
// not depend on the tiling or the number of threads.

#include <Eigen/Eigenvalues>
#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

using tangent::test::random_inputs;

const auto net_a =
    tangent::serial(tangent::Dense{.width = 32, .w_std = 1.4, .b_std = 0.2}, tangent::ReLU{},
                    tangent::Dense{.w_std = 1.1, .b_std = 0.1},
                    tangent::Erf{.a = 1.2, .b = 0.7, .c = 0.3}, tangent::Dense{.w_std = 0.9});
const auto net_b = tangent::serial(
    tangent::Dense{
        .width = 16, .w_std = 1.0, .parameterization = tangent::Parameterization::standard},
    tangent::ABReLU{.a = -0.4, .b = 1.3}, tangent::Dense{.width = 5, .w_std = 1.3, .b_std = 0.5},
    tangent::Abs{},
    tangent::Dense{
        .w_std = 0.7, .b_std = 0.2, .parameterization = tangent::Parameterization::standard});

template <class Net>
void check_psd_and_symmetric(const Net& net, const Eigen::MatrixXd& x) {
  const tangent::Kernels k = tangent::kernels(net, x);
  for (const Eigen::MatrixXd* m : {&k.nngp, &k.ntk}) {
    CHECK((m->array() == m->transpose().array()).all());
    const Eigen::VectorXd eig = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(*m).eigenvalues();
    CHECK(eig.minCoeff() >= -1e-12 * eig.maxCoeff());
  }
}

}  // namespace

TEST_CASE("same-input kernels are symmetric and positive semi-definite", "[kernels][properties]") {
  // 40 points in 3 dimensions: the Gram matrices are numerically low rank, the hard case for PSD.
  check_psd_and_symmetric(net_a, random_inputs(40, 3, 21));
  check_psd_and_symmetric(net_b, random_inputs(40, 3, 22));
  check_psd_and_symmetric(net_a, random_inputs(300, 8, 23));  // several tiles
}

TEST_CASE("kernels(x1, x2) is the off-diagonal block of kernels([x1; x2])",
          "[kernels][properties]") {
  const Eigen::MatrixXd x1 = random_inputs(150, 6, 24);
  const Eigen::MatrixXd x2 = random_inputs(170, 6, 25);
  Eigen::MatrixXd joint(320, 6);
  joint << x1, x2;
  for (const auto& [cross, all] :
       {std::pair{tangent::kernels(net_a, x1, x2), tangent::kernels(net_a, joint)},
        std::pair{tangent::kernels(net_b, x1, x2), tangent::kernels(net_b, joint)}}) {
    const double scale = all.ntk.cwiseAbs().maxCoeff();
    CHECK((cross.nngp - all.nngp.topRightCorner(150, 170)).cwiseAbs().maxCoeff() <= 1e-13 * scale);
    CHECK((cross.ntk - all.ntk.topRightCorner(150, 170)).cwiseAbs().maxCoeff() <= 1e-13 * scale);
  }
}

TEST_CASE("x2 equal to x1 gives the same-input kernel, bit for bit", "[kernels][properties]") {
  const Eigen::MatrixXd x = random_inputs(37, 6, 25);
  const tangent::Kernels once = tangent::kernels(net_a, x);
  // The same matrix, and a copy in which a zero is −0 (equal value by value).
  Eigen::MatrixXd x_zero = x;
  x_zero(3, 2) = 0.0;
  Eigen::MatrixXd negative_zero = x_zero;
  negative_zero(3, 2) = -0.0;
  const tangent::Kernels zero_once = tangent::kernels(net_a, x_zero);
  for (const auto& [cross, same] :
       {std::pair{tangent::kernels(net_a, x, x), once},
        std::pair{tangent::kernels(net_a, x_zero, negative_zero), zero_once}}) {
    CHECK((cross.nngp.array() == same.nngp.array()).all());
    CHECK((cross.ntk.array() == same.ntk.array()).all());
  }
  CHECK((tangent::ntk(net_a, x, x).array() == once.ntk.array()).all());
  CHECK((tangent::nngp(net_a, x, x).array() == once.nngp.array()).all());

  // Found by the fuzzer: images whose patches are collinear without being equal. The cross sweep
  // summed a pair's positions in another order, and arccos near angle 0 turned that into a
  // difference of 4.75e-12 in entries of about 90.
  const auto cnn = tangent::serial(
      tangent::Conv{.channels = 2,
                    .filter = {2, 2},
                    .padding = tangent::Padding::same,
                    .w_std = 1.0980392156862746},
      tangent::Abs{},
      tangent::AvgPool{.window = {2, 2}, .strides = {2, 2}, .padding = tangent::Padding::same},
      tangent::Conv{.channels = 2,
                    .filter = {2, 2},
                    .padding = tangent::Padding::same,
                    .w_std = 2.0235294117647058},
      tangent::ReLU{}, tangent::GlobalAvgPool{}, tangent::Dense{.w_std = 2.0235294117647058});
  Eigen::MatrixXd pixels = Eigen::MatrixXd::Constant(5, 4, -5.58447265625);
  pixels(2, 1) = -5.608154296875;
  const Eigen::MatrixXd pixels_copy = pixels;
  const tangent::Kernels image_once = tangent::kernels(cnn, tangent::images(pixels, 2, 2, 1));
  const tangent::Kernels image_twice = tangent::kernels(cnn, tangent::images(pixels, 2, 2, 1),
                                                        tangent::images(pixels_copy, 2, 2, 1));
  CHECK((image_twice.nngp.array() == image_once.nngp.array()).all());
  CHECK((image_twice.ntk.array() == image_once.ntk.array()).all());
  CHECK((image_twice.ntk.array() == image_twice.ntk.transpose().array()).all());
}

TEST_CASE("float kernels agree with double kernels", "[kernels][properties]") {
  const Eigen::MatrixXd x1 = random_inputs(20, 5, 26);
  const Eigen::MatrixXd x2 = random_inputs(30, 5, 27);
  const tangent::Kernels d = tangent::kernels(net_a, x1, x2);
  const tangent::BasicKernels<float> f =
      tangent::kernels(net_a, Eigen::MatrixXf(x1.cast<float>()), Eigen::MatrixXf(x2.cast<float>()));
  const double scale = d.ntk.cwiseAbs().maxCoeff();
  CHECK((f.nngp.cast<double>() - d.nngp).cwiseAbs().maxCoeff() <= 1e-5 * scale);
  CHECK((f.ntk.cast<double>() - d.ntk).cwiseAbs().maxCoeff() <= 1e-5 * scale);
}

TEST_CASE("row-major and expression inputs give the same kernels", "[kernels][properties]") {
  const Eigen::MatrixXd x = random_inputs(9, 4, 28);
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = x;
  const tangent::Kernels a = tangent::kernels(net_b, x);
  const tangent::Kernels b = tangent::kernels(net_b, row_major);
  const tangent::Kernels c = tangent::kernels(net_b, 1.0 * x.topRows(9));
  CHECK((a.ntk.array() == b.ntk.array()).all());
  CHECK((a.ntk.array() == c.ntk.array()).all());
}

#if defined(_OPENMP)
TEST_CASE("results do not depend on the number of threads", "[kernels][properties]") {
  const Eigen::MatrixXd x1 = random_inputs(300, 20, 29);
  const Eigen::MatrixXd x2 = random_inputs(270, 20, 30);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const tangent::Kernels one = tangent::kernels(net_a, x1, x2);
  const tangent::Kernels one_same = tangent::kernels(net_a, x1);
  omp_set_num_threads(3);
  const tangent::Kernels three = tangent::kernels(net_a, x1, x2);
  const tangent::Kernels three_same = tangent::kernels(net_a, x1);
  omp_set_num_threads(threads);
  CHECK((one.nngp.array() == three.nngp.array()).all());
  CHECK((one.ntk.array() == three.ntk.array()).all());
  CHECK((one_same.ntk.array() == three_same.ntk.array()).all());
}
#endif

// A layer without a packet form (any user-defined layer) runs lane by lane inside the packet
// sweep; the built-in ones run on whole packets of rows. Both must give the same kernels: here
// the same rules, reached through types the packet sweep does not know.
struct EntryReLU : tangent::ReLU {};
struct EntryErf : tangent::Erf {};
/// Dropout whose still_equal takes one pair only: the sweep must call it lane by lane.
struct EntryDropout : tangent::Dropout {
  bool still_equal(const tangent::EntryContext<double>& pair) const {
    return tangent::Dropout::still_equal(pair);
  }
};

TEST_CASE("user layers without a packet form match the packet sweep lane by lane",
          "[kernels][properties]") {
  using namespace tangent;
  const Dense dense{.width = 16, .w_std = 1.4, .b_std = 0.1};
  const auto packets = serial(dense, ReLU{}, dense, Erf{}, dense);
  const auto entries = serial(dense, EntryReLU{}, dense, EntryErf{}, dense);
  Eigen::MatrixXd x1 = random_inputs(37, 6, 31);
  x1.row(5) = x1.row(2);  // identical rows: the angle must be exactly 0 on both paths
  const Eigen::MatrixXd x2 = random_inputs(19, 6, 32);
  const Kernels p_cross = kernels(packets, x1, x2);
  const Kernels e_cross = kernels(entries, x1, x2);
  const Kernels p_same = kernels(packets, x1);
  const Kernels e_same = kernels(entries, x1);
  // Both evaluate the same closed forms; only the order of a few roundings may differ.
  CHECK((p_cross.nngp - e_cross.nngp).cwiseAbs().maxCoeff() <=
        1e-14 * p_cross.nngp.cwiseAbs().maxCoeff());
  CHECK((p_cross.ntk - e_cross.ntk).cwiseAbs().maxCoeff() <=
        1e-14 * p_cross.ntk.cwiseAbs().maxCoeff());
  CHECK((p_same.nngp - e_same.nngp).cwiseAbs().maxCoeff() <=
        1e-14 * p_same.nngp.cwiseAbs().maxCoeff());
  CHECK((p_same.ntk - e_same.ntk).cwiseAbs().maxCoeff() <=
        1e-14 * p_same.ntk.cwiseAbs().maxCoeff());
  CHECK(e_same.ntk(5, 2) == e_same.ntk(2, 2));
  CHECK(p_same.ntk(5, 2) == p_same.ntk(2, 2));

  // Dropout tells the equal rows 2 and 5 apart (different samples): so must a user layer that
  // says so only for single pairs, or the ReLU after it would see them equal.
  const auto dropped = serial(dense, ReLU{}, Dropout{.rate = 0.7}, dense, ReLU{}, dense);
  const auto lane_dropped =
      serial(dense, ReLU{}, EntryDropout{{.rate = 0.7}}, dense, ReLU{}, dense);
  const Kernels d_same = kernels(dropped, x1);
  const Kernels l_same = kernels(lane_dropped, x1);
  CHECK((d_same.ntk - l_same.ntk).cwiseAbs().maxCoeff() <=
        1e-14 * d_same.ntk.cwiseAbs().maxCoeff());
  CHECK(l_same.ntk(5, 2) < 0.99 * l_same.ntk(2, 2));
}
