// Finite networks against the analytic kernels — the theory's central claim, as neural-tangents
// tests it (reference note §6):
// - the empirical NTK equals J·Jᵀ with J from central differences (an oracle that shares
//   nothing with the structured per-layer contraction);
// - Monte Carlo averages over initialisations of wide networks converge to the analytic NNGP and
//   NTK, within a tolerance derived from the observed variance of the draws;
// - the empirical NTK's distance to the analytic one shrinks like 1/√width;
// - the NTK of a wide network hardly moves during training, less the wider it is.

#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

#include "support/inputs.hpp"

namespace {

using namespace tangent;
using tangent::test::random_inputs;

/// J·Jᵀ/K by central differences over every parameter.
template <class Net, class Input>
Eigen::MatrixXd brute_force_ntk(const Net& net, Params<Net> params, const Input& x) {
  const Eigen::MatrixXd f0 = apply(net, params, x);
  const Index n = f0.rows();
  const Index outputs = f0.cols();
  Eigen::MatrixXd theta = Eigen::MatrixXd::Zero(n, n);
  detail::for_each_params(params, params, [&](auto& layer, const auto&) {
    detail::for_each_tensor(layer, layer, [&](auto& tensor, const auto&) {
      for (Index e = 0; e < tensor.size(); ++e) {
        double& value = tensor.data()[e];
        const double original = value;
        const double h = 1e-6;
        value = original + h;
        const Eigen::MatrixXd plus = apply(net, params, x);
        value = original - h;
        const Eigen::MatrixXd minus = apply(net, params, x);
        value = original;
        const Eigen::MatrixXd jacobian = (plus - minus) / (2 * h);  // n × outputs
        theta += jacobian * jacobian.transpose();
      }
    });
  });
  return theta / static_cast<double>(outputs);
}

struct Sampled {
  double nngp_error = 0, ntk_error = 0;      // relative Frobenius distance to the analytic kernels
  double nngp_allowed = 0, ntk_allowed = 0;  // the tolerances derived from the draws
  // Distance of the same Monte Carlo means to the analytic kernels of a slightly wrong network
  // (first layer's w_std 15% larger): must exceed the tolerance, or the test could not fail.
  double nngp_wrong = 0, ntk_wrong = 0;
};

struct Comparison {
  double error = 0, allowed = 0, wrong = 0;
};

/// The mean of `samples` draws and each entry's sample variance.
struct Draws {
  Eigen::MatrixXd mean, variance;
};
template <class Draw>
Draws draw_many(Index samples, std::mt19937_64& rng, Draw&& draw) {
  Eigen::MatrixXd sum = draw(rng);
  Eigen::MatrixXd squares = sum.cwiseProduct(sum);
  for (Index s = 1; s < samples; ++s) {
    const Eigen::MatrixXd k = draw(rng);
    sum += k;
    squares += k.cwiseProduct(k);
  }
  const double m = static_cast<double>(samples);
  return {sum / m, ((squares - sum.cwiseProduct(sum) / m) / (m - 1)).cwiseMax(0.0)};
}

/// Mean of `samples` empirical kernels (`draw(rng)` returns one) against `exact`, and the allowed
/// relative Frobenius error: 3 standard errors of the mean (from the per-entry sample variances)
/// plus a finite-width bias of at most depth·2/width (the O(1/width) corrections of the mean).
template <class Draw>
Comparison compare(const Eigen::MatrixXd& exact, const Eigen::MatrixXd& wrong, Index samples,
                   double bias, std::mt19937_64& rng, Draw&& draw) {
  const Draws d = draw_many(samples, rng, draw);
  const double standard_error = std::sqrt(d.variance.sum() / static_cast<double>(samples));
  return {(d.mean - exact).norm() / exact.norm(), 3 * standard_error / exact.norm() + bias,
          (d.mean - wrong).norm() / wrong.norm()};
}

/// Monte Carlo check of one architecture, built by `make(readout_width, first_w_scale)`: the
/// NNGP from draws of the network with a wide readout (the empirical NNGP averages over output
/// units, so a wide readout is many draws at once, as neural-tangents tests it), the NTK from
/// draws with a single output unit.
template <class Make, class Input, class Shape>
Sampled sample(const Make& make, const Input& x, const Shape& shape, Index width, Index depth,
               Index nngp_samples, Index ntk_samples, std::uint64_t seed) {
  const auto wide = make(width, 1.0);
  const auto narrow = make(Index{1}, 1.0);
  std::mt19937_64 rng(seed);
  const double bias = 2.0 * static_cast<double>(depth) / static_cast<double>(width);
  const Comparison nngp =
      compare(kernels(wide, x).nngp, kernels(make(width, 1.15), x).nngp, nngp_samples, bias, rng,
              [&](std::mt19937_64& g) { return empirical_nngp(wide, init(wide, g, shape), x); });
  const Comparison ntk =
      compare(kernels(narrow, x).ntk, kernels(make(Index{1}, 1.15), x).ntk, ntk_samples, bias, rng,
              [&](std::mt19937_64& g) { return empirical_ntk(narrow, init(narrow, g, shape), x); });
  return {nngp.error, ntk.error, nngp.allowed, ntk.allowed, nngp.wrong, ntk.wrong};
}

std::map<std::string, Sampled>& report() {
  static std::map<std::string, Sampled> errors;
  return errors;
}

void check_sampled(const std::string& name, const Sampled& s) {
  report()[name] = s;
  INFO(name << ": NNGP error " << s.nngp_error << " (allowed " << s.nngp_allowed << ", wrong net "
            << s.nngp_wrong << "), NTK error " << s.ntk_error << " (allowed " << s.ntk_allowed
            << ", wrong net " << s.ntk_wrong << ")");
  CHECK(s.nngp_error <= s.nngp_allowed);
  CHECK(s.ntk_error <= s.ntk_allowed);
  // The tolerances are not vacuous: the same draws reject the kernels of a network whose first
  // layer has a 15% larger weight std.
  CHECK(s.nngp_wrong > s.nngp_allowed);
  CHECK(s.ntk_wrong > s.ntk_allowed);
}

/// Least-squares slope of log(mean) against log(x), for means of per-seed samples, and its
/// standard error propagated from the samples' spread: the slope is Σ cᵢ·log(meanᵢ) with
/// cᵢ = (log xᵢ − mean log x)/Sxx, and Var log(meanᵢ) ≈ Var(sampleᵢ)/(count·meanᵢ²).
struct Slope {
  double value = 0, standard_error = 0;
};
Slope log_slope(const std::vector<double>& x, const std::vector<std::vector<double>>& samples,
                std::vector<double>& means) {
  const std::size_t n = x.size();
  means.assign(n, 0.0);
  std::vector<double> log_variance(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const auto count = static_cast<double>(samples[i].size());
    for (const double v : samples[i]) means[i] += v / count;
    double sq = 0;
    for (const double v : samples[i]) sq += (v - means[i]) * (v - means[i]);
    log_variance[i] = sq / (count - 1) / count / (means[i] * means[i]);
  }
  double mx = 0;
  for (const double v : x) mx += std::log(v) / static_cast<double>(n);
  double sxx = 0;
  for (const double v : x) sxx += (std::log(v) - mx) * (std::log(v) - mx);
  Slope slope;
  double variance = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double c = (std::log(x[i]) - mx) / sxx;
    slope.value += c * std::log(means[i]);
    variance += c * c * log_variance[i];
  }
  slope.standard_error = std::sqrt(variance);
  return slope;
}

}  // namespace

