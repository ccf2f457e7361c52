// LayerNorm after an activation: its input must be Gaussian, as in neural-tangents.
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
#ifdef TANGENT_SHOULD_FAIL
  const auto net =
      tangent::serial(tangent::Dense{}, tangent::ReLU{}, tangent::LayerNorm{}, tangent::Dense{});
#else
  const auto net =
      tangent::serial(tangent::Dense{}, tangent::LayerNorm{}, tangent::ReLU{}, tangent::Dense{});
#endif
  return tangent::ntk(net, x)(0, 0);
}
