// kernel_derivatives is computed in double: float images are refused with a message saying so.
#include <tangent/tangent.hpp>

double use() {
#ifdef TANGENT_SHOULD_FAIL
  const Eigen::MatrixXf flat = Eigen::MatrixXf::Ones(2, 4 * 4);
#else
  const Eigen::MatrixXd flat = Eigen::MatrixXd::Ones(2, 4 * 4);
#endif
  const auto net = tangent::serial(tangent::Conv{.channels = 2, .filter = {2, 2}}, tangent::ReLU{},
                                   tangent::Flatten{}, tangent::Dense{});
  return tangent::kernel_derivatives(net, tangent::images(flat, 4, 4, 1)).nngp(0, 0);
}
