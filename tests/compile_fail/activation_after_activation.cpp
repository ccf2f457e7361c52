// Two activations in a row: the second one's input is not Gaussian.
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
#ifdef TANGENT_SHOULD_FAIL
  const auto net = tangent::serial(tangent::Dense{}, tangent::ReLU{}, tangent::Erf{});
#else
  const auto net =
      tangent::serial(tangent::Dense{}, tangent::ReLU{}, tangent::Dense{}, tangent::Erf{});
#endif
  return tangent::ntk(net, x)(0, 0);
}
