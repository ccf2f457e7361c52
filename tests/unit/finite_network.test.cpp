// The finite network against computations written out independently: hand-written forward
// passes (plain loops, no im2col), the distribution of initial parameters, determinism, and
// backpropagation against central differences for every layer type and whole networks.

#include <cmath>
#include <random>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>
#include <tangent/testing/check_gradients.hpp>

#include "support/inputs.hpp"
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

using namespace tangent;
using tangent::test::random_inputs;

// Direct 2-D convolution of NHWC images, one output at a time, from the definition.
Eigen::MatrixXd naive_conv(const Eigen::MatrixXd& x, Index h, Index w, Index c, const Conv& conv,
                           const AffineParams& p) {
  const Index fh = conv.filter[0];
  const Index fw = conv.filter[1];
  const Index sh = conv.strides[0];
  const Index sw = conv.strides[1];
  const auto axis = [&](Index n, Index f, Index s, Index& out, Index& lo) {
    if (conv.padding == Padding::valid) {
      out = (n - f) / s + 1;
      lo = 0;
    } else {
      out = (n + s - 1) / s;
      lo = std::max<Index>((out - 1) * s + f - n, 0) / 2;
    }
  };
  Index oh = 0, ow = 0, lh = 0, lw = 0;
  axis(h, fh, sh, oh, lh);
  axis(w, fw, sw, ow, lw);
  const double scale = conv.parameterization == Parameterization::ntk
                           ? conv.w_std / std::sqrt(static_cast<double>(fh * fw * c))
                           : 1.0;
  const double bias_scale =
      conv.parameterization == Parameterization::ntk ? conv.b_std.value_or(0) : 1.0;
  Eigen::MatrixXd z(x.rows(), oh * ow * conv.channels);
  for (Index n = 0; n < x.rows(); ++n) {
    for (Index a = 0; a < oh; ++a) {
      for (Index b = 0; b < ow; ++b) {
        for (Index o = 0; o < conv.channels; ++o) {
          double sum = 0;
          for (Index dh = 0; dh < fh; ++dh) {
            for (Index dw = 0; dw < fw; ++dw) {
              Index ih = a * sh + dh - lh;
              Index iw = b * sw + dw - lw;
              if (conv.padding == Padding::circular) {
                ih = ((ih % h) + h) % h;
                iw = ((iw % w) + w) % w;
              } else if (ih < 0 || ih >= h || iw < 0 || iw >= w) {
                continue;
              }
              for (Index i = 0; i < c; ++i) {
                sum += x(n, (ih * w + iw) * c + i) * p.weight((dh * fw + dw) * c + i, o);
              }
            }
          }
          z(n, (a * ow + b) * conv.channels + o) =
              scale * sum + (p.bias.size() > 0 ? bias_scale * p.bias(o) : 0.0);
        }
      }
    }
  }
  return z;
}

}  // namespace

TEST_CASE("Dense-ReLU-Dense forward pass equals the formula", "[finite]") {
  std::mt19937_64 rng(1);
  const auto net = serial(Dense{.width = 7, .w_std = 1.3, .b_std = 0.4}, ReLU{},
                          Dense{.width = 2, .w_std = 0.8, .b_std = 0.2});
  const auto params = init(net, rng, 5);
  const Eigen::MatrixXd x = random_inputs(4, 5, 61);
  const auto& l1 = get<0>(params);
  const auto& l3 = get<2>(params);
  const Eigen::MatrixXd hidden =
      ((1.3 / std::sqrt(5.0)) * x * l1.weight).rowwise() + 0.4 * l1.bias.transpose();
  const Eigen::MatrixXd expected =
      ((0.8 / std::sqrt(7.0)) * hidden.cwiseMax(0.0) * l3.weight).rowwise() +
      0.2 * l3.bias.transpose();
  CHECK((apply(net, params, x) - expected).cwiseAbs().maxCoeff() < 1e-14);

  // Standard parameterization: no forward scales.
  const auto standard = serial(
      Dense{.width = 7, .w_std = 1.3, .parameterization = Parameterization::standard}, Erf{});
  const auto sp = init(standard, rng, 5);
  CHECK((apply(standard, sp, x) -
         (x * get<0>(sp).weight).unaryExpr([](double v) { return std::erf(v); }))
            .cwiseAbs()
            .maxCoeff() < 1e-15);
}

