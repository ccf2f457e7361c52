// kernel_derivatives runs every activation's rule on dual numbers, by packets of positions: an
// activation without a lane form (Tanh, by quadrature) in a convolutional network is refused,
// naming what it lacks.
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd flat = Eigen::MatrixXd::Ones(2, 4 * 4);
  const auto x = tangent::images(flat, 4, 4, 1);
#ifdef TANGENT_SHOULD_FAIL
  const auto net = tangent::serial(tangent::Conv{.channels = 2, .filter = {2, 2}}, tangent::Tanh{},
                                   tangent::Flatten{}, tangent::Dense{});
#else
  const auto net = tangent::serial(tangent::Conv{.channels = 2, .filter = {2, 2}}, tangent::Erf{},
                                   tangent::Flatten{}, tangent::Dense{});
#endif
  return tangent::kernel_derivatives(net, x).nngp(0, 0);
}
