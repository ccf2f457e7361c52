// Convolutional kernels against identities that hold exactly: the diagonal-spatial path is the
// diagonal of the full one; 1×1 convolutions on 1×1 images are Dense layers; 1-D convolutions
// are 2-D ones on W = 1; global pooling of translation-invariant data equals flattening; plus
// symmetry, PSD, blocks, threads and float.

#include <Eigen/Eigenvalues>
#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

using tangent::test::random_inputs;
using namespace tangent;

double max_relative(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).cwiseAbs().maxCoeff() / b.cwiseAbs().maxCoeff();
}

const Conv conv_a{.channels = 5,
                  .filter = {3, 2},
                  .strides = {1, 2},
                  .padding = Padding::same,
                  .w_std = 1.3,
                  .b_std = 0.2};
const Conv conv_b{.channels = 4,
                  .filter = {2, 2},
                  .padding = Padding::circular,
                  .w_std = 1.1,
                  .parameterization = Parameterization::standard};
const Conv conv_c{.channels = 3, .filter = {2, 3}, .strides = {2, 1}, .w_std = 0.9, .b_std = 0.3};

}  // namespace

TEST_CASE("the diagonal-spatial path is the diagonal of the full path", "[kernels][conv]") {
  // A 1×1 average pool changes nothing but needs the full block, so every layer before it runs
  // on full blocks; without it the Flatten readout keeps only same-position entries.
  const Eigen::MatrixXd x1 = random_inputs(4, 8 * 7 * 2, 41);
  const Eigen::MatrixXd x2 = random_inputs(3, 8 * 7 * 2, 42);
  const auto body = serial(conv_a, ReLU{}, conv_b, Erf{.a = 1.2, .c = 0.1}, conv_c, Abs{});
  const auto diagonal = serial(body, Flatten{}, Dense{.w_std = 1.2, .b_std = 0.1});
  const auto full = serial(body, AvgPool{}, Flatten{}, Dense{.w_std = 1.2, .b_std = 0.1});
  const auto a = images(x1, 8, 7, 2);
  const auto b = images(x2, 8, 7, 2);
  const Kernels kd = kernels(diagonal, a, b);
  const Kernels kf = kernels(full, a, b);
  CHECK(max_relative(kd.nngp, kf.nngp) < 1e-14);
  CHECK(max_relative(kd.ntk, kf.ntk) < 1e-14);
  const Kernels sd = kernels(diagonal, a);
  const Kernels sf = kernels(full, a);
  CHECK(max_relative(sd.ntk, sf.ntk) < 1e-14);
}

TEST_CASE("a pool before Flatten gives the diagonal of the fully pooled block, bit for bit",
          "[kernels][conv]") {
  // Before Flatten a pool sums each output position's own window (pool_diagonal); followed by a
  // 1×1 AvgPool (which changes nothing but needs the full block) it pools the whole block, and
  // the 1×1 pool then keeps its diagonal.
  const Eigen::MatrixXd x1 = random_inputs(4, 7 * 6 * 2, 45);
  const Eigen::MatrixXd x2 = random_inputs(3, 7 * 6 * 2, 46);
  const auto a = images(x1, 7, 6, 2);
  const auto b = images(x2, 7, 6, 2);
  const auto body = serial(conv_a, ReLU{}, conv_b, Erf{});
  const auto check = [&](const auto& pool) {
    const auto diagonal = serial(body, pool, Flatten{}, Dense{.w_std = 1.2});
    const auto full = serial(body, pool, AvgPool{}, Flatten{}, Dense{.w_std = 1.2});
    const Kernels kd = kernels(diagonal, a, b);
    const Kernels kf = kernels(full, a, b);
    CHECK((kd.nngp.array() == kf.nngp.array()).all());
    CHECK((kd.ntk.array() == kf.ntk.array()).all());
    const Kernels sd = kernels(diagonal, a);
    const Kernels sf = kernels(full, a);
    CHECK((sd.ntk.array() == sf.ntk.array()).all());
  };
  check(AvgPool{.window = {2, 2}, .strides = {2, 2}});
  check(AvgPool{.window = {3, 2}, .padding = Padding::same});
  check(SumPool{.window = {2, 3}, .strides = {1, 2}, .padding = Padding::circular});
}

