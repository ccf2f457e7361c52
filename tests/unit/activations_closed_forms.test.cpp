// The closed forms of Gelu, Sin, Cos, Rbf, Exp, Gaussian, Sign, SigmoidLike and ExpNormalized
// against numerical integration that shares no formula with them:
//   E[φ(u)φ(v)], E[φ'(u)φ'(v)] for (u, v) ~ N(0, [[q11, q12], [q12, q22]]) and E[φ(u)²],
// by tensor Gauss–Legendre quadrature of the Gaussian integral (320² nodes; these activations
// are entire functions, so it converges to rounding) or, for Sign (homogeneous of degree 0, with a
// jump), by polar quadrature. Tolerance 1e-10 relative to the scale √(E[φ(u)²]·E[φ(v)²]) of the
// value.

#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"
#include "support/quadrature.hpp"

namespace {

struct Covariance {
  double q11, rho, q22;
  double q12() const { return rho * std::sqrt(q11 * q22); }
};

std::vector<Covariance> covariances() {
  std::vector<Covariance> all;
  for (double q11 : {0.3, 1.0, 2.5}) {
    for (double q22 : {0.5, 1.7}) {
      for (double rho : {-1.0, -0.93, -0.4, 0.0, 0.02, 0.35, 0.8, 0.999, 1.0}) {
        all.push_back({q11, rho, q22});
      }
    }
  }
  all.push_back({0.0, 0.5, 1.3});  // a zero-variance input (a zero vector with no bias)
  all.push_back({0.0, 0.0, 0.0});
  all.push_back({1e-6, 0.7, 2e-6});
  return all;
}

constexpr double kTolerance = 1e-10;

/// E[f(u) f(v)] in whitened coordinates (z1, z2) ~ N(0, I) truncated to [−16, 16]² (the
/// Gaussian mass outside is below 1e-56, and the integrands here grow at most like e^{z²/4}),
/// by composite Gauss–Legendre: 10 panels of 32 nodes per axis. Unlike Gauss–Hermite from
/// Golub–Welsch, whose weights at the outer nodes carry absolute errors of order ε that
/// integrands growing like e^{bz} or e^{bz²} amplify, every weight here is accurate relative to
/// itself.
double quadrature(const std::function<double(double)>& f, const Covariance& c) {
  static const std::vector<std::pair<double, double>> rule = [] {
    std::vector<std::pair<double, double>> nodes;
    constexpr int panels = 10;
    for (int p = 0; p < panels; ++p) {
      const double lo = -16.0 + 32.0 * p / panels;
      const tangent::test::Rule r = tangent::test::gauss_legendre(32, lo, lo + 32.0 / panels);
      for (Eigen::Index k = 0; k < r.nodes.size(); ++k) {
        const double z = r.nodes(k);
        nodes.emplace_back(z,
                           r.weights(k) * std::exp(-z * z / 2) / std::sqrt(2 * std::numbers::pi));
      }
    }
    return nodes;
  }();
  const auto [a, b, cc] = tangent::test::cholesky_2x2(c.q11, c.rho, c.q22);
  double sum = 0;
  for (const auto& [z1, w1] : rule) {
    const double fu = f(a * z1);
    double inner = 0;
    for (const auto& [z2, w2] : rule) inner += w2 * f(b * z1 + cc * z2);
    sum += w1 * fu * inner;
  }
  return sum;
}

/// Every moment of `act` against Gauss–Legendre quadrature of its own value and derivative.
template <class A>
void check_against_quadrature(const A& act) {
  const auto phi = [&](double x) { return act.value(x); };
  const auto dphi = [&](double x) { return act.derivative(x); };
  for (const Covariance& c : covariances()) {
    INFO(A::name << " q11=" << c.q11 << " rho=" << c.rho << " q22=" << c.q22);
    const tangent::Moments<double> m = act.moments(c.q11, c.q12(), c.q22);
    const double scale =
        std::sqrt(quadrature(phi, {c.q11, 1, c.q11}) * quadrature(phi, {c.q22, 1, c.q22}));
    const double scale_derivative =
        std::sqrt(quadrature(dphi, {c.q11, 1, c.q11}) * quadrature(dphi, {c.q22, 1, c.q22}));
    CHECK(std::abs(m.expect - quadrature(phi, c)) <= kTolerance * scale);
    CHECK(std::abs(m.expect_derivative - quadrature(dphi, c)) <= kTolerance * scale_derivative);
    const double variance = quadrature(phi, {c.q11, 1, c.q11});
    CHECK(std::abs(act.variance(c.q11) - variance) <= kTolerance * variance);
  }
}

/// φ' against a central difference of φ (step h, error O(h²·φ''')).
template <class A>
void check_derivative(const A& act) {
  for (double x : {-2.3, -0.7, -0.1, 0.05, 0.4, 1.1, 2.9}) {
    const double h = 1e-5;
    const double difference = (act.value(x + h) - act.value(x - h)) / (2 * h);
    INFO(A::name << " x=" << x);
    CHECK(act.derivative(x) == Approx(difference).epsilon(1e-8).margin(1e-9));
  }
}

/// The lane form equals the scalar form entry by entry (the same operations in the same order:
/// core/simd_math.hpp; this binary is built without FMA contraction differences between them,
/// so allow 4 ulp of the value's scale).
template <class A>
void check_lanes(const A& act) {
  using tangent::detail::kLanes;
  using tangent::detail::Lanes;
  const std::vector<Covariance> all = covariances();
  for (std::size_t start = 0; start + kLanes<double> <= all.size(); start += kLanes<double>) {
    std::array<double, kLanes<double>> q11{}, q12{}, q22{}, expect{}, derivative{};
    for (std::size_t k = 0; k < q11.size(); ++k) {
      q11[k] = all[start + k].q11;
      q12[k] = all[start + k].q12();
      q22[k] = all[start + k].q22;
    }
    const auto m = act.moments(Lanes<double>::load(q11.data()), Lanes<double>::load(q12.data()),
                               Lanes<double>::load(q22.data()));
    m.expect.store(expect.data());
    m.expect_derivative.store(derivative.data());
    for (std::size_t k = 0; k < q11.size(); ++k) {
      const auto scalar = act.moments(q11[k], q12[k], q22[k]);
      INFO(A::name << " q11=" << q11[k] << " q12=" << q12[k] << " q22=" << q22[k]);
      const double eps = 4 * std::numeric_limits<double>::epsilon();
      CHECK(std::abs(expect[k] - scalar.expect) <= eps * (std::abs(scalar.expect) + 1e-300));
      CHECK(std::abs(derivative[k] - scalar.expect_derivative) <=
            eps * (std::abs(scalar.expect_derivative) + 1e-300));
    }
  }
}

template <class A>
void check_activation(const A& act) {
  check_against_quadrature(act);
  check_derivative(act);
  check_lanes(act);
}

}  // namespace