TEST_CASE("the empirical NTK equals J·Jᵀ from central differences", "[finite][kernels]") {
  std::mt19937_64 rng(21);
  const Eigen::MatrixXd x = random_inputs(4, 3, 71);
  const auto fc = serial(
      Dense{.width = 5, .w_std = 1.3, .b_std = 0.2}, Erf{}, Dense{.width = 4, .b_std = 0.1}, ReLU{},
      Dense{.width = 2, .b_std = 0.3, .parameterization = Parameterization::standard});
  const auto p = init(fc, rng, 3);
  const Eigen::MatrixXd brute = brute_force_ntk(fc, p, x);
  CHECK((empirical_ntk(fc, p, x) - brute).cwiseAbs().maxCoeff() <=
        1e-7 * brute.cwiseAbs().maxCoeff());

  const Eigen::MatrixXd img = random_inputs(3, 4 * 4 * 2, 72);
  const auto cnn = serial(
      Conv{.channels = 3, .filter = {2, 2}, .padding = Padding::same, .w_std = 1.2, .b_std = 0.2},
      ReLU{}, AvgPool{.window = {2, 2}},
      Conv{.channels = 2,
           .filter = {2, 1},
           .b_std = 0.1,
           .parameterization = Parameterization::standard},
      Abs{}, GlobalAvgPool{}, Dense{.width = 2});
  const auto q = init(cnn, rng, image_shape(4, 4, 2));
  const Eigen::MatrixXd cnn_brute = brute_force_ntk(cnn, q, images(img, 4, 4, 2));
  const Eigen::MatrixXd cnn_ntk = empirical_ntk(cnn, q, images(img, 4, 4, 2));
  CHECK((cnn_ntk - cnn_brute).cwiseAbs().maxCoeff() <= 1e-7 * cnn_brute.cwiseAbs().maxCoeff());
  // Cross kernels are the off-diagonal block of the joint one.
  const Eigen::MatrixXd a = img.topRows(2);
  const Eigen::MatrixXd b = img.bottomRows(1);
  CHECK(
      (empirical_ntk(cnn, q, images(a, 4, 4, 2), images(b, 4, 4, 2)) - cnn_ntk.topRightCorner(2, 1))
          .cwiseAbs()
          .maxCoeff() <= 1e-13 * cnn_ntk.cwiseAbs().maxCoeff());
}

