// Training as kernel regression: the outputs of a wide Erf network trained by gradient flow on
// y = sin(2·x₀), predicted at several times from its NTK, and the mean ± 2σ of the trained
// ensemble on a few test inputs (the README's "Predictions" snippet, on data).
//
//   build/examples/predictions

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <tangent/tangent.hpp>

int main() {
  using namespace tangent;
  std::srand(3);
  const Eigen::MatrixXd x_train = Eigen::MatrixXd::Random(8, 2);
  const Eigen::MatrixXd x_test = Eigen::MatrixXd::Random(4, 2);
  const Eigen::MatrixXd y_train = (2 * x_train.col(0)).array().sin().matrix();

  const auto net = serial(Dense{.width = 1, .w_std = 1.5, .b_std = 0.1}, Erf{},
                          Dense{.width = 1, .w_std = 1.5, .b_std = 0.1});
  const auto flow = gradient_descent_mse(ntk(net, x_train), y_train, {.learning_rate = 0.5});
  const std::vector<double> times{0, 10, 100, infinite_time};
  const std::vector<Eigen::MatrixXd> f_test = flow.test(times, ntk(net, x_test, x_train));
  const Eigen::MatrixXd f_train = flow.train(infinite_time);

  const auto ensemble = gradient_descent_mse_ensemble(net, x_train, y_train);
  const Posterior p = ensemble.predict(x_test, 100.0, Get::ntk | Get::nngp, true);
  const Posterior gp = gp_inference(kernels(net, x_train), y_train, {.diag_reg = 1e-4})
                           .predict(kernels(net, x_test, x_train), kernels(net, x_test),
                                    Get::nngp | Get::ntk | Get::ntkgp);
  const double lr = max_learning_rate(ntk(net, x_train));

  std::printf(
      "test point | target | f(t=0) f(t=10) f(t=100) f(t=inf) | ensemble t=100: NTK mean"
      " ± 2σ | NNGP mean ± 2σ | NTK-GP mean (t=inf, ridge)\n");
  for (Eigen::Index i = 0; i < x_test.rows(); ++i) {
    std::printf("%10ld | %+.3f | %+.3f %+.3f %+.3f %+.3f | %+.3f ± %.3f | %+.3f ± %.3f | %+.3f\n",
                static_cast<long>(i), std::sin(2 * x_test(i, 0)), f_test[0](i, 0), f_test[1](i, 0),
                f_test[2](i, 0), f_test[3](i, 0), p.ntk.mean(i, 0),
                2 * std::sqrt(p.ntk.covariance(i, i)), p.nngp.mean(i, 0),
                2 * std::sqrt(p.nngp.covariance(i, i)), gp.ntkgp.mean(i, 0));
  }
  std::printf("training residual at t = inf: %.2e; max_learning_rate: %.4f\n",
              (f_train - y_train).cwiseAbs().maxCoeff(), lr);
}