TEST_CASE("Gelu closed forms equal Gauss-Legendre quadrature", "[activations]") {
  check_activation(tangent::Gelu{});
}

TEST_CASE("Sin and Cos closed forms equal Gauss-Legendre quadrature", "[activations]") {
  check_activation(tangent::Sin{});
  check_activation(tangent::Sin{.a = 0.7, .b = 1.3, .c = 0.4});
  check_activation(tangent::Sin{.a = 1.5, .b = 0.5, .c = -2.0});
  check_activation(tangent::Cos{});
  check_activation(tangent::Cos{.a = 1.2, .b = 0.8, .c = 0.3});
  // Nearly orthogonal inputs, where the difference of exponentials cancels: the expectation is
  // small, and still matches to 1e-10 of itself.
  const tangent::Sin sin{.b = 1.1};
  const auto phi = [&](double x) { return sin.value(x); };
  const Covariance c{0.8, 1e-4, 1.2};
  const double expected = quadrature(phi, c);
  CHECK(std::abs(sin.moments(c.q11, c.q12(), c.q22).expect - expected) <=
        1e-9 * std::abs(expected));
}

TEST_CASE("Cos{a, b, c} equals Sin{a, b, c + π/2}", "[activations]") {
  const tangent::Cos cos{.a = 0.9, .b = 1.4, .c = 0.25};
  const tangent::Sin sin{.a = 0.9, .b = 1.4, .c = 0.25 + std::numbers::pi / 2};
  for (const Covariance& c : covariances()) {
    const auto a = cos.moments(c.q11, c.q12(), c.q22);
    const auto b = sin.moments(c.q11, c.q12(), c.q22);
    CHECK(a.expect == Approx(b.expect).epsilon(1e-14).margin(1e-15));
    CHECK(a.expect_derivative == Approx(b.expect_derivative).epsilon(1e-14).margin(1e-15));
  }
}