TEST_CASE("the empirical NTK equals J·Jᵀ through branches and repeats", "[finite][kernels]") {
  std::mt19937_64 rng(22);
  const Eigen::MatrixXd x = random_inputs(4, 3, 81);
  const Dense d{.width = 4, .w_std = 1.2, .b_std = 0.2};
  const auto fc = serial(d, repeat(residual(Erf{}, d), 2), LayerNorm{.eps = 1e-3},
                         parallel(serial(ReLU{}, Dense{.width = 3}), d), FanInConcat{}, d, Erf{},
                         parallel(Dense{.width = 2}, Dense{.width = 2, .b_std = 0.3}), FanInProd{});
  const auto p = init(fc, rng, 3);
  const Eigen::MatrixXd brute = brute_force_ntk(fc, p, x);
  CHECK((empirical_ntk(fc, p, x) - brute).cwiseAbs().maxCoeff() <=
        1e-7 * brute.cwiseAbs().maxCoeff());

  const Eigen::MatrixXd img = random_inputs(3, 4 * 4 * 2, 82);
  const Conv conv{.channels = 2, .filter = {2, 2}, .padding = Padding::same, .b_std = 0.1};
  const auto cnn =
      serial(conv, residual(ReLU{}, conv), LayerNorm{.axis = {1, 2, 3}},
             parallel(conv, Conv{.channels = 2, .filter = {3, 3}, .padding = Padding::same}),
             FanInConcat<2>{}, conv, ReLU{}, SumPool{.window = {2, 2}}, GlobalAvgPool{},
             Dense{.width = 2});
  const auto q = init(cnn, rng, image_shape(4, 4, 2));
  const Eigen::MatrixXd cnn_brute = brute_force_ntk(cnn, q, images(img, 4, 4, 2));
  CHECK((empirical_ntk(cnn, q, images(img, 4, 4, 2)) - cnn_brute).cwiseAbs().maxCoeff() <=
        1e-7 * cnn_brute.cwiseAbs().maxCoeff());
}

TEST_CASE("Monte Carlo kernels of wide fully connected nets converge to the analytic ones",
          "[finite][kernels][monte-carlo]") {
  const Eigen::MatrixXd x = random_inputs(5, 6, 73);
  const Index width = 512;
  const auto standard = Parameterization::standard;
  const auto check = [&](const std::string& name, const auto& activation, Parameterization p) {
    const auto make = [&](Index readout, double w_scale) {
      return serial(
          Dense{.width = width, .w_std = 1.4 * w_scale, .b_std = 0.3, .parameterization = p},
          activation, Dense{.width = width, .w_std = 1.2, .b_std = 0.2, .parameterization = p},
          activation, Dense{.width = readout, .w_std = 1.1, .b_std = 0.1, .parameterization = p});
    };
    check_sampled(name + (p == standard ? " standard" : " ntk"),
                  sample(make, x, 6, width, 2, 48, 64, 101));
  };
  for (const Parameterization p : {Parameterization::ntk, standard}) {
    check("FC ReLU", ReLU{}, p);
    check("FC Erf", Erf{.a = 1.2, .b = 0.9, .c = 0.1}, p);
    check("FC LeakyReLU", LeakyReLU{.alpha = 0.2}, p);
    check("FC ABReLU", ABReLU{.a = -0.5, .b = 1.2}, p);
    check("FC Abs", Abs{}, p);
    check("FC Identity", Identity{}, p);
  }
}

