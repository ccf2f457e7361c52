// tangent::testing::check_activation, the public conformance kit for activations: it passes every
// built-in activation, passes a complete user-written activation (the README's example), and
// catches each kind of mistake a user can make (a wrong moment, a wrong variance, a wrong
// derivative, a forgotten breakpoint), naming where.

#include <cmath>
#include <numbers>
#include <string_view>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>
#include <tangent/testing/check_activation.hpp>

namespace {

using tangent::testing::check_activation;

/// The README's user activation: φ(x) = s·max(x, 0), a ReLU with output scale s, whose kernel
/// rule is s² times ReLU's (Cho & Saul 2009).
struct ScaledReLU {
  double scale = 1.0;

  static constexpr std::string_view name = "ScaledReLU";

  template <class S>
  S value(S x) const {
    return x > S(0) ? static_cast<S>(scale) * x : S(0);
  }
  template <class S>
  S derivative(S x) const {
    return x > S(0) ? static_cast<S>(scale) : S(0);
  }
  template <class S>
  tangent::Moments<S> moments(S q11, S q12, S q22) const {
    using std::atan2;
    using std::sqrt;
    const S s = sqrt(std::max(S(0), q11 * q22 - q12 * q12));
    const S theta = s == S(0) && q12 == S(0) ? std::numbers::pi_v<S> / 2 : atan2(s, q12);
    const S s2 = static_cast<S>(scale * scale);
    const S two_pi = 2 * std::numbers::pi_v<S>;
    return {s2 * (s + (std::numbers::pi_v<S> - theta) * q12) / two_pi,
            s2 * (std::numbers::pi_v<S> - theta) / two_pi};
  }
  template <class S>
  S variance(S q) const {
    return static_cast<S>(scale * scale) * q / 2;
  }
  void validate(const tangent::LayerSite& site) const {
    if (!std::isfinite(scale)) throw std::invalid_argument(std::string(site.name) + ": bad scale");
  }
};

/// ScaledReLU with one mistake, chosen by `mistake`.
struct Faulty : ScaledReLU {
  int mistake = 0;
  template <class S>
  tangent::Moments<S> moments(S q11, S q12, S q22) const {
    auto m = ScaledReLU::moments(q11, q12, q22);
    if (mistake == 1) m.expect *= S(1.001);
    if (mistake == 2) m.expect_derivative += S(1e-6);
    return m;
  }
  template <class S>
  S variance(S q) const {
    return mistake == 3 ? q : ScaledReLU::variance(q);
  }
  template <class S>
  S derivative(S x) const {
    return mistake == 4 ? S(1) : ScaledReLU::derivative(x);
  }
};

}  // namespace

TEST_CASE("check_activation passes every built-in activation", "[testing][activations]") {
  const tangent::testing::ActivationCheckOptions kinked{.breakpoints = {0.0}};
  const auto passes = [](const auto& act, const tangent::testing::ActivationCheckOptions& o) {
    const auto report = check_activation(act, o);
    INFO(act.name << ": " << report.worst);
    CHECK(report.passed);
    CHECK(report.checked > 100);
    CHECK(report.max_moment_error < 1e-10);
  };
  passes(tangent::ReLU{}, kinked);
  passes(tangent::LeakyReLU{.alpha = 0.2}, kinked);
  passes(tangent::ABReLU{.a = -0.4, .b = 1.3}, kinked);
  passes(tangent::Abs{}, kinked);
  passes(tangent::Sign{}, kinked);
  passes(tangent::Erf{.a = 1.2, .b = 0.7, .c = 0.3}, {});
  passes(tangent::SigmoidLike{}, {});
  passes(tangent::Gelu{}, {});
  passes(tangent::Sin{.a = 0.8, .b = 1.3, .c = 0.5}, {});
  passes(tangent::Cos{}, {});
  passes(tangent::Rbf{.gamma = 0.4}, {});
  passes(tangent::Exp{.a = 0.5, .b = 0.6}, {});
  passes(tangent::Gaussian{.a = 1.1, .b = -0.7}, {});
  passes(tangent::Gabor{}, {});
  passes(tangent::Monomial{.degree = 3}, {});
  passes(tangent::Polynomial{.coef = {0.5, -1.0, 0.25, 0.1}}, {});
  passes(tangent::RectifiedMonomial{.degree = 2}, kinked);
  // (Hermite is left out by design: its rule is neural-tangents', exact for unit variances only.)
  passes(tangent::Tanh{}, {});
  passes(tangent::SiLU{}, {});
  passes(tangent::ELU{.alpha = 0.5}, kinked);
}