TEST_CASE("Rbf, Exp and Gaussian closed forms equal Gauss-Legendre quadrature", "[activations]") {
  check_activation(tangent::Rbf{});
  check_activation(tangent::Rbf{.gamma = 0.3});
  check_activation(tangent::Exp{});
  check_activation(tangent::Exp{.a = 0.6, .b = -0.7});
  check_activation(tangent::Gaussian{});
  check_activation(tangent::Gaussian{.a = 1.3, .b = -0.4});
  check_activation(tangent::Gaussian{.a = 0.8, .b = 0.05});  // b > 0: needs q < 1/(4b) = 5
}

TEST_CASE("Sign closed form equals polar quadrature, and its NTK factor is 0", "[activations]") {
  const tangent::Sign sign;
  const auto phi = [&](double x) { return sign.value(x); };
  for (const Covariance& c : covariances()) {
    INFO("q11=" << c.q11 << " rho=" << c.rho << " q22=" << c.q22);
    const auto m = sign.moments(c.q11, c.q12(), c.q22);
    CHECK(std::abs(m.expect - tangent::test::homogeneous_expectation_2d(phi, phi, 0, c.q11, c.rho,
                                                                        c.q22)) <= kTolerance);
    CHECK(m.expect_derivative == 0.0);
    CHECK(sign.variance(c.q11) == (c.q11 > 0 ? 1.0 : 0.0));
  }
  check_lanes(sign);
}

TEST_CASE("SigmoidLike is neural-tangents' Erf(0.5, 1/2.4020563531719796, 0.5)", "[activations]") {
  const Eigen::MatrixXd x = tangent::test::random_inputs(5, 3, 31);
  const tangent::Dense dense{.w_std = 1.3, .b_std = 0.2};
  const auto like = tangent::kernels(tangent::serial(dense, tangent::SigmoidLike{}, dense), x);
  const auto erf = tangent::kernels(
      tangent::serial(dense, tangent::Erf{.a = 0.5, .b = 1 / 2.4020563531719796, .c = 0.5}, dense),
      x);
  CHECK((like.nngp.array() == erf.nngp.array()).all());
  CHECK((like.ntk.array() == erf.ntk.array()).all());
  // Close to the logistic sigmoid on [−5, 5]: the point of its constant.
  for (double v = -5; v <= 5; v += 0.25) {
    CHECK(std::abs(tangent::SigmoidLike{}.value(v) - 1 / (1 + std::exp(-v))) < 0.02);
  }
}

TEST_CASE("Rbf's NNGP is the squared-exponential kernel of the inputs", "[activations]") {
  // Dense{w = 1, b = 0} makes q12 = x1·x2/d, so e^{−γ(q11 + q22 − 2q12)} = e^{−γ‖x1 − x2‖²/d}.
  const Eigen::MatrixXd x1 = tangent::test::random_inputs(4, 3, 32);
  const Eigen::MatrixXd x2 = tangent::test::random_inputs(5, 3, 33);
  const double gamma = 0.7;
  const auto k =
      tangent::kernels(tangent::serial(tangent::Dense{}, tangent::Rbf{.gamma = gamma}), x1, x2);
  for (Eigen::Index i = 0; i < x1.rows(); ++i) {
    for (Eigen::Index j = 0; j < x2.rows(); ++j) {
      const double expected = std::exp(-gamma * (x1.row(i) - x2.row(j)).squaredNorm() / 3);
      CHECK(k.nngp(i, j) == Approx(expected).epsilon(1e-13));
    }
  }
}

