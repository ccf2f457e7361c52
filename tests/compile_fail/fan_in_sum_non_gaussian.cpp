// A sum over a branch that ends in an activation: its mean is not zero, which the kernel of a
// sum does not track (neural-tangents refuses it too).
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
#ifdef TANGENT_SHOULD_FAIL
  const auto net = tangent::serial(
      tangent::Dense{}, tangent::parallel(tangent::ReLU{}, tangent::Dense{}), tangent::FanInSum{});
#else
  const auto net = tangent::serial(
      tangent::Dense{},
      tangent::parallel(tangent::serial(tangent::ReLU{}, tangent::Dense{}), tangent::Dense{}),
      tangent::FanInSum{});
#endif
  return tangent::ntk(net, x)(0, 0);
}
