// A concatenation of positions over a branch that ends in an activation: the branches' non-zero
// means would correlate positions of different branches.
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd flat = Eigen::MatrixXd::Ones(2, 4 * 4 * 2);
  const tangent::Conv conv{.channels = 2, .filter = {2, 2}, .padding = tangent::Padding::same};
#ifdef TANGENT_SHOULD_FAIL
  const auto net =
      tangent::serial(conv, tangent::parallel(tangent::serial(conv, tangent::ReLU{}), conv),
                      tangent::FanInConcat<1>{}, tangent::Flatten{}, tangent::Dense{});
#else
  const auto net = tangent::serial(
      conv, tangent::parallel(tangent::serial(tangent::ReLU{}, conv), conv),
      tangent::FanInConcat<1>{}, tangent::ReLU{}, tangent::Flatten{}, tangent::Dense{});
#endif
  return tangent::ntk(net, tangent::images(flat, 4, 4, 2))(0, 0);
}