TEST_CASE("ExpNormalized follows neural-tangents' normalised-covariance map", "[activations]") {
  // Σ' = r·e^{γ(ρ + shift)}, r = √max(q11·q22, 1e-30), ρ = q12/r (clipped when do_clip);
  // Θ' = Θ·γ·e^{γ(ρ + shift)}, written here with the angle of the pair.
  const tangent::ExpNormalized act{.gamma = 1.7, .shift = -0.6};
  for (const Covariance& c : covariances()) {
    if (c.q11 == 0) continue;
    const double r = std::sqrt(c.q11 * c.q22);
    const auto m = act.moments(c.q11, c.q12(), c.q22);
    CHECK(m.expect == Approx(r * std::exp(1.7 * (c.rho - 0.6))).epsilon(1e-14));
    CHECK(m.expect_derivative == Approx(1.7 * std::exp(1.7 * (c.rho - 0.6))).epsilon(1e-14));
  }
  CHECK(act.moments(0.0, 0.0, 0.0).expect == Approx(1e-15 * std::exp(-1.7 * 0.6)));
  CHECK(act.variance(2.0) == Approx(2.0 * std::exp(1.7 * 0.4)).epsilon(1e-15));
  // Rounding can put the normalised covariance above 1; do_clip caps it there.
  const tangent::ExpNormalized clipped{.gamma = 2.0, .shift = 0.0, .do_clip = true};
  CHECK(clipped.moments(1.0, 1.5, 1.0).expect == Approx(std::exp(2.0)).epsilon(1e-15));
  CHECK(act.moments(1.0, 1.5, 1.0).expect == Approx(std::exp(1.7 * 0.9)).epsilon(1e-15));
  check_lanes(act);
  check_lanes(clipped);
}

TEST_CASE("Exp and Gaussian refuse variances outside their domains, naming the limit",
          "[activations][errors]") {
  const Eigen::MatrixXd x = 30.0 * tangent::test::random_inputs(3, 4, 34);
  const auto exp_net = tangent::serial(tangent::Dense{.w_std = 1.0}, tangent::Exp{.b = 1.0});
  CHECK_THROWS_WITH(tangent::kernels(exp_net, x),
                    Catch::Contains("tangent::Exp") && Catch::Contains("overflows above q"));
  const auto bump = tangent::serial(tangent::Dense{.w_std = 1.0}, tangent::Gaussian{.b = 0.25});
  CHECK_THROWS_WITH(tangent::kernels(bump, x), Catch::Contains("tangent::Gaussian") &&
                                                   Catch::Contains("infinite for b·q ≥ 1/4"));
  // Convolutional networks check every position's variance too, from inside the parallel
  // per-sample pass, and the exception reaches the caller.
  const Eigen::MatrixXd pictures = 30.0 * tangent::test::random_inputs(3, 4 * 4 * 2, 37);
  const auto cnn = tangent::serial(tangent::Conv{.channels = 3, .filter = {2, 2}},
                                   tangent::Exp{.b = 1.0}, tangent::Flatten{}, tangent::Dense{});
  CHECK_THROWS_WITH(tangent::kernels(cnn, tangent::images(pictures, 4, 4, 2)),
                    Catch::Contains("tangent::Exp") && Catch::Contains("overflows above q"));
  const auto pooled =
      tangent::serial(tangent::Conv{.channels = 3, .filter = {2, 2}}, tangent::Gaussian{.b = 0.25},
                      tangent::GlobalAvgPool{}, tangent::Dense{});
  CHECK_THROWS_WITH(tangent::kernels(pooled, tangent::images(pictures, 4, 4, 2)),
                    Catch::Contains("tangent::Gaussian"));
  // The same inputs scaled into the domain are fine.
  const Eigen::MatrixXd small = x / 300.0;
  const auto k = tangent::kernels(bump, small);
  CHECK(k.nngp.allFinite());
  CHECK(k.ntk.allFinite());
}

