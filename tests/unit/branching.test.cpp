// Branching networks and the new layers against closed forms built from the kernels of their
// parts: a residual block is the sum of its two paths, a product and a concatenation combine
// their branches' kernels as neural-tangents' fan-ins do, repeat(block, n) is the blocks written
// out, LayerNorm divides by the two variances, Dropout scales only a sample with itself, and
// SumPool is AvgPool times the window size squared. Every oracle is computed from separate
// kernel calls on plain chains, so a slip in the tree walk (a branch fed the wrong input, a
// fan-in reading the wrong slot, a repetition skipped) changes the numbers.

#include <cmath>
#include <numbers>

#include <Eigen/Eigenvalues>
#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"

namespace {

using namespace tangent;
using tangent::test::random_inputs;

double max_relative(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).cwiseAbs().maxCoeff() / b.cwiseAbs().maxCoeff();
}

bool equal(const Kernels& a, const Kernels& b) {
  return (a.nngp.array() == b.nngp.array()).all() && (a.ntk.array() == b.ntk.array()).all();
}

const Dense first{.width = 12, .w_std = 1.3, .b_std = 0.2};
const Dense inner{.width = 12, .w_std = 0.9, .b_std = 0.1};
const Dense other{.width = 7, .w_std = 1.6};
const Dense same_width{.width = 12, .w_std = 1.6, .b_std = 0.4};
const Dense readout{.width = 3, .w_std = 1.1, .b_std = 0.3};

}  // namespace

TEST_CASE("a residual block's kernels are the sum of its two paths", "[kernels][branching]") {
  const Eigen::MatrixXd x1 = random_inputs(9, 5, 101);
  const Eigen::MatrixXd x2 = random_inputs(7, 5, 102);
  const Kernels shortcut = kernels(serial(first), x1, x2);
  const Kernels block = kernels(serial(first, ReLU{}, inner), x1, x2);
  const Kernels sum = kernels(serial(first, residual(ReLU{}, inner)), x1, x2);
  CHECK(max_relative(sum.nngp, shortcut.nngp + block.nngp) <= 1e-15);
  CHECK(max_relative(sum.ntk, shortcut.ntk + block.ntk) <= 1e-15);
  // The neural-tangents spelling is the same node.
  const auto spelled =
      serial(first, FanOut{.n = 2}, parallel(Identity{}, serial(ReLU{}, inner)), FanInSum{});
  CHECK(equal(kernels(spelled, x1, x2), sum));
  // Erf and a readout after the sum see the summed kernels, variances included (Williams 1997:
  // E[erf(u) erf(v)] = (2/π)·asin(2q12 / √((1 + 2q11)(1 + 2q22))), derivative kernel
  // (4/π) / √((1 + 2q11)(1 + 2q22) − 4q12²)); a slip that fed Erf one path would change them.
  const Kernels after = kernels(serial(first, residual(ReLU{}, inner), Erf{}, readout), x1, x2);
  const Eigen::VectorXd q1 = kernels(serial(first, residual(ReLU{}, inner)), x1).nngp.diagonal();
  const Eigen::VectorXd q2 = kernels(serial(first, residual(ReLU{}, inner)), x2).nngp.diagonal();
  const double w2 = readout.w_std * readout.w_std;
  const double b2 = *readout.b_std * *readout.b_std;
  Eigen::MatrixXd nngp(x1.rows(), x2.rows());
  Eigen::MatrixXd ntk(x1.rows(), x2.rows());
  for (Eigen::Index i = 0; i < x1.rows(); ++i) {
    for (Eigen::Index j = 0; j < x2.rows(); ++j) {
      const double n = (1 + 2 * q1(i)) * (1 + 2 * q2(j));
      const double q12 = sum.nngp(i, j);
      const double t = 2 / std::numbers::pi * std::asin(2 * q12 / std::sqrt(n));
      const double dt = 4 / std::numbers::pi / std::sqrt(n - 4 * q12 * q12);
      nngp(i, j) = w2 * t + b2;
      ntk(i, j) = w2 * (t + sum.ntk(i, j) * dt) + b2;
    }
  }
  CHECK(max_relative(after.nngp, nngp) <= 1e-14);
  CHECK(max_relative(after.ntk, ntk) <= 1e-14);
}

