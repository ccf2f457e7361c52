// kernel_derivatives runs every rule on dual numbers: an activation without a lane form (Tanh, by
// quadrature) after a readout, on feature vectors, is refused with the same message as on images.
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
#ifdef TANGENT_SHOULD_FAIL
  const auto net = tangent::serial(tangent::Dense{.width = 4}, tangent::Tanh{}, tangent::Dense{});
#else
  const auto net = tangent::serial(tangent::Dense{.width = 4}, tangent::Erf{}, tangent::Dense{});
#endif
  return tangent::kernel_derivatives(net, x).nngp(0, 0);
}