TEST_CASE("activations from neural-tangents give finite kernels on degenerate inputs",
          "[activations][degenerate]") {
  // Zero rows, identical rows, tiny and large scales, through a depth-12 network of each.
  Eigen::MatrixXd x = tangent::test::random_inputs(6, 4, 35);
  x.row(1).setZero();
  x.row(2) = x.row(3);
  x.row(4) *= 1e-6;
  const auto deep = [](auto act) {
    const tangent::Dense dense{.w_std = 0.9, .b_std = 0.1};
    return tangent::serial(dense, tangent::repeat(tangent::serial(act, dense), 12));
  };
  const auto check = [&](auto act) {
    INFO(decltype(act)::name);
    const auto k = tangent::kernels(deep(act), x);
    CHECK(k.nngp.allFinite());
    CHECK(k.ntk.allFinite());
    CHECK(k.nngp(2, 3) == k.nngp(2, 2));  // identical rows give identical entries
  };
  check(tangent::Gelu{});
  check(tangent::Sin{.c = 0.3});
  check(tangent::Cos{});
  check(tangent::Rbf{});
  check(tangent::Exp{.b = 0.5});
  check(tangent::Gaussian{});
  check(tangent::Sign{});
  check(tangent::SigmoidLike{});
  check(tangent::ExpNormalized{});
  const Eigen::MatrixXd big = 1e6 * tangent::test::random_inputs(3, 4, 36);
  for (const auto& k :
       {tangent::kernels(deep(tangent::Gelu{}), big), tangent::kernels(deep(tangent::Sin{}), big),
        tangent::kernels(deep(tangent::Gaussian{}), big),
        tangent::kernels(deep(tangent::Sign{}), big)}) {
    CHECK(k.nngp.allFinite());
    CHECK(k.ntk.allFinite());
  }
}

TEST_CASE("every activation at depth 50 on inputs of scale 1e±6 gives finite kernels or says why",
          "[activations][degenerate]") {
  // The degenerate inputs: zero rows, identical rows, rows scaled by 1e-6 and 1e6,
  // through Dense-[φ-Dense]×50. An activation whose kernel overflows double there (polynomials,
  // exponentials) must refuse with a sentence naming itself, never return inf or NaN.
  Eigen::MatrixXd x = tangent::test::random_inputs(5, 4, 38);
  x.row(1).setZero();
  x.row(2) = x.row(3);
  x.row(3) *= 1e-6;
  x.row(4) *= 1e6;
  const auto check = [&](auto act) {
    const std::string name(decltype(act)::name);
    INFO(name);
    const tangent::Dense dense{.w_std = 0.9, .b_std = 0.1};
    const auto net = tangent::serial(dense, tangent::repeat(tangent::serial(act, dense), 50));
    try {
      const auto k = tangent::kernels(net, x);
      CHECK(k.nngp.allFinite());
      CHECK(k.ntk.allFinite());
    } catch (const std::invalid_argument& e) {
      CHECK_THAT(e.what(), Catch::Contains("tangent::" + name));
    }
  };
  check(tangent::ReLU{});
  check(tangent::Erf{});
  check(tangent::SigmoidLike{});
  check(tangent::Gelu{});
  check(tangent::Sin{.c = 0.2});
  check(tangent::Cos{});
  check(tangent::Rbf{});
  check(tangent::Gaussian{});
  check(tangent::Gaussian{.b = 0.1});
  check(tangent::Exp{});
  check(tangent::ExpNormalized{});
  check(tangent::Sign{});
  check(tangent::Gabor{});
  check(tangent::Monomial{.degree = 2});
  check(tangent::Monomial{.degree = 0});
  check(tangent::RectifiedMonomial{.degree = 2});
  check(tangent::Polynomial{.coef = {0.1, 0.5, 0.3}});
  check(tangent::Hermite{.degree = 3});
  check(tangent::Tanh{});
  check(tangent::Sigmoid{});
  check(tangent::Softplus{});
  check(tangent::SiLU{});
  check(tangent::ELU{.alpha = 0.5});
  check(tangent::Mish{});
  // And the refusal does name the layer: Monomial{2} overflows here.
  const tangent::Dense dense{.w_std = 0.9, .b_std = 0.1};
  CHECK_THROWS_WITH(
      tangent::kernels(
          tangent::serial(
              dense, tangent::repeat(tangent::serial(tangent::Monomial{.degree = 2}, dense), 50)),
          x),
      Catch::Contains("tangent::Monomial (layer 2 of the network, repetition") &&
          Catch::Contains("kernel overflows"));
}