TEST_CASE("check_activation passes a user's complete activation", "[testing][activations]") {
  const auto report = check_activation(ScaledReLU{.scale = 1.7}, {.breakpoints = {0.0}});
  INFO(report.worst);
  CHECK(report.passed);
  // And it is a layer like any other: a network with it equals 1.7² times the ReLU network's
  // hidden kernel.
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(4, 3);
  const auto mine =
      tangent::kernels(tangent::serial(tangent::Dense{}, ScaledReLU{.scale = 1.7}), x);
  const auto relu = tangent::kernels(tangent::serial(tangent::Dense{}, tangent::ReLU{}), x);
  CHECK((mine.nngp - 1.7 * 1.7 * relu.nngp).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((mine.ntk - 1.7 * 1.7 * relu.ntk).cwiseAbs().maxCoeff() < 1e-13);
}

TEST_CASE("check_activation catches each kind of mistake, and says where",
          "[testing][activations]") {
  const tangent::testing::ActivationCheckOptions kinked{.breakpoints = {0.0}};
  for (int mistake = 1; mistake <= 4; ++mistake) {
    Faulty faulty;
    faulty.mistake = mistake;
    const auto report = check_activation(faulty, kinked);
    INFO("mistake " << mistake << ": " << report.worst);
    CHECK_FALSE(report.passed);
  }
  Faulty wrong_moment;
  wrong_moment.mistake = 1;
  CHECK_THAT(check_activation(wrong_moment, kinked).worst, Catch::Contains("E[φ(u)φ(v)] at"));
  Faulty wrong_derivative;
  wrong_derivative.mistake = 4;
  CHECK_THAT(check_activation(wrong_derivative, kinked).worst, Catch::Contains("derivative("));
  // A forgotten breakpoint: the quadrature no longer resolves the kink, and the check says so
  // rather than passing a loose tolerance silently.
  const auto loose = check_activation(ScaledReLU{}, {.tolerance = 1e-12});
  CHECK_FALSE(loose.passed);
}

namespace {

/// Erf written by a user with a lane form (the same arithmetic as tangent::Erf's, through the
/// public lane helpers), declared with `lanes = true`.
struct UserErf {
  static constexpr std::string_view name = "UserErf";
  static constexpr bool lanes = true;

  template <class S>
  S value(S x) const {
    return std::erf(x);
  }
  template <class S>
  S derivative(S x) const {
    return S(2) / std::sqrt(std::numbers::pi_v<S>) * std::exp(-x * x);
  }
  template <class V>
  tangent::Moments<V> moments(V q11, V q12, V q22) const {
    using S = tangent::detail::scalar_t<V>;
    namespace d = tangent::detail;
    const V r = d::hypot_v(V(d::sqrt_v(V(S(1) + S(2) * (q11 + q22)))),
                           V(S(2) * d::covariance_sqrt_determinant(q11, q12, q22)));
    return {V((S(2) / std::numbers::pi_v<S>)*d::atan2_v(V(S(2) * q12), r)),
            V((S(4) / std::numbers::pi_v<S>) / r)};
  }
  template <class S>
  S variance(S q) const {
    return moments(q, q, q).expect;
  }
  void validate(const tangent::LayerSite&) const {}
};

}  // namespace

namespace {

/// UserErf whose lane form forgets a factor 2 that its scalar form has.
struct WrongLanes : UserErf {
  template <class V>
  tangent::Moments<V> moments(V q11, V q12, V q22) const {
    tangent::Moments<V> m = UserErf::moments(q11, q12, q22);
    if constexpr (tangent::detail::is_lanes<V>) m.expect_derivative = m.expect_derivative * 0.5;
    return m;
  }
};

}  // namespace

TEST_CASE("check_activation compares a lane form with the scalar one, and reports refusals",
          "[testing][activations]") {
  const auto wrong = check_activation(WrongLanes{});
  INFO(wrong.worst);
  CHECK_FALSE(wrong.passed);
  CHECK(wrong.max_lane_error > 0.4);
  CHECK_THAT(wrong.worst, Catch::Contains("lanes: lane form at"));
  CHECK(check_activation(UserErf{}).max_lane_error <= 1e-15);
  // Gaussian{b = 0.1} supports variances below 2.5 only: the check says so instead of throwing.
  // (Within the domain, e^{0.2·u²} must still decay against the quadrature's truncation.)
  const auto refused = check_activation(tangent::Gaussian{.b = 0.1});
  CHECK_FALSE(refused.passed);
  CHECK_THAT(refused.worst, Catch::Contains("threw: tangent::Gaussian"));
  CHECK(check_activation(tangent::Gaussian{.b = 0.1}, {.variances = {0.0, 0.3, 1.0}}).passed);
}

TEST_CASE("a user's activation with lanes = true runs in the vectorised sweep",
          "[testing][activations]") {
  STATIC_REQUIRE(tangent::detail::supports_lanes<UserErf>);
  STATIC_REQUIRE_FALSE(tangent::detail::supports_lanes<ScaledReLU>);
  const auto report = check_activation(UserErf{});
  INFO(report.worst);
  CHECK(report.passed);
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(37, 5);
  const tangent::Dense dense{.w_std = 1.2, .b_std = 0.1};
  const auto mine = tangent::kernels(tangent::serial(dense, UserErf{}, dense), x);
  const auto erf = tangent::kernels(tangent::serial(dense, tangent::Erf{}, dense), x);
  CHECK((mine.nngp - erf.nngp).cwiseAbs().maxCoeff() <= 1e-15 * erf.nngp.cwiseAbs().maxCoeff());
  CHECK((mine.ntk - erf.ntk).cwiseAbs().maxCoeff() <= 1e-15 * erf.ntk.cwiseAbs().maxCoeff());
}
