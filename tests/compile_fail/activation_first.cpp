// An activation applied to raw inputs: its input is not Gaussian (neural-tangents raises here).
#include <tangent/tangent.hpp>

double use() {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 3);
#ifdef TANGENT_SHOULD_FAIL
  const auto net = tangent::serial(tangent::ReLU{}, tangent::Dense{});
#else
  const auto net = tangent::serial(tangent::Dense{}, tangent::ReLU{}, tangent::Dense{});
#endif
  return tangent::nngp(net, x)(0, 0);
}