TEST_CASE("products and concatenations combine their branches as neural-tangents' fan-ins",
          "[kernels][branching]") {
  const Eigen::MatrixXd x1 = random_inputs(8, 4, 103);
  const Eigen::MatrixXd x2 = random_inputs(6, 4, 104);
  const Kernels a = kernels(serial(first, ReLU{}, inner), x1, x2);
  const Kernels b = kernels(serial(first, other), x1, x2);

  const Kernels d = kernels(serial(first, same_width), x1, x2);
  const Kernels prod =
      kernels(serial(first, parallel(serial(ReLU{}, inner), same_width), FanInProd{}), x1, x2);
  const Eigen::MatrixXd prod_nngp = a.nngp.cwiseProduct(d.nngp);
  const Eigen::MatrixXd prod_ntk = a.ntk.cwiseProduct(d.nngp) + a.nngp.cwiseProduct(d.ntk);
  CHECK(max_relative(prod.nngp, prod_nngp) <= 1e-15);
  CHECK(max_relative(prod.ntk, prod_ntk) <= 1e-15);

  // Unequal widths (12 and 7): the width-weighted mean.
  const Kernels concat =
      kernels(serial(first, parallel(serial(ReLU{}, inner), other), FanInConcat{}), x1, x2);
  CHECK(max_relative(concat.nngp, (12 * a.nngp + 7 * b.nngp) / 19) <= 1e-15);
  CHECK(max_relative(concat.ntk, (12 * a.ntk + 7 * b.ntk) / 19) <= 1e-15);
  // Equal widths: the plain mean, and a Dense after it reads the summed width (standard).
  const Kernels mean =
      kernels(serial(first, parallel(serial(ReLU{}, inner), inner), FanInConcat{}), x1, x2);
  const Kernels c = kernels(serial(first, inner), x1, x2);
  CHECK(max_relative(mean.nngp, (a.nngp + c.nngp) / 2) <= 1e-15);
  const Dense standard{.width = 2, .w_std = 1.2, .parameterization = Parameterization::standard};
  const Kernels widened = kernels(
      serial(first, parallel(serial(ReLU{}, inner), inner), FanInConcat{}, standard), x1, x2);
  CHECK(max_relative(widened.ntk, 24 * mean.nngp + 1.44 * mean.ntk) <= 1e-14);
}

TEST_CASE("a single branch closed by a fan-in is the branch", "[kernels][branching]") {
  const Eigen::MatrixXd x = random_inputs(10, 3, 105);
  const Kernels plain = kernels(serial(first, ReLU{}, inner, Erf{}, readout), x);
  for (const Kernels& k :
       {kernels(serial(first, parallel(serial(ReLU{}, inner)), FanInSum{}, Erf{}, readout), x),
        kernels(serial(first, parallel(serial(ReLU{}, inner)), FanInProd{}, Erf{}, readout), x)}) {
    CHECK(equal(k, plain));
  }
}

TEST_CASE("repeat(block, n) equals the blocks written out", "[kernels][branching]") {
  const Eigen::MatrixXd x1 = random_inputs(11, 4, 106);
  const Eigen::MatrixXd x2 = random_inputs(5, 4, 107);
  const auto block = residual(ReLU{}, inner);
  const Kernels repeated = kernels(serial(first, repeat(block, 3), Erf{}, readout), x1, x2);
  const Kernels written = kernels(serial(first, block, block, block, Erf{}, readout), x1, x2);
  CHECK(equal(repeated, written));
  CHECK(equal(kernels(serial(first, repeat(block, 0), Erf{}, readout), x1, x2),
              kernels(serial(first, Erf{}, readout), x1, x2)));
  // A network may start with zero repetitions (equal rows keep their exact variance), or be
  // nothing else: then its NNGP is the input's x·xᵀ/d and its NTK 0.
  Eigen::MatrixXd twins = x1;
  twins.row(5) = twins.row(2);
  const auto nothing = repeat(Dropout{}, 0);
  CHECK(equal(kernels(serial(nothing, first, Erf{}, readout), twins),
              kernels(serial(first, Erf{}, readout), twins)));
  const Kernels empty = kernels(serial(nothing), twins);
  CHECK(max_relative(empty.nngp, twins * twins.transpose() / 4) <= 1e-15);
  CHECK(empty.ntk.isZero(0));

  // On images, with pooling inside the block: every repetition but the last keeps the full
  // block of position pairs, the last may end in the diagonal one.
  const Eigen::MatrixXd img1 = random_inputs(4, 6 * 6 * 2, 108);
  const Eigen::MatrixXd img2 = random_inputs(3, 6 * 6 * 2, 109);
  const Conv conv{.channels = 3, .filter = {2, 2}, .padding = Padding::same, .w_std = 1.3};
  const auto pooled = serial(ReLU{}, AvgPool{.window = {2, 2}, .padding = Padding::same}, conv);
  const auto i1 = images(img1, 6, 6, 2);
  const auto i2 = images(img2, 6, 6, 2);
  CHECK(equal(kernels(serial(conv, repeat(pooled, 2), ReLU{}, Flatten{}, readout), i1, i2),
              kernels(serial(conv, pooled, pooled, ReLU{}, Flatten{}, readout), i1, i2)));
  CHECK(equal(kernels(serial(conv, repeat(pooled, 1), ReLU{}, Flatten{}, readout), i1, i2),
              kernels(serial(conv, pooled, ReLU{}, Flatten{}, readout), i1, i2)));
  CHECK(equal(kernels(serial(conv, repeat(pooled, 0), ReLU{}, Flatten{}, readout), i1, i2),
              kernels(serial(conv, ReLU{}, Flatten{}, readout), i1, i2)));
  // A residual block inside a pooling network: the full blocks of both branches.
  const auto res = residual(ReLU{}, conv);
  CHECK(equal(kernels(serial(conv, repeat(res, 2), ReLU{}, GlobalAvgPool{}, readout), i1),
              kernels(serial(conv, res, res, ReLU{}, GlobalAvgPool{}, readout), i1)));
}