TEST_CASE("a 1x1 convolution on 1x1 images is a Dense layer", "[kernels][conv]") {
  const Eigen::MatrixXd x1 = random_inputs(5, 4, 43);
  const Eigen::MatrixXd x2 = random_inputs(3, 4, 44);
  for (const auto parameterization : {Parameterization::ntk, Parameterization::standard}) {
    const auto cnn = serial(
        Conv{.channels = 7, .w_std = 1.4, .b_std = 0.3, .parameterization = parameterization},
        ReLU{}, Conv{.channels = 3, .w_std = 0.8, .parameterization = parameterization}, Flatten{},
        Dense{.w_std = 1.1, .b_std = 0.2, .parameterization = parameterization});
    const auto fc =
        serial(Dense{.width = 7, .w_std = 1.4, .b_std = 0.3, .parameterization = parameterization},
               ReLU{}, Dense{.width = 3, .w_std = 0.8, .parameterization = parameterization},
               Dense{.w_std = 1.1, .b_std = 0.2, .parameterization = parameterization});
    const Kernels c = kernels(cnn, images(x1, 1, 1, 4), images(x2, 1, 1, 4));
    const Kernels d = kernels(fc, x1, x2);
    CHECK(max_relative(c.nngp, d.nngp) < 1e-15);
    CHECK(max_relative(c.ntk, d.ntk) < 1e-15);
    // Global pooling of a single position is the same as flattening it.
    const auto pooled = serial(
        Conv{.channels = 7, .w_std = 1.4, .b_std = 0.3, .parameterization = parameterization},
        ReLU{}, GlobalAvgPool{}, Dense{.w_std = 1.1, .parameterization = parameterization});
    const auto flat =
        serial(Dense{.width = 7, .w_std = 1.4, .b_std = 0.3, .parameterization = parameterization},
               ReLU{}, Dense{.w_std = 1.1, .parameterization = parameterization});
    CHECK(max_relative(kernels(pooled, images(x1, 1, 1, 4)).ntk, kernels(flat, x1).ntk) < 1e-15);
  }
}

TEST_CASE("1-D convolutions equal 2-D ones on images of width 1", "[kernels][conv]") {
  const Eigen::MatrixXd x1 = random_inputs(3, 9 * 2, 45);
  const Eigen::MatrixXd x2 = random_inputs(2, 9 * 2, 46);
  const auto seq =
      serial(Conv{.channels = 4,
                  .filter = {3},
                  .strides = {2},
                  .padding = Padding::same,
                  .w_std = 1.3,
                  .b_std = 0.1},
             ReLU{}, AvgPool{.window = {2}, .padding = Padding::circular},
             Conv{.channels = 2, .filter = {2}, .w_std = 0.7}, Erf{}, GlobalAvgPool{}, Dense{});
  const auto img =
      serial(Conv{.channels = 4,
                  .filter = {3, 1},
                  .strides = {2, 1},
                  .padding = Padding::same,
                  .w_std = 1.3,
                  .b_std = 0.1},
             ReLU{}, AvgPool{.window = {2, 1}, .padding = Padding::circular},
             Conv{.channels = 2, .filter = {2, 1}, .w_std = 0.7}, Erf{}, GlobalAvgPool{}, Dense{});
  const Kernels s = kernels(seq, sequences(x1, 9, 2), sequences(x2, 9, 2));
  const Kernels i = kernels(img, images(x1, 9, 1, 2), images(x2, 9, 1, 2));
  CHECK((s.nngp.array() == i.nngp.array()).all());
  CHECK((s.ntk.array() == i.ntk.array()).all());
}

