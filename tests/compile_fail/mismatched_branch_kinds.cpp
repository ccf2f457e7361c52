// One branch flattens images into feature vectors, the other keeps them spatial.
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd flat = Eigen::MatrixXd::Ones(2, 4 * 4 * 2);
#ifdef TANGENT_SHOULD_FAIL
  const auto net =
      tangent::serial(tangent::Conv{}, tangent::parallel(tangent::Flatten{}, tangent::Identity{}),
                      tangent::FanInSum{}, tangent::Dense{});
#else
  const auto net =
      tangent::serial(tangent::Conv{}, tangent::parallel(tangent::Conv{}, tangent::Identity{}),
                      tangent::FanInSum{}, tangent::Flatten{}, tangent::Dense{});
#endif
  return tangent::ntk(net, tangent::images(flat, 4, 4, 2))(0, 0);
}