TEST_CASE("concatenating positions keeps each branch's block and zeroes the pairs across",
          "[kernels][branching]") {
  const Eigen::MatrixXd img1 = random_inputs(3, 4 * 5 * 2, 110);
  const Eigen::MatrixXd img2 = random_inputs(4, 4 * 5 * 2, 111);
  const auto i1 = images(img1, 4, 5, 2);
  const auto i2 = images(img2, 4, 5, 2);
  const Conv a{.channels = 3, .filter = {2, 2}, .padding = Padding::same, .w_std = 1.2};
  const Conv b{
      .channels = 3, .filter = {3, 3}, .padding = Padding::same, .w_std = 0.8, .b_std = 0.3};
  const Conv start{.channels = 2, .filter = {2, 2}, .padding = Padding::circular, .w_std = 1.1};
  const auto check_axis = [&](auto concat) {
    INFO("axis " << decltype(concat)::axis);
    // Flatten: the mean over positions of same-position entries, 20 positions from each branch.
    const Kernels flat_a = kernels(serial(start, a, Flatten{}), i1, i2);
    const Kernels flat_b = kernels(serial(start, b, Flatten{}), i1, i2);
    const Kernels flat = kernels(serial(start, parallel(a, b), concat, Flatten{}), i1, i2);
    CHECK(max_relative(flat.nngp, (flat_a.nngp + flat_b.nngp) / 2) <= 1e-15);
    CHECK(max_relative(flat.ntk, (flat_a.ntk + flat_b.ntk) / 2) <= 1e-15);
    // Global pooling: the mean over all pairs, of which the cross-branch ones are 0.
    const Kernels pool_a = kernels(serial(start, a, GlobalAvgPool{}), i1, i2);
    const Kernels pool_b = kernels(serial(start, b, GlobalAvgPool{}), i1, i2);
    const Kernels pool = kernels(serial(start, parallel(a, b), concat, GlobalAvgPool{}), i1, i2);
    CHECK(max_relative(pool.nngp, (pool_a.nngp + pool_b.nngp) / 4) <= 1e-14);
    CHECK(max_relative(pool.ntk, (pool_a.ntk + pool_b.ntk) / 4) <= 1e-14);
  };
  check_axis(FanInConcat<1>{});
  check_axis(FanInConcat<2>{});
}

