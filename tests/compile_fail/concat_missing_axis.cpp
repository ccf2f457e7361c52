// Sequences have one spatial axis (1) and the channels (2, or -1): axis 3 does not exist.
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd flat = Eigen::MatrixXd::Ones(2, 5 * 2);
  const tangent::Conv conv{.channels = 2, .filter = {2}, .padding = tangent::Padding::same};
#ifdef TANGENT_SHOULD_FAIL
  const auto net = tangent::serial(conv, tangent::parallel(conv, conv), tangent::FanInConcat<3>{},
                                   tangent::Flatten{}, tangent::Dense{});
#else
  const auto net = tangent::serial(conv, tangent::parallel(conv, conv), tangent::FanInConcat<1>{},
                                   tangent::Flatten{}, tangent::Dense{});
#endif
  return tangent::ntk(net, tangent::sequences(flat, 5, 2))(0, 0);
}