TEST_CASE("Monte Carlo kernels of wide CNNs converge to the analytic ones",
          "[finite][kernels][monte-carlo][conv]") {
  const Eigen::MatrixXd x = random_inputs(4, 4 * 4 * 2, 74);
  const auto imgs = images(x, 4, 4, 2);
  const Index channels = 256;
  for (const Parameterization p : {Parameterization::ntk, Parameterization::standard}) {
    const auto first = [&](double w_scale) {
      return Conv{.channels = channels,
                  .filter = {3, 3},
                  .padding = Padding::same,
                  .w_std = 1.4 * w_scale,
                  .b_std = 0.2,
                  .parameterization = p};
    };
    const Conv second{.channels = channels,
                      .filter = {2, 2},
                      .padding = Padding::circular,
                      .w_std = 1.3,
                      .parameterization = p};
    const auto readout = [&](Index width) {
      return Dense{.width = width, .w_std = 1.1, .b_std = 0.1, .parameterization = p};
    };
    const std::string suffix = p == Parameterization::standard ? " standard" : " ntk";
    check_sampled("CNN Flatten" + suffix,
                  sample(
                      [&](Index w, double scale) {
                        return serial(first(scale), ReLU{}, second, Erf{}, Flatten{}, readout(w));
                      },
                      imgs, image_shape(4, 4, 2), channels, 2, 64, 48, 202));
    check_sampled("CNN GlobalAvgPool" + suffix,
                  sample(
                      [&](Index w, double scale) {
                        return serial(first(scale), ReLU{}, AvgPool{.window = {2, 2}}, second,
                                      ReLU{}, GlobalAvgPool{}, readout(w));
                      },
                      imgs, image_shape(4, 4, 2), channels, 2, 64, 48, 303));
  }
}

TEST_CASE("Monte Carlo kernels of wide residual and LayerNorm nets converge to the analytic ones",
          "[finite][kernels][monte-carlo][branching]") {
  // The readout's w_std carries the "wrong net" scale here: LayerNorm would undo a scale of an
  // earlier layer.
  const Eigen::MatrixXd x = random_inputs(5, 6, 83);
  const Index width = 512;
  const Dense hidden{.width = width, .w_std = 1.2, .b_std = 0.2};
  check_sampled("FC residual + LayerNorm",
                sample(
                    [&](Index w, double scale) {
                      return serial(Dense{.width = width, .w_std = 1.4, .b_std = 0.3},
                                    residual(ReLU{}, hidden), LayerNorm{}, residual(Erf{}, hidden),
                                    ReLU{}, Dense{.width = w, .w_std = 1.1 * scale, .b_std = 0.1});
                    },
                    x, 6, width, 4, 48, 64, 104));
  check_sampled("FC concat + product",
                sample(
                    [&](Index w, double scale) {
                      return serial(Dense{.width = width, .w_std = 1.4, .b_std = 0.3},
                                    parallel(serial(ReLU{}, hidden), hidden), FanInConcat{}, hidden,
                                    parallel(hidden, serial(Erf{}, hidden)), FanInProd{},
                                    Dense{.width = w, .w_std = 1.1 * scale, .b_std = 0.1});
                    },
                    x, 6, width, 4, 48, 64, 105));

  const Eigen::MatrixXd img = random_inputs(4, 4 * 4 * 2, 84);
  const Index channels = 256;
  const Conv conv{
      .channels = channels, .filter = {3, 3}, .padding = Padding::same, .w_std = 1.3, .b_std = 0.1};
  check_sampled("CNN residual + LayerNorm",
                sample(
                    [&](Index w, double scale) {
                      return serial(conv, residual(ReLU{}, conv), LayerNorm{.axis = {1, 2, 3}},
                                    ReLU{}, AvgPool{.window = {2, 2}}, conv, LayerNorm{}, Erf{},
                                    GlobalAvgPool{},
                                    Dense{.width = w, .w_std = 1.1 * scale, .b_std = 0.1});
                    },
                    images(img, 4, 4, 2), image_shape(4, 4, 2), channels, 4, 64, 48, 206));
}