TEST_CASE("LayerNorm divides by the two variances, Dropout scales a sample with itself",
          "[kernels][branching]") {
  const Eigen::MatrixXd x1 = random_inputs(6, 4, 112);
  const Eigen::MatrixXd x2 = random_inputs(5, 4, 113);
  const double eps = 0.01;
  const Kernels cross = kernels(serial(first), x1, x2);
  const Eigen::VectorXd v1 = kernels(serial(first), x1).nngp.diagonal();
  const Eigen::VectorXd v2 = kernels(serial(first), x2).nngp.diagonal();
  const Eigen::MatrixXd scale =
      ((eps + v1.array()).sqrt().matrix() * (eps + v2.array()).sqrt().matrix().transpose());
  const Kernels normed = kernels(serial(first, LayerNorm{.eps = eps}), x1, x2);
  CHECK(max_relative(normed.nngp, cross.nngp.cwiseQuotient(scale)) <= 1e-15);
  CHECK(max_relative(normed.ntk, cross.ntk.cwiseQuotient(scale)) <= 1e-15);
  const Kernels self = kernels(serial(first, LayerNorm{.eps = eps}), x1);
  CHECK(max_relative(self.nngp.diagonal(), v1.cwiseQuotient((eps + v1.array()).matrix())) <= 1e-15);

  // Dropout (keep 0.8) before the readout: only same-sample entries of the readout's input NNGP
  // and NTK change, by 1/0.8; the readout's NNGP gains w²·ΔΣ, its NTK w²·(ΔΣ + ΔΘ).
  const Dropout drop{.rate = 0.8};
  const auto plain = serial(first, ReLU{}, readout);
  const auto dropped = serial(first, ReLU{}, drop, readout);
  CHECK(equal(kernels(dropped, x1, x2), kernels(plain, x1, x2)));
  const Kernels without = kernels(plain, x1);
  const Kernels with = kernels(dropped, x1);
  const Kernels before = kernels(serial(first, ReLU{}), x1);  // readout's input NNGP
  const double w2 = readout.w_std * readout.w_std;
  for (Eigen::Index i = 0; i < x1.rows(); ++i) {
    for (Eigen::Index j = 0; j < x1.rows(); ++j) {
      const double nngp_change = i == j ? w2 * before.nngp(i, i) * (1 / 0.8 - 1) : 0.0;
      const double ntk_change =
          i == j ? w2 * (before.nngp(i, i) + before.ntk(i, i)) * (1 / 0.8 - 1) : 0.0;
      CHECK(with.nngp(i, j) - without.nngp(i, j) ==
            Approx(nngp_change).margin(1e-14 * without.nngp.cwiseAbs().maxCoeff()));
      CHECK(with.ntk(i, j) - without.ntk(i, j) ==
            Approx(ntk_change).margin(1e-14 * without.ntk.cwiseAbs().maxCoeff()));
    }
  }
  // x2 = x1 as a whole is the same samples: kernels(x, x) equals kernels(x).
  CHECK(equal(kernels(dropped, x1, x1), with));
  CHECK(equal(kernels(serial(first, ReLU{}, drop, inner, ReLU{}, readout), x1, x1),
              kernels(serial(first, ReLU{}, drop, inner, ReLU{}, readout), x1)));
  // Test mode is the identity.
  CHECK(equal(
      kernels(serial(first, ReLU{}, Dropout{.rate = 0.8, .mode = DropoutMode::test}, readout), x1),
      without));
}

TEST_CASE("two equal rows are different samples to Dropout: their masks are independent",
          "[kernels][branching]") {
  // Rows 1 and 4 are equal, v and t their NNGP and NTK after first + ReLU. Dropout (keep r)
  // makes each one's variance v/r but leaves their covariance v; the Dense after it (w², b²)
  // gives variance s = w²v/r + b², covariance c = w²v + b², NTK w²(v + t)/r + b² and w²(v + t)
  // + b². The ReLU after that sees correlation c/s (Cho & Saul 2009 arc-cosine kernel): NNGP
  // s·(sin θ + (π − θ)·cos θ)/(2π) and derivative (π − θ)/(2π), θ = acos(c/s). Entry (1, 1) is
  // a sample with itself: NNGP s/2, derivative ½.
  Eigen::MatrixXd x = random_inputs(5, 4, 116);
  x.row(4) = x.row(1);
  const double r = 0.6;
  const auto dropped = serial(first, ReLU{}, Dropout{.rate = r}, inner, ReLU{});
  const Kernels in = kernels(serial(first, ReLU{}), x);
  const Kernels out = kernels(dropped, x);
  const double v = in.nngp(1, 1);
  const double t = in.ntk(1, 1);
  const double w2 = inner.w_std * inner.w_std;
  const double b2 = *inner.b_std * *inner.b_std;
  const double s = w2 * v / r + b2;
  const double c = w2 * v + b2;
  const double theta = std::acos(c / s);
  const double pi = std::numbers::pi;
  CHECK(out.nngp(1, 4) ==
        Approx(s * (std::sin(theta) + (pi - theta) * c / s) / (2 * pi)).epsilon(1e-14));
  CHECK(out.ntk(1, 4) == Approx((w2 * (v + t) + b2) * (pi - theta) / (2 * pi)).epsilon(1e-14));
  CHECK(out.nngp(1, 1) == Approx(s / 2).epsilon(1e-15));
  CHECK(out.ntk(1, 1) == Approx((w2 * (v + t) / r + b2) / 2).epsilon(1e-15));
  CHECK(out.nngp(4, 4) == out.nngp(1, 1));
  // x2 with the same contents as x1 is the same samples, as x1 itself.
  const Eigen::MatrixXd copy = x;
  CHECK(equal(kernels(dropped, x, copy), out));
}

