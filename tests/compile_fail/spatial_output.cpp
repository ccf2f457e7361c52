// A network on images that never leaves the spatial stage: its kernel is not an N1×N2 matrix.
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd flat = Eigen::MatrixXd::Ones(2, 4 * 4 * 3);
#ifdef TANGENT_SHOULD_FAIL
  const auto net = tangent::serial(tangent::Conv{.filter = {3, 3}}, tangent::ReLU{});
#else
  const auto net =
      tangent::serial(tangent::Conv{.filter = {3, 3}}, tangent::ReLU{}, tangent::GlobalAvgPool{});
#endif
  return tangent::nngp(net, tangent::images(flat, 4, 4, 3))(0, 1);
}