TEST_CASE("Monte Carlo kernels of wide nets with Dropout converge to the analytic ones",
          "[finite][kernels][monte-carlo][branching]") {
  // Masks are drawn per sample and unit from the generator given to the empirical kernels; rows
  // 1 and 4 are equal but are different samples, so they draw different masks. The means must
  // match the analytic kernels (Frobenius, as above) and entry (1, 4) on its own, within 4
  // standard errors of that entry plus the finite-width bias, and reject both a network without
  // Dropout and the value (1, 1) that sharing one mask between the duplicates would give.
  Eigen::MatrixXd x = random_inputs(5, 6, 86);
  x.row(4) = x.row(1);
  const Index width = 512;
  const auto make = [&](Index readout, double keep) {
    return serial(Dense{.width = width, .w_std = 1.4, .b_std = 0.3}, ReLU{}, Dropout{.rate = keep},
                  Dense{.width = width, .w_std = 1.2, .b_std = 0.2}, Erf{},
                  Dense{.width = readout, .w_std = 1.1, .b_std = 0.1});
  };
  const double keep = 0.6;
  const double bias = 2.0 * 3 / static_cast<double>(width);
  std::mt19937_64 rng(107);
  const auto check = [&](const char* name, Index readout, Index samples, auto pick, auto draw) {
    INFO(name);
    const auto net = make(readout, keep);
    const Eigen::MatrixXd exact = pick(kernels(net, x));
    const Eigen::MatrixXd undropped = pick(kernels(make(readout, 1.0), x));
    const Comparison c = compare(exact, undropped, samples, bias, rng,
                                 [&](std::mt19937_64& g) { return draw(net, init(net, g, 6), g); });
    INFO("error " << c.error << " (allowed " << c.allowed << ", without Dropout " << c.wrong
                  << ")");
    CHECK(c.error <= c.allowed);
    CHECK(c.wrong > c.allowed);
    const Draws d =
        draw_many(samples, rng, [&](std::mt19937_64& g) { return draw(net, init(net, g, 6), g); });
    const double allowed =
        4 * std::sqrt(d.variance(1, 4) / static_cast<double>(samples)) + bias * exact(1, 4);
    INFO("entry (1, 4): mean " << d.mean(1, 4) << ", analytic " << exact(1, 4) << " ± " << allowed
                               << ", shared mask " << exact(1, 1));
    CHECK(std::abs(d.mean(1, 4) - exact(1, 4)) <= allowed);
    CHECK(std::abs(d.mean(1, 4) - exact(1, 1)) > allowed);
  };
  check(
      "NNGP", width, 48, [](const Kernels& k) { return k.nngp; },
      [&](const auto& net, const auto& params, std::mt19937_64& g) {
        return empirical_nngp(net, params, x, g);
      });
  check(
      "NTK", 1, 64, [](const Kernels& k) { return k.ntk; },
      [&](const auto& net, const auto& params, std::mt19937_64& g) {
        return empirical_ntk(net, params, x, g);
      });
}

TEST_CASE("monte_carlo_kernels averages empirical kernels over fresh initialisations",
          "[finite][kernels]") {
  const Eigen::MatrixXd x1 = random_inputs(3, 4, 75);
  const Eigen::MatrixXd x2 = random_inputs(2, 4, 76);
  const auto net = serial(Dense{.width = 32, .b_std = 0.1}, ReLU{}, Dense{.width = 2});
  std::mt19937_64 rng(31);
  const Kernels mc = monte_carlo_kernels(net, rng, x1, x2, 9);
  // The same draws by hand: one seed per draw from the caller's generator.
  std::mt19937_64 seeds(31);
  Eigen::MatrixXd nngp = Eigen::MatrixXd::Zero(3, 2);
  Eigen::MatrixXd ntk = nngp;
  for (int s = 0; s < 9; ++s) {
    std::mt19937_64 generator(seeds());
    const Kernels k = empirical_kernels(net, init(net, generator, 4), x1, x2);
    nngp += k.nngp / 9;
    ntk += k.ntk / 9;
  }
  CHECK((mc.nngp - nngp).cwiseAbs().maxCoeff() <= 1e-14 * nngp.cwiseAbs().maxCoeff());
  CHECK((mc.ntk - ntk).cwiseAbs().maxCoeff() <= 1e-14 * ntk.cwiseAbs().maxCoeff());
}