TEST_CASE("a merge whose branches need different position pairs feeds Flatten their diagonals",
          "[kernels][branching]") {
  // One branch pools (it needs every pair of positions), the other does not; Flatten after the
  // sum needs only same-position pairs. The sum and Flatten are linear, so the result is the sum
  // of each branch flattened on its own; GlobalAvgPool (every pair) likewise.
  const Eigen::MatrixXd img1 = random_inputs(3, 5 * 4 * 2, 117);
  const Eigen::MatrixXd img2 = random_inputs(4, 5 * 4 * 2, 118);
  const auto i1 = images(img1, 5, 4, 2);
  const auto i2 = images(img2, 5, 4, 2);
  const Conv start{.channels = 3, .filter = {2, 2}, .padding = Padding::same, .w_std = 1.2};
  const Conv conv{
      .channels = 3, .filter = {3, 3}, .padding = Padding::same, .w_std = 0.9, .b_std = 0.2};
  const auto pooled =
      serial(ReLU{}, AvgPool{.window = {2, 2}, .strides = {1, 1}, .padding = Padding::same}, conv);
  const auto plain = serial(Erf{}, conv);
  for (const bool global : {false, true}) {
    INFO((global ? "GlobalAvgPool" : "Flatten"));
    const auto reduce = [&](const auto& branch) {
      return global ? kernels(serial(start, branch, GlobalAvgPool{}), i1, i2)
                    : kernels(serial(start, branch, Flatten{}), i1, i2);
    };
    const Kernels a = reduce(pooled);
    const Kernels b = reduce(plain);
    const Kernels merged = reduce(serial(parallel(pooled, plain), FanInSum{}));
    CHECK(max_relative(merged.nngp, a.nngp + b.nngp) <= 1e-14);
    CHECK(max_relative(merged.ntk, a.ntk + b.ntk) <= 1e-14);
  }
}

TEST_CASE("sum pooling is average pooling times the window size squared", "[kernels][branching]") {
  const Eigen::MatrixXd img = random_inputs(4, 6 * 5 * 2, 114);
  const auto x = images(img, 6, 5, 2);
  const Conv conv{.channels = 3, .filter = {2, 2}, .w_std = 1.4, .b_std = 0.1};
  for (const Padding padding : {Padding::valid, Padding::same, Padding::circular}) {
    const Extent window{2, 3};
    const Extent strides{2, 1};
    const Kernels avg =
        kernels(serial(conv, ReLU{}, AvgPool{window, strides, padding}, Flatten{}), x);
    const Kernels sum =
        kernels(serial(conv, ReLU{}, SumPool{window, strides, padding}, Flatten{}), x);
    CHECK(max_relative(sum.nngp, 36 * avg.nngp) <= 1e-15);
    CHECK(max_relative(sum.ntk, 36 * avg.ntk) <= 1e-15);
  }
  // Global sum: P² = (5·4)² times the global average.
  const Kernels gavg = kernels(serial(conv, ReLU{}, GlobalAvgPool{}), x);
  const Kernels gsum = kernels(serial(conv, ReLU{}, GlobalSumPool{}), x);
  CHECK(max_relative(gsum.nngp, 400 * gavg.nngp) <= 1e-15);
  CHECK(max_relative(gsum.ntk, 400 * gavg.ntk) <= 1e-15);
}

TEST_CASE("deep residual networks keep finite, positive semi-definite kernels",
          "[kernels][branching][degenerate]") {
  Eigen::MatrixXd x = random_inputs(12, 5, 115);
  x.row(3).setZero();           // a zero input
  x.row(7) = x.row(2);          // identical inputs
  x.row(9) = 1e6 * x.row(1);    // a large one
  x.row(10) = 1e-6 * x.row(4);  // a small one
  // 100 residual blocks with LayerNorm between them: the variance grows linearly, not
  // exponentially, and LayerNorm resets it.
  const auto block =
      serial(residual(ReLU{}, Dense{.width = 12, .w_std = 1.0, .b_std = 0.1}), LayerNorm{});
  const Kernels k = kernels(serial(first, repeat(block, 100), ReLU{}, readout), x);
  for (const Eigen::MatrixXd* m : {&k.nngp, &k.ntk}) {
    CHECK(m->allFinite());
    const Eigen::VectorXd eig = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(*m).eigenvalues();
    CHECK(eig.minCoeff() >= -1e-12 * eig.maxCoeff());
  }
  CHECK(k.ntk(7, 2) == k.ntk(2, 2));
  CHECK(k.nngp(7, 7) == k.nngp(2, 2));
}