TEST_CASE("global pooling of translation-invariant data equals flattening", "[kernels][conv]") {
  // Constant images stay constant through circular convolutions and activations, so every pair
  // of positions has the same covariance: the mean over all pairs equals the mean over
  // same-position pairs.
  Eigen::MatrixXd x(4, 6 * 5 * 3);
  const Eigen::MatrixXd pixels = random_inputs(4, 3, 47);
  for (Eigen::Index p = 0; p < 30; ++p) x.middleCols(3 * p, 3) = pixels;
  const auto body = serial(
      Conv{.channels = 4,
           .filter = {3, 2},
           .padding = Padding::circular,
           .w_std = 1.5,
           .b_std = 0.2},
      ReLU{}, Conv{.channels = 2, .filter = {2, 3}, .padding = Padding::circular, .w_std = 0.9},
      Erf{});
  const Kernels pooled = kernels(serial(body, GlobalAvgPool{}, Dense{}), images(x, 6, 5, 3));
  const Kernels flat = kernels(serial(body, Flatten{}, Dense{}), images(x, 6, 5, 3));
  INFO("NNGP " << max_relative(pooled.nngp, flat.nngp) << ", NTK "
               << max_relative(pooled.ntk, flat.ntk));
  // Global pooling sums P² = 900 entries where flattening sums 30: rounding, not a formula.
  CHECK(max_relative(pooled.nngp, flat.nngp) < 1e-13);
  CHECK(max_relative(pooled.ntk, flat.ntk) < 1e-13);
}

TEST_CASE("convolutional kernels are symmetric, PSD and consistent across blocks",
          "[kernels][conv]") {
  const auto net = serial(conv_a, ReLU{}, AvgPool{.window = {2, 2}, .strides = {2, 2}}, conv_b,
                          LeakyReLU{.alpha = 0.2}, GlobalAvgPool{}, Dense{.w_std = 1.3});
  const Eigen::MatrixXd x1 = random_inputs(12, 6 * 6 * 2, 48);
  const Eigen::MatrixXd x2 = random_inputs(7, 6 * 6 * 2, 49);
  Eigen::MatrixXd joint(19, 6 * 6 * 2);
  joint << x1, x2;
  const Kernels all = kernels(net, images(joint, 6, 6, 2));
  for (const Eigen::MatrixXd* m : {&all.nngp, &all.ntk}) {
    CHECK((m->array() == m->transpose().array()).all());
    const Eigen::VectorXd eig = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(*m).eigenvalues();
    CHECK(eig.minCoeff() >= -1e-12 * eig.maxCoeff());
  }
  const Kernels cross = kernels(net, images(x1, 6, 6, 2), images(x2, 6, 6, 2));
  CHECK(max_relative(cross.ntk, all.ntk.topRightCorner(12, 7)) < 1e-14);
  CHECK(max_relative(cross.nngp, all.nngp.topRightCorner(12, 7)) < 1e-14);
}

TEST_CASE("identical images have angle exactly 0 at every position", "[kernels][conv]") {
  const Eigen::MatrixXd x1 = random_inputs(3, 5 * 5, 50);
  Eigen::MatrixXd x2 = random_inputs(2, 5 * 5, 51);
  x2.row(1) = x1.row(2);
  const auto net = serial(
      Conv{.channels = 3, .filter = {2, 2}, .padding = Padding::same, .w_std = 1.4, .b_std = 0.1},
      ReLU{}, AvgPool{.window = {2, 2}}, Conv{.channels = 2, .filter = {2, 2}}, Abs{},
      GlobalAvgPool{}, Dense{});
  const Kernels cross = kernels(net, images(x1, 5, 5, 1), images(x2, 5, 5, 1));
  const Kernels same = kernels(net, images(x1, 5, 5, 1));
  CHECK(cross.nngp(2, 1) == same.nngp(2, 2));
  CHECK(cross.ntk(2, 1) == same.ntk(2, 2));
}

TEST_CASE("float convolutional kernels agree with double ones", "[kernels][conv]") {
  const Eigen::MatrixXd x = random_inputs(5, 6 * 6 * 2, 52);
  const Eigen::MatrixXf xf = x.cast<float>();
  const auto net =
      serial(conv_a, Erf{}, AvgPool{.window = {2, 2}}, conv_b, ReLU{}, Flatten{}, Dense{});
  const Kernels d = kernels(net, images(x, 6, 6, 2));
  const BasicKernels<float> f = kernels(net, images(xf, 6, 6, 2));
  CHECK(max_relative(f.ntk.cast<double>(), d.ntk) < 1e-5);
  CHECK(max_relative(f.nngp.cast<double>(), d.nngp) < 1e-5);
}