TEST_CASE("the empirical NTK approaches the analytic one like 1/sqrt(width)", "[finite][kernels]") {
  const Eigen::MatrixXd x = random_inputs(6, 5, 77);
  const std::vector<double> widths{64, 256, 1024};
  std::vector<std::vector<double>> distances(widths.size());
  for (std::size_t i = 0; i < widths.size(); ++i) {
    const auto width = static_cast<Index>(widths[i]);
    const auto net =
        serial(Dense{.width = width, .w_std = 1.4, .b_std = 0.2}, ReLU{},
               Dense{.width = width, .w_std = 1.4, .b_std = 0.2}, ReLU{}, Dense{.width = 1});
    const Eigen::MatrixXd exact = kernels(net, x).ntk;
    std::mt19937_64 rng(41);
    for (int s = 0; s < 24; ++s) {
      distances[i].push_back((empirical_ntk(net, init(net, rng, 5), x) - exact).norm() /
                             exact.norm());
    }
  }
  std::vector<double> means;
  const Slope slope = log_slope(widths, distances, means);
  INFO("mean relative distances " << means[0] << ", " << means[1] << ", " << means[2] << "; slope "
                                  << slope.value << " ± " << slope.standard_error);
  report()["width slope"] = Sampled{slope.value, slope.standard_error};
  CHECK(means[0] > means[1]);
  CHECK(means[1] > means[2]);
  // −1/2 within 3 standard errors of the fitted slope, plus 0.05 for the O(1/width) terms that
  // still bend the curve at width 64.
  CHECK(slope.value == Approx(-0.5).margin(3 * slope.standard_error + 0.05));
}

TEST_CASE("the NTK moves less during training the wider the network", "[finite][kernels][train]") {
  const Eigen::MatrixXd x = random_inputs(8, 4, 78);
  const Eigen::MatrixXd y = (x.col(0).array() * x.col(1).array()).matrix();
  const std::vector<double> widths{64, 256, 1024};
  std::vector<std::vector<double>> changes(widths.size());
  for (std::size_t i = 0; i < widths.size(); ++i) {
    const auto width = static_cast<Index>(widths[i]);
    const auto net =
        serial(Dense{.width = width, .w_std = 1.4, .b_std = 0.1}, Erf{},
               Dense{.width = width, .w_std = 1.4, .b_std = 0.1}, ReLU{}, Dense{.width = 1});
    std::mt19937_64 rng(51);
    for (int s = 0; s < 4; ++s) {
      const auto start = init(net, rng, 4);
      const auto trained = train(net, start, x, y, {.learning_rate = 1.0, .steps = 100});
      // The training really moved the outputs: the loss fell by more than half.
      CHECK(mse_loss(apply(net, trained, x), y) < 0.5 * mse_loss(apply(net, start, x), y));
      const Eigen::MatrixXd before = empirical_ntk(net, start, x);
      changes[i].push_back((empirical_ntk(net, trained, x) - before).norm() / before.norm());
    }
  }
  std::vector<double> means;
  const Slope slope = log_slope(widths, changes, means);
  INFO("mean relative NTK changes " << means[0] << ", " << means[1] << ", " << means[2]
                                    << "; slope " << slope.value << " ± " << slope.standard_error);
  report()["training slope"] = Sampled{slope.value, slope.standard_error};
  CHECK(means[0] > means[1]);
  CHECK(means[1] > means[2]);
  // Theory: the change vanishes as width grows (≤ 1/√width); the fitted decay must be clearly
  // negative, beyond 3 standard errors.
  CHECK(slope.value + 3 * slope.standard_error < -0.3);
}

TEST_CASE("report: Monte Carlo errors per architecture", "[.report]") {
  std::cout << std::fixed << std::setprecision(4);
  for (const auto& [name, s] : report()) {
    if (name.find("slope") != std::string::npos) {
      std::cout << name << ": " << s.nngp_error << " ± " << s.ntk_error << "\n";
    } else {
      std::cout << name << ": NNGP " << s.nngp_error << " (allowed " << s.nngp_allowed
                << ", wrong net " << s.nngp_wrong << "), NTK " << s.ntk_error << " (allowed "
                << s.ntk_allowed << ", wrong net " << s.ntk_wrong << ")\n";
    }
  }
}