TEST_CASE("convolution and pooling forward passes equal direct loops", "[finite][conv]") {
  std::mt19937_64 rng(2);
  const Eigen::MatrixXd x = random_inputs(3, 6 * 5 * 2, 62);
  for (const Conv& conv : {Conv{.channels = 3,
                          .filter = {3, 2},
                          .strides = {1, 2},
                          .padding = Padding::same,
                          .w_std = 1.2,
                          .b_std = 0.3},
                           Conv{.channels = 4,
                           .filter = {2, 3},
                           .strides = {2, 1},
                           .padding = Padding::valid,
                           .w_std = 0.9},
                           Conv{.channels = 2,
                           .filter = {3, 3},
                           .padding = Padding::circular,
                           .w_std = 1.1,
                           .b_std = 0.5,
                           .parameterization = Parameterization::standard}}) {
    const auto net = serial(conv, Flatten{});
    const auto params = init(net, rng, image_shape(6, 5, 2));
    const Eigen::MatrixXd expected = naive_conv(x, 6, 5, 2, conv, get<0>(params));
    CHECK((apply(net, params, images(x, 6, 5, 2)) - expected).cwiseAbs().maxCoeff() < 1e-14);
  }
  // Average pooling 2×2 with strides 2 and SAME padding on 5×5: edge windows count padding.
  const Eigen::MatrixXd y = random_inputs(2, 5 * 5, 63);
  const auto pool =
      serial(AvgPool{.window = {2, 2}, .strides = {2, 2}, .padding = Padding::same}, Flatten{});
  const Eigen::MatrixXd pooled =
      apply(pool, init(pool, rng, image_shape(5, 5, 1)), images(y, 5, 5, 1));
  REQUIRE(pooled.cols() == 9);
  // SAME on 5 with window 2, stride 2: 3 outputs, padding total 1, all of it after the image.
  CHECK(pooled(1, 0) == Approx((y(1, 0) + y(1, 1) + y(1, 5) + y(1, 6)) / 4).epsilon(1e-15));
  CHECK(pooled(0, 8) == Approx(y(0, 24) / 4).epsilon(1e-15));
  const auto gap = serial(GlobalAvgPool{});
  CHECK(apply(gap, init(gap, rng, image_shape(5, 5, 1)), images(y, 5, 5, 1))(1, 0) ==
        Approx(y.row(1).mean()).epsilon(1e-14));
}

TEST_CASE("initial parameters follow the parameterization's distribution", "[finite]") {
  std::mt19937_64 rng(3);
  const auto ntk = serial(Dense{.width = 400, .w_std = 2.0, .b_std = 0.5});
  const auto standard = serial(Dense{
      .width = 400, .w_std = 2.0, .b_std = 0.5, .parameterization = Parameterization::standard});
  const auto a = get<0>(init(ntk, rng, 100));
  const auto b = get<0>(init(standard, rng, 100));
  // 40,000 draws: the sample variance is within 4·√(2/40000) ≈ 2.8% of the true one.
  const auto variance = [](const Eigen::MatrixXd& m) { return m.array().square().mean(); };
  CHECK(variance(a.weight) == Approx(1.0).epsilon(0.03));
  CHECK(variance(b.weight) == Approx(4.0 / 100).epsilon(0.03));
  CHECK(std::abs(a.weight.mean()) < 4 / std::sqrt(40000.0));
  CHECK(b.bias.array().square().mean() == Approx(0.25).epsilon(0.3));  // 400 draws: ±28%
  // No bias: no bias parameters.
  CHECK(get<0>(init(serial(Dense{.width = 3}), rng, 2)).bias.size() == 0);
}

