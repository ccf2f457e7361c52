// A repeated block that turns a Gaussian input into a non-Gaussian output cannot follow itself.
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
#ifdef TANGENT_SHOULD_FAIL
  const auto net = tangent::serial(
      tangent::Dense{}, tangent::repeat(tangent::serial(tangent::Dense{}, tangent::ReLU{}), 3),
      tangent::Dense{});
#else
  const auto net = tangent::serial(
      tangent::Dense{}, tangent::repeat(tangent::serial(tangent::ReLU{}, tangent::Dense{}), 3),
      tangent::Dense{});
#endif
  return tangent::ntk(net, x)(0, 0);
}
