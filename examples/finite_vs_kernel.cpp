// One architecture, two views: its analytic NTK (infinite width), and a finite network of it
// trained by gradient descent, whose empirical NTK starts close to the analytic one and hardly
// moves while it learns (the README's 15-line example).
#include <iostream>
#include <random>

#include <tangent/tangent.hpp>

int main() {
  using namespace tangent;
  const auto net = serial(Dense{.width = 2048, .w_std = 1.5, .b_std = 0.1}, Erf{},
                          Dense{.width = 1, .w_std = 1.5, .b_std = 0.1});
  std::mt19937_64 rng(0);
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(6, 3);
  const Eigen::MatrixXd y = x.col(0).array().sin().matrix();
  const Eigen::MatrixXd theta = ntk(net, x);  // analytic, infinite width
  auto params = init(net, rng, 3);            // a finite network of the same architecture
  const Eigen::MatrixXd theta0 = empirical_ntk(net, params, x);
  params = train(net, params, x, y, {.learning_rate = 1.0, .steps = 1000});
  std::cout << "analytic NTK:\n"
            << theta << "\n\nempirical NTK after training:\n"
            << empirical_ntk(net, params, x) << "\n\nrelative distance at init "
            << (theta0 - theta).norm() / theta.norm() << "; trained outputs vs targets:\n"
            << (Eigen::MatrixXd(6, 2) << apply(net, params, x), y).finished() << "\n";
}