TEST_CASE("the same seed gives the same parameters and outputs", "[finite]") {
  const auto net = serial(Conv{.channels = 4, .filter = {2, 2}, .w_std = 1.4, .b_std = 0.1}, ReLU{},
                          GlobalAvgPool{}, Dense{.width = 3});
  std::mt19937_64 first(17);
  std::mt19937_64 second(17);
  const auto p1 = init(net, first, image_shape(4, 4, 2));
  const auto p2 = init(net, second, image_shape(4, 4, 2));
  CHECK(p1 == p2);
  std::mt19937_64 other(18);
  CHECK_FALSE(p1 == init(net, other, image_shape(4, 4, 2)));
}

namespace {

/// A user layer with a bug: forward doubles its input, backward forgets the factor 2.
struct ForgetfulDoubling : Identity {
  static constexpr std::string_view name = "ForgetfulDoubling";
  void forward(const NoParams&, const detail::FiniteShapes&, const Matrix<double>& x,
               Matrix<double>& z) const {
    z = 2 * x;
  }
};

}  // namespace

TEST_CASE("the gradient checker catches a layer whose backward pass is wrong",
          "[finite][gradients]") {
  std::mt19937_64 rng(3);
  const Eigen::MatrixXd x = random_inputs(3, 5, 63);
  const auto net = serial(Dense{.width = 4, .b_std = 0.2}, ForgetfulDoubling{}, Dense{.width = 2});
  const testing::GradientCheck result = testing::check_gradients(net, init(net, rng, 5), x, rng);
  INFO(result.worst);
  CHECK_FALSE(result.passed);
  // The first Dense's gradients are off by the forgotten factor: |g − 2g| / |2g| = 1/2.
  CHECK(result.max_relative_error == Approx(0.5).epsilon(1e-6));
  CHECK_THAT(result.worst, Catch::Matchers::Contains("Dense (layer 1)"));
}

TEST_CASE("backpropagation equals central differences for every layer type",
          "[finite][gradients]") {
  std::mt19937_64 rng(4);
  const Eigen::MatrixXd x = random_inputs(3, 5, 64);
  const auto check = [&](const auto& net, const auto& input, const auto& shape) {
    const auto params = init(net, rng, shape);
    const testing::GradientCheck result = testing::check_gradients(net, params, input, rng);
    INFO(result.worst);
    CHECK(result.checked > 0);
    CHECK(result.max_relative_error <= 1e-6);
  };
  const auto standard = Parameterization::standard;
  check(serial(Dense{.width = 4, .w_std = 1.2, .b_std = 0.3}), x, 5);
  check(serial(Dense{.width = 4, .w_std = 1.2, .b_std = 0.3, .parameterization = standard}), x, 5);
  check(serial(Dense{.width = 4, .w_std = 0.7}), x, 5);
  check(serial(Dense{.width = 6, .w_std = 1.5, .b_std = 0.1}, ReLU{}, Dense{.width = 2}), x, 5);
  check(serial(Dense{.width = 6, .b_std = 0.1}, LeakyReLU{.alpha = 0.2}, Dense{.width = 2}), x, 5);
  check(serial(Dense{.width = 6, .b_std = 0.1}, ABReLU{.a = -0.4, .b = 1.3}, Dense{.width = 2}), x,
        5);
  check(serial(Dense{.width = 6, .b_std = 0.1}, Abs{}, Dense{.width = 2}), x, 5);
  check(serial(Dense{.width = 6, .b_std = 0.1}, Erf{.a = 1.2, .b = 0.8, .c = 0.3}, Identity{},
               Dense{.width = 2}),
        x, 5);

  const Eigen::MatrixXd img = random_inputs(2, 5 * 4 * 2, 65);
  const auto imgs = images(img, 5, 4, 2);
  const auto shape = image_shape(5, 4, 2);
  for (const Padding padding : {Padding::valid, Padding::same, Padding::circular}) {
    check(serial(Conv{.channels = 3,
                      .filter = {3, 2},
                      .strides = {1, 2},
                      .padding = padding,
                      .w_std = 1.3,
                      .b_std = 0.2},
                 Flatten{}, Dense{.width = 2}),
          imgs, shape);
  }
  check(serial(Conv{.channels = 3,
                    .filter = {2, 2},
                    .padding = Padding::same,
                    .b_std = 0.2,
                    .parameterization = standard},
               ReLU{}, AvgPool{.window = {2, 2}, .strides = {1, 2}, .padding = Padding::same},
               Conv{.channels = 2, .filter = {2, 1}}, Erf{}, GlobalAvgPool{},
               Dense{.width = 3, .b_std = 0.1}),
        imgs, shape);
  const Eigen::MatrixXd seq = random_inputs(3, 7 * 2, 66);
  check(serial(Conv{.channels = 3,
                    .filter = {3},
                    .strides = {2},
                    .padding = Padding::circular,
                    .b_std = 0.1},
               Abs{}, AvgPool{.window = {2}}, Flatten{}, Dense{.width = 2}),
        sequences(seq, 7, 2), sequence_shape(7, 2));
}