#if defined(_OPENMP)
TEST_CASE("convolutional kernels do not depend on the number of threads", "[kernels][conv]") {
  const Eigen::MatrixXd x1 = random_inputs(9, 5 * 6 * 2, 53);
  const Eigen::MatrixXd x2 = random_inputs(6, 5 * 6 * 2, 54);
  const auto net = serial(conv_a, ReLU{}, AvgPool{.window = {2, 2}, .padding = Padding::same},
                          conv_c, ReLU{}, GlobalAvgPool{}, Dense{});
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Kernels one = kernels(net, images(x1, 5, 6, 2), images(x2, 5, 6, 2));
  const Kernels one_same = kernels(net, images(x1, 5, 6, 2));
  omp_set_num_threads(3);
  const Kernels three = kernels(net, images(x1, 5, 6, 2), images(x2, 5, 6, 2));
  const Kernels three_same = kernels(net, images(x1, 5, 6, 2));
  omp_set_num_threads(threads);
  CHECK((one.ntk.array() == three.ntk.array()).all());
  CHECK((one.nngp.array() == three.nngp.array()).all());
  CHECK((one_same.ntk.array() == three_same.ntk.array()).all());
  CHECK((one_same.nngp.array() == three_same.nngp.array()).all());
}
#else
TEST_CASE("convolutional kernels do not depend on the number of threads", "[kernels][conv]") {
  WARN("built without OpenMP: a single thread, nothing to compare");
}
#endif

TEST_CASE("row-major inputs and blocks of matrices give the same kernels", "[kernels][conv]") {
  const Eigen::MatrixXd x = random_inputs(4, 4 * 4 * 3, 55);
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = x;
  Eigen::MatrixXd wider = random_inputs(6, 4 * 4 * 3 + 5, 56);
  wider.block(1, 2, 4, 4 * 4 * 3) = x;
  const auto net = serial(conv_a, ReLU{}, GlobalAvgPool{}, Dense{});
  const Eigen::MatrixXd reference = kernels(net, images(x, 4, 4, 3)).ntk;
  CHECK((kernels(net, images(row_major, 4, 4, 3)).ntk.array() == reference.array()).all());
  CHECK((kernels(net, images(wider.block(1, 2, 4, 4 * 4 * 3), 4, 4, 3)).ntk.array() ==
         reference.array())
            .all());
  CHECK((kernels(net, images(row_major.middleRows(1, 2), 4, 4, 3)).ntk.array() ==
         reference.block(1, 1, 2, 2).array())
            .all());
}

TEST_CASE("degenerate images give finite, correct kernels", "[kernels][conv][degenerate]") {
  const auto net =
      serial(Conv{.channels = 4, .filter = {3, 3}, .padding = Padding::same, .w_std = 1.4}, ReLU{},
             AvgPool{.window = {2, 2}}, Conv{.channels = 3, .filter = {2, 2}, .w_std = 1.1}, ReLU{},
             GlobalAvgPool{}, Dense{.w_std = 1.2});
  Eigen::MatrixXd x = random_inputs(3, 5 * 5 * 2, 57);
  x.row(1).setZero();
  const Kernels k = kernels(net, images(x, 5, 5, 2));
  REQUIRE((k.nngp.allFinite() && k.ntk.allFinite()));
  // No bias: a zero image has zero covariance with everything.
  CHECK(k.nngp.row(1).isZero(0.0));
  CHECK(k.ntk.col(1).isZero(0.0));
  // A bias-free ReLU network is positively homogeneous of degree 2 in the inputs' scale.
  for (double scale : {1e-6, 1e6, 1e-120, 1e120}) {
    const Eigen::MatrixXd scaled = scale * x;
    const Kernels s = kernels(net, images(scaled, 5, 5, 2));
    INFO("scale " << scale);
    REQUIRE((s.nngp.allFinite() && s.ntk.allFinite()));
    CHECK(max_relative(s.ntk / (scale * scale), k.ntk) < 1e-13);
  }
  // A single image.
  const Eigen::MatrixXd one = x.topRows(1);
  CHECK(kernels(net, images(one, 5, 5, 2)).ntk(0, 0) == Approx(k.ntk(0, 0)).epsilon(1e-15));
}
