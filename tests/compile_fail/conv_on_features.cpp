// A convolution applied to feature vectors (a plain matrix, not images).
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd flat = Eigen::MatrixXd::Ones(2, 4 * 4 * 3);
  const auto net = tangent::serial(tangent::Conv{.filter = {3, 3}}, tangent::ReLU{},
                                   tangent::Flatten{}, tangent::Dense{});
#ifdef TANGENT_SHOULD_FAIL
  return tangent::ntk(net, flat)(0, 1);
#else
  return tangent::ntk(net, tangent::images(flat, 4, 4, 3))(0, 1);
#endif
}