#if defined(_OPENMP)
TEST_CASE("finite networks give the same numbers on any number of threads", "[finite]") {
  const auto net =
      serial(Conv{.channels = 64, .filter = {3, 3}, .padding = Padding::same, .b_std = 0.1}, ReLU{},
             Flatten{}, Dense{.width = 128, .b_std = 0.1}, ReLU{}, Dense{.width = 3});
  const Eigen::MatrixXd x = random_inputs(40, 6 * 6 * 3, 67);
  std::mt19937_64 rng(5);
  const auto params = init(net, rng, image_shape(6, 6, 3));
  const Eigen::MatrixXd r = random_inputs(40, 3, 68);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Eigen::MatrixXd out1 = apply(net, params, images(x, 6, 6, 3));
  const auto grad1 = gradients(net, params, images(x, 6, 6, 3), r);
  const Kernels k1 = empirical_kernels(net, params, images(x, 6, 6, 3));
  std::mt19937_64 mc_rng1(9);
  const Kernels mc1 = monte_carlo_kernels(net, mc_rng1, images(x, 6, 6, 3), 4);
  const TrainOptions options{.learning_rate = 0.2, .steps = 3, .momentum = 0.5};
  const auto trained1 = train(net, params, images(x, 6, 6, 3), r, options);
  omp_set_num_threads(3);
  const Eigen::MatrixXd out3 = apply(net, params, images(x, 6, 6, 3));
  const auto grad3 = gradients(net, params, images(x, 6, 6, 3), r);
  const Kernels k3 = empirical_kernels(net, params, images(x, 6, 6, 3));
  std::mt19937_64 mc_rng3(9);
  const Kernels mc3 = monte_carlo_kernels(net, mc_rng3, images(x, 6, 6, 3), 4);
  const auto trained3 = train(net, params, images(x, 6, 6, 3), r, options);
  omp_set_num_threads(threads);
  CHECK((out1.array() == out3.array()).all());
  CHECK(grad1 == grad3);
  CHECK((k1.ntk.array() == k3.ntk.array()).all());
  CHECK((k1.nngp.array() == k3.nngp.array()).all());
  CHECK((mc1.ntk.array() == mc3.ntk.array()).all());
  CHECK((mc1.nngp.array() == mc3.nngp.array()).all());
  CHECK(trained1 == trained3);
}
#endif

namespace {

// Plain gradient descent written with apply() and gradients(): θ ← θ − η·∇θ, ∇f = (f − y)/n.
template <class Net, class Params, class Input>
Params steps_by_hand(const Net& net, Params p, const Input& x, const Eigen::MatrixXd& y, double eta,
                     int steps) {
  const double n = static_cast<double>(y.size());
  for (int s = 0; s < steps; ++s) {
    const auto grad = gradients(net, p, x, (apply(net, p, x) - y) / n);
    detail::for_each_params(p, grad, [&](auto& q, const auto& g) {
      detail::for_each_tensor(q, g, [&](auto& qt, const auto& gt) { qt -= eta * gt; });
    });
  }
  return p;
}

}  // namespace

