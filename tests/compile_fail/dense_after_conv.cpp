// Dense straight after a convolution: the kernel state is still spatial.
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd flat = Eigen::MatrixXd::Ones(2, 4 * 4 * 3);
#ifdef TANGENT_SHOULD_FAIL
  const auto net =
      tangent::serial(tangent::Conv{.filter = {3, 3}}, tangent::ReLU{}, tangent::Dense{});
#else
  const auto net = tangent::serial(tangent::Conv{.filter = {3, 3}}, tangent::ReLU{},
                                   tangent::Flatten{}, tangent::Dense{});
#endif
  return tangent::ntk(net, tangent::images(flat, 4, 4, 3))(0, 1);
}