// Conv runs blocks of samples in parallel (patch_block: 28 samples of 16×16×32 here, so 260
// samples make nine full blocks and a short one, in two waves of at most eight for the weight
// gradient), and train() takes every buffer of a step from the step before.
TEST_CASE("window layers over many blocks of samples, and training steps on reused buffers",
          "[finite][conv][train]") {
  const auto net =
      serial(Conv{.channels = 32, .filter = {3, 3}, .padding = Padding::same, .b_std = 0.1}, ReLU{},
             Conv{.channels = 2, .filter = {3, 3}, .padding = Padding::same, .b_std = 0.1}, ReLU{},
             Flatten{}, Dense{.width = 3, .b_std = 0.1});
  const Index n = 260;
  const Eigen::MatrixXd x = random_inputs(n, 16 * 16 * 3, 71);
  const Eigen::MatrixXd r = random_inputs(n, 3, 72);
  std::mt19937_64 rng(7);
  const auto params = init(net, rng, image_shape(16, 16, 3));
  const auto all = gradients(net, params, images(x, 16, 16, 3), r);

  // The gradient is the sum of the samples' gradients, each from a pass of one block of one.
  auto sum = all;
  detail::for_each_params(sum, sum, [](auto& p, const auto&) {
    detail::for_each_tensor(p, p, [](auto& t, const auto&) { t.setZero(); });
  });
  for (Index i = 0; i < n; ++i) {
    const Eigen::MatrixXd xi = x.row(i);
    const auto one = gradients(net, params, images(xi, 16, 16, 3), r.row(i));
    detail::for_each_params(sum, one, [](auto& p, const auto& g) {
      detail::for_each_tensor(p, g, [](auto& pt, const auto& gt) { pt += gt; });
    });
  }
  detail::for_each_params(all, sum, [](auto& a, const auto& b) {
    detail::for_each_tensor(a, b, [](auto& at, const auto& bt) {
      if (at.size() == 0) return;
      const double scale = bt.cwiseAbs().maxCoeff();
      CHECK((at - bt).cwiseAbs().maxCoeff() <= 1e-12 * scale);
    });
  });

  // Three steps of train() equal three steps by hand from fresh gradients() calls, bit for
  // bit: no buffer that train() carries from one step to the next leaks into it.
  const auto trained =
      train(net, params, images(x, 16, 16, 3), r, {.learning_rate = 0.05, .steps = 3});
  CHECK(trained == steps_by_hand(net, params, images(x, 16, 16, 3), r, 0.05, 3));

  // The same through a residual block, pooling, LayerNorm, a concatenation and GlobalAvgPool,
  // whose outputs and gradients are also written into reused buffers.
  const auto branching = serial(
      Conv{.channels = 4, .filter = {3, 3}, .padding = Padding::same, .b_std = 0.1},
      residual(ReLU{}, Conv{.channels = 4, .filter = {3, 3}, .padding = Padding::same}),
      AvgPool{.window = {2, 2}, .strides = {2, 2}}, LayerNorm{}, FanOut{.n = 2},
      parallel(Conv{.channels = 3, .filter = {1, 1}},
               serial(Conv{.channels = 2, .filter = {3, 3}, .padding = Padding::same}, Gelu{})),
      FanInConcat{}, GlobalAvgPool{}, Dense{.width = 3});
  const Eigen::MatrixXd small = x.topRows(12);
  const auto branching_params = init(branching, rng, image_shape(16, 16, 3));
  CHECK(train(branching, branching_params, images(small, 16, 16, 3), r.topRows(12),
              {.learning_rate = 0.1, .steps = 3}) == steps_by_hand(branching, branching_params,
                                                                   images(small, 16, 16, 3),
                                                                   r.topRows(12), 0.1, 3));

#if defined(_OPENMP)
  const int threads = omp_get_max_threads();
  omp_set_num_threads(3);
  const auto all3 = gradients(net, params, images(x, 16, 16, 3), r);
  const Eigen::MatrixXd out3 = apply(net, params, images(x, 16, 16, 3));
  const auto trained3 =
      train(net, params, images(x, 16, 16, 3), r, {.learning_rate = 0.05, .steps = 3});
  omp_set_num_threads(1);
  const Eigen::MatrixXd out1 = apply(net, params, images(x, 16, 16, 3));
  omp_set_num_threads(threads);
  CHECK(all3 == all);
  CHECK((out1.array() == out3.array()).all());
  CHECK(trained3 == trained);
#endif
}

TEST_CASE("training takes gradient steps on the normalised MSE", "[finite][train]") {
  std::mt19937_64 rng(6);
  const auto net = serial(Dense{.width = 16, .w_std = 1.4, .b_std = 0.1}, Erf{},
                          Dense{.width = 2, .b_std = 0.1});
  const Eigen::MatrixXd x = random_inputs(6, 3, 69);
  const Eigen::MatrixXd y = random_inputs(6, 2, 70);
  const auto start = init(net, rng, 3);
  const double n = static_cast<double>(y.size());

  // One step by hand: θ − η·∇θ L with ∇f L = (f − y)/n.
  const auto grad = gradients(net, start, x, (apply(net, start, x) - y) / n);
  auto expected = start;
  detail::for_each_params(expected, grad, [](auto& p, const auto& g) {
    detail::for_each_tensor(p, g, [](auto& pt, const auto& gt) { pt -= 0.3 * gt; });
  });
  CHECK(train(net, start, x, y, {.learning_rate = 0.3, .steps = 1}) == expected);

  // Heavy-ball momentum, two steps by hand: v1 = g0, v2 = μ·v1 + g1.
  const auto after_one = train(net, start, x, y, {.learning_rate = 0.3, .steps = 1});
  const auto g1 = gradients(net, after_one, x, (apply(net, after_one, x) - y) / n);
  auto with_momentum = after_one;
  detail::for_each_params(with_momentum, g1, [](auto& p, const auto& g) {
    detail::for_each_tensor(p, g, [](auto& pt, const auto& gt) { pt -= 0.3 * gt; });
  });
  detail::for_each_params(with_momentum, grad, [](auto& p, const auto& g) {
    detail::for_each_tensor(p, g, [](auto& pt, const auto& gt) { pt -= 0.3 * 0.5 * gt; });
  });
  const auto trained = train(net, start, x, y, {.learning_rate = 0.3, .steps = 2, .momentum = 0.5});
  double worst = 0;
  detail::for_each_params(trained, with_momentum, [&](auto& a, const auto& b) {
    detail::for_each_tensor(a, b, [&](auto& at, const auto& bt) {
      if (at.size() > 0) worst = std::max(worst, (at - bt).cwiseAbs().maxCoeff());
    });
  });
  CHECK(worst < 1e-14);

  // The callback sees the loss of the parameters about to be updated, and it decreases.
  std::vector<double> losses;
  train(net, start, x, y, {.learning_rate = 0.5, .steps = 50, .on_step = [&](Index, double loss) {
                             losses.push_back(loss);
                           }});
  REQUIRE(losses.size() == 51);  // before each of the 50 steps, and after the last
  CHECK(losses.front() == Approx(mse_loss(apply(net, start, x), y)).epsilon(1e-14));
  const auto trained50 = train(net, start, x, y, {.learning_rate = 0.5, .steps = 50});
  CHECK(losses.back() == Approx(mse_loss(apply(net, trained50, x), y)).epsilon(1e-14));
  CHECK(losses.back() < 0.5 * losses.front());
}
